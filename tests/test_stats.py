"""Tests for fraglib.stats: known answers, calibration by simulation, bad input.

Every random step is seeded, so the simulation tests are deterministic. They
use 1000 bootstrap resamples (the least stats accepts) instead of the default
10,000 to stay fast: the calibration tests below count the same outcomes
with 1000 as with 2000 resamples (coverage 193/200, A/A "no difference"
98/100 and "layout-sensitive" 1/100, the 0.5 % slowdown detected 149/150),
so their margins are those of the simulation, not of the resampling.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from fraglib import stats
from fraglib.exceptions import ParameterError, UnknownNameError

FAST = 1000  # bootstrap resamples in the simulation tests


def frame_from_log_ratios(log_ratios_by_build, a="A", b="B", base=1000.0):
    """Process-level frame whose pairs have exactly the given log(B/A)."""
    rows = []
    for build, lrs in enumerate(log_ratios_by_build):
        for pair, lr in enumerate(lrs):
            rows.append((build, pair, a, base))
            rows.append((build, pair, b, base * math.exp(lr)))
    return pd.DataFrame(rows, columns=["build", "pair", "design", "value"])


# ---- known answers --------------------------------------------------------


def test_effect_of_reciprocal_ratios_is_exactly_one():
    df = pd.DataFrame({
        "build": [0, 0, 0, 0],
        "pair": [0, 0, 1, 1],
        "design": ["A", "B", "A", "B"],
        "value": [1.0, 1.1, 1.1, 1.0],          # ratios 1.1 and 1/1.1
    })
    assert stats.effect(df) == 1.0


def test_effect_is_the_geometric_mean_of_ratios():
    df = frame_from_log_ratios([np.log([1.0, 2.0]), np.log([4.0, 0.5])])
    assert stats.effect(df) == pytest.approx(math.sqrt(2.0), rel=1e-12)


def test_paired_log_ratios_uses_named_designs_and_ignores_others():
    df = pd.DataFrame({
        "build": ["x", "x", "x", "y", "y", "y"],
        "pair": [0, 0, 0, 0, 0, 0],
        "design": ["topdown", "bottomup", "null", "bottomup", "topdown", "null"],
        "value": [100.0, 110.0, 5.0, 90.0, 100.0, 5.0],
    })
    lr = stats.paired_log_ratios(df, a="topdown", b="bottomup")
    assert list(lr.columns) == ["build", "pair", "log_ratio"]
    assert list(lr["build"]) == ["x", "y"]
    np.testing.assert_allclose(lr["log_ratio"], np.log([1.1, 0.9]), rtol=1e-12)


def test_holm_matches_hand_computation():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> cummax 0.06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)


def test_holm_edge_cases():
    assert stats.holm([]).size == 0
    np.testing.assert_array_equal(stats.holm([0.3]), [0.3])
    np.testing.assert_array_equal(stats.holm([0.6, 0.7]), [1.0, 1.0])   # capped at 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_holm_is_bounded_and_keeps_the_order(p):
    adj = stats.holm(p)
    raw = np.asarray(p)
    assert np.all(adj >= raw - 1e-15) and np.all(adj <= 1.0)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)


def test_mde_matches_formula_by_hand():
    # Var = 0.005^2/8 + 0.01^2/(8*10) = 3.125e-6 + 1.25e-6 = 4.375e-6
    z = 1.959963984540054 + 0.8416212335729143          # z_0.975 + z_0.8
    expected = math.expm1(z * math.sqrt(4.375e-6))      # 0.0058771...
    assert stats.mde(0.005, 0.01, 8, 10) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0058771, abs=1e-7)


def test_mde_reproduces_the_methodology_example():
    # methodology §7: sigma_p = 1 %, sigma_b = 0, 32 pairs -> MDE ~ 0.5 %
    assert stats.mde(0.0, 0.01, 1, 32) == pytest.approx(0.005, abs=1e-4)
    # a between-build SD of 0.5 % needs >= 8 builds even with n_p -> infinity
    assert stats.mde(0.005, 0.01, 7, 10**9) > 0.005
    assert stats.mde(0.005, 0.01, 8, 10**9) < 0.005


def test_variance_components_known_answer():
    # build means 0.02 and 0.0; MS_within = 2e-4, MS_between = 4e-4, n0 = 2
    df = frame_from_log_ratios([[0.01, 0.03], [-0.01, 0.01]])
    vc = stats.variance_components(df)
    assert vc["sigma_pair"] == pytest.approx(math.sqrt(2e-4), rel=1e-9)
    assert vc["sigma_build"] == pytest.approx(0.01, rel=1e-9)
    assert vc["n_builds"] == 2 and vc["n_pairs_per_build"] == 2.0


def test_variance_components_clips_negative_build_variance_at_zero():
    # identical build means, spread within: MS_between = 0 < MS_within
    df = frame_from_log_ratios([[-0.01, 0.01], [0.01, -0.01]])
    assert stats.variance_components(df)["sigma_build"] == 0.0


def test_variance_components_recover_simulated_sigmas():
    df = stats.simulate_pairs(40, 30, sigma_build=0.005, sigma_pair=0.01, seed=7)
    vc = stats.variance_components(df)
    assert vc["sigma_pair"] == pytest.approx(0.01, rel=0.05)
    assert vc["sigma_build"] == pytest.approx(0.005, rel=0.3)


def test_wilcoxon_pairs_is_scipy_on_log_ratios():
    df = stats.simulate_pairs(3, 10, effect=0.01, seed=2)
    lr = stats.paired_log_ratios(df)["log_ratio"]
    expected = sps.wilcoxon(lr)
    assert stats.wilcoxon_pairs(df) == (pytest.approx(expected.statistic),
                                        pytest.approx(expected.pvalue))


def test_wilcoxon_pairs_all_ratios_one():
    assert stats.wilcoxon_pairs(frame_from_log_ratios([[0.0, 0.0, 0.0]])) == (0.0, 1.0)


def test_mannwhitney_u_detects_a_large_shift():
    df = stats.simulate_pairs(2, 10, effect=0.5, sigma_pair=0.01, seed=3)
    u, p = stats.mannwhitney_u(df)
    assert u == 400.0 and p < 1e-6      # all 20 B above all 20 A: U = 20 * 20


def _run(design, cycles, packets=64, warmup=1, labels=None, tsc_step=None):
    from fraglib.results import RunResult

    spec = None if labels is None else {"labels": labels}
    prov = {} if tsc_step is None else {"tsc_step": tsc_step}
    return RunResult(design=design, workload="fastpath", params={}, tsc_hz=1e9,
                     cycles=cycles, packets=[packets] * len(cycles), warmup_samples=warmup,
                     provenance=prov, spec=spec)


def test_process_values_drops_warmup_and_cuts_disturbed_samples():
    ra = _run("topdown", [64 * 900, 640, 704, 672, 640 * 50],
              labels={"role": "A", "pair": 0, "build_id": 3, "process": 0, "name": "td"})
    rb = _run("topdown", [64 * 900, 1280, 1344, 1312],
              labels={"role": "B", "pair": 0, "build_id": 3, "process": 1, "name": "td+1"})
    frame = stats.samples_frame([rb, ra])
    assert list(frame.columns) == list(stats.SAMPLE_COLUMNS) and len(frame) == 9
    out = stats.process_values(frame)
    assert list(out.columns) == list(stats.PROCESS_COLUMNS)
    assert list(out["design"]) == ["td", "td+1"]                 # sorted by process
    assert list(out["build"]) == [3, 3] and list(out["role"]) == ["A", "B"]
    # warm-up dropped; A's 50x sample is cut as disturbed: (640+704+672)/(3*64)
    assert out["value"].iloc[0] == pytest.approx(2016 / 192) and out["cut"].iloc[0] == 1
    assert out["value"].iloc[1] == pytest.approx(3936 / 192) and out["n"].iloc[1] == 3
    assert out["value"].iloc[0] == ra.value_cycles_per_packet


def test_process_values_without_labels_uses_the_design_and_build_0():
    out = stats.process_values(stats.samples_frame([_run("bottomup", [10, 20, 30])]))
    assert out["design"].iloc[0] == "bottomup" and out["build"].iloc[0] == 0
    assert out["pair"].isna().all() and out["role"].isna().all()


def test_process_values_rejects_a_run_with_only_warmup():
    frame = stats.samples_frame([_run("topdown", [10, 20], warmup=2)])
    with pytest.raises(ParameterError) as e:
        stats.process_values(frame)
    assert e.value.param == "samples_df"


@pytest.mark.parametrize("lo, hi, faster, slower, kind", [
    (0.9, 0.99, 0, 0, "faster"), (1.01, 1.1, 0, 0, "slower"),
    (0.99, 1.01, 0, 0, "no difference"), (1.0, 1.1, 0, 0, "no difference"),
    (0.9, 0.99, 1, 1, "layout-sensitive"), (0.9, 0.99, 2, 0, "faster"),
])
def test_decide_kind_is_the_verdict_rule(lo, hi, faster, slower, kind):
    assert stats.decide_kind(lo, hi, faster, slower) == kind


# ---- bootstrap ------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_effect():
    df = stats.simulate_pairs(6, 12, effect=0.01, sigma_build=0.002, seed=5)
    ci = stats.hierarchical_bootstrap_ci(df, resamples=FAST, seed=1)
    assert ci == stats.hierarchical_bootstrap_ci(df, resamples=FAST, seed=1)
    assert ci != stats.hierarchical_bootstrap_ci(df, resamples=FAST, seed=2)
    lo, hi = ci
    assert lo < stats.effect(df) < hi


def test_bootstrap_handles_unbalanced_builds():
    df = stats.simulate_pairs(5, 8, effect=0.01, seed=4)
    df = df[~((df["build"] == 0) & (df["pair"] >= 2))]        # build 0 keeps 2 pairs
    lo, hi = stats.hierarchical_bootstrap_ci(df, resamples=FAST)
    assert lo < stats.effect(df) < hi
    v = stats.verdict(df, resamples=FAST)
    assert v.n_pairs == 34 and "5 builds, 34 pairs" in v.text


def test_bootstrap_10k_resamples_runs_in_chunks_on_a_large_design():
    # 10 builds x 20 pairs x 10,000 resamples: one chunk (_CHUNK_ELEMENTS);
    # the interval is reproducible and brackets the effect
    df = stats.simulate_pairs(10, 20, sigma_build=0.003, seed=0)
    lo, hi = stats.hierarchical_bootstrap_ci(df, resamples=10_000)
    assert (lo, hi) == stats.hierarchical_bootstrap_ci(df, resamples=10_000)
    assert lo < stats.effect(df) < hi


# ---- calibration by simulation (methodology §9) ---------------------------


def test_aa_ci_covers_one_about_95_percent():
    # A/A between builds of identical source: no true effect, but each build's
    # layout shifts the ratio a little (sigma_build 0.3 %).
    trials = 200
    covered = sum(
        lo <= 1.0 <= hi
        for lo, hi in (
            stats.hierarchical_bootstrap_ci(
                stats.simulate_pairs(8, 16, sigma_build=0.003, sigma_pair=0.01, seed=i),
                resamples=FAST, seed=i)
            for i in range(trials)))
    assert 0.90 <= covered / trials <= 0.99


def test_aa_without_build_effect_is_conservative_and_rarely_layout_sensitive():
    # Resampling builds and pairs counts within-build noise twice, so with
    # sigma_build = 0 the interval errs on the wide side (documented).
    # Bonferroni per-build intervals make a false "layout-sensitive" need one
    # build beyond its 0.3 % tail each way: about 0.06 % of A/A runs.
    trials = 100
    verdicts = [stats.verdict(stats.simulate_pairs(8, 16, sigma_pair=0.01, seed=1000 + i),
                              resamples=FAST, seed=i) for i in range(trials)]
    assert sum(v.kind == "no difference" for v in verdicts) >= 0.95 * trials
    assert sum(v.kind == "layout-sensitive" for v in verdicts) <= 0.02 * trials


def test_known_half_percent_slowdown_is_detected_with_stated_power():
    n_builds, n_pairs, sigma_build, sigma_pair = 8, 16, 0.001, 0.01
    assert stats.mde(sigma_build, sigma_pair, n_builds, n_pairs) <= 0.005
    trials = 150
    verdicts = [stats.verdict(stats.simulate_pairs(n_builds, n_pairs, effect=0.005,
                                                   sigma_build=sigma_build,
                                                   sigma_pair=sigma_pair, seed=i),
                              resamples=FAST, seed=i) for i in range(trials)]
    assert sum(v.kind == "slower" and v.ci_lo > 1.0 for v in verdicts) >= 0.8 * trials
    assert np.median([v.mde for v in verdicts]) <= 0.005      # estimated from the data
    assert not any(v.kind == "faster" for v in verdicts)


def test_sign_flipping_builds_are_layout_sensitive():
    df = stats.simulate_pairs(8, 16, sigma_pair=0.01, build_effects=[0.02, -0.02] * 4, seed=9)
    signs = stats.build_signs(df)
    assert list(signs["sign"]) == [1, -1] * 4
    assert stats.layout_sensitive(signs)
    v = stats.verdict(df, resamples=FAST)
    assert v.kind == "layout-sensitive" and not v.resolved
    assert v.text.startswith("layout-sensitive: builds disagree on the sign")
    assert (v.builds_faster, v.builds_slower) == (4, 4)


def test_same_sign_build_spread_is_not_layout_sensitive():
    df = stats.simulate_pairs(8, 16, sigma_pair=0.01, build_effects=[0.01, 0.03] * 4, seed=9)
    v = stats.verdict(df, resamples=FAST)
    assert v.kind == "slower" and v.builds_faster == 0


# ---- verdict --------------------------------------------------------------


def test_verdict_texts():
    df = stats.simulate_pairs(8, 10, effect=-0.0123, seed=3, a="topdown", b="bottomup")
    faster = stats.verdict(df, a="topdown", b="bottomup", resamples=FAST)
    assert faster.kind == "faster" and faster.ci_hi < 1.0
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    assert faster.text == (f"bottomup faster than topdown by {pct(1 - faster.effect)} % "
                           f"[{pct(1 - faster.ci_hi)}, {pct(1 - faster.ci_lo)}] "
                           "(95 % CI, 8 builds × 10 pairs)")
    assert 1 - faster.ci_lo > 0.0123 > 1 - faster.ci_hi        # covers the truth
    same = stats.verdict(stats.simulate_pairs(8, 10, seed=3), resamples=FAST)
    assert same.kind == "no difference"
    assert same.text.startswith(f"no difference resolved; MDE {100 * same.mde:.2f} %")


def test_verdict_mde_uses_estimated_components():
    df = stats.simulate_pairs(6, 12, sigma_build=0.002, seed=8)
    v = stats.verdict(df, resamples=FAST)
    vc = stats.variance_components(df)
    assert v.mde == pytest.approx(stats.mde(vc["sigma_build"], vc["sigma_pair"], 6, 12))
    assert (v.n_builds, v.n_pairs) == (6, 72)


def test_verdict_with_one_build_has_unknown_mde():
    v = stats.verdict(stats.simulate_pairs(1, 20, seed=1), resamples=FAST)
    assert math.isnan(v.mde) and math.isnan(v.sigma_build)
    assert "MDE unknown" in v.text


def make_verdict(**kw):
    base = dict(kind="slower", effect=1.01, ci_lo=1.005, ci_hi=1.015, mde=0.004,
                p_wilcoxon=0.001, n_builds=8, n_pairs=80, sigma_build=0.001,
                sigma_pair=0.01)
    return stats.Verdict(**{**base, **kw})


def test_verdict_is_frozen_and_validated():
    v = make_verdict()
    assert v.text.startswith("B slower than A by 1.00 % [0.50, 1.50]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.kind = "faster"
    for kw, param in (({"kind": "better"}, "kind"),
                      ({"kind": "faster"}, "kind"),          # CI above 1
                      ({"ci_lo": 1.02}, "ci_hi"),            # lo > hi
                      ({"effect": -1.0}, "effect"),
                      ({"mde": -0.1}, "mde"),
                      ({"p_wilcoxon": 1.5}, "p_wilcoxon"),
                      ({"n_pairs": 1}, "n_pairs"),
                      ({"kind": "layout-sensitive"}, "kind")):  # no disagreeing builds
        with pytest.raises(ParameterError) as e:
            make_verdict(**kw)
        assert e.value.param == param


def test_verdict_table_demotes_cells_that_fail_holm():
    cells = [
        {"size": 64, "verdict": make_verdict(p_wilcoxon=0.001)},
        {"size": 256, "verdict": make_verdict(kind="faster", effect=0.99, ci_lo=0.985,
                                              ci_hi=0.995, p_wilcoxon=0.03)},
        {"size": 1500, "verdict": make_verdict(kind="no difference", ci_lo=0.99,
                                               p_wilcoxon=0.5)},
    ]
    table = stats.verdict_table(cells)
    assert list(table["size"]) == [64, 256, 1500]
    np.testing.assert_allclose(table["p_holm"], [0.003, 0.06, 0.5])
    assert list(table["kind"]) == ["slower", "no difference", "no difference"]
    assert list(table["kind_raw"]) == ["slower", "faster", "no difference"]
    assert list(table["resolved"]) == [True, False, False]
    assert "Holm-adjusted Wilcoxon p = 0.06 > 0.05" in table["text"][1]
    bare = stats.verdict_table([c["verdict"] for c in cells])
    assert list(bare["kind"]) == list(table["kind"])


# ---- properties -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2), min_size=2, max_size=12),
       st.floats(1e-3, 1e3))
def test_effect_properties(log_ratios, scale):
    df = frame_from_log_ratios([log_ratios])
    e = stats.effect(df)
    scaled = df.assign(value=df["value"] * scale)
    assert stats.effect(scaled) == pytest.approx(e, rel=1e-9)
    assert stats.effect(df, a="B", b="A") == pytest.approx(1.0 / e, rel=1e-9)
    assert math.exp(min(log_ratios)) * (1 - 1e-9) <= e <= math.exp(max(log_ratios)) * (1 + 1e-9)


# ---- bad input ------------------------------------------------------------


GOOD = stats.simulate_pairs(2, 3, seed=0)


@pytest.mark.parametrize("call, param", [
    (lambda: stats.effect(GOOD.iloc[:2]), "df"),                       # one pair
    (lambda: stats.effect(GOOD.assign(value=GOOD["value"] * 0)), "value"),
    (lambda: stats.effect(GOOD.assign(value=-GOOD["value"])), "value"),
    (lambda: stats.effect(GOOD.drop(columns="pair")), "df"),
    (lambda: stats.effect(GOOD.to_dict()), "df"),
    (lambda: stats.effect(GOOD, a="A", b="A"), "b"),
    (lambda: stats.effect(GOOD.iloc[:-1]), "pair"),                    # unpaired A
    (lambda: stats.effect(pd.concat([GOOD, GOOD.iloc[:2]])), "df"),    # duplicate
    (lambda: stats.hierarchical_bootstrap_ci(GOOD, resamples=999), "resamples"),
    (lambda: stats.hierarchical_bootstrap_ci(GOOD, confidence=1.0), "confidence"),
    (lambda: stats.verdict(GOOD, confidence=0), "confidence"),
    (lambda: stats.build_signs(GOOD, confidence=95), "confidence"),
    (lambda: stats.mde(-0.1, 0.01, 8, 10), "sigma_build"),
    (lambda: stats.mde(0.0, math.nan, 8, 10), "sigma_pair"),
    (lambda: stats.mde(0.0, 0.01, 0, 10), "n_builds"),
    (lambda: stats.mde(0.0, 0.01, 8, 0.5), "n_pairs"),
    (lambda: stats.mde(0.0, 0.01, 8, 10, alpha=1.5), "alpha"),
    (lambda: stats.mde(0.0, 0.01, 8, 10, power=1.0), "power"),
    (lambda: stats.holm([0.1, 1.2]), "pvalues"),
    (lambda: stats.holm([0.1, math.nan]), "pvalues"),
    (lambda: stats.simulate_pairs(0, 5), "n_builds"),
    (lambda: stats.simulate_pairs(2, 5, build_effects=[0.1]), "build_effects"),
    (lambda: stats.simulate_pairs(2, 5, sigma_pair=-1), "sigma_pair"),
    (lambda: stats.verdict_table([object()]), "cells[0]"),
    (lambda: stats.process_values(GOOD), "samples_df"),                # no sample columns
])
def test_bad_input_raises_parameter_error_naming_the_parameter(call, param):
    with pytest.raises(ParameterError) as e:
        call()
    assert e.value.param == param
    assert param in str(e.value)


def test_unknown_design_names_the_known_ones():
    with pytest.raises(UnknownNameError) as e:
        stats.effect(GOOD, a="topdown")
    assert e.value.param == "a" and e.value.known == ["A", "B"]


# ---- the per-process value under a coarse TSC ---------------------------------


def _quantized_process(per_batch: float, *, n: int = 20000, packets: int = 64,
                       step: float = 24.5, jitter: float = 0.3, outliers: float = 0.01,
                       seed: int = 0):
    """Samples of one synthetic process: true cycles, what a stepped TSC reads."""
    rng = np.random.default_rng(seed)
    true = per_batch + rng.normal(0.0, jitter * step, n)
    hit = rng.random(n) < outliers
    read = stats.quantize_tsc(true + hit * rng.uniform(5e3, 2e4, n), step, seed=seed + 1)
    truth = true[~hit].mean() / packets
    return read, np.full(n, packets), truth


def test_quantize_tsc_reads_multiples_of_the_step_and_is_unbiased():
    d = np.full(100000, 100.0)
    q = stats.quantize_tsc(d, 24.5, seed=3)
    assert set(np.unique(q)) == {98.0, 122.5}
    assert q.mean() == pytest.approx(100.0, rel=2e-3)


def test_process_value_is_not_quantized():
    """The chosen statistic tracks a cost that moves within one TSC step.

    64-packet samples, a 24.5-cycle TSC step (the EPYC VM), sample jitter a
    third of a step and 1 % of samples hit by an interrupt. Across true
    costs spread over one step, the process value stays within 0.1 % of the
    truth; the median sticks to the step grid (off by up to half a step,
    about 3 % here) and the plain mean takes the interrupts with it.
    """
    step, packets = 24.5, 64
    worst = {"value": 0.0, "median": 0.0, "mean": 0.0}
    for i, frac in enumerate(np.linspace(0.0, 1.0, 9)):
        cycles, pk, truth = _quantized_process(600.0 + frac * step, step=step,
                                               packets=packets, seed=10 * i)
        pv = stats.process_value(cycles, pk, tsc_step=step)
        got = {"value": pv["value"], "median": float(np.median(cycles / pk)),
               "mean": float(cycles.sum() / pk.sum())}
        for k, v in got.items():
            worst[k] = max(worst[k], abs(v / truth - 1.0))
        # the cut takes the interrupted samples and (almost) nothing else
        assert pv["cut"] == pytest.approx(0.01 * pv["n"], rel=0.25)
    assert worst["value"] < 1e-3
    assert worst["median"] > 1e-2
    assert worst["mean"] > 5e-2


def test_process_value_on_a_fine_clock_and_long_samples():
    # step 1 cycle, 4096-packet samples: the value is the mean, still unbiased
    cycles, pk, truth = _quantized_process(40000.0, step=1.0, jitter=400.0,
                                           packets=4096, n=2000, seed=5)
    pv = stats.process_value(cycles, pk, tsc_step=1.0)
    assert pv["value"] == pytest.approx(truth, rel=1e-3)


def test_process_value_bad_input():
    with pytest.raises(ParameterError):
        stats.process_value([1, 2], [1], tsc_step=1.0)
    with pytest.raises(ParameterError):
        stats.process_value([1, 2], [1, 0], tsc_step=1.0)
    with pytest.raises(ParameterError):
        stats.process_value([1, 2], [1, 1], tsc_step=0.0)
    assert math.isnan(stats.process_value([], [], tsc_step=1.0)["value"])


# ---- few builds and planning (moved from fraglib.compare) -----------------


def test_guard_widens_a_few_builds_bootstrap_to_the_t_interval():
    # 3 builds, a large layout effect on B, no true effect
    df = stats.simulate_pairs(3, 8, effect=0.0, sigma_build=0.03, sigma_pair=0.002,
                              build_effects=[0.04, 0.002, 0.02], seed=1)
    v = stats.verdict(df, resamples=2000)
    g, how = stats.guard_few_builds(v, df, "A", "B")
    lo, hi = stats.build_t_interval(df, "A", "B")
    assert g.ci_lo == min(v.ci_lo, lo) and g.ci_hi == max(v.ci_hi, hi)
    assert g.ci_hi - g.ci_lo > v.ci_hi - v.ci_lo
    assert g.kind == "no difference" and "Student-t" in how
    assert v.kind == "slower"                      # what the bare bootstrap said


def test_guard_leaves_a_clear_effect_and_one_build_alone():
    df = stats.simulate_pairs(6, 8, effect=0.08, sigma_build=0.002, sigma_pair=0.01, seed=2)
    g, _ = stats.guard_few_builds(stats.verdict(df, resamples=2000), df, "A", "B")
    assert g.kind == "slower" and g.ci_lo > 1
    one = stats.simulate_pairs(1, 8, effect=0.05, seed=3)
    v = stats.verdict(one, resamples=2000)
    g, how = stats.guard_few_builds(v, one, "A", "B")
    assert g is v and "1 build" in how and stats.build_t_interval(one, "A", "B") is None


def test_mde_grid_falls_with_repetitions_and_floors_at_the_build_term():
    g = stats.mde_grid(0.005, 0.01, builds=(1, 4, 16), pairs=(2, 32),
                     seconds_per_build=2.0, seconds_per_pair=0.25)
    assert list(g.columns) == ["builds", "pairs", "processes", "mde", "seconds"]
    m = g.set_index(["builds", "pairs"])["mde"]
    assert m[(16, 32)] < m[(4, 32)] < m[(1, 32)] and m[(4, 32)] < m[(4, 2)]
    assert m[(1, 32)] > stats.mde(0.005, 0.0, 1, 1)                # sigma_build floor
    assert g.set_index(["builds", "pairs"]).loc[(4, 2), "seconds"] == 4 * 2.0 + 8 * 0.25
    assert "seconds" not in stats.mde_grid(0.0, 0.01)
    assert stats.mde_grid(math.nan, 0.01)["mde"].notna().all()


def test_optimal_pairs_follows_kalibera_and_jones():
    # c_b = 4 s, c_p = 0.25 s, sigma_pair = 5 x sigma_build: sqrt(16) * 5 = 20
    assert stats.optimal_pairs(0.002, 0.01, 4.0, 0.25) == 20
    assert stats.optimal_pairs(0.0, 0.01, 4.0, 0.25) == 64              # no build effect
    assert stats.optimal_pairs(math.nan, 0.01, 4.0, 0.25, hi=32) == 32
    assert stats.optimal_pairs(0.05, 0.001, 0.1, 0.25) == 2             # builds dominate
    assert stats.optimal_pairs(0.002, math.nan, 4.0, 0.25) == 2


def test_process_values_reads_runs_in_any_row_order():
    # the store hands rows back in file order, not by run and sample
    ra = _run("topdown", [64 * 900, 640, 704, 672, 640 * 50, 650],
              labels={"role": "A", "pair": 0, "build_id": 3, "process": 0, "name": "td"})
    rb = _run("bottomup", [64 * 900, 1280, 1344, 1312, 1300], tsc_step=24.5,
              labels={"role": "B", "pair": 0, "build_id": 3, "process": 1, "name": "bu"})
    frame = stats.samples_frame([ra, rb])
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not shuffled["sample"].is_monotonic_increasing
    pd.testing.assert_frame_equal(stats.process_values(shuffled),
                                  stats.process_values(frame))
    out = stats.process_values(shuffled).set_index("run_id")
    assert out.loc[ra.run_id, "value"] == ra.value_cycles_per_packet
    assert out.loc[rb.run_id, "value"] == rb.value_cycles_per_packet
    assert list(out["design"]) == ["td", "bu"]
