"""Known answers, design by design: exact offsets, biases and refcounts.

Each test starts from a fresh page model and a fresh cache and pins what
the kernel code it mirrors does, step by step: where fragments land for a
size/alignment sequence, what pagecnt_bias (or its equivalent) and the
page refcount are after each step, the reuse path (everything freed, then
exhausted: same page, bias reset), the refill path (a fragment still
alive: new page, old one abandoned to its last free), prepare/commit, and
struct sizes.
"""

import pytest

from fraglib.cache import PAGE_SIZE, FragCache, PageModel, init_page_model
from fraglib.designs import design_names, get_design

pytestmark = pytest.mark.usefixtures("page_model")

MAX = 32768                  # PAGE_FRAG_CACHE_MAX_SIZE
BIAS0 = MAX + 1              # pagecnt_bias after a refill
BIAS_DESIGNS = ("topdown", "bottomup", "encoded", "remaining", "negoffset", "part2")
UP_DESIGNS = ("bottomup", "encoded", "remaining", "negoffset", "part2", "sockfrag")
PREPARE_DESIGNS = ("bottomup", "encoded", "remaining", "negoffset", "part2", "sockfrag")

# (size, align) -> page offset, from a fresh cache on an order-3 page.
SEQ = [(256, 1), (256, 1), (100, 64), (1, 1), (8, 64), (1000, 1)]
UP_OFFSETS = [0, 256, 512, 612, 640, 648]
DOWN_OFFSETS = [32512, 32256, 32128, 32127, 32064, 31064]


def stored_offset(design, end):
    """The offset field as each design stores it, given the end of the
    last fragment (bottom-up designs) on a 32 KiB page."""
    return {"bottomup": end, "encoded": end, "part2": end, "sockfrag": end,
            "remaining": MAX - end, "negoffset": end - MAX}[design]


def cleanup(c, frags):
    for a in frags:
        c.free(a)
    c.drain()


# ---- registry facts ---------------------------------------------------------

def test_registry_has_every_design():
    assert set(design_names()) == {
        "topdown", "bottomup", "encoded", "remaining", "negoffset", "part2",
        "sockfrag", "slicer1k", "order0", "malloc", "null"}


@pytest.mark.parametrize("design,size", [
    ("topdown", 24), ("bottomup", 24), ("encoded", 16), ("remaining", 16),
    ("negoffset", 16), ("part2", 16), ("sockfrag", 16), ("slicer1k", 16), ("order0", 0),
    ("malloc", 0), ("null", 0)])
def test_struct_size(design, size):
    assert get_design(design).struct_size == size


@pytest.mark.parametrize("design", design_names())
def test_prepare_capability_matches_the_designs_that_have_it(design):
    from fraglib.designs import CAP_PREPARE
    assert bool(get_design(design).caps & CAP_PREPARE) == (design in PREPARE_DESIGNS)


# ---- offsets, bias, refcount from a fresh cache ---------------------------

def test_topdown_sequence():
    c = FragCache("topdown")
    frags = []
    for i, ((size, align), want) in enumerate(zip(SEQ, DOWN_OFFSETS)):
        a = c.alloc(size, align)
        frags.append(a)
        st = c.state()
        assert c.offset_of(a) == want
        assert st.offset == want                 # the next fragment ends here
        assert st.bias == BIAS0 - (i + 1)
        assert c.refcount(a) == BIAS0            # bias + live, untouched
        assert (st.size, st.order, st.pfmemalloc) == (MAX, 3, False)
    cleanup(c, frags)


@pytest.mark.parametrize("design", UP_DESIGNS)
def test_bottom_up_sequence(design):
    c = FragCache(design)
    frags = []
    for i, ((size, align), want) in enumerate(zip(SEQ, UP_OFFSETS)):
        a = c.alloc(size, align)
        frags.append(a)
        st = c.state()
        assert c.offset_of(a) == want
        assert st.offset == stored_offset(design, want + size)
        assert (st.size, st.order) == (MAX, 3)
        if design == "sockfrag":
            assert st.bias == 1                  # the cache's own reference
            assert c.refcount(a) == 1 + (i + 1)  # one get per fragment
        else:
            assert st.bias == BIAS0 - (i + 1)
            assert c.refcount(a) == BIAS0
    cleanup(c, frags)


def test_consecutive_bottom_up_fragments_are_contiguous():
    """What tcp coalescing needs: fragment n+1 starts where n ended."""
    for design in UP_DESIGNS:
        c = FragCache(design)
        a, b = c.alloc(75), c.alloc(75)
        assert b == a + 75
        cleanup(c, [a, b])


def test_slicer1k_sequence():
    c = FragCache("slicer1k")
    frags = []
    for i, want in enumerate([3072, 2048, 1024, 0]):
        a = c.alloc(1 + 200 * i, 1 << i)
        frags.append(a)
        st = c.state()
        assert c.offset_of(a) == want and st.offset == want
        assert st.bias == want // 1024           # slices not handed out yet
        assert c.refcount(a) == 4                # one reference per slice
        assert (st.size, st.order) == (PAGE_SIZE, 0)
    nxt = c.alloc(10)                            # a new page, no reuse
    assert c.page_of(nxt) != c.page_of(frags[0]) and c.offset_of(nxt) == 3072
    assert c.stats()["refills"] == 2 and c.stats()["reuses"] == 0
    assert c.alloc(1025) is None and c.alloc(8, 2048) is None
    cleanup(c, frags + [nxt])


def test_slicer1k_page_belongs_to_its_slices():
    """Once the four slices are out the cache owns nothing: freeing them
    frees the page, no drain needed."""
    c = FragCache("slicer1k")
    frags = [c.alloc(512) for _ in range(4)]
    assert PageModel.read().pages_in_use == 1
    for a in frags:
        c.free(a)
    assert PageModel.read().pages_in_use == 0
    c.drain()


def test_order0_one_page_per_fragment():
    c = FragCache("order0")
    frags = [c.alloc(s, a) for s, a in SEQ]
    assert all(c.offset_of(a) == 0 and c.refcount(a) == 1 and c.page_order(a) == 0
               for a in frags)
    assert len({c.page_of(a) for a in frags}) == len(frags)
    assert PageModel.read().pages_in_use == len(frags)
    assert c.state().va == 0
    assert c.alloc(PAGE_SIZE + 1) is None
    st = c.stats()
    assert (st["refills"], st["allocs"]) == (len(frags), len(frags))
    cleanup(c, frags)


def test_malloc_lives_outside_the_page_model():
    c = FragCache("malloc")
    frags = [c.alloc(s, a) for s, a in SEQ + [(100, 4096)]]
    assert frags[-1] % 4096 == 0
    assert not any(c.in_arena(a) for a in frags)
    assert c.refcount(frags[0]) == -1
    assert PageModel.read().pages_in_use == 0
    cleanup(c, frags)


def test_null_hands_out_one_buffer():
    c = FragCache("null")
    frags = [c.alloc(s, a) for s, a in SEQ]
    assert len(set(frags)) == 1 and frags[0] % PAGE_SIZE == 0
    assert c.alloc(MAX) == frags[0] and c.alloc(MAX + 1) is None
    st = c.stats()
    assert (st["allocs"], st["alloc_failures"], st["bytes_consumed"]) == (7, 1, 0)
    cleanup(c, frags)


# ---- the reuse path: everything freed, then exhausted -----------------------

@pytest.mark.parametrize("design", BIAS_DESIGNS)
def test_reuse_same_page_bias_reset(design):
    c = FragCache(design)
    frags = [c.alloc(PAGE_SIZE) for _ in range(8)]   # exactly one 32 KiB page
    page = c.page_of(frags[0])
    assert {c.page_of(a) for a in frags} == {page}
    assert c.state().bias == BIAS0 - 8
    for a in frags:
        c.free(a)
    assert c.refcount(page) == BIAS0 - 8         # only the bias is left
    a = c.alloc(PAGE_SIZE)                       # exhausted: recycle in place
    st = c.state()
    assert c.page_of(a) == page
    assert c.offset_of(a) == (MAX - PAGE_SIZE if design == "topdown" else 0)
    assert st.bias == BIAS0 - 1 and c.refcount(page) == BIAS0
    s = c.stats()
    assert (s["reuses"], s["refills"], s["pages_abandoned"]) == (1, 1, 0)
    assert PageModel.read().order3_allocs == 1
    cleanup(c, [a])


def test_sockfrag_reuse_rewinds_at_refcount_one():
    c = FragCache("sockfrag")
    frags = [c.alloc(PAGE_SIZE) for _ in range(8)]
    page = c.page_of(frags[0])
    assert c.refcount(page) == 9
    for a in frags:
        c.free(a)
    assert c.refcount(page) == 1                 # only the cache's reference
    a = c.alloc(100)                             # fits nowhere, but rewinds
    assert c.page_of(a) == page and c.offset_of(a) == 0
    assert c.state().offset == 100 and c.refcount(page) == 2
    s = c.stats()
    assert (s["reuses"], s["refills"], s["pages_abandoned"]) == (1, 1, 0)
    cleanup(c, [a])


# ---- the refill path: a fragment still alive --------------------------------

@pytest.mark.parametrize("design", BIAS_DESIGNS + ("sockfrag",))
def test_refill_abandons_a_page_in_use(design):
    c = FragCache(design)
    frags = [c.alloc(PAGE_SIZE) for _ in range(8)]
    old = c.page_of(frags[0])
    for a in frags[1:]:
        c.free(a)
    a = c.alloc(PAGE_SIZE)                       # old page still referenced
    assert c.page_of(a) != old
    assert c.refcount(old) == 1                  # the survivor's reference only
    st = c.state()
    assert st.va == c.page_of(a)
    assert st.bias == (1 if design == "sockfrag" else BIAS0 - 1)
    s = c.stats()
    assert (s["refills"], s["pages_abandoned"], s["reuses"]) == (2, 1, 0)
    in_use = PageModel.read().pages_in_use
    c.free(frags[0])                             # the last free releases it
    assert PageModel.read().pages_in_use == in_use - 8
    cleanup(c, [a])


@pytest.mark.parametrize("design", BIAS_DESIGNS + ("sockfrag",))
def test_more_than_a_page_that_does_not_fit(design):
    """6.13 (8218f62c9c9b on), part2, and the v10-v13 counters refuse a
    > PAGE_SIZE request that does not fit the current page rather than drop
    the page; v6.9 top-down and sock.c take a new page."""
    c = FragCache(design)
    frags = fill_leaving(c, 100)
    a = frags[0]
    b = c.alloc(2 * PAGE_SIZE)
    if design in REFUSE_DESIGNS:
        assert b is None and c.page_of(c.state().va) == c.page_of(a)
        assert c.stats()["alloc_failures"] == 1
        cleanup(c, frags)
    else:
        assert b is not None and c.page_of(b) != c.page_of(a)
        assert c.stats()["pages_abandoned"] == 1
        cleanup(c, frags + [b])


def fill_leaving(c, left):
    """Fill a fresh cache's 32 KiB page with page-sized fragments (no
    request above PAGE_SIZE, which the v13 counters refuse on an empty
    cache) until ``left`` bytes remain; return the fragments."""
    frags = [c.alloc(PAGE_SIZE) for _ in range(MAX // PAGE_SIZE - 1)]
    frags.append(c.alloc(PAGE_SIZE - left))
    assert None not in frags and len({c.page_of(f) for f in frags}) == 1
    return frags


#: designs whose kernel text checks fragsz > PAGE_SIZE before any reload.
REFUSE_DESIGNS = ("bottomup", "encoded", "remaining", "negoffset", "part2")


@pytest.mark.parametrize("design", REFUSE_DESIGNS)
@pytest.mark.parametrize("via", ("alloc", "prepare"))
def test_more_than_a_page_leaves_the_page_untouched(design, via):
    """v10 __page_frag_alloc_va_align (RFC v11 08/14's removed lines) and
    v13 alloc/prepare (08/14, 20240808123714.462740-9): `fragsz > PAGE_SIZE`
    returns NULL before __page_frag_cache_reload(), so a page with a live
    fragment is neither abandoned nor recycled: offset, bias, refcount and
    page are exactly as before, and the page allocator is not called."""
    c = FragCache(design)
    frags = fill_leaving(c, 100)                 # 100 bytes left, 8 alive
    a = frags[0]
    before, pages, stats = c.state(), PageModel.read(), c.stats()
    ref = c.refcount(a)
    got = c.alloc(PAGE_SIZE + 1) if via == "alloc" else c.prepare(PAGE_SIZE + 1)
    assert got is None
    assert c.state() == before
    assert c.refcount(a) == ref == BIAS0 - 8 + 8   # bias + live fragments
    after = PageModel.read()
    assert (after.order0_allocs, after.order3_allocs, after.pages_in_use) == \
        (pages.order0_allocs, pages.order3_allocs, pages.pages_in_use)
    s = c.stats()
    assert s["alloc_failures"] == stats["alloc_failures"] + 1
    assert (s["refills"], s["reuses"], s["pages_abandoned"]) == (1, 0, 0)
    b = c.alloc(PAGE_SIZE)                       # a page-sized one reloads
    assert b is not None and c.page_of(b) != c.page_of(a)
    assert c.stats()["pages_abandoned"] == 1
    cleanup(c, frags + [b])


@pytest.mark.parametrize("design", ("remaining", "negoffset"))
def test_v13_empty_cache_refuses_more_than_a_page(design):
    """v13 dropped the `!encoded_va` refill-first block: an empty cache is
    remaining == 0, so > PAGE_SIZE is refused before any page is taken."""
    c = FragCache(design)
    assert c.alloc(PAGE_SIZE + 1) is None
    assert c.state().va == 0 and PageModel.read().pages_in_use == 0
    a = c.alloc(PAGE_SIZE)
    assert a is not None and c.state().size == MAX
    cleanup(c, [a])


@pytest.mark.parametrize("design", ("topdown",) + UP_DESIGNS)
def test_order0_fallback_page(design):
    init_page_model(8, high_order_fail=1.0)
    c = FragCache(design)
    frags = [c.alloc(1024) for _ in range(4)]
    st = c.state()
    assert (st.size, st.order) == (PAGE_SIZE, 0)
    want = [3072, 2048, 1024, 0] if design == "topdown" else [0, 1024, 2048, 3072]
    assert [c.offset_of(a) for a in frags] == want
    assert c.stats()["high_order_fallbacks"] == 1
    nxt = c.alloc(1)
    assert c.page_of(nxt) != c.page_of(frags[0])
    assert c.stats()["high_order_fallbacks"] == 2
    cleanup(c, frags + [nxt])


# ---- drain ------------------------------------------------------------------

@pytest.mark.parametrize("design", BIAS_DESIGNS + ("sockfrag", "slicer1k"))
def test_drain_gives_back_the_cache_references(design):
    c = FragCache(design)
    a = c.alloc(100)
    page = c.page_of(a)
    c.drain()
    assert c.state().va == 0
    assert c.refcount(page) == 1                 # only the live fragment
    c.free(a)
    assert PageModel.read().pages_in_use == 0


# ---- prepare / commit (Part-2) ---------------------------------------------

@pytest.mark.parametrize("design", PREPARE_DESIGNS)
def test_prepare_commit(design):
    c = FragCache(design)
    va, off, avail = got = c.prepare(100)
    assert (off, avail) == (0, MAX) and c.offset_of(va) == 0
    assert c.prepare(100) == got                 # prepare consumes nothing
    bias0 = c.state().bias
    assert c.commit(got, 60, ref=True) == va
    st = c.state()
    assert st.offset == stored_offset(design, 60)
    assert st.bias == (1 if design == "sockfrag" else bias0 - 1)
    assert c.refcount(va) == (2 if design == "sockfrag" else BIAS0)

    got2 = c.prepare(10)
    assert got2 == (va + 60, 60, MAX - 60)
    assert c.commit(got2, 10, ref=False) == va + 60   # merged: no reference
    assert c.state().bias == st.bias
    assert c.refcount(va) == (2 if design == "sockfrag" else BIAS0)
    assert c.state().offset == stored_offset(design, 70)

    b = c.alloc(4, 64)                           # alloc continues after it
    assert c.offset_of(b) == 128
    got3 = c.prepare(16, 64)
    assert got3[1] == 192 and got3[2] == MAX - 192
    s = c.stats()
    assert (s["allocs"], s["commits_noref"], s["bytes_requested"]) == (2, 1, 74)
    cleanup(c, [va, b])


@pytest.mark.parametrize("design", PREPARE_DESIGNS)
def test_prepare_refills_when_short(design):
    c = FragCache(design)
    frags = fill_leaving(c, 50)                  # 50 bytes left, all alive
    old = c.page_of(frags[0])
    va, off, avail = got = c.prepare(100)
    assert c.page_of(va) != old and (off, avail) == (0, MAX)
    assert c.stats()["pages_abandoned"] == 1
    assert c.commit(got, 100) == va
    assert c.prepare(MAX + 1) is None            # more than any page
    cleanup(c, frags + [va])


# ---- part2: the Part-2 v2 01/10 refactor is the 6.13 algorithm ------------

def _trace(design, script, **model):
    """Run ``script`` from a fresh page model and cache; after every step
    record what the kernel would show: the fragment's page offset and page
    refcount, the cache's offset/bias/order/size and the page allocator's
    counters.  Steps: ("alloc", size, align), ("free", i) frees the i-th
    live fragment, ("prepare", size, align), ("commit", size, ref)
    prepares size and commits all of it."""
    init_page_model(8, **model)
    c = FragCache(design)
    live, out = [], []
    for op, *args in script:
        if op == "alloc":
            a = c.alloc(*args)
            got = None if a is None else (c.offset_of(a), c.refcount(a))
            if a is not None:
                live.append(a)
        elif op == "free":
            c.free(live.pop(args[0]))
            got = None
        elif op == "prepare":
            p = c.prepare(*args)
            got = None if p is None else p[1:]
        else:
            p = c.prepare(args[0])
            va = c.commit(p, args[0], ref=args[1])
            got = (c.offset_of(va), c.refcount(va))
            if args[1]:
                live.append(va)
        st, pm = c.state(), PageModel.read()
        out.append((op, got, st.offset, st.bias, st.order, st.size, st.pfmemalloc,
                    pm.order0_allocs, pm.order3_allocs, pm.pages_in_use))
    stats = c.stats()
    cleanup(c, live)
    return out, stats


#: exhaust, recycle in place, abandon, > PAGE_SIZE refusal, prepare/commit.
PART2_SCRIPT = (
    [("alloc", s, a) for s, a in SEQ]
    + [("alloc", 4000, 64)] * 7                  # exhausts the first page
    + [("free", 0)] * 13                         # everything freed
    + [("alloc", 3000, 1), ("alloc", 200, 256)]  # recycled in place
    + [("alloc", 2 * PAGE_SIZE, 1)]              # fits: bottom-up, 2 pages
    + [("alloc", 4096, 1)] * 5                   # page in use: abandoned
    + [("alloc", 20000, 1), ("alloc", PAGE_SIZE + 1, 1)]   # refused, kept
    + [("prepare", 100, 64), ("commit", 60, True), ("commit", 10, False),
       ("alloc", 4, 64), ("prepare", 16, 64), ("prepare", MAX + 1, 1)]
)


@pytest.mark.parametrize("model", [{}, {"high_order_fail": 1.0},
                                   {"high_order_fail": 0.5, "pfmemalloc_rate": 0.5}],
                         ids=["order3", "order0", "faults"])
def test_part2_matches_encoded_step_by_step(model):
    """Part-2 v2 01/10 only moves code: __page_frag_cache_prepare() is the
    6.13 body up to the commit, __page_frag_cache_commit() the bias-- and
    offset update.  Same offsets, biases, refcounts and page traffic as
    encoded after every step, on order-3 pages, order-0 fallbacks and
    pfmemalloc pages (same fault seed, so the same pages)."""
    want, want_stats = _trace("encoded", PART2_SCRIPT, **model)
    got, got_stats = _trace("part2", PART2_SCRIPT, **model)
    for i, (w, g) in enumerate(zip(want, got)):
        assert g == w, f"step {i} {PART2_SCRIPT[i]}: part2 {g} != encoded {w}"
    assert got_stats == want_stats


def test_part2_commit_returns_the_true_size():
    """__page_frag_cache_commit_noref() returns nc->offset - orig_offset:
    the bytes used plus the alignment padding prepare skipped."""
    c = FragCache("part2")
    a = c.alloc(10)                              # offset 10
    p = c.prepare(16, 64)                        # aligned up to 64
    assert p[1] == 64
    before = c.stats()["bytes_consumed"]
    c.commit(p, 16, ref=True)
    assert c.state().offset == 80
    assert c.stats()["bytes_consumed"] - before == 80 - 10   # 16 + 54 padding
    b = c.alloc(1, 32)                           # alloc pays its padding too
    assert c.offset_of(b) == 96 and c.stats()["bytes_consumed"] == 97
    cleanup(c, [a, p[0], b])
