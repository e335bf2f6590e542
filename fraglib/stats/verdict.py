"""The verdict: one comparison's kind, effect, interval and the evidence behind it.

Part of :mod:`fraglib.stats` (its docstring has the data model).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from .bootstrap import _ci_from_lr, effect, mde, paired_log_ratios, variance_components_of_ratios
from .significance import _build_signs_lr, _wilcoxon_lr, holm
from .validation import KINDS, _check_confidence, _check_resamples


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
    vc = variance_components_of_ratios(lr)
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


