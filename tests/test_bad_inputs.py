"""Issue 14: a table of bad inputs, each with the exact error and nothing written.

Every row feeds one bad input to one interface -- the Python API, the CLI,
the engine's ``key=value`` arguments, notebook parameters, size-distribution
CSV files, store files, the environment -- and checks the exception type, its
message (which names the parameter, the value and what is allowed), and that
no result, report or temporary file appeared. None of them runs an engine
to completion; the engine rows only start a cached build's argument parser.
"""

import contextlib
import errno
import io
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fraglib
from fraglib import store, store_files
from fraglib.compare import compare
from fraglib.exceptions import (BuildError, CollectorUnavailable, ParameterError,
                                StoreError, StoreSchemaError, StoreWarning,
                                UnknownNameError)
from fraglib.results import RunResult

#: the registry's names, as the error lists them (sorted)
DESIGNS = "one of " + ", ".join(sorted(fraglib.design_names()))


class CliExit(Exception):
    """A CLI call's exit status and stderr, raised so the table can match it."""


@pytest.fixture
def box(tmp_path, monkeypatch):
    """Inputs under ``in/``; every output (data, reports) under ``out/``."""
    monkeypatch.setenv("FRAGLIB_DATA", str(tmp_path / "out" / "data"))
    monkeypatch.setenv("FRAGLIB_REPORTS", str(tmp_path / "out" / "reports"))
    monkeypatch.delenv("FRAGLIB_RESUME", raising=False)
    (tmp_path / "in").mkdir()
    box = type("Box", (), {})()
    box.inp, box.out, box.mp = tmp_path / "in", tmp_path / "out", monkeypatch
    box.runs = tmp_path / "out" / "data" / "runs"
    return box


def cli(*argv):
    from fraglib.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(list(argv))
        except SystemExit as e:       # argparse
            rc = e.code
    raise CliExit(f"rc={rc}: {err.getvalue().strip()}")


def run(**kw):
    kw.setdefault("packets", 1024)
    kw.setdefault("metadata", False)
    design = kw.pop("design", "topdown")
    workload = kw.pop("workload", "fastpath")
    return fraglib.run(design, workload, **kw)


def csv(b, text, name="bad", **kw):
    p = b.inp / f"{name}.csv"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return run(workload="rx", dist=f"csv:{name}", sizes_dir=str(b.inp), **kw)


def engine(*args):
    from fraglib._build import build_engine
    from fraglib.engine import _raise_for

    p = subprocess.run([str(build_engine("topdown").path), *args], capture_output=True,
                       text=True)
    _raise_for(p.returncode, p.stderr, "topdown", "fastpath")


def nb(**params):
    from fraglib import notebooks
    return notebooks.sweep(["1.0-fastpath", "4.0-ring"], parameters=params,
                           progress=False)


def _result():
    return RunResult(design="topdown", workload="fastpath", params={}, tsc_hz=1e9,
                     cycles=[100, 100], packets=[64, 64], warmup_samples=0,
                     provenance={"machine": "m"})


def store_file(b, content):
    """One good run plus one bad file, then open the store."""
    store.write_run(_result())
    bad = b.runs / "m" / "bad.parquet"
    if callable(content):
        content(bad)
    else:
        bad.write_bytes(content)
    assert len(store.runs()) == 1, "the good run stays readable"
    assert not bad.exists(), "the bad file was moved aside"
    store._warned.clear()
    for p in b.runs.rglob("*"):      # the table's "nothing written" check is for
        if p.is_file():              # the bad case itself: clear the fixture run
            p.unlink()


def newer_schema(b):
    p = store.write_run(_result())
    t = pq.read_table(p).replace_schema_metadata({b"fraglib.schema": b"3"})
    pq.write_table(t, p)
    try:
        store.runs()
    finally:
        p.unlink()


def no_compiler(b):
    from fraglib import _build
    b.mp.setattr(_build, "compiler", _build.compiler.__wrapped__)   # not the cached one
    b.mp.setenv("CC", "no-such-cc")
    b.mp.setenv("PATH", str(b.inp))
    run()


def no_valgrind(b):
    from fraglib.valgrind import valgrind_version
    b.mp.setenv("PATH", str(b.inp))
    valgrind_version()


def read_only(b):
    def erofs(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")
    b.mp.setattr(store_files.tempfile, "mkstemp", erofs)
    store.write_run(_result())


def runs_dir_is_a_file(b):
    b.runs.parent.mkdir(parents=True)
    b.runs.write_text("")
    try:
        store.write_run(_result())
    finally:
        b.runs.unlink()


def full_disk(b):
    def enospc(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    b.mp.setattr(store.pq, "write_table", enospc)
    store.write_run(_result())


def missing_cpu(b):
    run(cpu=max(os.sched_getaffinity(0)) + 1)


CASES = [
    # ---- Python API ------------------------------------------------------------
    ("api-design", lambda b: run(design="nope"), UnknownNameError,
     rf"invalid design='nope': {DESIGNS}"),
    ("api-workload", lambda b: run(workload="nope"), UnknownNameError,
     r"invalid workload='nope': one of fastpath, ring, rx, sizes, tx"),
    ("api-size-0", lambda b: run(size=0), ParameterError,
     r"invalid size=0: an integer in \[1, 4096\]"),
    ("api-size-page+1", lambda b: run(size=4097), ParameterError,
     r"invalid size=4097: an integer in \[1, 4096\]"),
    ("api-size-str", lambda b: run(size="256"), ParameterError,
     r"invalid size='256': an integer in \[1, 4096\]"),
    ("api-size-bool", lambda b: run(size=True), ParameterError,
     r"invalid size=True: an integer in \[1, 4096\]"),
    ("api-align-3", lambda b: run(align=3), ParameterError,
     r"invalid align=3: a power of two in \[1, 4096\]"),
    ("api-packets-0", lambda b: run(packets=0), ParameterError,
     r"invalid packets=0: an integer in \[1, 100000000000\]"),
    ("api-packets-1e11", lambda b: run(packets=10**11), ParameterError,
     r"invalid packets=100000000000: at most 1,073,740,800 with batch=64 on fastpath"),
    ("api-too-long-for-timeout", lambda b: run(packets=10**9, batch=1 << 20, timeout=5),
     ParameterError, r"invalid packets=1000000000: a count that ends within timeout=5 s: "
                     r"topdown/fastpath is expected to take about 40 s"),
    ("api-batch-0", lambda b: run(batch=0), ParameterError,
     r"invalid batch=0: an integer in \[1, 1048576\]"),
    ("api-warmup-neg", lambda b: run(warmup=-1), ParameterError,
     r"invalid warmup=-1: an integer in \[0, 1048576\]"),
    ("api-unknown-param", lambda b: run(nosuch=1), ParameterError,
     r"invalid nosuch=1: a known engine parameter: align, arena_mb"),
    ("api-dist-unknown", lambda b: run(workload="rx", dist="zipf"), ParameterError,
     r"invalid dist='zipf': fixed:N, uniform:A-B, imix or csv:NAME"),
    ("api-dist-fixed-0", lambda b: run(workload="rx", dist="fixed:0"), ParameterError,
     r"invalid dist='fixed:0': fixed:N with N an integer in \[1, 16777216\]"),
    ("api-dist-uniform-reversed", lambda b: run(workload="rx", dist="uniform:900-60"),
     ParameterError, r"invalid dist='uniform:900-60': uniform:A-B with integers "
                     r"1 <= A <= B <= 16777216"),
    ("api-high-order-fail", lambda b: run(high_order_fail=1.5), ParameterError,
     r"invalid high_order_fail=1.5: a number in \[0.0, 1.0\]"),
    ("api-mss-0", lambda b: run(workload="tx", mss=0), ParameterError,
     r"invalid mss=0: an integer in \[1, 65535\]"),
    ("api-tx-defer", lambda b: run(workload="tx", remote_free="defer"), ParameterError,
     r"invalid remote_free='defer': direct for workload tx \(skb_attempt_defer_free\(\) "
     r"is the rx path's\)"),
    ("api-small-heads", lambda b: run(workload="rx", small_heads="slab"), ParameterError,
     r"invalid small_heads='slab': slicer1k, kmalloc, design"),
    ("api-queue-depth-neg", lambda b: run(workload="rx", queue_depth=-1), ParameterError,
     r"invalid queue_depth=-1: an integer in \[0, 1048576\]"),
    ("api-cpu2-same-cpu", lambda b: run(workload="rx", cpu=0, cpu2=0), ParameterError,
     r"invalid cpu2=0: -1 \(free on the same CPU\) or a CPU other than cpu=0"),
    ("api-slicer-big-ring", lambda b: run(design="slicer1k", workload="ring", size=2048),
     ParameterError, r"invalid size=2048: an integer in \[1, 1024\] on design slicer1k"),
    ("api-fault-9", lambda b: run(fault=9), ParameterError,
     r"invalid fault=9: an integer in \[0, 4\]"),
    ("api-compare-same", lambda b: compare("topdown", "topdown"), ParameterError,
     r"invalid b='topdown': the same design twice: pass aa=True"),
    ("api-compare-processes", lambda b: compare("topdown", "bottomup",
                                                        processes=1),
     ParameterError, r"invalid processes=1: an integer >= 2"),
    # ---- CLI -------------------------------------------------------------------
    ("cli-design", lambda b: cli("run", "nope"), CliExit,
     rf"rc=2: fraglib: error: invalid design='nope': {DESIGNS}"),
    ("cli-packets-neg", lambda b: cli("run", "topdown", "-n", "-5"), CliExit,
     r"rc=2: fraglib: error: invalid packets=-5: an integer in \[1, 100000000000\]"),
    ("cli-param-not-kv", lambda b: cli("run", "topdown", "-p", "size"), CliExit,
     r"(?s)rc=2: usage: .*error: argument -p/--param: 'size' is not key=value"),
    ("cli-param-bad-name", lambda b: cli("run", "topdown", "-p", "1x=3"), CliExit,
     r"(?s)rc=2: usage: .*error: argument -p/--param: '1x' in '1x=3' is not a "
     r"parameter name"),
    ("cli-timeout-neg", lambda b: cli("run", "topdown", "-n", "100000000",
                                      "--timeout", "0.5"), CliExit,
     r"rc=2: fraglib: error: invalid packets=100000000: a count that ends within "
     r"timeout=0.5 s"),
    ("cli-unknown-notebook", lambda b: cli("sweep", "9.9-nope"), CliExit,
     r"rc=2: fraglib: error: invalid notebook='9.9-nope': one of 0.0-summary, "),
    ("cli-notebook-typo", lambda b: cli("sweep", "1.0-fastpath", "-p", "nosuch=1"),
     CliExit, r"rc=2: fraglib: error: invalid nosuch=1: a parameter declared by "
              r"1.0-fastpath: alignments, designs, packets, repeats, seed, sizes"),
    ("cli-notebook-packets-neg", lambda b: cli("sweep", "1.0-fastpath", "-p",
                                               "packets=-1"),
     CliExit, r"rc=2: fraglib: error: invalid packets=-1: an integer in "
              r"\[1, 100000000000\]"),
    ("cli-store-action", lambda b: cli("store", "frobnicate"), CliExit,
     r"(?s)rc=2: usage: .*argument action: invalid choice: 'frobnicate' \(choose from "
     r"'?compact'?, '?check'?\)"),
    # ---- engine key=value --------------------------------------------------------
    ("engine-unknown-key", lambda b: engine("nosuch=1"), ParameterError,
     r"invalid nosuch='1': a known parameter: design, workload, packets"),
    ("engine-not-integer", lambda b: engine("size=abc"), ParameterError,
     r"invalid size='abc': an integer in \[1, 4096\] \(fragment size in bytes\)"),
    ("engine-not-kv", lambda b: engine("packets"), ParameterError,
     r"invalid argument='packets': key=value \(see the engine's --help\)"),
    ("engine-align-3", lambda b: engine("align=3"), ParameterError,
     r"invalid align='3': a power of two in \[1, 4096\]"),
    ("engine-wrong-design", lambda b: engine("design=bottomup"), ParameterError,
     r"invalid design='bottomup': this engine is built for design 'topdown'"),
    ("engine-fault-range", lambda b: engine("fault=7"), ParameterError,
     r"invalid fault='7': an integer in \[0, 4\] \(test only"),
    # ---- notebook parameters ---------------------------------------------------
    ("nb-sizes-not-list", lambda b: nb(sizes=256), ParameterError,
     r"invalid sizes=256: a list like the default \[64, 256, 1024, 2048\] declared in "
     r"1.0-fastpath"),
    ("nb-sizes-element", lambda b: nb(sizes=[256, 0]), ParameterError,
     r"invalid sizes=\[256, 0\]: a list whose every element is an integer in "
     r"\[1, 4096\] \(0 is not\)"),
    ("nb-designs", lambda b: nb(designs=["topdown", "nope"]), ParameterError,
     rf"invalid designs=\['topdown', 'nope'\]: a list whose every element is {DESIGNS} "
     r"\('nope' is not\)"),
    ("nb-repeats-0", lambda b: nb(repeats=0), ParameterError,
     r"invalid repeats=0: an integer >= 1"),
    ("nb-repeats-float", lambda b: nb(repeats=2.5), ParameterError,
     r"invalid repeats=2.5: an int like the default 8 declared in 1.0-fastpath"),
    ("nb-mode-choice", lambda b: nb(modes=["2048", "4096"]), ParameterError,
     r"invalid modes=\['2048', '4096'\]: a list of values among 2048, 75, 75-aligned"),
    ("nb-unknown", lambda b: nb(sizez=[256]), ParameterError,
     r"invalid sizez=\[256\]: a parameter declared by 1.0-fastpath, 4.0-ring: "),
    # ---- size-distribution CSV files -------------------------------------------
    ("csv-malformed-row", lambda b: csv(b, "size,weight\n64,1\nabc,2\n"), ParameterError,
     r"invalid dist='csv:bad': csv:NAME .*\(.*bad.csv line 3 is not\)"),
    ("csv-negative-size", lambda b: csv(b, "64,1\n-5,1\n"), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv line 2 is not\)"),
    ("csv-size-too-big", lambda b: csv(b, "64,1\n16777217,1\n"), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv line 2 is not\)"),
    ("csv-negative-weight", lambda b: csv(b, "64,1\n128,-1\n"), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv line 2 is not\)"),
    ("csv-infinite-weight", lambda b: csv(b, "64,1\n128,inf\n"), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv line 2 is not\)"),
    ("csv-weights-sum-zero", lambda b: csv(b, "64,0\n128,0\n"), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv has no row with a positive weight\)"),
    ("csv-empty", lambda b: csv(b, ""), ParameterError,
     r"invalid dist='csv:bad': .*bad.csv has no row with a positive weight\)"),
    ("csv-binary-garbage", lambda b: csv(b, bytes(range(256)) * 4), ParameterError,
     r"invalid dist='csv:bad': .*\(.*bad.csv line \d+ is not\)"),
    ("csv-huge", lambda b: csv(b, "64,1\n" * 65537), ParameterError,
     r"invalid dist='csv:bad': .*, at most 65536 rows \(.*bad.csv has more\)"),
    ("csv-path-traversal", lambda b: run(workload="rx", dist="csv:../../etc/passwd"),
     ParameterError, r"invalid dist='csv:../../etc/passwd': csv:NAME where NAME uses "
                     r"only letters, digits"),
    ("csv-hidden-name", lambda b: run(workload="rx", dist="csv:.hidden"), ParameterError,
     r"invalid dist='csv:.hidden': .*does not start with '.'"),
    ("csv-missing", lambda b: run(workload="rx", dist="csv:nope", sizes_dir=str(b.inp)),
     ParameterError, r"invalid dist='csv:nope': .*\(cannot read .*nope.csv: "
                     r"No such file or directory\)"),
    ("csv-sizes-dir-quote", lambda b: run(workload="rx", dist="imix", sizes_dir='a"b'),
     ParameterError, r"invalid sizes_dir='a\"b': 1..255 characters, no quotes"),
    # ---- store files -----------------------------------------------------------
    ("store-garbage-file", lambda b: store_file(b, b"PAR1 not really"), StoreWarning,
     r"m/bad.parquet moved to .*: not a readable Parquet file"),
    ("store-empty-file", lambda b: store_file(b, b""), StoreWarning,
     r"m/bad.parquet moved to .*: not a readable Parquet file"),
    ("store-foreign-parquet", lambda b: store_file(
        b, lambda p: pq.write_table(pa.table({"x": [1]}), p)), StoreWarning,
     r"m/bad.parquet moved to .*: a Parquet file, but not a fraglib run file"),
    ("store-newer-schema", newer_schema, StoreSchemaError,
     r"m/.*\.parquet was written with store schema 3; this fraglib reads schema <= 2: "
     r"upgrade fraglib"),
    ("store-compact-threshold", lambda b: (b.mp.setenv("FRAGLIB_COMPACT_THRESHOLD", "x"),
                                           store.write_run(_result())),
     ParameterError, r"invalid FRAGLIB_COMPACT_THRESHOLD='x': an integer >= 0"),
    ("store-load-unknown-run", lambda b: store.load_run("0123456789abcdef"), StoreError,
     r"no run '0123456789abcdef' in "),
    # ---- environment -----------------------------------------------------------
    ("env-no-compiler", no_compiler, BuildError,
     r"no C compiler found \(looked for 'no-such-cc' and 'gcc'\): install one"),
    ("env-no-valgrind", no_valgrind, CollectorUnavailable,
     r"valgrind unavailable: valgrind not installed \(not on PATH\)"),
    ("env-read-only-data", read_only, StoreError,
     r"cannot write run \w+ to .*: Read-only file system \(EROFS\); nothing was written "
     r"\(make it writable or set FRAGLIB_DATA"),
    ("env-full-disk", full_disk, StoreError,
     r"No space left on device \(ENOSPC\); nothing was written \(free some space"),
    ("env-runs-dir-is-a-file", runs_dir_is_a_file, StoreError,
     r"cannot write run \w+ to .*: Not a directory \(ENOTDIR\)"),
    ("env-missing-cpu", missing_cpu, ParameterError,
     r"invalid cpu=\d+: a CPU this process may run on: "),
]


@pytest.mark.parametrize("case, exc, match", [pytest.param(f, e, m, id=i)
                                              for i, f, e, m in CASES])
def test_bad_input_is_refused_by_name_and_writes_nothing(box, case, exc, match):
    if exc is StoreWarning:
        with pytest.warns(exc, match=match):
            case(box)
    else:
        with pytest.raises(exc, match=match):
            case(box)
    written = [p for p in box.out.rglob("*") if p.is_file() and p.name != ".lock"]
    assert not written, f"written: {written}"


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 40
    assert len({i for i, *_ in CASES}) == len(CASES)
    assert len({Path(i.split("-")[0]) for i, *_ in CASES}) == 7   # seven interfaces
