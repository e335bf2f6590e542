"""Tests for fraglib.collectors: the registry, each back end's available()
answer, and collect() around real engine runs where the tool is here.
"""

import errno
import os
import shutil

import pytest

from fraglib import collectors as K
from fraglib import counters as C
from fraglib.collectors._perf import perf_permitted
from fraglib import _build
from fraglib.collectors.perf_stat import parse_perf_stat
from fraglib.exceptions import (CollectorUnavailable, EngineError, ParameterError,
                                UnknownNameError)


def _failed(name, err, paranoid=3):
    """What the probe reports for an event whose open failed with ``err``
    (the reason is the C side's wording, as the real probe gives it)."""
    kind = "hardware" if name in C.HARDWARE_EVENTS else "software"
    return C.ProbeResult(name, kind, False, err, C.reason_for_errno(err, name, paranoid))


def _fake_probe(monkeypatch, err):
    res = {n: _failed(n, err) for n in C.EVENTS}
    monkeypatch.setattr(C, "probe", lambda refresh=False: res)
    return res


@pytest.mark.parametrize("err,fix", [
    (errno.ENOENT, "run on bare metal or a VM with a virtual PMU"),
    (errno.EACCES, "sysctl -w kernel.perf_event_paranoid=1"),
    (errno.EPERM, "sysctl -w kernel.perf_event_paranoid=1"),
    (errno.ENOSYS, "CONFIG_PERF_EVENTS=n"),
])
def test_how_to_enable_gives_the_fix_for_each_errno(monkeypatch, err, fix):
    _fake_probe(monkeypatch, err)
    hints = K.how_to_enable()
    assert sum(fix in h for h in hints) == 1, hints
    # task-clock cannot open either: the engine's counters are unusable, and say why
    ok, why = K.get_collector("counters").available()
    assert not ok
    assert why == "task-clock: " + C.reason_for_errno(err, "task-clock", paranoid=3)
    assert f"counters: {why}" in hints


def test_no_pmu_leaves_software_counters_and_names_the_hardware_reason(monkeypatch):
    # hardware events fail as they do without a PMU; software ones as probed
    real = C.probe(refresh=True)
    res = {n: _failed(n, errno.ENOENT) if n in C.HARDWARE_EVENTS else real[n]
           for n in C.EVENTS}
    if not res["task-clock"].supported:
        pytest.skip(f"perf_event_open unusable here: {res['task-clock'].reason}")
    monkeypatch.setattr(C, "probe", lambda refresh=False: res)
    assert K.get_collector("counters").available() == (
        True, "software events only; hardware: not supported: no PMU (ENOENT)")
    assert any("virtual PMU" in h for h in K.how_to_enable())


def test_how_to_enable_names_the_package_of_a_missing_tool(monkeypatch):
    _fake_probe(monkeypatch, errno.ENOENT)
    monkeypatch.setattr(shutil, "which", lambda exe: None)
    assert K.get_collector("valgrind").available() == (
        False, "valgrind not installed (not on PATH)")
    assert K.get_collector("perf-record").available() == (
        False, "perf not installed (not on PATH)")
    hints = K.how_to_enable()
    assert "valgrind: install valgrind" in hints
    assert "perf-record: install linux-perf (Debian) / linux-tools" in hints
    assert "perf-stat: install linux-perf (Debian) / linux-tools" in hints


def test_perf_collectors_refuse_a_non_root_user_above_paranoid_2(monkeypatch):
    if shutil.which("perf") is None:
        pytest.skip("perf not installed: available() answers that first")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(C, "perf_event_paranoid", lambda: 3)
    for name in ("perf-stat", "perf-record"):
        assert K.get_collector(name).available() == (
            False, "not permitted: perf_event_paranoid=3 (needs <= 2 or root)")
    with pytest.raises(CollectorUnavailable, match="perf_event_paranoid=3"):
        with K.get_collector("perf-stat").collect():
            pytest.fail("collect() entered although perf is not permitted")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert perf_permitted() is None


def test_collectors_registry():
    assert list(K.COLLECTORS) == ["counters", "valgrind", "perf-record", "perf-stat"]
    for name, c in K.COLLECTORS.items():
        assert c.name == name and K.get_collector(name) is c
    with pytest.raises(UnknownNameError, match="one of counters, perf-record, "
                                               "perf-stat, valgrind"):
        K.get_collector("nope")


def test_require_raises_collector_unavailable():
    class Never(K.Collector):
        name = "never"

        def available(self):
            return False, "not installed"

    with pytest.raises(CollectorUnavailable, match="never unavailable: not installed"):
        Never().require()


def test_old_names_in_fraglib_counters_are_the_collectors_ones():
    assert C.COLLECTORS is K.COLLECTORS
    assert C.get_collector("perf-stat") is K.get_collector("perf-stat")
    assert C.how_to_enable is K.how_to_enable and C.PerfStat is K.PerfStat


# --------------------------------------------------------------------------
# perf stat: parsing (perf's -x, format, written by hand so every case is here)

# value,unit,event,run-time(ns),percent-running,metric,metric-unit
PERF_STAT_CSV = """# started on Mon Nov 30 08:40:00 2026

84.87,msec,task-clock,84870512,100.00,0.981,CPUs utilized
340,,page-faults,84870512,100.00,4.006,K/sec
<not supported>,,cycles,0,100.00,,
<not counted>,,instructions,0,0.00,,
1000,,cache-misses:u,500,50.00,,
"""


def test_parse_perf_stat_reads_values_units_and_placeholders():
    cs = parse_perf_stat(PERF_STAT_CSV, packets=1000)
    assert cs.names == ("task-clock", "page-faults", "cycles", "instructions",
                        "cache-misses")
    assert cs.threads == () and all(r.thread == "all" for r in cs)
    clock = cs["task-clock"]
    # msec -> ns, as perf_event_open and the engine count task-clock
    assert clock.value == 84_870_000 and clock.status == "measured"
    assert clock.time_running == 84870512 and clock.per_packet == 84_870.0
    assert cs["page-faults"].value == 340 and cs["page-faults"].measured
    for name, word in (("cycles", "<not supported>"), ("instructions", "<not counted>")):
        r = cs[name]
        assert r.value is None and r.scaled is None and not r.measured
        assert r.status.startswith("not measured: ") and word in r.status
    # running half the time: multiplexed, scaled up, the modifier dropped
    m = cs["cache-misses"]
    assert m.value == 1000 and m.time_enabled == 1000 and m.scaled == 2000.0
    assert m.status == "scaled (multiplexed 50.0%)"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "12,,task-clock\n",
                                  "lots,,task-clock,1,100.00,,\n"])
def test_parse_perf_stat_refuses_what_is_not_its_output(text):
    with pytest.raises(ValueError):
        parse_perf_stat(text)


@pytest.mark.parametrize("events", [[], "task-clock", ["task-clock,cycles"], ["-o"]])
def test_perf_stat_refuses_bad_event_lists(events):
    if not K.get_collector("perf-stat").available()[0]:
        pytest.skip(K.get_collector("perf-stat").available()[1])
    with pytest.raises(ParameterError, match="events"):
        with K.get_collector("perf-stat").collect(events=events):
            pytest.fail(f"collect() entered with events={events!r}")


# --------------------------------------------------------------------------
# collect() around real engine runs


def _skip_unless(name):
    ok, why = K.get_collector(name).available()
    if not ok:
        pytest.skip(f"{name}: {why}")


@pytest.fixture(scope="module")
def engine():
    return _build.build_engine("topdown").path


SMALL = {"workload": "fastpath", "packets": 4096, "warmup": 0}


def test_perf_stat_runs_perf_around_the_engine_and_parses_it(engine, tmp_path):
    _skip_unless("perf-stat")
    probed = C.probe()
    c = K.run_collected("perf-stat", engine, SMALL, out_dir=tmp_path)
    assert c.argv[1:4] == ("stat", "-x,", "-o") and c.params == {"counters": 0}
    assert (tmp_path / "perf-stat.csv").is_file()
    assert c.document is not None and c.result.names == C.EVENTS
    for r in c.result:
        if probed[r.name].supported:
            assert r.measured, r
        else:
            # what the probe cannot count, perf stat cannot either, and says so
            assert r.status.startswith("not measured: "), r
    # software events always come back as numbers: a process takes CPU time
    # and touches pages
    assert c.result["task-clock"].value > 0
    assert c.result["page-faults"].value > 0
    assert c.result["context-switches"].value is not None
    # whole-process counts are not divided by the region's packets
    assert c.result["task-clock"].per_packet is None


def test_perf_stat_takes_the_events_asked_for(engine):
    _skip_unless("perf-stat")
    c = K.run_collected("perf-stat", engine, SMALL, events=["task-clock", "page-faults"])
    assert c.result.names == ("task-clock", "page-faults")


def test_engine_counters_set_counters_and_parse_the_document(engine):
    _skip_unless("counters")
    c = K.run_collected("counters", engine, {**SMALL, "counters": 0})
    assert c.argv == () and c.engine_params({"counters": 0})["counters"] == 1
    assert c.result.names == C.EVENTS and not c.result.disabled
    assert c.result["task-clock"].measured
    assert c.result.packets == sum(c.document["packets"])


def test_a_collection_without_the_engine_document_is_an_error():
    _skip_unless("counters")
    with pytest.raises(EngineError, match="no engine document"):
        with K.get_collector("counters").collect() as c:
            assert c.result is None     # filled only when the block ends


def test_callgrind_collects_the_toggled_functions(engine):
    _skip_unless("valgrind")
    c = K.run_collected("valgrind", engine, {**SMALL, "packets": 256},
                        functions=["topdown_alloc"])
    assert c.env_pad == 0 and c.run_kwargs()["env_pad"] == 0
    assert c.result.summary["Ir"] > 0 and "topdown_alloc" in c.result.inclusive_cost
