"""The packet-size generator (csrc/sizes.c) draws the documented distributions.

The engine's `sizes` workload prints the sizes it draws (one per sample, in
the cycles field), so the C generator itself is checked, with fixed seeds:
a chi-square goodness-of-fit test per distribution, and reproducibility.
"""

import json
import subprocess
from collections import Counter

import numpy as np
import pytest

from fraglib._build import build_engine
from fraglib.exceptions import ParameterError
from fraglib.workloads import SIZES_DIR, size_distribution

stats = pytest.importorskip("scipy.stats")

N = 24000
ALPHA = 1e-3  # seeds are fixed, so this is a deterministic check


@pytest.fixture(scope="module")
def engine():
    return build_engine("topdown").path


def draw(engine, dist, n=N, seed=7, warmup=0):
    """warmup + n sizes from the engine, and its metrics."""
    args = [str(engine), "workload=sizes", f"dist={dist}", f"packets={n}",
            f"warmup={warmup}", f"seed={seed}", "counters=0", f"sizes_dir={SIZES_DIR}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["packets"] == [1] * (warmup + n)
    return np.array(doc["cycles"]), doc["metrics"]


def chi2_table(values, probs):
    """Chi-square p-value of observed sizes against {size: probability}."""
    counts = Counter(values.tolist())
    assert set(counts) <= {s for s, p in probs.items() if p > 0}, "drew a size of weight 0"
    sizes = sorted(s for s, p in probs.items() if p > 0)
    obs = np.array([counts.get(s, 0) for s in sizes], float)
    exp = np.array([probs[s] for s in sizes]) * len(values)
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


def test_fixed_is_constant(engine):
    v, m = draw(engine, "fixed:1514", n=1000)
    assert set(v.tolist()) == {1514}
    assert m["dist_mean"] == 1514


def test_imix_is_7_4_1(engine):
    v, m = draw(engine, "imix")
    imix = {64: 7 / 12, 576: 4 / 12, 1500: 1 / 12}  # sizes.h: simple IMIX, 7:4:1
    assert size_distribution("imix").probabilities() == pytest.approx(imix)
    assert chi2_table(v, imix) > ALPHA
    assert m["dist_mean"] == pytest.approx((7 * 64 + 4 * 576 + 1500) / 12)


def test_uniform_covers_its_bounds_evenly(engine):
    v, m = draw(engine, "uniform:60-1514")
    assert v.min() == 60 and v.max() == 1514
    # 1455 integers = 97 equal bins of 15
    bins = (v - 60) // 15
    obs = np.bincount(bins, minlength=97)
    assert stats.chisquare(obs).pvalue > ALPHA
    assert m["dist_mean"] == pytest.approx((60 + 1514) / 2)


@pytest.mark.parametrize("name", ["nanog_netflow_router1", "nanog_netflow_router2"])
def test_csv_table_matches_its_weights(engine, name):
    d = size_distribution(f"csv:{name}")
    v, m = draw(engine, f"csv:{name}")
    assert chi2_table(v, d.probabilities()) > ALPHA
    assert m["dist_mean"] == pytest.approx(d.mean)
    assert m["dist_rows"] == len(d.table)


def test_same_seed_same_sequence(engine):
    a, _ = draw(engine, "csv:nanog_netflow_router1", n=2000, seed=11)
    b, _ = draw(engine, "csv:nanog_netflow_router1", n=2000, seed=11)
    c, _ = draw(engine, "csv:nanog_netflow_router1", n=2000, seed=12)
    assert (a == b).all()
    assert (a != c).any()


def test_warmup_sizes_are_a_prefix(engine):
    # rx/tx draw warm-up and measured sizes in one sequence: warm-up first.
    a, _ = draw(engine, "uniform:1-1000", n=500, seed=3)
    b, _ = draw(engine, "uniform:1-1000", n=400, seed=3, warmup=100)
    assert (a == b).all()


def engine_error(engine, *args):
    p = subprocess.run([str(engine), "workload=sizes", "counters=0", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stdout)
    return p.stderr


@pytest.mark.parametrize("spec, words", [
    ("zipf", "fixed:N, uniform:A-B, imix or csv:NAME"),
    ("fixed:0", "fixed:N with N an integer"),
    ("uniform:9-3", "1 <= A <= B"),
    ("uniform:5", "uniform:A-B"),
    ("csv:../etc", "does not start with '.'"),
    ("csv:absent", "cannot read"),
])
def test_bad_distributions_are_refused_in_the_same_words(engine, spec, words):
    """One parser (sizes.c): the engine's refusal and the binding's agree."""
    err = json.loads(engine_error(engine, f"dist={spec}", f"sizes_dir={SIZES_DIR}"))
    assert (err["key"], err["value"]) == ("dist", spec) and words in err["allowed"]
    with pytest.raises(ParameterError) as e:
        size_distribution(spec)
    assert e.value.param == "dist" and e.value.allowed == err["allowed"]


def test_malformed_csv_names_the_line(engine, tmp_path):
    (tmp_path / "bad.csv").write_text("size,weight\n64,1\n128,-2\n")
    err = engine_error(engine, "dist=csv:bad", f"sizes_dir={tmp_path}")
    assert "bad.csv line 3" in err
    with pytest.raises(ParameterError, match="bad.csv line 3"):
        size_distribution("csv:bad", tmp_path)
    (tmp_path / "zero.csv").write_text("64,0\n")
    assert "positive weight" in engine_error(engine, "dist=csv:zero", f"sizes_dir={tmp_path}")


def test_csv_needs_sizes_dir_in_the_engine(engine):
    assert "sizes_dir" in engine_error(engine, "dist=csv:nanog_netflow_router1")
