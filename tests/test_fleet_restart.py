"""A fleet comparison survives a scheduler restart.

A real ``dask scheduler`` process and one ``fraglib worker`` process (as a
user starts them); the scheduler is killed (SIGKILL) while a pair runs and
started again on the same port. The client reconnects, the worker's nanny
registers a new worker, the pair in flight runs again, and the comparison
ends with every pair measured once and stored once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from fraglib.compare import plan  # noqa: E402
from fraglib.fleet import Fleet  # noqa: E402
from fraglib.fleet.executor import compare_plan  # noqa: E402
from fraglib.fleet.identity import MACHINE_VAR  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scheduler(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                             "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                             "--dashboard-address", ":0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_comparison_survives_a_scheduler_restart(runs_root):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    sched = _scheduler(port)
    worker = subprocess.Popen([sys.executable, "-m", "fraglib", "worker", "--scheduler", addr,
                               "--quiet"], env={**os.environ, MACHINE_VAR: "m-r"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [sched, worker]
    try:
        fleet = Fleet(addr, timeout=90)
        assert fleet.machines(["m-r"]) == ["m-r"]
        p = plan("topdown", "bottomup", builds=1, processes=4, packets=1 << 23, warmup=2,
                 metadata=False)
        out = {}

        def go():
            try:
                out["fc"] = compare_plan(p, cluster=fleet, machines=["m-r"], root=runs_root,
                                         progress=False, lost_after=90)
            except Exception as e:          # noqa: BLE001 - shown by the assert below
                out["error"] = e

        t = threading.Thread(target=go)
        t.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and t.is_alive():
            if len(list(runs_root.rglob("*.parquet"))) >= 2:    # one pair stored
                break
            time.sleep(0.05)
        assert t.is_alive(), "the comparison ended before the scheduler was killed"
        sched.send_signal(signal.SIGKILL)
        sched.wait(10)
        time.sleep(1.0)
        sched = _scheduler(port)
        procs[0] = sched
        t.join(240)
        assert not t.is_alive(), "the comparison did not finish after the restart"
        assert "error" not in out, repr(out.get("error"))
        fc = out["fc"]
        assert fc.restarts >= 1, "no scheduler restart was seen"
        assert not fc.lost, fc.lost
        assert dict(fc.pairs_run) == {"m-r": 4} and fc["m-r"].verdict.n_pairs == 4
        files = [f for f in runs_root.rglob("*") if f.is_file() and f.suffix == ".parquet"]
        assert len(files) == 8 and len({f.stem for f in files}) == 8
        assert not [f for f in runs_root.rglob(".tmp-*")]
        fleet.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
