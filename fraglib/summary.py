"""The answer to the debate, the verdict tables, and their plain-text form.

:func:`debate` is what ``0.0-summary`` runs: within one overall time budget
it first compares the debate's pairs (``bottomup`` and ``encoded`` against
``topdown`` on fastpath, rx, tx and ring) in :func:`fraglib.compare.compare`'s
budget mode, each cell until its MDE target (:data:`MDE_TARGETS`) or its share
of the budget; the other designs then get what is left, in a second table.
:func:`answer_lines` turns the debate table into one sentence per workload
("bottom-up is slower than top-down by X % [CI] (MDE Y %)", or "not resolved
below Y %"), and :func:`format_report` puts those sentences first in
``reports/summary.txt``.

:func:`verdicts` compares every design against a baseline (``topdown``) on
every workload with :func:`fraglib.compare.compare`, Holm-corrects the
Wilcoxon p-values across all cells (:func:`fraglib.stats.verdict_table`) and
lists the cells a workload refuses as "not applicable" with the reason.
:func:`format_summary` turns that table into text that fits 72 columns (a
netdev post), and :func:`write_summary` writes it, by default to
``reports/summary.txt``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import textwrap
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import stats as _stats
from .exceptions import ParameterError

__all__ = ["verdicts", "format_summary", "write_summary", "summary_path",
           "debate", "Summary", "answer", "answer_lines", "answer_markdown", "measured",
           "format_report", "halfwidth_for_mde", "mde_from_ci", "run_flags", "WIDTH",
           "WORKLOADS", "NOT_APPLICABLE", "NOT_RUN", "DEBATE_DESIGNS", "MDE_TARGETS",
           "DISPLAY_NAMES"]

#: the longest line :func:`format_summary` writes.
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
    from .compare import RUN_KEYS
    from .workloads import get_workload

    w = get_workload(workload)
    return {k: v for k, v in w.params.items() if k in RUN_KEYS}


def verdicts(baseline: str = "topdown", designs: Sequence[str] | None = None,
             workloads: Sequence[str] | None = WORKLOADS, *, builds: int = 3,
             processes: int = 4, seed: int = 0, alpha: float = 0.05,
             workload_params: Mapping[str, Mapping[str, object]] | None = None,
             store: bool = True, root=None, progress: bool = False,
             resamples: int = 10_000, **params) -> pd.DataFrame:
    """Every design against `baseline` on every workload, Holm-corrected.

    Parameters
    ----------
    baseline : str, default "topdown"
        Design A of every cell.
    designs : sequence of str, optional
        Designs B; default every registered design except `baseline`, with
        ``bottomup`` (the question of the debate) first.
    workloads : sequence of str, optional
        Workloads; names that are not registered are skipped (listed in
        ``table.attrs["skipped_workloads"]``). None: every registered one
        except ``sizes`` (not a measurement).
    builds, processes, seed, store, root, progress, resamples :
        Passed to :func:`fraglib.compare.compare` for every cell.
    alpha : float, default 0.05
        Family-wise error rate of the Holm correction.
    workload_params : mapping, optional
        Per-workload parameters, e.g. ``{"tx": {"packets": 512}}``. Each
        workload starts from its preferred run arguments (the registry's
        ``packets``, ``size``, ``batch``...), then `params`, then these.
    **params
        Run and workload parameters for every cell (``packets=16384``).

    Returns
    -------
    pandas.DataFrame
        One row per (design, workload): ``label`` ("design/workload"),
        ``design``, ``workload``, ``baseline``, the columns of
        :func:`fraglib.stats.verdict_table` (``kind`` after Holm), ``reason``
        (why a cell is "not applicable", else empty), ``ci_method`` and
        ``wall_s``. Not-applicable rows have NaN numbers.
    """
    from .compare import compare, plan
    from .designs import design_names, get_design

    get_design(baseline)
    if designs is None:
        others = [d for d in design_names() if d != baseline]
        designs = sorted(others, key=lambda d: d != "bottomup")
    designs = list(dict.fromkeys(designs))
    for d in designs:
        get_design(d)
    if baseline in designs:
        raise ParameterError("designs", baseline, "designs other than the baseline")
    from .workloads import workload_names

    known = workload_names()
    wanted = [w for w in known if w != "sizes"] if workloads is None else list(workloads)
    present = [w for w in wanted if w in known]
    extra = dict(workload_params or {})
    for w in extra:
        if w not in known:
            raise ParameterError("workload_params", w, "keys that are workload names: "
                                 + ", ".join(known))

    cells, na = [], []
    for w in present:
        kw = {**_preferred(w), **params, **dict(extra.get(w, {}))}
        # bad input fails here, for the baseline, before anything runs; what
        # compare() refuses below is then the workload refusing a design
        plan(baseline, baseline, workload=w, builds=builds, processes=processes,
             aa=True, seed=seed, resamples=resamples, **kw)
        for d in designs:
            label = {"label": f"{d}/{w}", "design": d, "workload": w, "baseline": baseline}
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    c = compare(baseline, d, workload=w, builds=builds,
                                processes=processes, seed=seed, store=store, root=root,
                                progress=progress, resamples=resamples, **kw)
            except ParameterError as e:
                na.append({**label, "kind": NOT_APPLICABLE, "kind_raw": NOT_APPLICABLE,
                           "resolved": False, "reason": str(e)})
                continue
            faulted, flag = run_flags(caught, c.n_processes)
            cells.append({**label, "verdict": c.verdict, "reason": "",
                          "ci_method": c.ci_method, "wall_s": c.wall_s,
                          "faulted": faulted, "flag": flag})
    table = (_stats.verdict_table(cells, alpha=alpha) if cells
             else pd.DataFrame(columns=list(_TABLE_COLUMNS)))
    if na:
        table = pd.concat([table, pd.DataFrame(na)], ignore_index=True)
    order = {(d, w): i for i, (w, d) in enumerate((w, d) for w in present for d in designs)}
    table = table.iloc[sorted(range(len(table)), key=lambda i: order[
        (table["design"].iat[i], table["workload"].iat[i])])].reset_index(drop=True)
    table = table[[c for c in _TABLE_COLUMNS if c in table]]
    table.attrs.update({"baseline": baseline, "builds": builds, "processes": processes,
                        "alpha": alpha, "seed": seed,
                        "skipped_workloads": [w for w in wanted if w not in known]})
    return table


# ---- flags ------------------------------------------------------------------

_FAULTS = "page faults in the timed region"


def run_flags(caught: Sequence[warnings.WarningMessage], n_runs: int | None = None
              ) -> tuple[int, str]:
    """Turn the warnings of a comparison's engine runs into data.

    :func:`fraglib.run` warns when a run had page faults in its timed region
    (e.g. the ``malloc`` baseline, whose arena is glibc's). A report shows
    such a cell with a footnote instead of a warning block.

    Parameters
    ----------
    caught : sequence of warnings.WarningMessage
        What ``warnings.catch_warnings(record=True)`` recorded around the
        comparison.
    n_runs : int, optional
        Engine processes of the comparison, named in the text.

    Returns
    -------
    (int, str)
        Runs with page faults in the timed region, and one line describing
        every flag (empty when there is none). Only the warning messages are
        kept, never the file and line they were raised from.
    """
    faulted, designs, most, other = 0, [], 0, []
    for w in caught:
        msg = str(w.message)
        if _FAULTS in msg:
            faulted += 1
            head, _, rest = msg.partition(": ")
            designs.append(head.split("/")[0])
            n = rest.split(" ", 1)[0]
            most = max(most, int(n)) if n.isdigit() else most
        else:
            other.append(msg)
    parts = []
    if faulted:
        of = f" of {n_runs}" if n_runs else ""
        who = ", ".join(dict.fromkeys(designs))
        parts.append(f"{_FAULTS} in {faulted}{of} engine runs ({who}; up to {most} faults "
                     "per run): its cycles include the kernel's fault handling")
    parts += list(dict.fromkeys(other))
    return faulted, "; ".join(parts)


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
        of :func:`verdicts` plus ``mde_target``, ``target_met``,
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
        """:func:`answer_lines` of the debate table."""
        return answer_lines(self.debate)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"debate": self.debate, "others": self.others}


def _display(design: str) -> str:
    return DISPLAY_NAMES.get(design, design)


def answer(row: Mapping) -> str:
    """One sentence for one verdict row, computed from its numbers.

    "bottom-up is slower than top-down by 1.20 % [0.40, 2.00] (MDE 0.45 %)",
    "bottom-up vs top-down: not resolved below 2.10 % (B/A +0.30 % [-1.20,
    +1.80] %)", "... layout-sensitive ...", or why the cell was not measured.

    Parameters
    ----------
    row : mapping
        A row of :func:`debate` or :func:`verdicts` (``design``,
        ``baseline``, ``kind``, ``kind_raw``, ``effect``, ``ci_lo``,
        ``ci_hi``, ``mde``, ``reason``).
    """
    b, a = _display(str(row["design"])), _display(str(row.get("baseline", "topdown")))
    kind = str(row["kind"])
    if kind in (NOT_APPLICABLE, NOT_RUN):
        why = str(row.get("reason") or "").strip()
        word = "not applicable" if kind == NOT_APPLICABLE else "not measured"
        return f"{b} vs {a}: {word}" + (f" ({why})" if why else "")
    mde = row.get("mde", math.nan)
    known = isinstance(mde, (int, float)) and math.isfinite(mde)
    mde_txt = f"MDE {100 * mde:.2f} %" if known else "MDE unknown"
    eff, lo, hi = (float(row[k]) for k in ("effect", "ci_lo", "ci_hi"))
    if kind == "slower":
        return (f"{b} is slower than {a} by {100 * (eff - 1):.2f} % "
                f"[{100 * (lo - 1):.2f}, {100 * (hi - 1):.2f}] ({mde_txt})")
    if kind == "faster":
        return (f"{b} is faster than {a} by {100 * (1 - eff):.2f} % "
                f"[{100 * (1 - hi):.2f}, {100 * (1 - lo):.2f}] ({mde_txt})")
    interval = (f"B/A {100 * (eff - 1):+.2f} % [{100 * (lo - 1):+.2f}, "
                f"{100 * (hi - 1):+.2f}]")
    if kind == "layout-sensitive":
        return (f"{b} vs {a}: layout-sensitive, code layout flips the sign "
                f"({mde_txt}; {interval})")
    holm = (" after Holm correction" if str(row.get("kind_raw", kind)) in ("faster", "slower")
            else "")
    below = f"below {100 * mde:.2f} %" if known else "(MDE unknown: needs 2 builds)"
    return f"{b} vs {a}: not resolved {below}{holm} ({interval})"


def answer_lines(table: pd.DataFrame) -> list[str]:
    """``"<workload>: <sentence>"`` for every row of `table`, in order."""
    return [f"{r['workload']}: {answer(r)}" for _, r in table.iterrows()]


def _classify(baseline: str, design: str, workload: str, builds: int, processes: int,
              seed: int, resamples: int, kw: Mapping) -> str | None:
    """Why the workload refuses this cell (None: it can run)."""
    from .compare import plan

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
    from .compare import compare

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


def _prebuild(designs: Sequence[str], builds: int, seed: int) -> None:
    """Compile the first `builds` layout builds of `designs`, two at a time.

    The seeds are those :func:`fraglib.compare.compare` derives from `seed`
    (:func:`fraglib.compare.layout_seed`), so its first wave finds them in
    the build cache.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ._build import build_engine
    from .compare import layout_seed

    jobs = [(d, layout_seed(seed, j, 0)) for j in range(builds) for d in designs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: build_engine(job[0], layout_seed=job[1]), jobs))


def debate(budget_s: float = 160.0, baseline: str = "topdown",
           designs: Sequence[str] = DEBATE_DESIGNS,
           workloads: Sequence[str] = WORKLOADS, *,
           others: Sequence[str] | None = None,
           mde_targets: Mapping[str, float] | None = None, others_share: float = 0.2,
           min_cell_s: float = 15.0, builds: int = 4, processes: int = 2, seed: int = 0,
           alpha: float = 0.05, workload_params: Mapping[str, Mapping] | None = None,
           store: bool = True, root=None, progress: bool = False, resamples: int = 10_000,
           **params) -> Summary:
    """Answer the debate within `budget_s` seconds, then rank the other designs.

    The budget is spent in this order:

    1. **The debate cells**, ``designs`` x ``workloads`` against `baseline`,
       one after another, each in budget mode of
       :func:`fraglib.compare.compare`: waves of ``builds`` layout builds until
       the CI half-width gives the workload's MDE target
       (:func:`halfwidth_for_mde` of :data:`MDE_TARGETS`) or the cell's share
       is spent. A cell's share is what is left of ``(1 - others_share) *
       budget_s`` divided by the debate cells still to run, but at least
       `min_cell_s` (even past the budget: the question is answered first),
       so time a cell saves by reaching its target goes to the ones after
       it. The first wave's engines of the baseline and the debate designs
       are compiled up front, inside the budget, since every cell of a
       design shares them.
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
        Every debate cell gets at least this many seconds (so a budget
        below ``8 * min_cell_s`` plus the first compiles is exceeded); no
        other cell starts with less.
    builds, processes : int
        Per comparison: builds of each wave, and pairs per build of the
        first wave (later waves follow the measured variance components).
    seed, alpha, store, root, progress, resamples :
        As for :func:`verdicts`.
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
    from .designs import design_names, get_design
    from .workloads import workload_names

    try:
        budget_s = float(budget_s)
    except (TypeError, ValueError):
        raise ParameterError("budget_s", budget_s, "a number of seconds > 0") from None
    if not (math.isfinite(budget_s) and budget_s > 0):
        raise ParameterError("budget_s", budget_s, "a number of seconds > 0")
    if isinstance(others_share, bool) or not isinstance(others_share, (int, float)) \
            or not 0 <= others_share < 1:
        raise ParameterError("others_share", others_share, "a fraction in [0, 1)")
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
    from .compare import plan

    for w in workloads:     # bad input fails here, before anything runs
        plan(baseline, baseline, workload=w, builds=builds, processes=processes, aa=True,
             budget=budget_s, seed=seed, resamples=resamples, **kws[w])

    t0 = time.monotonic()
    common = dict(builds=builds, processes=processes, seed=seed, store=store, root=root,
                  resamples=resamples, progress=progress)
    # the first wave's engines of the debate designs, compiled once up front:
    # every cell of a design shares them, so no cell's share pays for them
    _prebuild([baseline, *designs], builds, seed)

    def spend(cells, pool_end, required=False):
        """Run `cells` in order, sharing the seconds until `pool_end`.

        In order of priority: a cell gets at least min_cell_s while that
        much is left (always, when `required`); the cells after it then get
        what remains.
        """
        rows = {}
        for i, (d, w) in enumerate(cells):
            left = pool_end - time.monotonic()
            share = max(left / (len(cells) - i), min_cell_s)
            if left < min_cell_s and not required:
                rows[(d, w)] = {"label": f"{d}/{w}", "design": d, "workload": w,
                                "baseline": baseline, "kind": NOT_RUN, "kind_raw": NOT_RUN,
                                "resolved": False, "mde_target": targets[w],
                                "reason": f"the budget of {budget_s:.0f} s was spent "
                                          "before its turn"}
                continue
            rows[(d, w)] = _run_cell(baseline, d, w, kws[w], budget=share,
                                     target=targets[w], **common)
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

    ran = spend([c for c in debate_cells if not refused[c]],
                t0 + (1 - others_share) * budget_s, required=True)
    first = table_of([(d, w) for d in designs for w in workloads], ran)
    ran = spend([c for c in other_cells if not refused[c]], t0 + budget_s)
    second = table_of([(d, w) for d in others for w in workloads], ran)
    spent = time.monotonic() - t0
    for t in (first, second):
        t.attrs.update({"baseline": baseline, "alpha": alpha, "seed": seed,
                        "budget_s": budget_s})
    method = (f"budget mode: waves of {builds} layout builds x ABBA process pairs "
              f"until the MDE target or the cell's share of {budget_s:.0f} s; "
              "hier. bootstrap CI; Holm per table")
    return Summary(debate=first, others=second, budget_s=budget_s, spent_s=spent,
                   baseline=baseline, method=method)


# ---- plain text -----------------------------------------------------------------


def _signed(x: float) -> str:
    return f"{x:+.2f}" if abs(x) < 100 else f"{x:+.0f}"


def _machine_line() -> str:
    from . import metadata

    m = metadata.machine_metadata()
    cpu = str(m.get("cpu_model", "unknown CPU"))
    cores = m.get("cpu_logical_cores", "?")
    vm = ", VM" if m.get("hypervisor") is True else ""
    return f"{cpu}, {cores} CPUs{vm}, Linux {m.get('kernel', '?')}"


def _sha() -> str:
    from .provenance import git_state

    g = git_state()
    sha = str(g.get("git_sha", "unknown"))[:12]
    return sha + (" (dirty)" if g.get("git_dirty") else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "~"


_SHORT = {"layout-sensitive": "layout-sens.", "no difference": "no diff.",
          "no difference*": "no diff.*", "not applicable": "n/a", NOT_RUN: "not run"}


def _verdict_cell(kind: str, marker: str, width: int = 16) -> str:
    text = f"{kind} {marker}".strip()
    if len(text) > width:
        text = f"{_SHORT.get(kind, kind)} {marker}".strip()
    return _clip(text, width)


def _table_rows(table: pd.DataFrame, notes: list[str]) -> tuple[list[str], bool]:
    """Header and one line per row; footnotes are appended to `notes`."""
    head = (f"{'design':<10} {'workload':<8} {'B/A %':>6} {'95 % CI':<16} "
            f"{'verdict':<16} {'MDE %':>5} {'n':>4}")
    lines, demoted = [head, "-" * len(head)], False

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    for _, r in table.iterrows():
        design, wl = _clip(str(r["design"]), 10), _clip(str(r["workload"]), 8)
        kind = str(r["kind"])
        if kind in (NOT_APPLICABLE, NOT_RUN):
            # the row names the cell; equal reasons share one note
            why = str(r.get("reason", "") or "refused")
            m = mark(f"{'not applicable' if kind == NOT_APPLICABLE else 'not run'}: {why}")
            lines.append(f"{design:<10} {wl:<8} {'-':>6} {'-':<16} "
                         f"{_verdict_cell(_SHORT[kind], m):<16} {'-':>5} {'-':>4}")
            continue
        eff = 100 * (float(r["effect"]) - 1)
        ci = f"[{_signed(100 * (r['ci_lo'] - 1))}, {_signed(100 * (r['ci_hi'] - 1))}]"
        if r.get("kind_raw", kind) != kind:
            kind, demoted = kind + "*", True
        flag = r.get("flag", "")
        m = mark(flag.strip()) if isinstance(flag, str) and flag.strip() else ""
        mde = r.get("mde", math.nan)
        mde_txt = f"{100 * mde:.2f}" if isinstance(mde, float) and math.isfinite(mde) \
            and mde < 1 else "-"
        lines.append(_clip(f"{design:<10} {wl:<8} {_signed(eff):>6} {_clip(ci, 16):<16} "
                           f"{_verdict_cell(kind, m):<16} {mde_txt:>5} "
                           f"{int(r['n_pairs']):>4}", WIDTH))
    return lines, demoted


def _legend(base: str, demoted: bool, notes: Sequence[str]) -> list[str]:
    legend = (f"B/A % = cycles per packet of the design relative to {base} "
              "(negative: faster); 95 % CI of that ratio; n = A/B process pairs; "
              "MDE = minimum detectable effect (alpha 0.05, power 0.8). "
              "'no difference' means not resolved at this MDE, not 'equal'. "
              "'layout-sensitive': code-layout builds disagree on the sign.")
    lines = textwrap.wrap(legend, WIDTH)
    if demoted:
        lines += textwrap.wrap("* CI excluded 0 but the Holm-adjusted Wilcoxon p across "
                               "the cells of its table is above 0.05.", WIDTH)
    for i, n in enumerate(notes, 1):
        lines += textwrap.wrap(f"[{i}] {n}", WIDTH, subsequent_indent="    ")
    return lines


def answer_markdown(result: Summary) -> str:
    """The answer as Markdown: one bullet per debate cell, grouped by design.

    The first thing ``0.0-summary`` shows; the same sentences open
    ``summary.txt`` (:func:`format_report`).
    """
    if not isinstance(result, Summary):
        raise ParameterError("result", type(result).__name__,
                             "the Summary returned by fraglib.summary.debate()")
    t = result.debate
    out = []
    for design in dict.fromkeys(t["design"]):
        out.append(f"**{_display(design)} vs {_display(result.baseline)}** "
                   "(TSC cycles per packet, B/A):\n")
        out += [f"- **{r['workload']}**: {answer(r)}" for _, r in
                t[t["design"] == design].iterrows()]
        out.append("")
    spent = (f"Measured in {result.spent_s:.0f} s of a {result.budget_s:.0f} s budget; "
             "MDE targets " + ", ".join(f"{w} {100 * m:.1f} %" for w, m in
                                        t.drop_duplicates("workload")[["workload",
                                                                       "mde_target"]]
                                        .itertuples(index=False)) + ".")
    return "\n".join(out + [spent])


def measured(result: Summary) -> pd.DataFrame:
    """Both tables' rows that have a verdict (for a forest plot)."""
    t = pd.concat([result.debate, result.others], ignore_index=True)
    return t[~t["kind"].isin((NOT_APPLICABLE, NOT_RUN))].reset_index(drop=True)


def format_report(result: Summary, *, machine: str | None = None,
                  date: str | None = None, sha: str | None = None) -> str:
    """:func:`debate`'s result as plain text: the answer first, then tables.

    Every line fits :data:`WIDTH` columns (a netdev post). The first lines
    are the answer, one sentence per debate cell (:func:`answer_lines`);
    then the machine, date, git sha, method and budget; then the debate
    table, the other designs' table, the legend and numbered notes (why a
    cell was not applicable or not run, which cells had page faults in the
    timed region).

    Parameters
    ----------
    result : Summary
        Output of :func:`debate`.
    machine, date, sha : str, optional
        Header fields (default: this machine, now, the git sha).
    """
    if not isinstance(result, Summary):
        raise ParameterError("result", type(result).__name__,
                             "the Summary returned by fraglib.summary.debate()")
    base = result.baseline
    designs = list(dict.fromkeys(result.debate["design"])) if len(result.debate) else []
    names = " and ".join(_display(d) for d in designs) or "the debate's designs"
    verb = "Are" if len(designs) > 1 else "Is"
    lines = [_clip(f"{verb} {names} slower than {_display(base)}? "
                   "(TSC cycles per packet)", WIDTH)]
    for design in designs:
        for _, r in result.debate[result.debate["design"] == design].iterrows():
            lines += textwrap.wrap(f"{r['workload']}: {answer(r)}", WIDTH,
                                   subsequent_indent="    ")
    date = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    targets = result.debate.drop_duplicates("workload")
    tgt = ", ".join(f"{w} {100 * t:.2f} %" for w, t in
                    zip(targets["workload"], targets["mde_target"]))
    lines += [""]
    lines += textwrap.wrap(f"machine: {machine or _machine_line()}", WIDTH,
                           subsequent_indent="    ")
    lines += [_clip(f"date: {date}  git: {sha or _sha()}", WIDTH)]
    lines += textwrap.wrap(f"method: {result.method}", WIDTH, subsequent_indent="    ")
    lines += textwrap.wrap(f"budget: {result.budget_s:.0f} s, spent {result.spent_s:.0f} s; "
                           f"MDE targets: {tgt}", WIDTH, subsequent_indent="    ")
    notes: list[str] = []
    rows, demoted = _table_rows(result.debate, notes)
    lines += ["", _clip(f"The debate: {names} vs {_display(base)}", WIDTH)] + rows
    if len(result.others):
        rows, dem2 = _table_rows(result.others, notes)
        demoted = demoted or dem2
        lines += ["", _clip(f"Other designs vs {_display(base)} (what the rest of the "
                            "budget resolves)", WIDTH)] + rows
    lines += [""] + _legend(base, demoted, notes)
    return "\n".join(lines) + "\n"


def format_summary(table: pd.DataFrame, *, machine: str | None = None,
                   date: str | None = None, sha: str | None = None,
                   method: str | None = None, title: str | None = None) -> str:
    """The verdict table as plain text, every line at most 72 columns.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`verdicts` (columns ``design``, ``workload``, ``kind``,
        ``kind_raw``, ``effect``, ``ci_lo``, ``ci_hi``, ``mde``, ``n_pairs``,
        ``reason``; ``baseline`` optional).
    machine, date, sha, method, title : str, optional
        Header fields; by default this machine's CPU and kernel, the UTC date,
        the git sha (with "(dirty)") and the method of :func:`verdicts`.

    Returns
    -------
    str
        Header, one row per cell (design, workload, B/A %, 95 % CI, verdict,
        MDE %, n pairs), then notes: what the columns mean, Holm demotions
        and the reason of every "not applicable" cell.
    """
    need = ("design", "workload", "kind", "effect", "ci_lo", "ci_hi", "n_pairs")
    missing = [c for c in need if c not in table]
    if missing:
        raise ParameterError("table", f"missing columns {missing}",
                             "the output of fraglib.summary.verdicts()")
    base = (str(table["baseline"].dropna().iloc[0]) if "baseline" in table
            and table["baseline"].notna().any() else table.attrs.get("baseline", "A"))
    builds = table.attrs.get("builds")
    processes = table.attrs.get("processes")
    if method is None:
        shape = (f"{builds} layout builds x {processes}" if builds and processes
                 else "layout builds x")
        method = f"{shape} ABBA process pairs, hier. bootstrap, Holm"
    date = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        _clip(title or f"page_frag designs vs {base}: TSC cycles per packet", WIDTH),
        _clip(f"machine: {machine or _machine_line()}", WIDTH),
        _clip(f"date: {date}  git: {sha or _sha()}", WIDTH),
        _clip(f"method: {method}", WIDTH),
        "",
    ]
    notes: list[str] = []
    rows, demoted = _table_rows(table, notes)
    lines += rows + [""] + _legend(base, demoted, notes)
    return "\n".join(lines) + "\n"


def summary_path() -> Path:
    """``reports/summary.txt`` (``$FRAGLIB_REPORTS`` moves ``reports/``)."""
    from .notebooks import reports_dir

    return reports_dir() / "summary.txt"


def write_summary(table: pd.DataFrame, path: str | os.PathLike | None = None,
                  **header) -> Path:
    """Write :func:`format_summary` of `table` atomically; return the path.

    Parameters
    ----------
    table : pandas.DataFrame or Summary
        Output of :func:`verdicts` (written by :func:`format_summary`) or of
        :func:`debate` (written by :func:`format_report`: the answer first).
    path : path, optional
        Default :func:`summary_path` (``reports/summary.txt``).
    **header
        ``machine``, ``date``, ``sha``, ``method``, ``title`` for
        :func:`format_summary`.
    """
    out = Path(path) if path is not None else summary_path()
    text = (format_report(table, **header) if isinstance(table, Summary)
            else format_summary(table, **header))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.write_text(text)
    os.replace(tmp, out)
    return out
