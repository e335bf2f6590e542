"""Rank tests, Holm's correction and per-build signs (layout sensitivity).

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as _sps

from ..exceptions import ParameterError
from .bootstrap import paired_log_ratios
from .validation import _check_confidence, _check_frame


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
    # Two pairs in a build and a Bonferroni level over hundreds of builds
    # give a t quantile in the thousands: the bound is honestly unbounded
    # (inf), not a warning.
    with np.errstate(over="ignore"):
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


