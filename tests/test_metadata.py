"""Tests for fraglib.metadata, on this machine and on fake /proc + /sys trees."""

import json
import re

import pytest

from fraglib import metadata as M

CPUINFO = """processor\t: 0
model name\t: Fake(R) CPU 9000 @ 3.00GHz
microcode\t: 0xde
cpu MHz\t\t: 3000.000
flags\t\t: fpu tsc rdtscp constant_tsc nonstop_tsc hypervisor

processor\t: 1
model name\t: Fake(R) CPU 9000 @ 3.00GHz
microcode\t: 0xde
cpu MHz\t\t: 3100.500
flags\t\t: fpu tsc rdtscp constant_tsc nonstop_tsc hypervisor
"""


def write(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def fake_root(tmp_path):
    write(tmp_path, "proc/cpuinfo", CPUINFO)
    write(tmp_path, "proc/loadavg", "0.50 0.25 0.10 1/100 42\n")
    write(tmp_path, "proc/sys/kernel/perf_event_paranoid", "2\n")
    write(tmp_path, "proc/sys/kernel/randomize_va_space", "2\n")
    write(tmp_path, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    write(tmp_path, "sys/kernel/mm/transparent_hugepage/defrag",
          "always defer [defer+madvise] madvise never\n")
    cpu = "sys/devices/system/cpu"
    write(tmp_path, f"{cpu}/cpuidle/current_driver", "intel_idle\n")
    write(tmp_path, f"{cpu}/smt/control", "on\n")
    write(tmp_path, f"{cpu}/smt/active", "1\n")
    write(tmp_path, f"{cpu}/isolated", "\n")
    write(tmp_path, f"{cpu}/intel_pstate/no_turbo", "1\n")
    for n, khz in ((0, 2400000), (1, 3600000)):
        write(tmp_path, f"{cpu}/cpu{n}/cpufreq/scaling_cur_freq", f"{khz}\n")
        write(tmp_path, f"{cpu}/cpu{n}/cpufreq/scaling_governor", "performance\n")
        write(tmp_path, f"{cpu}/cpu{n}/cpufreq/scaling_driver", "intel_pstate\n")
    return tmp_path


def test_fake_tree_known_answers(fake_root):
    d = M.machine_metadata(root=fake_root)
    assert d["metadata_collected"] is True
    assert d["cpu_model"] == "Fake(R) CPU 9000 @ 3.00GHz"
    assert d["microcode"] == "0xde"
    assert d["hypervisor"] is True
    assert d["constant_tsc"] is True and d["nonstop_tsc"] is True
    assert d["tsc_flags"] == "constant_tsc nonstop_tsc rdtscp"
    assert d["smt"] == "on" and d["smt_active"] is True
    assert d["isolated_cpus"] == "none"
    assert d["governor"] == "performance"
    assert d["cpufreq_driver"] == "intel_pstate"
    assert d["turbo"] == "off" and d["turbo_source"] == "intel_pstate/no_turbo"
    assert d["freq_source"] == "cpufreq"
    assert d["freq_mhz_cpu0"] == 2400.0 and d["freq_mhz_cpu1"] == 3600.0
    assert d["freq_mhz_mean"] == 3000.0
    assert d["cpuidle_driver"] == "intel_idle"
    assert d["thp_enabled"] == "madvise" and d["thp_defrag"] == "defer+madvise"
    assert d["perf_event_paranoid"] == 2 and d["aslr"] == 2
    assert d["load_avg_1min"] == 0.5 and d["load_avg_15min"] == 0.1
    assert not any(k.endswith("_unknown_reason") for k in d
                   if not k.endswith("_version_unknown_reason"))
    json.dumps(d)


def test_boost_fallback_and_mixed_governors(fake_root):
    cpu = fake_root / "sys/devices/system/cpu"
    (cpu / "intel_pstate/no_turbo").unlink()
    write(fake_root, "sys/devices/system/cpu/cpufreq/boost", "1\n")
    write(fake_root, "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave\n")
    d = M.machine_metadata(root=fake_root)
    assert d["turbo"] == "on" and d["turbo_source"] == "cpufreq/boost"
    assert d["governor"] == "mixed: performance,powersave"


def test_cpuinfo_frequencies_when_no_cpufreq(fake_root):
    for n in (0, 1):
        (fake_root / f"sys/devices/system/cpu/cpu{n}/cpufreq/scaling_cur_freq").unlink()
    f = M.frequencies(fake_root)
    assert f == {"freq_source": "cpuinfo", "freq_mhz_cpu0": 3000.0,
                 "freq_mhz_cpu1": 3100.5, "freq_mhz_mean": 3050.25}


def test_empty_tree_gives_unknown_with_reasons_and_no_crash(tmp_path):
    d = M.machine_metadata(root=tmp_path)
    for key in ("cpu_model", "microcode", "hypervisor", "governor", "turbo",
                "cpuidle_driver", "thp_enabled", "perf_event_paranoid",
                "load_avg_1min", "tsc_flags"):
        assert d[key] == M.UNKNOWN, key
        assert d[f"{key}_unknown_reason"], key
    assert "neither intel_pstate/no_turbo nor cpufreq/boost" in d["turbo_unknown_reason"]
    assert d["freq_source"] == M.UNKNOWN and d["freq_unknown_reason"]
    assert not any(k.startswith("metadata_error") for k in d)
    json.dumps(d)


def test_disabled_is_minimal_and_deterministic():
    assert M.machine_metadata(enabled=False) == {"metadata_collected": False}
    assert M.machine_metadata(enabled=False) == M.machine_metadata(enabled=False)


def test_this_machine_is_flat_and_serialisable():
    d = M.machine_metadata()
    assert d["metadata_collected"] is True
    for k, v in d.items():
        assert isinstance(v, (str, int, float, bool)), (k, v)
    assert json.loads(json.dumps(d)) == d
    for key in ("kernel", "hostname", "python_version", "numpy_version",
                "pandas_version", "scipy_version", "cpu_logical_cores", "machine_id"):
        assert key in d
    assert d["machine_id"] == M.machine_id()


def test_machine_id_is_filesystem_safe_and_stable():
    a = M.machine_id({"hostname": "My Host/../x", "cpu_model": "CPU A"})
    b = M.machine_id({"hostname": "My Host/../x", "cpu_model": "CPU B"})
    assert re.fullmatch(r"[a-z0-9_-]+-[0-9a-f]{8}", a)
    assert M.machine_id({"hostname": "node7.example.org", "cpu_model": "X"}).startswith(
        "node7-")
    assert a != b
    assert a == M.machine_id({"hostname": "My Host/../x", "cpu_model": "CPU A"})
    assert M.machine_id({"hostname": "", "cpu_model": M.UNKNOWN}).count("-") >= 1


def test_frequencies_this_machine():
    f = M.frequencies()
    assert f["freq_source"] in ("cpufreq", "cpuinfo", M.UNKNOWN)
    if f["freq_source"] != M.UNKNOWN:
        assert f["freq_mhz_mean"] > 0
