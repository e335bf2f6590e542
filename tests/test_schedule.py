"""fraglib.experiments.schedule: the interleaved-rounds order, flags as data, the grids."""

import types
import warnings

import numpy as np
import pytest

from fraglib.exceptions import EngineError, ParameterError
from fraglib.experiments import schedule


def test_grid_turns_run_warnings_into_a_flag(monkeypatch):
    def fake_run(design, workload, **kw):
        if design == "malloc":
            warnings.warn("malloc/fastpath: 4 page faults in the timed region (arena not "
                          "prefaulted?)", RuntimeWarning, stacklevel=2)
        cpp = np.array([10.0, 11.0])
        return types.SimpleNamespace(median_cycles_per_packet=10.5, value_cycles_per_packet=10.5,
                                     cycles_per_packet=cpp,
                                     ns_per_packet=cpp / 2.4, run_id=f"{design}-x")

    monkeypatch.setattr(schedule, "run", fake_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # nothing may escape as a warning
        df = schedule.grid(["topdown", "malloc"], "fastpath", [{"size": 256}], repeats=1,
                           progress=False)
    flags = dict(zip(df["design"], df["flag"]))
    assert flags["topdown"] == ""
    assert flags["malloc"].startswith("malloc/fastpath: 4 page faults in the timed region")


def test_schedule_runs_every_item_once_per_round_in_a_seeded_order():
    jobs = schedule.schedule([["a", "b", "c"], ["a", "b"]], repeats=3, seed=7)
    assert len(jobs) == 3 * (3 + 2)
    for rep in range(3):
        rnd = [j for j in jobs if j.round == rep]
        assert [j.group for j in rnd] == [0, 0, 0, 1, 1], "cells in order within a round"
        assert sorted(j.item for j in rnd if j.group == 0) == ["a", "b", "c"]
    assert jobs == schedule.schedule([["a", "b", "c"], ["a", "b"]], repeats=3, seed=7)
    many = schedule.schedule([list("abcdef")], repeats=20, seed=0)
    assert len({tuple(j.item for j in many if j.round == r) for r in range(20)}) > 1, \
        "a fresh order every round"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_schedule_refuses_bad_repeats(bad):
    with pytest.raises(ParameterError, match="repeats"):
        schedule.schedule([["a"]], repeats=bad, seed=0)


def test_run_rounds_turns_caught_errors_into_outcomes():
    jobs = schedule.schedule([["ok", "boom"]], repeats=1, seed=0)

    def fn(job):
        if job.item == "boom":
            raise EngineError("crashed", "boom", "fastpath", 1)
        warnings.warn("careful", RuntimeWarning)
        warnings.warn("careful", RuntimeWarning)
        return job.item

    out = {j.item: (r, flag, err) for j, r, flag, err in
           schedule.run_rounds(jobs, fn, catch=(EngineError,), progress=False)}
    assert out["ok"] == ("ok", "careful", None), "repeated warnings are one flag"
    assert out["boom"][0] is None and isinstance(out["boom"][2], EngineError)
    with pytest.raises(EngineError):
        list(schedule.run_rounds(jobs, fn, progress=False))


def test_select_designs_defaults_to_the_registry_less_exclusions():
    from fraglib import design_names

    assert schedule.select_designs(None) == list(design_names())
    picked = schedule.select_designs(None, exclude=["order0", "malloc"])
    assert "part2" in picked and "order0" not in picked and "malloc" not in picked
    with pytest.raises(ParameterError, match="exclude"):
        schedule.select_designs(["topdown"], exclude=["topdown"])
    from fraglib.exceptions import UnknownNameError
    with pytest.raises(UnknownNameError):
        schedule.select_designs(None, exclude=["nope"])
