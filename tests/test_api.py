"""fraglib.run end to end, and bad input from the API, the CLI and the engine."""

import json
import subprocess
import sys

import pytest

import fraglib
from fraglib import _build, store
from fraglib.exceptions import ParameterError, UnknownNameError


def test_run_fastpath_records_samples_and_provenance(runs_root, small):
    r = fraglib.run("topdown", "fastpath", size=256, root=runs_root, **small)
    assert r.design == "topdown" and r.workload == "fastpath"
    assert r.total_packets == 2048
    per = 64 * r.params["sample_batches"]
    assert r.warmup_samples == 2 and len(r.cycles) == 2 + -(-2048 // per)
    assert (r.cycles > 0).all() and r.tsc_hz > 1e8
    assert r.params["size"] == 256 and r.params["cpu"] == max(__import__("os").sched_getaffinity(0))
    assert r.pages["pages_leaked"] == 0
    assert len(r.provenance["git_sha"]) in (7, 40) or r.provenance["git_sha"] == "unknown"
    assert 0 <= r.provenance["env_pad"] < 4096
    files = store.run_files(runs_root)
    assert [f.stem for f in files] == [r.run_id]
    assert store.read_run(files[0]).to_dict() == r.to_dict()


def test_counters_never_zero_when_unsupported(runs_root, small):
    r = fraglib.run("topdown", root=runs_root, **small)
    events = r.counters[0]["events"]
    for name, ev in events.items():
        if ev["value"] is None:
            assert ev["reason"], name
    tc = events["task-clock"]
    assert tc["value"] > 0, "software events work on every Linux"


def test_region_has_no_page_faults(runs_root, small):
    r = fraglib.run("bottomup", root=runs_root, **small)
    assert r.provenance["region_page_faults"] in (0, "not measured")


def test_the_arena_says_how_much_of_it_is_in_huge_pages(runs_root, small):
    # page.c backs the arena (the model's direct map) with THP where it can
    # and reads its own smaps entry: -1 would mean that read failed.
    from pathlib import Path

    r = fraglib.run("topdown", "fastpath", root=runs_root, **small)
    huge, arena = r.metrics["arena_huge_mib"], r.params["arena_mb"]
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.exists() or "[never]" in thp.read_text():
        assert huge == 0
    else:
        assert 0 <= huge <= arena and huge % 2 == 0


def test_env_pad_is_recorded_and_settable(runs_root, small):
    r = fraglib.run("topdown", env_pad=123, store=False, **small)
    assert r.provenance["env_pad"] == 123


BAD = [
    (dict(design="nope"), "design"),
    (dict(size=0), "size"),
    (dict(size=4097), "size"),
    (dict(align=3), "align"),
    (dict(align=0), "align"),
    (dict(packets=0), "packets"),
    (dict(packets=-5), "packets"),
    (dict(batch=0), "batch"),
    (dict(cpu=4096), "cpu"),
    (dict(workload="nope"), "workload"),
]


@pytest.mark.parametrize("kw, param", BAD)
def test_api_rejects_bad_input_and_writes_nothing(kw, param, runs_root, small):
    args = {"design": "topdown", **small, **kw}
    with pytest.raises(ParameterError) as e:
        fraglib.run(root=runs_root, **args)
    assert e.value.param == param
    assert str(e.value).startswith(f"invalid {param}=")
    assert not runs_root.exists() or not list(runs_root.rglob("*.parquet"))


def test_unknown_design_lists_known(runs_root):
    with pytest.raises(UnknownNameError, match="bottomup.*topdown|topdown"):
        fraglib.run("nope", root=runs_root)


ENGINE_BAD = [
    ("size=0", "invalid size=0"),
    ("size=5000", "invalid size=5000"),
    ("align=3", "invalid align=3"),
    ("packets=0", "invalid packets=0"),
    ("cpu=4095", "invalid cpu=4095"),
    ("workload=nope", "invalid workload=nope"),
    ("bogus=1", "unknown parameter 'bogus'"),
    ("design=bottomup", "invalid design=bottomup"),
    ("size", "not key=value"),
]


@pytest.mark.parametrize("arg, msg", ENGINE_BAD)
def test_engine_rejects_bad_input(arg, msg):
    eng = _build.build_engine("topdown").path
    p = subprocess.run([str(eng), arg], capture_output=True, text=True)
    assert p.returncode == 2
    assert msg in p.stderr
    assert p.stdout == ""


def test_engine_help_lists_workloads_and_parameters():
    eng = _build.build_engine("topdown").path
    p = subprocess.run([str(eng), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "fastpath" in p.stdout and "packets" in p.stdout


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fraglib.cli", *args], capture_output=True,
                          text=True, env=env)


@pytest.mark.parametrize("args, param", [
    (["run", "nope"], "design"),
    (["run", "topdown", "--size", "0"], "size"),
    (["run", "topdown", "--align", "6"], "align"),
    (["run", "topdown", "--packets", "0"], "packets"),
    (["run", "topdown", "--cpu", "4096"], "cpu"),
])
def test_cli_rejects_bad_input(args, param, runs_root):
    import os
    env = dict(os.environ, FRAGLIB_DATA=str(runs_root.parent))
    p = _cli(*args, env=env)
    assert p.returncode == 2, p.stderr
    assert f"fraglib: error: invalid {param}=" in p.stderr
    assert not runs_root.exists() or not list(runs_root.rglob("*.parquet"))


def test_cli_run_json(runs_root):
    import os
    env = dict(os.environ, FRAGLIB_DATA=str(runs_root.parent))
    p = _cli("run", "bottomup", "-n", "1024", "--json", "--no-store", env=env)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    per = 64 * doc["params"]["sample_batches"]
    assert doc["design"] == "bottomup" and len(doc["cycles"]) == 16 + -(-1024 // per)
    assert not runs_root.exists()


def test_cli_designs_lists_both():
    p = _cli("designs")
    assert p.returncode == 0
    assert "topdown" in p.stdout and "bottomup" in p.stdout and "v6.9" in p.stdout
