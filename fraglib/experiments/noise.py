"""The noise floor of this machine: what ``7.0-noise`` computes.

Everything here takes :class:`fraglib.compare.Comparison` objects (or runs
them through :func:`fraglib.compare.compare`) and returns tables and
sentences, so the notebook only calls, plots and shows:

* :func:`aa_run` — the A/A calibration (a design against itself on
  different layout builds), with the runs' warnings turned into data;
* :func:`variance_components` — the noise at each level of repetition:
  sigma_build (code layout), sigma_process (one side, process to process),
  sigma_pair (the paired log ratio within a build) and sigma_sample (batch to
  batch inside one process, from the stored samples), with the share of
  sigma_pair that batch noise alone would explain;
* :func:`provenance` — what the numbers were measured on (machine, git sha,
  run parameters, repetitions), so a harness change is visible before/after;
* :func:`cost_grid` — the MDE of every builds x pairs design at the measured
  costs, and :func:`cheapest` for a target MDE;
* :func:`sleep_check` — busy polling on and off (CPU sleep states);
* :func:`slowdown_curve` — the injected-slowdown positive control;
* :func:`fraglib.report.answers.noise_answer` — the closing paragraph,
  computed from all of the above.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import compare as _cmp
from ..exceptions import ParameterError
from .schedule import run_flags

__all__ = ["aa_run", "variance_components", "sample_sigma", "provenance", "cost_grid",
           "cheapest", "mde_pivot", "layout_spread", "sleep_check", "slowdown_curve",
           "COMPONENTS"]

#: the variance components, in the order :func:`variance_components` lists them.
COMPONENTS = ("sigma_build", "sigma_pair", "sigma_process", "sigma_sample")

_WHAT = {
    "sigma_build": "between layout builds (link order, alignment, padding)",
    "sigma_pair": "between ABBA pairs of one build (the paired log ratio)",
    "sigma_process": "between processes of one side and build (env size, ASLR, VM)",
    "sigma_sample": "between batches inside one process",
}


def _recorded(fn, *args, **kwargs):
    """Call `fn`; return (result, faulted runs, flag text) from its warnings."""

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    n = sum(c.n_processes for c in out.values()) if isinstance(out, Mapping) \
        else out.n_processes
    faulted, flag = run_flags(caught, n)
    return out, faulted, flag


def aa_run(design: str = "topdown", **kwargs) -> tuple[_cmp.Comparison, str]:
    """The A/A calibration: `design` against itself on different layout builds.

    Parameters
    ----------
    design : str
    **kwargs
        Passed to :func:`fraglib.compare.compare` (``workload``, ``builds``,
        ``processes``, run parameters, ...).

    Returns
    -------
    (Comparison, str)
        The comparison and a flag line (page faults in the timed region and
        other warnings of its runs; empty when there were none).
    """
    c, _, flag = _recorded(_cmp.compare, design, design, aa=True, **kwargs)
    return c, flag


def sample_sigma(run_ids: Sequence[str], root=None) -> tuple[float, float]:
    """Pooled within-process SD of log cycles per packet over measured batches.

    Parameters
    ----------
    run_ids : sequence of str
        Runs to read from the store (:func:`fraglib.store.samples`).
    root : path, optional
        Runs directory.

    Returns
    -------
    (float, float)
        ``sigma_sample`` (natural-log scale; 0.01 is about 1 %) and the median
        number of measured batches per process. ``(nan, nan)`` when the runs
        are not in the store (``store=False``).
    """
    from .. import store

    ids = [str(r) for r in run_ids]
    if not ids or not store.run_files(root):
        return math.nan, math.nan
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    try:
        df = store.samples(root, where=f"run_id IN ({quoted}) AND NOT warmup")
    except Exception:       # no readable store: the component is not measured
        return math.nan, math.nan
    df = df[df["cycles_per_packet"] > 0]
    if df.empty:
        return math.nan, math.nan
    logs = np.log(df["cycles_per_packet"].to_numpy(float))
    g = pd.Series(logs).groupby(df["run_id"].to_numpy())
    dev = g.transform(lambda x: x - x.mean())
    n = g.size()
    dof = int((n - 1).clip(lower=0).sum())
    if dof < 1:
        return math.nan, float(n.median())
    return float(math.sqrt(float((dev ** 2).sum()) / dof)), float(n.median())


def _sigma_process(obs: pd.DataFrame) -> float:
    """Pooled SD of log value within (side, build): process-to-process noise."""
    lv = np.log(obs["value"].to_numpy(float))
    keys = obs["role"].astype(str) + "/" + obs["build"].astype(str)
    g = pd.Series(lv).groupby(keys.to_numpy())
    n = g.size()
    dof = int((n - 1).clip(lower=0).sum())
    if dof < 1:
        return math.nan
    ss = float(g.transform(lambda x: (x - x.mean()) ** 2).sum())
    return math.sqrt(ss / dof)


def variance_components(c: _cmp.Comparison, root=None) -> pd.DataFrame:
    """The noise of `c` at every level of repetition.

    Parameters
    ----------
    c : Comparison
        Usually the A/A run (:func:`aa_run`).
    root : path, optional
        Runs directory, for sigma_sample.

    Returns
    -------
    pandas.DataFrame
        One row per component of :data:`COMPONENTS`: ``component``,
        ``level`` (its printed name, "σ build"), ``sigma`` (natural-log SD;
        0.01 is about 1 %), ``n`` (how many units of that level the estimate
        rests on), ``what`` (the level). The frame's
        ``attrs["batch_share"]`` is ``sqrt(2 / n_batches) * sigma_sample /
        sigma_pair``: the part of the pair noise that batch-to-batch noise
        alone explains (a mean of n batches per process, two processes per
        pair); the rest comes from the processes themselves.
    """
    v, obs = c.verdict, c.observations
    s_sample, n_batches = sample_sigma(obs["run_id"], root)
    rows = [
        ("sigma_build", v.sigma_build, v.n_builds),
        ("sigma_pair", v.sigma_pair, v.n_pairs),
        ("sigma_process", _sigma_process(obs), len(obs)),
        ("sigma_sample", s_sample, int(n_batches * len(obs)) if math.isfinite(n_batches)
         else 0),
    ]
    out = pd.DataFrame([{"component": k, "level": k.replace("sigma_", "σ "),
                         "sigma": float(s), "n": int(n), "what": _WHAT[k]}
                        for k, s, n in rows])
    share = math.nan
    if math.isfinite(s_sample) and math.isfinite(n_batches) and n_batches > 0 \
            and math.isfinite(v.sigma_pair) and v.sigma_pair > 0:
        share = math.sqrt(2.0 / n_batches) * s_sample / v.sigma_pair
    out.attrs.update({"batch_share": share, "n_batches": n_batches})
    return out


def provenance(c: _cmp.Comparison, *, metadata: bool = True) -> pd.DataFrame:
    """What `c` was measured on: machine, code, parameters, repetitions.

    Two runs of the notebook (e.g. before and after a harness change) are
    comparable exactly when these rows say what differs.

    Parameters
    ----------
    c : Comparison
    metadata : bool, default True
        Collect this machine's description (tests switch it off).

    Returns
    -------
    pandas.DataFrame
        Columns ``item`` and ``setting``; no file-system paths.
    """
    from .. import metadata as _meta
    from ..provenance import git_state

    m = _meta.machine_metadata() if metadata else {}
    g = git_state()
    rows = [
        ("CPU", m.get("cpu_model", "not collected")),
        ("logical CPUs", m.get("cpu_logical_cores", "not collected")),
        ("VM", {True: "yes", False: "no"}.get(m.get("hypervisor"), "unknown")),
        ("kernel", m.get("kernel", "not collected")),
        ("git", str(g.get("git_sha", "unknown"))[:12]
         + (" (dirty)" if g.get("git_dirty") else "")),
        ("comparison", f"{c.label_b} vs {c.label_a} on {c.workload}"
         + (" (A/A)" if c.aa else "")),
        ("repetitions", f"{c.verdict.n_builds} layout builds, {c.verdict.n_pairs} ABBA "
                        f"pairs, {c.n_processes} engine processes"),
        ("run parameters", ", ".join(f"{k}={v}" for k, v in sorted(c.params.items()))
         or "defaults"),
        ("method", c.method()),     # names the per-process statistic and the CI
    ]
    return pd.DataFrame([{"item": k, "setting": str(v)} for k, v in rows])


def layout_spread(c: _cmp.Comparison) -> tuple[pd.DataFrame, str]:
    """Per-layout medians of `c` (:meth:`Comparison.per_layout`) and a sentence."""
    lay = c.per_layout()
    text = (f"{c.a}: code layout alone moves the median cycles per packet from "
            f"{100 * lay['rel'].min():+.2f} % to {100 * lay['rel'].max():+.2f} % "
            f"across {len(lay)} builds")
    return lay, text


def cost_grid(c: _cmp.Comparison, **kwargs) -> tuple[pd.DataFrame, dict]:
    """:func:`fraglib.compare.mde_grid` at `c`'s variance components and costs.

    Returns
    -------
    (pandas.DataFrame, dict)
        The grid (``builds, pairs, processes, mde, seconds``) and
        :meth:`Comparison.costs`.
    """
    costs = c.costs()
    grid = _cmp.mde_grid(c.verdict.sigma_build, c.verdict.sigma_pair,
                         seconds_per_build=costs["seconds_per_build"],
                         seconds_per_pair=costs["seconds_per_pair"], **kwargs)
    return grid, costs


def mde_pivot(grid: pd.DataFrame) -> pd.DataFrame:
    """:func:`cost_grid`'s MDE as a table: layout builds (rows) x pairs per build (columns)."""
    missing = [c for c in ("builds", "pairs", "mde") if c not in grid]
    if missing:
        raise ParameterError("grid", f"missing columns {missing}",
                             "the grid returned by fraglib.experiments.noise.cost_grid()")
    return grid.pivot(index="builds", columns="pairs", values="mde")


def cheapest(grid: pd.DataFrame, target: float) -> pd.Series | None:
    """The cheapest row of `grid` whose MDE is at most `target` (None: none)."""
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise ParameterError("target", target, "a relative MDE in (0, 1), e.g. 0.005")
    ok = grid[grid["mde"] <= target]
    if ok.empty:
        return None
    key = "seconds" if "seconds" in ok else "processes"
    return ok.sort_values([key, "builds"]).iloc[0]


def sleep_check(a: str, b: str, sleep_workload: str, *, cpu2: int = 0,
                **kwargs) -> tuple[pd.DataFrame, dict, str]:
    """B vs A with busy polling off and on (CPU sleep states of the waiter).

    Parameters
    ----------
    a, b : str
        Designs.
    sleep_workload : str
        A workload with ``busy_poll`` (rx, ring); an unregistered one falls
        back to ``kwargs["workload"]`` (default fastpath). ``cpu2`` is passed
        when the workload has it.
    **kwargs
        Passed to :func:`fraglib.compare.compare` (the same dict as the A/A
        run's, ``workload`` included).

    Returns
    -------
    (pandas.DataFrame, dict, str)
        :func:`fraglib.compare.comparisons_table` keyed ``busy_poll`` with a
        ``label`` and a ``flag`` column, the comparisons, and the workload
        used.
    """
    from ..workloads import get_workload, workload_names

    fallback = kwargs.pop("workload", "fastpath")
    wl = sleep_workload if sleep_workload in workload_names() else fallback
    extra = {"cpu2": cpu2} if "cpu2" in get_workload(wl).params else {}
    kw = {**kwargs, "workload": wl, **extra}
    runs, flags = {}, {}
    for bp in (0, 1):
        runs[bp], _, flags[bp] = _recorded(_cmp.compare, a, b, busy_poll=bp, **kw)
    t = _cmp.comparisons_table(runs, label="busy_poll")
    t["label"] = [f"{wl} busy_poll={x}" for x in t["busy_poll"]]
    t["flag"] = [flags[x] for x in t["busy_poll"]]
    return t, runs, wl


def slowdown_curve(design: str, slowdowns: Sequence[int], aa: _cmp.Comparison | None = None,
                   **kwargs) -> pd.DataFrame:
    """The positive control: `design` against itself with k injected adds.

    Parameters
    ----------
    design : str
    slowdowns : sequence of int
        Values of k (> 0); the A/A run `aa`, when given, is the k = 0 row.
    **kwargs
        Passed to :func:`fraglib.compare.compare` (``aa=True`` is implied).

    Returns
    -------
    pandas.DataFrame
        :func:`fraglib.compare.comparisons_table` keyed ``k`` with ``label``
        and ``flag`` columns.
    """
    ks = [int(k) for k in slowdowns]
    if not ks or min(ks) < 1:
        raise ParameterError("slowdowns", list(slowdowns), "at least one integer k >= 1")
    runs, flags = ({0: aa}, {0: ""}) if aa is not None else ({}, {})
    for k in ks:
        runs[k], _, flags[k] = _recorded(_cmp.compare, design, design, aa=True,
                                          slowdown=k, **kwargs)
    t = _cmp.comparisons_table(runs, label="k")
    t["label"] = [f"k = {k}" for k in t["k"]]
    t["flag"] = [flags[k] for k in t["k"]]
    return t
