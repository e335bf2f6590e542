"""Effect and its uncertainty: paired log ratios, hierarchical bootstrap, variance components, MDE.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _sps

from ..exceptions import ParameterError, UnknownNameError
from .validation import _CHUNK_ELEMENTS, _OBS_COLUMNS, _check_confidence, _check_frame, _check_nonneg, _check_positive_values, _check_resamples


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


def variance_components_of_ratios(lr: pd.DataFrame) -> dict:
    """:func:`variance_components` of paired log ratios already formed.

    `lr` is what :func:`paired_log_ratios` returns (``build`` and
    ``log_ratio`` are read): a budget-mode scheduler keeps its pairs' ratios
    as they come and asks this after every pair, which pairing its whole
    frame again each time would make the largest cost of a comparison.
    """
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
    return variance_components_of_ratios(paired_log_ratios(df, a, b))


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


