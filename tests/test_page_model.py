"""Known answers for the page model under the designs: per-CPU lists counted
in pages as mm/page_alloc.c counts them, and init_on_alloc.

The kernel's pcp->count, pcp->high and pcp->batch are page counts since
44042b449872 ("mm/page_alloc: allow high-order pages to be stored on the
per-cpu lists", 5.13), through 6.13: a free adds 1 << order, a bulk refill
adds alloced << order and takes max(batch >> order, 2) blocks of a high
order (nr_pcp_alloc()), and a flush gives back nr_pcp_free() pages,
clamp(free_count, batch, high - batch).  The in-process model uses CPU 0.
"""

import pytest

import fraglib
from fraglib.cache import (PAGE_SIZE, FragCache, PageModel, check_page_model,
                           init_page_model, pcp_state)

pytestmark = pytest.mark.usefixtures("page_model")

MAX = 32768


def order3_pages(n):
    """n fragments, each alone on its own order-3 page: topdown (v6.9)
    abandons a page with a live fragment and takes a new one."""
    c = FragCache("topdown")
    frags = [c.alloc(MAX) for _ in range(n)]
    assert len({c.page_of(a) for a in frags}) == n
    c.drain()                                    # only the fragments hold them
    return c, frags


def test_pcp_high_and_batch_are_pages():
    st = pcp_state()
    assert (st.count, st.high, st.batch) == (0, 64, 16)
    assert st.blocks == {0: 0, 3: 0}


def test_order3_refill_takes_batch_over_8_blocks():
    """nr_pcp_alloc(): batch >> order, at least 2 -> two order-3 blocks,
    one handed out, one left: 8 pages on the list."""
    c = FragCache("encoded")
    a = c.alloc(100)
    st = pcp_state()
    assert st.blocks == {0: 0, 3: 1} and st.count == 8 == st.pages()
    assert PageModel.read().order3_allocs == 1
    c.free(a)
    c.drain()


def test_order0_refill_doubles_while_only_allocating():
    """alloc_factor: 16 pages, then 32 (capped by high - count - batch)."""
    c = FragCache("order0")
    frags = [c.alloc(100)]
    st = pcp_state()
    assert (st.blocks[0], st.count, st.alloc_factor) == (15, 15, 1)
    frags += [c.alloc(100) for _ in range(15)]   # list now empty
    assert pcp_state().count == 0
    frags.append(c.alloc(100))                   # refill: 16 << 1 pages
    st = pcp_state()
    assert (st.blocks[0], st.count, st.alloc_factor) == (31, 31, 2)
    c.free(frags.pop())                          # a free halves the factor
    assert pcp_state().alloc_factor == 1
    for a in frags:
        c.free(a)


def test_order3_list_holds_high_over_8_blocks():
    """The 8th consecutive order-3 free brings pcp->count to high (64
    pages): nr_pcp_free() = clamp(free_count = 64, 16, 48) = 48 pages, six
    blocks from the cold end, leave.  Counting blocks, 64 order-3 blocks
    (512 pages) would have stayed."""
    c, frags = order3_pages(20)
    assert pcp_state().count == 0                # 20 allocs: 10 refills of 2
    counts, blocks = [], []
    for a in frags:
        c.free(a)
        st = pcp_state()
        assert st.count == st.pages() == 8 * st.blocks[3]
        assert st.count < st.high
        counts.append(st.count)
        blocks.append(st.blocks[3])
    assert counts == [8, 16, 24, 32, 40, 48, 56, 16, 24, 32, 40, 48, 56,
                      16, 24, 32, 40, 48, 56, 16]
    assert max(blocks) == pcp_state().high // 8 - 1
    assert PageModel.read().pages_in_use == 0


def test_flush_takes_the_cold_end():
    """free_pcppages_bulk() takes list_last_entry: the blocks freed first
    go back to the buddy lists, the hot ones stay and are handed out
    next (LIFO)."""
    c, frags = order3_pages(8)
    pages = [c.page_of(a) for a in frags]
    for a in frags:
        c.free(a)                                # 8th free flushes 6 blocks
    assert pcp_state().blocks[3] == 2
    d = FragCache("encoded")
    got = [d.page_of(d.alloc(MAX)), None]
    d.drain()
    e = FragCache("encoded")
    got[1] = e.page_of(e.alloc(MAX))
    e.drain()
    assert got == [pages[7], pages[6]]
    for cache, addr in ((d, got[0]), (e, got[1])):
        cache.free(addr)


def test_mixed_orders_share_one_count():
    """One pcp->count per CPU for all its lists (struct per_cpu_pages)."""
    c0 = FragCache("order0")
    small = [c0.alloc(100) for _ in range(4)]
    c3, big = order3_pages(3)
    st = pcp_state()
    assert st.count == st.blocks[0] + 8 * st.blocks[3]
    for a in small:
        c0.free(a)
    for a in big:
        c3.free(a)
    st = pcp_state()
    assert st.count == st.blocks[0] + 8 * st.blocks[3] < st.high
    check_page_model()


# ---- init_on_alloc ------------------------------------------------------------

@pytest.mark.parametrize("init_on_alloc", [True, False])
def test_init_on_alloc_zeroes_a_recycled_page(init_on_alloc):
    """Garbage written into a page, the page freed to the pcp list and
    allocated again (LIFO: the same frame): zeros with init_on_alloc,
    the garbage without it."""
    init_page_model(8, init_on_alloc=init_on_alloc)
    c = FragCache("order0")
    a = c.alloc(PAGE_SIZE)
    c.write(a, b"\xa5" * PAGE_SIZE)
    c.free(a)
    b = c.alloc(PAGE_SIZE)
    assert b == a
    want = bytes(PAGE_SIZE) if init_on_alloc else b"\xa5" * PAGE_SIZE
    assert c.read(b, PAGE_SIZE) == want
    c.free(b)


def test_init_on_alloc_clears_the_whole_order3_block():
    init_page_model(8, init_on_alloc=True)
    c = FragCache("encoded")
    a = c.alloc(100)
    page = c.page_of(a)
    c.write(page, b"\x5a" * MAX)
    c.free(a)
    c.drain()                                    # order-3 page to the pcp list
    d = FragCache("encoded")
    b = d.alloc(100)
    assert d.page_of(b) == page
    assert d.read(page, MAX) == bytes(MAX)
    d.free(b)
    d.drain()


def test_run_records_init_on_alloc():
    """It is an engine parameter, so every result carries it."""
    on = fraglib.run("encoded", "fastpath", packets=4096, store=False,
                     metadata=False, init_on_alloc=1)
    off = fraglib.run("encoded", "fastpath", packets=4096, store=False,
                      metadata=False)
    assert (on.params["init_on_alloc"], off.params["init_on_alloc"]) == (1, 0)


def test_init_on_alloc_is_checked():
    from fraglib.exceptions import ParameterError
    with pytest.raises(ParameterError, match="init_on_alloc"):
        fraglib.run("encoded", "fastpath", packets=4096, store=False,
                    metadata=False, init_on_alloc=2)
