"""Store reliability (issue 14): quarantine, compaction, concurrent writers,
full disk, old and newer schema versions."""

import errno
import json
import multiprocessing as mp
import time
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraglib import store
from fraglib.exceptions import StoreError, StoreSchemaError, StoreWarning
from fraglib.results import RunResult


def _result(i=0, **kw):
    base = dict(design="topdown" if i % 2 else "bottomup",
                workload="fastpath" if i % 3 else "rx", params={"size": 256 + i},
                tsc_hz=2.6e9, cycles=[6400, 1600 + i, 1700, 1650], packets=[64] * 4,
                warmup_samples=1, provenance={"machine": "m1"})
    base.update(kw)
    return RunResult(**base)


def _fill(root, n):
    return [store.write_run(_result(i), root) for i in range(n)]


def _ids(root):
    return store.runs(root)["run_id"].tolist()


def test_corrupt_file_is_quarantined_and_the_rest_stay_readable(tmp_path):
    paths = _fill(tmp_path, 5)
    paths[2].write_bytes(b"PAR1 garbage")
    with pytest.warns(StoreWarning, match=rf"{paths[2].stem}.*moved to"):
        ids = _ids(tmp_path)
    assert len(ids) == 4 and paths[2].stem not in ids
    assert not paths[2].exists()
    rep = store.check(tmp_path)
    assert rep.runs == 4 and not rep.ok
    assert rep.quarantined[0][0] == f"m1/{paths[2].name}"
    assert "not a readable Parquet file" in rep.text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # reported once, not on every open
        assert len(_ids(tmp_path)) == 4


def test_foreign_parquet_file_is_quarantined(tmp_path):
    _fill(tmp_path, 2)
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "m1" / "theirs.parquet")
    with pytest.warns(StoreWarning, match="not a fraglib run file"):
        assert len(_ids(tmp_path)) == 2
    assert (tmp_path / ".quarantine" / "m1" / "theirs.parquet").exists()


def test_compaction_keeps_every_run_exactly_once(tmp_path):
    written = [p.stem for p in _fill(tmp_path, 12)]
    before = store.samples(tmp_path).sort_values(["run_id", "sample"])
    res = store.compact(tmp_path)
    assert res.runs_compacted == 12 and res.parts_written == 2   # fastpath, rx
    assert not list((tmp_path / "m1").glob("*.parquet"))
    after = store.samples(tmp_path).sort_values(["run_id", "sample"])
    assert sorted(after["run_id"].unique()) == sorted(written)
    assert len(after) == len(before)
    assert after["cycles"].tolist() == before["cycles"].tolist()
    back = store.load_run(written[3], tmp_path)
    assert back.to_dict() == _result(3, run_id=written[3]).to_dict()
    assert store.compact(tmp_path).runs_compacted == 0


def test_compaction_interrupted_before_removing_sources_duplicates_nothing(
        tmp_path, monkeypatch):
    _fill(tmp_path, 6)
    real_unlink = type(tmp_path).unlink

    def crash(self, *a, **k):
        if self.suffix == ".parquet" and not self.name.startswith("."):
            raise KeyboardInterrupt("killed between part and source removal")
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(type(tmp_path), "unlink", crash)
    with pytest.raises(KeyboardInterrupt):
        store.compact(tmp_path)
    monkeypatch.undo()
    assert len(list((tmp_path / "m1").glob("*.parquet"))) == 6   # sources still there
    assert len(_ids(tmp_path)) == 6 and store.check(tmp_path).duplicates == 6
    res = store.compact(tmp_path)
    assert res.runs_compacted == 0 and res.files_removed == 6
    assert len(_ids(tmp_path)) == 6 and store.check(tmp_path).duplicates == 0


def _writer(root, start, n):
    for i in range(start, start + n):
        store.write_run(_result(i, run_id=f"w{i:05d}"), root)


def test_compaction_under_a_concurrent_writer_loses_and_duplicates_nothing(tmp_path):
    _fill(tmp_path, 20)
    ctx = mp.get_context("fork")
    w = ctx.Process(target=_writer, args=(str(tmp_path), 0, 40))
    w.start()
    compactions = 0
    while w.is_alive():
        store.compact(tmp_path)
        compactions += 1
    w.join()
    assert w.exitcode == 0
    store.compact(tmp_path)
    ids = _ids(tmp_path)
    assert len(ids) == len(set(ids)) == 60
    assert {f"w{i:05d}" for i in range(40)} <= set(ids)
    assert store.check(tmp_path).duplicates == 0 and compactions >= 1


def test_automatic_compaction_past_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGLIB_COMPACT_THRESHOLD", "5")
    _fill(tmp_path, 6)
    assert len(list((tmp_path / "m1").glob("*.parquet"))) == 0
    assert len(_ids(tmp_path)) == 6


def test_full_disk_leaves_nothing(tmp_path, monkeypatch):
    real = pq.write_table

    def enospc(table, where, **kw):
        real(table.slice(0, 1), where, **kw)            # some bytes, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.pq, "write_table", enospc)
    with pytest.raises(StoreError, match=r"No space left on device \(ENOSPC\).*"
                                         r"nothing was written.*free some space") as ei:
        store.write_run(_result(), tmp_path)
    assert "ENOSPC" in ei.value.reason
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_full_disk_during_compaction_removes_no_source(tmp_path, monkeypatch):
    _fill(tmp_path, 4)

    def enospc(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.pq, "write_table", enospc)
    with pytest.raises(StoreError, match="ENOSPC.*no run was removed"):
        store.compact(tmp_path)
    monkeypatch.undo()
    assert len(list((tmp_path / "m1").glob("*.parquet"))) == 4
    assert not list(tmp_path.rglob(".tmp-*"))
    assert len(_ids(tmp_path)) == 4


def test_schema_1_files_are_read_and_upgraded_by_compaction(tmp_path):
    r = _result()
    t = store._table(r).drop_columns(["run_doc"])
    (tmp_path / "m1").mkdir()
    pq.write_table(t.replace_schema_metadata({b"fraglib.run": json.dumps(r.to_dict())}),
                   tmp_path / "m1" / f"{r.run_id}.parquet")
    assert _ids(tmp_path) == [r.run_id]
    assert store.check(tmp_path).old_schema == [f"m1/{r.run_id}.parquet"]
    store.compact(tmp_path)
    assert store.load_run(r.run_id, tmp_path).to_dict() == r.to_dict()
    assert store.check(tmp_path).old_schema == []


def test_newer_schema_is_refused_saying_what_to_do(tmp_path):
    p = store.write_run(_result(), tmp_path)
    t = pq.read_table(p)
    pq.write_table(t.replace_schema_metadata({b"fraglib.schema": b"9"}), p)
    with pytest.raises(StoreSchemaError, match="schema 9.*reads schema <= 2: upgrade"):
        store.runs(tmp_path)
    with pytest.raises(StoreSchemaError):
        store.read_run(p)


def test_cli_store_compact_and_check(tmp_path, monkeypatch, capsys):
    from fraglib.cli import main

    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path))
    root = tmp_path / "runs"
    paths = _fill(root, 4)
    paths[0].write_bytes(b"")
    with pytest.warns(StoreWarning):
        assert main(["store", "compact"]) == 1          # a file was quarantined
    out = capsys.readouterr().out
    assert "compacted 3 runs into 2 parts, removed 3 one-run files (m1)" in out
    assert f"quarantined: m1/{paths[0].name}: not a readable Parquet file" in out
    assert "3 runs in 0 one-run files and 2 compacted parts" in out
    for p in (root / ".quarantine").rglob("*.*"):
        p.unlink()
    assert main(["store", "check"]) == 0


def _write_and_compact(root, n):
    for i in range(n):
        store.write_run(_result(i, run_id=f"c{i:05d}"), root)
        store.compact(root)


def test_a_reader_during_compaction_sees_every_run_once(tmp_path):
    first = {p.stem for p in _fill(tmp_path, 20)}
    ctx = mp.get_context("fork")
    w = ctx.Process(target=_write_and_compact, args=(str(tmp_path), 6))
    w.start()
    reads = 0
    while w.is_alive() or not reads:
        ids = _ids(tmp_path)
        assert len(ids) == len(set(ids)), "no run twice"
        assert first <= set(ids), "no run lost"
        reads += 1
        time.sleep(0.05)             # let the compactor take the lock
    w.join()
    assert w.exitcode == 0 and len(_ids(tmp_path)) == 26


def test_a_run_writer_stores_every_run_before_it_is_left(tmp_path):
    from fraglib.store_writer import RunWriter

    runs = [_result(i) for i in range(12)]
    with RunWriter(tmp_path) as w:
        for r in runs:
            w.submit(r)
    assert w.written == 12
    assert sorted(_ids(tmp_path)) == sorted(r.run_id for r in runs)


def test_a_run_writer_raises_the_first_write_error_and_leaves_nothing(tmp_path,
                                                                      monkeypatch):
    from fraglib.store_writer import RunWriter

    real, calls = pq.write_table, []

    def enospc(table, where, **kw):
        calls.append(1)
        if len(calls) == 2:                     # the second run finds the disk full
            real(table.slice(0, 1), where, **kw)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(table, where, **kw)

    monkeypatch.setattr(store.pq, "write_table", enospc)
    w = RunWriter(tmp_path)
    with pytest.raises(StoreError, match="ENOSPC.*nothing was written"):
        with w:
            for i in range(3):
                w.submit(_result(i))
    assert len(_ids(tmp_path)) == 2            # the others, whole; no partial file
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_run_writer_keeps_off_the_engines_cpu():
    import os
    import threading

    from fraglib import store_writer

    cpus = os.sched_getaffinity(0)
    seen = {}

    def where():
        seen["cpus"] = os.sched_getaffinity(0)
        seen["thread"] = threading.current_thread().name

    w = store_writer.RunWriter(None, avoid_cpus=[max(cpus)])
    w._pool.submit(where).result()
    w.close()
    assert seen["thread"].startswith("fraglib-store")
    assert seen["cpus"] == (cpus - {max(cpus)} or cpus)
    assert os.sched_getaffinity(0) == cpus      # the caller's own thread is not moved


def test_a_comparison_keeps_its_writer_off_the_cpus_of_its_engines():
    import os

    from fraglib import compare as cmp

    cpus = sorted(os.sched_getaffinity(0))
    p = cmp.plan("topdown", "bottomup", workload="fastpath", builds=2, processes=2)
    with cmp.run_writer(p, True, None) as w:
        assert w.avoid_cpus == {p.spec_a.cpu} == {max(cpus)}
    with cmp.run_writer(p, False, None) as w:
        assert w is None
    if len(cpus) >= 2:
        ring = cmp.plan("topdown", "bottomup", workload="ring", builds=2, processes=2,
                        cpu2=cpus[0])
        assert cmp.engine_cpus(ring.spec_a) == {ring.spec_a.cpu, cpus[0]}
