"""The outcome of an A/B comparison: the :class:`Comparison` record and its tables.

:func:`fraglib.compare.compare` makes one; :func:`observation_rows` builds
its :attr:`Comparison.observations` (one row per engine process, the
statistics' data model plus provenance) and :func:`comparisons_table` puts
several side by side.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import stats as _stats

__all__ = ["Comparison", "OBSERVATION_COLUMNS", "observation_rows", "comparisons_table"]

#: columns of :attr:`Comparison.observations`, one row per engine process.
OBSERVATION_COLUMNS = (
    "build", "pair", "design", "value",          # the stats data model
    "role", "order", "seq", "run_id", "env_pad", "layout_seed", "build_key",
    "min_value", "n_samples", "warmup_samples", "warmup_value", "t_start", "t_wall",
    "median_value", "cut_samples", "tsc_step", "interleaved",
)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: verdict, data and how it was obtained.

    Attributes
    ----------
    a, b : str
        Design names of the baseline A and the candidate B.
    label_a, label_b : str
        Their labels in ``observations["design"]`` and in the verdict (B gets
        ``+slowdownK`` with an injected slowdown; an A/A run labels the sides
        ``(A)`` and ``(B)``).
    workload : str
    verdict : fraglib.stats.Verdict
    observations : pandas.DataFrame
        One row per engine process, columns :data:`OBSERVATION_COLUMNS`:
        ``value`` is its cycles per packet (:func:`fraglib.stats.process_value`:
        mean of the measured samples without disturbed ones), ``median_value``
        the median of those samples, ``cut_samples`` how many were dropped,
        ``tsc_step`` the TSC step the engine detected,
        ``min_value`` their minimum, ``warmup_value`` the median of the
        discarded warm-up batches (NaN without warm-up), ``order`` the pair's
        ``"AB"``/``"BA"``, ``seq`` the process's position in the whole run,
        ``t_start`` seconds since the start of the comparison,
        ``interleaved`` whether its pair ran in lockstep (then ``order``
        says which side ran the first round, both rows share ``t_start``
        and each carries half the pair's wall time as ``t_wall``).
    wall_s : float
        Wall-clock seconds of the whole comparison (builds included).
    builds : tuple of BuildPair
        The layout builds used, in build order.
    params : Mapping
        Run and workload parameters passed to every process (``busy_poll``
        included when given).
    aa : bool
    slowdown : int
    seed : int
    budget : float or None
        Time budget in seconds (budget mode), else None.
    target_halfwidth : float or None
        CI half-width target of budget mode, else None.
    stop_reason : str
        Why the run stopped (planned repetitions done, target reached, budget
        spent).
    ci_method : str
        How the interval was obtained (see :func:`guard_few_builds`).
    measured_s : float
        Seconds from the start until the last pair ended (what the budget
        governs; ``wall_s`` adds the final bootstrap).
    interleave : bool
        Whether each pair's two processes ran concurrently in lockstep on
        one CPU (:func:`fraglib.api.run_pair`) rather than one after the
        other.
    handoff_samples : int or None
        Samples per round of an interleaved pair, else None.
    """

    a: str
    b: str
    label_a: str
    label_b: str
    workload: str
    verdict: _stats.Verdict
    observations: pd.DataFrame
    wall_s: float
    builds: tuple
    params: Mapping
    aa: bool = False
    slowdown: int = 0
    seed: int = 0
    budget: float | None = None
    target_halfwidth: float | None = None
    stop_reason: str = ""
    ci_method: str = "hierarchical bootstrap"
    measured_s: float = math.nan
    interleave: bool = False
    handoff_samples: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "builds", tuple(self.builds))

    @property
    def halfwidth(self) -> float:
        """Relative half-width of the CI, ``expm1((log(hi) - log(lo)) / 2)``
        (0.0025 is ±0.25 % of the ratio): what budget mode compares with
        ``target_halfwidth``."""
        return float(math.expm1((math.log(self.verdict.ci_hi)
                                 - math.log(self.verdict.ci_lo)) / 2.0))

    @property
    def n_processes(self) -> int:
        return len(self.observations)

    @property
    def layout_seeds(self) -> tuple[tuple[int, int], ...]:
        """``(a_seed, b_seed)`` per build."""
        return tuple((bp.a_seed, bp.b_seed) for bp in self.builds)

    def per_build(self) -> pd.DataFrame:
        """Per-build median value of A and B and their per-build ratio.

        One row per build: ``build, layout_seed_a, layout_seed_b, a, b,
        ratio`` (``ratio`` is the geometric mean of that build's paired
        ratios). Shows how much code layout alone moves each side.
        """
        obs = self.observations
        med = obs.pivot_table(index="build", columns="role", values="value",
                              aggfunc="median")
        lr = _stats.paired_log_ratios(obs, self.label_a, self.label_b)
        ratio = np.exp(lr.groupby("build")["log_ratio"].mean())
        seeds = {bp.build: bp for bp in self.builds}
        out = pd.DataFrame({
            "build": med.index,
            "layout_seed_a": [seeds[i].a_seed for i in med.index],
            "layout_seed_b": [seeds[i].b_seed for i in med.index],
            "a": med["A"].to_numpy(), "b": med["B"].to_numpy(),
            "ratio": ratio.reindex(med.index).to_numpy()})
        return out.reset_index(drop=True)

    def per_layout(self) -> pd.DataFrame:
        """Median cycles per packet of every engine (side x layout seed).

        One row per engine: ``role, design, layout_seed, build, value``
        (median over its processes), ``n`` processes and ``rel`` (value over
        the median of that side's engines, minus 1). In an A/A run both sides
        are the same design on different layouts, so ``rel`` is how much code
        layout alone moves it.
        """
        g = (self.observations.groupby(["role", "design", "layout_seed", "build"],
                                       sort=True)["value"]
             .agg(value="median", n="size").reset_index())
        g["rel"] = g["value"] / g.groupby("role")["value"].transform("median") - 1.0
        return g

    def costs(self) -> dict:
        """Measured seconds per engine process, per pair and per build.

        ``seconds_per_build`` is the wall time not spent in pairs, divided by
        the builds (compiling the engines, bootstrap): the input of
        :func:`mde_grid`.
        """
        obs = self.observations
        per_pair = float(obs["t_wall"].sum()) / max(1, len(obs) // 2)
        n_b = max(1, len(self.builds))
        rest = max(0.0, self.wall_s - float(obs["t_wall"].sum()))
        # an interleaved pair's two rows each carry half its wall time
        return {"seconds_per_process": float(obs["t_wall"].mean()),
                "seconds_per_pair": per_pair, "seconds_per_build": rest / n_b}

    def method(self) -> str:
        """One line: what was run, how often, how long."""
        extra = "".join(f", {k}={v}" for k, v in self.params.items()
                        if k in ("busy_poll", "size", "packets"))
        kind = ("A/A calibration, sides on different layout builds; "
                if self.aa and self.a == self.b else "")
        inj = f"B with {self.slowdown} injected dependent adds; " if self.slowdown else ""
        how = (f"randomized ABBA pairs run interleaved in lockstep on one CPU "
               f"({self.handoff_samples}-sample rounds, ABBA = who starts)"
               if self.interleave else "randomized ABBA pairs")
        return (f"{self.workload}{extra}: {kind}{inj}{self.n_processes} fresh engine "
                f"processes in {how} over {self.verdict.n_builds} layout "
                f"builds, per-process mean of samples (disturbed ones cut); {self.ci_method}; "
                f"{self.wall_s:.0f} s")

    @property
    def text(self) -> str:
        """The verdict, the method and, in budget mode, what was achieved."""
        lines = [self.verdict.text, self.method()]
        if self.budget is not None:
            lines.append(f"budget {self.budget:g} s: {self.stop_reason}; CI half-width "
                         f"{100 * self.halfwidth:.2f} % (target "
                         f"{100 * self.target_halfwidth:.2f} %), MDE "
                         f"{_fmt_pct(self.verdict.mde)}")
        return "\n".join(lines)


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f} %" if math.isfinite(x) else "unknown"


def observation_rows(results, act, timing: Mapping[str, tuple[float, float]],
                     interleaved: bool) -> list[dict]:
    """The two observation rows of one pair, in the order the processes ran.

    ``results`` are the pair's two :class:`fraglib.results.RunResult`, ``act``
    the scheduler's :class:`~fraglib.scheduler.RunPair`, ``timing``
    ``{run_id: (t_start, t_wall)}``.

    ``value`` (and its median and cut) come from each run's
    :attr:`~fraglib.results.RunResult.process_summary`,
    :func:`fraglib.stats.process_value` of its measured samples: what
    :func:`fraglib.stats.process_values` makes of the same run's stored rows
    for :func:`fraglib.stats.verdict_from_store`. (Through a frame of every
    sample, as that function takes them, it cost a lockstep pair a third of
    its time.)
    """
    rows = []
    for r in results:
        lab, bp, p = r.labels, act.build, r.process_summary
        cpp = r.cycles_per_packet
        warm = r.cycles[:r.warmup_samples] / r.packets[:r.warmup_samples]
        name = lab.get("name")
        rows.append({
            "build": bp.build, "pair": act.pair,
            "design": name if isinstance(name, str) else r.design,
            "value": float(p["value"]), "role": lab["role"], "order": act.order,
            "seq": lab["process"], "run_id": r.run_id,
            "env_pad": int(r.provenance["env_pad"]), "layout_seed": r.spec["layout_seed"],
            "build_key": bp.a_key if lab["role"] == "A" else bp.b_key,
            "min_value": float(cpp.min()), "n_samples": int(len(cpp)),
            "warmup_samples": int(r.warmup_samples),
            "warmup_value": float(np.median(warm)) if len(warm) else math.nan,
            "t_start": timing[r.run_id][0], "t_wall": timing[r.run_id][1],
            "median_value": float(p["median"]), "cut_samples": int(p["cut"]),
            "tsc_step": r.tsc_step if r.tsc_step is not None else math.nan,
            "arena_huge_mib": float(r.metrics.get("arena_huge_mib", math.nan)),
            "interleaved": interleaved})
    return sorted(rows, key=lambda row: row["seq"])


def comparisons_table(comparisons: Mapping, *, label: str = "label") -> pd.DataFrame:
    """One row per comparison: verdict numbers plus medians of each side.

    Parameters
    ----------
    comparisons : mapping
        ``{label: Comparison}`` (e.g. from :func:`compare_each`).
    label : str, default "label"
        Name of the label column.

    Returns
    -------
    pandas.DataFrame
        Columns ``label, kind, effect, ci_lo, ci_hi, halfwidth, mde,
        sigma_build, sigma_pair, p_wilcoxon, n_builds, n_pairs, median_a,
        median_b, wall_s, text``: ``median_a``/``median_b`` are medians over
        the processes of each side (cycles per packet).
    """
    rows = []
    for key, c in comparisons.items():
        v, obs = c.verdict, c.observations
        rows.append({label: key, "kind": v.kind, "effect": v.effect, "ci_lo": v.ci_lo,
                     "ci_hi": v.ci_hi, "halfwidth": c.halfwidth, "mde": v.mde,
                     "sigma_build": v.sigma_build, "sigma_pair": v.sigma_pair,
                     "p_wilcoxon": v.p_wilcoxon, "n_builds": v.n_builds,
                     "n_pairs": v.n_pairs,
                     "median_a": float(obs.loc[obs.role == "A", "value"].median()),
                     "median_b": float(obs.loc[obs.role == "B", "value"].median()),
                     "wall_s": c.wall_s, "text": v.text})
    return pd.DataFrame(rows)


