"""One contract, every design: a hypothesis state machine through FragCache.

The same machine runs unchanged against every registered design. What it
checks depends only on the capabilities a design advertises in its ops
table, plus the one thing the ops table cannot say, the largest request a
design must always serve (:func:`serves`):

- live fragments never overlap (unless the design says its fragments alias);
- each lies inside its page (model-page designs) and honours its alignment;
- refcounts balance: for every page, refcount == live fragments on it
  + the cache's bias if it is the cache's current page (``state().bias`` is
  pagecnt_bias, the one reference sockfrag holds, or the slices slicer1k
  has not handed out);
- after freeing everything and draining, every page is back and the page
  model's invariants hold.

Then the fault-injection contracts: pfmemalloc pages are never recycled in
place, a failing order-3 allocation falls back to order 0 and sizes up to
PAGE_SIZE are still served, and a request above a design's limit returns
None and leaves the cache usable.
"""

import shutil

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition,
                                 rule, run_state_machine_as_test)

from fraglib.cache import (PAGE_SIZE, FragCache, PageModel, check_page_model,
                           drain_pcp, init_page_model)
from fraglib.designs import (CAP_ALIASED, CAP_ALIGN, CAP_HIGH_ORDER, CAP_PAGES,
                             CAP_PREPARE, design_names, details, get_design)

DESIGNS = design_names()
MAX_SIZE = 32768
SETTINGS = settings(max_examples=50, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


def serves(design: str) -> tuple[int, int]:
    """(size, align) up to which ``design`` must never fail (uncapped model):
    its ops table's max_frag (slicer1k: 1 KiB slices, nothing bigger)."""
    m = get_design(design).max_frag
    return m, m


def limit(design: str) -> int | None:
    """Largest size a cache serves; None = no design limit (malloc).  A design
    whose ops table declares a max_frag below a page must refuse above it."""
    if get_design(design).limits_frag:
        return get_design(design).max_frag
    return {"order0": PAGE_SIZE, "malloc": None}.get(design, MAX_SIZE)


def fresh_limit(design: str) -> int | None:
    """Largest size an empty cache serves.  The v13 counters start empty
    with remaining == 0 and refuse > PAGE_SIZE before taking a page."""
    return PAGE_SIZE if design in ("remaining", "negoffset") else limit(design)


def assert_clean():
    drain_pcp()
    assert PageModel.read().pages_in_use == 0
    check_page_model()


class Frag:
    __slots__ = ("addr", "size")

    def __init__(self, addr, size):
        self.addr, self.size = addr, size


class FragMachine(RuleBasedStateMachine):
    design = None

    def __init__(self):
        super().__init__()
        init_page_model(8)
        self.cache = FragCache(self.design)
        self.caps = get_design(self.design).caps
        self.max_size, self.max_align = serves(self.design)
        self.live: list[Frag] = []
        self.last: Frag | None = None   # newest fragment, for coalescing

    def _track(self, addr, size, align):
        if self.caps & CAP_ALIGN:
            assert addr % align == 0, f"{addr:#x} not {align}-aligned"
        f = Frag(addr, size)
        self.live.append(f)
        self.last = f

    @rule(size=st.integers(1, 4096), align_log=st.integers(0, 12))
    def alloc(self, size, align_log):
        align = 1 << align_log
        addr = self.cache.alloc(size, align)
        if addr is None:
            assert size > self.max_size or align > self.max_align, \
                f"alloc({size}, align={align}) failed"
            return
        self._track(addr, size, align)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def free(self, data):
        i = data.draw(st.integers(0, len(self.live) - 1))
        f = self.live.pop(i)
        if f is self.last:
            self.last = None
        self.cache.free(f.addr)

    @rule(size=st.integers(1, 512))
    def drain_and_refill(self, size):
        self.cache.drain()
        assert self.cache.state().va == 0
        addr = self.cache.alloc(size)
        assert addr is not None
        self._track(addr, size, 1)

    @precondition(lambda self: self.caps & CAP_PREPARE)
    @rule(size=st.integers(1, 2048), align_log=st.integers(0, 6),
          frac=st.floats(0, 1), merge=st.booleans())
    def prepare_commit(self, size, align_log, frac, merge):
        align = 1 << align_log
        got = self.cache.prepare(size, align)
        assert got is not None, f"prepare({size}) failed"
        va, off, avail = got
        assert avail >= size and va % align == 0
        assert self.cache.offset_of(va) == off
        used = max(1, min(avail, int(avail * frac)))
        last = self.last
        if (merge and last is not None and last.addr + last.size == va
                and self.cache.page_of(last.addr) == self.cache.page_of(va)):
            # skb_can_coalesce(): same page, starts where the previous
            # fragment ends: grow it, take no reference.
            assert self.cache.commit(got, used, ref=False) == va
            last.size += used
        else:
            assert self.cache.commit(got, used, ref=True) == va
            self._track(va, used, align)

    @invariant()
    def no_overlap(self):
        if self.caps & CAP_ALIASED:
            return
        spans = sorted((f.addr, f.addr + f.size) for f in self.live)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start, "live fragments overlap"

    @invariant()
    def inside_their_page(self):
        if not self.caps & CAP_PAGES:
            return
        for f in self.live:
            off = self.cache.offset_of(f.addr)
            assert off >= 0
            assert off + f.size <= PAGE_SIZE << self.cache.page_order(f.addr)

    @invariant()
    def refcounts_balance(self):
        if not self.caps & CAP_PAGES:
            return
        st_ = self.cache.state()
        per_page: dict[int, int] = {}
        for f in self.live:
            p = self.cache.page_of(f.addr)
            per_page[p] = per_page.get(p, 0) + 1
        if st_.va:
            per_page.setdefault(st_.va, 0)
        for page, n in per_page.items():
            bias = st_.bias if page == st_.va else 0
            assert self.cache.refcount(page) == n + bias, \
                f"page {page:#x}: refcount {self.cache.refcount(page)} != {n} + {bias}"

    def teardown(self):
        for f in self.live:
            self.cache.free(f.addr)
        self.cache.drain()
        self.cache.close()
        assert_clean()


@pytest.mark.parametrize("design", DESIGNS)
def test_state_machine(design):
    machine = type(f"FragMachine_{design}", (FragMachine,), {"design": design})
    run_state_machine_as_test(machine, settings=SETTINGS)


# ---- fault injection --------------------------------------------------------

PAGE_DESIGNS = [d for d in DESIGNS if get_design(d).caps & CAP_PAGES]


@pytest.mark.parametrize("design", [d for d in PAGE_DESIGNS if d != "sockfrag"])
def test_pfmemalloc_page_never_reused(design):
    """A pfmemalloc page goes back to the page allocator, not round again.

    The pcp list is LIFO, so the fresh page may well be the same frame; what
    must not happen is an in-place recycle (``reuses``) without a trip
    through the page allocator.
    """
    init_page_model(8, high_order_fail=1.0, pfmemalloc_rate=1.0)
    c = FragCache(design)
    frags = [c.alloc(1024) for _ in range(4)]       # fills an order-0 page
    assert all(c.is_pfmemalloc(a) for a in frags)
    for a in frags:
        c.free(a)
    before, stats = PageModel.read(), c.stats()
    b = c.alloc(1024)
    after = PageModel.read()
    assert c.stats()["reuses"] == stats["reuses"] == 0
    assert after.order0_allocs == before.order0_allocs + 1, "no fresh page taken"
    assert after.pages_in_use == 1, "the pfmemalloc page was not given back"
    c.free(b)
    c.drain()
    assert_clean()


def test_sockfrag_rewinds_even_a_pfmemalloc_page():
    """skb_page_frag_refill() rewinds at refcount 1 and never looks at
    pfmemalloc (the Tx path handles reserves per socket): pinned as is."""
    init_page_model(8, high_order_fail=1.0, pfmemalloc_rate=1.0)
    c = FragCache("sockfrag")
    frags = [c.alloc(1024) for _ in range(4)]
    page = c.page_of(frags[0])
    assert c.is_pfmemalloc(frags[0])
    for a in frags:
        c.free(a)
    before = PageModel.read()
    b = c.alloc(1024)
    assert c.page_of(b) == page and c.offset_of(b) == 0
    assert PageModel.read().order0_allocs == before.order0_allocs
    c.free(b)
    c.drain()
    assert_clean()


@pytest.mark.parametrize("design", DESIGNS)
def test_high_order_failure_falls_back_to_order0(design):
    init_page_model(8, high_order_fail=1.0)
    c = FragCache(design)
    top = min(serves(design)[0], PAGE_SIZE)
    sizes = [top, 1, top // 2, top, 3 * top // 4, 7]
    frags = [c.alloc(s) for s in sizes]
    assert None not in frags
    caps = get_design(design).caps
    if caps & CAP_PAGES:
        assert all(c.page_order(a) == 0 for a in frags)
    if caps & CAP_HIGH_ORDER:
        assert c.stats()["high_order_fallbacks"] >= 1
        assert PageModel.read().injected_failures >= 1
        assert PageModel.read().order3_allocs >= 1
    for a in frags:
        c.free(a)
    c.drain()
    assert_clean()


@pytest.mark.parametrize("design", DESIGNS)
def test_too_big_returns_none_and_cache_stays_usable(design):
    lim = limit(design)
    if lim is None:
        pytest.skip(f"{design} has no size limit of its own")
    init_page_model(8)
    c = FragCache(design)
    keep = c.alloc(64)
    assert keep is not None
    assert c.alloc(lim + 1) is None
    assert c.stats()["alloc_failures"] == 1
    a = c.alloc(64)
    assert a is not None
    # From a fresh cache the limit itself is served, right after a refusal.
    # (Not from a used one: 6.13 refuses > PAGE_SIZE that does not fit the
    # current page rather than drop it.)
    fresh = FragCache(design)
    assert fresh.alloc(fresh_limit(design) + 1) is None
    b = fresh.alloc(fresh_limit(design))
    assert b is not None
    for cache, x in ((c, keep), (c, a), (fresh, b)):
        cache.free(x)
    c.drain()
    fresh.drain()
    assert_clean()


# ---- one interface: what `fraglib designs --details` shows ------------------

@pytest.mark.skipif(not (shutil.which("nm") and shutil.which("objdump")),
                    reason="code size needs binutils (nm, objdump)")
def test_details_and_code_size():
    rows = details()
    assert [r["name"] for r in rows] == list(DESIGNS)
    for r in rows:
        d = get_design(r["name"])
        assert r["mirrors"] == d.mirrors and r["struct_size"] == d.struct_size
        assert r["capabilities"] == list(d.capabilities)
        cs = r["code_size"]
        assert cs["alloc"] > 0 and cs["free"] > 0
        assert max(cs["alloc"], cs["free"]) <= cs["total"] <= cs["alloc"] + cs["free"]
        assert cs["total"] <= cs["text"]
        assert (cs["prepare"] is None) == (cs["commit"] is None) == \
            (not d.caps & CAP_PREPARE)
        if d.caps & CAP_HIGH_ORDER:     # the refill slow path is counted
            assert any("refill" in h or "reload" in h for h in cs["helpers"]), cs
