"""fraglib.experiments.noise, the noise answer and figures: the logic of 7.0-noise,
on synthetic comparisons."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from fraglib import compare as cmp
from fraglib import stats
from fraglib.experiments import noise
from fraglib.report import answers
from fraglib.exceptions import ParameterError


def _comparison(n_builds=4, n_pairs=6, effect=0.0, sigma_build=0.004, sigma_pair=0.01,
                seed=0, **kw):
    """A Comparison built from simulated pairs (no engine)."""
    df = stats.simulate_pairs(n_builds, n_pairs, effect=effect, sigma_build=sigma_build,
                              sigma_pair=sigma_pair, seed=seed, a="topdown (A)",
                              b="topdown (B)")
    df = df.sort_values(["build", "pair", "design"]).reset_index(drop=True)
    df["role"] = np.where(df["design"] == "topdown (A)", "A", "B")
    df["order"] = "AB"
    df["seq"] = range(len(df))
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    df["env_pad"] = 0
    df["layout_seed"] = df["build"] * 10 + (df["role"] == "B")
    df["build_key"] = "k"
    df["min_value"] = df["value"]
    df["n_samples"] = 32
    df["warmup_samples"] = 4
    df["warmup_value"] = math.nan
    df["t_start"] = df["seq"] * 0.5
    df["t_wall"] = 0.25
    df["median_value"] = df["value"]
    df["cut_samples"] = 0
    df["tsc_step"] = 1.0
    df["interleaved"] = True
    obs = df[list(cmp.OBSERVATION_COLUMNS)]
    v = stats.verdict(obs, "topdown (A)", "topdown (B)", resamples=1000)
    builds = [cmp.BuildPair(b, b * 10, b * 10 + 1, "k", "k") for b in range(n_builds)]
    return cmp.Comparison(a="topdown", b="topdown", label_a="topdown (A)",
                          label_b="topdown (B)", workload="fastpath", verdict=v,
                          observations=obs, wall_s=30.0, builds=builds,
                          params={"packets": 16384}, aa=True, **kw)


def test_variance_components_lists_every_level():
    c = _comparison()
    vc = noise.variance_components(c, root="/nonexistent-runs-dir")
    assert list(vc["component"]) == list(noise.COMPONENTS)
    s = dict(zip(vc["component"], vc["sigma"]))
    assert s["sigma_pair"] == pytest.approx(c.verdict.sigma_pair)
    assert s["sigma_build"] == pytest.approx(c.verdict.sigma_build)
    assert s["sigma_process"] > 0
    assert math.isnan(s["sigma_sample"]), "no stored samples: not measured, not zero"
    assert math.isnan(vc.attrs["batch_share"])


def test_sample_sigma_reads_the_stored_batches(runs_root):
    import fraglib

    r = [fraglib.run("topdown", "fastpath", packets=2048, warmup=2, metadata=False,
                     sample_batches=1, root=runs_root) for _ in range(2)]
    s, n = noise.sample_sigma([x.run_id for x in r], runs_root)
    logs = [np.log(x.cycles_per_packet) for x in r]    # measured batches only
    pooled = math.sqrt(sum(((v - v.mean()) ** 2).sum() for v in logs)
                       / sum(len(v) - 1 for v in logs))
    assert s == pytest.approx(pooled) and n == len(logs[0])
    assert noise.sample_sigma([], runs_root) == (pytest.approx(math.nan, nan_ok=True),
                                                 pytest.approx(math.nan, nan_ok=True))


def test_provenance_names_machine_code_and_repetitions_without_paths():
    c = _comparison()
    p = noise.provenance(c, metadata=False)
    items = dict(zip(p["item"], p["setting"]))
    assert "4 layout builds, 24 ABBA pairs, 48 engine processes" == items["repetitions"]
    assert items["run parameters"] == "packets=16384" and "(A/A)" in items["comparison"]
    assert not any(v.startswith("/") for v in p["setting"])


def test_cost_grid_and_cheapest():
    c = _comparison()
    grid, costs = noise.cost_grid(c)
    assert {"builds", "pairs", "mde", "seconds"} <= set(grid)
    assert costs["seconds_per_pair"] == pytest.approx(0.5)
    best = noise.cheapest(grid, 0.5)
    assert best is not None and best["seconds"] == grid["seconds"].min()
    assert noise.cheapest(grid.assign(mde=0.5), 0.005) is None
    with pytest.raises(ParameterError):
        noise.cheapest(grid, 5)


def test_layout_spread_sentence():
    lay, text = noise.layout_spread(_comparison())
    assert len(lay) == 8 and "code layout alone moves" in text and "8 builds" in text


def test_answer_is_computed_from_the_numbers():
    aa = _comparison()
    vc = noise.variance_components(aa, root="/nonexistent-runs-dir")
    grid, _ = noise.cost_grid(aa)
    sleep = pd.DataFrame({"busy_poll": [0, 1], "effect": [1.01, 1.012],
                          "ci_lo": [1.0, 1.001], "ci_hi": [1.02, 1.03]})
    curve = pd.DataFrame({"k": [0, 8, 24], "kind": ["no difference", "no difference",
                                                    "slower"],
                          "effect": [1.0, 1.01, 1.2], "ci_lo": [0.99, 0.99, 1.1],
                          "ci_hi": [1.01, 1.03, 1.3]})
    text = answers.noise_answer(aa, vc, grid, sleep, curve, target=0.005)
    v = aa.verdict
    assert f"{100 * (v.effect - 1):+.2f} %" in text
    assert "σ_build" in text and "σ_pair" in text
    assert "intervals overlap" in text and "first detected at k = 24" in text
    assert "0.5 % resolution" in text


def test_recorded_warnings_become_a_flag():
    def fake(*a, **k):
        warnings.warn("malloc/rx: 3 page faults in the timed region (arena not "
                      "prefaulted?)", RuntimeWarning)
        return _comparison()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c, faulted, flag = noise._recorded(fake)
    assert faulted == 1 and "page faults" in flag and "of 48 engine runs" in flag


def test_slowdown_curve_needs_positive_k():
    with pytest.raises(ParameterError, match="slowdowns"):
        noise.slowdown_curve("topdown", [0])


def test_noise_figures_draw_the_layout_spread_and_the_mde_grid():
    import matplotlib
    matplotlib.use("Agg")
    from fraglib.report import figures

    aa = _comparison()
    lay, _ = noise.layout_spread(aa)
    ax = figures.layout_points(lay, title="t").axes[0]
    assert ax.get_xlabel().startswith("% from the median build")
    xs = sorted(x for c in ax.collections for x, _ in c.get_offsets())
    assert xs == pytest.approx(sorted(100 * lay["rel"])), "one point per build, in %"
    grid, _ = noise.cost_grid(aa)
    table = noise.mde_pivot(grid)
    assert table.loc[2, 4] == grid[(grid["builds"] == 2) & (grid["pairs"] == 4)]["mde"].item()
    with pytest.raises(ParameterError, match="grid"):
        noise.mde_pivot(grid.drop(columns="mde"))
    ax = figures.mde_by_builds(grid, 0.005).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    target = [ln for ln in ax.lines if list(ln.get_ydata()) == [0.5, 0.5]]
    assert len(target) == 1, "the target MDE is drawn at 0.5 %"
    assert "0.5 %" in ax.get_title()
