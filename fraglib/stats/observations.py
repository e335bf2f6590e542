"""From samples (runs in memory, the store, grid tables) to the observations.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, UnknownNameError
from .planning import guard_few_builds
from .process import process_value
from .validation import _check_frame
from .verdict import verdict


# ---- reduction and pairing ------------------------------------------------


#: columns of :func:`samples_frame` (and of the store's ``samples`` view that
#: :func:`process_values` reads): the run's labels come from its spec
SAMPLE_COLUMNS = ("run_id", "design", "workload", "sample", "warmup", "cycles",
                  "packets", "tsc_step", "build_id", "process", "pair", "role",
                  "comparison", "pair_order", "label")
#: columns of :func:`process_values`, one row per engine process
PROCESS_COLUMNS = ("build", "pair", "design", "value", "role", "process", "run_id",
                   "order", "median", "cut", "n")


def samples_frame(results: Iterable) -> pd.DataFrame:
    """Every sample of some runs, as the store keeps them (one row per sample).

    The in-memory twin of ``fraglib.store.samples()``: same column names
    (:data:`SAMPLE_COLUMNS`; labels from each run's spec, None without
    one), so :func:`process_values` gives the same numbers from results in
    memory and from stored rows.

    Parameters
    ----------
    results : iterable of fraglib.results.RunResult

    Returns
    -------
    pandas.DataFrame
    """
    frames = []
    for r in results:
        n = len(r.cycles)
        labels = r.labels
        frames.append(pd.DataFrame({
            "run_id": r.run_id, "design": r.design, "workload": r.workload,
            "sample": np.arange(n), "warmup": np.arange(n) < r.warmup_samples,
            "cycles": np.asarray(r.cycles), "packets": np.asarray(r.packets),
            "tsc_step": math.nan if r.tsc_step is None else float(r.tsc_step),
            **{col: labels.get(lab) for lab, col in _LABEL_COLUMNS.items()}}))
    if not frames:
        return pd.DataFrame(columns=list(SAMPLE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(SAMPLE_COLUMNS)]


#: spec label -> sample column (the store's names; ``order`` is an SQL word)
_LABEL_COLUMNS = {"build_id": "build_id", "process": "process", "pair": "pair",
                  "role": "role", "comparison": "comparison", "order": "pair_order",
                  "name": "label"}


def process_values(samples_df: pd.DataFrame) -> pd.DataFrame:
    """Reduce per-sample rows to one value per engine process.

    Each run's value is :func:`process_value` of its measured (non warm-up)
    samples, in sample order, with the run's ``tsc_step`` (1 cycle where it
    is missing). This is the one way both a comparison in memory
    (:func:`samples_frame`) and stored rows (``fraglib.store.samples()``)
    become the input of :func:`verdict`.

    Parameters
    ----------
    samples_df : pandas.DataFrame
        One row per sample with ``run_id``, ``sample``, ``warmup``,
        ``cycles``, ``packets``, ``design``; optionally ``tsc_step`` and the
        label columns ``build_id``, ``pair``, ``role``, ``process``,
        ``pair_order``, ``label``.

    Returns
    -------
    pandas.DataFrame
        :data:`PROCESS_COLUMNS`, one row per run, sorted by ``process`` (then
        ``run_id``): ``build`` is the run's ``build_id`` (0 without one),
        ``design`` its ``label`` (else its design), ``order`` its
        ``pair_order``, ``median``/``cut``/``n`` as :func:`process_value`.

    Raises
    ------
    ParameterError
        Missing columns, or a run without a measured sample.
    """
    df = _check_frame(samples_df, ("run_id", "sample", "warmup", "cycles", "packets",
                                   "design"), "samples_df")
    warm = df["warmup"]
    if warm.isna().any() or not (pd.api.types.is_bool_dtype(warm)
                                 or set(pd.unique(warm)) <= {0, 1}):
        raise ParameterError("warmup", sorted(map(str, pd.unique(warm)))[:5],
                             "a boolean column (True = warm-up sample, not measured)")

    if df.empty:
        return pd.DataFrame(columns=list(PROCESS_COLUMNS))
    # One pass over arrays, runs in order of first appearance and each run's
    # samples in sample order: a frame per run through pandas cost a fleet
    # notebook 20 s for 5000 stored runs.
    codes, ids = pd.factorize(df["run_id"], sort=False)
    if (codes < 0).any():
        raise ParameterError("run_id", None, "a run id on every sample row")
    order = np.lexsort((df["sample"].to_numpy(), codes))
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], codes.size]
    cycles = df["cycles"].to_numpy(float)[order]
    packets = df["packets"].to_numpy(float)[order]
    measured = ~warm.to_numpy(bool)[order]
    steps = (pd.to_numeric(df["tsc_step"], errors="coerce").to_numpy(float)[order]
             if "tsc_step" in df.columns else np.full(codes.size, math.nan))
    first = {c: (df[c].to_numpy(object)[order][starts] if c in df.columns
                 else np.full(starts.size, None, dtype=object))
             for c in ("build_id", "pair", "role", "process", "pair_order", "label",
                       "design")}
    rows = []
    for i, (s0, s1) in enumerate(zip(starts, ends)):
        run_id = ids[codes[s0]]
        keep = measured[s0:s1]
        if not keep.any():
            raise ParameterError("samples_df", run_id, "at least one measured (non "
                                 "warm-up) sample per run")
        step = steps[s0]
        step = float(step) if math.isfinite(step) and step > 0 else 1.0
        pv = process_value(cycles[s0:s1][keep], packets[s0:s1][keep], tsc_step=step)
        label, role, order_ = first["label"][i], first["role"][i], first["pair_order"][i]
        rows.append({"build": _int_or(first["build_id"][i], 0),
                     "pair": _int_or(first["pair"][i], None),
                     "design": label if isinstance(label, str) else first["design"][i],
                     "value": pv["value"],
                     "role": role if isinstance(role, str) else None,
                     "process": _int_or(first["process"][i], None), "run_id": run_id,
                     "order": order_ if isinstance(order_, str) else None,
                     "median": pv["median"], "cut": pv["cut"], "n": pv["n"]})
    out = pd.DataFrame(rows, columns=list(PROCESS_COLUMNS))
    return out.sort_values(["process", "run_id"], na_position="last",
                           kind="stable").reset_index(drop=True)


def _int_or(v, default):
    """``int(v)``, or ``default`` for None/NaN (a label the run did not have)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return default
    return int(v)


#: the ``status`` of a grid row that ran (``fraglib.experiments.schedule.MEASURED``)
GRID_MEASURED = "measured"


def observations_from_grid(df: pd.DataFrame, value: str,
                           designs: Iterable[object] | None = None, *,
                           pair: str = "repeat", build: str | None = None) -> pd.DataFrame:
    """The observations (``build, pair, design, value``) of an experiment grid.

    The one place a grid table (one row per engine run, :mod:`fraglib.experiments`)
    becomes the input of :func:`verdict` and its relatives.

    Parameters
    ----------
    df : pandas.DataFrame
        A grid, or the rows of one cell: needs ``design``, ``pair`` and
        ``value`` columns; rows whose ``status`` (if there is one) is not
        ``"measured"``, or whose ``value`` is missing, are left out.
    value : str
        The per-run figure (``value_cpp``, ``median_cpp``, ``ns_per_object``).
    designs : iterable, optional
        Keep only these designs' rows.
    pair : str
        Column numbering the pairs: runs of the same round (``repeat``).
    build : str, optional
        Column naming the layout build; None when the grid has one build
        (every row gets build 0, and a verdict's CI is over pairs).

    Returns
    -------
    pandas.DataFrame
        Columns ``build, pair, design, value``, in the grid's row order.
    """
    _check_frame(df, ["design", pair, value, *([build] if build else [])], "df")
    rows = df
    if "status" in rows.columns:
        rows = rows[rows["status"] == GRID_MEASURED]
    if designs is not None:
        rows = rows[rows["design"].isin(list(designs))]
    rows = rows[rows[value].notna()]
    return pd.DataFrame({
        "build": rows[build].to_numpy() if build else np.zeros(len(rows), dtype=int),
        "pair": rows[pair].astype(int).to_numpy(),
        "design": rows["design"].to_numpy(),
        "value": pd.to_numeric(rows[value]).astype(float).to_numpy()})


def comparison_verdict(obs: pd.DataFrame, a: object, b: object, *,
                       confidence: float = 0.95, resamples: int = 10_000,
                       seed=0) -> tuple["Verdict", str]:
    """The verdict of a comparison: :func:`verdict`, then :func:`guard_few_builds`.

    Returns
    -------
    (Verdict, str)
        The verdict and a phrase naming the interval used.
    """
    v = verdict(obs, a, b, confidence=confidence, resamples=resamples, seed=seed)
    return guard_few_builds(v, obs, a, b)


def verdict_from_store(source, *, comparison: str | None = None, root=None,
                       confidence: float = 0.95, resamples: int = 10_000,
                       seed=0) -> "Verdict":
    """A comparison's verdict rebuilt from its stored rows alone.

    The stored samples are reduced with :func:`process_values` and judged
    by :func:`comparison_verdict`, exactly as :func:`fraglib.compare.compare`
    judges the runs in memory: with the same ``confidence``, ``resamples``
    and ``seed`` (compare's ``seed``) the verdict is equal.

    Parameters
    ----------
    source : pandas.DataFrame or str
        Sample rows (``fraglib.store.samples(...)``), or an SQL condition on
        them that :func:`fraglib.store.samples` runs on the store at
        `root` (e.g. ``"comparison = '3f2a...'"``).
    comparison : str, optional
        Which comparison's rows to use; needed when `source` holds several.
    root : path, optional
        Runs directory, when `source` is a condition.
    confidence, resamples, seed :
        As :func:`verdict`.

    Returns
    -------
    Verdict

    Raises
    ------
    ParameterError
        No labelled rows, several comparisons and none chosen, or not
        exactly one label per role.
    """
    if isinstance(source, str):
        from .. import store

        source = store.samples(root, where=source, columns=SAMPLE_COLUMNS)
    df = _check_frame(source, ("run_id", "sample", "warmup", "cycles", "packets",
                               "design"), "source")
    if "comparison" not in df.columns or df["comparison"].isna().all():
        raise ParameterError("source", f"{df['run_id'].nunique()} runs",
                             "rows of runs made by fraglib.compare (with a comparison "
                             "label; runs stored before labels were recorded lack it)")
    ids = sorted(map(str, pd.unique(df["comparison"].dropna())))
    if comparison is None:
        if len(ids) != 1:
            raise ParameterError("comparison", None, "one of " + ", ".join(ids))
        comparison = ids[0]
    elif comparison not in ids:
        raise UnknownNameError("comparison", comparison, ids)
    obs = process_values(df[df["comparison"] == comparison])
    names = {}
    for role in ("A", "B"):
        got = pd.unique(obs.loc[obs["role"] == role, "design"])
        if len(got) != 1:
            raise ParameterError("source", f"{len(got)} labels for role {role}",
                                 f"one label for role {role} in comparison {comparison}")
        names[role] = got[0]
    v, _ = comparison_verdict(obs, names["A"], names["B"], confidence=confidence,
                              resamples=resamples, seed=seed)
    return v


