"""Tests for fraglib.valgrind: the callgrind parser and deterministic mode."""

import dataclasses
import shutil

import pytest

from fraglib import valgrind as V
from fraglib.exceptions import EngineError
from fraglib.workloads import get_workload

# A trimmed callgrind 3.19 file in the shape the engine produces: name
# compression, fi/fe switches, calls= lines, trailing zeros left out.
CALLGRIND_OUT = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4061
cmd:  /x/fraglib-engine-topdown packets=65536 counters=0
part: 1

desc: I1 cache: 65536 B, 64 B, 16-way associative
desc: D1 cache: 49152 B, 64 B, 12-way associative
desc: LL cache: 503316480 B, 64 B, 30-way associative

positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
summary: 1100 300 200 5 4 3 2 1 0 50 7

ob=(5) /x/fraglib-engine-topdown
fl=(1) /x/design_topdown.c
fn=(10) topdown_alloc
61 600 100 100 2 1 1 1 0 0 20 3
+2 100 50
cfn=(11) refill
calls=1 31
* 100 50 50 1 2 1 1 1 0 10 2
fn=(11)
31 100 50 50 1 2 1 1 1 0 10 2
fl=(2) /x/page.h
fn=(12) topdown_free
157 300 100 50 2 1 1 0 0 0 20 2
fi=(1)
130 0

ob=(6) /lib/libc.so.6
fl=(3) ???
fn=(13) (below main)
0 0
ob=(5)
fn=(14) (below main)
0 0
"""


def test_parse_summary_geometry_and_functions():
    p = V.parse_callgrind(CALLGRIND_OUT)
    assert p.events[:3] == ("Ir", "Dr", "Dw")
    assert p.summary == {"Ir": 1100, "Dr": 300, "Dw": 200, "I1mr": 5, "D1mr": 4,
                         "D1mw": 3, "ILmr": 2, "DLmr": 1, "DLmw": 0, "Bc": 50,
                         "Bcm": 7, "Bi": 0, "Bim": 0}
    assert [str(g) for g in p.geometry] == [
        "I1 65536 B, 64 B lines, 16-way", "D1 49152 B, 64 B lines, 12-way",
        "LL 503316480 B, 64 B lines, 30-way"]
    assert p.creator == "callgrind-3.19.0"
    assert p.self_cost["topdown_alloc"]["Ir"] == 700
    assert p.inclusive_cost["topdown_alloc"]["Ir"] == 800
    assert p.self_cost["refill"]["Ir"] == 100
    assert p.self_cost["topdown_free"]["Bc"] == 20
    assert p.calls[("topdown_alloc", "refill")] == 1
    # One name in two objects stays two functions.
    assert {"(below main) [libc.so.6]", "(below main) [fraglib-engine-topdown]"} <= set(
        p.self_cost)
    assert [t[0] for t in p.top(2)] == ["topdown_alloc", "topdown_free"]


def test_parse_rejects_non_callgrind():
    with pytest.raises(ValueError, match="events"):
        V.parse_callgrind("hello\n")


def test_simulated_costs_per_packet_and_validation():
    p = V.parse_callgrind(CALLGRIND_OUT)
    r = V.SimulatedCosts("topdown", "fastpath", V.design_functions("topdown"), 100,
                         dict(p.summary), p.geometry, "valgrind-3.19.0")
    pp = r.per_packet()
    assert pp["instructions"] == 11.0
    assert pp["d1_read_misses"] == 0.04
    assert pp["ll_read_misses"] == 0.01
    assert pp["branch_mispredicts"] == 0.07
    assert set(r.statuses().values()) == {"simulated"}
    d = r.as_dict()
    assert d["mode"] == "simulated" and d["D1_size_bytes"] == 49152
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.packets = 5
    with pytest.raises(ValueError, match="packets"):
        dataclasses.replace(r, packets=0)
    with pytest.raises(ValueError, match="simulated"):
        dataclasses.replace(r, status="measured")


def test_wrapper_command():
    cmd = V.callgrind_wrapper(["a_alloc", "a_free"], "out.callgrind",
                              cache={"D1": (32768, 8, 64)})
    assert cmd[:2] == ["valgrind", "--tool=callgrind"]
    for flag in ("--cache-sim=yes", "--branch-sim=yes", "--collect-atstart=no",
                 "--toggle-collect=a_alloc", "--toggle-collect=a_free",
                 "--callgrind-out-file=out.callgrind", "--D1=32768,8,64"):
        assert flag in cmd


def _engines_or_skip():
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")


# 16384 packets: ~1 s per run under callgrind.
RUN = dict(packets=16384, batch=64, warmup=2, size=256)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    return tmp_path_factory.mktemp("cg") / "topdown.callgrind"


@pytest.fixture(scope="module")
def topdown_twice(kept):
    _engines_or_skip()
    return (V.callgrind_costs("topdown", **RUN),
            V.callgrind_costs("topdown", keep=kept, **RUN))


def test_two_identical_runs_give_identical_numbers(topdown_twice, kept):
    a, b = topdown_twice
    assert a.totals == b.totals
    # keep= leaves callgrind's file under the name asked for; it holds the totals
    assert V.parse_callgrind(kept.read_text()).summary == b.totals
    assert a.params["counters"] == 0
    # warm-up samples count too: 2 of batch * sample_batches packets
    per = 64 * get_workload("fastpath").params["sample_batches"]
    assert a.packets == b.packets == 16384 + 2 * per
    assert a.status == "simulated" and a.geometry
    assert a.totals["Ir"] > 0
    # Tens of instructions per alloc+free, not thousands: the toggles
    # caught the design's code and not the whole process.
    assert 5 < a.per_packet()["instructions"] < 500


def test_topdown_and_bottomup_differ(topdown_twice):
    a = topdown_twice[0]
    b = V.callgrind_costs("bottomup", **RUN)
    assert b.design == "bottomup" and b.functions[0] == "bottomup_alloc"
    assert a.packets == b.packets
    assert a.totals != b.totals
    assert a.totals["Ir"] != b.totals["Ir"]


def test_a_function_that_never_runs_is_an_error():
    _engines_or_skip()
    with pytest.raises(EngineError, match="collected nothing"):
        V.callgrind_costs("topdown", functions=["no_such_function_xyz"],
                          packets=1024, warmup=0)
