"""rx, tx and ring on every design: they run where they can, refuse clearly
where they cannot, and every fragment, byte and page is accounted for.

Engines are built with statistics (-DFRAG_STATS) and run as subprocesses
with small packet counts; their JSON is read from stdout.
"""

import json
import os
import subprocess

import pytest

from fraglib._build import build_engine, design_sources
from fraglib.exceptions import ParameterError
from fraglib.workloads import (SIZES_DIR, get_workload, size_distribution,
                               validate_params, workload_names)

DESIGNS = sorted(design_sources())
CPUS = sorted(os.sched_getaffinity(0))
TWO = CPUS[:2] if len(CPUS) >= 2 else None
CAP_PREPARE, CAP_PAGES = 0x2, 0x4
PAGE_METRICS = {"pages_taken", "pages_per_1k_packets", "peak_pages_held"}

needs_two = pytest.mark.skipif(TWO is None, reason="needs two CPUs this process may use")


def _cfgs():
    a, b = TWO or (0, 0)
    return {
        "rx": dict(workload="rx", packets=3000, warmup=2, dist="imix"),
        "rx-csv": dict(workload="rx", packets=3000, warmup=2, queue_depth=64,
                       dist="csv:nanog_netflow_router1", sizes_dir=str(SIZES_DIR)),
        "rx-big": dict(workload="rx", packets=500, warmup=1, queue_depth=0,
                       dist="uniform:60-9000"),
        "rx-cpu2": dict(workload="rx", packets=3000, warmup=2, cpu=a, cpu2=b, busy_poll=1),
        "tx": dict(workload="tx", packets=40, batch=8, warmup=1, dist="fixed:65536"),
        "tx-mixed": dict(workload="tx", packets=400, batch=50, warmup=1, tx_delay=0,
                         dist="uniform:1-9000", mss=1000),
        "tx-cpu2": dict(workload="tx", packets=40, batch=8, warmup=1, dist="fixed:65536",
                        cpu=a, cpu2=b, busy_poll=1),
        "ring": dict(workload="ring", packets=3000, warmup=2, size=2048, cpu=a, cpu2=b,
                     busy_poll=1),
        "ring-same-cpu": dict(workload="ring", packets=3000, warmup=2, size=75, cpu=a,
                              cpu2=a),
    }


CFGS = _cfgs()
TWO_CPU = {"rx-cpu2", "tx-cpu2", "ring", "ring-same-cpu"}


@pytest.fixture(scope="session")
def engines():
    return {d: build_engine(d, stats=True).path for d in DESIGNS}


def run_engine(path, params, timeout=60):
    args = [str(path), "counters=0", *(f"{k}={v}" for k, v in params.items())]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def check_balance(doc, params):
    """The accounting every run must satisfy exactly."""
    m, pages = doc["metrics"], doc["pages"]
    wl = get_workload(params["workload"])
    warm, batch = params.get("warmup", 16), params.get("batch", 64)
    assert pages["pages_leaked"] == 0
    assert pages["pages_allocated"] == pages["pages_freed"]
    for a, b in wl.balance:
        assert m[a] == m[b], (a, m[a], b, m[b])
    expected = set(wl.metrics)
    if not doc["caps"] & CAP_PAGES:
        expected -= PAGE_METRICS
        assert not PAGE_METRICS & set(m)
    if not m.get("bytes_requested"):
        expected.discard("consumed_per_requested")
    assert expected <= set(m), expected - set(m)
    ws = doc["warmup_samples"]
    assert ws == warm
    if wl.name == "rx":
        assert m["packets"] == warm * batch + params["packets"]
        assert sum(doc["packets"][ws:]) == params["packets"]
        assert (m["frags_allocated"] + m["small_heads_slicer1k"] + m["small_heads_kmalloc"]
                + m["kmalloc_heads"] + m["alloc_failures"]) == m["packets"]
        assert m["alloc_failures"] == 0
        assert m["heads_allocated"] == m["heads_freed"]
    elif wl.name == "tx":
        assert m["messages"] == warm * batch + params["packets"]
        assert sum(doc["packets"]) == m["packets"]
        assert m["bytes_sent"] == m["bytes_copied"] == m["bytes_completed"]
        assert m["merged_chunks"] + m["frags_allocated"] == m["chunks"]
        assert m["alloc_failures"] == 0
        if doc["caps"] & CAP_PREPARE:
            assert m["prepare_commit"] == 1
            assert doc["stats"]["commits_noref"] == m["merged_chunks"]
        else:
            assert m["prepare_commit"] == 0 and m["merged_chunks"] == 0
    elif wl.name == "ring":
        assert m["objects"] == warm * batch + params["packets"]
        assert sum(doc["packets"][ws:]) == params["packets"]
        assert m["frags_allocated"] == m["objects"] + m["ring_full_frees"]
        assert m["frags_freed_remote"] == m["objects"]
        assert m["elapsed_ns"] > 0
    if params.get("cpu2", -1) >= 0 and wl.name == "tx":
        assert m["frags_freed_remote"] == m["frags_freed"]
    if params.get("cpu2", -1) >= 0 and wl.name == "rx":
        if params.get("remote_free", "direct") == "direct":
            assert m["heads_freed_remote"] == m["heads_freed"]
        else:   # handed back to this CPU, or freed there when the list was full
            assert m["heads_freed_remote"] == m["defer_nodefer"]
            assert m["heads_deferred"] == m["defer_flushed"]
    nthreads = 2 if params.get("cpu2", -1) >= 0 or wl.name == "ring" else 1
    assert len(doc["counters"]) == nthreads


@pytest.mark.parametrize("cfg", list(CFGS))
@pytest.mark.parametrize("design", DESIGNS)
def test_workload_runs_or_refuses(engines, design, cfg):
    if cfg in TWO_CPU and TWO is None:
        pytest.skip("needs two CPUs this process may use")
    params = CFGS[cfg]
    wl = get_workload(params["workload"])
    why = wl.refusal(design, params)
    p = run_engine(engines[design], params)
    if why:
        # Python and C refuse the same parameter, and the engine writes nothing.
        with pytest.raises(ParameterError) as e:
            validate_params(wl.name, params, design=design)
        assert p.returncode == 2, p.stderr
        assert p.stdout == ""
        assert f"invalid {e.value.param}=" in p.stderr and design in p.stderr
        return
    assert p.returncode == 0, p.stderr
    check_balance(json.loads(p.stdout), params)


def test_tx_coalesces_only_with_prepare_commit(engines):
    docs = {}
    params = {**CFGS["tx"], "dist": "imix", "packets": 400, "batch": 50}
    for d in ("topdown", "bottomup"):
        p = run_engine(engines[d], params)
        assert p.returncode == 0, p.stderr
        docs[d] = json.loads(p.stdout)["metrics"]
    assert docs["topdown"]["coalesce_rate"] == 0
    # Small writes: each copy lands right after the skb's last fragment.
    assert docs["bottomup"]["coalesce_rate"] > 0.8
    assert docs["bottomup"]["frags_allocated"] < docs["topdown"]["frags_allocated"] / 5
    # The wire segments (the packet unit) do not depend on the design.
    assert docs["bottomup"]["packets"] == docs["topdown"]["packets"]


def test_rx_head_sizes_follow_skb_head_align(engines):
    params = dict(workload="rx", packets=640, warmup=0, dist="fixed:1514")
    p = run_engine(engines["topdown"], params)
    m = json.loads(p.stdout)["metrics"]
    assert m["head_bytes_mean"] == 1920          # docs/kernel-pagefrag.md §4
    # len + NET_SKB_PAD > SKB_WITH_OVERHEAD(PAGE_SIZE) = 3776 goes to kmalloc
    big = run_engine(engines["topdown"], {**params, "dist": "fixed:3713"})
    m = json.loads(big.stdout)["metrics"]
    assert m["kmalloc_heads"] == 640 and m["frags_allocated"] == 0
    edge = run_engine(engines["topdown"], {**params, "dist": "fixed:3712"})
    assert json.loads(edge.stdout)["metrics"]["head_bytes_mean"] == 4096


def test_slicer1k_takes_small_heads(engines):
    if "slicer1k" not in engines:
        pytest.skip("no slicer1k design")
    params = dict(workload="rx", packets=2000, warmup=1, dist="uniform:60-640")
    assert get_workload("rx").refusal("slicer1k", params) is None
    p = run_engine(engines["slicer1k"], params)
    assert p.returncode == 0, p.stderr
    check_balance(json.loads(p.stdout), params)


def test_registry_lists_every_engine_workload(engines):
    p = subprocess.run([str(engines["topdown"]), "--help"], capture_output=True, text=True)
    listed = {line.split()[0] for line in p.stdout.split("workloads:")[1]
              .split("parameters")[0].strip().splitlines()}
    assert listed == set(workload_names())


# ---- bad parameters: exit 2 and nothing on stdout; ParameterError in Python ----

BAD = [
    ("rx", {"queue_depth": -1}, "queue_depth"),
    ("tx", {"mss": 0}, "mss"),
    ("rx", {"dist": "pareto:1.2"}, "dist"),
    ("tx", {"dist": "csv:no_such_table", "sizes_dir": str(SIZES_DIR)}, "dist"),
    ("rx", {"dist": "uniform:1500-64"}, "dist"),
    ("rx", {"cpu2": 4095}, "cpu2"),
    ("ring", {"cpu": 4095}, "cpu"),
]


@pytest.mark.parametrize("workload, bad, param", BAD)
def test_bad_parameters_are_refused(engines, workload, bad, param):
    p = run_engine(engines["topdown"], {"workload": workload, **bad})
    assert p.returncode == 2
    assert p.stdout == ""
    err = json.loads(p.stderr)
    assert (err["error"], err["key"]) == ("parameter", param)
    with pytest.raises(ParameterError) as e:
        validate_params(workload, bad)
    assert e.value.param == param


@needs_two
@pytest.mark.parametrize("workload", ["rx", "tx"])
def test_same_cpu_twice_is_refused_where_two_are_needed(engines, workload):
    a = TWO[0]
    p = run_engine(engines["topdown"], {"workload": workload, "cpu": a, "cpu2": a})
    assert p.returncode == 2 and p.stdout == ""
    assert "invalid cpu2=" in p.stderr
    with pytest.raises(ParameterError) as e:
        validate_params(workload, {"cpu2": a}, cpu=a)
    assert e.value.param == "cpu2"
    # ring allows it (Duyck's both-on-CPU-0 run)
    assert validate_params("ring", {"cpu2": a}, cpu=a)["cpu2"] == a


def test_validate_params_fills_defaults_and_sizes_dir():
    out = validate_params("tx", {"dist": "csv:nanog_netflow_router1"})
    assert out["mss"] == 1448 and out["sizes_dir"] == str(SIZES_DIR)
    assert "size" not in out and "packets" not in out   # fraglib.run's own arguments
    assert validate_params("rx", {})["dist"] == "imix"
    with pytest.raises(ParameterError) as e:
        validate_params("rx", {"queu_depth": 3})
    assert e.value.param == "queu_depth"
    with pytest.raises(ParameterError):
        validate_params("nope", {})


def test_csv_in_data_sizes_parses():
    for name, lo in (("nanog_netflow_router1", 64), ("nanog_netflow_router2", 32)):
        d = size_distribution(f"csv:{name}")
        assert (d.lo, d.hi) == (lo, 1500)   # router1's 1-32 bin has weight 0
        assert abs(sum(d.probabilities().values()) - 1) < 1e-12


def test_fraglib_run_refuses_before_writing(runs_root):
    import fraglib
    with pytest.raises(ParameterError) as e:
        fraglib.run("topdown", "rx", packets=64, dist="csv:no_such_table", metadata=False,
                    root=runs_root)
    assert e.value.param == "dist"
    assert not runs_root.exists() or not any(runs_root.rglob("*"))


# ---- ThreadSanitizer over the two-thread paths ----

def _tsan_engine(design):
    try:
        return build_engine(design, stats=True,
                            extra_flags=("-fsanitize=thread", "-O1", "-g")).path
    except Exception as e:  # no libtsan, or the compiler refuses the flag
        pytest.skip(f"ThreadSanitizer build unavailable: {str(e).splitlines()[0]}")


@needs_two
@pytest.mark.parametrize("design", ["topdown", "bottomup"])
def test_threadsanitizer_finds_no_race(design, tmp_path):
    path = _tsan_engine(design)
    a, b = TWO
    runs = [dict(workload="rx", packets=4000, warmup=1, cpu=a, cpu2=b, busy_poll=1),
            dict(workload="rx", packets=4000, warmup=1, cpu=a, cpu2=b, busy_poll=1,
                 remote_free="defer", defer_max=16, small_heads="kmalloc"),
            dict(workload="rx", packets=4000, warmup=1, cpu=a, cpu2=b, busy_poll=1,
                 remote_free="defer", small_heads="slicer1k"),
            dict(workload="tx", packets=16, batch=4, warmup=1, cpu=a, cpu2=b,
                 dist="fixed:65536", busy_poll=1),
            dict(workload="ring", packets=4000, warmup=1, cpu=a, cpu2=b, size=2048,
                 busy_poll=1),
            dict(workload="ring", packets=2000, warmup=1, cpu=a, cpu2=a, size=75)]
    env = {**os.environ, "TSAN_OPTIONS": "halt_on_error=0 exitcode=66"}
    for params in runs:
        # an 8 MiB page model holds these runs many times over; populating
        # 64 MiB under TSan's shadow memory took 1.4 s of each
        # run's 1.9 s, and the arena's size is not what races would touch
        args = [str(path), "counters=0", "arena_mb=8",
                *(f"{k}={v}" for k, v in params.items())]
        p = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        if "FATAL: ThreadSanitizer" in p.stderr:
            pytest.skip("ThreadSanitizer cannot run here: "
                        + p.stderr.strip().splitlines()[0])
        assert "WARNING: ThreadSanitizer" not in p.stderr, p.stderr[:4000]
        assert p.returncode == 0, p.stderr[:2000]
        check_balance(json.loads(p.stdout), params)
