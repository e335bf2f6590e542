"""Machine metadata recorded beside every run.

:func:`machine_metadata` returns one flat, JSON-serialisable dict: CPU model,
microcode, cores, SMT, governor, turbo, frequencies, cpuidle driver, THP,
hypervisor flag, perf_event_paranoid, kernel, load, TSC flags, host, Python
and package versions. Every source is optional: a file that is missing or
unreadable gives the value ``"unknown"`` and a ``<key>_unknown_reason`` entry
saying why, and nothing raises. ``machine_metadata(enabled=False)`` returns a
small deterministic dict for tests (pyperf's ``collect_metadata=False``).

All /proc and /sys paths are read under ``root`` (default ``/``) so tests can
point the collectors at a fake tree.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import platform
import re
import socket
import subprocess
from importlib import metadata as _importlib_metadata
from pathlib import Path
from typing import Any

__all__ = ["UNKNOWN", "machine_metadata", "machine_id", "frequencies"]

UNKNOWN = "unknown"
_PACKAGES = ("numpy", "pandas", "scipy")


class _Meta(dict):
    """A dict that records why a value is unknown."""

    def unknown(self, key: str, why: str) -> None:
        self[key] = UNKNOWN
        self[f"{key}_unknown_reason"] = why


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel.lstrip("/")).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cpuinfo(root: Path) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per processor block."""
    text = _read(root, "/proc/cpuinfo")
    if not text:
        return []
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        d = {}
        for line in block.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                d[k.strip()] = v.strip()
        if d:
            blocks.append(d)
    return blocks


def _cpu_dirs(root: Path) -> list[tuple[int, Path]]:
    base = root / "sys/devices/system/cpu"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    return sorted((int(n[3:]), base / n) for n in names if re.fullmatch(r"cpu\d+", n))


def frequencies(root: str | os.PathLike = "/") -> dict[str, Any]:
    """Current per-CPU frequencies in MHz, for before/after a run.

    Read from ``cpufreq/scaling_cur_freq`` when the kernel has cpufreq,
    otherwise from the ``cpu MHz`` lines of /proc/cpuinfo (on a VM that is
    often the nominal rate, which ``freq_source`` makes visible).

    Returns
    -------
    dict
        ``{"freq_source": "cpufreq" | "cpuinfo" | "unknown",
        "freq_mhz_cpu0": 2600.0, ..., "freq_mhz_mean": 2600.0}``; with
        ``freq_source == "unknown"`` a ``freq_unknown_reason`` instead of
        numbers.
    """
    root = Path(root)
    mhz: dict[int, float] = {}
    source = "cpufreq"
    for n, d in _cpu_dirs(root):
        v = _read(d, "cpufreq/scaling_cur_freq")
        if v and v.isdigit():
            mhz[n] = int(v) / 1000.0
    if not mhz:
        source = "cpuinfo"
        for i, b in enumerate(_cpuinfo(root)):
            try:
                mhz[int(b.get("processor", i))] = float(b["cpu MHz"])
            except (KeyError, ValueError):
                continue
    if not mhz:
        return {"freq_source": UNKNOWN,
                "freq_unknown_reason": "no cpufreq/scaling_cur_freq and no 'cpu MHz' "
                                       "in /proc/cpuinfo"}
    out: dict[str, Any] = {"freq_source": source}
    for n in sorted(mhz):
        out[f"freq_mhz_cpu{n}"] = mhz[n]
    out["freq_mhz_mean"] = sum(mhz.values()) / len(mhz)
    return out


def _cpu(meta: _Meta, root: Path) -> list[str]:
    info = _cpuinfo(root)
    first = info[0] if info else {}
    for key, field in (("cpu_model", "model name"), ("microcode", "microcode")):
        if field in first:
            meta[key] = first[field]
        else:
            meta.unknown(key, f"no '{field}' in /proc/cpuinfo")
    flags = first.get("flags", "").split()
    if not flags:
        meta.unknown("hypervisor", "no flags in /proc/cpuinfo")
        meta.unknown("tsc_flags", "no flags in /proc/cpuinfo")
        return flags
    meta["hypervisor"] = "hypervisor" in flags
    meta["tsc_flags"] = " ".join(f for f in ("constant_tsc", "nonstop_tsc", "rdtscp",
                                             "tsc_known_freq") if f in flags) or "none"
    meta["constant_tsc"] = "constant_tsc" in flags
    meta["nonstop_tsc"] = "nonstop_tsc" in flags
    return flags


def _cores(meta: _Meta, root: Path) -> None:
    try:
        import psutil
    except ImportError:
        psutil = None
    for key, logical in (("cpu_physical_cores", False), ("cpu_logical_cores", True)):
        n = psutil.cpu_count(logical=logical) if psutil else None
        if n:
            meta[key] = n
        else:
            meta.unknown(key, "psutil not installed" if psutil is None
                         else "psutil.cpu_count returned None")
    control = _read(root, "/sys/devices/system/cpu/smt/control")
    active = _read(root, "/sys/devices/system/cpu/smt/active")
    if control:
        meta["smt"] = control
    elif (isinstance(meta.get("cpu_logical_cores"), int)
          and isinstance(meta.get("cpu_physical_cores"), int)):
        on = meta["cpu_logical_cores"] > meta["cpu_physical_cores"]
        meta["smt"] = "on (inferred from core counts)" if on else "off (inferred from core counts)"
    else:
        meta.unknown("smt", "no /sys/devices/system/cpu/smt/control and no core counts")
    if active is not None:
        meta["smt_active"] = active == "1"
    try:
        meta["cpu_affinity"] = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    except (AttributeError, OSError) as e:
        meta.unknown("cpu_affinity", f"sched_getaffinity: {e}")
    isolated = _read(root, "/sys/devices/system/cpu/isolated")
    if isolated is None:
        meta.unknown("isolated_cpus", "no /sys/devices/system/cpu/isolated")
    else:
        meta["isolated_cpus"] = isolated or "none"


def _frequency_policy(meta: _Meta, root: Path) -> None:
    cpus = _cpu_dirs(root)
    govs = sorted({g for _, d in cpus if (g := _read(d, "cpufreq/scaling_governor"))})
    if not govs:
        meta.unknown("governor", "no cpufreq scaling_governor in /sys (no cpufreq driver)")
    else:
        meta["governor"] = govs[0] if len(govs) == 1 else "mixed: " + ",".join(govs)
    driver = _read(root, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver")
    if driver:
        meta["cpufreq_driver"] = driver
    else:
        meta.unknown("cpufreq_driver", "no cpu0/cpufreq/scaling_driver")

    no_turbo = _read(root, "/sys/devices/system/cpu/intel_pstate/no_turbo")
    boost = _read(root, "/sys/devices/system/cpu/cpufreq/boost")
    if no_turbo in ("0", "1"):
        meta["turbo"] = "off" if no_turbo == "1" else "on"
        meta["turbo_source"] = "intel_pstate/no_turbo"
    elif boost in ("0", "1"):
        meta["turbo"] = "on" if boost == "1" else "off"
        meta["turbo_source"] = "cpufreq/boost"
    else:
        meta.unknown("turbo", "neither intel_pstate/no_turbo nor cpufreq/boost in /sys")
    meta.update(frequencies(root))


def _kernel_knobs(meta: _Meta, root: Path) -> None:
    sources = {
        "cpuidle_driver": "/sys/devices/system/cpu/cpuidle/current_driver",
        "perf_event_paranoid": "/proc/sys/kernel/perf_event_paranoid",
        "aslr": "/proc/sys/kernel/randomize_va_space",
    }
    for key, path in sources.items():
        v = _read(root, path)
        if v is None or v == "":
            meta.unknown(key, f"cannot read {path}")
        else:
            meta[key] = int(v) if re.fullmatch(r"-?\d+", v) else v
    for key, path in (("thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled"),
                      ("thp_defrag", "/sys/kernel/mm/transparent_hugepage/defrag")):
        v = _read(root, path)
        m = re.search(r"\[([^\]]+)\]", v or "")
        if m:
            meta[key] = m.group(1)
        else:
            meta.unknown(key, f"cannot read {path}")
    load = _read(root, "/proc/loadavg")
    parts = (load or "").split()
    if len(parts) >= 3:
        for key, v in zip(("load_avg_1min", "load_avg_5min", "load_avg_15min"), parts):
            meta[key] = float(v)
    else:
        for key in ("load_avg_1min", "load_avg_5min", "load_avg_15min"):
            meta.unknown(key, "cannot read /proc/loadavg")


def _software(meta: _Meta) -> None:
    meta.update(_software_facts())


@functools.lru_cache(maxsize=1)
def _software_facts() -> dict[str, Any]:
    """The kernel, Python, package and compiler versions: read once per process.

    They cannot change under a running process, and reading them (a gcc
    subprocess, package metadata) cost about 20 ms, once for each engine
    process of a comparison.
    """
    meta = _Meta()
    meta["kernel"] = platform.release() or UNKNOWN
    meta["machine"] = platform.machine() or UNKNOWN
    meta["hostname"] = socket.gethostname() or UNKNOWN
    meta["python_version"] = platform.python_version()
    meta["python_implementation"] = platform.python_implementation()
    for pkg in _PACKAGES:
        try:
            meta[f"{pkg}_version"] = _importlib_metadata.version(pkg)
        except _importlib_metadata.PackageNotFoundError:
            meta.unknown(f"{pkg}_version", "not installed")
    try:
        out = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            meta["gcc_version"] = out.stdout.strip()
        else:
            meta.unknown("gcc_version", f"gcc -dumpfullversion exited {out.returncode}")
    except (OSError, subprocess.SubprocessError) as e:
        meta.unknown("gcc_version", f"gcc not runnable: {e}")
    return dict(meta)


def machine_metadata(enabled: bool = True, root: str | os.PathLike = "/") -> dict[str, Any]:
    """Describe the machine and its settings, as one flat dict.

    Parameters
    ----------
    enabled : bool
        False returns only ``{"metadata_collected": False}``, the same on
        every machine, so tests and fixtures stay deterministic.
    root : path, optional
        Where /proc and /sys are read from (tests use a fake tree).

    Returns
    -------
    dict
        Flat and JSON-serialisable (str, int, float, bool values). A value
        that could not be read is ``"unknown"`` with ``<key>_unknown_reason``.
    """
    if not enabled:
        return {"metadata_collected": False}
    root = Path(root)
    meta = _Meta(metadata_collected=True)
    meta["date_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    steps = (lambda: _cpu(meta, root), lambda: _cores(meta, root),
             lambda: _frequency_policy(meta, root), lambda: _kernel_knobs(meta, root),
             lambda: _software(meta))
    for i, step in enumerate(steps):
        try:
            step()
        except Exception as e:  # a collector bug must not lose the run
            meta[f"metadata_error_{i}"] = f"{type(e).__name__}: {e}"
    meta["machine_id"] = machine_id(meta)
    return dict(meta)


def machine_id(meta: dict[str, Any] | None = None, root: str | os.PathLike = "/") -> str:
    """A short, filesystem-safe name for ``data/runs/<machine>/``.

    ``<short hostname>-<8 hex of sha1(cpu model)>``, lower case, only
    ``[a-z0-9_-]``; the hash keeps two hosts of the same name but different
    CPUs apart.

    Parameters
    ----------
    meta : dict, optional
        Metadata already collected (its ``hostname`` and ``cpu_model``);
        read afresh when not given.
    """
    if meta is None:
        m = _Meta()
        try:
            _cpu(m, Path(root))
        except Exception:
            m["cpu_model"] = UNKNOWN
        host = socket.gethostname()
        model = m.get("cpu_model", UNKNOWN)
    else:
        host = meta.get("hostname") or socket.gethostname()
        model = meta.get("cpu_model", UNKNOWN)
    # The short host name: no dots, so never "." or ".." as a path part.
    host = re.sub(r"[^a-z0-9_-]+", "_", str(host).split(".")[0].lower())
    host = host.strip("_-")[:32] or "host"
    digest = hashlib.sha1(str(model).encode()).hexdigest()[:8]
    return f"{host}-{digest}"
