"""The measurement harness: TSC step, timed samples, placements, profile region."""

import math
import shutil

import numpy as np
import pytest

import fraglib
from fraglib import profile as P
from fraglib.counters import COLLECTORS
from fraglib.exceptions import ParameterError


def test_tsc_step_is_detected_and_recorded(small):
    r = fraglib.run("null", "fastpath", store=False, batch=16, sample_batches=1,
                    counters=False, **small)
    step = r.tsc_step
    assert step is not None and math.isfinite(step) and step >= 1.0
    assert r.provenance["tsc_step"] == step
    # Every short sample is a whole number of steps: with a stepped TSC the
    # readings sit on its grid (within the rounding of a fractional step).
    if step > 1.0:
        c = r.cycles.astype(float)
        off = np.abs(c - np.round(c / step) * step)
        assert np.mean(off <= 2.0) > 0.9, (step, c[:10])


def test_a_sample_is_sample_batches_batches(small):
    r = fraglib.run("null", "fastpath", store=False, batch=8, sample_batches=4,
                    counters=False, packets=100, warmup=1, metadata=False)
    assert r.params["sample_batches"] == 4
    assert list(r.packets) == [32, 32, 32, 32, 4]
    assert r.metrics["sample_packets"] == 32
    assert r.total_packets == 100


def test_sample_batches_bounds():
    with pytest.raises(ParameterError) as e:
        fraglib.run("null", "fastpath", store=False, sample_batches=0, metadata=False)
    assert e.value.param == "sample_batches"


def test_placement_is_redrawn_every_sample(small):
    r = fraglib.run("topdown", "fastpath", store=False, counters=False, batch=16,
                    sample_batches=2, **small)
    assert r.params["rerandomize"] == 1
    assert r.metrics["placements"] == len(r.cycles) > 1
    assert r.metrics["placement_span_bytes"] == 4096
    frozen = fraglib.run("topdown", "fastpath", store=False, counters=False,
                         rerandomize=0, **small)
    assert frozen.metrics["placements"] == 1
    assert frozen.metrics["placement_span_bytes"] == 0
    assert frozen.pages["pages_leaked"] == 0 and r.pages["pages_leaked"] == 0


def test_value_is_the_process_statistic(small):
    r = fraglib.run("null", "fastpath", store=False, counters=False, **small)
    s = r.process_summary
    assert s["value"] == r.value_cycles_per_packet > 0
    assert s["n"] == len(r.cycles) - r.warmup_samples


def test_perf_profile_covers_the_measured_region_only():
    if shutil.which("perf") is None:
        pytest.skip("perf not installed")
    ok, why = COLLECTORS["perf-record"].available()
    if not ok:
        pytest.skip(f"perf record unavailable: {why}")
    p = P.profile("topdown", method="perf-record", top=50, packets=1 << 22)
    assert p.region == P.PERF_REGION
    # calibration (clock_gettime) and printing the samples (vfprintf) are
    # outside the region
    for outside in ("__vdso_clock_gettime", "__vfprintf_internal", "frag_tsc_calibrate",
                    "frag_tsc_step", "print_result"):
        assert outside not in p.names, (outside, p.names)
    assert "topdown_alloc" in p.names[:5]
