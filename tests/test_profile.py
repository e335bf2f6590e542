"""Tests for fraglib.profile: the perf report parser and both back ends."""

import shutil

import pytest

from fraglib import profile as P
from fraglib.collectors import COLLECTORS
from fraglib.exceptions import ParameterError

# perf 6.1: perf report --stdio --no-children -g none
#           -F overhead,sample,dso,sym -t '|'   (on a VM: cpu-clock)
PERF_REPORT = """\
# To display the perf.data header info, please use --header/--header-only options.
#
#
# Total Lost Samples: 0
#
# Samples: 1K of event 'cpu-clock:pppH'
# Event count (approx.): 319500000
#
# Overhead|     Samples|Shared Object         |Symbol
 51.80% | 662        |fraglib-engine-topdown|[.] topdown_free
 12.99% | 166        |[vdso]                |[.] __vdso_clock_gettime
 8.06%  | 103        |fraglib-engine-topdown|[.] topdown_alloc
 1.56%  | 20         |[kernel.kallsyms]     |[k] _raw_spin_lock
 0.55%  | 7          |libc.so.6             |[.] _IO_file_xsputn@@GLIBC_2.2.5
"""


def test_parse_perf_report():
    event, rows, total = P.parse_perf_report(PERF_REPORT)
    assert event == "cpu-clock"
    assert total == 662 + 166 + 103 + 20 + 7
    assert [r.name for r in rows] == ["topdown_free", "__vdso_clock_gettime",
                                      "topdown_alloc", "_raw_spin_lock",
                                      "_IO_file_xsputn@@GLIBC_2.2.5"]
    assert rows[0].self_share == pytest.approx(0.518)
    assert rows[0].dso == "fraglib-engine-topdown" and rows[0].inclusive_share is None
    assert rows[3].kernel and not rows[0].kernel


def test_bad_arguments():
    with pytest.raises(ParameterError):
        P.profile("topdown", method="gprof")
    with pytest.raises(ParameterError):
        P.profile("topdown", top=0)


def _need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")


def test_callgrind_profile_names_the_alloc_function():
    _need("valgrind")
    p = P.profile("topdown", method="callgrind", packets=16384, warmup=0)
    assert p.method == "callgrind" and p.event == "Ir"
    assert "topdown_alloc" in p.names[:5]
    assert "topdown_free" in p.names[:5]
    alloc = p.functions[p.names.index("topdown_alloc")]
    assert 0 < alloc.self_share <= alloc.inclusive_share <= 1
    assert p.total > 0
    assert len(p.to_frame()) == len(p.functions)


def test_perf_or_auto_profile_names_the_alloc_function():
    _need("perf")
    ok, why = COLLECTORS["perf-record"].available()
    # Default packets: many for perf, few for a callgrind fallback.
    p = P.profile("topdown", method="auto", top=20)
    if ok and p.method == "perf-record":
        assert p.event in ("cpu-clock", "cycles", "task-clock")
        assert p.reason.startswith("perf-record available")
    else:
        assert p.method == "callgrind" and p.reason.startswith("perf-record unavailable")
    assert "topdown_alloc" in p.names
    # The design's own functions outrank what the C library does for us.
    assert p.names.index("topdown_alloc") < 10
