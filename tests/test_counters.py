"""Tests for fraglib.counters against recorded engine JSON.

The fixtures under tests/fixtures/counters/ were written by hand in the
engine's format, so the hardware paths (measured, multiplexed, two threads)
are tested on machines without a PMU as well.
"""

import dataclasses
import errno
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fraglib import counters as C
from fraglib.exceptions import UnknownNameError

FIX = Path(__file__).parent / "fixtures" / "counters"
ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "fraglib" / "csrc"


def load(name, packets=None):
    return C.load_counters(FIX / f"{name}.json", packets=packets)


def test_all_measured_gives_values_ratios_and_per_packet():
    cs = load("all_measured", packets=1_000_000)
    assert cs.names == C.EVENTS
    cyc = cs["cycles"]
    assert cyc.status == "measured"
    assert cyc.value == 12_000_000 and cyc.scaled == 12_000_000
    assert cyc.multiplex_ratio == 1.0
    assert cyc.per_packet == pytest.approx(12.0)
    assert cs["instructions"].per_packet == pytest.approx(30.0)
    # A real zero is a measurement, not a missing value.
    pf = cs["page-faults"]
    assert pf.value == 0 and pf.measured and pf.status == "measured"
    assert all(r.thread == 0 for r in cs.threads)
    assert all(r.thread == "all" for r in cs.totals)


def test_multiplexed_events_are_scaled_and_labelled():
    cs = load("multiplexed", packets=1_000_000)
    cyc = cs["cycles"]
    assert cyc.value == 6_000_000
    assert cyc.time_running * 2 == cyc.time_enabled
    assert cyc.scaled == pytest.approx(12_000_000)
    assert cyc.multiplex_ratio == pytest.approx(0.5)
    assert cyc.status == "scaled (multiplexed 50.0%)"
    assert cyc.per_packet == pytest.approx(12.0)
    llc = cs["LLC-load-misses"]
    assert llc.scaled == pytest.approx(6000)
    assert llc.status == "scaled (multiplexed 25.0%)"
    assert cs["task-clock"].status == "measured"


def test_no_pmu_is_not_measured_with_reason_never_zero():
    cs = load("no_pmu", packets=1000)
    for name in C.HARDWARE_EVENTS:
        r = cs[name]
        assert r.value is None and r.scaled is None and r.per_packet is None
        assert r.errno == errno.ENOENT
        assert r.status == "not measured: not supported: no PMU (ENOENT)"
        assert not r.measured
    assert cs["task-clock"].measured and cs["task-clock"].value > 0


def test_paranoid_reason_names_the_sysctl():
    cs = load("paranoid")
    for r in cs:
        assert r.errno == errno.EACCES
        assert "perf_event_paranoid=3" in r.status
        assert r.status.startswith("not measured: ")


def test_two_threads_sum_and_keep_per_thread_rows():
    cs = load("two_threads", packets=2_000_000)
    assert cs.nthreads == 2
    assert len(cs.threads) == 2 * len(C.EVENTS)
    per = {(r.thread, r.name): r for r in cs.threads}
    assert per[(0, "cycles")].value == 12_000_000
    assert per[(1, "cycles")].value == 10_000_000
    cyc = cs["cycles"]
    assert cyc.threads == 2
    assert cyc.value == 22_000_000 and cyc.scaled == 22_000_000
    assert cyc.per_packet == pytest.approx(11.0)
    assert cyc.status == "measured"
    # Thread 1 multiplexed cache-misses at 50 %: scale it alone, then sum.
    cm = cs["cache-misses"]
    assert per[(1, "cache-misses")].scaled == pytest.approx(30_000)
    assert cm.value == 35_000
    assert cm.scaled == pytest.approx(50_000)
    assert cm.status.startswith("scaled (multiplexed")
    assert cs["cpu-migrations"].value == 1
    df = cs.to_frame()
    assert len(df) == 3 * len(C.EVENTS)
    assert set(df["thread"]) == {0, 1, "all"}


def test_one_unmeasured_thread_spoils_the_sum():
    data = json.loads((FIX / "two_threads.json").read_text())
    data[1]["events"]["cycles"] = {"value": None, "errno": 2,
                                   "reason": "not supported: no PMU (ENOENT)"}
    cs = C.parse_counters(data)
    assert cs["cycles"].value is None
    assert cs["cycles"].reason == "thread 1: not supported: no PMU (ENOENT)"


def test_disabled_run_lists_every_event_as_not_measured():
    cs = load("disabled")
    assert cs.disabled
    assert cs.names == C.EVENTS
    assert all(r.status == "not measured: counters disabled for this run (counters=0)"
               for r in cs)


def test_never_scheduled_is_not_measured():
    cs = C.parse_counters([{"thread": 0, "events": {
        "cycles": {"value": 0, "time_enabled": 1000, "time_running": 0, "errno": 0}}}])
    r = cs.threads[0]
    assert r.value is None and r.scaled is None
    assert r.time_enabled == 1000 and r.multiplex_ratio == 0.0
    assert cs["cycles"].status == r.status
    assert r.status == "not measured: never scheduled on a counter (time_running=0)"


def test_errno_without_reason_gets_one():
    cs = C.parse_counters({"thread": 0, "events": {
        "instructions": {"value": None, "errno": 2},
        "task-clock": {"value": None, "errno": 38}}})
    assert cs["instructions"].reason == "not supported: no PMU (ENOENT)"
    assert cs["task-clock"].reason == "perf_event_open not available (ENOSYS)"


def test_whole_engine_result_and_json_text_are_accepted():
    text = (FIX / "all_measured.json").read_text()
    a = C.parse_counters(text)
    b = C.parse_counters({"design": "topdown", "counters": json.loads(text)})
    assert a == b


def test_rows_round_trip_through_json():
    cs = load("two_threads", packets=10)
    rows = json.loads(json.dumps(cs.rows()))
    assert rows == cs.rows()
    rebuilt = [C.CounterRecord(**{**r, "thread": r["thread"]}) for r in rows]
    assert tuple(rebuilt[:len(cs.threads)]) == cs.threads


def test_records_are_frozen_and_validated():
    r = load("all_measured")["cycles"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = 1
    with pytest.raises(ValueError, match="needs a reason"):
        dataclasses.replace(r, value=None, scaled=None, status="not measured: x")
    with pytest.raises(ValueError, match="thread"):
        dataclasses.replace(r, thread=-1)
    with pytest.raises(ValueError, match="value"):
        dataclasses.replace(r, value=-5)
    with pytest.raises(UnknownNameError):
        load("all_measured")["no-such-event"]


def test_bad_shapes_raise_valueerror():
    with pytest.raises(ValueError):
        C.parse_counters([{"thread": 0}])
    with pytest.raises(ValueError):
        C.parse_counters([1])
    with pytest.raises(ValueError):
        C.parse_counters(5)


@pytest.mark.parametrize("err,name,want", [
    (errno.ENOENT, "cycles", "not supported: no PMU (ENOENT)"),
    (errno.ENOENT, "task-clock", "not supported: event not supported (ENOENT)"),
    (errno.EOPNOTSUPP, "cycles", "not supported: event not supported (EOPNOTSUPP)"),
    (errno.EACCES, "cycles", "not permitted: perf_event_paranoid=3 (EACCES)"),
    (errno.EPERM, "cycles", "not permitted: perf_event_paranoid=3 (EPERM)"),
    (errno.ENOSYS, "cycles", "perf_event_open not available (ENOSYS)"),
])
def test_reason_for_errno(err, name, want):
    assert C.reason_for_errno(err, name, paranoid=3) == want


def test_probe_of_an_unknown_event_says_so():
    from fraglib import _core
    reason = _core.ffi.new("char[]", 128)
    err = _core.lib().fraglib_perf_probe(b"no-such-event", reason, len(reason))
    assert err == errno.EINVAL
    assert _core.ffi.string(reason).decode() == "unknown event 'no-such-event'"


def test_probe_on_this_machine_names_the_errno_of_every_missing_event():
    res = C.probe(refresh=True)
    assert tuple(res) == C.EVENTS
    for name, r in res.items():
        assert r.kind == ("hardware" if name in C.HARDWARE_EVENTS else "software")
        if not r.supported and r.errno and not r.reason.startswith("opened but"):
            # a failed open: the engine's wording for this errno, which names it
            assert r.reason == C.reason_for_errno(r.errno, name), r
            assert r.reason.endswith(f"({errno.errorcode[r.errno]})"), r


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc")
def test_compiled_test_perfctr(tmp_path):
    exe = tmp_path / "test_perfctr"
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
                    f"-I{CSRC / 'include'}", str(CSRC / "perfctr.c"),
                    str(CSRC / "tests" / "test_perfctr.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True, timeout=60)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    if out.returncode and "task-clock errno" in out.stderr:
        pytest.skip(f"perf_event_open unusable here: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    cs = C.parse_counters("[" + ",".join(lines) + "]")
    per = {(r.thread, r.name): r for r in cs.threads}
    assert per[(0, "task-clock")].value > 0
    for name in C.HARDWARE_EVENTS:
        r = per[(0, name)]
        assert r.measured or (r.errno and r.reason), r
    assert per[(1, "task-clock")].status.startswith("not measured: counters disabled")
