"""Per-cell views of an experiment grid: what was not measured, medians, verdicts.

A grid (:mod:`fraglib.experiments.schedule`) has one row per run; these
functions reduce it per cell. Runs of the same round (``repeat``) form a
pair: with one build, a verdict's CI is a bootstrap over those pairs
(:func:`fraglib.stats.verdict`), Holm-corrected across cells
(:func:`fraglib.stats.verdict_table`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .. import stats as _stats
from .schedule import MEASURED

__all__ = ["not_measured", "cell_medians", "cell_verdicts", "pairwise"]


def not_measured(df: pd.DataFrame) -> pd.DataFrame:
    """The refused and skipped rows of a grid, one per (design, cell), with why.

    Parameters
    ----------
    df : pandas.DataFrame
        A grid (:func:`fraglib.experiments.rx.rx_grid`, ``tx_grid``, ``ring_grid``).

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


def cell_verdicts(df: pd.DataFrame, baseline: str, designs: Sequence[str] | None = None, *,
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
            v = _stats.verdict(_stats.observations_from_grid(sub, value), baseline, d,
                               resamples=resamples, seed=seed)
            cells.append({"design": d, "baseline": baseline, **dict(zip(by, key)),
                          "label": f"{d} · " + " · ".join(map(str, key)), "verdict": v})
        if cells:
            out.append(_stats.verdict_table(cells))
    if not out:
        return pd.DataFrame(columns=["design", "baseline", *by, "label", "kind", "effect",
                                     "ci_lo", "ci_hi", "p_holm", "n_pairs", "text"])
    return pd.concat(out, ignore_index=True)


def pairwise(df: pd.DataFrame, a: str, b: str, by: Sequence[str] = ("size", "align"),
             *, resamples: int = 10000, seed: int = 0) -> pd.DataFrame:
    """B against A in every cell: paired ratio, CI and verdict.

    Runs of the same repeat form a pair; with a single build the CI is a
    bootstrap over pairs (:func:`fraglib.stats.observations_from_grid`).
    Holm-corrected across cells. Each run's value is
    ``value_cpp`` (:func:`fraglib.stats.process_value`), or ``median_cpp``
    for a frame made before that column existed.
    """
    col = "value_cpp" if "value_cpp" in df.columns else "median_cpp"
    cells = []
    for key, sub in df[df.design.isin([a, b])].groupby(list(by), sort=True):
        v = _stats.verdict(_stats.observations_from_grid(sub, col), a, b,
                           resamples=resamples, seed=seed)
        cells.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                      "verdict": v})
    return _stats.verdict_table(cells)
