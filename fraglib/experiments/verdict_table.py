"""Every design against a baseline on every workload, Holm-corrected.

:func:`workload_verdicts` compares each design with the baseline
(``topdown``) on every workload with :func:`fraglib.compare.compare`,
Holm-corrects the Wilcoxon p-values across all cells
(:func:`fraglib.stats.verdict_table`) and lists the cells a workload refuses
as "not applicable" with the reason. :func:`fraglib.report.summary_text.format_summary`
turns the table into 72-column text.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import pandas as pd

from .. import stats as _stats
from ..exceptions import ParameterError
from .schedule import run_flags
from .summary import _TABLE_COLUMNS, NOT_APPLICABLE, WORKLOADS, _preferred

__all__ = ["workload_verdicts"]


def workload_verdicts(baseline: str = "topdown", designs: Sequence[str] | None = None,
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
    from ..compare import compare, plan
    from ..designs import design_names, get_design

    get_design(baseline)
    if designs is None:
        others = [d for d in design_names() if d != baseline]
        designs = sorted(others, key=lambda d: d != "bottomup")
    designs = list(dict.fromkeys(designs))
    for d in designs:
        get_design(d)
    if baseline in designs:
        raise ParameterError("designs", baseline, "designs other than the baseline")
    from ..workloads import workload_names

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
