"""Lockstep interleaving of a pair's two engines (issue 9).

Two engine processes pinned to one CPU pass a token so they run in
alternating rounds of ``handoff_samples`` samples. These tests check the
protocol, never a timing: the number of handoffs, that the two engines'
rounds do not overlap in time (per-sample end stamps), that a vanished peer
is survived, that bad values are refused with the parameter named, and that
compare() builds a verdict from interleaved pairs.
"""

import dataclasses
import json
import os
import subprocess

import numpy as np
import pytest

from fraglib import api
from fraglib import compare as cmp
from fraglib import engine, stats, store
from fraglib._build import build_engine
from fraglib.exceptions import EngineError, ParameterError

# 4096 packets a sample (fastpath's 64 x 64): 8192 packets = 2 samples.
PER = 64 * 64


def _pair(packets_a, packets_b, rounds, first="A", **extra):
    path = build_engine("null").path
    cpu = api.default_cpu()
    common = {"workload": "fastpath", "cpu": cpu, "warmup": 2, "counters": 0, **extra}
    return engine.run_engine_pair(path, {**common, "packets": packets_a}, path,
                                  {**common, "packets": packets_b},
                                  handoff_samples=rounds, first=first, timeout=60)


def _owners(doc_a, doc_b):
    """'A'/'B' of every sample of both engines, in order of its end stamp."""
    ev = sorted([(t, "A") for t in doc_a["stamps"]] + [(t, "B") for t in doc_b["stamps"]])
    return "".join(o for _, o in ev)


@pytest.mark.parametrize("first", ["A", "B"])
def test_rounds_alternate_and_never_overlap(first):
    a, b = _pair(16 * PER, 16 * PER, 3, first=first)
    n = len(a["cycles"])
    assert n == len(b["cycles"]) == 18          # 16 measured + 2 warm-up
    # every round of 3 samples ends with a handoff, the last one included
    assert a["metrics"]["handoffs"] == b["metrics"]["handoffs"] == n // 3
    assert a["metrics"]["handoff_rounds"] == 6
    assert a["metrics"]["handoff_peer_gone_at"] == -1
    assert a["rounds"] == [i // 3 for i in range(n)] == b["rounds"]
    other = "B" if first == "A" else "A"
    assert _owners(a, b) == (first * 3 + other * 3) * 6


def test_uneven_round_and_peer_that_ends_early():
    """A finishes first: B sees EOF, carries on alone, and says when."""
    a, b = _pair(4 * PER, 12 * PER, 4)
    assert len(a["cycles"]) == 6 and len(b["cycles"]) == 14
    assert a["metrics"]["handoff_peer_gone_at"] == -1
    gone = b["metrics"]["handoff_peer_gone_at"]
    assert 6 <= gone < 14
    owners = _owners(a, b)
    assert owners.startswith("AAAABBBBAA")
    assert owners.endswith("B" * (14 - gone))


def test_peer_that_dies_is_survived():
    """A is killed by SIGSEGV before its first sample: B runs alone."""
    path = build_engine("null").path
    common = {"workload": "fastpath", "cpu": api.default_cpu(), "warmup": 2,
              "counters": 0, "packets": 8 * PER}
    with pytest.raises(EngineError) as e:
        engine.run_engine_pair(path, {**common, "fault": 1}, path, common,
                               handoff_samples=2, first="A", timeout=60)
    # the error is A's, naming its design; B finished (else it would be the cause)
    assert e.value.signal == "SIGSEGV"
    assert e.value.design == "null"
    assert e.value.__cause__ is None


def test_survivor_of_a_dead_peer_finishes():
    """Run B by hand against a peer that never answers (its pipe closed)."""
    path = build_engine("null").path
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    os.close(w1)                    # the peer wrote nothing and is gone
    os.close(r2)
    try:
        out = subprocess.run([str(path), "workload=fastpath", f"packets={4 * PER}",
                              "warmup=0", "counters=0", f"handoff_rfd={r1}",
                              f"handoff_wfd={w2}", "handoff_samples=1", "handoff_wait=1"],
                             capture_output=True, text=True, timeout=60, pass_fds=(r1, w2))
    finally:
        os.close(r1)
        os.close(w2)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["cycles"]) == 4
    assert doc["metrics"]["handoffs"] == 0
    assert doc["metrics"]["handoff_peer_gone_at"] == 0


@pytest.mark.parametrize("args, param", [
    (["handoff_samples=-1"], "handoff_samples"),
    (["handoff_samples=2"], "handoff_rfd"),              # no fds given
    (["handoff_rfd=0"], "handoff_samples"),              # fds without a round
    (["handoff_wait=1"], "handoff_samples"),
    (["handoff_wait=2"], "handoff_wait"),
    (["handoff_samples=2", "handoff_rfd=200", "handoff_wfd=201"], "handoff_rfd"),
    (["handoff_rfd=-2"], "handoff_rfd"),
])
def test_bad_handoff_values_name_the_parameter(args, param):
    path = build_engine("null").path
    out = subprocess.run([str(path), "workload=fastpath", "packets=64", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and not out.stdout
    assert f"invalid {param}=" in out.stderr


def test_ring_and_cpu2_refuse_handoff():
    path = build_engine("null").path
    r, w = os.pipe()
    try:
        for extra in (["workload=ring"], ["workload=rx", "cpu2=0", "cpu=1"]):
            out = subprocess.run([str(path), *extra, "packets=64", "handoff_samples=2",
                                  f"handoff_rfd={r}", f"handoff_wfd={w}"],
                                 capture_output=True, text=True, timeout=60,
                                 pass_fds=(r, w))
            if "cpu2=0" in extra and "invalid cpu" in out.stderr:
                continue                # a 1-CPU machine: cpu=1 is refused first
            assert out.returncode == 2, out.stderr
            assert "invalid handoff_samples=2" in out.stderr
            assert "two threads" in out.stderr
    finally:
        os.close(r)
        os.close(w)


def test_run_engine_pair_refuses_bad_input():
    path = build_engine("null").path
    with pytest.raises(ParameterError) as e:
        engine.run_engine_pair(path, {}, path, {}, handoff_samples=0)
    assert e.value.param == "handoff_samples"
    with pytest.raises(ParameterError) as e:
        engine.run_engine_pair(path, {}, path, {}, handoff_samples=2, first="C")
    assert e.value.param == "first"
    with pytest.raises(ParameterError) as e:
        engine.run_engine_pair(path, {"handoff_wait": 1}, path, {}, handoff_samples=2)
    assert e.value.param == "handoff_wait"


def test_run_pair_records_interleaving(runs_root):
    ra, rb = api.run_pair("null", "topdown", packets=4 * PER, warmup=2, metadata=False,
                          first="B", handoff_samples=2, root=runs_root)
    for r, peer in ((ra, rb), (rb, ra)):
        assert r.provenance["interleaved"] is True
        assert r.provenance["handoff_samples"] == 2
        assert r.provenance["interleave_first"] == "B"
        assert r.provenance["peer_run_id"] == peer.run_id
        assert r.metrics["handoffs"] == 3
        assert list(r.rounds) == [0, 0, 1, 1, 2, 2]
    back = store.load_run(ra.run_id, root=runs_root)
    assert list(back.rounds) == list(ra.rounds)
    assert back.provenance["interleaved"] is True


def test_run_pair_refuses_two_thread_workloads_and_handoff_keys():
    with pytest.raises(ParameterError) as e:
        api.run_pair("null", "topdown", "ring", packets=64, store=False, metadata=False)
    assert e.value.param == "workload"
    with pytest.raises(ParameterError) as e:
        api.run_pair("null", "topdown", packets=64, store=False, metadata=False,
                     handoff_rfd=3)
    assert e.value.param == "handoff_rfd"


def test_compare_interleaved_verdict_structure(runs_root):
    c = cmp.compare("null", "topdown", builds=2, processes=2, packets=4 * PER,
                    metadata=False, progress=False, resamples=1000, root=runs_root,
                    handoff_samples=2)
    assert c.interleave is True and c.handoff_samples == 2
    obs = c.observations
    assert list(obs.columns) == list(cmp.OBSERVATION_COLUMNS)
    assert len(obs) == 8 and obs["interleaved"].all()
    assert np.isfinite(obs["value"]).all()
    assert c.verdict.n_builds == 2 and c.verdict.n_pairs == 4
    assert c.verdict.kind in ("faster", "slower", "no difference", "layout-sensitive")
    assert "interleaved in lockstep" in c.method()
    # both rows of a pair share its start and carry half its wall time
    g = obs.groupby(["build", "pair"])
    assert (g["t_start"].nunique() == 1).all()
    assert c.costs()["seconds_per_pair"] > 0
    back = store.load_run(obs["run_id"].iloc[0], root=runs_root)
    assert back.provenance["interleaved"] is True
    assert back.labels["role"] == obs["role"].iloc[0]
    assert back.labels["comparison"] and back.run_spec().labels.role == back.labels["role"]
    # the stored rows alone give the same verdict as the runs in memory
    rows = store.samples(runs_root)
    assert set(rows["run_id"]) == set(obs["run_id"])
    assert _same(stats.verdict_from_store(rows, resamples=1000), c.verdict)
    assert _same(stats.verdict_from_store(f"comparison = '{back.labels['comparison']}'",
                                          root=runs_root, resamples=1000), c.verdict)


def _same(v, w) -> bool:
    """Verdicts equal field by field (NaN equal to NaN: an unknown MDE)."""
    d, e = dataclasses.asdict(v), dataclasses.asdict(w)
    return d.keys() == e.keys() and all(
        d[k] == e[k] or (isinstance(d[k], float) and np.isnan(d[k]) and np.isnan(e[k]))
        for k in d)


def test_compare_interleave_default_and_refusal():
    with pytest.raises(ParameterError) as e:
        cmp.compare("null", "topdown", workload="ring", interleave=True, packets=64,
                    metadata=False, progress=False, store=False)
    assert e.value.param == "interleave"
    with pytest.raises(ParameterError) as e:
        cmp.compare("null", "topdown", interleave="yes", packets=64, metadata=False,
                    progress=False, store=False)
    assert e.value.param == "interleave"
    with pytest.raises(ParameterError) as e:
        cmp.compare("null", "topdown", handoff_samples=0, packets=64, metadata=False,
                    progress=False, store=False)
    assert e.value.param == "handoff_samples"
