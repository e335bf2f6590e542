"""The results store: atomic Parquet files, exact round trip, DuckDB views."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from fraglib import stats, store
from fraglib.exceptions import ParameterError
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
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.design = "x"
    with pytest.raises(ValueError):
        r.cycles[0] = 1
    with pytest.raises(TypeError):
        r.params["size"] = 1
    assert isinstance(r.cycles, np.ndarray)


# ---- a comparison's statistics from its stored rows ----------------------------


def _stored_comparison(tmp_path, effect=0.03, n_builds=3, n_pairs=3, seed=0, cid="cmp1"):
    """Synthetic runs labelled as compare() labels them, written to the store."""
    rng = np.random.default_rng(seed)
    runs, process = [], 0
    for build in range(n_builds):
        layout = rng.normal(0, 0.02)
        for pair in range(n_pairs):
            order = "AB" if rng.random() < 0.5 else "BA"
            for role in order:
                base = 1600 * np.exp(layout) * (1 + effect if role == "B" else 1.0)
                cycles = np.round(base * np.exp(rng.normal(0, 0.01, 9))).astype(int)
                labels = {"role": role, "pair": pair, "build_id": build,
                          "process": process, "comparison": cid, "order": order,
                          "name": "topdown" if role == "A" else "bottomup"}
                process += 1
                r = _result(design=labels["name"], cycles=cycles, packets=[64] * 9,
                            warmup_samples=2, spec={"labels": labels},
                            provenance={"machine": "m1", "tsc_step": 24.5})
                store.write_run(r, tmp_path)
                runs.append(r)
    return runs


def test_labels_are_columns_and_the_spec_rides_along(tmp_path):
    runs = _stored_comparison(tmp_path, n_builds=1, n_pairs=2)
    s = store.samples(tmp_path)
    for col in ("build_id", "process", "pair", "role", "comparison", "pair_order",
                "label", "spec", "tsc_step"):
        assert col in s.columns, col
    first = s[s["sample"] == 0].set_index("run_id")
    for r in runs:
        assert first.loc[r.run_id, "role"] == r.labels["role"]
        assert first.loc[r.run_id, "process"] == r.labels["process"]
        assert json.loads(first.loc[r.run_id, "spec"])["labels"] == dict(r.labels)
    assert s.loc[s["sample"] > 0, "spec"].isna().all()      # first sample's row only
    assert store.load_run(runs[0].run_id, tmp_path).to_dict() == runs[0].to_dict()


def test_verdict_from_store_equals_the_in_memory_verdict(tmp_path):
    runs = _stored_comparison(tmp_path)
    _stored_comparison(tmp_path, effect=-0.2, seed=1, cid="other")   # another comparison
    obs = stats.process_values(stats.samples_frame(runs))
    mem, _ = stats.comparison_verdict(obs, "topdown", "bottomup", resamples=2000, seed=4)
    back = stats.verdict_from_store(store.samples(tmp_path), comparison="cmp1",
                                    resamples=2000, seed=4)
    assert back == mem and mem.kind == "slower"
    sql = stats.verdict_from_store("comparison = 'cmp1'", root=tmp_path, resamples=2000,
                                   seed=4)
    assert sql == mem
    other = stats.verdict_from_store(store.samples(tmp_path), comparison="other",
                                     resamples=2000, seed=4)
    assert other.kind == "faster"
    assert store.compact(tmp_path).runs_compacted == 2 * len(runs)
    assert stats.verdict_from_store(store.samples(tmp_path), comparison="cmp1",
                                    resamples=2000, seed=4) == mem       # from a part
    assert stats.verdict_from_store(store.samples(tmp_path), comparison="cmp1",
                                    resamples=2000, seed=5) != mem       # seed matters


def test_verdict_from_store_refuses_unlabelled_or_ambiguous_rows(tmp_path):
    store.write_run(_result(), tmp_path)
    with pytest.raises(stats.ParameterError) as e:
        stats.verdict_from_store(store.samples(tmp_path))
    assert e.value.param == "source"
    _stored_comparison(tmp_path, cid="x1")
    _stored_comparison(tmp_path, cid="x2")
    with pytest.raises(stats.ParameterError) as e:
        stats.verdict_from_store(store.samples(tmp_path), resamples=2000)
    assert e.value.param == "comparison" and "x1, x2" in str(e.value)
    with pytest.raises(stats.UnknownNameError):
        stats.verdict_from_store(store.samples(tmp_path), comparison="x3")


def test_samples_of_chosen_columns_only(tmp_path):
    runs = _stored_comparison(tmp_path)
    full = store.samples(tmp_path)
    some = store.samples(tmp_path, columns=["run_id", "cycles", "comparison", "nosuch"])
    assert list(some.columns) == ["run_id", "cycles", "comparison", "nosuch"]
    assert len(some) == len(full) and some["nosuch"].isna().all()
    key = ["run_id", "cycles"]
    pd.testing.assert_frame_equal(
        some[key].sort_values(key, ignore_index=True),
        full[key].sort_values(key, ignore_index=True), check_dtype=False)
    assert set(some["run_id"]) == {r.run_id for r in runs}
    with pytest.raises(ParameterError) as e:
        store.samples(tmp_path, columns=["cycles; DROP TABLE x"])
    assert e.value.param == "columns"
