"""The results store: atomic Parquet files, exact round trip, DuckDB views."""

import numpy as np
import pytest

from fraglib import store
from fraglib.results import RunResult


def _result(**kw):
    base = dict(design="topdown", workload="fastpath", params={"size": 256, "align": 1},
                tsc_hz=2.6e9, cycles=[6400, 1600, 1700, 1650], packets=[64, 64, 64, 64],
                warmup_samples=1, metrics={"x": 1.5}, pages={"pages_allocated": 8},
                counters=({"thread": 0, "disabled": True},),
                provenance={"machine": "m1", "git_sha": "abc", "git_dirty": False})
    base.update(kw)
    return RunResult(**base)


def test_round_trip_is_exact(tmp_path):
    r = _result()
    path = store.write_run(r, tmp_path)
    assert path.parent.name == "m1" and path.name == f"{r.run_id}.parquet"
    back = store.read_run(path)
    assert back.to_dict() == r.to_dict()
    assert back.cycles_per_packet.tolist() == [25.0, 1700 / 64, 1650 / 64]


def test_views_over_every_run(tmp_path):
    store.write_run(_result(), tmp_path)
    store.write_run(_result(design="bottomup", cycles=[6400, 3200, 3200, 3200]), tmp_path)
    runs = store.runs(tmp_path).set_index("design")
    assert runs.loc["bottomup", "median_cpp"] == 50.0
    assert runs.loc["topdown", "samples"] == 3
    s = store.samples(tmp_path, where="design = 'topdown' AND NOT warmup")
    assert len(s) == 3 and set(s["m_x"]) == {1.5}


def test_empty_store_gives_empty_views(tmp_path):
    assert store.runs(tmp_path).empty


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(store.pq, "write_table", boom)
    with pytest.raises(store.StoreError, match="disk full"):
        store.write_run(_result(), tmp_path)
    assert not list(tmp_path.rglob("*.parquet"))


@pytest.mark.parametrize("bad, match", [
    (dict(cycles=[1, 2], packets=[1]), "one length"),
    (dict(warmup_samples=9), "warmup_samples"),
    (dict(tsc_hz=0), "tsc_hz"),
    (dict(packets=[64, 0, 64, 64]), "at least one packet"),
])
def test_result_records_validate(bad, match):
    with pytest.raises(ValueError, match=match):
        _result(**bad)


def test_result_is_frozen():
    r = _result()
    with pytest.raises(Exception):
        r.design = "x"
    with pytest.raises(ValueError):
        r.cycles[0] = 1
    with pytest.raises(TypeError):
        r.params["size"] = 1
    assert isinstance(r.cycles, np.ndarray)
