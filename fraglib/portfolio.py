"""Several comparisons, one deadline: which one runs next, and the executor.

:class:`Portfolio` is pure, like :class:`fraglib.scheduler.Scheduler`:
each comparison keeps its own scheduler, all with the same deadline; after
a pilot of each, the next action goes to the comparison closest to reaching
its target within the time left, and when none can, the rest is spent in
proportion to each one's measured noise and cost (Neyman allocation),
instead of running out on the last one. :func:`compare_portfolio` carries
its actions out with :mod:`fraglib.compare`'s executor (the cells of
``0.0-summary``).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Hashable, Mapping

from tqdm.auto import tqdm

from . import stats as _stats
from .compare import (_carry_out_builds, _carry_out_pair, _comparison, comparison_id,
                      run_writer)
from .exceptions import ParameterError
from .scheduler import BuildPair, MakeBuilds, RunPair, Scheduler, Stop

__all__ = ["Advance", "Portfolio", "compare_portfolio", "NEAR"]

#: a comparison whose target needs at most this many times the time left is
#: "near": given all of it, its half-width would end within sqrt(NEAR) = 2
#: times its target.  Near ones share the time before the rest (step 3).
NEAR = 4.0


# ---- several comparisons, one deadline --------------------------------------------


@dataclasses.dataclass(frozen=True)
class Advance:
    """Action of a :class:`Portfolio`: carry out ``action`` for comparison ``key``."""

    key: Hashable
    action: MakeBuilds | RunPair


class Portfolio:
    """Share one deadline among several comparisons: which one runs next.

    Each comparison keeps its own :class:`Scheduler` (budget mode; all made
    with the same deadline, so none starts a pair expected to end past it,
    and each stops on its own target half-width). :meth:`next` advances one
    of them by one action, chosen in this order:

    1. **Pilot.** Comparisons without a variance estimate yet (2 builds, and
       2 pairs in one of them) go first, in the order given.
    2. **Targets within reach.** Of the comparisons whose estimated time to
       their target (:meth:`need`) fits in what is left, the one closest to
       it, so as many as possible reach their targets; one that does stops
       and leaves its time to the others.
    3. **The rest, by variance.** When no target is within reach, the
       comparison that lowers ``sum(distance**2)`` the most per second:
       ``distance**2 / (n_pairs * seconds_per_pair)``. This spends the time
       in proportion to ``sigma * sqrt(cost) / target`` (Neyman allocation),
       so a workload too noisy for its target gets more, but not all, of it.
       Only comparisons within :data:`NEAR` times the time left of their
       targets share it while there are any: one that would need a hundred
       times the budget (ring's two threads on two vCPUs) would otherwise
       take the most, for an interval that stays far from its target, from
       one that ends just short of it.

    Builds, pair costs and the stop rule stay the schedulers' own; the
    portfolio only chooses whose turn it is. Pure, like :class:`Scheduler`.

    Parameters
    ----------
    schedulers : mapping
        ``{key: Scheduler}``, in priority order for the pilots and ties.

    Notes
    -----
    Protocol: :meth:`next` returns :class:`Advance` (carry out its action,
    then call :meth:`built` or :meth:`measured` with the same key) or
    :class:`Stop` once every scheduler stopped; :attr:`stops` holds each
    comparison's own stop reason.
    """

    def __init__(self, schedulers: Mapping[Hashable, Scheduler]):
        if not schedulers:
            raise ParameterError("schedulers", dict(schedulers), "at least one Scheduler")
        self.schedulers = dict(schedulers)
        self.stops: dict[Hashable, str] = {}
        self._order = {k: i for i, k in enumerate(self.schedulers)}
        self._waiting: Hashable | None = None
        self._stop: Stop | None = None
        # key: (rows and last interim, (distance, distance at the end))
        self._dist: dict[Hashable, tuple] = {}

    def distance(self, key: Hashable) -> float:
        """Estimated CI half-width of `key` over its target (``inf``: no estimate yet).

        From the variance components of its pairs so far: ``se**2 =
        sigma_build**2 / n_builds + sigma_pair**2 / n_pairs`` with the
        Student-t quantile on ``n_builds - 1`` degrees of freedom, the
        interval the verdict uses with few builds; never below the last
        interim half-width of its scheduler (bootstrap and t, as the stop
        rule sees it) scaled by ``sqrt(pairs then / pairs now)``, so a skewed
        interval cannot make a target look closer than it is. Cheap: no bootstrap, and
        cached until the comparison gets new rows (a few hundred rows
        through pandas cost tens of ms: for every comparison at every
        action, that was as much time as the pairs themselves).
        """
        return self._distances(key)[0]

    def _distances(self, key: Hashable) -> tuple[float, float]:
        """:meth:`distance` and the one :meth:`need` projects from, cached."""
        s = self.schedulers[key]
        state = (len(s.rows), s.last_halfwidth)
        if key not in self._dist or self._dist[key][0] != state:
            self._dist[key] = (state, self._distance(s))
        return self._dist[key][1]

    @staticmethod
    def _distance(s: Scheduler) -> tuple[float, float]:
        from scipy import stats as sps

        p = s.plan
        lr = s.log_ratios()
        if len(lr) < 2:
            return math.inf, math.inf
        vc = _stats.variance_components_of_ratios(lr)
        n_b = vc["n_builds"]
        if n_b < 2:
            return math.inf, math.inf
        if not math.isfinite(vc["sigma_pair"]):     # one pair per build so far
            return math.inf, math.inf
        sb = vc["sigma_build"] if math.isfinite(vc["sigma_build"]) else 0.0
        sp = vc["sigma_pair"]
        se = math.sqrt(sb ** 2 / n_b + sp ** 2 / s.n_pairs)
        q = float(sps.t.ppf(0.5 + p.confidence / 2.0, n_b - 1))
        z = float(sps.norm.ppf(0.5 + p.confidence / 2.0))
        d, d_end = math.expm1(q * se), math.expm1(z * se)
        if s.last_halfwidth is not None:
            # the interval the stop rule itself saw (bootstrap and t), scaled
            # to the pairs since: never more optimistic than that
            n0, hw = s.last_halfwidth
            now = hw * math.sqrt(n0 / s.n_pairs)
            d, d_end = max(d, now), max(d_end, now * z / q)
        return d / p.target_halfwidth, d_end / p.target_halfwidth

    def need(self, key: Hashable) -> float:
        """Estimated seconds `key` still needs to reach its target (``inf``: unknown).

        ``n_pairs * (d**2 - 1)`` more pairs (the half-width shrinks as
        ``1 / sqrt(n_pairs)``) at its median seconds per pair, where ``d``
        is :meth:`distance` with the normal quantile in place of the
        Student-t one of its builds so far: the builds those pairs bring
        take the quantile there. Read at a pilot's t[3] = 3.18 instead of
        1.96, the need was 2.6 times too long, and a tx cell a few dozen
        pairs from its target waited behind the fastpath cells until the
        time was gone.
        """
        d = self._distances(key)[1]
        s = self.schedulers[key]
        if not math.isfinite(d):
            return math.inf
        return max(0.0, d * d - 1.0) * s.n_pairs * s._pair_estimate()

    def _gain(self, key: Hashable) -> float:
        """Reduction of ``distance**2`` per second of one more pair of `key`."""
        s = self.schedulers[key]
        d = self.distance(key)
        return d * d / (s.n_pairs * max(s._pair_estimate(), 1e-9))

    def _choose(self, live: list) -> Hashable:
        """Whose turn it is (see the class docstring)."""
        dist = {k: self.distance(k) for k in live}
        pilots = [k for k in live if not math.isfinite(dist[k])]
        if pilots:
            return min(pilots, key=self._order.__getitem__)
        clocks = [self.schedulers[k] for k in live]
        left = min((s.deadline - s.clock() for s in clocks if s.deadline is not None),
                   default=math.inf)
        needs = {k: self.need(k) for k in live}
        within = [k for k in live if needs[k] <= left]
        if within:
            return min(within, key=lambda k: (needs[k], self._order[k]))
        near = [k for k in live if needs[k] <= NEAR * left]
        return max(near or live, key=lambda k: (self._gain(k), -self._order[k]))

    def next(self) -> Advance | Stop:
        """The next action (see the class Notes)."""
        if self._stop is not None:
            return self._stop
        if self._waiting is not None:
            raise ParameterError("portfolio", "next()",
                                 f"built() or measured() of {self._waiting!r} first")
        while True:
            live = [k for k in self.schedulers if k not in self.stops]
            if not live:
                self._stop = Stop(f"all {len(self.schedulers)} comparisons stopped")
                return self._stop
            key = self._choose(live)
            act = self.schedulers[key].next()
            if isinstance(act, Stop):
                self.stops[key] = act.reason
                continue
            self._waiting = key
            return Advance(key, act)

    def built(self, key: Hashable, builds: list[BuildPair], seconds: float) -> None:
        """:meth:`Scheduler.built` of comparison `key`."""
        self._expect(key)
        self.schedulers[key].built(builds, seconds)

    def measured(self, key: Hashable, rows: list[Mapping], seconds: float) -> None:
        """:meth:`Scheduler.measured` of comparison `key`."""
        self._expect(key)
        self.schedulers[key].measured(rows, seconds)

    def _expect(self, key: Hashable) -> None:
        if self._waiting is None or key != self._waiting:
            raise ParameterError("key", key, f"{self._waiting!r}, the comparison of the "
                                 "last Advance" if self._waiting is not None
                                 else "nothing: call next() first")
        self._waiting = None


# ---- the executor ------------------------------------------------------------------


def compare_portfolio(plans, *, store: bool = True, root=None,
                      progress: bool = True) -> tuple[dict, dict]:
    """Run several budget-mode comparisons against one shared deadline.

    Each plan (from :func:`plan`, with ``budget``: every one the same
    number of seconds from now) gets its own
    :class:`~fraglib.scheduler.Scheduler`; a
    :class:`Portfolio` decides whose action runs next
    (after a pilot of each: the one closest to its target half-width
    within the time left, else by measured noise and cost), so the time
    goes where it buys the most precision.

    Parameters
    ----------
    plans : mapping
        ``{key: Plan}``, in priority order (pilots run in this order).
    store, root, progress :
        As for :func:`compare`.

    Returns
    -------
    (dict, dict, dict)
        ``{key: Comparison}`` of every comparison that reached 2 pairs,
        ``{key: str}`` why the others gave no verdict, and ``{key: list of
        warnings.WarningMessage}``: the warnings each comparison's runs
        raised (recorded, not shown; e.g. page faults in the timed region).
        Each Comparison's ``wall_s`` and ``measured_s`` are the seconds
        spent on its own builds and pairs (``stop_reason`` its scheduler's).
    """
    plans = dict(plans)
    clock = time.monotonic
    scheds = {k: Scheduler(p, comparison=comparison_id(p, resume=store), clock=clock)
              for k, p in plans.items()}
    port = Portfolio(scheds)
    spent = {k: 0.0 for k in plans}
    caught: dict = {k: [] for k in plans}
    bar = tqdm(total=None, disable=not progress, desc="comparisons", unit="pair")
    try:
        # one writer for every cell: leaving it waits until each run is stored
        with run_writer(next(iter(plans.values())), store, root) as writer:
            run_kw = {k: dict(store=store, root=root, metadata=p.metadata, writer=writer)
                      for k, p in plans.items()}
            while not isinstance(adv := port.next(), Stop):
                k, act, p = adv.key, adv.action, plans[adv.key]
                ts = clock()
                with warnings.catch_warnings(record=True) as got:
                    warnings.simplefilter("always")
                    if isinstance(act, MakeBuilds):
                        port.built(k, _carry_out_builds(p, act), clock() - ts)
                    else:
                        port.measured(k, _carry_out_pair(p, act, scheds[k].t0, clock,
                                                         run_kw[k]), clock() - ts)
                        bar.update(1)
                caught[k] += got
                spent[k] += clock() - ts
    finally:
        bar.close()
    done, failed = {}, {}
    for k, p in plans.items():
        sched = scheds[k]
        if sched.n_pairs < 2:
            failed[k] = (f"the budget left no room for 2 process pairs "
                         f"({sched.n_pairs} ran, {spent[k]:.0f} s)")
            continue
        # wall_s of _comparison is clock() - t0: the seconds this one spent
        done[k] = _comparison(p, sched, port.stops.get(k, adv.reason), spent[k],
                              clock() - spent[k], clock)
    return done, failed, caught
