"""A/B comparison of two designs, with a verdict a sceptical reviewer accepts.

:func:`compare` is the experiment of docs/methodology.md §8-9 in one call:

* **Three levels of repetition.** ``builds`` layout builds (seeds derived from
  ``seed``; :mod:`fraglib._build` shuffles the link order, picks the function
  alignment and pads the text) ⊃ ``processes`` fresh engine processes per
  design per build (each with a random environment pad; ASLR on) ⊃ samples
  (each process contributes the packet-weighted mean of its measured
  samples after dropping disturbed ones, :func:`fraglib.stats.process_value`,
  which a coarse TSC does not quantize; warm-up samples are discarded and
  recorded).
* **Randomized ABBA pairs.** Within a build each pair runs A then B or B then
  A, chosen at random and recorded; each adjacent A/B is one pair, so drift
  cancels in the ratio. Builds are visited round robin (pair 0 of every
  build, then pair 1, ...), so a slow drift of the machine is not mistaken
  for a build effect.
* **Verdict.** :func:`fraglib.stats.verdict`: geometric mean of the paired
  B/A ratios, hierarchical bootstrap CI (builds, then pairs), Wilcoxon,
  per-build signs ("layout-sensitive") and the MDE of this design.
* **Calibration.** ``aa=True`` allows ``a == b``: the two sides then use
  *different* layout builds, so the interval calibrates layout plus process
  noise and should contain 1 about 95 % of the time. ``slowdown=k`` builds B
  with ``-DFRAG_SLOWDOWN=k`` (k dependent adds on B's alloc path, see
  ``csrc/include/design_direct.h``), a known effect that must be detected.
* **Budget mode.** ``budget=`` seconds: keep adding waves of ``builds`` new
  builds until the CI half-width on the ratio is below ``target_halfwidth``
  or the time is spent (never more than one process pair over), and report
  what was achieved. After the first wave the pairs per build follow the
  measured variance components and costs (:func:`optimal_pairs`, Kalibera &
  Jones' dimensioning).

Example::

    >>> c = compare("topdown", "bottomup", builds=4, processes=6)  # doctest: +SKIP
    >>> print(c.text)                                               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats as _sps
from tqdm.auto import tqdm

from . import stats as _stats
from ._build import build_engine
from .exceptions import ParameterError, UnknownNameError

__all__ = ["Comparison", "BuildPair", "compare", "slowdown_flags", "layout_seed",
           "build_t_interval", "guard_few_builds", "optimal_pairs", "compare_each",
           "comparisons_table",
           "mde_grid", "OBSERVATION_COLUMNS", "RUN_KEYS"]

#: keyword arguments of :func:`fraglib.run` that are not workload parameters.
RUN_KEYS = ("packets", "size", "align", "batch", "warmup", "cpu", "counters",
            "metadata", "timeout")

#: columns of :attr:`Comparison.observations`, one row per engine process.
OBSERVATION_COLUMNS = (
    "build", "pair", "design", "value",          # the stats data model
    "role", "order", "seq", "run_id", "env_pad", "layout_seed", "build_key",
    "min_value", "n_samples", "warmup_samples", "warmup_value", "t_start", "t_wall",
    "median_value", "cut_samples", "tsc_step", "interleaved",
)

# Interim CI checks in budget mode use fewer resamples; the final verdict
# uses `resamples`.
_INTERIM_RESAMPLES = 2000
# Budget mode: seconds a wave is assumed to need per build before any build
# was compiled here (both engines, two compilers at a time, on a 2-core VM),
# and below which a build was a cache hit, not a compile.
_MIN_COMPILE_S = 3.0
_CACHED_S = 0.3
# workloads whose "cycles" are not a measurement (the size generator check).
_NOT_TIMED = ("sizes",)


def slowdown_flags(k: int) -> tuple[str, ...]:
    """Compiler flags that inject ``k`` dependent adds into the alloc path."""
    return (f"-DFRAG_SLOWDOWN={int(k)}",) if k else ()


def layout_seed(seed: int, build: int, side: int = 0) -> int:
    """Layout seed of build ``build`` (side 1 = the B side of an A/A run).

    Derived from ``seed`` through :class:`numpy.random.SeedSequence`, so the
    same ``seed`` reuses the same cached builds and two sides or two builds
    never share a layout by accident.
    """
    state = np.random.SeedSequence([int(seed), int(build), int(side)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


@dataclasses.dataclass(frozen=True)
class BuildPair:
    """The two engines of one layout build.

    Attributes
    ----------
    build : int
        Build index (the ``build`` column of the observations).
    a_seed, b_seed : int
        Layout seeds of the A and B engines (equal unless ``aa``).
    a_key, b_key : str
        Content-hash build keys (:class:`fraglib._build.BuildInfo.key`).
    """

    build: int
    a_seed: int
    b_seed: int
    a_key: str
    b_key: str


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
        """Half the CI width on the ratio scale (0.0025 is ±0.25 %)."""
        return (self.verdict.ci_hi - self.verdict.ci_lo) / 2.0

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


# ---- validation -------------------------------------------------------------


def _check_int(param: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ParameterError(param, v, f"an integer >= {lo}")
    return int(v)


def _validate(a, b, workload, builds, processes, aa, budget, slowdown, seed, resamples,
              target_halfwidth, params) -> tuple[dict, dict]:
    from . import api
    from .designs import design_names, get_design

    for param, name in (("a", a), ("b", b)):
        try:
            get_design(name)
        except UnknownNameError:
            raise UnknownNameError(param, name, design_names()) from None
    builds = _check_int("builds", builds, 1)
    _check_int("processes", processes, 2)
    if slowdown is None or isinstance(slowdown, bool) \
            or not isinstance(slowdown, (int, np.integer)) or slowdown < 0:
        raise ParameterError("slowdown", slowdown,
                             "an integer >= 0 (dependent adds injected into B's alloc)")
    if slowdown > 100_000:
        raise ParameterError("slowdown", slowdown, "an integer in [0, 100000]")
    if a == b and not aa and not slowdown:
        raise ParameterError("b", b, "the same design twice: pass aa=True for an A/A "
                             "calibration")
    if budget is not None:
        try:
            bud = float(budget)
        except (TypeError, ValueError):
            raise ParameterError("budget", budget, "a number of seconds > 0") from None
        if not (math.isfinite(bud) and bud > 0):
            raise ParameterError("budget", budget, "a number of seconds > 0")
    if not (isinstance(target_halfwidth, (int, float)) and not isinstance(target_halfwidth, bool)
            and 0 < target_halfwidth < 1):
        raise ParameterError("target_halfwidth", target_halfwidth,
                             "a relative half-width in (0, 1), e.g. 0.0025 for ±0.25 %")
    if workload in _NOT_TIMED:
        raise ParameterError("workload", workload, "a timed workload (not "
                             + ", ".join(_NOT_TIMED) + ")")
    _check_int("seed", seed, 0)
    _stats._check_resamples(resamples)
    run_kw = {k: params.pop(k) for k in RUN_KEYS if k in params}
    for k in ("layout_seed", "extra_flags", "env_pad", "stats", "store", "root",
              "provenance"):
        if k in params:
            raise ParameterError(k, params[k], "not settable here: compare() chooses "
                                 "it for every process")
    from .workloads import COMMON_PARAMS, get_workload, validate_params

    # what fraglib.run will use: given, else the workload's preference, else
    # run()'s own default (ring: 2048-byte objects, tx: 16 messages a sample)
    effective = api.common_params(workload, run_kw)
    validate_params(workload, effective)
    if "cpu" in run_kw and run_kw["cpu"] is not None:
        api.check_cpu("cpu", run_kw["cpu"])
    cpu = run_kw.get("cpu")
    cpu = api.default_cpu() if cpu is None else cpu
    wl_params = dict(validate_params(workload, dict(params), cpu=cpu))
    common = {k: v for k, v in {**effective, **run_kw}.items() if k in COMMON_PARAMS}
    for design in dict.fromkeys((a, b)):        # a design the workload refuses
        validate_params(workload, {**common, **wl_params}, design=design)
    return {**effective, **run_kw}, wl_params


def _check_interleave(interleave, handoff_samples, workload: str, wl_params: dict,
                      default_samples: int) -> tuple[bool, int]:
    """Resolve ``interleave`` (None: by workload) and ``handoff_samples``."""
    cpu2 = wl_params.get("cpu2", -1)
    two_threads = workload == "ring" or (isinstance(cpu2, int) and cpu2 >= 0)
    if interleave is None:
        interleave = not two_threads
    if not isinstance(interleave, (bool, np.bool_)):
        raise ParameterError("interleave", interleave, "True, False or None (by workload)")
    if interleave and two_threads:
        raise ParameterError("interleave", interleave,
                             f"False for workload {workload}"
                             + (f" with cpu2={cpu2}" if workload != "ring" else "")
                             + " (two threads: the token cannot stop the second one)")
    if handoff_samples is None:
        handoff_samples = default_samples
    if isinstance(handoff_samples, bool) or not isinstance(handoff_samples, (int, np.integer)) \
            or not 1 <= handoff_samples <= 1 << 20:
        raise ParameterError("handoff_samples", handoff_samples,
                             f"an integer in [1, {1 << 20}] (samples per round)")
    return bool(interleave), int(handoff_samples)


# ---- the experiment -----------------------------------------------------------


def _labels(a: str, b: str, slowdown: int) -> tuple[str, str]:
    lb = f"{b}+slowdown{slowdown}" if slowdown else b
    if lb == a:
        return f"{a} (A)", f"{b} (B)"
    return a, lb


def _make_builds(a: str, b: str, indices: range, seed: int, aa: bool, slowdown: int
                 ) -> list[BuildPair]:
    """Build (or reuse) both engines of each build, two compilers at a time."""
    def one(j: int) -> BuildPair:
        sa = layout_seed(seed, j, 0)
        sb = layout_seed(seed, j, 1) if aa else sa
        ia = build_engine(a, layout_seed=sa)
        ib = build_engine(b, layout_seed=sb, extra_flags=slowdown_flags(slowdown))
        return BuildPair(j, sa, sb, ia.key, ib.key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, indices))


def compare(a: str, b: str, *, workload: str = "fastpath", builds: int = 4,
            processes: int = 6, aa: bool = False, budget: float | None = None,
            slowdown: int = 0, seed: int = 0, store: bool = True, root=None,
            progress: bool = True, resamples: int = 10_000,
            target_halfwidth: float = 0.0025, confidence: float = 0.95,
            interleave: bool | None = None, handoff_samples: int | None = None,
            **params) -> Comparison:
    """Compare design B against baseline A and return a verdict with its data.

    Parameters
    ----------
    a, b : str
        Baseline and candidate design names (:func:`fraglib.design_names`).
    workload : str, default "fastpath"
        Workload name.
    builds : int, default 4
        Layout builds (>= 1). In budget mode, the size of each wave of new
        builds.
    processes : int, default 6
        Engine processes per design per build, i.e. ABBA pairs per build
        (>= 2).
    aa : bool, default False
        Allow ``a == b`` (an A/A calibration); the two sides then run on
        different layout builds.
    budget : float, optional
        Seconds, compiling included. Keep adding waves of ``builds`` builds
        until the CI half-width is below `target_halfwidth` or the budget is
        spent. The first wave has ``processes`` pairs per build; later waves
        have :func:`optimal_pairs` for the variance components and costs
        measured so far (never fewer than ``processes``). When a new wave
        would not fit, the remaining time adds pairs to the existing builds,
        round robin. The run never starts a pair it expects to end past the
        budget, so it exceeds it by at most one pair.
    slowdown : int, default 0
        Inject this many dependent adds into B's alloc path
        (``-DFRAG_SLOWDOWN``). With ``slowdown > 0``, ``a == b`` is allowed
        without `aa` (B is a different program); both sides share the layout
        seed.
    seed : int, default 0
        Derives the layout seeds, the ABBA orders and the environment pads.
    store, root :
        Passed to :func:`fraglib.run` (write every run to the store).
    progress : bool, default True
        Progress bar over pairs.
    resamples : int, default 10000
        Bootstrap resamples of the final verdict.
    target_halfwidth : float, default 0.0025
        Budget mode: stop once ``(ci_hi - ci_lo) / 2`` is below this.
    confidence : float, default 0.95
        Level of the interval (and of the per-build sign tests).
    interleave : bool, optional
        Run each pair's two processes concurrently, pinned to one CPU, in
        lockstep rounds of `handoff_samples` samples
        (:func:`fraglib.api.run_pair`); the pair's ABBA order says which
        side runs the first round. Both sides then see the same mixture of
        the machine's speed modes, and the paired ratio cancels them (run
        one after the other, a mode switch between A and B lands fully in
        the ratio). Default: True for single-thread workloads (fastpath,
        rx and tx without ``cpu2``), False for ring and ``cpu2 >= 0``,
        where True is refused.
    handoff_samples : int, optional
        Samples per round when interleaved; default
        :data:`fraglib.api.HANDOFF_SAMPLES`.
    **params
        Run parameters (``packets``, ``size``, ``align``, ``batch``,
        ``warmup``, ``cpu``, ``counters``, ``metadata``, ``timeout``) and
        workload parameters (``busy_poll``, ``dist``, ``queue_depth``, ...),
        passed to every process and recorded.

    Returns
    -------
    Comparison

    Raises
    ------
    ParameterError
        Bad input (named): nothing was built or run. Also when the budget
        left room for fewer than 2 pairs.
    """
    from .api import HANDOFF_SAMPLES, run, run_pair

    params = dict(params)
    run_kw, wl_params = _validate(a, b, workload, builds, processes, aa, budget,
                                  slowdown, seed, resamples, target_halfwidth, params)
    interleave, handoff_samples = _check_interleave(interleave, handoff_samples,
                                                    workload, wl_params, HANDOFF_SAMPLES)
    confidence = _stats._check_confidence(confidence)
    builds, processes, slowdown = int(builds), int(processes), int(slowdown)
    label_a, label_b = _labels(a, b, slowdown)
    rng = np.random.default_rng([int(seed), 0xAB])
    compare_id = uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    deadline = None if budget is None else t0 + float(budget)

    made: list[BuildPair] = []
    rows: list[dict] = []
    pair_times: list[float] = []
    compile_times: list[float] = []
    stop_reason = f"planned {builds} builds × {processes} pairs done"
    seq = 0
    bar = tqdm(total=None if budget else builds * processes, disable=not progress,
               desc=f"{label_b} vs {label_a}", unit="pair")

    def one_process(bp: BuildPair, role: str, pair: int, order: str) -> dict:
        nonlocal seq
        design, lab = (a, label_a) if role == "A" else (b, label_b)
        lseed = bp.a_seed if role == "A" else bp.b_seed
        flags = slowdown_flags(slowdown) if role == "B" else ()
        pad = int(rng.integers(0, 4096))
        started = time.monotonic()
        r = run(design, workload, layout_seed=lseed, extra_flags=flags, env_pad=pad,
                store=store, root=root,
                provenance={"compare_id": compare_id, "compare_build": bp.build,
                            "compare_pair": pair, "compare_role": role,
                            "compare_order": order, "slowdown": slowdown if role == "B" else 0,
                            "aa": bool(aa), "interleaved": False},
                **run_kw, **wl_params)
        return row_of(r, bp, role, pair, order, pad, started,
                      time.monotonic() - started, False)

    def row_of(r, bp: BuildPair, role: str, pair: int, order: str, pad: int,
               started: float, t_wall: float, inter: bool) -> dict:
        nonlocal seq
        lab = label_a if role == "A" else label_b
        lseed = bp.a_seed if role == "A" else bp.b_seed
        cpp = r.cycles_per_packet
        warm = r.cycles[:r.warmup_samples] / r.packets[:r.warmup_samples]
        summary = r.process_summary
        seq += 1
        return {"build": bp.build, "pair": pair, "design": lab, "value": summary["value"],
                "role": role, "order": order, "seq": seq - 1, "run_id": r.run_id,
                "env_pad": int(r.provenance.get("env_pad", pad)), "layout_seed": lseed,
                "build_key": bp.a_key if role == "A" else bp.b_key,
                "min_value": float(cpp.min()), "n_samples": int(len(cpp)),
                "warmup_samples": int(r.warmup_samples),
                "warmup_value": float(np.median(warm)) if len(warm) else math.nan,
                "t_start": started - t0, "t_wall": t_wall,
                "median_value": summary["median"], "cut_samples": summary["cut"],
                "tsc_step": r.tsc_step if r.tsc_step is not None else math.nan,
                "interleaved": inter}

    def one_pair(bp: BuildPair, pair: int, order: str) -> list[dict]:
        """Both processes of a pair at once, in lockstep; their two rows."""
        pads = {role: int(rng.integers(0, 4096)) for role in "AB"}
        started = time.monotonic()
        prov = {role: {"compare_id": compare_id, "compare_build": bp.build,
                       "compare_pair": pair, "compare_role": role, "compare_order": order,
                       "slowdown": slowdown if role == "B" else 0, "aa": bool(aa)}
                for role in "AB"}
        ra, rb = run_pair(a, b, workload, first=order[0], handoff_samples=handoff_samples,
                          layout_seed_a=bp.a_seed, layout_seed_b=bp.b_seed,
                          extra_flags_b=slowdown_flags(slowdown), env_pad_a=pads["A"],
                          env_pad_b=pads["B"], store=store, root=root,
                          provenance_a=prov["A"], provenance_b=prov["B"],
                          **run_kw, **wl_params)
        wall = time.monotonic() - started
        out = []
        for role in order:
            r = ra if role == "A" else rb
            out.append(row_of(r, bp, role, pair, order, pads[role], started,
                              wall / 2.0, True))
        return out

    def halfwidth_now() -> float:
        """Half-width of the interval the verdict would report now."""
        if len(rows) < 4:
            return math.inf
        df = pd.DataFrame(rows)
        lo, hi = _stats.hierarchical_bootstrap_ci(df, label_a, label_b,
                                                  confidence=confidence,
                                                  resamples=_INTERIM_RESAMPLES, seed=seed)
        t_ci = build_t_interval(df, label_a, label_b, confidence=confidence)
        if t_ci is not None:
            lo, hi = min(lo, t_ci[0]), max(hi, t_ci[1])
        return (hi - lo) / 2.0

    def time_left_for(extra: float) -> bool:
        return deadline is None or time.monotonic() + extra <= deadline

    n_pairs_of: dict[int, int] = {}

    def one_round(blds: list[BuildPair]) -> str | None:
        """One more pair for each build, round robin; why to stop, or None."""
        for bp in blds:
            est_pair = float(np.median(pair_times)) if pair_times else 0.0
            if pair_times and not time_left_for(est_pair):
                return "budget spent"
            p = n_pairs_of.get(bp.build, 0)
            order = "AB" if rng.random() < 0.5 else "BA"
            ts = time.monotonic()
            if interleave:
                rows.extend(one_pair(bp, p, order))
            else:
                for role in order:
                    rows.append(one_process(bp, role, p, order))
            pair_times.append(time.monotonic() - ts)
            n_pairs_of[bp.build] = p + 1
            bar.update(1)
        if budget is not None and len(made) >= 2 and halfwidth_now() < target_halfwidth:
            return f"target reached after {len(rows) // 2} pairs"
        return None

    wave, why, pairs_next = 0, None, processes
    try:
        while why is None:
            # a new wave builds 2 x builds engines: assume it costs what the
            # last wave did (_MIN_COMPILE_S a build before any).  The first
            # wave compiles the objects; later ones mostly relink them.
            est_compile = (compile_times[-1] if compile_times else _MIN_COMPILE_S) * builds
            est_pair = float(np.median(pair_times)) if pair_times else 0.0
            if wave and not time_left_for(est_compile + est_pair):
                # no room for new builds: more pairs for the ones there are
                why = one_round(made)
                continue
            tc = time.monotonic()
            new = _make_builds(a, b, range(wave * builds, (wave + 1) * builds), seed, aa,
                               slowdown)
            per_build = (time.monotonic() - tc) / builds
            if per_build > _CACHED_S:
                compile_times.append(per_build)
            made += new
            for _ in range(pairs_next):
                why = one_round(new)
                if why:
                    break
            wave += 1
            if budget is not None and why is None:
                pairs_next = _next_wave_pairs(rows, label_a, label_b, processes,
                                              compile_times, pair_times)
            if budget is None:
                why = why or stop_reason
    finally:
        bar.close()
    stop_reason = why

    measured_s = time.monotonic() - t0
    n_pairs = len(rows) // 2
    if n_pairs < 2:
        raise ParameterError("budget", budget,
                             f"enough seconds for at least 2 process pairs (one pair took "
                             f"{pair_times[0] if pair_times else math.nan:.2f} s here, "
                             f"building the engines {sum(compile_times):.1f} s)")
    obs = pd.DataFrame(rows, columns=list(OBSERVATION_COLUMNS))
    used = sorted(obs["build"].unique())
    made = [bp for bp in made if bp.build in set(used)]
    v = _stats.verdict(obs, label_a, label_b, confidence=confidence, resamples=resamples,
                       seed=seed)
    v, ci_method = guard_few_builds(v, obs, label_a, label_b)
    recorded = {**run_kw, **wl_params}
    return Comparison(a=a, b=b, label_a=label_a, label_b=label_b, workload=workload,
                      verdict=v, observations=obs, wall_s=time.monotonic() - t0,
                      builds=tuple(made), params=recorded, aa=bool(aa), slowdown=slowdown,
                      seed=int(seed), budget=None if budget is None else float(budget),
                      target_halfwidth=float(target_halfwidth) if budget is not None else None,
                      stop_reason=stop_reason, ci_method=ci_method,
                      measured_s=measured_s, interleave=interleave,
                      handoff_samples=handoff_samples if interleave else None)


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


def _next_wave_pairs(rows: list[dict], a: str, b: str, processes: int,
                     compile_times: list[float], pair_times: list[float]) -> int:
    """Budget mode: pairs per build of the next wave (at least `processes`)."""
    try:
        vc = _stats.variance_components(pd.DataFrame(rows), a, b)
    except ParameterError:
        return processes
    c_b = compile_times[-1] if compile_times else _MIN_COMPILE_S
    c_p = float(np.median(pair_times)) if pair_times else 0.0
    return max(processes, optimal_pairs(vc["sigma_build"], vc["sigma_pair"], c_b, c_p,
                                        hi=max(64, processes)))


def build_t_interval(obs: pd.DataFrame, a: object, b: object, *,
                     confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval of the ratio from the build means alone.

    Each build's mean log ratio is one observation (its variance is
    ``sigma_build**2 + sigma_pair**2 / n_pairs``, both levels at once); the
    interval is ``exp(mean ± t[n_builds - 1] * sd / sqrt(n_builds))``. This is
    the textbook interval for a few clusters. None with fewer than 2 builds.
    """
    lr = _stats.paired_log_ratios(obs, a, b)
    m = lr.groupby("build")["log_ratio"].mean().to_numpy(float)
    if m.size < 2:
        return None
    half = (_sps.t.ppf(0.5 + confidence / 2.0, m.size - 1)
            * m.std(ddof=1) / math.sqrt(m.size))
    return float(np.exp(m.mean() - half)), float(np.exp(m.mean() + half))


def guard_few_builds(v: _stats.Verdict, obs: pd.DataFrame, a: object, b: object
                     ) -> tuple[_stats.Verdict, str]:
    """Widen the bootstrap CI to at least the build-level t interval.

    With few builds the percentile hierarchical bootstrap undercovers
    (:func:`fraglib.stats.hierarchical_bootstrap_ci`, Notes): three builds
    give at most ten distinct build draws, and its interval is about half
    as wide as the t interval with 2 degrees of freedom. On this machine a
    layout build alone moves topdown by several percent, so an A/A run over
    three or four builds would then "find" a difference about one time in
    three. The verdict keeps the union of the two intervals and its kind is
    re-decided on it (a layout-sensitive verdict stays layout-sensitive).

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
    kind = v.kind
    if kind != "layout-sensitive":
        kind = "faster" if hi < 1.0 else "slower" if lo > 1.0 else "no difference"
    v = dataclasses.replace(v, kind=kind, ci_lo=lo, ci_hi=hi, text="")
    return v, f"{boot}, widened to the Student-t interval of {v.n_builds} build means"


# ---- series of comparisons (the noise notebook) ---------------------------------


def compare_each(a: str, b: str, param: str, values, **kwargs) -> dict:
    """Run :func:`compare` once per value of one parameter.

    Parameters
    ----------
    a, b : str
        Designs, as for :func:`compare`.
    param : str
        A keyword of :func:`compare` (``slowdown``) or a run/workload
        parameter (``busy_poll``, ``size``).
    values : iterable
        Its values, run in the order given.
    **kwargs
        Everything else :func:`compare` takes, the same for every value.

    Returns
    -------
    dict
        ``{value: Comparison}`` in the order given.
    """
    values = list(values)
    if not values:
        raise ParameterError("values", values, f"at least one value of {param}")
    if param in kwargs:
        raise ParameterError(param, kwargs[param], f"not also a keyword: it is the "
                             f"parameter being varied")
    return {v: compare(a, b, **{param: v}, **kwargs) for v in values}


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


def mde_grid(sigma_build: float, sigma_pair: float, *,
             builds=(1, 2, 4, 8, 16, 32), pairs=(2, 4, 8, 16, 32),
             seconds_per_build: float | None = None,
             seconds_per_pair: float | None = None) -> pd.DataFrame:
    """The MDE of every builds x pairs design, and what it would cost.

    :func:`fraglib.stats.mde` with the measured variance components
    (Kalibera & Jones' dimensioning: put repetitions where the variance is,
    relative to their cost).

    Parameters
    ----------
    sigma_build, sigma_pair : float
        Between- and within-build SD of the log ratio (e.g. from an A/A
        :class:`Comparison`'s verdict). NaN is read as 0.
    builds, pairs : sequence of int
        Layout builds, and ABBA pairs per build.
    seconds_per_build, seconds_per_pair : float, optional
        Measured costs (e.g. from :meth:`Comparison.costs`); add a
        ``seconds`` column when both are given.

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
                   "mde": _stats.mde(sb, sp, int(nb), int(npr))}
            if seconds_per_build is not None and seconds_per_pair is not None:
                row["seconds"] = nb * seconds_per_build + nb * npr * seconds_per_pair
            rows.append(row)
    return pd.DataFrame(rows)
