"""What ``0.0-summary`` runs: the debate, within one time budget.

:func:`debate` first compares the debate's pairs (``bottomup`` and
``encoded`` against ``topdown`` on fastpath, rx, tx and ring) in
:func:`fraglib.compare.compare`'s budget mode, each cell until its MDE target
(:data:`MDE_TARGETS`) or its share of the budget; the other designs then get
what is left, in a second table. The result (:class:`Summary`) is put into
words by :mod:`fraglib.report.summary_text` (the answer first, then the
tables, 72 columns wide, in ``reports/summary.txt``).

:func:`fraglib.experiments.verdict_table.workload_verdicts` is the same
comparison without a budget: every design against a baseline on every
workload.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Mapping, Sequence

import pandas as pd

from .. import stats as _stats
from ..exceptions import ParameterError
from .schedule import run_flags

__all__ = ["debate", "Summary", "halfwidth_for_mde", "mde_from_ci", "WIDTH",
           "WORKLOADS", "NOT_APPLICABLE", "NOT_RUN", "DEBATE_DESIGNS", "MDE_TARGETS",
           "DISPLAY_NAMES"]

#: the longest line of the plain-text summary (a netdev post).
WIDTH = 72
#: the workloads of the debate, in reading order.
WORKLOADS = ("fastpath", "rx", "tx", "ring")
#: ``kind`` of a cell the workload refuses to run.
NOT_APPLICABLE = "not applicable"
#: ``kind`` of a cell the time budget left no room for.
NOT_RUN = "not run"
#: the candidates of the debate, each against the baseline ``topdown``.
DEBATE_DESIGNS = ("bottomup", "encoded")
#: the MDE each debate cell runs to (relative; 0.005 is 0.5 %).
MDE_TARGETS = {"fastpath": 0.005, "rx": 0.01, "tx": 0.01, "ring": 0.01}
#: how the answer sentences name designs.
DISPLAY_NAMES = {"topdown": "top-down", "bottomup": "bottom-up"}

_TABLE_COLUMNS = ("label", "design", "workload", "baseline", "kind", "kind_raw",
                  "resolved", "effect", "ci_lo", "ci_hi", "mde", "p_wilcoxon",
                  "p_holm", "n_builds", "n_pairs", "text", "reason", "ci_method",
                  "wall_s", "faulted", "flag")


def _preferred(workload: str) -> dict:
    """The workload's preferred values of fraglib.run's own arguments."""
    from ..compare import RUN_KEYS
    from ..workloads import get_workload

    w = get_workload(workload)
    return {k: v for k, v in w.params.items() if k in RUN_KEYS}


# ---- the debate, within a time budget --------------------------------------------


def halfwidth_for_mde(mde: float, confidence: float = 0.95, power: float = 0.8) -> float:
    """The CI half-width (ratio scale) at which the MDE is `mde`.

    With standard error ``se`` of the mean log ratio, the MDE is
    ``expm1((z[1 - alpha/2] + z[power]) * se)`` (:func:`fraglib.stats.mde`)
    and the half-width about ``expm1(z[1 - alpha/2] * se)``; budget mode of
    :func:`fraglib.compare.compare` stops on the half-width, so a cell meant
    to reach an MDE of 0.5 % is run to a half-width of about 0.36 %.

    Parameters
    ----------
    mde : float
        Target minimum detectable effect, in (0, 1).
    confidence, power : float
        Level of the interval (alpha = 1 - confidence) and the power.

    Returns
    -------
    float
    """
    from scipy import stats as sps

    if isinstance(mde, bool) or not isinstance(mde, (int, float)) or not 0 < mde < 1:
        raise ParameterError("mde", mde, "a relative effect in (0, 1), e.g. 0.005")
    za = sps.norm.ppf(0.5 + _stats._check_confidence(confidence) / 2.0)
    zb = sps.norm.ppf(_stats._check_confidence(power, "power"))
    se = math.log1p(mde) / (za + zb)
    return float(math.expm1(za * se))


def mde_from_ci(ci_lo: float, ci_hi: float, confidence: float = 0.95,
                power: float = 0.8) -> float:
    """The MDE a reported interval implies (the inverse of :func:`halfwidth_for_mde`).

    ``se = (log(ci_hi) - log(ci_lo)) / (2 z[1 - alpha/2])`` and
    ``MDE = expm1((z[1 - alpha/2] + z[power]) * se)``.
    """
    from scipy import stats as sps

    za = sps.norm.ppf(0.5 + confidence / 2.0)
    zb = sps.norm.ppf(power)
    se = (math.log(ci_hi) - math.log(ci_lo)) / (2.0 * za)
    return float(math.expm1((za + zb) * se))


@dataclasses.dataclass
class Summary:
    """What :func:`debate` measured.

    Attributes
    ----------
    debate : pandas.DataFrame
        One row per debate cell (:data:`DEBATE_DESIGNS` x workloads), columns
        of :func:`~fraglib.experiments.verdict_table.workload_verdicts` plus ``mde_target``, ``target_met``,
        ``budget_s`` (what the cell was allotted), ``stop_reason``,
        ``mde_components`` (the verdict's MDE from the variance components;
        ``mde`` is the larger of it and :func:`mde_from_ci` of the reported
        interval, which few builds widen),
        ``sigma_build``, ``sigma_pair``. Holm-corrected as one family.
    others : pandas.DataFrame
        The same for every other design against the baseline, a family of
        its own, run with what the debate cells left.
    budget_s : float
        The overall time budget.
    spent_s : float
        Seconds actually spent.
    baseline : str
    method : str
        One line: how the cells were measured.
    """

    debate: pd.DataFrame
    others: pd.DataFrame
    budget_s: float
    spent_s: float
    baseline: str = "topdown"
    method: str = ""

    def answer_lines(self) -> list[str]:
        """:func:`fraglib.report.summary_text.answer_lines` of the debate table."""
        from ..report.summary_text import answer_lines

        return answer_lines(self.debate)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"debate": self.debate, "others": self.others}


def _classify(baseline: str, design: str, workload: str, builds: int, processes: int,
              seed: int, resamples: int, kw: Mapping) -> str | None:
    """Why the workload refuses this cell (None: it can run)."""
    from ..compare import plan

    try:
        plan(baseline, design, workload=workload, builds=builds, processes=processes,
             seed=seed, resamples=resamples, **kw)
    except ParameterError as e:
        return str(e)
    return None


def _run_cell(baseline: str, design: str, workload: str, kw: Mapping, *, budget: float,
              target: float, builds: int, processes: int, seed: int, store: bool, root,
              resamples: int, progress: bool) -> dict:
    """One budget-mode comparison as a row (with its verdict under "verdict")."""
    from ..compare import compare

    row = {"label": f"{design}/{workload}", "design": design, "workload": workload,
           "baseline": baseline, "mde_target": target, "budget_s": budget}
    t0 = time.monotonic()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = compare(baseline, design, workload=workload, builds=builds,
                        processes=processes, budget=budget,
                        target_halfwidth=halfwidth_for_mde(target), seed=seed,
                        store=store, root=root, progress=progress,
                        resamples=resamples, **kw)
    except ParameterError as e:
        if e.param != "budget":
            raise
        return {**row, "kind": NOT_RUN, "kind_raw": NOT_RUN, "resolved": False,
                "reason": f"{budget:.0f} s left no room for 2 process pairs",
                "wall_s": time.monotonic() - t0}
    faulted, flag = run_flags(caught, c.n_processes)
    return {**row, "verdict": c.verdict, "reason": "", "ci_method": c.ci_method,
            "wall_s": c.wall_s, "stop_reason": c.stop_reason,
            "sigma_build": c.verdict.sigma_build, "sigma_pair": c.verdict.sigma_pair,
            "faulted": faulted, "flag": flag}


_SUMMARY_COLUMNS = _TABLE_COLUMNS + ("mde_components", "mde_target", "target_met",
                                     "budget_s", "stop_reason", "sigma_build",
                                     "sigma_pair")


def _family(rows: list[dict], alpha: float) -> pd.DataFrame:
    """Holm-correct the measured rows as one family; keep the others."""
    measured = [r for r in rows if "verdict" in r]
    table = (_stats.verdict_table(measured, alpha=alpha) if measured
             else pd.DataFrame(columns=list(_SUMMARY_COLUMNS)))
    rest = [r for r in rows if "verdict" not in r]
    if rest:
        table = pd.concat([table, pd.DataFrame(rest)], ignore_index=True)
    if table.empty:
        return pd.DataFrame(columns=list(_SUMMARY_COLUMNS))
    order = {r["label"]: i for i, r in enumerate(rows)}
    table = (table.assign(_o=table["label"].map(order)).sort_values("_o")
             .drop(columns="_o").reset_index(drop=True))
    for c in _SUMMARY_COLUMNS:
        if c not in table:
            table[c] = math.nan
    table["faulted"] = table["faulted"].fillna(0).astype(int)
    for col in ("flag", "reason", "stop_reason"):
        table[col] = table[col].astype(object).where(table[col].notna(), "")
    # the MDE the reported interval implies: with few builds the interval is
    # widened to the Student-t one (compare.guard_few_builds) while the
    # verdict's MDE still assumes the normal; report the larger of the two
    table["mde_components"] = table["mde"]
    table["mde"] = [max(m, mde_from_ci(lo, hi)) if isinstance(m, float) and math.isfinite(m)
                    and isinstance(lo, float) and math.isfinite(lo) else m
                    for m, lo, hi in zip(table["mde"], table["ci_lo"], table["ci_hi"])]
    table["target_met"] = [bool(isinstance(m, float) and math.isfinite(m) and m <= t)
                           for m, t in zip(table["mde"], table["mde_target"])]
    return table[list(_SUMMARY_COLUMNS)]


def _debate_cells(cells, baseline: str, kws: Mapping, targets: Mapping, *, pool_s: float,
                  builds: int, processes: int, seed: int, store: bool, root, resamples: int,
                  progress: bool) -> dict:
    """The debate's cells in one :func:`fraglib.portfolio.compare_portfolio`.

    All cells share `pool_s` seconds (:class:`fraglib.portfolio.Portfolio`):
    after a pilot of each (its first wave), the next pair goes to the cell
    closest to its MDE target among those that can still reach it in the
    time left; when none can, to the cell that gains the most precision per
    second (time in proportion to sigma * sqrt(cost) / target). A cell that
    reaches its target leaves the rest to the others. Rows as
    :func:`_run_cell`'s.
    """
    from ..compare import plan
    from ..portfolio import compare_portfolio

    plans = {(d, w): plan(baseline, d, workload=w, builds=builds, processes=processes,
                          budget=pool_s, target_halfwidth=halfwidth_for_mde(targets[w]),
                          seed=seed, resamples=resamples, **kws[w])
             for d, w in cells}
    done, failed, caught = compare_portfolio(plans, store=store, root=root,
                                             progress=progress)
    rows = {}
    for (d, w), p in plans.items():
        row = {"label": f"{d}/{w}", "design": d, "workload": w, "baseline": baseline,
               "mde_target": targets[w], "budget_s": pool_s}
        if (d, w) in failed:
            rows[(d, w)] = {**row, "kind": NOT_RUN, "kind_raw": NOT_RUN, "resolved": False,
                            "reason": failed[(d, w)], "wall_s": math.nan}
            continue
        c = done[(d, w)]
        faulted, flag = run_flags(caught[(d, w)], c.n_processes)
        rows[(d, w)] = {**row, "verdict": c.verdict, "reason": "", "ci_method": c.ci_method,
                        "wall_s": c.wall_s, "stop_reason": c.stop_reason,
                        "sigma_build": c.verdict.sigma_build,
                        "sigma_pair": c.verdict.sigma_pair, "faulted": faulted,
                        "flag": flag}
    return rows


def _prebuild(designs: Sequence[str], builds: int, seed: int) -> None:
    """Compile the first `builds` layout builds of `designs`, two at a time.

    The seeds are those :func:`fraglib.compare.compare` derives from `seed`
    (:func:`fraglib.compare.layout_seed`), so its first wave finds them in
    the build cache.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .._build import build_engine
    from ..compare import layout_seed

    jobs = [(d, layout_seed(seed, j, 0)) for j in range(builds) for d in designs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: build_engine(job[0], layout_seed=job[1]), jobs))


def debate(budget_s: float = 160.0, baseline: str = "topdown",
           designs: Sequence[str] = DEBATE_DESIGNS,
           workloads: Sequence[str] = WORKLOADS, *,
           others: Sequence[str] | None = None,
           mde_targets: Mapping[str, float] | None = None, others_share: float = 0.2,
           min_cell_s: float = 15.0, builds: int = 4, others_builds: int = 2,
           processes: int = 2, seed: int = 0,
           alpha: float = 0.05, workload_params: Mapping[str, Mapping] | None = None,
           store: bool = True, root=None, progress: bool = False, resamples: int = 10_000,
           **params) -> Summary:
    """Answer the debate within `budget_s` seconds, then rank the other designs.

    The budget is spent in this order:

    1. **The debate cells**, ``designs`` x ``workloads`` against `baseline`,
       together in :func:`fraglib.portfolio.compare_portfolio` (budget mode of
       each: waves of ``builds`` layout builds until the CI half-width gives
       the workload's MDE target, :func:`halfwidth_for_mde` of
       :data:`MDE_TARGETS`). They share ``(1 - others_share) * budget_s``
       (at least ``min_cell_s`` per cell, even past the budget: the question
       is answered first): after a pilot wave of each cell, every next pair
       goes to the cell closest to its target among those that can still
       reach it in the time left, so as many cells as possible reach their
       targets; when none can, to the cell that gains the most precision
       per second (the seconds follow each workload's measured noise and
       cost: :class:`fraglib.portfolio.Portfolio`). The first wave's
       engines of the baseline and the debate designs are compiled up
       front, inside the budget, since every cell of a design shares them.
    2. **The other designs** (`others`) against `baseline` on the same
       workloads, fastpath row of every design first, sharing what is left
       of the whole budget (at least ``others_share``). When that leaves a cell
       less than `min_cell_s`, it and the rest are listed as "not run".

    Cells a workload refuses are "not applicable" and cost nothing. Each
    table is Holm-corrected as its own family (the debate cells are the
    question asked beforehand; the rest is exploration).

    Parameters
    ----------
    budget_s : float, default 160
        Overall seconds, compiling included. Each comparison may overrun its
        share by at most one process pair.
    baseline : str, default "topdown"
    designs : sequence of str, default ("bottomup", "encoded")
        The debate's candidates.
    workloads : sequence of str, default fastpath, rx, tx, ring
    others : sequence of str, optional
        The second table's designs; default every other registered design.
        ``[]`` skips it.
    mde_targets : mapping, optional
        MDE to stop each workload's debate cells at (relative); default
        :data:`MDE_TARGETS` (0.5 % fastpath, 1 % the rest). The other designs
        use the same targets.
    others_share : float, default 0.2
        Fraction of the budget kept for the other designs, in [0, 1).
    min_cell_s : float, default 15
        The debate cells share at least this many seconds each (so a budget
        below ``8 * min_cell_s`` plus the first compiles is exceeded); no
        other cell starts with less.
    builds, processes : int
        Per comparison: builds of each wave, and pairs per build of the
        first wave (later waves follow the measured variance components).
    others_builds : int, default 2
        Builds per wave of the other designs' cells: each new design's
        first wave compiles its engines inside the cell's share, and four
        of them took a whole 15-30 s share here.
    seed, alpha, store, root, progress, resamples :
        As for :func:`~fraglib.experiments.verdict_table.workload_verdicts`.
    workload_params : mapping, optional
        Per-workload parameters (``{"tx": {"packets": 512}}``).
    **params
        Run and workload parameters for every cell.

    Returns
    -------
    Summary

    Raises
    ------
    ParameterError
        Bad input, named, before anything runs.
    """
    from ..designs import design_names, get_design
    from ..workloads import workload_names

    try:
        budget_s = float(budget_s)
    except (TypeError, ValueError):
        raise ParameterError("budget_s", budget_s, "a number of seconds > 0") from None
    if not (math.isfinite(budget_s) and budget_s > 0):
        raise ParameterError("budget_s", budget_s, "a number of seconds > 0")
    if isinstance(others_share, bool) or not isinstance(others_share, (int, float)) \
            or not 0 <= others_share < 1:
        raise ParameterError("others_share", others_share, "a fraction in [0, 1)")
    if isinstance(others_builds, bool) or not isinstance(others_builds, int) \
            or others_builds < 1:
        raise ParameterError("others_builds", others_builds, "an integer >= 1")
    if isinstance(min_cell_s, bool) or not isinstance(min_cell_s, (int, float)) \
            or not min_cell_s > 0:
        raise ParameterError("min_cell_s", min_cell_s, "seconds > 0")
    get_design(baseline)
    designs = list(dict.fromkeys(designs))
    for d in designs:
        get_design(d)
    if baseline in designs:
        raise ParameterError("designs", baseline, "designs other than the baseline")
    if others is None:
        others = [d for d in design_names() if d != baseline and d not in designs]
    others = [d for d in dict.fromkeys(others) if d not in designs]
    for d in others:
        get_design(d)
    if baseline in others:
        raise ParameterError("others", baseline, "designs other than the baseline")
    known = workload_names()
    for w in workloads:
        if w not in known:
            raise ParameterError("workloads", w, "workload names: " + ", ".join(known))
    targets = {**MDE_TARGETS, **dict(mde_targets or {})}
    for w in workloads:
        t = targets.get(w, 0.01)
        targets[w] = t
        halfwidth_for_mde(t)
    extra = dict(workload_params or {})
    for w in extra:
        if w not in known:
            raise ParameterError("workload_params", w, "keys that are workload names: "
                                 + ", ".join(known))
    kws = {w: {**_preferred(w), **params, **dict(extra.get(w, {}))} for w in workloads}
    from ..compare import plan

    for w in workloads:     # bad input fails here, before anything runs
        plan(baseline, baseline, workload=w, builds=builds, processes=processes, aa=True,
             budget=budget_s, seed=seed, resamples=resamples, **kws[w])

    t0 = time.monotonic()
    common = dict(builds=builds, processes=processes, seed=seed, store=store, root=root,
                  resamples=resamples, progress=progress)
    # the first wave's engines of the debate designs, compiled once up front:
    # every cell of a design shares them, so no cell's share pays for them
    _prebuild([baseline, *designs], builds, seed)

    def spend(cells, pool_end):
        """Run `cells` in order, sharing the seconds until `pool_end`.

        In order of priority: a cell gets at least min_cell_s while that
        much is left; the cells after it then get what remains.
        """
        rows = {}
        for i, (d, w) in enumerate(cells):
            left = pool_end - time.monotonic()
            share = max(left / (len(cells) - i), min_cell_s)
            if left < min_cell_s:
                rows[(d, w)] = {"label": f"{d}/{w}", "design": d, "workload": w,
                                "baseline": baseline, "kind": NOT_RUN, "kind_raw": NOT_RUN,
                                "resolved": False, "mde_target": targets[w],
                                "reason": f"the budget of {budget_s:.0f} s was spent "
                                          "before its turn"}
                continue
            rows[(d, w)] = _run_cell(baseline, d, w, kws[w], budget=share,
                                     target=targets[w],
                                     **{**common, "builds": others_builds})
        return rows

    debate_cells = [(d, w) for w in workloads for d in designs]
    other_cells = [(d, w) for w in workloads for d in others]
    refused = {c: _classify(baseline, *c, builds, processes, seed, resamples, kws[c[1]])
               for c in debate_cells + other_cells}

    def table_of(cells, ran):
        rows = [ran.get((d, w)) or {
            "label": f"{d}/{w}", "design": d, "workload": w, "baseline": baseline,
            "kind": NOT_APPLICABLE, "kind_raw": NOT_APPLICABLE, "resolved": False,
            "reason": refused[(d, w)], "mde_target": targets[w]} for d, w in cells]
        return _family(rows, alpha)

    ran = _debate_cells([c for c in debate_cells if not refused[c]], baseline, kws, targets,
                        pool_s=max(t0 + (1 - others_share) * budget_s - time.monotonic(),
                                   min_cell_s * len(debate_cells)), **common)
    first = table_of([(d, w) for d in designs for w in workloads], ran)
    ran = spend([c for c in other_cells if not refused[c]], t0 + budget_s)
    second = table_of([(d, w) for d in others for w in workloads], ran)
    spent = time.monotonic() - t0
    for t in (first, second):
        t.attrs.update({"baseline": baseline, "alpha": alpha, "seed": seed,
                        "budget_s": budget_s})
    method = (f"budget mode: waves of {builds} layout builds x ABBA process pairs; "
              "the debate's cells share their time (targets within reach first, "
              "then by noise and cost); hier. bootstrap CI; Holm per table")
    return Summary(debate=first, others=second, budget_s=budget_s, spent_s=spent,
                   baseline=baseline, method=method)
