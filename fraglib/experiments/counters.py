"""The counters notebook: instructions, cache misses and IPC per packet.

Simulated values come from callgrind (identical run to run); hardware values
from perf events where :func:`fraglib.counters.probe` says they can be
counted, else the string ``"not measured: <reason>"``, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import counters as _counters
from ..api import run
from ..exceptions import CollectorUnavailable
from ..workloads import get_workload
from .schedule import MEASURED, check_designs, check_nonempty, check_positive

__all__ = ["COUNTER_WORKLOADS", "probe_table", "counter_table_for", "top_functions"]

#: the counters notebook's default workloads
COUNTER_WORKLOADS = ("fastpath", "rx", "ring")


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
                      arena_mb: int | None = None, progress: bool = True,
                      **run_kwargs) -> pd.DataFrame:
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
    arena_mb : int, optional
        Page-model arena (MiB) of the callgrind runs; default the engine's
        (16 MiB). The engine populates its arena up front, which under
        valgrind costs seconds per run (64 MiB: 13-25 s a run here, 8 MiB:
        3-5 s) while a few thousand packets use a few dozen pages: the
        simulated region, and so every simulated count, is the same.
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
    from .. import valgrind as _valgrind

    designs = check_designs(designs)
    workloads = check_nonempty("workloads", workloads)
    check_positive("packets", packets)
    if arena_mb is not None:
        check_positive("arena_mb", arena_mb)
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
            arena = {} if arena_mb is None else {"arena_mb": arena_mb}
            c = _valgrind.callgrind_costs(d, w, packets=packets, **params, **arena)
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
    from .. import profile as _profile

    frames = []
    for d in check_designs(designs):
        p = _profile.profile(d, workload, method=method, top=top, **params)
        frames.append(p.to_frame().assign(reason=p.reason))
    return pd.concat(frames, ignore_index=True)
