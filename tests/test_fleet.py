"""Fleet runs on Dask: two worker processes act as two machines, one store.

A local Dask cluster with two worker processes, given the machine
identities ``m-a`` and ``m-b`` through the test-only ``$FRAGLIB_MACHINE_ID``
(a SpecCluster: a LocalCluster gives every worker the same environment): a
comparison lands both machines' runs in one store, the report shows both, a
worker killed mid-pair loses no stored run, ``--resume`` reruns nothing
stored, and a worker with another source hash is refused (the fleet sweep:
tests/test_fleet_sweep.py; a scheduler restart: tests/test_fleet_restart.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from fraglib import store  # noqa: E402
from fraglib.compare import compare  # noqa: E402
from fraglib.exceptions import ParameterError, SourceMismatchError  # noqa: E402
from fraglib.fleet import Fleet  # noqa: E402
from fraglib.fleet.identity import HASH_VAR, MACHINE_VAR  # noqa: E402
from fraglib.report.fleet import (fleet_sentence, fleet_table,  # noqa: E402
                                  fleet_table_from_store)

TINY = dict(builds=1, processes=2, packets=4096, warmup=2, metadata=False, progress=False)


@pytest.fixture(scope="module")
def cluster():
    """A local scheduler and two worker processes (each under an in-process
    nanny, as ``fraglib worker`` runs them), machines m-a and m-b."""
    from fraglib.fleet.identity import worker_resources

    workers = {m: {"cls": distributed.Nanny,
                   "options": {"nthreads": 1, "resources": worker_resources(m), "name": m,
                               "env": {MACHINE_VAR: m}, "dashboard": False}}
               for m in ("m-a", "m-b")}
    sc = distributed.SpecCluster(workers=workers, scheduler={
        "cls": distributed.Scheduler, "options": {"dashboard": False,
                                                  "dashboard_address": ":0"}})
    client = distributed.Client(sc)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close()
        sc.close()


def _stored(root) -> pd.DataFrame:
    """One row per stored run: run_id, machine."""
    return store.samples(root)[["run_id", "machine"]].drop_duplicates(ignore_index=True)


def _no_partial(root) -> None:
    leftovers = [p for p in root.rglob("*") if p.is_file() and (p.name.startswith(".")
                 and p.name != ".lock" or p.suffix not in (".parquet", ".lock", ""))]
    assert not leftovers, leftovers


def test_two_machines_one_store_and_report(cluster, runs_root):
    fc = compare("topdown", "bottomup", cluster=cluster, machines="all", root=runs_root,
                 **TINY)
    assert sorted(fc) == ["m-a", "m-b"] and not fc.lost
    runs = _stored(runs_root)
    assert runs.groupby("machine")["run_id"].nunique().to_dict() == {"m-a": 4, "m-b": 4}
    assert sorted(p.name for p in runs_root.iterdir() if p.is_dir()) == ["m-a", "m-b"]
    table = fleet_table(fc)
    assert list(table["machine"]) == ["m-a", "m-b"]
    sentence = fleet_sentence(table)
    assert "m-a" in sentence and "m-b" in sentence
    assert "m-a: " in fc.text and "m-b: " in fc.text
    # the same verdicts from the stored rows alone
    again = fleet_table_from_store(root=runs_root, seed=0)
    pd.testing.assert_series_equal(again["effect"], table["effect"])
    assert list(again["kind"]) == list(table["kind"])


def test_resume_reruns_nothing_stored(cluster, runs_root, monkeypatch):
    monkeypatch.setenv("FRAGLIB_RESUME", "1")
    monkeypatch.setenv("FRAGLIB_RESUME_SCOPE", "test-fleet-resume")
    # a client that got as far as machine m-a only, then was restarted for both
    first = compare("topdown", "bottomup", cluster=cluster, machines=["m-a"],
                    root=runs_root, **TINY)
    before = set(_stored(runs_root)["run_id"])
    both = compare("topdown", "bottomup", cluster=cluster, machines="all", root=runs_root,
                   **TINY)
    assert dict(both.pairs_resumed) == {"m-a": 2, "m-b": 0}
    assert dict(both.pairs_run) == {"m-a": 0, "m-b": 2}
    assert both["m-a"].verdict.effect == first["m-a"].verdict.effect
    assert before <= set(both["m-a"].observations["run_id"]) | before
    assert set(both["m-a"].observations["run_id"]) == before
    again = compare("topdown", "bottomup", cluster=cluster, machines="all", root=runs_root,
                    **TINY)
    assert sum(again.pairs_run.values()) == 0
    assert len(_stored(runs_root)) == 8


def test_refuses_other_source_hash(cluster):
    from fraglib.fleet.identity import worker_resources

    sc = cluster.cluster
    sc.worker_spec["m-odd"] = {"cls": distributed.Nanny, "options": {
        "nthreads": 1, "resources": worker_resources("m-odd"), "name": "m-odd",
        "env": {MACHINE_VAR: "m-odd", HASH_VAR: "0123456789abcdef"}, "dashboard": False}}
    sc.scale(len(sc.worker_spec))
    try:
        cluster.wait_for_workers(3, timeout=60)
        f = Fleet(cluster, timeout=5)
        with pytest.raises(SourceMismatchError) as e:
            f.machines("all")
        assert e.value.worker_hash == "0123456789abcdef" and e.value.machine == "m-odd"
        assert e.value.client_hash in str(e.value) and "m-odd" in str(e.value)
        assert f.machines(["m-a", "m-b"]) == ["m-a", "m-b"]
        with pytest.raises(SourceMismatchError):
            compare("topdown", "bottomup", cluster=cluster, machines=["m-odd"], **TINY)
    finally:
        del sc.worker_spec["m-odd"]
        sc.scale(len(sc.worker_spec))
        deadline = time.monotonic() + 30
        while len(cluster.scheduler_info()["workers"]) > 2 and time.monotonic() < deadline:
            time.sleep(0.1)


def test_cli_worker_parses():
    from fraglib.cli import build_parser

    args = build_parser().parse_args(["worker", "--scheduler", "tcp://h:8786", "--quiet"])
    assert args.scheduler == "tcp://h:8786" and args.quiet and args.func.__name__ == "cmd_worker"
    assert args.reconnect == 300


def test_cli_worker_bad_reconnect_is_refused(capsys):
    from fraglib.cli import main

    assert main(["worker", "--scheduler", "tcp://h:8786", "--reconnect", "-1"]) == 2
    assert "--reconnect" in capsys.readouterr().err


def test_worker_killed_mid_pair_loses_nothing(cluster, runs_root):
    """SIGKILL the m-b worker process while it measures: its nanny restarts
    it and the pair runs again there; every stored file is whole."""
    pid_of = {i.machine: (addr, i.pid) for addr, i in Fleet(cluster).identities().items()}
    addr_b, pid_b = pid_of["m-b"]
    out = {}

    def go():
        out["fc"] = compare("topdown", "bottomup", cluster=cluster, machines=["m-b"],
                            root=runs_root, **{**TINY, "processes": 3,
                                               "packets": 1 << 18})

    t = threading.Thread(target=go)
    t.start()
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline and t.is_alive():
        busy = cluster.processing().get(addr_b, ())
        if any("run_pair" in str(k) for k in busy):
            os.kill(pid_b, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    t.join(120)
    assert killed, "no pair was seen running on m-b"
    fc = out["fc"]
    assert not fc.lost and dict(fc.pairs_run) == {"m-b": 3}
    runs = _stored(runs_root)
    assert runs["run_id"].nunique() == 6 and set(runs["machine"]) == {"m-b"}
    _no_partial(runs_root)
    new = {i.machine: i.pid for i in Fleet(cluster).identities().values()}
    assert new["m-b"] != pid_b          # the pair ran again in the restarted worker


def test_cli_compare_on_cluster(cluster, runs_root, capsys):
    from fraglib.cli import main

    rc = main(["compare", "topdown", "bottomup", "--builds", "1", "--processes", "2",
               "-p", "packets=4096", "-p", "metadata=false", "--no-store",
               "--cluster", cluster.scheduler_info()['address'], "--machines", "m-a,m-b"])
    out = capsys.readouterr().out
    assert rc == 0 and "m-a: " in out and "m-b: " in out and "every machine" in out \
        or "does not hold on every machine" in out


def test_bad_arguments_named():
    with pytest.raises(ParameterError, match="cluster"):
        Fleet(42)
    from fraglib.fleet.executor import compare_plan

    with pytest.raises(ParameterError, match="lost_after"):
        compare_plan(None, lost_after=0)


def test_sentence_names_disagreeing_machines():
    t = pd.DataFrame({"machine": ["x1", "x2", "x3"], "kind": ["faster", "faster", "slower"],
                      "effect": [0.9, 0.92, 1.05], "ci_lo": [0.88, 0.9, 1.01],
                      "ci_hi": [0.92, 0.94, 1.09], "label_a": "A", "label_b": "B"})
    s = fleet_sentence(t)
    assert "does not hold on every machine" in s and "x3 (slower, +5.00 %)" in s
    assert "2 of 3 (x1, x2)" in s
    agree = fleet_sentence(t.iloc[:2])
    assert "holds on every machine (2: x1, x2)" in agree


def test_machine_gone_is_recorded_lost(cluster, runs_root):
    """m-a's worker and nanny go away mid-pair and do not come back: after
    ``lost_after`` seconds the pair is recorded lost, with the reason, and
    nothing partial is left. (Last in this module: m-a is gone after it.)"""
    from fraglib.fleet.executor import compare_plan
    from fraglib.compare import plan

    addr_a = next(a for a, i in Fleet(cluster).identities().items() if i.machine == "m-a")
    # pairs of about half a second each, so m-a goes away while one runs
    p = plan("topdown", "bottomup", builds=1, processes=3, packets=1 << 25, warmup=2,
             metadata=False)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("fc", compare_plan(
        p, cluster=cluster, machines=["m-a"], root=runs_root, progress=False,
        lost_after=2)))
    t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and t.is_alive():
        if any("run_pair" in str(k) for k in cluster.processing().get(addr_a, ())):
            break
        time.sleep(0.05)
    assert t.is_alive(), "the comparison ended before m-a could be taken away"
    sc = cluster.cluster                   # take m-a's nanny and worker away for good
    del sc.worker_spec["m-a"]
    sc.scale(len(sc.worker_spec))
    t.join(60)
    fc = out["fc"]
    assert any(lost.machine == "m-a" and "no worker" in lost.reason for lost in fc.lost)
    assert "m-a" not in fc
    stored = _stored(runs_root) if runs_root.exists() else pd.DataFrame(columns=["run_id"])
    assert stored["run_id"].nunique() == 2 * fc.pairs_run["m-a"]
    _no_partial(runs_root)


def test_describe_announces_the_machine(monkeypatch):
    """What ``fraglib worker`` announces: identity, CPU, kernel, TSC, counters."""
    from fraglib.fleet import identity

    monkeypatch.setenv(MACHINE_VAR, "m-described")
    identity.describe.cache_clear()
    try:
        d = identity.describe()
    finally:
        identity.describe.cache_clear()
    assert d["machine"] == "m-described" and d["source_hash"] == identity.source_hash()
    assert d["cpu_model"] and d["kernel"]
    assert isinstance(d["tsc_hz"], float) and d["tsc_hz"] > 0 \
        or str(d["tsc_hz"]).startswith("not measured: ")
    assert set(d["counters"]).isdisjoint(d["counters_not_measured"])
    monkeypatch.setenv(MACHINE_VAR, "Bad/Name")
    with pytest.raises(ParameterError, match=MACHINE_VAR):
        identity.machine_name()
