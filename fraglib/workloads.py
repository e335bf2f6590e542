"""The workload registry: what each C workload does, the engine parameters it
reads (with their defaults), which designs it runs on and how, and
:func:`validate_params`, which checks a run's parameters before any engine
is built or spawned.

The C side owns the facts: the parameter table (``csrc/params.c``: key,
type, bounds, default, help), each workload's name, help and threads
(``csrc/workload_info.c``), the ``dist`` parser (``csrc/sizes.c``) and each
design's kernel release and largest fragment. This module reads them
through the binding (lazily, once) and adds what only Python has: the
workloads' preferred parameters, metric names, CPU rules and how they
adapt to a design. The engine checks everything again and refuses with one
JSON line on stderr; this module exists so a notebook or sweep hears about
a bad value at once, as a :class:`~fraglib.exceptions.ParameterError`
naming the parameter.

Packet sizes come from the ``dist`` parameter (see :func:`size_distribution`):
``fixed:N``, ``uniform:A-B``, ``imix`` (simple IMIX: 64/576/1500 B in the ratio
7:4:1) or ``csv:NAME`` (``data/sizes/NAME.csv``; see ``data/sizes/README.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from . import _core
from ._build import REPO_ROOT
from ._core import CTable, consts
from .designs import CAP_PAGES, CAP_PREPARE, PAGE_SIZE, designs, get_design
from .exceptions import ParameterError, UnknownNameError

__all__ = ["Workload", "Distribution", "EngineParam", "workloads", "workload_names",
           "get_workload", "validate_params", "size_distribution", "rx_head_size",
           "rx_max_len", "SIZES_DIR", "ENGINE_PARAMS", "COMMON_PARAMS", "DESIGN_KERNEL",
           "DESIGN_MAX_FRAG", "SIZE_MAX", "DIST_MAX_ROWS", "kernel_small_heads",
           "design_small_heads", "rx_head_route", "tx_copies", "RING_PRESETS",
           "ring_preset"]

#: where ``dist=csv:NAME`` looks for ``NAME.csv`` unless ``sizes_dir`` is given.
SIZES_DIR = REPO_ROOT / "data" / "sizes"
#: largest packet size a ``dist`` can draw, and most rows of a ``csv:`` table.
SIZE_MAX = consts.FRAG_SIZE_MAX
DIST_MAX_ROWS = consts.FRAG_DIST_MAX_ROWS


@dataclass(frozen=True)
class EngineParam:
    """One row of the engine's parameter table (``csrc/params.c``).

    Attributes
    ----------
    key : str
        The ``key=value`` key.
    kind : str
        ``"int"``, ``"float"``, ``"pow2"`` (an integer power of two) or ``"str"``.
    lo, hi : int, float or None
        Bounds, inclusive (None for ``"str"``).
    default : int, float, str or None
        The engine's default; None when it has none or it depends on the
        design and workload.
    help : str
        One line, as ``--help`` prints it.
    choices : tuple of str
        The words a ``"str"`` parameter takes; empty when any text goes.
    why : str
        With ``choices``: what the choice decides.
    """

    key: str
    kind: str
    lo: int | float | None
    hi: int | float | None
    default: int | float | str | None
    help: str
    choices: tuple[str, ...] = ()
    why: str = ""

    def __post_init__(self):
        if self.kind not in ("int", "float", "pow2", "str"):
            raise ValueError(f"{self.key}: kind {self.kind!r} is not int, float, pow2 or str")


def _load_params() -> dict[str, EngineParam]:
    lib, ffi = _core.lib(), _core.ffi
    row = ffi.new("struct fraglib_param *")
    out = {}
    for i in range(lib.fraglib_nparams()):
        if lib.fraglib_param_at(i, row):
            raise RuntimeError(f"fraglib_param_at({i}) failed")  # the C count lies
        kind = _core.text(row.type)
        text = ffi.string(row.default_text).decode()
        conv = {"str": str, "float": float}.get(kind, int)
        bounds = (None, None) if kind == "str" else (conv(row.min), conv(row.max))
        choices: list[str] = []
        if row.choices != ffi.NULL:
            while row.choices[len(choices)] != ffi.NULL:
                choices.append(_core.text(row.choices[len(choices)]))
        out[_core.text(row.key)] = EngineParam(
            _core.text(row.key), kind, *bounds, conv(text) if text else None,
            _core.text(row.help), tuple(choices), _core.text(row.why) or "")
    return out


#: Every key the engine accepts -> :class:`EngineParam` (csrc/params.c's table).
ENGINE_PARAMS: Mapping[str, EngineParam] = CTable(_load_params)
#: the kernel (major, minor) each design mirrors (csrc/kversion.c's table).
DESIGN_KERNEL: Mapping[str, tuple[int, int]] = CTable(
    lambda: {d.name: d.kernel for d in designs() if d.kernel is not None})
#: designs that cannot hand out a fragment as large as a page (their ops
#: table's max_frag): the napi 1 KiB slicer returns NULL above 1 KiB.
DESIGN_MAX_FRAG: Mapping[str, int] = CTable(
    lambda: {d.name: d.max_frag for d in designs() if d.limits_frag})
#: parameters :func:`fraglib.run` takes as its own arguments; the registry
#: lists a workload's preferred value but validate_params never injects one.
COMMON_PARAMS = frozenset({"packets", "size", "align", "batch", "warmup", "cpu",
                           "counters"})


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


def size_distribution(spec: str, sizes_dir: str | os.PathLike | None = None
                      ) -> Distribution:
    """Parse a ``dist`` spec with the engine's own parser (csrc/sizes.c).

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
        malformed CSV (the engine's words for what is allowed).
    """
    if not isinstance(spec, str):
        raise ParameterError("dist", spec, "a string: fixed:N, uniform:A-B, imix or csv:NAME")
    if "\0" in spec:
        raise ParameterError("dist", spec, "fixed:N, uniform:A-B, imix or csv:NAME")
    lib, ffi = _core.lib(), _core.ffi
    d = ffi.new("struct frag_dist *")
    err = ffi.new("char[]", 1024)
    directory = os.fspath(sizes_dir if sizes_dir is not None else SIZES_DIR)
    if lib.frag_dist_parse(d, spec.encode(), directory.encode(), err, len(err)):
        raise ParameterError("dist", spec, ffi.string(err).decode())
    try:
        if d.kind == lib.FRAG_DIST_UNIFORM:
            return Distribution(spec, "uniform", d.lo, d.hi)
        table = tuple((d.value[i], d.prob[i]) for i in range(d.n))
        if d.kind == lib.FRAG_DIST_FIXED:
            return Distribution(spec, "fixed", d.lo, d.hi, ((d.lo, 1.0),))
        return Distribution(spec, "table", d.lo, d.hi, table)
    finally:
        lib.frag_dist_free(d)


# ---------------------------------------------------------------------------
# the registry

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
    The rule is csrc/kversion.c's ``frag_kver_small_heads()``.

    Returns
    -------
    str
        ``"slicer1k"`` for 6.3 to 6.13, else ``"kmalloc"``.
    """
    major, minor = kernel
    return _core.text(_core.lib().frag_kver_small_heads(
        major * consts.FRAG_KVER_BASE + minor))


def design_small_heads(design: str) -> str | None:
    """The ``small_heads`` default of ``design`` (its kernel's routing), or None.
    A ``kernel:NAME`` design has the release of the tree it was read from."""
    k = DESIGN_KERNEL.get(design)
    if k is None and design.startswith("kernel:"):
        k = get_design(design).kernel
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


_CPUS = ("one", "distinct", "same-allowed")


@dataclass(frozen=True)
class Workload:
    """One C workload (``csrc/wl_<name>.c``).

    ``name``, ``help`` and ``threads`` are the C table's
    (``csrc/workload_info.c``); the rest is what Python adds.

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
    needs_full_frags : bool
        It asks the design for fragments up to a page, so a design with a
        smaller ``max_frag`` refuses larger sizes and alignments.
    uses_prepare : bool
        It uses prepare/commit where the design has it (else frag_alloc()).
    page_metrics : bool
        It reports the page-model metrics (absent on designs without pages).
    flags : int
        The C table's ``FRAG_WL_*`` bits (what the parameter rules of
        csrc/params.c read; see :attr:`routes_small_heads`,
        :attr:`defers_frees`).
    """

    name: str
    help: str
    threads: int
    cpus: str
    params: Mapping[str, object]
    metrics: tuple[str, ...] = ()
    balance: tuple[tuple[str, str], ...] = ()
    adapts: str = ""
    needs_full_frags: bool = False
    uses_prepare: bool = False
    page_metrics: bool = False
    flags: int = 0
    _refuse: Callable | None = field(default=None, repr=False, compare=False)

    @property
    def routes_small_heads(self) -> bool:
        """It sends small heads where ``small_heads`` says (default: the
        design's kernel), so a design without a kernel needs one given."""
        return bool(self.flags & consts.FRAG_WL_SMALL_HEADS)

    @property
    def defers_frees(self) -> bool:
        """``remote_free=defer`` (skb_attempt_defer_free()) applies to it."""
        return bool(self.flags & consts.FRAG_WL_DEFER_FREE)

    def __post_init__(self):
        if self.threads not in (1, 2):
            raise ValueError(f"{self.name}: threads must be 1 or 2, not {self.threads!r}")
        if self.cpus not in _CPUS:
            raise ValueError(f"{self.name}: cpus must be one of {_CPUS}, not {self.cpus!r}")

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
        try:
            d = get_design(design)
        except Exception:  # no compiler, unknown name: the caller decides
            d = None
        notes = []
        if self.uses_prepare and d is not None and not d.caps & CAP_PREPARE:
            notes.append("no prepare/commit: allocates every chunk with frag_alloc(), "
                         "never coalesces (coalesce_rate 0)")
        if self.page_metrics and d is not None and not d.caps & CAP_PAGES:
            notes.append("no page model: pages_taken, pages_per_1k_packets and "
                         "peak_pages_held are not reported")
        if self.needs_full_frags and d is not None and d.limits_frag:
            notes.append(f"fragments of at most {d.max_frag} B: larger "
                         "requests are refused by validate_params")
        return "; ".join(notes) or None


_MEM = ("bytes_requested", "pages_taken", "pages_per_1k_packets", "peak_pages_held",
        "bytes_consumed", "consumed_per_requested", "refills", "reuses",
        "high_order_fallbacks", "pages_abandoned", "commits_noref")
_RX_SIZES = {"dist": "imix", "touch": 64, "net_skb_pad": 64, "net_ip_align": 0,
             "shinfo_size": 320, "cache_line": 64}

#: what Python adds to each C workload (Workload's fields after ``threads``),
#: by name; the C table's order rules.
_SPECS: dict[str, dict] = {}
_SPECS["fastpath"] = dict(
    cpus="one",
    params=MappingProxyType({"size": 256, "align": 1, "batch": 64,
                             "sample_batches": 64, "rerandomize": 1}),
)
_SPECS["rx"] = dict(
    cpus="distinct",
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
    needs_full_frags=True, page_metrics=True,
)
_SPECS["tx"] = dict(
    cpus="distinct",
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
    needs_full_frags=True, page_metrics=True, uses_prepare=True,
)
_SPECS["ring"] = dict(
    cpus="same-allowed",
    params=MappingProxyType({"size": 2048, "align": 1, "ring_size": 512, "cpu2": -1,
                             "busy_poll": 1, "batch": 64}),
    metrics=("objects", "frags_allocated", "frags_freed", "frags_freed_remote",
             "ring_full_frees", "alloc_failures", "misaligned", "ring_batch",
             "busy_poll", "elapsed_ns", "ns_per_object", *_MEM),
    balance=(("frags_allocated", "frags_freed"),),
    adapts="cpu2=-1 runs the pop thread on the push thread's CPU set",
    _refuse=_refuse_ring,
    needs_full_frags=True, page_metrics=True,
)
_SPECS["sizes"] = dict(
    cpus="one",
    params=MappingProxyType({"dist": "imix", "warmup": 0}),
    metrics=("size_mean", "size_min", "size_max", "dist_mean", "dist_rows"),
)


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


def _load_registry() -> dict[str, Workload]:
    lib = _core.lib()
    out = {}
    for i in range(lib.fraglib_nworkloads()):
        info = lib.fraglib_workload_at(i)
        name = _core.text(info.name)
        spec = _SPECS.get(name, {"cpus": "one" if info.threads == 1 else "distinct",
                                 "params": MappingProxyType({})})
        out[name] = Workload(name, _core.text(info.help), info.threads, flags=info.flags,
                             **spec)
    stale = set(_SPECS) - set(out)
    if stale:
        raise RuntimeError(f"fraglib.workloads describes {sorted(stale)}, which the C "
                           "table (csrc/workload_info.c) does not have")
    return out


#: name -> :class:`Workload`, in the C table's order.
_REGISTRY: Mapping[str, Workload] = CTable(_load_registry)


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
    prm = ENGINE_PARAMS[key]
    kind, lo, hi = prm.kind, prm.lo, prm.hi
    if kind == "str":
        limit = consts.FRAG_STR_LEN - 1
        if (not isinstance(value, str) or not value or len(value) > limit
                or '"' in value or "\\" in value):
            raise ParameterError(key, value, f"1..{limit} characters, no quotes or "
                                 "backslashes")
        if prm.choices and value not in prm.choices:
            raise ParameterError(key, value, ", ".join(prm.choices) + f" ({prm.why})")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ParameterError(key, value, f"a number in [{lo}, {hi}]")
        return float(value)
    if isinstance(value, bool) and (lo, hi) == (0, 1):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(key, value, f"an integer in [{lo}, {hi}]")
    if kind == "pow2" and value & (value - 1):
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
        if not isinstance(key, str) or key not in ENGINE_PARAMS:
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
    if (not w.defers_frees and "remote_free" in out
            and out["remote_free"] != ENGINE_PARAMS["remote_free"].default):
        raise ParameterError("remote_free", out["remote_free"], f"direct for workload "
                             f"{workload} (skb_attempt_defer_free() is the rx path's)")
    if w.routes_small_heads and "small_heads" not in out and isinstance(design, str):
        default = design_small_heads(design)
        if default is None:
            raise ParameterError("small_heads", "(unset)", ", ".join(
                ENGINE_PARAMS["small_heads"].choices) + f"; design {design} names no "
                "kernel version (csrc/kversion.c), so rx has no default")
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
        if cap is not None and align > cap and w.needs_full_frags:
            raise ParameterError("align", align, f"at most {cap} on design {design}")
        if w._refuse is not None:
            w._refuse(design, out, dist)
    return out
