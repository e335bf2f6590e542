"""Paired A/B statistics: from process-level measurements to a verdict.

Pure functions over pandas/NumPy data. No engine calls, and no I/O except
:func:`verdict_from_store` given an SQL condition (it then reads the store).
The method is docs/methodology.md §6-7; the planning helpers
(:func:`optimal_pairs`, :func:`mde_grid`) are §8.

Data model
----------
Measurements repeat at three levels: layout **build** ⊃ **process** ⊃ sample
(batch). One A process and one B process of the same build form a **pair**;
pairs run in randomized ABBA order, so drift cancels within a pair.

Everything here except :func:`samples_frame` and :func:`process_values` takes
a tidy :class:`pandas.DataFrame` of *process-level* observations, one row per
process:

``build``
    Layout build id (any hashable). The build is a random effect.
``pair``
    Pair index within its build. ``(build, pair)`` identifies a pair.
``design``
    Design label. The ``a=`` / ``b=`` arguments name the two designs to compare
    (default ``"A"`` and ``"B"``); rows of other designs are ignored, so one
    frame may hold several designs.
``value``
    Median cycles per packet of that process (finite, > 0).

Each ``(build, pair)`` must have exactly one ``a`` row and one ``b`` row.
:func:`process_values` reduces per-sample rows (:func:`samples_frame` of runs
in memory, or the store's ``samples``) to this form.

Conventions
-----------
- Each pair gives a log ratio ``log(B/A)``. The **effect** is the geometric
  mean of the paired ratios B/A, pooled over all pairs (the same as the mean of
  build means when every build has the same number of pairs). A value below 1
  means B needs fewer cycles, so **B is faster**.
- Variance components and the MDE are on the log-ratio scale. The MDE is
  reported as a relative effect (``0.004`` is 0.4 %).
- Every random step takes a ``seed``, so results reproduce exactly.
- Bad input raises :class:`fraglib.exceptions.ParameterError`, which names the
  parameter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _sps

from fraglib.exceptions import ParameterError, UnknownNameError

__all__ = [
    "KINDS",
    "Verdict",
    "SAMPLE_COLUMNS",
    "PROCESS_COLUMNS",
    "samples_frame",
    "process_values",
    "process_value",
    "quantize_tsc",
    "OUTLIER_SPREADS",
    "paired_log_ratios",
    "effect",
    "hierarchical_bootstrap_ci",
    "variance_components",
    "mde",
    "wilcoxon_pairs",
    "mannwhitney_u",
    "holm",
    "build_signs",
    "layout_sensitive",
    "decide_kind",
    "verdict",
    "comparison_verdict",
    "verdict_from_store",
    "verdict_table",
    "build_t_interval",
    "guard_few_builds",
    "interim_halfwidth",
    "optimal_pairs",
    "mde_grid",
    "simulate_pairs",
]

#: The kinds a :class:`Verdict` can have.
KINDS = ("faster", "slower", "no difference", "layout-sensitive")

_OBS_COLUMNS = ("build", "pair", "design", "value")
_MIN_RESAMPLES = 1000
# Random draws per bootstrap chunk: bounds memory (16 MB of indices) whatever
# the data size, and is large enough that 10 builds x 20 pairs x 10,000
# resamples is a single chunk.
_CHUNK_ELEMENTS = 2_000_000


# ---- validation helpers ---------------------------------------------------


def _check_confidence(confidence: float, param: str = "confidence") -> float:
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ParameterError(param, confidence, "a number in (0, 1)") from None
    if not 0.0 < c < 1.0:
        raise ParameterError(param, confidence, "a number in (0, 1), e.g. 0.95")
    return c


def _check_resamples(resamples: int) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)):
        raise ParameterError("resamples", resamples, f"an integer >= {_MIN_RESAMPLES}")
    if resamples < _MIN_RESAMPLES:
        raise ParameterError("resamples", resamples,
                             f"an integer >= {_MIN_RESAMPLES} (10,000 recommended)")
    return int(resamples)


def _check_nonneg(param: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(param, value, "a finite number >= 0") from None
    if not (math.isfinite(v) and v >= 0.0):
        raise ParameterError(param, value, "a finite number >= 0")
    return v


def _check_frame(df: object, columns: Sequence[str], param: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(param, type(df).__name__,
                             "a pandas DataFrame with columns " + ", ".join(columns))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(param, f"missing columns {missing}",
                             "a DataFrame with columns " + ", ".join(columns))
    return df


def _check_positive_values(values: pd.Series, param: str) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        first = values.to_numpy()[np.flatnonzero(bad)[0]]
        raise ParameterError(param, first,
                             f"finite and > 0 ({int(bad.sum())} bad row(s))")
    return v


# ---- one process's value ----------------------------------------------------

#: A sample is "disturbed" (an interrupt, a preemption) when its cycles per
#: packet lie this many robust spreads above the process's median.
OUTLIER_SPREADS = 8.0


def process_value(cycles, packets, *, tsc_step: float = 1.0,
                  spreads: float = OUTLIER_SPREADS) -> dict:
    """One process's cycles per packet, from its measured samples.

    The value is the **packet-weighted mean** of the samples (total cycles
    over total packets) after dropping disturbed samples: those whose
    cycles per packet exceed ``median + spreads * max(1.4826 * MAD, step)``,
    where ``step`` is one TSC step per packet of a typical sample.

    Why the mean and not the median: a VM's TSC may advance in steps (about
    24.5 cycles on the EPYC VM, recorded as ``tsc_step``), so every sample is
    a multiple of the step, and a median of such samples stays on that grid
    (0.38 cycles per packet at 64 packets a sample, several percent of the
    cost being measured). The start of each sample falls at a random phase
    of the tick, so the rounding error of a sample averages to zero and the
    mean of many samples is unbiased to well below one step. A plain mean
    would take every interrupt with it, hence the one-sided cut, placed far
    enough above the bulk (at least ``spreads`` steps) that it never cuts
    into the rounding of undisturbed samples.
    ``tests/test_stats.py::test_process_value_is_not_quantized`` checks this
    on quantized synthetic data with a known answer.

    Parameters
    ----------
    cycles, packets : array-like
        Measured (non warm-up) samples: TSC cycles and packets of each.
    tsc_step : float, default 1.0
        TSC step in cycles (1 where the TSC counts every cycle).
    spreads : float, default :data:`OUTLIER_SPREADS`
        Where the cut lies, in robust spreads above the median.

    Returns
    -------
    dict
        ``value`` (cycles per packet; NaN without samples), ``median`` (the
        median of the samples' cycles per packet, for reference), ``cut``
        (samples dropped as disturbed), ``n`` (samples) and ``cut_at``.
    """
    c = np.asarray(cycles, dtype=float)
    p = np.asarray(packets, dtype=float)
    if c.shape != p.shape or c.ndim != 1:
        raise ParameterError("packets", p.shape, f"one count per sample ({c.shape})")
    if not (math.isfinite(tsc_step) and tsc_step > 0):
        raise ParameterError("tsc_step", tsc_step, "a finite number of cycles > 0")
    if not c.size:
        return {"value": math.nan, "median": math.nan, "cut": 0, "n": 0,
                "cut_at": math.nan}
    if (p <= 0).any():
        raise ParameterError("packets", float(p.min()), "> 0 in every sample")
    cpp = c / p
    med = float(np.median(cpp))
    mad = float(np.median(np.abs(cpp - med)))
    spread = max(1.4826 * mad, tsc_step / float(np.median(p)))
    cut_at = med + spreads * spread
    keep = cpp <= cut_at
    return {"value": float(c[keep].sum() / p[keep].sum()), "median": med,
            "cut": int((~keep).sum()), "n": int(c.size), "cut_at": cut_at}


def quantize_tsc(durations, step: float, seed=0) -> np.ndarray:
    """What a TSC that advances in steps of `step` cycles reads for `durations`.

    Each interval starts at a random phase of the tick (uniform), as a
    sample's first rdtscp does; the reading is the difference of the two
    floored counter values. Synthetic data for tests and benchmarks.
    """
    d = np.asarray(durations, dtype=float)
    start = np.random.default_rng(seed).uniform(0.0, step, d.shape)
    return (np.floor((start + d) / step) - np.floor(start / step)) * step


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

    def col(name, default=None):
        return df[name] if name in df.columns else pd.Series(default, index=df.index)

    rows = []
    for run_id, g in df.groupby("run_id", sort=False):
        g = g.sort_values("sample")
        keep = ~g["warmup"].astype(bool).to_numpy()
        if not keep.any():
            raise ParameterError("samples_df", run_id, "at least one measured (non "
                                 "warm-up) sample per run")
        step = pd.to_numeric(col("tsc_step", math.nan).loc[g.index], errors="coerce")
        step = float(step.iloc[0]) if len(step) and math.isfinite(step.iloc[0]) \
            and step.iloc[0] > 0 else 1.0
        pv = process_value(g["cycles"].to_numpy(float)[keep],
                           g["packets"].to_numpy(float)[keep], tsc_step=step)
        first = {c: col(c).loc[g.index[0]] for c in ("build_id", "pair", "role", "process",
                                                     "pair_order", "label")}
        name = first["label"] if isinstance(first["label"], str) else g["design"].iloc[0]
        rows.append({"build": _int_or(first["build_id"], 0),
                     "pair": _int_or(first["pair"], None),
                     "design": name, "value": pv["value"],
                     "role": first["role"] if isinstance(first["role"], str) else None,
                     "process": _int_or(first["process"], None), "run_id": run_id,
                     "order": first["pair_order"] if isinstance(first["pair_order"], str)
                     else None,
                     "median": pv["median"], "cut": pv["cut"], "n": pv["n"]})
    out = pd.DataFrame(rows, columns=list(PROCESS_COLUMNS))
    return out.sort_values(["process", "run_id"], na_position="last",
                           kind="stable").reset_index(drop=True)


def _int_or(v, default):
    """``int(v)``, or ``default`` for None/NaN (a label the run did not have)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return default
    return int(v)


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
        from . import store

        source = store.samples(root, where=source)
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


def paired_log_ratios(df: pd.DataFrame, a: object = "A", b: object = "B") -> pd.DataFrame:
    """Pair the A and B processes and return ``log(B/A)`` per pair.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Labels in ``df["design"]`` of the baseline A and the candidate B.

    Returns
    -------
    pandas.DataFrame
        Columns ``build, pair, log_ratio``, one row per pair, sorted by build
        then pair.

    Raises
    ------
    ParameterError
        On missing columns, ``a == b``, a label absent from ``design``,
        non-finite or non-positive ``value``, duplicate rows, a pair missing
        its A or B process, or fewer than 2 complete pairs.
    """
    df = _check_frame(df, _OBS_COLUMNS, "df")
    if a == b:
        raise ParameterError("b", b, "a design label different from a")
    known = pd.unique(df["design"])
    for param, label in (("a", a), ("b", b)):
        if label not in set(known):
            raise UnknownNameError(param, label, [str(k) for k in known])
    sub = df.loc[df["design"].isin([a, b]), list(_OBS_COLUMNS)]
    _check_positive_values(sub["value"], "value")
    dup = sub.duplicated(["build", "pair", "design"], keep=False)
    if dup.any():
        first = sub.loc[dup, ["build", "pair", "design"]].iloc[0]
        raise ParameterError("df", tuple(first),
                             "one row per (build, pair, design)")
    wide = sub.pivot(index=["build", "pair"], columns="design", values="value")
    incomplete = wide[[a, b]].isna().any(axis=1)
    if incomplete.any():
        raise ParameterError("pair", incomplete[incomplete].index[0],
                             f"each (build, pair) needs one {a!r} and one {b!r} process")
    if len(wide) < 2:
        raise ParameterError("df", f"{len(wide)} pair(s)", "at least 2 complete A/B pairs")
    wide = wide.sort_index()
    out = wide.index.to_frame(index=False)
    out["log_ratio"] = np.log(wide[b].to_numpy(float)) - np.log(wide[a].to_numpy(float))
    return out


def _groups(lr: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Log ratios as a zero-padded (n_builds, max_pairs) array plus counts."""
    codes, _ = pd.factorize(lr["build"], sort=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.empty(codes.size, dtype=np.intp)
    pos[order] = np.arange(codes.size) - np.repeat(starts, counts)
    padded = np.zeros((counts.size, counts.max()))
    padded[codes, pos] = lr["log_ratio"].to_numpy(float)
    return padded, counts


# ---- effect and its uncertainty --------------------------------------------


def effect(df: pd.DataFrame, a: object = "A", b: object = "B") -> float:
    """Geometric mean of the paired ratios B/A.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.

    Returns
    -------
    float
        ``exp(mean(log(B/A)))`` over all pairs. A value below 1 means B is
        faster (fewer cycles per packet).
    """
    lr = paired_log_ratios(df, a, b)
    return float(np.exp(lr["log_ratio"].mean()))


def _bootstrap_log_means(padded: np.ndarray, counts: np.ndarray, resamples: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Two-stage bootstrap of the pooled mean log ratio, vectorised in chunks."""
    nb, width = padded.shape
    balanced = bool((counts == width).all())
    slots = np.arange(width)
    chunk = max(1, _CHUNK_ELEMENTS // (nb * width))
    out = np.empty(resamples)
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        chosen = rng.integers(0, nb, size=(r, nb))          # stage 1: builds
        n = counts[chosen]                                   # (r, nb)
        # stage 2: pairs within each chosen build (indices < that build's count)
        # floor(U * n) is uniform on 0..n-1 and several times faster than
        # rng.integers with an array of bounds
        idx = (rng.random((r, nb, width)) * n[:, :, None]).astype(np.intp)
        vals = padded[chosen[:, :, None], idx]
        if balanced:
            out[start:start + r] = vals.mean(axis=(1, 2))
        else:
            vals = np.where(slots < n[:, :, None], vals, 0.0)
            out[start:start + r] = vals.sum(axis=(1, 2)) / n.sum(axis=1)
    return out


def _ci_from_lr(lr: pd.DataFrame, confidence: float, resamples: int,
                seed) -> tuple[float, float]:
    padded, counts = _groups(lr)
    rng = np.random.default_rng(seed)
    means = _bootstrap_log_means(padded, counts, resamples, rng)
    tail = 50.0 * (1.0 - confidence)
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(np.exp(lo)), float(np.exp(hi))


def hierarchical_bootstrap_ci(df: pd.DataFrame, a: object = "A", b: object = "B", *,
                              confidence: float = 0.95, resamples: int = 10_000,
                              seed=0) -> tuple[float, float]:
    """Percentile CI of the geometric mean ratio by a two-stage bootstrap.

    Each resample draws builds with replacement, then, inside each drawn
    build, as many pairs as it has, with replacement. The statistic is the
    geometric mean B/A over all drawn pairs. SciPy's ``bootstrap`` has no
    hierarchical resampling, so this is written here, vectorised over
    resamples.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    resamples : int, default 10000
        Number of bootstrap resamples, at least 1000.
    seed : int, numpy.random.Generator or None, default 0
        Seed for :func:`numpy.random.default_rng`.

    Returns
    -------
    (float, float)
        Lower and upper bounds on the ratio scale (B/A).

    Notes
    -----
    Resampling at both levels counts the within-build noise twice (once
    through the spread of the build means, once through the pair draws). The
    interval is therefore conservative, up to about sqrt(2) too wide, when the
    between-build SD is small next to ``sigma_pair / sqrt(n_pairs)``. With few
    builds (< 8) and a dominant build effect the percentile interval
    undercovers slightly, as any percentile bootstrap with few clusters does.
    """
    confidence = _check_confidence(confidence)
    resamples = _check_resamples(resamples)
    lr = paired_log_ratios(df, a, b)
    return _ci_from_lr(lr, confidence, resamples, seed)


def _variance_components_lr(lr: pd.DataFrame) -> dict:
    y = lr["log_ratio"].to_numpy(float)
    codes, _ = pd.factorize(lr["build"], sort=True)
    n_i = np.bincount(codes).astype(float)
    k, n = n_i.size, y.size
    means = np.bincount(codes, weights=y) / n_i
    grand = y.mean()
    ss_within = float(((y - means[codes]) ** 2).sum())
    ss_between = float((n_i * (means - grand) ** 2).sum())
    ms_within = ss_within / (n - k) if n > k else math.nan
    if k > 1 and n > k:
        ms_between = ss_between / (k - 1)
        n0 = (n - (n_i ** 2).sum() / n) / (k - 1)   # effective pairs per build
        var_build = max(0.0, (ms_between - ms_within) / n0)
    else:
        var_build = math.nan
    return {
        "sigma_build": math.sqrt(var_build),
        "sigma_pair": math.sqrt(ms_within),
        "n_builds": int(k),
        "n_pairs_per_build": float(n / k),
    }


def variance_components(df: pd.DataFrame, a: object = "A", b: object = "B") -> dict:
    """Between-build and within-build SD of the log ratio.

    One-way random-effects ANOVA (method of moments) with builds as groups:
    ``sigma_pair**2 = MS_within`` and
    ``sigma_build**2 = max(0, (MS_between - MS_within) / n0)``, where ``n0``
    is the usual effective group size for unbalanced data (the number of
    pairs per build when balanced).

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.

    Returns
    -------
    dict
        ``sigma_build`` (float; NaN with one build, or with one pair per
        build), ``sigma_pair`` (float; NaN with one pair per build),
        ``n_builds`` (int) and ``n_pairs_per_build`` (float, the mean number
        of pairs per build). Both SDs are on the natural-log scale, so 0.01
        is about 1 %.
    """
    return _variance_components_lr(paired_log_ratios(df, a, b))


def mde(sigma_build: float, sigma_pair: float, n_builds: int, n_pairs: float,
        alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect of a builds x pairs design.

    ``Var = sigma_build**2 / n_builds + sigma_pair**2 / (n_builds * n_pairs)``
    and ``MDE = expm1((z[1 - alpha/2] + z[power]) * sqrt(Var))``, with ``z``
    the standard normal quantile (methodology §7; about ``2.8 * sqrt(Var)``
    at the defaults).

    Parameters
    ----------
    sigma_build, sigma_pair : float
        Between-build and within-build SD of the log ratio (>= 0), e.g. from
        :func:`variance_components`.
    n_builds : int
        Number of layout builds, >= 1.
    n_pairs : float
        Pairs per build, >= 1 (a mean is fine for unbalanced designs).
    alpha : float, default 0.05
        Two-sided significance level, in (0, 1).
    power : float, default 0.8
        Power, in (0, 1).

    Returns
    -------
    float
        Relative effect, e.g. 0.004 for 0.4 %.
    """
    sb = _check_nonneg("sigma_build", sigma_build)
    sp = _check_nonneg("sigma_pair", sigma_pair)
    for param, v in (("n_builds", n_builds), ("n_pairs", n_pairs)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(v) and v >= 1):
            raise ParameterError(param, v, "a number >= 1")
    alpha = _check_confidence(alpha, "alpha")
    power = _check_confidence(power, "power")
    var = sb ** 2 / n_builds + sp ** 2 / (n_builds * n_pairs)
    z = _sps.norm.ppf(1.0 - alpha / 2.0) + _sps.norm.ppf(power)
    return float(np.expm1(z * math.sqrt(var)))


# ---- tests ----------------------------------------------------------------


def _wilcoxon_lr(y: np.ndarray) -> tuple[float, float]:
    if np.all(y == 0.0):            # scipy cannot rank an all-zero sample
        return 0.0, 1.0
    res = _sps.wilcoxon(y, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def wilcoxon_pairs(df: pd.DataFrame, a: object = "A", b: object = "B") -> tuple[float, float]:
    """Wilcoxon signed-rank test of the paired log ratios against 0.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.

    Returns
    -------
    (float, float)
        Statistic and two-sided p-value from :func:`scipy.stats.wilcoxon`
        (zero ratios dropped). If every ratio is exactly 1: ``(0.0, 1.0)``.

    Notes
    -----
    The test treats all pairs as independent and ignores the build level.
    With a between-build effect its p-value is too small, which is why the
    verdict rests on the hierarchical CI and the p-value only feeds Holm
    across cells.
    """
    return _wilcoxon_lr(paired_log_ratios(df, a, b)["log_ratio"].to_numpy(float))


def mannwhitney_u(df: pd.DataFrame, a: object = "A", b: object = "B") -> tuple[float, float]:
    """Unpaired two-sided Mann-Whitney U test of B's values against A's.

    For parity with Google Benchmark's ``compare.py``. It ignores the pairing
    and the builds, so use it beside :func:`wilcoxon_pairs`, not instead.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.

    Returns
    -------
    (float, float)
        U statistic of B and the two-sided p-value from
        :func:`scipy.stats.mannwhitneyu`.
    """
    paired_log_ratios(df, a, b)     # same validation as everything else
    va = df.loc[df["design"] == a, "value"].to_numpy(float)
    vb = df.loc[df["design"] == b, "value"].to_numpy(float)
    res = _sps.mannwhitneyu(vb, va, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def holm(pvalues: Iterable[float]) -> np.ndarray:
    """Holm step-down adjustment of p-values (family-wise error rate).

    Written here: scipy.stats has only Benjamini-Hochberg
    (``false_discovery_control``) and statsmodels is not a dependency.

    Parameters
    ----------
    pvalues : iterable of float
        Raw p-values, each in [0, 1].

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order: the sorted ``p[i]`` (0-based
        rank ``i`` of ``m``) becomes ``max over j <= i of min(1, (m - j) p[j])``.
    """
    p = np.asarray(list(pvalues), dtype=float)
    if p.ndim != 1 or not np.all((p >= 0.0) & (p <= 1.0)):
        raise ParameterError("pvalues", p.tolist()[:5], "a flat sequence of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


# ---- layout sensitivity ---------------------------------------------------


def _build_signs_lr(lr: pd.DataFrame, confidence: float) -> pd.DataFrame:
    codes, builds = pd.factorize(lr["build"], sort=True)
    y = lr["log_ratio"].to_numpy(float)
    n = np.bincount(codes).astype(float)
    m = np.bincount(codes, weights=y) / n
    ss = np.bincount(codes, weights=(y - m[codes]) ** 2)
    k = n.size
    level = 1.0 - (1.0 - confidence) / k            # Bonferroni over builds
    lo = np.full(k, np.nan)
    hi = np.full(k, np.nan)
    ok = n >= 2
    se = np.zeros(k)
    se[ok] = np.sqrt(ss[ok] / (n[ok] - 1) / n[ok])
    pos = ok & (se > 0)
    if pos.any():
        lo[pos], hi[pos] = _sps.t.interval(level, n[pos] - 1, loc=m[pos], scale=se[pos])
    zero = ok & (se == 0)                           # identical ratios: a point
    lo[zero] = hi[zero] = m[zero]
    sign = np.where(lo > 0, 1, np.where(hi < 0, -1, 0))
    return pd.DataFrame({
        "build": builds,
        "n_pairs": n.astype(int),
        "ratio": np.exp(m),
        "ci_lo": np.exp(lo),
        "ci_hi": np.exp(hi),
        "sign": sign.astype(int),
    })


def build_signs(df: pd.DataFrame, a: object = "A", b: object = "B", *,
                confidence: float = 0.95) -> pd.DataFrame:
    """Per-build geometric mean ratio and whether its sign is resolved.

    Each build gets a Student-t interval for its mean log ratio over its
    pairs, at the Bonferroni level ``1 - (1 - confidence) / n_builds`` so that
    looking at many builds does not manufacture a significant one. ``sign`` is
    +1 when the whole interval is above ratio 1 (B slower in that build), -1
    when it is below (B faster), 0 otherwise or with fewer than 2 pairs.

    A t interval, not a bootstrap over the pairs: a build has only 10-20
    pairs, where a percentile bootstrap is too narrow and would flag layout
    sensitivity in A/A data.

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.
    confidence : float, default 0.95
        Family confidence across builds, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``build, n_pairs, ratio, ci_lo, ci_hi, sign``, one row per
        build. Pass it to :func:`layout_sensitive`.
    """
    confidence = _check_confidence(confidence)
    return _build_signs_lr(paired_log_ratios(df, a, b), confidence)


def layout_sensitive(signs: pd.DataFrame) -> bool:
    """Whether builds disagree on the sign, significantly.

    Rule: at least one build has ``sign == +1`` (its whole interval above
    ratio 1) and at least one has ``sign == -1`` (whole interval below 1).

    Parameters
    ----------
    signs : pandas.DataFrame
        Output of :func:`build_signs`.

    Returns
    -------
    bool
    """
    s = _check_frame(signs, ("sign",), "signs")["sign"]
    return bool((s > 0).any() and (s < 0).any())


# ---- verdict --------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}"


def _shape(n_builds: int, n_pairs: int) -> str:
    builds = f"{n_builds} build" + ("s" if n_builds != 1 else "")
    if n_pairs % n_builds == 0:
        return f"{builds} × {n_pairs // n_builds} pairs"
    return f"{builds}, {n_pairs} pairs"


def decide_kind(ci_lo: float, ci_hi: float, builds_faster: int = 0,
                builds_slower: int = 0) -> str:
    """The verdict rule: which of :data:`KINDS` an interval and build signs give.

    **layout-sensitive** when some builds are resolved faster and others
    slower (:func:`build_signs`); else **faster** / **slower** when the
    interval of the ratio B/A lies entirely below / above 1; else **no
    difference**. :func:`verdict` and :func:`guard_few_builds` both use it.
    """
    if builds_faster and builds_slower:
        return "layout-sensitive"
    if ci_hi < 1.0:
        return "faster"
    if ci_lo > 1.0:
        return "slower"
    return "no difference"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Outcome of one A/B comparison. Frozen and validated on construction.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    effect : float
        Geometric mean ratio B/A (> 0; below 1 means B is faster).
    ci_lo, ci_hi : float
        Confidence interval of `effect`, on the ratio scale.
    mde : float
        Minimum detectable relative effect of this design (0.004 is 0.4 %), or
        NaN when it cannot be estimated (one build, or one pair per build).
    p_wilcoxon : float
        Two-sided Wilcoxon signed-rank p-value over the pairs, in [0, 1].
    n_builds : int
        Number of builds (>= 1).
    n_pairs : int
        Total number of pairs over all builds (>= 2).
    sigma_build, sigma_pair : float
        Variance components of the log ratio (>= 0 or NaN).
    text : str, optional
        One-line human summary; generated from the fields when empty.
    confidence : float, default 0.95
        Level of the CI.
    a, b : str, default "A", "B"
        Names of the designs, used in `text`.
    builds_faster, builds_slower : int, default 0
        Builds whose own interval is entirely below / above ratio 1 (see
        :func:`build_signs`).
    """

    kind: str
    effect: float
    ci_lo: float
    ci_hi: float
    mde: float
    p_wilcoxon: float
    n_builds: int
    n_pairs: int
    sigma_build: float
    sigma_pair: float
    text: str = ""
    confidence: float = 0.95
    a: str = "A"
    b: str = "B"
    builds_faster: int = 0
    builds_slower: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError("kind", self.kind, "one of " + ", ".join(KINDS))
        for name in ("effect", "ci_lo", "ci_hi"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ParameterError(name, v, "a finite ratio > 0")
        if not self.ci_lo <= self.ci_hi:
            raise ParameterError("ci_hi", self.ci_hi, f"ci_hi >= ci_lo ({self.ci_lo})")
        if self.kind == "faster" and not self.ci_hi < 1.0:
            raise ParameterError("kind", self.kind, "'faster' needs ci_hi < 1")
        if self.kind == "slower" and not self.ci_lo > 1.0:
            raise ParameterError("kind", self.kind, "'slower' needs ci_lo > 1")
        for name in ("mde", "sigma_build", "sigma_pair"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and (math.isnan(v) or 0.0 <= v < math.inf)):
                raise ParameterError(name, v, "a finite number >= 0, or NaN")
        if not (isinstance(self.p_wilcoxon, (int, float)) and 0.0 <= self.p_wilcoxon <= 1.0):
            raise ParameterError("p_wilcoxon", self.p_wilcoxon, "a probability in [0, 1]")
        if isinstance(self.n_builds, bool) or not isinstance(self.n_builds, int) \
                or self.n_builds < 1:
            raise ParameterError("n_builds", self.n_builds, "an integer >= 1")
        if isinstance(self.n_pairs, bool) or not isinstance(self.n_pairs, int) \
                or self.n_pairs < max(2, self.n_builds):
            raise ParameterError("n_pairs", self.n_pairs,
                                 "an integer >= 2 and >= n_builds (total pairs)")
        _check_confidence(self.confidence)
        for name in ("builds_faster", "builds_slower"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= self.n_builds:
                raise ParameterError(name, v, f"an integer in [0, n_builds={self.n_builds}]")
        if self.kind == "layout-sensitive" and not (self.builds_faster and self.builds_slower):
            raise ParameterError("kind", self.kind,
                                 "'layout-sensitive' needs builds_faster and builds_slower > 0")
        if not self.text:
            object.__setattr__(self, "text", self._make_text())

    @property
    def resolved(self) -> bool:
        """True when the verdict names a winner (``faster`` or ``slower``)."""
        return self.kind in ("faster", "slower")

    def _interval(self) -> str:
        conf = f"{100 * self.confidence:g} % CI, {_shape(self.n_builds, self.n_pairs)}"
        if self.kind == "faster":
            return f"[{_pct(1 - self.ci_hi)}, {_pct(1 - self.ci_lo)}] ({conf})"
        if self.kind == "slower":
            return f"[{_pct(self.ci_lo - 1)}, {_pct(self.ci_hi - 1)}] ({conf})"
        return (f"{self.b}/{self.a} {100 * (self.effect - 1):+.2f} % "
                f"[{100 * (self.ci_lo - 1):+.2f}, {100 * (self.ci_hi - 1):+.2f}] ({conf})")

    def _make_text(self) -> str:
        a, b = self.a, self.b
        if self.kind == "faster":
            return f"{b} faster than {a} by {_pct(1 - self.effect)} % {self._interval()}"
        if self.kind == "slower":
            return f"{b} slower than {a} by {_pct(self.effect - 1)} % {self._interval()}"
        if self.kind == "layout-sensitive":
            rest = self.n_builds - self.builds_faster - self.builds_slower
            return (f"layout-sensitive: builds disagree on the sign ({b} faster in "
                    f"{self.builds_faster}, slower in {self.builds_slower}, unresolved in "
                    f"{rest} of {self.n_builds} builds); pooled {self._interval()}")
        mde_txt = (f"MDE {_pct(self.mde)} %" if math.isfinite(self.mde)
                   else "MDE unknown (needs >= 2 builds and >= 2 pairs per build)")
        return f"no difference resolved; {mde_txt}; {self._interval()}"


def verdict(df: pd.DataFrame, a: object = "A", b: object = "B", *,
            confidence: float = 0.95, resamples: int = 10_000, seed=0) -> Verdict:
    """Decide whether B is faster, slower, not resolved, or layout-sensitive.

    Rule, in order:

    1. **layout-sensitive** when :func:`layout_sensitive` holds for
       :func:`build_signs` at `confidence`;
    2. **faster** / **slower** when the hierarchical bootstrap CI
       (:func:`hierarchical_bootstrap_ci`) lies entirely below / above ratio 1
       (B faster means fewer cycles);
    3. otherwise **no difference** resolved, reported with the MDE of this
       design (``alpha = 1 - confidence``, power 0.8).

    Parameters
    ----------
    df : pandas.DataFrame
        Process-level observations (see the module docstring).
    a, b : object, default "A", "B"
        Design labels of the baseline and the candidate.
    confidence : float, default 0.95
        Confidence level of the CI and of the per-build intervals.
    resamples : int, default 10000
        Bootstrap resamples, at least 1000.
    seed : int, numpy.random.Generator or None, default 0
        Bootstrap seed.

    Returns
    -------
    Verdict
    """
    confidence = _check_confidence(confidence)
    resamples = _check_resamples(resamples)
    lr = paired_log_ratios(df, a, b)
    y = lr["log_ratio"].to_numpy(float)
    eff = float(np.exp(y.mean()))
    lo, hi = _ci_from_lr(lr, confidence, resamples, seed)
    vc = _variance_components_lr(lr)
    if math.isfinite(vc["sigma_build"]) and math.isfinite(vc["sigma_pair"]):
        m = mde(vc["sigma_build"], vc["sigma_pair"], vc["n_builds"],
                vc["n_pairs_per_build"], alpha=1.0 - confidence)
    else:
        m = math.nan
    _, p = _wilcoxon_lr(y)
    signs = _build_signs_lr(lr, confidence)
    n_slower = int((signs["sign"] > 0).sum())
    n_faster = int((signs["sign"] < 0).sum())
    kind = decide_kind(lo, hi, n_faster, n_slower)
    return Verdict(kind=kind, effect=eff, ci_lo=lo, ci_hi=hi, mde=m, p_wilcoxon=p,
                   n_builds=vc["n_builds"], n_pairs=len(lr),
                   sigma_build=vc["sigma_build"], sigma_pair=vc["sigma_pair"],
                   confidence=confidence, a=str(a), b=str(b),
                   builds_faster=n_faster, builds_slower=n_slower)


def verdict_table(cells: Iterable[Verdict | Mapping], *, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-correct the verdicts of several cells (sizes, workloads, threads).

    The Wilcoxon p-values of all cells form one family and are adjusted with
    :func:`holm`. A cell whose verdict is ``faster`` or ``slower`` but whose
    adjusted p-value is above `alpha` is demoted to ``no difference``
    (``resolved`` False) even though its own CI excluded 1: across many cells
    one CI in twenty excludes 1 by chance. Layout-sensitive and no-difference
    cells keep their kind. The CIs themselves are not widened.

    Parameters
    ----------
    cells : iterable of Verdict or Mapping
        Either bare :class:`Verdict` objects, or mappings with a ``"verdict"``
        key holding one plus label keys (e.g. ``{"size": 256, "workload":
        "rx", "verdict": v}``) that become columns.
    alpha : float, default 0.05
        Family-wise error rate.

    Returns
    -------
    pandas.DataFrame
        One row per cell, in input order: label columns, then ``kind``
        (after Holm), ``kind_raw``, ``resolved``, ``effect``, ``ci_lo``,
        ``ci_hi``, ``mde``, ``p_wilcoxon``, ``p_holm``, ``n_builds``,
        ``n_pairs``, ``text``.
    """
    alpha = _check_confidence(alpha, "alpha")
    labels, verdicts = [], []
    for i, cell in enumerate(cells):
        if isinstance(cell, Verdict):
            v, lab = cell, {}
        elif isinstance(cell, Mapping) and isinstance(cell.get("verdict"), Verdict):
            v, lab = cell["verdict"], {k: x for k, x in cell.items() if k != "verdict"}
        else:
            raise ParameterError(f"cells[{i}]", type(cell).__name__,
                                 "a Verdict or a mapping with a 'verdict' key")
        verdicts.append(v)
        labels.append(lab)
    p_adj = holm([v.p_wilcoxon for v in verdicts])
    rows = []
    for lab, v, p in zip(labels, verdicts, p_adj):
        kind, text = v.kind, v.text
        if v.resolved and p > alpha:
            kind = "no difference"
            text = (dataclasses.replace(v, kind=kind, text="").text
                    + f"; CI excluded 1 but Holm-adjusted Wilcoxon p = {p:.3g} > {alpha:g}")
        rows.append({**lab, "kind": kind, "kind_raw": v.kind,
                     "resolved": kind in ("faster", "slower"),
                     "effect": v.effect, "ci_lo": v.ci_lo, "ci_hi": v.ci_hi, "mde": v.mde,
                     "p_wilcoxon": v.p_wilcoxon, "p_holm": float(p),
                     "n_builds": v.n_builds, "n_pairs": v.n_pairs, "text": text})
    columns = ["kind", "kind_raw", "resolved", "effect", "ci_lo", "ci_hi", "mde",
               "p_wilcoxon", "p_holm", "n_builds", "n_pairs", "text"]
    return pd.DataFrame(rows, columns=list(dict.fromkeys(
        [k for lab in labels for k in lab] + columns)))


# ---- few builds, and planning the next experiment ---------------------------


def build_t_interval(obs: pd.DataFrame, a: object, b: object, *,
                     confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the ratio from the build means alone.

    Each build's mean log ratio is one observation (its variance is
    ``sigma_build**2 + sigma_pair**2 / n_pairs``, both levels at once); the
    interval is ``exp(mean ± t[n_builds - 1] * sd / sqrt(n_builds))``. This is
    the textbook interval for a few clusters. None with fewer than 2 builds.
    """
    lr = paired_log_ratios(obs, a, b)
    m = lr.groupby("build")["log_ratio"].mean().to_numpy(float)
    if m.size < 2:
        return None
    half = (_sps.t.ppf(0.5 + confidence / 2.0, m.size - 1)
            * m.std(ddof=1) / math.sqrt(m.size))
    return float(np.exp(m.mean() - half)), float(np.exp(m.mean() + half))


def guard_few_builds(v: Verdict, obs: pd.DataFrame, a: object, b: object
                     ) -> tuple[Verdict, str]:
    """Widen the bootstrap CI to at least the build-level t interval.

    With few builds the percentile hierarchical bootstrap undercovers
    (:func:`hierarchical_bootstrap_ci`, Notes): three builds give at most
    ten distinct build draws, and its interval is about half as wide as the
    t interval with 2 degrees of freedom. On the EPYC VM a layout build alone
    moves topdown by several percent, so an A/A run over three or four
    builds would then "find" a difference about one time in three. The
    verdict keeps the union of the two intervals and its kind is re-decided
    on it by :func:`decide_kind` (a layout-sensitive verdict stays so).

    Returns
    -------
    (Verdict, str)
        The verdict (unchanged when the bootstrap interval already covers
        the t interval) and a phrase naming the interval used.
    """
    boot = "hierarchical bootstrap"
    t_ci = build_t_interval(obs, a, b, confidence=v.confidence)
    if t_ci is None:
        return v, boot + " (1 build: layout noise not sampled)"
    lo, hi = min(v.ci_lo, t_ci[0]), max(v.ci_hi, t_ci[1])
    if (lo, hi) == (v.ci_lo, v.ci_hi):
        return v, boot
    kind = decide_kind(lo, hi, v.builds_faster, v.builds_slower)
    v = dataclasses.replace(v, kind=kind, ci_lo=lo, ci_hi=hi, text="")
    return v, f"{boot}, widened to the Student-t interval of {v.n_builds} build means"


def interim_halfwidth(obs: pd.DataFrame, a: object, b: object, *,
                      confidence: float = 0.95, resamples: int = 2000,
                      seed=0) -> float:
    """Half-width of the interval a verdict on `obs` would report now.

    The union of the hierarchical bootstrap interval (`resamples`) and the
    build-level t interval, as :func:`comparison_verdict`; ``inf`` with
    fewer than 2 pairs.
    """
    if len(obs) < 4:
        return math.inf
    lo, hi = hierarchical_bootstrap_ci(obs, a, b, confidence=confidence,
                                       resamples=resamples, seed=seed)
    t_ci = build_t_interval(obs, a, b, confidence=confidence)
    if t_ci is not None:
        lo, hi = min(lo, t_ci[0]), max(hi, t_ci[1])
    return (hi - lo) / 2.0


def optimal_pairs(sigma_build: float, sigma_pair: float, seconds_per_build: float,
                  seconds_per_pair: float, *, lo: int = 2, hi: int = 64) -> int:
    """Pairs per build that minimise the variance for a given time.

    Kalibera & Jones' dimensioning for two levels: with cost ``c_b`` per
    build and ``c_p`` per pair, ``n_pairs = sqrt(c_b * sigma_pair**2 /
    (c_p * sigma_build**2))`` minimises ``sigma_build**2 / n_b +
    sigma_pair**2 / (n_b * n_pairs)`` for a fixed total cost. Clipped to
    ``[lo, hi]`` (``hi`` also when ``sigma_build`` is 0 or unknown).
    """
    if not (math.isfinite(sigma_pair) and seconds_per_pair > 0):
        return lo
    if not (math.isfinite(sigma_build) and sigma_build > 0):
        return hi
    n = math.sqrt(max(seconds_per_build, 0.0) * sigma_pair ** 2
                  / (seconds_per_pair * sigma_build ** 2))
    return int(min(hi, max(lo, round(n))))


def mde_grid(sigma_build: float, sigma_pair: float, *,
             builds=(1, 2, 4, 8, 16, 32), pairs=(2, 4, 8, 16, 32),
             seconds_per_build: float | None = None,
             seconds_per_pair: float | None = None) -> pd.DataFrame:
    """The MDE of every builds x pairs design, and what it would cost.

    :func:`mde` with the measured variance components (Kalibera & Jones'
    dimensioning: put repetitions where the variance is, relative to their
    cost).

    Parameters
    ----------
    sigma_build, sigma_pair : float
        Between- and within-build SD of the log ratio (e.g. from an A/A
        comparison's verdict). NaN is read as 0.
    builds, pairs : sequence of int
        Layout builds, and ABBA pairs per build.
    seconds_per_build, seconds_per_pair : float, optional
        Measured costs (e.g. from ``Comparison.costs()``); add a ``seconds``
        column when both are given.

    Returns
    -------
    pandas.DataFrame
        Columns ``builds, pairs, processes, mde`` (relative, 0.005 = 0.5 %)
        and optionally ``seconds``.
    """
    sb = 0.0 if sigma_build is None or math.isnan(sigma_build) else sigma_build
    sp = 0.0 if sigma_pair is None or math.isnan(sigma_pair) else sigma_pair
    rows = []
    for nb in builds:
        for npr in pairs:
            row = {"builds": int(nb), "pairs": int(npr), "processes": 2 * int(nb) * int(npr),
                   "mde": mde(sb, sp, int(nb), int(npr))}
            if seconds_per_build is not None and seconds_per_pair is not None:
                row["seconds"] = nb * seconds_per_build + nb * npr * seconds_per_pair
            rows.append(row)
    return pd.DataFrame(rows)


# ---- synthetic data -------------------------------------------------------


def simulate_pairs(n_builds: int, n_pairs: int, effect: float = 0.0,
                   sigma_build: float = 0.0, sigma_pair: float = 0.01,
                   build_effects: Sequence[float] | None = None, seed=0, *,
                   a: str = "A", b: str = "B", base: float = 1000.0) -> pd.DataFrame:
    """Synthetic process-level data with a known true effect.

    Model, on the log scale, for pair ``k`` of build ``j``::

        log A = log(base) + L_j + D_jk + e_A
        log B = log(base) + L_j + D_jk + log1p(effect) + u_j + e_B

    ``L_j ~ N(0, 0.03)`` is a layout shift common to both designs and
    ``D_jk ~ N(0, 0.02)`` drift shared within a pair; both cancel in the
    ratio. ``u_j ~ N(0, sigma_build)`` is the build's layout effect on B only
    (the A/B interaction) and ``e ~ N(0, sigma_pair / sqrt(2))`` is process
    noise, so the log ratio has between-build SD `sigma_build` and
    within-build SD `sigma_pair`, and the true geometric mean ratio is
    ``1 + effect`` (averaged over builds).

    Parameters
    ----------
    n_builds, n_pairs : int
        Builds, and pairs per build (each >= 1).
    effect : float, default 0.0
        True relative effect of B over A (0.005: B takes 0.5 % more cycles).
    sigma_build, sigma_pair : float, default 0.0, 0.01
        SDs of the log ratio between and within builds.
    build_effects : sequence of float, optional
        Per-build relative effects (length `n_builds`, each > -1) used
        instead of the random ``u_j``: ``u_j = log1p(build_effects[j])``.
        Use it to force sign flips.
    seed : int, numpy.random.Generator or None, default 0
        Seed for :func:`numpy.random.default_rng`.
    a, b : str, default "A", "B"
        Design labels.
    base : float, default 1000.0
        Typical cycles per packet.

    Returns
    -------
    pandas.DataFrame
        Columns ``build, pair, design, value``: ``2 * n_builds * n_pairs``
        rows, A then B for each pair.
    """
    for param, v in (("n_builds", n_builds), ("n_pairs", n_pairs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(param, v, "an integer >= 1")
    if not (math.isfinite(effect) and effect > -1.0):
        raise ParameterError("effect", effect, "a finite relative effect > -1")
    sigma_build = _check_nonneg("sigma_build", sigma_build)
    sigma_pair = _check_nonneg("sigma_pair", sigma_pair)
    if not (math.isfinite(base) and base > 0):
        raise ParameterError("base", base, "a finite number > 0")
    if a == b:
        raise ParameterError("b", b, "a design label different from a")
    rng = np.random.default_rng(seed)
    if build_effects is None:
        u = rng.normal(0.0, sigma_build, n_builds)
    else:
        be = np.asarray(build_effects, dtype=float)
        if be.shape != (n_builds,) or not np.all(np.isfinite(be) & (be > -1.0)):
            raise ParameterError("build_effects", list(np.ravel(be))[:5],
                                 f"{n_builds} finite relative effects, each > -1")
        u = np.log1p(be)
    shape = (n_builds, n_pairs)
    layout = rng.normal(0.0, 0.03, n_builds)[:, None]
    drift = rng.normal(0.0, 0.02, shape)
    common = math.log(base) + layout + drift
    noise = sigma_pair / math.sqrt(2.0)
    log_a = common + rng.normal(0.0, noise, shape)
    log_b = common + math.log1p(effect) + u[:, None] + rng.normal(0.0, noise, shape)
    build = np.repeat(np.arange(n_builds), n_pairs)
    pair = np.tile(np.arange(n_pairs), n_builds)
    return pd.DataFrame({
        "build": np.repeat(build, 2),
        "pair": np.repeat(pair, 2),
        "design": np.tile(np.array([a, b], dtype=object), n_builds * n_pairs),
        "value": np.column_stack([np.exp(log_a).ravel(), np.exp(log_b).ravel()]).ravel(),
    })
