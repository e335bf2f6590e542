"""The workload registry: what each C workload does, the engine parameters it
reads (with their defaults), which designs it runs on and how, and
:func:`validate_params`, which checks a run's parameters before any engine
is built or spawned.

The C side owns the facts: each workload's name, help, threads, flags and
design-limit rule (``csrc/workload_info.c``), the parameter table
(:mod:`fraglib.engine_params`), the ``dist`` parser
(:mod:`fraglib.distributions`) and each design's kernel release and largest
fragment. This module reads them through the binding (lazily, once) and
adds what only Python has: the workloads' preferred parameters, metric
names, CPU rules and how they adapt to a design. The engine checks
everything again and refuses with one JSON line on stderr; this module
exists so a notebook or sweep hears about a bad value at once, as a
:class:`~fraglib.exceptions.ParameterError` naming the parameter.

The names of :mod:`fraglib.engine_params`, :mod:`fraglib.distributions` and
:mod:`fraglib.ring_presets` are re-exported here, where users look for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from . import _core
from ._core import CTable, consts
from .designs import CAP_PAGES, CAP_PREPARE, PAGE_SIZE, designs, get_design
from .distributions import (DIST_MAX_ROWS, SIZE_MAX, SIZES_DIR, Distribution,
                            size_distribution)
from .engine_params import (COMMON_PARAMS, ENGINE_PARAMS, EngineParam, check_cpu,
                            check_value)
from .exceptions import ParameterError, UnknownNameError
from .ring_presets import RING_PRESETS, ring_preset

__all__ = ["Workload", "Distribution", "EngineParam", "workloads", "workload_names",
           "get_workload", "validate_params", "size_distribution", "SIZES_DIR",
           "ENGINE_PARAMS", "COMMON_PARAMS", "DESIGN_KERNEL", "DESIGN_MAX_FRAG", "SIZE_MAX",
           "DIST_MAX_ROWS", "kernel_small_heads", "design_small_heads", "RING_PRESETS",
           "ring_preset", "c_param_table", "workload_table"]

#: the kernel (major, minor) each design mirrors (csrc/kversion.c's table).
DESIGN_KERNEL: Mapping[str, tuple[int, int]] = CTable(
    lambda: {d.name: d.kernel for d in designs() if d.kernel is not None})
#: designs that cannot hand out a fragment as large as a page (their ops
#: table's max_frag): the napi 1 KiB slicer returns NULL above 1 KiB.
DESIGN_MAX_FRAG: Mapping[str, int] = CTable(
    lambda: {d.name: d.max_frag for d in designs() if d.limits_frag})
# ---------------------------------------------------------------------------
# the registry

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


def _design_limits(workload: str, design: str, params: Mapping[str, object]) -> None:
    """Refuse what ``design`` cannot serve: the workload's limits rule in
    csrc/workload_info.c (rx heads between the design's largest fragment and
    a page, ring sizes, alignments), the very function the engine runs."""
    keys = [k for k in params if k != "workload"]
    cdata = [_core.ffi.new("char[]", k.encode()) for k in keys]
    vdata = [_core.ffi.new("char[]", (str(int(v)) if isinstance(v, bool) else str(v))
                           .encode()) for v in (params[k] for k in keys)]
    err = _core.ffi.new("char[]", 512)
    cap = DESIGN_MAX_FRAG.get(design, PAGE_SIZE)
    if _core.lib().fraglib_workload_limits(
            workload.encode(), design.encode(), cap, _core.ffi.new("char *[]", cdata),
            _core.ffi.new("char *[]", vdata), len(keys), err, len(err)) == 0:
        return
    text = _core.text(err)
    head, sep, allowed = text.partition(": allowed ")
    key = head[len("invalid "):].partition("=")[0]
    if not (text.startswith("invalid ") and sep and key in params):
        raise ParameterError("design", design, text)
    raise ParameterError(key, params[key], allowed)


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
_RX_SIZES = ("dist", "touch", "net_skb_pad", "net_ip_align", "shinfo_size", "cache_line")

#: what Python adds to each C workload (Workload's fields after ``threads``),
#: by name; the C table's order rules.  ``reads`` names the engine parameters
#: the workload reads: its ``params`` are their C defaults (csrc/params.c),
#: except the few in ``prefer``, where the workload's usual case differs
#: from the engine's global default.
_SPECS: dict[str, dict] = {}
_SPECS["fastpath"] = dict(
    cpus="one",
    reads=("size", "align", "batch", "sample_batches", "rerandomize"),
)
_SPECS["rx"] = dict(
    cpus="distinct",
    reads=(*_RX_SIZES, "queue_depth", "cpu2", "ring_size", "busy_poll", "batch", "align",
           "remote_free", "defer_max"),
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
    needs_full_frags=True, page_metrics=True,
)
_SPECS["tx"] = dict(
    cpus="distinct",
    reads=("dist", "mss", "gso_size", "tx_delay", "cpu2", "ring_size", "busy_poll",
           "batch", "packets", "align"),
    # one sendmsg() of 64 KiB, as in the debate's tx figures; a sample of 16
    # of them is already 736 wire segments
    prefer={"dist": "fixed:65536", "batch": 16, "packets": 4096},
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
    reads=("size", "align", "ring_size", "cpu2", "busy_poll", "batch"),
    prefer={"size": 2048},              # page_frag_test.c's test_alloc_len
    metrics=("objects", "frags_allocated", "frags_freed", "frags_freed_remote",
             "ring_full_frees", "alloc_failures", "misaligned", "ring_batch",
             "busy_poll", "elapsed_ns", "ns_per_object", *_MEM),
    balance=(("frags_allocated", "frags_freed"),),
    adapts="cpu2=-1 runs the pop thread on the push thread's CPU set",
    needs_full_frags=True, page_metrics=True,
)
_SPECS["sizes"] = dict(
    cpus="one",
    reads=("dist", "warmup"),
    prefer={"warmup": 0},               # not timed: nothing to warm up
    metrics=("size_mean", "size_min", "size_max", "dist_mean", "dist_rows"),
)


def _load_registry() -> dict[str, Workload]:
    lib = _core.lib()
    out = {}
    for i in range(lib.fraglib_nworkloads()):
        info = lib.fraglib_workload_at(i)
        name = _core.text(info.name)
        spec = dict(_SPECS.get(name, {"cpus": "one" if info.threads == 1 else "distinct"}))
        prefer = spec.pop("prefer", {})
        spec["params"] = MappingProxyType(
            {k: prefer.get(k, ENGINE_PARAMS[k].default) for k in spec.pop("reads", ())})
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
        out[key] = check_value(key, value)

    if "dist" in out:
        size_distribution(out["dist"], out.get("sizes_dir"))
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
        first = check_value("cpu", first)
        check_cpu("cpu", first)
    if "cpu2" in out:
        check_cpu("cpu2", out["cpu2"])
        if (w.cpus == "distinct" and out["cpu2"] >= 0 and first is not None
                and out["cpu2"] == first):
            raise ParameterError("cpu2", out["cpu2"], f"-1 (free on the same CPU) or a "
                                 f"CPU other than cpu={first} (this workload frees on "
                                 "a second CPU)")

    if design is not None:
        if not isinstance(design, str):
            raise ParameterError("design", design, "a design name")
        _design_limits(workload, design, out)
    return out


# ---- what `fraglib workloads` lists --------------------------------------------


def c_param_table() -> dict[str, dict]:
    """The C parameter table (``csrc/params.c``) by key: type, bounds, help.

    Read through the shared library (:data:`fraglib.workloads.ENGINE_PARAMS`).
    """
    return {k: {"key": k, "type": p.kind, "min": p.lo, "max": p.hi, "help": p.help,
                "default": p.default, "choices": list(p.choices)}
            for k, p in ENGINE_PARAMS.items()}


def workload_table(names=None) -> list[dict]:
    """Every workload (or ``names``) with its parameters, defaults and C help.

    Returns
    -------
    list of dict
        ``name``, ``help``, ``threads``, ``cpus``, ``adapts``, ``metrics`` and
        ``params``: ``{key: {"default", "type", "min", "max", "help"}}`` with
        the registry's default and the C table's type, bounds and help.
    """
    chosen = [get_workload(n) for n in names or workload_names()]   # before any build
    table = c_param_table()
    rows = []
    for w in chosen:
        params = {}
        for key, default in w.params.items():
            c = table.get(key, {})
            params[key] = {"default": default, "type": c.get("type"),
                           "min": c.get("min"), "max": c.get("max"),
                           "help": c.get("help") or "(not in the engine's table)"}
        rows.append({"name": w.name, "help": w.help, "threads": w.threads,
                     "cpus": w.cpus, "adapts": w.adapts, "metrics": list(w.metrics),
                     "params": params})
    return rows
