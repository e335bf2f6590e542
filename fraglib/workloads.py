"""The workload registry: what each C workload does, the engine parameters it
reads (with their defaults), which designs it runs on and how, and
:func:`validate_params`, which checks a run's parameters before any engine
is built or spawned.

The C side (``csrc/wl_*.c``, ``csrc/params.c``, ``csrc/sizes.c``) checks the
same things again and exits with status 2 and a one-line
``invalid key=value: allowed ...`` message. This module exists so a
notebook or sweep hears about a bad value at once, as a
:class:`~fraglib.exceptions.ParameterError` naming the parameter.

Packet sizes come from the ``dist`` parameter (see :func:`size_distribution`):
``fixed:N``, ``uniform:A-B``, ``imix`` (simple IMIX: 64/576/1500 B in the ratio
7:4:1) or ``csv:NAME`` (``data/sizes/NAME.csv``; see ``data/sizes/README.md``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ._build import REPO_ROOT
from .exceptions import ParameterError, UnknownNameError

__all__ = ["Workload", "Distribution", "workloads", "workload_names", "get_workload",
           "validate_params", "size_distribution", "rx_head_size", "rx_max_len",
           "SIZES_DIR", "ENGINE_PARAMS", "COMMON_PARAMS", "IMIX", "DESIGN_KERNEL",
           "SMALL_HEADS", "REMOTE_FREE", "kernel_small_heads", "design_small_heads",
           "rx_head_route", "tx_copies", "RING_PRESETS", "ring_preset"]

#: where ``dist=csv:NAME`` looks for ``NAME.csv`` unless ``sizes_dir`` is given.
SIZES_DIR = REPO_ROOT / "data" / "sizes"
PAGE_SIZE = 4096
SIZE_MAX = 1 << 24            # csrc/include/sizes.h FRAG_SIZE_MAX
DIST_MAX_ROWS = 65536         # FRAG_DIST_MAX_ROWS
#: simple IMIX: (size, weight) pairs, 7:4:1.
IMIX = ((64, 7), (576, 4), (1500, 1))
#: designs that cannot hand out a fragment as large as a page (csrc
#: wl_common.h wl_design_max_frag()): the napi 1 KiB slicer returns NULL above.
DESIGN_MAX_FRAG = MappingProxyType({"slicer1k": 1024})

# Every key csrc/params.c accepts: kind and bounds (the same table as the C).
_INT, _FLOAT, _POW2, _STR = "int", "float", "pow2", "str"
ENGINE_PARAMS = MappingProxyType({
    "design": (_STR, None, None), "workload": (_STR, None, None),
    "packets": (_INT, 1, 10**11), "size": (_INT, 1, PAGE_SIZE),
    "align": (_POW2, 1, PAGE_SIZE), "batch": (_INT, 1, 1 << 20),
    "warmup": (_INT, 0, 1 << 20), "cpu": (_INT, -1, 4095), "cpu2": (_INT, -1, 4095),
    "seed": (_INT, 0, 9_200_000_000_000_000_000), "counters": (_INT, 0, 1),
    "arena_mb": (_INT, 1, 65536), "max_pages": (_INT, 0, 10**12),
    "high_order_fail": (_FLOAT, 0.0, 1.0), "pfmemalloc_rate": (_FLOAT, 0.0, 1.0),
    "busy_poll": (_INT, -1, 1), "dist": (_STR, None, None),
    "queue_depth": (_INT, 0, 1 << 20), "mss": (_INT, 1, 65535),
    "gso_size": (_INT, 1, 1 << 20), "tx_delay": (_INT, 0, 1 << 20),
    "touch": (_INT, 0, PAGE_SIZE), "net_skb_pad": (_INT, 0, 4096),
    "net_ip_align": (_INT, 0, 64), "shinfo_size": (_INT, 0, 4096),
    "cache_line": (_POW2, 8, 4096), "ring_size": (_INT, 2, 1 << 20),
    "sizes_dir": (_STR, None, None),
    "init_on_alloc": (_INT, 0, 1),
    "small_heads": (_STR, None, None), "remote_free": (_STR, None, None),
    "defer_max": (_INT, 0, 1 << 20),
    "sample_batches": (_INT, 1, 1 << 20), "rerandomize": (_INT, 0, 1),
    "fault": (_INT, 0, 4),  # test only: 1 SIGSEGV, 2 abort, 3 hang, 4 malformed output
    # lockstep interleaving of two engines on one CPU (engine.run_engine_pair)
    "handoff_rfd": (_INT, -1, 65535), "handoff_wfd": (_INT, -1, 65535),
    "handoff_samples": (_INT, 0, 1 << 20), "handoff_wait": (_INT, 0, 1),
})
#: rx small-head routes (csrc/params.c frag_params_resolve): a 1 KiB slice of
#: page_frag_alloc_1k() (6.3-6.13), the kmalloc-1k stand-in (<= 6.2, >= 6.14),
#: or the design under test (a what-if no kernel takes).
SMALL_HEADS = ("slicer1k", "kmalloc", "design")
#: rx remote free: freed on cpu2, or handed back (skb_attempt_defer_free()).
REMOTE_FREE = ("direct", "defer")
#: the kernel (major, minor) each design mirrors: csrc/kversion.c's table.
#: Baselines stand in for page_frag_cache in the v6.9 rx path.
DESIGN_KERNEL = MappingProxyType({
    "topdown": (6, 9), "bottomup": (6, 13), "encoded": (6, 13), "remaining": (6, 10),
    "negoffset": (6, 10), "sockfrag": (6, 9), "slicer1k": (6, 9), "part2": (6, 13),
    "order0": (6, 9), "malloc": (6, 9), "null": (6, 9),
})
#: parameters :func:`fraglib.run` takes as its own arguments; the registry
#: lists a workload's preferred value but validate_params never injects one.
COMMON_PARAMS = frozenset({"packets", "size", "align", "batch", "warmup", "cpu",
                           "counters"})

_CAP_PREPARE, _CAP_PAGES = 0x2, 0x4  # csrc/include/frag.h FRAG_CAP_*


# ---------------------------------------------------------------------------
# packet-size distributions

@dataclass(frozen=True)
class Distribution:
    """A parsed ``dist`` spec, as the engine's generator samples it.

    Attributes
    ----------
    spec : str
        The spec as given.
    kind : str
        ``fixed``, ``uniform`` or ``table`` (imix and csv:).
    lo, hi : int
        Smallest and largest size that can be drawn.
    table : tuple of (int, float)
        ``(size, probability)`` rows for ``fixed`` and ``table`` (file order,
        zero-weight rows kept); empty for ``uniform``.
    """

    spec: str
    kind: str
    lo: int
    hi: int
    table: tuple[tuple[int, float], ...] = ()

    @property
    def mean(self) -> float:
        if self.kind == "uniform":
            return (self.lo + self.hi) / 2
        return sum(s * p for s, p in self.table)

    def probabilities(self) -> dict[int, float]:
        """``{size: probability}`` (uniform: every integer lo..hi)."""
        if self.kind == "uniform":
            n = self.hi - self.lo + 1
            return {s: 1 / n for s in range(self.lo, self.hi + 1)}
        out: dict[int, float] = {}
        for s, p in self.table:
            out[s] = out.get(s, 0.0) + p
        return out


_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DIGITS = re.compile(r"[0-9]+")
_CSV_ALLOWED = ("csv:NAME with NAME.csv in sizes_dir, rows \"size,weight\" (size an "
                f"integer in [1, {SIZE_MAX}], weight >= 0, total > 0)")


def _size(text: str) -> int | None:
    if not _DIGITS.fullmatch(text):
        return None
    v = int(text)
    return v if 1 <= v <= SIZE_MAX else None


def _table(spec: str, rows: list[tuple[int, float]]) -> Distribution:
    total = sum(w for _, w in rows)
    table = tuple((s, w / total) for s, w in rows)
    drawn = [s for s, w in rows if w > 0]
    return Distribution(spec, "table", min(drawn), max(drawn), table)


def _read_csv(spec: str, name: str, sizes_dir: str | os.PathLike | None) -> Distribution:
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise ParameterError("dist", spec, "csv:NAME where NAME uses only letters, digits, "
                             "'_', '-', '.' and does not start with '.'")
    path = Path(sizes_dir if sizes_dir is not None else SIZES_DIR) / f"{name}.csv"
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ParameterError("dist", spec, f"{_CSV_ALLOWED} (cannot read {path}: "
                             f"{reason})") from None
    rows: list[tuple[int, float]] = []
    header_ok = True
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        size_txt, comma, weight_txt = line.partition(",")
        if comma and header_ok and size_txt.strip()[:1].isalpha():
            header_ok = False
            continue
        header_ok = False
        size = _size(size_txt.strip())
        try:
            weight = float(weight_txt.strip())
        except ValueError:
            weight = -1.0
        if not comma or size is None or not (0 <= weight < math.inf):
            raise ParameterError("dist", spec, f"{_CSV_ALLOWED} ({path} line {lineno} "
                                 "is not)")
        rows.append((size, weight))
    if len(rows) > DIST_MAX_ROWS:
        raise ParameterError("dist", spec, f"{_CSV_ALLOWED}, at most {DIST_MAX_ROWS} "
                             f"rows ({path} has more)")
    if not rows or not sum(w for _, w in rows) > 0:
        raise ParameterError("dist", spec, f"{_CSV_ALLOWED} ({path} has no row with a "
                             "positive weight)")
    return _table(spec, rows)


def size_distribution(spec: str, sizes_dir: str | os.PathLike | None = None
                      ) -> Distribution:
    """Parse a ``dist`` spec exactly as the engine does (csrc/sizes.c).

    Parameters
    ----------
    spec : str
        ``fixed:N``, ``uniform:A-B``, ``imix`` or ``csv:NAME``.
    sizes_dir : path, optional
        Directory of ``csv:`` tables; default :data:`SIZES_DIR`.

    Returns
    -------
    Distribution

    Raises
    ------
    ParameterError
        ``param == "dist"``: unknown distribution, bad bounds, unreadable or
        malformed CSV.
    """
    if not isinstance(spec, str):
        raise ParameterError("dist", spec, "a string: fixed:N, uniform:A-B, imix or csv:NAME")
    if spec == "imix":
        return _table(spec, [(s, float(w)) for s, w in IMIX])
    if spec.startswith("fixed:"):
        n = _size(spec[6:])
        if n is None:
            raise ParameterError("dist", spec, f"fixed:N with N an integer in [1, {SIZE_MAX}]")
        return Distribution(spec, "fixed", n, n, ((n, 1.0),))
    if spec.startswith("uniform:"):
        a_txt, dash, b_txt = spec[8:].partition("-")
        a, b = _size(a_txt), _size(b_txt)
        if not dash or a is None or b is None or a > b:
            raise ParameterError("dist", spec, "uniform:A-B with integers "
                                 f"1 <= A <= B <= {SIZE_MAX}")
        return Distribution(spec, "uniform", a, b)
    if spec.startswith("csv:"):
        return _read_csv(spec, spec[4:], sizes_dir)
    raise ParameterError("dist", spec, "fixed:N, uniform:A-B, imix or csv:NAME")


# ---------------------------------------------------------------------------
# the registry

def _design_caps(design: str) -> int | None:
    """Capability bits of a design, or None if the binding is unavailable."""
    try:
        from .designs import get_design
        return get_design(design).caps
    except Exception:  # no compiler, unknown name: the caller decides
        return None


def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def rx_head_size(length: int, params: Mapping[str, object]) -> int:
    """SKB_HEAD_ALIGN(len + NET_SKB_PAD + NET_IP_ALIGN) for the run's params."""
    line = int(params["cache_line"])
    return (_align(length + int(params["net_skb_pad"]) + int(params["net_ip_align"]), line)
            + _align(int(params["shinfo_size"]), line))


def rx_max_len(params: Mapping[str, object], room: int) -> int:
    """The longest frame whose head fits ``room`` bytes (SKB_HEAD_ALIGN inverted)."""
    line = int(params["cache_line"])
    shinfo = _align(int(params["shinfo_size"]), line)
    headroom = int(params["net_skb_pad"]) + int(params["net_ip_align"])
    if room < shinfo:
        return 0
    return max(((room - shinfo) & ~(line - 1)) - headroom, 0)


def kernel_small_heads(kernel: tuple[int, int]) -> str:
    """Where ``__napi_alloc_skb()`` of release ``kernel`` puts a small head.

    A head is small when ``len + NET_SKB_PAD + NET_IP_ALIGN <=
    SKB_WITH_OVERHEAD(1024)`` (net/core/skbuff.c, from 5.11's 3226b158e67c).
    6.3 (dbae2b062824) gave such napi heads a 1 KiB slice of
    ``page_frag_alloc_1k()``; the Feb 2025 revert (6.14) restored kmalloc.

    Returns
    -------
    str
        ``"slicer1k"`` for 6.3 to 6.13, else ``"kmalloc"``.
    """
    return "slicer1k" if (6, 3) <= tuple(kernel) < (6, 14) else "kmalloc"


def design_small_heads(design: str) -> str | None:
    """The ``small_heads`` default of ``design`` (its kernel's routing), or None."""
    k = DESIGN_KERNEL.get(design)
    return None if k is None else kernel_small_heads(k)


def rx_head_route(length: int, params: Mapping[str, object]) -> str:
    """Where the rx workload puts the head of a ``length``-byte frame.

    Returns
    -------
    str
        ``"kmalloc-large"`` (above ``SKB_WITH_OVERHEAD(PAGE_SIZE)``: counted,
        not allocated), else ``params["small_heads"]`` for a small head
        (``len + pad + ip_align <= SKB_WITH_OVERHEAD(1024)``), else
        ``"design"``.
    """
    line = int(params["cache_line"])
    shinfo = _align(int(params["shinfo_size"]), line)
    if rx_head_size(length, params) > PAGE_SIZE:
        return "kmalloc-large"
    need = length + int(params["net_skb_pad"]) + int(params["net_ip_align"])
    if need <= 1024 - shinfo:
        return str(params["small_heads"])
    return "design"


def tx_copies(lengths: Sequence[int], mss: int, gso_size: int, *, prepare: bool = True,
              page_size: int = 32768, max_frag: int = PAGE_SIZE, refill_min: int = 32,
              max_frags: int = 17) -> list[int]:
    """The copies ``tcp_sendmsg_locked()`` makes, as the tx workload makes them.

    Each turn copies ``min(size_goal - skb->len, bytes left in the message,
    room left in the page fragment)`` (net/ipv4/tcp.c); size_goal is
    ``gso_size`` rounded down to a multiple of ``mss``. With prepare/commit
    the fragment is a ``page_size`` page (order 3: 32 KiB), and a new one is
    taken when less than ``refill_min`` bytes are left (``sk_page_frag_refill()``
    asks for 32); a copy that continues the skb's last fragment on the same
    page merges. Without prepare/commit every copy is one ``frag_alloc()`` of
    at most ``max_frag`` bytes and nothing merges. A skb also ends at
    ``max_frags`` fragments unless the copy merges.

    Returns
    -------
    list of int
        One entry per allocator call (prepare+commit, or frag_alloc), in
        order: the bytes it copied.
    """
    goal = max(gso_size // mss * mss, mss)
    skb_len = nfrags = 0
    room = 0
    contiguous = False     # the next byte of the page follows the skb's last frag
    out = []
    for left in lengths:
        while left:
            if skb_len == goal:
                skb_len = nfrags = 0
                contiguous = False
            if prepare:
                if room < refill_min:
                    room, contiguous = page_size, False
                avail = room
            else:
                avail, contiguous = max_frag, False
            merge = contiguous and nfrags > 0
            if not merge and nfrags == max_frags:
                skb_len = nfrags = 0
                contiguous = False
                continue
            copy = min(goal - skb_len, left, avail)
            out.append(copy)
            skb_len += copy
            left -= copy
            room -= copy
            nfrags += 0 if merge else 1
            contiguous = True
    return out


def _hits(dist: Distribution, a: int, b: int) -> bool:
    if dist.kind == "uniform":
        return a <= dist.hi and dist.lo <= b
    return any(a <= s <= b for s, p in dist.table if p > 0)


def _refuse_rx(design: str, p: Mapping[str, object], dist: Distribution) -> None:
    cap = DESIGN_MAX_FRAG.get(design)
    if cap is None:
        return
    fits, page = rx_max_len(p, cap), rx_max_len(p, PAGE_SIZE)
    if p.get("small_heads", "design") != "design":
        fits = max(fits, rx_max_len(p, 1024))
    if page > fits and _hits(dist, fits + 1, page):
        raise ParameterError("dist", p["dist"], f"on design {design} only frames whose "
                             f"head fits {cap} B (len <= {fits}) or goes to kmalloc "
                             f"(len > {page}) with these net_skb_pad/shinfo_size; "
                             "__napi_alloc_skb() sends the others to page_frag_cache, "
                             f"e.g. uniform:60-{fits}")


def _refuse_ring(design: str, p: Mapping[str, object], dist: Distribution | None) -> None:
    cap = DESIGN_MAX_FRAG.get(design)
    if cap is not None and "size" in p and int(p["size"]) > cap:
        raise ParameterError("size", p["size"], f"an integer in [1, {cap}] on design {design}")


@dataclass(frozen=True)
class Workload:
    """One C workload (``csrc/wl_<name>.c``).

    Attributes
    ----------
    name : str
        Registry key, the engine's ``workload=``.
    help : str
        One paragraph: what one sample is and what the packet unit is.
    threads : int
        Threads it can use (2: a second thread on ``cpu2`` frees).
    cpus : str
        ``"one"`` (cpu2 unused), ``"distinct"`` (with cpu2 >= 0 it must differ
        from cpu: the point is a free on another CPU) or ``"same-allowed"``
        (two threads; both on one CPU is a valid run).
    params : mapping
        The engine parameters it reads, with their defaults. Keys in
        :data:`COMMON_PARAMS` are the workload's preferred values for
        :func:`fraglib.run`'s own arguments (never injected by validate_params).
    metrics : tuple of str
        Metric names its runs report.
    balance : tuple of (str, str)
        Metric pairs that must be equal in every run (checked by the tests).
    adapts : str
        How it runs on a design that lacks something (no prepare/commit, no
        page model), in words.
    """

    name: str
    help: str
    threads: int
    cpus: str
    params: Mapping[str, object]
    metrics: tuple[str, ...] = ()
    balance: tuple[tuple[str, str], ...] = ()
    adapts: str = ""
    _refuse: object = field(default=None, repr=False, compare=False)

    def engine_defaults(self) -> dict[str, object]:
        """Defaults validate_params fills in (workload-specific keys only)."""
        return {k: v for k, v in self.params.items() if k not in COMMON_PARAMS}

    def refusal(self, design: str, params: Mapping[str, object] | None = None) -> str | None:
        """Why this workload will not run on ``design`` with ``params``, or None."""
        try:
            validate_params(self.name, {**self.params, **dict(params or {})},
                            design=design)
        except ParameterError as e:
            return str(e)
        return None

    def adaptation(self, design: str) -> str | None:
        """How the workload adapts to ``design`` (None: it runs as described)."""
        caps = _design_caps(design)
        notes = []
        if self.name == "tx" and caps is not None and not caps & _CAP_PREPARE:
            notes.append("no prepare/commit: allocates every chunk with frag_alloc(), "
                         "never coalesces (coalesce_rate 0)")
        if self.name in ("rx", "tx", "ring") and caps is not None and not caps & _CAP_PAGES:
            notes.append("no page model: pages_taken, pages_per_1k_packets and "
                         "peak_pages_held are not reported")
        if design in DESIGN_MAX_FRAG and self.name in ("rx", "tx", "ring"):
            notes.append(f"fragments of at most {DESIGN_MAX_FRAG[design]} B: larger "
                         "requests are refused by validate_params")
        return "; ".join(notes) or None


_MEM = ("bytes_requested", "pages_taken", "pages_per_1k_packets", "peak_pages_held",
        "bytes_consumed", "consumed_per_requested", "refills", "reuses",
        "high_order_fallbacks", "pages_abandoned", "commits_noref")
_RX_SIZES = {"dist": "imix", "touch": 64, "net_skb_pad": 64, "net_ip_align": 0,
             "shinfo_size": 320, "cache_line": 64}

_REGISTRY: dict[str, Workload] = {}


def _register(w: Workload) -> None:
    _REGISTRY[w.name] = w


_register(Workload(
    "fastpath",
    "alloc `batch` fragments of `size` at `align`, then free them; one sample per "
    "`sample_batches` batches, each sample at a new stack depth and pointer-array "
    "offset unless rerandomize=0 (the debate's micro-benchmark without the ring)",
    threads=1, cpus="one",
    params=MappingProxyType({"size": 256, "align": 1, "batch": 64,
                             "sample_batches": 64, "rerandomize": 1}),
))
_register(Workload(
    "rx",
    "NAPI rx poll loop: per frame (length from `dist`) a head of "
    "SKB_HEAD_ALIGN(len + net_skb_pad + net_ip_align) from the design; a small head "
    "(len + pad + ip_align <= SKB_WITH_OVERHEAD(1024)) goes where `small_heads` says, "
    "by default what the design's kernel does (slicer1k: page_frag_alloc_1k(), "
    "6.3-6.13; kmalloc: a kmalloc-1k stand-in, <= 6.2 and >= 6.14; design: a what-if); "
    "heads above a page go to kmalloc (counted, not allocated). `touch` header bytes "
    "and the shared-info line are written; the packet waits in a FIFO of "
    "`queue_depth` and is freed here, or with cpu2 >= 0 by a thread on cpu2 via a "
    "ptr_ring of `ring_size`, which frees it (remote_free=direct) or hands it back to "
    "this CPU's defer list (remote_free=defer: skb_attempt_defer_free(), limit "
    "`defer_max`, flushed every poll). One sample = `batch` frames (the NAPI budget).",
    threads=2, cpus="distinct",
    params=MappingProxyType({**_RX_SIZES, "queue_depth": 256, "cpu2": -1,
                             "ring_size": 512, "busy_poll": 0, "batch": 64,
                             "align": 1, "remote_free": "direct", "defer_max": 64}),
    metrics=("packets", "heads_allocated", "heads_freed", "heads_freed_remote",
             "frags_allocated", "small_heads_slicer1k", "small_heads_kmalloc",
             "small_heads_design", "small_heads_bytes", "small_heads_pages",
             "kmalloc_slab_pages", "kmalloc_remote_frees", "kmalloc_remote_takes",
             "kmalloc_heads", "alloc_failures", "head_bytes_mean", "dist_mean",
             "defer_max", "heads_deferred", "defer_nodefer", "defer_kicks",
             "defer_flushes", "defer_flushed", "defer_list_peak", "elapsed_ns", *_MEM),
    balance=(("heads_allocated", "heads_freed"),),
    adapts="designs without a page model (malloc, null) run without the page "
           "metrics; slicer1k only takes frames whose head fits 1 KiB",
    _refuse=_refuse_rx,
))
_register(Workload(
    "tx",
    "tcp_sendmsg copy loop: `packets` messages (sizes from `dist`) memcpy'd as "
    "tcp_sendmsg_locked() copies them: min(size_goal - skb len, bytes left, room in "
    "the page fragment) per copy (size goal = gso_size rounded down to mss; no mss "
    "cap); with prepare/commit each copy asks prepare() for 32 B "
    "(sk_page_frag_refill) and space contiguous with the skb's last fragment is "
    "merged without a page reference; without it each copy is a frag_alloc() of at "
    "most a page; skbs are completed (freed, here or on cpu2) `tx_delay` wire "
    "segments later. One sample = `batch` messages; its packet count is the wire "
    "segments (sum of ceil(len/mss)).",
    threads=2, cpus="distinct",
    params=MappingProxyType({"dist": "fixed:65536", "mss": 1448, "gso_size": 65536,
                             "tx_delay": 64, "cpu2": -1, "ring_size": 512,
                             "busy_poll": 0, "batch": 16, "packets": 4096,
                             "align": 1}),
    metrics=("messages", "packets", "segments", "size_goal", "prepare_commit",
             "bytes_sent", "bytes_copied", "bytes_completed", "chunks",
             "merged_chunks", "coalesce_rate", "frags_allocated", "frags_freed",
             "frags_freed_remote", "frags_per_segment", "alloc_failures",
             "alloc_calls", "alloc_calls_per_message", "alloc_calls_per_wire_segment",
             "page_refs_per_wire_segment", "copy_bytes_mean", "elapsed_ns", *_MEM),
    balance=(("frags_allocated", "frags_freed"), ("bytes_copied", "bytes_sent"),
             ("bytes_completed", "bytes_sent")),
    adapts="designs without prepare/commit allocate every copy (at most a page) and "
           "never coalesce",
))
_register(Workload(
    "ring",
    "page_frag_test.ko: a push thread on cpu allocates `size` at `align` into a "
    "ptr_ring of `ring_size` (the consumer clears slots in batches of 16, last "
    "first; full: free it, wait, do not count); a pop thread on cpu2 frees. Waiting "
    "spins by default (busy_poll=1: cond_resched() on an idle CPU returns at once); "
    "busy_poll=0 yields. Both on one CPU is allowed. One sample = `batch` pushes as "
    "the push thread sees them; elapsed_ns is the module's total time. "
    "RING_PRESETS holds the module's, the script's and the cover letters' settings.",
    threads=2, cpus="same-allowed",
    params=MappingProxyType({"size": 2048, "align": 1, "ring_size": 512, "cpu2": -1,
                             "busy_poll": 1, "batch": 64}),
    metrics=("objects", "frags_allocated", "frags_freed", "frags_freed_remote",
             "ring_full_frees", "alloc_failures", "misaligned", "ring_batch",
             "busy_poll", "elapsed_ns", "ns_per_object", *_MEM),
    balance=(("frags_allocated", "frags_freed"),),
    adapts="cpu2=-1 runs the pop thread on the push thread's CPU set",
    _refuse=_refuse_ring,
))
_register(Workload(
    "sizes",
    "not a measurement: warmup + packets sizes drawn from `dist` with `seed`, one "
    "per sample, in the sample's cycles field (generator check and plots)",
    threads=1, cpus="one",
    params=MappingProxyType({"dist": "imix", "warmup": 0}),
    metrics=("size_mean", "size_min", "size_max", "dist_mean", "dist_rows"),
))


#: page_frag_test.ko configurations (tools/testing/selftests/mm/page_frag/
#: page_frag_test.c as merged, 65941f10caf2; test_page_frag.sh; the cover
#: letters, docs/kernel-pagefrag.md §5): nr_test -> packets, test_alloc_len ->
#: size, test_align -> align = SMP_CACHE_BYTES (64), and where the two threads
#: ran ("cross": test_push_cpu != test_pop_cpu, "same": both on one CPU).
RING_PRESETS = MappingProxyType({
    "module-default": {"nr_test": 2_000_000, "size": 2048, "align": 1, "cpus": "same",
                       "source": "page_frag_test.c defaults: nr_test=2000000, "
                                 "test_alloc_len=2048, test_align=0, push and pop "
                                 "CPU 0"},
    "smoke": {"nr_test": 2_000_000, "size": 2048, "align": 1, "cpus": "cross",
              "source": "test_page_frag.sh smoke: the defaults on the first two CPUs"},
    "nonaligned": {"nr_test": 100_000_000, "size": 75, "align": 1, "cpus": "cross",
                   "source": "test_page_frag.sh nonaligned: test_alloc_len=75 "
                             "nr_test=100000000 (two CPUs)"},
    "aligned": {"nr_test": 100_000_000, "size": 75, "align": 64, "cpus": "cross",
                "source": "test_page_frag.sh aligned: nonaligned + test_align=1"},
    "v13-nonaligned": {"nr_test": 51_200_000, "size": 12, "align": 1, "cpus": "cross",
                       "source": "v13-v23 cover letters and the 2024-10-29 "
                                 "re-measurement: test_alloc_len=12 nr_test=51200000"},
    "v13-aligned": {"nr_test": 51_200_000, "size": 12, "align": 64, "cpus": "cross",
                    "source": "the same with test_align=1"},
    "v23-same-cpu": {"nr_test": 512_000, "size": 2048, "align": 1, "cpus": "same",
                     "source": "2024-10-29: push and pop both on CPU 0, nr_test=512000 "
                               "(length not stated: the module's 2048)"},
})


def ring_preset(name: str, scale: float = 1.0) -> dict:
    """A :data:`RING_PRESETS` entry as ring parameters.

    Parameters
    ----------
    name : str
        A preset name.
    scale : float
        Fraction of ``nr_test`` to run (1.0 = exactly the published
        configuration; notebooks default to less so they finish in seconds).

    Returns
    -------
    dict
        ``size``, ``align``, ``packets`` (= round(nr_test * scale), at least 1),
        ``cpus`` (``"cross"``/``"same"``), ``nr_test`` and ``source``.
    """
    try:
        pre = RING_PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("ring preset", name, RING_PRESETS) from None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ParameterError("scale", scale, "a number in (0, 1] (fraction of nr_test)")
    return {"size": pre["size"], "align": pre["align"],
            "packets": max(1, round(pre["nr_test"] * scale)), "cpus": pre["cpus"],
            "nr_test": pre["nr_test"], "source": pre["source"]}


def workloads() -> tuple[Workload, ...]:
    """Every registered workload, in registry order."""
    return tuple(_REGISTRY.values())


def workload_names() -> tuple[str, ...]:
    """Names of every registered workload."""
    return tuple(_REGISTRY)


def get_workload(name: str) -> Workload:
    """Look a workload up; raise UnknownNameError naming the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownNameError("workload", name, _REGISTRY) from None


# ---------------------------------------------------------------------------
# validation

def _check_value(key: str, value: object) -> object:
    kind, lo, hi = ENGINE_PARAMS[key]
    if kind == _STR:
        if (not isinstance(value, str) or not value or len(value) > 255
                or '"' in value or "\\" in value):
            raise ParameterError(key, value, "1..255 characters, no quotes or backslashes")
        return value
    if kind == _FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ParameterError(key, value, f"a number in [{lo}, {hi}]")
        return float(value)
    if isinstance(value, bool) and (lo, hi) == (0, 1):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(key, value, f"an integer in [{lo}, {hi}]")
    if kind == _POW2 and value & (value - 1):
        raise ParameterError(key, value, f"a power of two in [{lo}, {hi}]")
    return value


def _check_cpu(key: str, cpu: int) -> None:
    if cpu < 0:
        return
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise ParameterError(key, cpu, "-1 (do not pin) or a CPU this process may run on: "
                             + ", ".join(map(str, allowed)))


def validate_params(workload: str, params: Mapping[str, object], *,
                    design: str | None = None, cpu: int | None = None) -> dict:
    """Check a workload's engine parameters; return them with defaults filled in.

    Parameters
    ----------
    workload : str
        A registered workload name.
    params : mapping
        Engine parameters (``dist``, ``queue_depth``, ``mss``, ``cpu2``, ...).
        Keys of :data:`COMMON_PARAMS` may appear too and are checked.
    design : str, optional
        The design it will run on (or ``params["design"]``): checks that the
        workload can run there (e.g. slicer1k serves at most 1 KiB).
    cpu : int, optional
        The first thread's CPU when it is not in ``params`` (fraglib.run passes
        its own): needed to refuse the same CPU twice.

    Returns
    -------
    dict
        ``params`` plus the workload's defaults for its own keys (never a
        :data:`COMMON_PARAMS` key that was not given), and ``sizes_dir`` when
        ``dist`` is a ``csv:`` table.

    Raises
    ------
    UnknownNameError
        Unknown workload or parameter.
    ParameterError
        A value is not allowed: queue depth < 0, mss 0, an unknown
        distribution or unreadable CSV, a CPU that does not exist, the same
        CPU twice where two are required, a design that cannot serve it.
        Nothing has been built, run or written.
    """
    w = get_workload(workload)
    params = dict(params)
    for key in params:
        if key not in ENGINE_PARAMS:
            raise ParameterError(key, params[key], "a known engine parameter: "
                                 + ", ".join(sorted(ENGINE_PARAMS)))
    design = design if design is not None else params.get("design")
    out = {**w.engine_defaults(), **params}
    out.pop("workload", None)
    for key, value in list(out.items()):
        out[key] = _check_value(key, value)

    dist = None
    if "dist" in out:
        dist = size_distribution(out["dist"], out.get("sizes_dir"))
        if str(out["dist"]).startswith("csv:") and "sizes_dir" not in out:
            out["sizes_dir"] = str(SIZES_DIR)
    if "small_heads" in out and out["small_heads"] not in SMALL_HEADS:
        raise ParameterError("small_heads", out["small_heads"], ", ".join(SMALL_HEADS)
                             + " (where rx heads below SKB_WITH_OVERHEAD(1024) go)")
    if "remote_free" in out:
        if out["remote_free"] not in REMOTE_FREE:
            raise ParameterError("remote_free", out["remote_free"], ", ".join(REMOTE_FREE)
                                 + " (how rx frees a head consumed on cpu2)")
        if workload != "rx" and out["remote_free"] != "direct":
            raise ParameterError("remote_free", out["remote_free"], f"direct for workload "
                                 f"{workload} (skb_attempt_defer_free() is the rx path's)")
    if workload == "rx" and "small_heads" not in out and isinstance(design, str):
        default = design_small_heads(design)
        if default is None:
            raise ParameterError("small_heads", "(unset)", f"{', '.join(SMALL_HEADS)}; "
                                 f"design {design} names no kernel version "
                                 "(DESIGN_KERNEL), so rx has no default")
        out["small_heads"] = default

    first = out.get("cpu", cpu)
    if first is not None:
        first = _check_value("cpu", first)
        _check_cpu("cpu", first)
    if "cpu2" in out:
        _check_cpu("cpu2", out["cpu2"])
        if (w.cpus == "distinct" and out["cpu2"] >= 0 and first is not None
                and out["cpu2"] == first):
            raise ParameterError("cpu2", out["cpu2"], f"-1 (free on the same CPU) or a "
                                 f"CPU other than cpu={first} (this workload frees on "
                                 "a second CPU)")

    if design is not None:
        if not isinstance(design, str):
            raise ParameterError("design", design, "a design name")
        align = out.get("align", 1)
        cap = DESIGN_MAX_FRAG.get(design)
        if cap is not None and align > cap and w.name in ("rx", "tx", "ring"):
            raise ParameterError("align", align, f"at most {cap} on design {design}")
        if w._refuse is not None:
            w._refuse(design, out, dist)
    return out
