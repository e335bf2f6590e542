"""The comparison scheduler: a pure policy, tested with a fake clock and fake
measurements (no engine is built or run here)."""

import math

import numpy as np
import pandas as pd
import pytest

from fraglib import compare as cmp
from fraglib import stats
from fraglib.exceptions import ParameterError
from fraglib.portfolio import Advance, Portfolio
from fraglib.scheduler import BuildPair, MakeBuilds, RunPair, Scheduler, Stop


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def _drive(plan, *, compile_s=4.0, pair_s=1.0, effect=0.05, noise=0.01, seed=0,
           later_compile_s=None, build_noise=0.0):
    """Run a scheduler to its end on fake builds and measurements.

    ``compile_s`` is the seconds per build of the first wave, and of later
    ones unless ``later_compile_s`` is given; ``build_noise`` the SD of a
    per-build log effect on B (layout).  Returns the scheduler, the stop
    reason and the actions with the clock reading when each was handed out.
    """
    clock = FakeClock()
    s = Scheduler(plan, comparison="c0", clock=clock)
    rng = np.random.default_rng(seed)
    layout: dict[int, float] = {}
    actions = []
    while True:
        act = s.next()
        actions.append((clock.t, act))
        if isinstance(act, Stop):
            return s, act.reason, actions, clock
        if isinstance(act, MakeBuilds):
            per = compile_s if later_compile_s is None or not s.made else later_compile_s
            clock.t += per * len(act.indices)
            for j in act.indices:
                layout[j] = rng.normal(0, build_noise)
            s.built([BuildPair(j, sa, sb, "ka", "kb")
                     for j, (sa, sb) in zip(act.indices, act.seeds)], per * len(act.indices))
            continue
        clock.t += pair_s
        rows = []
        for spec in act.in_order:
            lab = spec.labels
            v = 100.0 * (1 + effect if lab.role == "B" else 1.0) * np.exp(rng.normal(0, noise))
            if lab.role == "B":
                v *= np.exp(layout[lab.build_id])
            rows.append({"build": lab.build_id, "pair": lab.pair, "design": lab.name,
                         "value": v})
        s.measured(rows, pair_s)


def _plan(**kw):
    return cmp.plan("topdown", "bottomup", packets=4096, **kw)


def test_without_a_budget_one_wave_round_robin_then_stop():
    s, why, actions, _ = _drive(_plan(builds=3, processes=2))
    kinds = [type(a).__name__ for _, a in actions]
    assert kinds == ["MakeBuilds"] + ["RunPair"] * 6 + ["Stop"]
    assert why == "planned 3 builds × 2 pairs done"
    pairs = [a for _, a in actions if isinstance(a, RunPair)]
    assert [(a.build.build, a.pair) for a in pairs] == [(0, 0), (1, 0), (2, 0),
                                                         (0, 1), (1, 1), (2, 1)]
    procs = [spec.labels.process for a in pairs for spec in a.in_order]
    assert procs == list(range(12))                 # processes numbered in run order
    for a in pairs:
        assert [sp.labels.role for sp in a.in_order] == list(a.order)
        assert {sp.labels.comparison for sp in a.specs} == {"c0"}
        assert a.specs[0].layout_seed == a.build.a_seed
    assert s.next() == Stop(why)                     # stays stopped


def test_orders_and_pads_follow_the_seed():
    def draws(seed):
        _, _, actions, _ = _drive(_plan(builds=2, processes=3, seed=seed))
        return [(a.order, a.specs[0].env_pad, a.specs[1].env_pad) for _, a in actions
                if isinstance(a, RunPair)]
    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_budget_is_never_overrun_by_more_than_one_pair():
    budget = 20.0
    s, why, actions, clock = _drive(_plan(builds=2, processes=2, budget=budget,
                                          target_halfwidth=1e-6), compile_s=4.0, pair_s=1.0)
    assert why == "budget spent"
    t0 = 100.0
    # first wave: 8 s of builds and 2 x 2 pairs by t0 + 12; a second wave
    # (8 s of builds + a pair) does not fit, so the 8 s left add pairs to
    # the two builds, round robin
    assert sum(isinstance(a, MakeBuilds) for _, a in actions) == 1
    assert s.n_pairs == 12 and clock.t == t0 + budget
    for t, a in actions:
        if isinstance(a, RunPair):
            assert t + 1.0 <= t0 + budget           # only pairs expected to fit
    per_build = [sum(1 for _, a in actions if isinstance(a, RunPair) and a.build.build == j)
                 for j in (0, 1)]
    assert per_build == [6, 6]


def test_budget_stops_once_the_target_halfwidth_is_reached():
    s, why, actions, _ = _drive(_plan(builds=2, processes=4, budget=1000,
                                      target_halfwidth=0.02), noise=0.001)
    assert why == f"target reached after {s.n_pairs} pairs"
    assert s.n_pairs == 8 and s.halfwidth() < 0.02        # after the first wave
    noisy, why, _, _ = _drive(_plan(builds=2, processes=4, budget=1000,
                                    target_halfwidth=0.02), noise=0.05)
    assert noisy.n_pairs > 2


def test_later_waves_follow_the_measured_costs():
    # cheap builds (0.5 s each, cached below 0.3 s not counted): a second
    # wave fits, and its pairs per build are optimal_pairs(...) >= processes
    s, why, actions, _ = _drive(_plan(builds=2, processes=2, budget=60,
                                      target_halfwidth=1e-6), compile_s=0.5, pair_s=1.0)
    waves = [a for _, a in actions if isinstance(a, MakeBuilds)]
    assert len(waves) >= 2 and waves[1].indices == (2, 3)
    assert s.compile_times and s.compile_times[0] == pytest.approx(0.5)
    second = [a for _, a in actions if isinstance(a, RunPair) and a.build.build == 2]
    assert len(second) >= 2


def test_relinked_waves_get_few_pairs_per_build_when_layout_dominates():
    # The first wave compiles (4 s a build), later waves relink (0.2 s): the
    # pairs per build follow the relink's price, so a layout-dominated
    # comparison gets many builds of 2 pairs, not a few of many (with the
    # first wave's price, optimal_pairs says about 6 here).
    s, _, actions, _ = _drive(_plan(builds=4, processes=2, budget=300,
                                    target_halfwidth=1e-6), compile_s=4.0,
                              later_compile_s=0.2, pair_s=1.0, noise=0.01,
                              build_noise=0.005)
    assert s.compile_times[0] == pytest.approx(4.0)
    assert s.compile_times[-1] == pytest.approx(0.2) and s._build_estimate() == \
        pytest.approx(0.2)
    pairs = {}
    for _, a in actions:
        if isinstance(a, RunPair):
            pairs[a.build.build] = pairs.get(a.build.build, 0) + 1
    later = [n for b, n in pairs.items() if b >= 4]
    assert len(later) >= 40 and max(later) <= 3, pairs
    vc = stats.variance_components(pd.DataFrame(s.rows), s.plan.label_a, s.plan.label_b)
    assert stats.optimal_pairs(vc["sigma_build"], vc["sigma_pair"], 4.0, 1.0) >= 4, \
        "the case must be one where the first wave's price would mislead"
    assert math.isfinite(vc["sigma_build"])


def test_protocol_is_enforced():
    s = Scheduler(_plan(builds=1, processes=2), comparison="c0", clock=FakeClock())
    act = s.next()
    assert isinstance(act, MakeBuilds)
    with pytest.raises(ParameterError, match="built"):
        s.next()
    with pytest.raises(ParameterError):
        s.measured([], 1.0)


# ---- Portfolio: several comparisons, one deadline --------------------------------


def _fake_rows(act, rng, effect, noise):
    rows = []
    for spec in act.in_order:
        lab = spec.labels
        v = 100.0 * (1 + effect if lab.role == "B" else 1.0) * np.exp(rng.normal(0, noise))
        rows.append({"build": lab.build_id, "pair": lab.pair, "design": lab.name, "value": v})
    return rows


def _drive_portfolio(plans, noise, *, compile_s=0.5, pair_s=1.0, seed=0):
    """A Portfolio over `plans` ({key: Plan}) to its end; noise per key."""
    clock = FakeClock()
    port = Portfolio({k: Scheduler(p, comparison=str(k), clock=clock)
                      for k, p in plans.items()})
    rng = np.random.default_rng(seed)
    keys = []
    while True:
        adv = port.next()
        if isinstance(adv, Stop):
            return port, keys, clock
        keys.append(adv.key)
        if isinstance(adv.action, MakeBuilds):
            clock.t += compile_s * len(adv.action.indices)
            port.built(adv.key, [BuildPair(j, sa, sb, "ka", "kb") for j, (sa, sb)
                                 in zip(adv.action.indices, adv.action.seeds)],
                       compile_s * len(adv.action.indices))
            continue
        clock.t += pair_s
        port.measured(adv.key, _fake_rows(adv.action, rng, 0.01, noise[adv.key]), pair_s)


def test_portfolio_pilots_in_order_then_gives_the_noisy_cell_more_pairs():
    budget = 40.0
    plans = {k: _plan(builds=2, processes=2, budget=budget, target_halfwidth=1e-6)
             for k in ("quiet", "noisy")}
    port, keys, clock = _drive_portfolio(plans, {"quiet": 0.002, "noisy": 0.02})
    # pilot: the first cell until it has a variance estimate (2 builds, 2 pairs
    # in one), before the second starts
    first_noisy = keys.index("noisy")
    assert set(keys[:first_noisy]) == {"quiet"} and first_noisy >= 4
    pairs = {k: port.schedulers[k].n_pairs for k in plans}
    assert pairs["noisy"] > 3 * pairs["quiet"], pairs
    assert port.stops == {"quiet": "budget spent", "noisy": "budget spent"}
    assert clock.t <= 100.0 + budget
    assert port.next() == port.next() and isinstance(port.next(), Stop)


def test_portfolio_cell_at_its_target_stops_and_leaves_the_time_to_the_others():
    plans = {"easy": _plan(builds=2, processes=2, budget=40, target_halfwidth=0.05),
             "hard": _plan(builds=2, processes=2, budget=40, target_halfwidth=1e-6)}
    port, keys, _ = _drive_portfolio(plans, {"easy": 0.002, "hard": 0.002})
    assert port.stops["easy"].startswith("target reached")
    assert port.stops["hard"] == "budget spent"
    assert port.schedulers["hard"].n_pairs > 4 * port.schedulers["easy"].n_pairs


def test_portfolio_brings_a_reachable_target_home_before_feeding_a_hopeless_one():
    # "hopeless" is much further from its target, yet "reachable" (a target a
    # few dozen pairs away) gets its pairs first and stops on its target
    plans = {"hopeless": _plan(builds=4, processes=2, budget=50, target_halfwidth=1e-6),
             "reachable": _plan(builds=4, processes=2, budget=50, target_halfwidth=0.006)}
    port, keys, _ = _drive_portfolio(plans, {"hopeless": 0.05, "reachable": 0.005})
    assert port.stops["reachable"].startswith("target reached"), port.stops
    last = max(i for i, k in enumerate(keys) if k == "reachable")
    pilots = keys.index("reachable") + 6      # MakeBuilds and 5 pairs
    assert all(k == "reachable" for k in keys[pilots:last + 1]), \
        "once piloted, the reachable target gets every pair until it is reached"
    assert port.stops["hopeless"] == "budget spent"


def test_portfolio_feeds_a_near_target_before_a_hopeless_one():
    # Step 3 on given estimates: 10 s left; neither target fits in it.  A
    # cell needing 3 times that is near and gets the pair, though the
    # hopeless one (100 times) gains more distance**2 per second (Neyman);
    # with no near cell, Neyman decides; a target within reach goes first.
    from fraglib.portfolio import NEAR

    class Given(Portfolio):
        needs: dict = {}
        gains = {"hopeless": 5.0, "near": 1.0}

        def distance(self, key):
            return 3.0

        def need(self, key):
            return self.needs[key]

        def _gain(self, key):
            return self.gains[key]

    clock = FakeClock()
    port = Given({k: Scheduler(_plan(builds=2, processes=2, budget=10), comparison=k,
                               clock=clock) for k in ("hopeless", "near")})
    live = ["hopeless", "near"]
    port.needs = {"hopeless": 1000.0, "near": 30.0}
    assert 30.0 <= NEAR * 10 and port._choose(live) == "near"
    port.needs = {"hopeless": 1000.0, "near": 10 * NEAR + 1}
    assert port._choose(live) == "hopeless"
    port.needs = {"hopeless": 9.0, "near": 5.0}
    assert port._choose(live) == "near"


def _advance(port, key, rng) -> bool:
    """One action of a one-comparison portfolio, carried out on fake builds
    (1 s) or fake rows (no effect, 1 % noise, 1 s); True if it was a pair."""
    adv = port.next()
    assert adv.key == key
    if isinstance(adv.action, MakeBuilds):
        port.built(key, [BuildPair(j, a, b, "ka", "kb") for j, (a, b)
                         in zip(adv.action.indices, adv.action.seeds)], 1.0)
        return False
    port.measured(key, _fake_rows(adv.action, rng, 0.0, 0.01), 1.0)
    return True


def test_portfolio_distance_needs_a_variance_estimate_and_shrinks_with_pairs():
    clock = FakeClock()
    s = Scheduler(_plan(builds=2, processes=8, budget=1000, target_halfwidth=0.001),
                  comparison="c", clock=clock)
    port = Portfolio({"c": s})
    rng = np.random.default_rng(1)
    seen = []
    for _ in range(17):
        if _advance(port, "c", rng):
            seen.append(port.distance("c"))
    assert seen[0] == seen[1] == np.inf          # one pair per build: no sigma_pair yet
    assert np.isfinite(seen[2]) and seen[-1] < seen[2]


def test_portfolio_protocol_is_enforced():
    clock = FakeClock()
    port = Portfolio({k: Scheduler(_plan(builds=1, processes=2, budget=10),
                                   comparison=k, clock=clock) for k in ("a", "b")})
    adv = port.next()
    assert isinstance(adv, Advance) and adv.key == "a"
    with pytest.raises(ParameterError, match="first"):
        port.next()
    with pytest.raises(ParameterError, match="key"):
        port.built("b", [], 1.0)
    with pytest.raises(ParameterError, match="schedulers"):
        Portfolio({})


def test_portfolio_distance_is_never_below_the_stop_rules_own_interval():
    clock = FakeClock()
    s = Scheduler(_plan(builds=2, processes=4, budget=1000, target_halfwidth=0.01),
                  comparison="c", clock=clock)
    port = Portfolio({"c": s})
    rng = np.random.default_rng(3)
    while s.last_halfwidth is None:                  # up to the first interim check
        _advance(port, "c", rng)
    n, hw = s.last_halfwidth
    assert 2 <= n <= s.n_pairs and np.isfinite(hw)
    scale = np.sqrt(n / s.n_pairs)
    assert port.distance("c") >= hw / 0.01 * scale - 1e-12
    s.last_halfwidth = (n, 50 * hw)                   # a wide, skewed interval
    assert port.distance("c") == pytest.approx(50 * hw / 0.01 * scale)


def test_the_scheduler_keeps_the_ratios_the_rows_give():
    # Decisions read ratios kept pair by pair; they must be what pairing
    # all the rows again gives, and the interim interval the same.
    s, _, _, _ = _drive(_plan(builds=3, processes=2, budget=40, target_halfwidth=1e-6),
                        build_noise=0.02, noise=0.03, seed=4)
    p, obs = s.plan, pd.DataFrame(s.rows)
    kept = s.log_ratios()
    again = stats.paired_log_ratios(obs, p.label_a, p.label_b)
    pd.testing.assert_frame_equal(kept, again)
    assert stats.variance_components_of_ratios(kept) == stats.variance_components(
        obs, p.label_a, p.label_b)
    full = stats.interim_halfwidth(obs, p.label_a, p.label_b, resamples=2000, seed=p.seed)
    assert stats.interim_halfwidth_of_ratios(kept, resamples=2000, seed=p.seed) == full
    # with a target the t interval may answer alone, never on the other side of it
    for target in (full * 0.5, full * 0.999, full * 1.001, full * 2):
        hw = stats.interim_halfwidth_of_ratios(kept, resamples=2000, seed=p.seed,
                                               target=target)
        assert (hw < target) == (full < target) and hw <= full


def test_a_pair_with_a_value_that_is_not_a_cycle_count_is_refused():
    s = Scheduler(_plan(builds=2, processes=2), comparison="c0", clock=FakeClock())
    act = s.next()
    s.built([BuildPair(j, a, b, "ka", "kb") for j, (a, b) in zip(act.indices, act.seeds)],
            1.0)
    act = s.next()
    rows = [{"build": sp.labels.build_id, "pair": sp.labels.pair, "design": sp.labels.name,
             "value": v} for sp, v in zip(act.specs, (100.0, float("nan")))]
    with pytest.raises(ParameterError) as e:
        s.measured(rows, 1.0)
    assert e.value.param == "value"


def test_a_pilots_need_is_read_at_the_quantile_its_target_will_have():
    # After a pilot of 4 builds the interval uses t[3] = 3.18; the pairs
    # still to come bring builds, and at the target the quantile is about
    # z = 1.96. Read at t[3], a tx cell's need was 2.6 times too long and
    # it waited behind the fastpath cells until the time was gone.
    from scipy import stats as sps

    clock = FakeClock()
    s = Scheduler(_plan(builds=4, processes=2, budget=1000, target_halfwidth=0.001),
                  comparison="c", clock=clock)
    port, rng = Portfolio({"c": s}), np.random.default_rng(2)
    while s.n_pairs < 8:
        _advance(port, "c", rng)
    d, d_end = port._distances("c")
    q, z = sps.t.ppf(0.975, 3), sps.norm.ppf(0.975)
    assert d / d_end == pytest.approx(q / z, rel=0.02)
    assert port.need("c") == pytest.approx((d_end ** 2 - 1) * 8 * 1.0)
    assert port.need("c") < (d ** 2 - 1) * 8 / 2.5
