"""Few builds, and planning the next experiment: t interval, interim half-width, pairs per build, MDE grid.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats as _sps

from .bootstrap import _ci_from_lr, mde, paired_log_ratios, variance_components_of_ratios
from .validation import _check_confidence, _check_resamples
from .verdict import Verdict, decide_kind


# ---- few builds, and planning the next experiment ---------------------------


def build_t_interval(obs: pd.DataFrame, a: object, b: object, *,
                     confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the ratio from the build means alone.

    Each build's mean log ratio is one observation (its variance is
    ``sigma_build**2 + sigma_pair**2 / n_pairs``, both levels at once); the
    interval is ``exp(mean ± t[n_builds - 1] * sd / sqrt(n_builds))``. This is
    the textbook interval for a few clusters. None with fewer than 2 builds.
    """
    return t_interval_of_ratios(paired_log_ratios(obs, a, b), confidence=confidence)


def t_interval_of_ratios(lr: pd.DataFrame, *, confidence: float = 0.95
                         ) -> tuple[float, float] | None:
    """:func:`build_t_interval` of paired log ratios already formed
    (:func:`paired_log_ratios`'s ``build`` and ``log_ratio``)."""
    codes, _ = pd.factorize(lr["build"], sort=True)
    y = lr["log_ratio"].to_numpy(float)
    m = np.bincount(codes, weights=y) / np.bincount(codes)
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
    """Relative half-width of the interval a verdict on `obs` would report now.

    The interval is the union of the hierarchical bootstrap interval
    (`resamples`) and the build-level t interval, as
    :func:`comparison_verdict`; its half-width is taken on the log scale,
    ``expm1((log(hi) - log(lo)) / 2)``, the scale of the MDE a report
    derives from the interval. ``(hi - lo) / 2`` on the ratio is that
    times the ratio: a budget-mode comparison of a design 14 % faster
    stopped on it at a half-width that implies an MDE 16 % above its
    target. Never below the half-width the verdict's MDE implies
    (:func:`interim_halfwidth_of_ratios`). ``inf`` with fewer than 2 pairs.
    """
    if len(obs) < 4:
        return math.inf
    return interim_halfwidth_of_ratios(paired_log_ratios(obs, a, b), confidence=confidence,
                                       resamples=resamples, seed=seed)


def interim_halfwidth_of_ratios(lr: pd.DataFrame, *, confidence: float = 0.95,
                                resamples: int = 2000, seed=0,
                                target: float | None = None) -> float:
    """:func:`interim_halfwidth` of paired log ratios already formed.

    Never below the half-width the verdict's MDE implies
    (``expm1(z[1 - alpha/2] * se)`` with ``se`` from the variance
    components, as :func:`mde`): a report that quotes the larger of that
    MDE and the interval's then meets its target whenever a stop rule on
    this half-width said so.

    With `target` (the half-width a stop rule compares this with), the
    build-level t interval comes first: when it alone is at least `target`
    wide, so is the union, and its half-width is returned without the
    bootstrap. The answer to "below `target`?" is the same; only a
    half-width at or above it may be the t interval's alone (a lower bound
    of the union's).
    """
    if len(lr) < 2:
        return math.inf
    confidence = _check_confidence(confidence)
    floor = _components_halfwidth(lr, confidence)
    t_ci = t_interval_of_ratios(lr, confidence=confidence)
    if t_ci is not None and target is not None:
        hw = max(_relative_halfwidth(*t_ci), floor)
        if hw >= target:
            return hw
    lo, hi = _ci_from_lr(lr, confidence, _check_resamples(resamples), seed)
    if t_ci is not None:
        lo, hi = min(lo, t_ci[0]), max(hi, t_ci[1])
    return max(_relative_halfwidth(lo, hi), floor)


def _components_halfwidth(lr: pd.DataFrame, confidence: float) -> float:
    """The half-width :func:`mde`'s standard error gives (0 where it has none)."""
    vc = variance_components_of_ratios(lr)
    sb, sp = vc["sigma_build"], vc["sigma_pair"]
    if not (math.isfinite(sb) and math.isfinite(sp)):
        return 0.0
    se = math.sqrt(sb ** 2 / vc["n_builds"]
                   + sp ** 2 / (vc["n_builds"] * vc["n_pairs_per_build"]))
    return float(math.expm1(_sps.norm.ppf(0.5 + confidence / 2.0) * se))


def _relative_halfwidth(lo: float, hi: float) -> float:
    """Half-width of ``[lo, hi]`` on the log scale, as a ratio - 1."""
    return float(math.expm1((math.log(hi) - math.log(lo)) / 2.0))


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


