"""The memory notebook: pages, peak and waste per design and workload.

Runs carry per-cache statistics (an engine built with FRAG_STATS); a metric
a design cannot have (no page model, aliased fragments) is NaN with its
reason in ``not_measured``, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..designs import CAP_ALIASED, CAP_PAGES, get_design
from .schedule import (MEASURED, cell_grid, check_designs, check_nonempty, check_positive,
                       remote_cells)

__all__ = ["MEMORY_METRICS", "memory_table"]

#: what memory_table reports, per (design, workload)
MEMORY_METRICS = ("pages_per_1k_packets", "peak_pages_held", "bytes_requested",
                  "bytes_consumed", "consumed_per_requested", "refills", "reuses",
                  "high_order_fallbacks", "pages_abandoned", "pages_taken")
_PAGE_METRICS = ("pages_per_1k_packets", "peak_pages_held", "refills", "reuses",
                 "high_order_fallbacks", "pages_abandoned", "pages_taken")
_BYTE_METRICS = ("bytes_consumed", "consumed_per_requested")


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
        As in :func:`fraglib.experiments.rx.rx_grid`.

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
    designs = check_designs(designs)
    workloads = check_nonempty("workloads", workloads, ("rx", "tx", "ring"))
    remote = check_nonempty("remote", [bool(r) for r in remote])
    extra = {w: {**_MEMORY_PARAMS[w], **dict((params or {}).get(w, {}))} for w in workloads}
    frames = []
    for i, w in enumerate(workloads):
        cells = remote_cells([({}, extra[w])], remote, run_kwargs.get("cpu"))
        frames.append(cell_grid(designs, w, cells, repeats=check_positive("repeats", repeats),
                                   seed=seed + i, progress=progress, metrics=MEMORY_METRICS,
                                   run_kwargs={"packets": check_positive("packets", packets),
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
