"""Issue 14: engine faults isolated, SIGKILL + resume, a notebook typo refused
before anything runs, long runs estimated and refused or reported."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import fraglib
from fraglib import notebooks, resume, store
from fraglib.experiments import schedule
from fraglib.exceptions import EngineError, ParameterError
from fraglib.spec import Labels, RunSpec


@pytest.fixture(autouse=True)
def _fresh_resume_state(monkeypatch):
    monkeypatch.delenv(resume.RESUME_VAR, raising=False)
    monkeypatch.delenv(resume.SCOPE_VAR, raising=False)
    resume.reset()
    yield
    resume.reset()


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("fault, signame", [(1, "SIGSEGV"), (2, "SIGABRT")])
def test_crashing_engine_names_design_workload_signal_and_stores_nothing(
        runs_root, small, fault, signame):
    with pytest.raises(EngineError, match=rf"topdown/fastpath was killed by {signame}") as ei:
        fraglib.run("topdown", "fastpath", fault=fault, root=runs_root, **small)
    e = ei.value
    assert (e.design, e.workload, e.signal) == ("topdown", "fastpath", signame)
    assert e.returncode == -getattr(signal, signame)
    assert not _files(runs_root)


def test_hanging_engine_is_killed_at_the_timeout(runs_root, small):
    with pytest.raises(EngineError, match=r"topdown/rx timed out after 1 s and was "
                                          r"killed \(SIGKILL\)") as ei:
        fraglib.run("topdown", "rx", fault=3, timeout=1, root=runs_root, **small)
    assert ei.value.signal == "SIGKILL" and not _files(runs_root)


def test_malformed_engine_output_is_an_engine_error(runs_root, small):
    with pytest.raises(EngineError, match=r"bottomup/fastpath printed malformed output "
                                          r"\(not one JSON document"):
        fraglib.run("bottomup", "fastpath", fault=4, root=runs_root, **small)
    assert not _files(runs_root)


def test_a_grid_continues_past_a_crashed_cell_and_lists_it(runs_root, small):
    df = schedule.grid(["topdown"], "fastpath",
                       [{"size": 256, "fault": 1}, {"size": 512}], repeats=1,
                       progress=False, root=runs_root, **small)
    assert df["size"].tolist() == [512]
    assert [f["size"] for f in df.attrs["failed"]] == [256]
    assert "topdown/fastpath was killed by SIGSEGV" in df.attrs["failed"][0]["error"]
    assert len(store.run_files(runs_root)) == 1


#: long enough (tens of ms a run) that the kill lands part-way through the
#: sweep: an engine process starts in about 10 ms
_PACKETS = 1 << 22
_SWEEP = f"PACKETS = {_PACKETS}\n" + textwrap.dedent("""
    import sys
    from fraglib.experiments import schedule
    df = schedule.grid(["topdown", "bottomup"], "fastpath",
                       [{"size": 64}], repeats=2, seed=3,
                       progress=False, packets=PACKETS, warmup=1, metadata=False,
                       root=sys.argv[1])
    print(" ".join(df["run_id"]))
""")


def test_sigkill_then_resume_loses_only_the_run_in_flight(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    env = {**os.environ, "FRAGLIB_COMPACT_THRESHOLD": "0"}
    env.pop(resume.RESUME_VAR, None)
    proc = subprocess.Popen([sys.executable, "-c", _SWEEP, str(root)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    while len(store.run_files(root)) < 2 and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.stem for p in store.run_files(root)}
    assert before and len(before) < 4, "killed part-way"

    monkeypatch.setenv(resume.RESUME_VAR, "1")        # the rerun, here: --resume
    df = schedule.grid(["topdown", "bottomup"], "fastpath", [{"size": 64}], repeats=2,
                       seed=3, progress=False, packets=_PACKETS, warmup=1, metadata=False,
                       root=str(root))
    out = df["run_id"].tolist()
    assert len(out) == 4
    assert before <= set(out), "every stored run was reused, not run again"
    runs = store.samples(root, where="sample = 0")
    assert sorted(runs["run_id"]) == sorted(out), "4 specs, each stored exactly once"
    assert runs.groupby(["spec_key", "spec_seq"]).size().eq(1).all()


def test_resume_returns_the_stored_run_of_the_same_spec(runs_root, small):
    a = fraglib.run("topdown", size=128, root=runs_root, **small)
    resume.reset()
    again = fraglib.run("topdown", size=128, root=runs_root, resume=True, **small)
    assert again.to_dict() == a.to_dict()
    other = fraglib.run("topdown", size=128, root=runs_root, resume=True, **small)
    assert other.run_id != a.run_id, "the second occurrence is a new run"


def test_notebook_typo_is_refused_before_anything_runs(tmp_path, monkeypatch):
    from fraglib.cli import main

    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "reports"))
    with pytest.raises(ParameterError, match=r"invalid nosuch=1: a parameter declared "
                                             r"by 1\.0-fastpath: alignments, designs"):
        notebooks.sweep(["1.0-fastpath"], parameters={"nosuch": 1}, progress=False)
    assert main(["sweep", "1.0-fastpath", "-p", "packets=-1"]) == 2
    assert not _files(tmp_path)


def test_a_huge_run_is_refused_with_the_size_it_would_have(runs_root):
    with pytest.raises(ParameterError, match=r"invalid packets=100000000000: at most "
                                             r"1,073,740,800 with batch=64 on fastpath: "
                                             r"a run keeps at most 16,777,216 samples"):
        fraglib.run("topdown", packets=10**11, root=runs_root)
    with pytest.raises(ParameterError, match=r"expected to take about 4,000 s; lower "
                                             r"packets"):
        fraglib.run("topdown", packets=10**11, batch=1 << 20, root=runs_root)
    assert not _files(runs_root)


def test_a_long_run_reports_progress_on_stderr(capfd, monkeypatch):
    from fraglib import engine

    monkeypatch.setattr(engine, "PROGRESS_AFTER_S", 0.3)   # "a few seconds", shortened
    seen = []
    show = engine.stderr_progress("topdown/fastpath", 40.0)
    with pytest.raises(EngineError, match="timed out"):
        engine.run_engine(fraglib._build.build_engine("topdown").path,
                          {"workload": "fastpath", "packets": 1024, "fault": 3},
                          timeout=1, progress=lambda s: (seen.append(s), show(s)))
    assert seen, "progress was reported"
    assert "fraglib: topdown/fastpath: 0 s of ~40 s expected (0 %)" in capfd.readouterr().err


def test_a_comparison_rerun_has_the_same_spec_keys():
    """compare() labels each run with a random comparison id; resume ignores it."""
    labels = Labels(role="B", pair=1, build_id=0, process=3, order="AB",
                    name="bottomup", comparison="a1")
    spec = RunSpec.make("bottomup", "fastpath", size=256, layout_seed=3, labels=labels,
                        provenance={"slowdown": 0, "aa": False})
    rerun = spec.derive(labels=dataclasses.replace(labels, comparison="b2"))
    other_side = spec.derive(labels=dataclasses.replace(labels, comparison="b2", role="A"))
    other_pair = spec.derive(labels=dataclasses.replace(labels, pair=2))
    k1, k2, k3, k4 = map(resume.key_of, (spec, rerun, other_side, other_pair))
    assert k1 == k2
    assert len({k1, k3, k4}) == 3
