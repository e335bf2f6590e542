"""Which runs a comparison makes next, and when it stops: pure decisions.

:class:`Scheduler` holds the plan of one comparison (:class:`Plan`, made and
validated by :func:`fraglib.compare.plan`) and the measurements fed back so
far, and answers :meth:`Scheduler.next` with one action:

* :class:`MakeBuilds` -- compile (or reuse) the engines of these layout
  builds, then call :meth:`Scheduler.built`;
* :class:`RunPair` -- run these two labelled :class:`~fraglib.spec.RunSpec`
  (A's and B's, in the pair's ABBA order), then call
  :meth:`Scheduler.measured` with their process-level rows;
* :class:`Stop` -- done, and why.

:class:`fraglib.portfolio.Portfolio` shares one deadline among several
such schedulers (the cells of ``0.0-summary``).

It never builds, runs or writes anything; its only outside input is the
clock, which is injectable (``clock=``), so a budget policy can be tested
with a fake clock and fake measurements. :func:`fraglib.compare.compare` is
the executor that carries the actions out.

The policy (docs/methodology.md §8-9): builds are visited round robin, one
pair of each per round, each pair in a random ABBA order; without a budget,
one wave of ``builds`` builds x ``processes`` pairs. With a budget, waves of
``builds`` new builds follow until the CI half-width is below the target or
the time is spent; after the first wave, the pairs per build follow the
measured variance components and costs (:func:`fraglib.stats.optimal_pairs`);
when a new wave would not fit, the remaining time adds pairs to the builds
there are; a pair expected to end past the budget is not started.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import stats as _stats
from .exceptions import ParameterError
from .spec import Labels, RunSpec
from .stats.validation import _check_positive_values

__all__ = ["Plan", "BuildPair", "MakeBuilds", "RunPair", "Stop", "Scheduler",
           "layout_seed", "slowdown_flags", "side_labels", "INTERIM_RESAMPLES"]

#: bootstrap resamples of the interim CI checks in budget mode (the final
#: verdict uses the plan's ``resamples``)
INTERIM_RESAMPLES = 2000
# Budget mode: seconds a wave is assumed to need per build before any wave
# was built here (both engines compiled, two compilers at a time, on a
# 2-core VM); and the least a build is assumed to cost afterwards (a cache
# hit costs nothing, but the next wave's new seeds are relinks).
_MIN_COMPILE_S = 3.0
_MIN_BUILD_S = 0.05


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


def side_labels(a: str, b: str, slowdown: int) -> tuple[str, str]:
    """The two sides' labels in a verdict (``+slowdownK``; ``(A)``/``(B)`` when equal)."""
    lb = f"{b}+slowdown{slowdown}" if slowdown else b
    if lb == a:
        return f"{a} (A)", f"{b} (B)"
    return a, lb


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
class Plan:
    """A validated comparison: what :func:`fraglib.compare.compare` will do.

    Made by :func:`fraglib.compare.plan`, which validates every argument
    once; nothing here is checked again.

    Attributes
    ----------
    a, b, workload : str
    spec_a, spec_b : RunSpec
        The two sides' validated specs (B with the slowdown flags); each run
        derives its own from them (layout seed, env pad, labels).
    label_a, label_b : str
        The sides' labels in the verdict (:func:`side_labels`).
    builds, processes : int
        Builds per wave, and pairs per build of the first wave.
    aa : bool
    budget : float or None
    slowdown, seed, resamples : int
    target_halfwidth, confidence : float
    interleave : bool
    handoff_samples : int
    params : Mapping
        Run and workload parameters as recorded in the Comparison.
    metadata : bool
        Collect machine metadata with every run.
    """

    a: str
    b: str
    workload: str
    spec_a: RunSpec
    spec_b: RunSpec
    label_a: str
    label_b: str
    builds: int
    processes: int
    aa: bool
    budget: float | None
    slowdown: int
    seed: int
    resamples: int
    target_halfwidth: float
    confidence: float
    interleave: bool
    handoff_samples: int
    params: Mapping
    metadata: bool = True

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def build_seeds(self, build: int) -> tuple[int, int]:
        """Layout seeds of A and B in build ``build``."""
        sa = layout_seed(self.seed, build, 0)
        return sa, (layout_seed(self.seed, build, 1) if self.aa else sa)

    def run_spec(self, role: str, bp: BuildPair, *, pair: int, order: str, process: int,
                 comparison: str, env_pad: int) -> RunSpec:
        """The spec of one engine process (derived: not validated again)."""
        base, name = (self.spec_a, self.label_a) if role == "A" else (self.spec_b,
                                                                       self.label_b)
        return base.derive(
            layout_seed=bp.a_seed if role == "A" else bp.b_seed, env_pad=env_pad,
            labels=Labels(role=role, pair=pair, build_id=bp.build, process=process,
                          comparison=comparison, order=order, name=name),
            provenance={**base.provenance, "slowdown": self.slowdown if role == "B" else 0,
                        "aa": self.aa, "interleaved": self.interleave})


@dataclasses.dataclass(frozen=True)
class MakeBuilds:
    """Action: compile (or reuse) both engines of these builds.

    ``seeds[i]`` are the ``(a_seed, b_seed)`` of ``indices[i]``.
    """

    indices: tuple[int, ...]
    seeds: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True)
class RunPair:
    """Action: run one pair; ``specs`` are A's and B's, ``order`` who goes first."""

    build: BuildPair
    pair: int
    order: str
    specs: tuple[RunSpec, RunSpec]

    @property
    def in_order(self) -> tuple[RunSpec, RunSpec]:
        """The two specs in the order they run (or start) in."""
        return self.specs if self.order == "AB" else self.specs[::-1]


@dataclasses.dataclass(frozen=True)
class Stop:
    """Action: the comparison is over, for ``reason``."""

    reason: str


class Scheduler:
    """Decide a comparison's next runs from its plan, its measurements and a clock.

    Parameters
    ----------
    plan : Plan
    comparison : str
        The comparison's id (in every spec's labels).
    clock : callable, default time.monotonic
        Seconds; the budget starts at the first reading (construction).

    Notes
    -----
    Protocol: call :meth:`next`; after :class:`MakeBuilds` call
    :meth:`built`, after :class:`RunPair` call :meth:`measured`, then
    :meth:`next` again, until it returns :class:`Stop` (and then always the
    same one).
    """

    def __init__(self, plan: Plan, *, comparison: str,
                 clock: Callable[[], float] = time.monotonic):
        self.plan = plan
        self.comparison = comparison
        self.clock = clock
        self.t0 = clock()
        self.deadline = None if plan.budget is None else self.t0 + plan.budget
        self.made: list[BuildPair] = []
        self.rows: list[dict] = []
        # (build, pair, log(B/A)) of each complete pair, as it comes: what
        # every decision reads, without pairing all rows again each time
        self._ratios: list[tuple[int, int, float]] = []
        self._lr_cache: tuple[int, pd.DataFrame] | None = None
        self.pair_times: list[float] = []
        #: seconds per build of each wave, in order (the first wave compiles
        #: the objects; later ones relink them with new layout seeds)
        self.compile_times: list[float] = []
        self._rng = np.random.default_rng([int(plan.seed), 0xAB])
        self._pairs_of: dict[int, int] = {}
        self._process = 0
        self._new: list[BuildPair] | None = None
        self._waiting: str | None = None
        self._stop: Stop | None = None
        #: (pairs, half-width) of the last interim check (budget mode)
        self.last_halfwidth: tuple[int, float] | None = None
        self._steps = self._policy()

    # ---- feedback ------------------------------------------------------------

    def built(self, builds: list[BuildPair], seconds: float) -> None:
        """The builds of the last :class:`MakeBuilds` are ready; they took ``seconds``."""
        self._expect("built")
        builds = list(builds)
        self.compile_times.append(seconds / max(1, len(builds)))
        self.made += builds
        self._new = builds

    def measured(self, rows: list[Mapping], seconds: float) -> None:
        """The last :class:`RunPair` gave these process-level rows (``build``,
        ``pair``, ``design``, ``value`` at least) in ``seconds``."""
        self._expect("measured")
        rows = [dict(r) for r in rows]
        self._ratios += self._pair_ratios(rows)
        self.rows += rows
        self.pair_times.append(float(seconds))

    def _pair_ratios(self, rows: list[dict]) -> list[tuple[int, int, float]]:
        """``(build, pair, log(B/A))`` of the complete pairs among `rows`."""
        p = self.plan
        values = _check_positive_values(pd.Series([r["value"] for r in rows], dtype=object),
                                        "value")
        sides: dict[tuple, dict] = {}
        for r, v in zip(rows, values):
            sides.setdefault((int(r["build"]), int(r["pair"])), {})[r["design"]] = float(v)
        return [(b, k, math.log(v[p.label_b]) - math.log(v[p.label_a]))
                for (b, k), v in sides.items() if p.label_a in v and p.label_b in v]

    def log_ratios(self) -> pd.DataFrame:
        """The pairs' log ratios so far, as :func:`fraglib.stats.paired_log_ratios`
        makes them from :attr:`rows` (``build, pair, log_ratio``, by build
        then pair)."""
        n = len(self._ratios)
        if self._lr_cache is None or self._lr_cache[0] != n:
            arr = np.array(self._ratios, dtype=float).reshape(-1, 3)
            arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
            self._lr_cache = (n, pd.DataFrame({"build": arr[:, 0].astype(np.int64),
                                               "pair": arr[:, 1].astype(np.int64),
                                               "log_ratio": arr[:, 2]}))
        return self._lr_cache[1]

    def _expect(self, what: str) -> None:
        if self._waiting != what:
            raise ParameterError("scheduler", what,
                                 f"{self._waiting or 'next()'} first (see Scheduler)")
        self._waiting = None

    # ---- decisions -----------------------------------------------------------

    def next(self) -> MakeBuilds | RunPair | Stop:
        """The next action (see the class Notes)."""
        if self._stop is not None:
            return self._stop
        if self._waiting is not None:
            raise ParameterError("scheduler", "next()",
                                 f"{self._waiting}() first: the last action's result")
        try:
            action = next(self._steps)
        except StopIteration as e:
            self._stop = Stop(e.value)
            return self._stop
        self._waiting = "built" if isinstance(action, MakeBuilds) else "measured"
        return action

    @property
    def n_pairs(self) -> int:
        return len(self.rows) // 2

    def _fits(self, seconds: float) -> bool:
        return self.deadline is None or self.clock() + seconds <= self.deadline

    def _pair_estimate(self) -> float:
        return float(np.median(self.pair_times)) if self.pair_times else 0.0

    def halfwidth(self, resamples: int = INTERIM_RESAMPLES) -> float:
        """Relative half-width of the interval a verdict would report now (interim).

        In budget mode a half-width at or above the target may be the
        build-level t interval's alone, computed without the bootstrap
        (:func:`fraglib.stats.interim_halfwidth_of_ratios`): the answer to
        "target reached?" is the same.
        """
        p = self.plan
        if len(self._ratios) < 2:
            return math.inf
        return _stats.interim_halfwidth_of_ratios(
            self.log_ratios(), confidence=p.confidence, resamples=resamples,
            seed=p.seed, target=p.target_halfwidth if p.budget is not None else None)

    def next_wave_pairs(self) -> int:
        """Pairs per build of the next wave (at least ``processes``)."""
        p = self.plan
        if len(self._ratios) < 2:
            return p.processes
        vc = _stats.variance_components_of_ratios(self.log_ratios())
        sp, sb = vc["sigma_pair"], vc["sigma_build"]
        if math.isfinite(sp):
            # A few builds cannot tell a between-build SD below the noise of
            # a build's mean (sigma_pair / sqrt(pairs per build)) from zero;
            # read as zero it would put every later pair on the builds there
            # are (optimal_pairs' upper bound), so assume it is that large.
            floor = sp / math.sqrt(max(1.0, float(vc["n_pairs_per_build"])))
            sb = max(sb if math.isfinite(sb) else 0.0, floor)
        return max(p.processes, _stats.optimal_pairs(
            sb, sp, self._build_estimate(), self._pair_estimate(),
            hi=max(64, p.processes)))

    def _build_estimate(self) -> float:
        """Seconds the next new build is expected to cost: the last wave's.

        Not the first wave's: it compiled every object, and kept as the
        price of a build it made later waves (relinks, 20 times cheaper)
        put 10 pairs on each build instead of 2 when the between-build
        variance is what limits the MDE.
        """
        if not self.compile_times:
            return _MIN_COMPILE_S
        return max(self.compile_times[-1], _MIN_BUILD_S)

    def _pair(self, bp: BuildPair) -> RunPair:
        """The next pair of build ``bp``: its order, env pads and specs."""
        p = self.plan
        pair = self._pairs_of.get(bp.build, 0)
        order = "AB" if self._rng.random() < 0.5 else "BA"
        pads = {role: int(self._rng.integers(0, 4096))
                for role in ("AB" if p.interleave else order)}
        process = {order[0]: self._process, order[1]: self._process + 1}
        self._process += 2
        self._pairs_of[bp.build] = pair + 1
        specs = tuple(p.run_spec(role, bp, pair=pair, order=order, process=process[role],
                                 comparison=self.comparison, env_pad=pads[role])
                      for role in "AB")
        return RunPair(bp, pair, order, specs)

    def _round(self, blds: list[BuildPair]):
        """One more pair of each build, round robin; why to stop, or None."""
        p = self.plan
        for bp in blds:
            if self.pair_times and not self._fits(self._pair_estimate()):
                return "budget spent"
            yield self._pair(bp)
        # Not before the first wave's pairs are in: with one pair per build
        # there is no within-build variance yet, and an interval from four
        # pairs can fall under a 1 % target by chance (an rx cell stopped
        # so, with "MDE unknown").
        if p.budget is not None and len(self.made) >= 2 \
                and self.n_pairs >= p.builds * p.processes:
            hw = self.halfwidth()
            if hw < p.target_halfwidth:
                # Confirm on the interval the verdict will report (its
                # resamples and seed): with fewer, the bootstrap's own noise
                # let cells stop on "target reached" and then report an MDE
                # a few percent above the target.
                hw = self.halfwidth(p.resamples)
            self.last_halfwidth = (self.n_pairs, hw)
            if hw < p.target_halfwidth:
                return f"target reached after {self.n_pairs} pairs"
        return None

    def _policy(self):
        p = self.plan
        wave, pairs_next = 0, p.processes
        while True:
            # a new wave builds 2 x builds engines: assume it costs what the
            # last wave did (_MIN_COMPILE_S a build before any).  The first
            # wave compiles the objects; later ones mostly relink them.
            est_compile = self._build_estimate() * p.builds
            if wave and not self._fits(est_compile + self._pair_estimate()):
                why = yield from self._round(self.made)   # more pairs, no new builds
                if why:
                    return why
                continue
            idx = tuple(range(wave * p.builds, (wave + 1) * p.builds))
            yield MakeBuilds(idx, tuple(p.build_seeds(j) for j in idx))
            new, why = self._new, None
            for _ in range(pairs_next):
                why = yield from self._round(new)
                if why:
                    break
            wave += 1
            if p.budget is None:
                return why or f"planned {p.builds} builds × {p.processes} pairs done"
            if why:
                return why
            pairs_next = self.next_wave_pairs()
