"""A live cache in this process, for exploration and property tests.

``FragCache("topdown")`` is one design's cache over the page model, built
with statistics and debug checks on. It is for poking at offsets, biases
and refcounts, never for timing: timing happens in a fresh engine process
(:func:`fraglib.run`).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _core
from .designs import CAP_PREPARE, get_design
from .exceptions import FraglibError, ParameterError

__all__ = ["FragCache", "CacheState", "PageModel", "PcpState", "init_page_model",
           "pcp_state", "PAGE_SIZE"]

from .designs import PAGE_SIZE  # noqa: E402  (the C header's, not a copy)

_page_model_args: dict | None = None


@dataclass(frozen=True)
class CacheState:
    """A snapshot of a cache's fields (meaning of ``offset`` is per design)."""

    va: int
    offset: int
    size: int
    bias: int
    pfmemalloc: bool
    order: int


@dataclass(frozen=True)
class PageModel:
    """Page allocator counters (see ``struct frag_pages_stats``)."""

    pages_allocated: int
    pages_freed: int
    pages_in_use: int
    peak_pages_in_use: int
    alloc_failures: int
    injected_failures: int
    pfmemalloc_pages: int
    order0_allocs: int
    order3_allocs: int

    @classmethod
    def read(cls) -> "PageModel":
        st = _core.ffi.new("struct frag_pages_stats *")
        _core.lib().fraglib_pages_stats(st)
        return cls(st.pages_allocated, st.pages_freed, st.pages_in_use,
                   st.peak_pages_in_use, st.alloc_failures, st.injected_failures,
                   st.pfmemalloc_pages, st.alloc_calls[0], st.alloc_calls[3])


@dataclass(frozen=True)
class PcpState:
    """One CPU's per-CPU lists (``struct frag_pcp_state``).

    ``count``, ``high`` and ``batch`` are in pages, as the kernel counts
    them; ``blocks`` maps each list's order to the blocks on it.
    """

    count: int
    high: int
    batch: int
    free_count: int
    alloc_factor: int
    blocks: dict

    def pages(self) -> int:
        """Pages on the lists, summed from the blocks (== ``count``)."""
        return sum(n << order for order, n in self.blocks.items())


def pcp_state(cpu: int = 0) -> PcpState:
    """Snapshot of a CPU's pcp lists (the in-process model uses CPU 0)."""
    st = _core.ffi.new("struct frag_pcp_state *")
    _core.lib().fraglib_pages_pcp(cpu, st)
    return PcpState(st.count, st.high, st.batch, st.free_count, st.alloc_factor,
                    {st.order[i]: st.blocks[i] for i in range(2)})


def init_page_model(arena_mb: int = 16, *, max_pages: int = 0,
                    high_order_fail: float = 0.0, pfmemalloc_rate: float = 0.0,
                    seed: int = 1, init_on_alloc: bool = False) -> None:
    """(Re)create the in-process page model. Every live FragCache becomes invalid.

    Parameters
    ----------
    arena_mb : int
        Arena size in MiB (>= 1).
    max_pages : int
        Cap on pages in use; 0 = the whole arena.
    high_order_fail, pfmemalloc_rate : float
        Fault-injection probabilities in [0, 1].
    seed : int
        Seed of the fault-injection generator.
    init_on_alloc : bool
        Zero every page as it is allocated (the kernel's init_on_alloc=1).
    """
    global _page_model_args
    if not isinstance(arena_mb, int) or arena_mb < 1:
        raise ParameterError("arena_mb", arena_mb, "an integer >= 1")
    for name, v in (("high_order_fail", high_order_fail),
                    ("pfmemalloc_rate", pfmemalloc_rate)):
        if not 0.0 <= v <= 1.0:
            raise ParameterError(name, v, "a probability in [0, 1]")
    if max_pages < 0:
        raise ParameterError("max_pages", max_pages, "an integer >= 0")
    rc = _core.lib().fraglib_pages_init(arena_mb << 20, max_pages, high_order_fail,
                                        pfmemalloc_rate, seed, int(bool(init_on_alloc)))
    if rc:
        raise FraglibError(f"page model init failed ({rc})")
    _page_model_args = dict(arena_mb=arena_mb, max_pages=max_pages,
                            high_order_fail=high_order_fail,
                            pfmemalloc_rate=pfmemalloc_rate, seed=seed,
                            init_on_alloc=bool(init_on_alloc))
    FragCache._generation += 1


def check_page_model() -> None:
    """Raise FraglibError if a page-model invariant is broken."""
    buf = _core.ffi.new("char[]", 256)
    if _core.lib().fraglib_pages_check(buf, 256):
        raise FraglibError("page model: " + _core.ffi.string(buf).decode())


def drain_pcp() -> None:
    """Return every per-CPU-list page to the buddy lists."""
    _core.lib().fraglib_pages_drain_pcp()


def align_mask(align: int) -> int:
    """``-align`` as an unsigned 32-bit mask; align must be a power of two."""
    if not isinstance(align, int) or align < 1 or align > PAGE_SIZE or align & (align - 1):
        raise ParameterError("align", align, f"a power of two in [1, {PAGE_SIZE}]")
    return (-align) & 0xFFFFFFFF


class FragCache:
    """One design's cache over the in-process page model.

    Parameters
    ----------
    design : str
        A registered design name (see :func:`fraglib.designs`).

    Examples
    --------
    >>> c = FragCache("topdown")
    >>> a = c.alloc(256)
    >>> c.offset_of(a), c.state().bias
    (32512, 32768)
    """

    _generation = 0

    def __init__(self, design: str):
        self.design = get_design(design)
        if _page_model_args is None:
            init_page_model()
        self._lib = self.design.library()
        self._box = self._lib.fraglib_cache_new(design.encode())
        if self._box == _core.ffi.NULL:
            raise FraglibError(f"cannot create a {design!r} cache")
        self._gen = FragCache._generation

    def _check(self):
        if self._box is None:
            raise FraglibError("cache is closed")
        if self._gen != FragCache._generation:
            raise FraglibError("the page model was re-initialised; create a new cache")

    def alloc(self, size: int, align: int = 1) -> int | None:
        """Allocate ``size`` bytes at ``align``; return the address or None."""
        self._check()
        if not isinstance(size, int) or size < 1:
            raise ParameterError("size", size, "an integer >= 1")
        p = self._lib.fraglib_alloc(self._box, size, align_mask(align))
        return None if p == _core.ffi.NULL else int(_core.ffi.cast("uintptr_t", p))

    def free(self, addr: int) -> None:
        """Free a fragment (page_frag_free)."""
        self._check()
        self._lib.fraglib_free(self._box, _core.ffi.cast("void *", addr))

    def drain(self) -> None:
        """Drop the cache's own references (page_frag_cache_drain)."""
        self._check()
        self._lib.fraglib_drain(self._box)

    def prepare(self, size: int, align: int = 1) -> tuple[int, int, int] | None:
        """Part-2 prepare: ``(addr, offset, available)`` or None if it failed."""
        self._check()
        if not self.design.caps & CAP_PREPARE:
            raise ParameterError("design", self.design.name,
                                 "a design with prepare/commit capability")
        pf = _core.ffi.new("struct frag_prepared *")
        rc = self._lib.fraglib_prepare(self._box, size, align_mask(align), pf)
        if rc:
            return None
        return int(_core.ffi.cast("uintptr_t", pf.va)), pf.offset, pf.size

    def commit(self, prepared: tuple[int, int, int], used: int, *, ref: bool = True) -> int:
        """Commit ``used`` bytes of a prepare(); ``ref=False`` is the _noref form."""
        self._check()
        pf = _core.ffi.new("struct frag_prepared *")
        pf.va = _core.ffi.cast("void *", prepared[0])
        pf.offset, pf.size = prepared[1], prepared[2]
        p = self._lib.fraglib_commit(self._box, pf, used, int(ref))
        return int(_core.ffi.cast("uintptr_t", p))

    def state(self) -> CacheState:
        """Snapshot of the cache's fields."""
        self._check()
        st = _core.ffi.new("struct frag_state *")
        self._lib.fraglib_inspect(self._box, st)
        return CacheState(int(_core.ffi.cast("uintptr_t", st.va)), st.offset, st.size,
                          st.bias, bool(st.pfmemalloc), st.order)

    def stats(self) -> dict[str, int]:
        """Per-cache statistics (always compiled into the library)."""
        self._check()
        s = self._lib.fraglib_cache_stats(self._box)
        return {k: getattr(s, k) for k in (
            "allocs", "alloc_failures", "refills", "reuses", "high_order_fallbacks",
            "pages_abandoned", "bytes_requested", "bytes_consumed", "commits_noref")}

    # -- the page under a fragment -------------------------------------------------
    def refcount(self, addr: int) -> int:
        """Refcount of the head page under ``addr`` (-1 if not a model page)."""
        return self._lib.fraglib_page_refcount(_core.ffi.cast("void *", addr))

    def page_order(self, addr: int) -> int:
        return self._lib.fraglib_page_order(_core.ffi.cast("void *", addr))

    def is_pfmemalloc(self, addr: int) -> bool:
        return self._lib.fraglib_page_is_pfmemalloc(_core.ffi.cast("void *", addr)) == 1

    def offset_of(self, addr: int) -> int:
        """Offset of ``addr`` from the start of its (head) page."""
        return self._lib.fraglib_page_offset(_core.ffi.cast("void *", addr))

    def page_of(self, addr: int) -> int:
        """Address of the head page holding ``addr``."""
        return addr - self.offset_of(addr)

    def in_arena(self, addr: int) -> bool:
        return bool(self._lib.fraglib_in_arena(_core.ffi.cast("void *", addr)))

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes at ``addr`` (a model page: anything in the arena)."""
        self._check_span(addr, n)
        return bytes(_core.ffi.buffer(_core.ffi.cast("char *", addr), n))

    def write(self, addr: int, data: bytes) -> None:
        """Store ``data`` at ``addr`` (a model page: anything in the arena)."""
        self._check_span(addr, len(data))
        _core.ffi.memmove(_core.ffi.cast("char *", addr), data, len(data))

    def _check_span(self, addr: int, n: int) -> None:
        self._check()
        if n < 1 or not (self.in_arena(addr) and self.in_arena(addr + n - 1)):
            raise ParameterError("addr", addr, f"{n} bytes inside the page model's arena")

    def close(self) -> None:
        """Free the cache object (drain it first to return its page)."""
        if self._box is not None:
            self._lib.fraglib_cache_destroy(self._box)
            self._box = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"FragCache({self.design.name!r})"
