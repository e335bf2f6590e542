"""Workload experiments for the rx, tx, ring, memory and counters notebooks.

Every function returns a tidy :class:`pandas.DataFrame` or a sentence, so a
notebook only calls, plots and prints. Three conventions hold throughout:

* A (design, cell) a workload refuses (``Workload.refusal``: slicer1k cannot
  serve a 1500 B frame head) or that this machine cannot run (a second CPU
  on a one-CPU machine) is a row whose ``status`` is ``"refused: <reason>"``
  or ``"skipped: <reason>"`` with NaN measurements. It is never dropped.
* A value that was not measured is NaN with a reason, or the string
  ``"not measured: <reason>"``; never 0.
* Sentences (``*_answer``) are computed from the tables, so a notebook's
  closing paragraph stays true when it is rerun.

Runs are interleaved as in :func:`fraglib.experiments.grid`: every round runs
each cell's designs in a fresh random order, so drift on a noisy machine hits
them alike, and runs of one round form a pair for the verdicts.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import counters as _counters
from . import experiments as _experiments
from . import stats as _stats
from .api import default_cpu, run
from .designs import CAP_ALIASED, CAP_PAGES, design_names, get_design
from .exceptions import CollectorUnavailable, ParameterError
from .workloads import RING_PRESETS, get_workload, ring_preset, tx_copies

__all__ = [
    "RX_DESIGNS", "TX_DESIGNS", "RING_DESIGNS", "RING_MODES", "RING_CPUS",
    "COUNTER_WORKLOADS", "MEMORY_METRICS", "MEASURED",
    "other_cpu", "rx_grid", "tx_grid", "ring_grid", "not_measured", "cell_medians",
    "rx_routing", "rx_routing_text", "tx_copy_text", "ring_presets_table",
    "verdicts", "rx_answer", "tx_summary", "tx_answer", "ring_ratios", "kernel_ratios",
    "ring_vs_kernel", "ring_answer", "memory_table", "memory_answer",
    "probe_table", "counter_table_for", "top_functions", "counters_answer",
]

#: status of a row that was run
MEASURED = "measured"
#: rx notebook defaults: the v6.9 and merged designs, sock.c's and a baseline
RX_DESIGNS = ("topdown", "bottomup", "encoded", "sockfrag", "order0")
#: tx notebook defaults: sock.c's page_frag first (what tcp_sendmsg used in v6.9)
TX_DESIGNS = ("sockfrag", "bottomup", "encoded", "topdown", "order0")
#: page_frag_test: before (v6.9 top-down) and after (bottom-up, merged encoded)
RING_DESIGNS = ("topdown", "bottomup", "encoded")
#: the selftest's modes (test_page_frag.sh): smoke = default 2048 B, nonaligned
#: = test_alloc_len=75, aligned = the same with test_align=1 (SMP_CACHE_BYTES)
RING_MODES = {"2048": {"size": 2048, "align": 1},
              "75": {"size": 75, "align": 1},
              "75-aligned": {"size": 75, "align": 64}}
#: cross: push and pop threads on two CPUs; same: both on one CPU
RING_CPUS = ("cross", "same")
COUNTER_WORKLOADS = ("fastpath", "rx", "ring")
#: what memory_table reports, per (design, workload)
MEMORY_METRICS = ("pages_per_1k_packets", "peak_pages_held", "bytes_requested",
                  "bytes_consumed", "consumed_per_requested", "refills", "reuses",
                  "high_order_fallbacks", "pages_abandoned", "pages_taken")
_PAGE_METRICS = ("pages_per_1k_packets", "peak_pages_held", "refills", "reuses",
                 "high_order_fallbacks", "pages_abandoned", "pages_taken")
_BYTE_METRICS = ("bytes_consumed", "consumed_per_requested")
_FREE_ON = {False: "this CPU", True: "another CPU"}


# --------------------------------------------------------------------------
# checks and CPUs


def _allowed_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def other_cpu(cpu: int | None = None) -> tuple[int | None, str | None]:
    """A CPU other than the engine's, for a free on another CPU.

    Parameters
    ----------
    cpu : int, optional
        The engine's (first thread's) CPU; default
        :func:`fraglib.api.default_cpu`.

    Returns
    -------
    (int, None) or (None, str)
        The highest other allowed CPU, or None and why there is none.
    """
    cpu = default_cpu() if cpu is None else cpu
    others = [c for c in _allowed_cpus() if c != cpu]
    if not others:
        return None, (f"only CPU {cpu} is allowed (sched_getaffinity): no second CPU "
                      "to free on")
    return max(others), None


def _designs(designs: Iterable[str] | None) -> list[str]:
    names = list(dict.fromkeys(design_names() if designs is None else designs))
    if not names:
        raise ParameterError("designs", designs, "at least one design name")
    for d in names:
        get_design(d)
    return names


def _positive(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ParameterError(name, v, "an integer >= 1")
    return v


def _nonempty(name: str, values: Iterable, allowed: Iterable | None = None) -> list:
    out = list(dict.fromkeys(values))
    if not out:
        raise ParameterError(name, values, "at least one value")
    if allowed is not None:
        allowed = list(allowed)
        for v in out:
            if v not in allowed:
                raise ParameterError(name, v, "one of " + ", ".join(map(str, allowed)))
    return out


# --------------------------------------------------------------------------
# the interleaved grid


def _nan_row(metrics: Sequence[str]) -> dict:
    return {"median_cpp": np.nan, "min_cpp": np.nan, "ns_per_packet": np.nan,
            **{m: np.nan for m in metrics}, "run_id": None}


def _metric(r, name: str) -> float:
    v = r.metrics.get(name)
    return np.nan if v is None else float(v)


def _interleaved(designs: Sequence[str], workload: str, cells: Sequence[dict], *,
                 repeats: int, seed: int, progress: bool, metrics: Sequence[str],
                 run_kwargs: Mapping, param_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Run each cell's accepted designs ``repeats`` rounds, interleaved.

    ``cells``: dicts with ``labels`` (columns), ``params`` (passed to run)
    and ``skip`` (a reason the cell cannot run here, or None).
    """
    w = get_workload(workload)
    rows: list[dict] = []
    accepted: list[list[str]] = []
    for ci, cell in enumerate(cells):
        ok = []
        for d in designs:
            reason = f"skipped: {cell['skip']}" if cell.get("skip") else None
            if reason is None:
                why = w.refusal(d, {**cell["params"],
                                    **{k: v for k, v in run_kwargs.items()
                                       if k in ("size", "align", "batch")}})
                reason = f"refused: {why}" if why else None
            if reason:
                rows.append({"design": d, **cell["labels"], "cell": ci, "repeat": np.nan,
                             **{k: None for k in param_columns}, "status": reason, "note": w.adaptation(d) or "", "flag": "",
                             **_nan_row(metrics)})
            else:
                ok.append(d)
        accepted.append(ok)
    rng = random.Random(seed)
    jobs = []
    for rep in range(repeats):
        for ci in range(len(cells)):
            order = accepted[ci][:]
            rng.shuffle(order)
            jobs += [(rep, ci, d) for d in order]
    for rep, ci, d in tqdm(jobs, disable=not progress, desc=workload):
        cell = cells[ci]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = run(d, workload, **{**run_kwargs, **cell["params"]})
        rows.append({"design": d, **cell["labels"], "cell": ci, "repeat": rep,
                     **{k: r.params.get(k) for k in param_columns},
                     "status": MEASURED, "note": w.adaptation(d) or "",
                     "flag": "; ".join(dict.fromkeys(str(x.message) for x in caught)),
                     "median_cpp": r.median_cycles_per_packet,
                     "min_cpp": float(r.cycles_per_packet.min()),
                     "ns_per_packet": float(np.median(r.ns_per_packet)),
                     **{m: _metric(r, m) for m in metrics}, "run_id": r.run_id})
    df = pd.DataFrame(rows)
    order = {d: i for i, d in enumerate(designs)}
    return (df.assign(_d=df["design"].map(order))
              .sort_values(["cell", "_d", "repeat"], na_position="first", kind="stable")
              .drop(columns="_d").reset_index(drop=True))


def _remote_cells(labels: Sequence[tuple[dict, dict]], remote: Sequence[bool],
                  cpu: int | None) -> list[dict]:
    cpu2, why = other_cpu(cpu)
    cells = []
    for lab, params in labels:
        for rem in remote:
            cells.append({"labels": {**lab, "remote": bool(rem), "free_on": _FREE_ON[bool(rem)]},
                          "params": {**params, "cpu2": cpu2 if rem and cpu2 is not None else -1},
                          "skip": why if rem and cpu2 is None else None})
    return cells


def rx_grid(designs: Sequence[str] = RX_DESIGNS, dists: Sequence[str] = ("imix",),
            remote: Sequence[bool] = (False, True), *, packets: int = 16384,
            repeats: int = 8, seed: int = 0, progress: bool = True,
            small_heads: str | None = None, remote_free: str = "direct",
            **run_kwargs) -> pd.DataFrame:
    """The rx workload over packet-size distributions, freed here or remotely.

    Parameters
    ----------
    designs : sequence of str
        Designs to run (default :data:`RX_DESIGNS`).
    dists : sequence of str
        Frame-length distributions (``imix``, ``csv:NAME`` for
        ``data/sizes/NAME.csv``, ``fixed:N``, ``uniform:A-B``).
    remote : sequence of bool
        False: the packet is freed on the allocating CPU; True: by a thread
        on another allowed CPU (``cpu2``). On a one-CPU machine the True
        cells are ``"skipped: ..."`` rows.
    packets : int
        Frames per run (after warm-up).
    repeats : int
        Interleaved rounds.
    seed : int
        Seed of the run order.
    progress : bool
        Show a progress bar.
    small_heads : str, optional
        Where heads with ``len + NET_SKB_PAD <= SKB_WITH_OVERHEAD(1024)`` go:
        ``"slicer1k"``, ``"kmalloc"`` or ``"design"`` (a what-if no kernel
        takes). None: each design's own kernel's choice (see
        :func:`fraglib.workloads.design_small_heads`); the run records it.
    remote_free : str
        ``"direct"`` (cpu2 frees) or ``"defer"`` (skb_attempt_defer_free()).
    **run_kwargs
        Passed to :func:`fraglib.run` (``queue_depth``, ``store``, ``cpu``...).

    Returns
    -------
    pandas.DataFrame
        One row per run: design, dist, remote, free_on, cell, repeat,
        small_heads and remote_free (as the run recorded them), status, note,
        flag (warnings the run raised, e.g. page faults in the timed region),
        median_cpp, min_cpp, ns_per_packet, head_bytes_mean, kmalloc_heads,
        pages_per_1k_packets, frags_allocated, small_heads_slicer1k,
        small_heads_kmalloc, small_heads_design, small_heads_pages,
        heads_deferred, run_id; plus one row per refused or skipped
        (design, cell) with NaN measurements.
    """
    designs = _designs(designs)
    dists = _nonempty("dists", dists)
    remote = _nonempty("remote", [bool(r) for r in remote])
    extra = {"remote_free": remote_free}
    if small_heads is not None:
        extra["small_heads"] = small_heads
    cells = _remote_cells([({"dist": d}, {"dist": d, **extra}) for d in dists], remote,
                          run_kwargs.get("cpu"))
    return _interleaved(designs, "rx", cells, repeats=_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("head_bytes_mean", "kmalloc_heads", "pages_per_1k_packets",
                                 "frags_allocated", "small_heads_slicer1k",
                                 "small_heads_kmalloc", "small_heads_design",
                                 "small_heads_pages", "heads_deferred"),
                        run_kwargs={"packets": _positive("packets", packets), **run_kwargs},
                        param_columns=("small_heads", "remote_free"))


_ROUTE_TEXT = {"slicer1k": "a 1 KiB slice of page_frag_alloc_1k() (the 6.3–6.13 napi path)",
               "kmalloc": "the kmalloc-1k stand-in (up to 6.2 and from 6.14)",
               "design": "the design itself (a what-if: no kernel does this)"}


def rx_routing(df: pd.DataFrame) -> pd.DataFrame:
    """Which small-head routing each design's runs used, and what it took.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`rx_grid` output.

    Returns
    -------
    pandas.DataFrame
        One row per (design, small_heads, remote_free) of the measured
        runs: runs, median share of frames whose head went to the design
        (``design_share``), to the slicer and to kmalloc, and median
        ``pages_per_1k_packets`` (side allocators' pages included).
    """
    m = df[df["status"] == MEASURED]
    if m.empty:
        return pd.DataFrame(columns=["design", "small_heads", "remote_free", "runs"])
    heads = (m["frags_allocated"] + m["small_heads_slicer1k"] + m["small_heads_kmalloc"])
    m = m.assign(design_share=m["frags_allocated"] / heads,
                 slicer1k_share=m["small_heads_slicer1k"] / heads,
                 kmalloc_share=m["small_heads_kmalloc"] / heads)
    return (m.groupby(["design", "small_heads", "remote_free"], sort=False)
             .agg(runs=("run_id", "count"), design_share=("design_share", "median"),
                  slicer1k_share=("slicer1k_share", "median"),
                  kmalloc_share=("kmalloc_share", "median"),
                  pages_per_1k_packets=("pages_per_1k_packets", "median"))
             .reset_index())


def rx_routing_text(df: pd.DataFrame) -> str:
    """One sentence per routing: which designs' runs sent small heads where."""
    t = rx_routing(df)
    if t.empty:
        return "No rx run was measured, so no small-head routing was used."
    parts = []
    for (route, free), g in t.groupby(["small_heads", "remote_free"], sort=False):
        names = ", ".join(g["design"])
        share = 1 - g["design_share"].median()
        parts.append(f"{names}: small heads (len + NET_SKB_PAD <= SKB_WITH_OVERHEAD(1024)) "
                     f"went to {_ROUTE_TEXT.get(route, route)}, {share:.0%} of frames; "
                     f"remote_free={free}")
    return ("Routing used by every figure below: " + "; ".join(parts) + ". Only the "
            "remaining heads reach the design's page_frag_cache.")


def tx_grid(designs: Sequence[str] = TX_DESIGNS,
            dists: Sequence[str] = ("fixed:65536", "imix"),
            remote: Sequence[bool] = (False,), *, mss: int = 1448, packets: int = 2048,
            repeats: int = 8, seed: int = 0, progress: bool = True,
            **run_kwargs) -> pd.DataFrame:
    """The tx copy path (tcp_sendmsg) over message sizes.

    Parameters
    ----------
    designs : sequence of str
        Designs (default :data:`TX_DESIGNS`); those without prepare/commit
        allocate every chunk and never coalesce (see ``note``).
    dists : sequence of str
        Message-size distributions.
    remote : sequence of bool
        Whether skbs are completed (freed) on another CPU.
    mss : int
        Segment size: counts wire segments; it does not cap a copy (each
        copy is min(size_goal - skb len, bytes left, page room), as
        tcp_sendmsg_locked() makes it).
    packets : int
        Messages per run. The cycles are per wire *segment*
        (``median_cpp`` is cycles per segment).
    repeats, seed, progress, **run_kwargs
        As in :func:`rx_grid`.

    Returns
    -------
    pandas.DataFrame
        As :func:`rx_grid`, with ``coalesce_rate`` (merged chunks / chunks),
        ``frags_per_segment``, ``segments``, ``messages``, ``chunks``,
        ``merged_chunks``, ``pages_per_1k_packets``, ``peak_pages_held``.
    """
    designs = _designs(designs)
    dists = _nonempty("dists", dists)
    remote = _nonempty("remote", [bool(r) for r in remote])
    cells = _remote_cells([({"dist": d}, {"dist": d, "mss": mss}) for d in dists], remote,
                          run_kwargs.get("cpu"))
    return _interleaved(designs, "tx", cells, repeats=_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("coalesce_rate", "frags_per_segment", "segments",
                                 "messages", "chunks", "merged_chunks",
                                 "pages_per_1k_packets", "peak_pages_held",
                                 "alloc_calls_per_message", "alloc_calls_per_wire_segment",
                                 "copy_bytes_mean"),
                        run_kwargs={"packets": _positive("packets", packets), **run_kwargs})


def tx_copy_text(df: pd.DataFrame, mss: int = 1448, gso_size: int = 65536) -> str:
    """What each tx run copied per allocator call, beside the kernel's rule.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`tx_grid` output.
    mss, gso_size : int
        The runs' values (for the reference copies of a fixed message size).

    Returns
    -------
    str
        One sentence per (dist, design): mean bytes per copy, allocator
        calls per message and per wire segment; for ``fixed:N`` the copies
        tcp_sendmsg_locked() makes for the first message on a fresh 32 KiB
        page (:func:`fraglib.workloads.tx_copies`).
    """
    m = df[df["status"] == MEASURED]
    if m.empty:
        return "No tx run was measured."
    g = (m.groupby(["dist", "design"], sort=False)
          [["copy_bytes_mean", "alloc_calls_per_message", "alloc_calls_per_wire_segment"]]
          .median())
    parts = []
    for dist in dict.fromkeys(m["dist"]):
        ref = ""
        if str(dist).startswith("fixed:"):
            n = int(str(dist)[6:])
            ref = (f" (tcp_sendmsg_locked(), mss {mss}, gso {gso_size}, first message on a "
                   f"fresh 32 KiB page: copies of {' + '.join(map(str, tx_copies([n], mss, gso_size)))} B)")
        rows = [f"{d} {r.copy_bytes_mean:.0f} B per copy, {r.alloc_calls_per_message:.2f} "
                f"allocator calls per message, {r.alloc_calls_per_wire_segment:.3f} per wire "
                "segment" for (dd, d), r in g.iterrows() if dd == dist]
        parts.append(f"{dist}{ref}: " + "; ".join(rows))
    return ("Each copy is min(size_goal − skb length, bytes left, room in the page "
            "fragment), with no MSS cap; prepare() is asked for 32 B as "
            "sk_page_frag_refill() asks; designs without prepare/commit allocate each "
            "copy (at most a page). " + ". ".join(parts) + ".")


def ring_presets_table() -> pd.DataFrame:
    """:data:`fraglib.workloads.RING_PRESETS` as a table (one row per preset)."""
    return pd.DataFrame([{"preset": k, **{f: v[f] for f in ("nr_test", "size", "align",
                                                             "cpus", "source")}}
                         for k, v in RING_PRESETS.items()])


def _ring_mode(mode: str) -> dict:
    if mode in RING_MODES:
        return dict(RING_MODES[mode])
    pre = RING_PRESETS[mode]
    return {"size": pre["size"], "align": pre["align"]}


def ring_grid(designs: Sequence[str] = RING_DESIGNS,
              modes: Sequence[str] = tuple(RING_MODES), cpus: Sequence[str] = RING_CPUS, *,
              packets: int = 131072, repeats: int = 8, seed: int = 0,
              progress: bool = True, scale: float | None = None,
              **run_kwargs) -> pd.DataFrame:
    """page_frag_test.ko in user space: push thread allocates, pop thread frees.

    Parameters
    ----------
    designs : sequence of str
        Default :data:`RING_DESIGNS` (before: topdown; after: bottomup and
        the merged encoded design).
    modes : sequence of str
        Keys of :data:`RING_MODES`: ``"2048"`` (the smoke test's default
        length), ``"75"`` (nonaligned) and ``"75-aligned"`` (aligned to
        SMP_CACHE_BYTES = 64); or names of
        :data:`fraglib.workloads.RING_PRESETS` (the module's defaults, the
        script's modes, the cover letters' ``v13-nonaligned``/``v13-aligned``
        with 12-byte fragments, ``v23-same-cpu``), which fix size and align.
    cpus : sequence of str
        ``"cross"``: the pop thread on another CPU (``"skipped: ..."`` on a
        one-CPU machine); ``"same"``: both threads on one CPU.
    packets : int
        Objects pushed (``nr_test``).
    scale : float, optional
        For preset modes: push ``round(nr_test * scale)`` objects instead of
        ``packets`` (1.0 = exactly the published configuration).
    repeats, seed, progress, **run_kwargs
        As in :func:`rx_grid`.

    Returns
    -------
    pandas.DataFrame
        One row per run: design, mode, size, align, objects, busy_poll,
        cpus, ..., median_cpp
        (push-thread cycles per push), ``ns_per_object`` (the module's
        elapsed time per object, the one figure page_frag_test reports),
        ``elapsed_ns``, ``ring_full_frees``, ``objects``.
    """
    designs = _designs(designs)
    modes = _nonempty("modes", modes, {**RING_MODES, **RING_PRESETS})
    cpus = _nonempty("cpus", cpus, RING_CPUS)
    cpu = run_kwargs.get("cpu")
    cpu = default_cpu() if cpu is None else cpu
    cpu2, why = other_cpu(cpu)
    packets = _positive("packets", packets)
    cells = []
    for m in modes:
        mp = _ring_mode(m)
        n = (ring_preset(m, scale)["packets"] if scale is not None and m in RING_PRESETS
             else packets)
        for c in cpus:
            cross = c == "cross"
            cells.append({"labels": {"mode": m, **mp, "objects_pushed": n, "cpus": c},
                          "params": {**mp, "packets": n,
                                     "cpu2": (cpu2 if cpu2 is not None else -1) if cross
                                     else cpu},
                          "skip": why if cross and cpu2 is None else None})
    return _interleaved(designs, "ring", cells, repeats=_positive("repeats", repeats),
                        seed=seed, progress=progress,
                        metrics=("ns_per_object", "elapsed_ns", "ring_full_frees", "objects"),
                        run_kwargs={"packets": packets, **run_kwargs},
                        param_columns=("busy_poll",))


def not_measured(df: pd.DataFrame) -> pd.DataFrame:
    """The refused and skipped rows of a grid, one per (design, cell), with why.

    Parameters
    ----------
    df : pandas.DataFrame
        A grid (:func:`rx_grid`, :func:`tx_grid`, :func:`ring_grid`).

    Returns
    -------
    pandas.DataFrame
        design, the cell's label columns, status (``refused: ...`` or
        ``skipped: ...``) and note; empty (same columns) when every cell ran.
    """
    bad = df[df["status"] != MEASURED]
    keep = [c for c in df.columns if c not in ("repeat", "run_id", "cell")
            and (c in ("design", "status", "note") or bad.empty or not bad[c].isna().all())]
    keep = [c for c in keep if not (bad.empty and c in ("median_cpp", "min_cpp",
                                                         "ns_per_packet"))]
    return bad[keep].reset_index(drop=True)


def cell_medians(df: pd.DataFrame, by: Sequence[str], value: str = "median_cpp"
                 ) -> pd.DataFrame:
    """Median of ``value`` over repeats: rows ``by``, one column per design.

    Parameters
    ----------
    df : pandas.DataFrame
        A grid; only measured rows count.
    by : sequence of str
        Cell columns (e.g. ``["dist", "free_on"]``).
    value : str
        Column to summarise.

    Returns
    -------
    pandas.DataFrame
        Designs in the grid's order; NaN where a design did not run.
    """
    m = df[df["status"] == MEASURED]
    order = list(dict.fromkeys(df["design"]))
    t = m.groupby([*by, "design"], sort=False)[value].median().unstack("design")
    return t[[d for d in order if d in t.columns]]


# --------------------------------------------------------------------------
# verdicts and sentences


def verdicts(df: pd.DataFrame, baseline: str, designs: Sequence[str] | None = None, *,
             by: Sequence[str] = ("dist", "free_on"), value: str = "median_cpp",
             resamples: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Each design against ``baseline`` in every cell both ran: paired ratio, CI, verdict.

    Runs of the same repeat are pairs (one build: the CI is a bootstrap
    over pairs); Wilcoxon p-values are Holm-corrected across the cells of
    each design. Cells where either design was refused or skipped, or has
    fewer than two pairs, are left out (they are rows of the grid).

    Parameters
    ----------
    df : pandas.DataFrame
        A grid.
    baseline : str
        The design every other one is compared with.
    designs : sequence of str, optional
        Designs to compare; default every other design of the grid.
    by : sequence of str
        Cell columns.
    value : str
        Per-run figure to compare (``median_cpp``, ``ns_per_object``...).
    resamples, seed : int
        Bootstrap resamples and seed.

    Returns
    -------
    pandas.DataFrame
        ``design``, ``baseline``, the ``by`` columns, ``label``, then the
        columns of :func:`fraglib.stats.verdict_table`.
    """
    by = list(by)
    m = df[(df["status"] == MEASURED) & df[value].notna()]
    others = [d for d in (designs or dict.fromkeys(df["design"])) if d != baseline]
    out = []
    for d in others:
        cells = []
        for key, sub in m[m["design"].isin([baseline, d])].groupby(by, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            pairs = sub.pivot_table(index="repeat", columns="design", values=value).dropna()
            if baseline not in pairs or d not in pairs or len(pairs) < 2:
                continue
            obs = sub.assign(build=0, pair=sub["repeat"].astype(int), value=sub[value])
            v = _stats.verdict(obs[["build", "pair", "design", "value"]], baseline, d,
                               resamples=resamples, seed=seed)
            cells.append({"design": d, "baseline": baseline, **dict(zip(by, key)),
                          "label": f"{d} · " + " · ".join(map(str, key)), "verdict": v})
        if cells:
            out.append(_stats.verdict_table(cells))
    if not out:
        return pd.DataFrame(columns=["design", "baseline", *by, "label", "kind", "effect",
                                     "ci_lo", "ci_hi", "p_holm", "n_pairs", "text"])
    return pd.concat(out, ignore_index=True)


def _pairs_text(df: pd.DataFrame) -> str:
    m = df[df["status"] == MEASURED]
    reps = m["repeat"].nunique()
    return f"{reps} interleaved round{'s' if reps != 1 else ''}"


def _answer_word(table: pd.DataFrame) -> str:
    kinds = set(table["kind"])
    if not len(table):
        return "Not compared"
    if kinds <= {"slower"}:
        return "Yes"
    if kinds <= {"faster"}:
        return "No, the opposite"
    if "slower" in kinds and "faster" in kinds:
        return "It depends on the cell"
    if "slower" in kinds:
        return "In some cells"
    if "faster" in kinds:
        return "No; where resolved it was cheaper"
    return "No difference resolved on this machine"


def _unmeasured_text(df: pd.DataFrame, by: Sequence[str]) -> str:
    bad = df[df["status"] != MEASURED]
    if bad.empty:
        return ""
    cells = df.groupby(list(by), sort=False).ngroups
    parts = []
    for (design, status), sub in bad.groupby(["design", "status"], sort=False):
        n = sub.groupby(list(by), sort=False).ngroups
        where = ("all " if n == cells else "") + f"{n} of {cells} cells"
        parts.append(f"{design} in {where}: {status}")
    return " Not measured: " + " | ".join(parts) + "."


def _cheapest_text(df: pd.DataFrame, by: Sequence[str], value: str = "median_cpp",
                   what: str = "cycles per packet") -> str:
    med = cell_medians(df, by, value)
    if med.empty:
        return ""
    best = med.idxmin(axis=1)
    counts = best.value_counts()
    lead = ", ".join(f"{d} in {n} of {len(best)}" for d, n in counts.items())
    return f" Lowest median {what} per cell: {lead}."


def rx_answer(df: pd.DataFrame, table: pd.DataFrame, baseline: str = "topdown",
              candidate: str = "bottomup") -> str:
    """One paragraph answering the rx notebook's question, from the data.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`rx_grid` output.
    table : pandas.DataFrame
        :func:`verdicts` of ``df`` against ``baseline``.
    baseline, candidate : str
        The pair the question is about.
    """
    t = table[table["design"] == candidate]
    parts = []
    for free_on in dict.fromkeys(df["free_on"]):
        sub = t[t["free_on"] == free_on]
        if len(sub):
            ci = (f"; 95 % CIs within {100 * (sub['ci_lo'].min() - 1):+.1f} % to "
                  f"{100 * (sub['ci_hi'].max() - 1):+.1f} %")
            parts.append(f"freed on {free_on}, "
                         + _experiments.headline(sub, baseline, candidate).rstrip(".") + ci)
        else:
            parts.append(f"freed on {free_on}, not compared")
    dists = ", ".join(dict.fromkeys(df["dist"]))
    head = _answer_word(t)
    return (f"{head}. {candidate} against {baseline} on rx ({dists}; "
            f"{_pairs_text(df)}, TSC cycles per frame, alloc + touch + free): "
            + "; ".join(parts) + "."
            + _cheapest_text(df, ["dist", "free_on"])
            + _unmeasured_text(df, ["dist", "free_on"]))


def tx_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per design and cell: median cycles per segment, coalesce rate, fragments per segment.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`tx_grid` output.

    Returns
    -------
    pandas.DataFrame
        design, dist, free_on, cycles_per_segment, coalesce_rate,
        frags_per_segment, pages_per_1k_packets, peak_pages_held, runs,
        status, note (medians over runs). Refused and skipped (design,
        cell) pairs stay as rows with their status.
    """
    keys = ["design", "dist", "free_on"]
    m = df[df["status"] == MEASURED]
    t = (m.groupby(keys, sort=False)
          .agg(cycles_per_segment=("median_cpp", "median"),
               coalesce_rate=("coalesce_rate", "median"),
               frags_per_segment=("frags_per_segment", "median"),
               pages_per_1k_packets=("pages_per_1k_packets", "median"),
               peak_pages_held=("peak_pages_held", "median"),
               runs=("median_cpp", "size"))
          .reset_index().assign(status=MEASURED))
    bad = df.loc[df["status"] != MEASURED, keys + ["status"]].drop_duplicates()
    notes = df.drop_duplicates("design").set_index("design")["note"]
    out = pd.concat([t, bad], ignore_index=True)
    return out.assign(note=out["design"].map(notes)).reset_index(drop=True)


def tx_answer(df: pd.DataFrame, table: pd.DataFrame, baseline: str = "sockfrag") -> str:
    """One paragraph on coalescing and cycles per segment, from the data.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`tx_grid` output.
    table : pandas.DataFrame
        :func:`verdicts` of ``df`` against ``baseline``.
    baseline : str
        The design the others are compared with.
    """
    s = tx_summary(df)
    s = s[s["status"] == MEASURED]
    coal = []
    for dist, sub in s.groupby("dist", sort=False):
        groups: dict[tuple, list[str]] = {}
        for _, r in sub.groupby("design", sort=False)[["coalesce_rate", "frags_per_segment"]] \
                       .median().iterrows():
            groups.setdefault((round(r["coalesce_rate"], 3),
                               round(r["frags_per_segment"], 2)), []).append(r.name)
        coal.append(f"{dist}: " + "; ".join(
            f"{', '.join(ds)} merged {100 * rate:.1f} % of chunks "
            f"({fps:.2f} fragments per segment)"
            for (rate, fps), ds in sorted(groups.items(), key=lambda kv: -kv[0][0])))
    never = sorted(set(df.loc[df["note"].str.contains("never coalesces", na=False), "design"]))
    verdict_parts = []
    for d in dict.fromkeys(table["design"]):
        t = table[table["design"] == d]
        verdict_parts.append(_experiments.headline(t, baseline, d).rstrip(".")
                             .replace("cycles-per-packet", "cycles-per-segment"))
    cyc = ("Cycles per wire segment against " + baseline + ": "
           + "; ".join(verdict_parts) + ".") if verdict_parts else \
        f"Cycles per wire segment were not compared with {baseline}."
    never_txt = (f" {', '.join(never)} lack prepare/commit and allocate every chunk, so "
                 "they never coalesce." if never else "")
    return ("Coalescing (" + _pairs_text(df) + ") — " + " | ".join(coal) + "."
            + never_txt + " " + cyc
            + _cheapest_text(df, ["dist", "free_on"], what="cycles per segment")
            + _unmeasured_text(df, ["dist", "free_on"]))


# --------------------------------------------------------------------------
# ring: page_frag_test, ours and the kernel's


def ring_ratios(df: pd.DataFrame, baseline: str = "topdown",
                designs: Sequence[str] | None = None, *, value: str = "ns_per_object",
                resamples: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Measured design/baseline ratio per ring mode and CPU placement.

    ``value`` defaults to the module's elapsed time per object (the one
    page_frag_test figure that means anything, kernel-pagefrag.md §5).
    Adds the median ring-full frees of both sides: a push thread that finds
    the ring full frees the object itself, so the ratio also measures how
    the two threads were scheduled.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`ring_grid` output.
    baseline : str
        The "before" design.
    designs : sequence of str, optional
        Designs to compare with it; default every other one.
    value : str
        ``"ns_per_object"`` (elapsed) or ``"median_cpp"`` (push thread).
    resamples, seed : int
        Bootstrap resamples and seed.

    Returns
    -------
    pandas.DataFrame
        :func:`verdicts` columns (``effect`` is the ratio, ``ci_lo``/``ci_hi``
        its 95 % CI) plus ``full_frees_baseline`` and ``full_frees_design``.
    """
    t = verdicts(df, baseline, designs, by=("mode", "cpus"), value=value,
                 resamples=resamples, seed=seed)
    if t.empty:
        return t.assign(full_frees_baseline=[], full_frees_design=[])
    ff = cell_medians(df, ["mode", "cpus"], "ring_full_frees")
    return t.assign(
        full_frees_baseline=[ff.loc[(r.mode, r.cpus), baseline] for r in t.itertuples()],
        full_frees_design=[ff.loc[(r.mode, r.cpus), r.design] for r in t.itertuples()])


_PERF_STAT = ("elapsed time of perf stat -r N insmod: perf counted only the insmod task, "
              "not the kthreads, so only elapsed time is meaningful")
_OBJPOOL = "v1–v12 module in mm/ with an objpool, not the selftest's ptr_ring"
_LEN_UNSTATED = "allocation length and CPUs not stated"

# version, date, test, mode, alloc_len, nr_test, cpus, runs, before_s, after_s,
# claimed, compares, caveat, source
_KERNEL_ROWS = (
    ("v1 00/12", "2024-04-07", "page_frag_test", "unspecified", None, 99999999, "not stated",
     30, (30.309, 29.958), (29.341, 28.683, 28.730), "0.5+% (vhost_net_test plus ko)",
     "series", f"before/after are the means of 2 and 3 repeated 30-run series whose "
     "spread (29.958–30.309 s before, 28.683–29.341 s after) is as large as the effect; "
     f"{_OBJPOOL}; {_LEN_UNSTATED}; {_PERF_STAT}",
     "e3e3ad18-8ed0-4bd3-8126-2f60e8d3ae28@huawei.com"),
    ("v2 00/15", "2024-04-15", "page_frag_test", "unspecified", None, 99999999, "not stated",
     30, 30.309, 29.341, "about 3.2%", "series",
     "numbers reused from v1 (its first before and first after series, not the means "
     f"of its repeats); {_OBJPOOL}; {_LEN_UNSTATED}; {_PERF_STAT}",
     ""),
    ("v3 00/13", "2024-05-08", "page_frag_test", "non-aligned", None, None, "not stated",
     200, 26.924, 25.071, "minor boost", "series",
     f"default module parameters of that version; {_OBJPOOL}; {_LEN_UNSTATED}; {_PERF_STAT}",
     ""),
    ("v3 00/13", "2024-05-08", "page_frag_test", "aligned", None, None, "not stated",
     200, 27.454, 26.156, "minor boost", "series",
     f"default module parameters of that version; {_OBJPOOL}; {_LEN_UNSTATED}; {_PERF_STAT}",
     ""),
    ("RFC v4 … v12", "2024-06-25 (v9)", "page_frag_test", "non-aligned", None, None, "cross",
     200, 23.918, 23.856, "minor", "series",
     "numbers reused across versions (v9 and RFC v11 print the same figures; v4–v8, "
     f"v10 probably too), not re-measured per version; test_push_cpu=16 "
     f"test_pop_cpu=17; {_OBJPOOL}; {_PERF_STAT}", ""),
    ("RFC v4 … v12", "2024-06-25 (v9)", "page_frag_test", "aligned", None, None, "cross",
     200, 23.876, 23.444, "minor", "series",
     "numbers reused across versions (v9 and RFC v11 print the same figures; v4–v8, "
     f"v10 probably too), not re-measured per version; test_push_cpu=16 "
     f"test_pop_cpu=17; {_OBJPOOL}; {_PERF_STAT}", ""),
    ("v13 … v23 Part-1", "2024-10-01 (v19) … 2024-10-28", "page_frag_test", "non-aligned",
     12, 51200000, "not stated", 200, 4.603531, 4.240274, "about 200% and 10%", "series",
     "numbers identical to the nanosecond across v13–v23 (reused; Duyck questioned "
     f"them); length 12 B, not the selftest's 75; {_PERF_STAT}", ""),
    ("v13 … v23 Part-1", "2024-10-01 (v19) … 2024-10-28", "page_frag_test", "aligned",
     12, 51200000, "not stated", 200, 3.438041, 0.935251, "about 200% and 10%", "series",
     "numbers identical to the nanosecond across v13–v23 (reused); the 3.4 → 0.9 s "
     "jump was never explained (Duyck asked); length 12 B, not the selftest's 75; "
     f"{_PERF_STAT}", ""),
    ("v23 re-measured", "2024-10-29", "page_frag_test", "non-aligned", 12, 51200000,
     "not stated", 200, 6.382, 5.625, "(none)", "series",
     "re-measured at Duyck's request: the before figure moved +39 % from the 4.60 s "
     "published for the same test, more than the effect; Duyck noticed only that branch "
     f"misses roughly halved (39.9k → 19.3k); {_PERF_STAT}",
     "472a7a09-387f-480d-b66c-761e0b6192ef@huawei.com"),
    ("v23 re-measured", "2024-10-29", "page_frag_test", "aligned", 12, 51200000,
     "not stated", 200, 5.329, 2.574, "(none)", "series",
     "re-measured at Duyck's request: the before figure moved +55 % from the 3.44 s "
     f"published for the same test; {_PERF_STAT}",
     "472a7a09-387f-480d-b66c-761e0b6192ef@huawei.com"),
    ("v23 re-measured", "2024-10-29", "page_frag_test", "unspecified", None, 512000, "same",
     10, 8.1197, 8.1197, "no difference", "series",
     "push and pop both on CPU 0, 10 runs: identical to five digits, about 16 µs per "
     "object, dominated by scheduling ('at the mercy of the scheduler', Duyck); "
     "length not stated", "472a7a09-387f-480d-b66c-761e0b6192ef@huawei.com"),
    ("Part-2 v1", "2024-11-14", "page_frag_test", "non-aligned", None, None, "not stated",
     None, 5.566, 7.035, "about 20% degradation", "series",
     "Part-2 (prepare/commit for tx) on top of Part-1, so 'before' is already bottom-up; "
     "Duyck: a 20 % regression 'would be a blocking factor'; parameters not restated", ""),
    ("Part-2 v1", "2024-11-14", "page_frag_test", "aligned", None, None, "not stated",
     None, 2.584, 3.211, "about 20% degradation", "series",
     "Part-2 on top of Part-1, so 'before' is already bottom-up; parameters not restated",
     ""),
    ("Part-2 v2", "not stated", "page_frag_test", "unspecified", None, None, "not stated",
     None, 5.395, 5.563, "(code growth)", "patch 1 of Part-2 only",
     "one patch, not the series; attributed to code growth (__page_frag_cache_prepare is "
     "500 B); Yunsheng could not explain why the aligned run beats the non-aligned one",
     ""),
    ("v15", "not stated", "page_frag_test", "unspecified", 256, 512000000, "not stated",
     None, 9.838, 12.319, "(design choice)", "commit() inline → out of line",
     "compares two implementations inside the series, not before/after the series", ""),
)
_OTHER_ROWS = (
    ("vhost_net v3/v4", "2024-01", "vhost_net_test", None, None, None, "not stated", 10,
     175.699, 174.764, "about 0.5%", "series",
     "±0.189 / ±0.214 s: the effect is within about 3 standard deviations of 10 runs; "
     "Duyck: within the margin of error, could be code alignment", ""),
    ("RFC 00/10", "2024-03-28", "vhost_net_test", None, None, None, "not stated", 10,
     343.376, 341.466, "about 0.5%", "series",
     "±0.147 / ±0.305 s; vhost_net_test exercises one user only (Duyck)", ""),
    ("v2 00/15", "2024-04-15", "netcat", None, None, None, "not stated", 30,
     124.664, 122.294, "about 1.9%", "series",
     "netcat 51.2 GB over loopback: Duyck: it 'would barely touch' the allocator", ""),
    ("RFC v4 … v12", "2024-06-25", "netcat", None, None, None, "client 0/1, server 32", 200,
     27.842745, 27.370305, "minor", "series",
     "numbers reused across versions; the allocator is a negligible share of netcat", ""),
    ("Part-2 v1", "2024-11-14", "netcat", None, None, None, "not stated", None,
     28.568, 27.105, "minor gain", "series",
     "the same micro-benchmark in this letter regressed about 20 %; netcat barely touches "
     "the allocator", ""),
)


def _mean(x) -> float:
    return float(np.mean(x)) if isinstance(x, tuple) else float(x)


def kernel_ratios(include_other: bool = False) -> pd.DataFrame:
    """The published page_frag_test before/after figures, each with its caveat.

    Transcribed from docs/kernel-pagefrag.md §5 (cover letters and replies
    of the page_frag series, Jan–Dec 2024, an arm64 server from v13 on).
    ``ratio`` is after/before elapsed time: below 1 means the series was
    faster.

    Parameters
    ----------
    include_other : bool
        Also the vhost_net_test and netcat figures of the same letters.

    Returns
    -------
    pandas.DataFrame
        version, date, test, mode (``non-aligned``/``aligned``/
        ``unspecified``), alloc_len (bytes, NaN where not stated), nr_test,
        cpus (``cross``/``same``/``not stated``), runs, before_s, after_s,
        ratio, change_pct, claimed, compares (``series`` = without vs with
        the series), caveat, source (message-id where the doc gives one).
    """
    rows = _KERNEL_ROWS + (_OTHER_ROWS if include_other else ())
    out = []
    for (ver, date, test, mode, alen, nr, cpus, runs, before, after, claimed, compares,
         caveat, source) in rows:
        b, a = _mean(before), _mean(after)
        out.append({"version": ver, "date": date, "test": test, "mode": mode,
                    "alloc_len": np.nan if alen is None else alen,
                    "nr_test": np.nan if nr is None else nr, "cpus": cpus,
                    "runs": np.nan if runs is None else runs,
                    "before_s": b, "after_s": a, "ratio": a / b,
                    "change_pct": 100 * (a / b - 1), "claimed": claimed,
                    "compares": compares, "caveat": caveat, "source": source})
    return pd.DataFrame(out)


_MODE_MATCH = {"non-aligned": "75", "aligned": "75-aligned", "unspecified": "2048"}


def _kernel_preset(kr) -> str | None:
    """The RING_PRESETS entry that is exactly a published row's configuration."""
    if kr["alloc_len"] == 12 and kr["nr_test"] == 51_200_000:
        return "v13-aligned" if kr["mode"] == "aligned" else "v13-nonaligned"
    if kr["cpus"] == "same" and kr["nr_test"] == 512_000:
        return "v23-same-cpu"
    return None


def ring_vs_kernel(measured: pd.DataFrame, kernel: pd.DataFrame) -> pd.DataFrame:
    """Measured design/topdown ratios beside the kernel's after/before ratios.

    Parameters
    ----------
    measured : pandas.DataFrame
        :func:`ring_ratios` output, or a :func:`ring_grid` frame (its
        ratios against topdown are computed).
    kernel : pandas.DataFrame
        :func:`kernel_ratios` output; only page_frag_test rows comparing
        before and after the series are matched.

    Returns
    -------
    pandas.DataFrame
        One row per (kernel row, measured design): the kernel's version,
        mode, cpus, ratio and caveat; ``our_mode``/``our_cpus`` it was
        matched to and ``match`` (how close); ``design``, ``our_ratio``,
        ``our_ci_lo``, ``our_ci_hi``, ``our_kind``; ``consistent`` (the
        kernel ratio lies inside our CI) and ``label`` for plots. A kernel
        row whose mode/cpus we did not run has NaN ours and says so in
        ``match``.
    """
    if "effect" not in measured.columns:
        measured = ring_ratios(measured)
    k = kernel[(kernel["test"] == "page_frag_test") & (kernel["compares"] == "series")]
    designs = list(dict.fromkeys(measured["design"])) or [None]
    rows = []
    available = set(measured["mode"]) if "mode" in measured.columns else set()
    for i, kr in k.iterrows():
        preset = _kernel_preset(kr)
        notes = []
        if preset is not None and preset in available:
            mode = preset
            cpus = RING_PRESETS[preset]["cpus"]
            notes.append(f"same configuration: preset {preset}")
        else:
            mode = _MODE_MATCH[kr["mode"]]
            cpus = kr["cpus"] if kr["cpus"] in RING_CPUS else "cross"
            if kr["mode"] == "unspecified":
                notes.append("kernel length not stated: compared with the 2048 B default")
            elif not pd.isna(kr["alloc_len"]) and kr["alloc_len"] != _ring_mode(mode)["size"]:
                notes.append(f"kernel {int(kr['alloc_len'])} B vs our "
                             f"{_ring_mode(mode)['size']} B")
            if kr["cpus"] not in RING_CPUS:
                notes.append("kernel CPUs not stated: compared with cross")
        for d in designs:
            sel = measured[(measured["design"] == d) & (measured["mode"] == mode)
                           & (measured["cpus"] == cpus)] if d else measured.iloc[:0]
            base = {"kernel_row": i, "version": kr["version"], "kernel_mode": kr["mode"],
                    "kernel_cpus": kr["cpus"], "kernel_ratio": kr["ratio"],
                    "claimed": kr["claimed"], "caveat": kr["caveat"],
                    "our_mode": mode, "our_cpus": cpus, "design": d}
            if sel.empty:
                rows.append({**base, "match": "; ".join(notes + ["not run here"]),
                             "our_ratio": np.nan, "our_ci_lo": np.nan, "our_ci_hi": np.nan,
                             "our_kind": "not measured", "consistent": pd.NA})
                continue
            s = sel.iloc[0]
            rows.append({**base, "match": "; ".join(notes) or "same mode and CPUs",
                         "our_ratio": s["effect"], "our_ci_lo": s["ci_lo"],
                         "our_ci_hi": s["ci_hi"], "our_kind": s["kind"],
                         "consistent": bool(s["ci_lo"] <= kr["ratio"] <= s["ci_hi"])})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["label"] = [f"{r.version} · {r.kernel_mode} · {r.kernel_cpus}"
                        for r in out.itertuples()]
    return out


def ring_answer(ratios: pd.DataFrame, vs: pd.DataFrame, push: pd.DataFrame | None = None,
                *, candidate: str = "bottomup", baseline: str = "topdown") -> str:
    """One paragraph: our ring ratios, the kernel's, and whether they agree.

    Parameters
    ----------
    ratios : pandas.DataFrame
        :func:`ring_ratios` output (elapsed time per object).
    vs : pandas.DataFrame
        :func:`ring_vs_kernel` output.
    push : pandas.DataFrame, optional
        :func:`ring_ratios` with ``value="median_cpp"`` (push-thread cycles
        per push), reported beside the elapsed-time ratios.
    candidate, baseline : str
        The pair the sentence is about.
    """
    r = ratios[ratios["design"] == candidate]
    if r.empty:
        return f"{candidate} was not compared with {baseline} on the ring here."

    def fmt(t: pd.DataFrame) -> str:
        return "; ".join(f"{x.mode}/{x.cpus} {x.effect:.3f} [{x.ci_lo:.3f}, {x.ci_hi:.3f}] "
                         f"({x.kind})" for x in t.itertuples())

    v = vs[(vs["design"] == candidate) & vs["our_ratio"].notna()]
    kr = vs.drop_duplicates("kernel_row")["kernel_ratio"]
    agree = int(v["consistent"].astype(bool).sum()) if len(v) else 0
    lo, hi = r["effect"].min(), r["effect"].max()
    text = (f"Measured {candidate}/{baseline} elapsed time per object (ratio, 95 % CI, "
            f"verdict after Holm): {fmt(r)}. Across modes and CPU placements our ratios "
            f"span {lo:.3f}–{hi:.3f}; the kernel's published after/before ratios for "
            f"page_frag_test span {kr.min():.3f}–{kr.max():.3f}, and our CI contains the "
            f"kernel's ratio in {agree} of {len(v)} matched rows (our CIs are "
            f"{100 * (r['ci_hi'] - r['ci_lo']).median():.0f} percentage points wide at the "
            "median: containing a kernel ratio is agreement only that wide).")
    if push is not None:
        p = push[push["design"] == candidate]
        if len(p):
            text += (f" Push-thread cycles per push (the allocation side alone): "
                     f"{fmt(p)}.")
    ff = r[["full_frees_baseline", "full_frees_design"]].to_numpy(float)
    if len(ff) and np.nanmax(ff) > 0:
        text += (f" Ring-full frees (the push thread outran the pop thread) ranged "
                 f"{np.nanmin(ff):.0f}–{np.nanmax(ff):.0f} per run (medians per cell), so "
                 "elapsed time here also measures how the two threads were scheduled.")
    return text


# --------------------------------------------------------------------------
# memory


_MEMORY_PARAMS = {"rx": {"dist": "imix"}, "tx": {}, "ring": {}}


def _memory_reason(design: str, metric: str) -> str | None:
    caps = get_design(design).caps
    if metric in _PAGE_METRICS and not caps & CAP_PAGES:
        return "no page model"
    if metric in _BYTE_METRICS and caps & CAP_ALIASED:
        return "aliased fragments: one static buffer, nothing consumed"
    return None


def memory_table(designs: Sequence[str] | None = None,
                 workloads: Sequence[str] = ("rx", "tx", "ring"), *,
                 remote: Sequence[bool] = (False,), packets: int = 8192,
                 params: Mapping[str, Mapping] | None = None, repeats: int = 1,
                 seed: int = 0, progress: bool = True, **run_kwargs) -> pd.DataFrame:
    """Memory cost per design and workload, from runs with per-cache statistics.

    Runs :func:`fraglib.run` with ``stats=True`` (an engine built with
    FRAG_STATS), interleaved over ``repeats`` rounds, and keeps the median of
    each metric.

    Parameters
    ----------
    designs : sequence of str, optional
        Default every design.
    workloads : sequence of str
        Any of ``rx``, ``tx``, ``ring``.
    remote : sequence of bool
        Free (complete) on this CPU, another CPU, or both.
    packets : int
        Packets per run (rx frames, tx messages, ring objects).
    params : mapping, optional
        Extra parameters per workload, e.g. ``{"rx": {"dist": "csv:NAME"}}``;
        default rx ``dist=imix``, tx and ring their registry defaults.
    repeats, seed, progress, **run_kwargs
        As in :func:`rx_grid`.

    Returns
    -------
    pandas.DataFrame
        One row per (design, workload, free_on): status, note, the
        :data:`MEMORY_METRICS` (``pages_per_1k_packets`` = pages taken
        from the page allocator per 1000 packets, an order-3 page counting
        8; ``consumed_per_requested`` = waste), runs, and
        ``not_measured`` ("metric: reason" for every NaN of a measured row),
        ``flags`` (warnings the runs raised).
    """
    designs = _designs(designs)
    workloads = _nonempty("workloads", workloads, ("rx", "tx", "ring"))
    remote = _nonempty("remote", [bool(r) for r in remote])
    extra = {w: {**_MEMORY_PARAMS[w], **dict((params or {}).get(w, {}))} for w in workloads}
    frames = []
    for i, w in enumerate(workloads):
        cells = _remote_cells([({}, extra[w])], remote, run_kwargs.get("cpu"))
        frames.append(_interleaved(designs, w, cells, repeats=_positive("repeats", repeats),
                                   seed=seed + i, progress=progress, metrics=MEMORY_METRICS,
                                   run_kwargs={"packets": _positive("packets", packets),
                                               "stats": True, **run_kwargs})
                      .assign(workload=w))
    df = pd.concat(frames, ignore_index=True)
    keys = ["design", "workload", "free_on"]
    rows = []
    for key, sub in df.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        status = sub["status"].iloc[0]
        row.update(status=status, note=sub["note"].iloc[0])
        m = sub[sub["status"] == MEASURED]
        missing = []
        for metric in MEMORY_METRICS:
            why = _memory_reason(key[0], metric) if len(m) else None
            v = float(m[metric].median()) if len(m) and not why else np.nan
            if len(m) and (why or math.isnan(v)):
                missing.append(f"{metric}: {why or 'not reported'}")
            row[metric] = v
        row["runs"] = len(m)
        row["not_measured"] = "; ".join(missing)
        row["flags"] = "; ".join(dict.fromkeys(f for f in m["flag"] if f))
        rows.append(row)
    return pd.DataFrame(rows)


def memory_answer(mem: pd.DataFrame, baseline: str = "topdown",
                  candidate: str = "bottomup") -> str:
    """One paragraph: candidate vs baseline, then fewest/most pages, peak and waste.

    Parameters
    ----------
    mem : pandas.DataFrame
        :func:`memory_table` output.
    baseline, candidate : str
        The pair compared first.
    """
    m = mem[mem["status"] == MEASURED]
    idx = m.set_index(["design", "workload", "free_on"])
    pair = []
    for (w, free_on), _ in m.groupby(["workload", "free_on"], sort=False):
        if (baseline, w, free_on) in idx.index and (candidate, w, free_on) in idx.index:
            a, b = idx.loc[(baseline, w, free_on)], idx.loc[(candidate, w, free_on)]
            pair.append(f"{w}/{free_on} {b['pages_per_1k_packets']:.1f} vs "
                        f"{a['pages_per_1k_packets']:.1f} pages per 1000 packets, peak "
                        f"{b['peak_pages_held']:.0f} vs {a['peak_pages_held']:.0f}")
    parts = []
    for (w, free_on), sub in m.groupby(["workload", "free_on"], sort=False):
        p = sub.dropna(subset=["pages_per_1k_packets"])
        c = sub.dropna(subset=["consumed_per_requested"])
        k = sub.dropna(subset=["peak_pages_held"])
        bits = []
        if len(p):
            lo, hi = p.loc[p["pages_per_1k_packets"].idxmin()], \
                p.loc[p["pages_per_1k_packets"].idxmax()]
            same = p.loc[np.isclose(p["pages_per_1k_packets"], lo["pages_per_1k_packets"]),
                         "design"]
            bits.append(f"fewest pages per 1000 packets {', '.join(same)} "
                        f"({lo['pages_per_1k_packets']:.1f}), most {hi['design']} "
                        f"({hi['pages_per_1k_packets']:.1f})")
        if len(k):
            top = k.loc[k["peak_pages_held"].idxmax()]
            bits.append(f"highest peak {top['design']} ({top['peak_pages_held']:.0f} pages)")
        if len(c):
            lo, hi = c["consumed_per_requested"].min(), c["consumed_per_requested"].max()
            worst = c.loc[c["consumed_per_requested"].idxmax(), "design"]
            bits.append(f"consumed/requested {lo:.2f}–{hi:.2f} (worst {worst})")
        parts.append(f"{w}, freed on {free_on}: " + "; ".join(bits))
    nm_parts = []
    for d, sub in mem[mem["not_measured"] != ""].groupby("design", sort=False):
        reasons = dict.fromkeys(r.split(": ", 1)[1] for s in sub["not_measured"]
                                for r in s.split("; "))
        nm_parts.append(f"{d} ({'; '.join(reasons)})")
    nm_txt = (" Not measured, shown as NaN rather than zero: " + ", ".join(nm_parts) + "."
              if nm_parts else "")
    bad = mem.loc[mem["status"] != MEASURED].drop_duplicates(["design", "workload"])
    bad_txt = "".join(f" {r.design} on {r.workload}: {r.status}." for r in bad.itertuples())
    lead = (f"{candidate} vs {baseline}: " + "; ".join(pair) + ". ") if pair else ""
    return lead + ". ".join(parts) + "." + nm_txt + bad_txt


# --------------------------------------------------------------------------
# counters


#: simulated columns -> callgrind values (summed)
_SIM_COLUMNS = {"instructions_per_packet": ("instructions",),
                "d1_misses_per_packet": ("d1_read_misses", "d1_write_misses"),
                "ll_misses_per_packet": ("ll_read_misses", "ll_write_misses"),
                "branch_mispredicts_per_packet": ("branch_mispredicts",)}
#: hardware columns -> perf events
_HW_COLUMNS = {"hw_cycles_per_packet": "cycles",
               "hw_instructions_per_packet": "instructions",
               "hw_l1d_load_misses_per_packet": "L1-dcache-load-misses",
               "hw_llc_load_misses_per_packet": "LLC-load-misses",
               "hw_branch_misses_per_packet": "branch-misses"}


def probe_table() -> pd.DataFrame:
    """Which perf events this machine can count (:func:`fraglib.counters.probe`).

    Returns
    -------
    pandas.DataFrame
        event, kind (hardware/software), supported, reason (why not).
    """
    return pd.DataFrame([{"event": p.name, "kind": p.kind, "supported": p.supported,
                          "reason": p.reason or ""} for p in _counters.probe().values()])


def _preferred(workload: str) -> dict:
    return {k: v for k, v in get_workload(workload).params.items()
            if k in ("size", "align", "batch")}


def _hw_values(design: str, workload: str, probed: Mapping, packets: int,
               run_kwargs: Mapping) -> dict:
    cols = list(_HW_COLUMNS) + ["hw_ipc"]
    missing = {c: probed[e] for c, e in _HW_COLUMNS.items() if not probed[e].supported}
    if len(missing) == len(_HW_COLUMNS):
        why = sorted({p.reason for p in missing.values()})
        return {c: "not measured: " + "; ".join(why) for c in cols}
    r = run(design, workload, packets=packets, counters=True, **_preferred(workload),
            **run_kwargs)
    cs = _counters.parse_counters([dict(c) for c in r.counters], packets=r.total_packets)
    out = {}
    for col, ev in _HW_COLUMNS.items():
        rec = cs[ev] if ev in cs else None
        if col in missing:
            out[col] = f"not measured: {missing[col].reason}"
        elif rec is None or not rec.measured or rec.per_packet is None:
            out[col] = f"not measured: {rec.status if rec else 'event not reported'}"
        else:
            out[col] = rec.per_packet
    cyc, ins = out["hw_cycles_per_packet"], out["hw_instructions_per_packet"]
    if isinstance(cyc, float) and isinstance(ins, float) and cyc > 0:
        out["hw_ipc"] = ins / cyc
    else:
        bad = cyc if isinstance(cyc, str) else ins
        out["hw_ipc"] = bad if isinstance(bad, str) else "not measured: no cycles counted"
    return out


def counter_table_for(designs: Sequence[str] | None = None,
                      workloads: Sequence[str] = COUNTER_WORKLOADS, *, packets: int = 4096,
                      hardware: bool = True, hw_packets: int = 65536,
                      progress: bool = True, **run_kwargs) -> pd.DataFrame:
    """Instructions and cache misses per packet for each design and workload.

    Simulated values come from callgrind (:func:`fraglib.valgrind.callgrind_costs`,
    the design's own functions and their callees only, identical run to
    run). Hardware values (``hw_*``: cycles, instructions, IPC, L1D and LLC
    load misses, branch misses over the whole measured region) come from
    an engine run with counters where :func:`fraglib.counters.probe` says
    the event can be counted; otherwise the column holds
    ``"not measured: <reason>"``, never 0.

    Parameters
    ----------
    designs : sequence of str, optional
        Default every design.
    workloads : sequence of str
        Default :data:`COUNTER_WORKLOADS` (fastpath, rx, ring), each with its
        preferred size (ring: 2048 B, as page_frag_test).
    packets : int
        Packets per callgrind run (valgrind is ~50x slower than native).
    hardware : bool
        Also try the hardware counters.
    hw_packets : int
        Packets per hardware-counter run.
    progress : bool
        Show a progress bar.
    **run_kwargs
        Passed to the hardware run (``store``, ``cpu``...).

    Returns
    -------
    pandas.DataFrame
        One row per (design, workload): status (``measured`` or
        ``refused: ...``), note, mode, instructions/d1 misses/ll misses/branch
        mispredicts per packet (simulated; NaN on refused rows, or the string
        ``"not measured: ..."`` without valgrind), then the ``hw_*`` columns.
    """
    from . import valgrind as _valgrind

    designs = _designs(designs)
    workloads = _nonempty("workloads", workloads)
    _positive("packets", packets)
    probed = _counters.probe()
    try:
        _valgrind.valgrind_version()
        no_vg = None
    except CollectorUnavailable as e:
        no_vg = f"not measured: {e.reason}"
    rows = []
    jobs = [(d, w) for w in workloads for d in designs]
    for d, w in tqdm(jobs, disable=not progress, desc="counters"):
        wl = get_workload(w)
        params = _preferred(w)
        why = wl.refusal(d, params)
        row = {"design": d, "workload": w, "note": wl.adaptation(d) or ""}
        if why:
            rows.append({**row, "status": f"refused: {why}", "mode": "",
                         **{c: np.nan for c in _SIM_COLUMNS},
                         **{c: np.nan for c in [*_HW_COLUMNS, "hw_ipc"]}})
            continue
        if no_vg:
            sim = {c: no_vg for c in _SIM_COLUMNS}
            mode = ""
        else:
            c = _valgrind.callgrind_costs(d, w, packets=packets, **params)
            pp = c.per_packet()
            sim = {col: (sum(pp[k] for k in keys) if all(pp[k] is not None for k in keys)
                         else "not measured: event not simulated")
                   for col, keys in _SIM_COLUMNS.items()}
            mode = f"simulated ({c.tool}, design functions only)"
        hw = (_hw_values(d, w, probed, hw_packets, run_kwargs) if hardware else
              {c: "not measured: hardware=False" for c in [*_HW_COLUMNS, "hw_ipc"]})
        rows.append({**row, "status": MEASURED, "mode": mode, **sim, **hw})
    return pd.DataFrame(rows)


def top_functions(designs: Sequence[str] = ("topdown", "bottomup"),
                  workload: str = "fastpath", *, method: str = "auto", top: int = 10,
                  **params) -> pd.DataFrame:
    """The profile mode's top functions for each design, in one table.

    Parameters
    ----------
    designs : sequence of str
    workload : str
    method : {"auto", "perf-record", "callgrind"}
        See :func:`fraglib.profile.profile`.
    top : int
        Functions per design.
    **params
        Engine parameters (``packets``...).

    Returns
    -------
    pandas.DataFrame
        :meth:`fraglib.profile.Profile.rows` of each design plus ``reason``
        (why that method was used).
    """
    from . import profile as _profile

    frames = []
    for d in _designs(designs):
        p = _profile.profile(d, workload, method=method, top=top, **params)
        frames.append(p.to_frame().assign(reason=p.reason))
    return pd.concat(frames, ignore_index=True)


def _num(v) -> float:
    return v if isinstance(v, float) and not math.isnan(v) else np.nan


def counters_answer(ct: pd.DataFrame, profile: pd.DataFrame | None = None, *,
                    baseline: str = "topdown", candidate: str = "bottomup") -> str:
    """One paragraph: simulated costs of candidate vs baseline, hardware status, profile.

    Parameters
    ----------
    ct : pandas.DataFrame
        :func:`counter_table_for` output.
    profile : pandas.DataFrame, optional
        :func:`top_functions` output.
    baseline, candidate : str
        The pair compared.
    """
    m = ct[ct["status"] == MEASURED].set_index(["design", "workload"])
    parts = []
    for w in dict.fromkeys(ct["workload"]):
        if (baseline, w) not in m.index or (candidate, w) not in m.index:
            parts.append(f"{w}: not compared")
            continue
        a, b = m.loc[(baseline, w)], m.loc[(candidate, w)]
        ia, ib = _num(a["instructions_per_packet"]), _num(b["instructions_per_packet"])
        if math.isnan(ia) or math.isnan(ib):
            parts.append(f"{w}: {a['instructions_per_packet']}")
            continue
        da, db = _num(a["d1_misses_per_packet"]), _num(b["d1_misses_per_packet"])
        parts.append(f"{w} {ib:.1f} vs {ia:.1f} instructions per packet "
                     f"({ib - ia:+.1f}, {100 * (ib / ia - 1):+.1f} %), D1 misses "
                     f"{db:.3f} vs {da:.3f}")
    hw = ct.loc[ct["status"] == MEASURED, "hw_cycles_per_packet"]
    if len(hw) and all(isinstance(v, str) for v in hw):
        hw_txt = f" Hardware cycles, IPC and misses: {sorted(set(hw))[0]}."
    elif len(hw):
        hw_txt = " Hardware counters were measured (hw_* columns) over the whole region."
    else:
        hw_txt = ""
    prof_txt = ""
    if profile is not None and len(profile):
        tops = []
        for d, sub in profile.groupby("design", sort=False):
            t = sub.sort_values("rank").iloc[0]
            tops.append(f"{d}: {t['function']} ({100 * t['self_share']:.0f} % of "
                        f"{t['event']})")
        prof_txt = (f" Profile ({profile['method'].iloc[0]}, {profile['workload'].iloc[0]}) "
                    "top function — " + "; ".join(tops) + ".")
    refused = ct[ct["status"] != MEASURED]
    ref_txt = "".join(f" {r.design} on {r.workload}: {r.status}." for r in refused.itertuples())
    return (f"Simulated ({candidate} vs {baseline}, callgrind, the design's own functions): "
            + "; ".join(parts) + "." + hw_txt + prof_txt + ref_txt)
