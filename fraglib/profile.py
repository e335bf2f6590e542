"""Profile mode: where an engine run spends its time, per function.

Two back ends, picked in this order by ``method="auto"``:

``perf-record``
    ``perf record -g`` around the engine, then ``perf report --stdio
    --no-children``: self time per function from samples. Without a PMU
    perf samples on the ``cpu-clock`` software timer (docs/machine-notes.md),
    which the profile records as its event. perf starts disabled
    (``--delay=-1``) and the engine switches it on and off around the
    measured region through ``--control fd:CTL,ACK`` (csrc/perfctr.c), so
    the TSC calibration, set-up and the printing of samples are excluded:
    :attr:`Profile.region` says so.
``callgrind``
    Where perf cannot sample: callgrind instruction counts (``Ir``) per
    function, self and inclusive, for the workload's run function and what
    it calls. Exact and repeatable, but instructions, not time.

Either way a :class:`Profile` names the method, the event and why that
method was used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .counters import COLLECTORS
from .engine import run_engine
from .exceptions import CollectorUnavailable, EngineError, ParameterError
from .valgrind import _engine_path, callgrind_wrapper, parse_callgrind, valgrind_version

__all__ = ["FunctionCost", "Profile", "profile", "parse_perf_report", "METHODS"]

METHODS = ("auto", "perf-record", "callgrind")
#: default packets: enough samples at perf's 4 kHz default, yet < 1 s.
PERF_PACKETS = 1 << 24
#: environment variable that hands the engine its ends of perf's control
#: pipes ("ctl_fd,ack_fd"; csrc/perfctr.c)
PERF_CTL_VAR = "FRAGLIB_PERF_CTL"
#: what a perf-record profile covers
PERF_REGION = ("measured region only: perf starts disabled and the engine switches it "
               "on and off around the region (perf record --control); TSC calibration, "
               "set-up, warm-up before the first measured sample and output are excluded")
#: callgrind runs ~50x slower; instruction counts need far fewer packets.
CALLGRIND_PACKETS = 1 << 16


@dataclass(frozen=True)
class FunctionCost:
    """One function's share of a profile.

    Attributes
    ----------
    name : str
        Symbol name.
    self_share : float
        Fraction (0-1) of all samples / instructions in the function itself.
    inclusive_share : float or None
        With its callees; None for perf (``--no-children`` gives self only).
    count : int
        Samples (perf) or instructions (callgrind) in the function itself.
    dso : str
        Object it lives in (``fraglib-engine-topdown``, ``libc.so.6``, ...).
    kernel : bool
        True for a kernel symbol.
    """

    name: str
    self_share: float
    inclusive_share: float | None
    count: int
    dso: str = ""
    kernel: bool = False

    def __post_init__(self):
        if not self.name:
            raise ValueError("name must be non-empty")
        if not 0.0 <= self.self_share <= 1.0 + 1e-9:
            raise ValueError(f"{self.name}: self_share {self.self_share!r} not in [0, 1]")
        if self.count < 0:
            raise ValueError(f"{self.name}: count {self.count!r} < 0")


@dataclass(frozen=True)
class Profile:
    """Top functions of one engine run.

    Attributes
    ----------
    design, workload : str
    method : str
        ``"perf-record"`` or ``"callgrind"``.
    event : str
        What was counted: ``"cpu-clock"``, ``"cycles"``, ``"Ir"``.
    functions : tuple of FunctionCost
        Costliest first (by self share).
    total : int
        Samples or instructions in the whole profile.
    reason : str
        Why this method (e.g. ``"perf-record unavailable: ..."``).
    params : dict
        Engine parameters of the run.
    region : str
        What the profile covers: the measured region only (and what was
        excluded), or the whole workload function (callgrind).
    """

    design: str
    workload: str
    method: str
    event: str
    functions: tuple[FunctionCost, ...]
    total: int
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    region: str = ""

    def __post_init__(self):
        if self.method not in METHODS[1:]:
            raise ValueError(f"method must be one of {METHODS[1:]}, not {self.method!r}")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.functions]

    def top(self, n: int = 10) -> list[FunctionCost]:
        return list(self.functions[:n])

    def rows(self) -> list[dict[str, Any]]:
        """One dict per function, for a DataFrame."""
        return [{"design": self.design, "workload": self.workload, "method": self.method,
                 "event": self.event, "rank": i + 1, "function": f.name,
                 "self_share": f.self_share, "inclusive_share": f.inclusive_share,
                 "count": f.count, "dso": f.dso, "kernel": f.kernel}
                for i, f in enumerate(self.functions)]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows())


# --------------------------------------------------------------------------
# perf


_PERF_ROW = re.compile(r"^\s*([\d.]+)%\s*\|\s*(\d+)\s*\|([^|]*)\|\s*\[(.)\]\s+(.+?)\s*$")
_PERF_EVENT = re.compile(r"^# Samples: \S+\s+of event '([^']+)'", re.M)


def parse_perf_report(text: str) -> tuple[str, list[FunctionCost], int]:
    """Parse ``perf report --stdio --no-children -F overhead,sample,dso,sym -t '|'``.

    Returns
    -------
    (event, functions, total_samples)
        ``event`` without perf's modifiers (``cpu-clock``, ``cycles``).
    """
    m = _PERF_EVENT.search(text)
    event = m.group(1).split(":")[0] if m else "unknown"
    rows = []
    for line in text.splitlines():
        r = _PERF_ROW.match(line)
        if r:
            rows.append(FunctionCost(name=r.group(5), self_share=float(r.group(1)) / 100.0,
                                     inclusive_share=None, count=int(r.group(2)),
                                     dso=r.group(3).strip(), kernel=r.group(4) == "k"))
    rows.sort(key=lambda f: (-f.count, f.name))
    return event, rows, sum(f.count for f in rows)


def _perf_profile(design: str, workload: str, params: dict, build: Mapping,
                  timeout: float, top: int) -> Profile:
    perf = shutil.which("perf")
    if perf is None:
        raise CollectorUnavailable("perf-record", "perf not installed (not on PATH)")
    path = _engine_path(design, build)
    with tempfile.TemporaryDirectory(prefix="fraglib-perf-") as tmp:
        data = Path(tmp) / "perf.data"
        # perf reads commands from ctl_r and acks on ack_w; the engine
        # writes "enable"/"disable" to ctl_w and waits on ack_r.
        ctl_r, ctl_w = os.pipe()
        ack_r, ack_w = os.pipe()
        fds = (ctl_r, ctl_w, ack_r, ack_w)
        try:
            run_engine(path, params, timeout=timeout,
                       wrapper=[perf, "record", "-g", "-q", "--delay=-1",
                                "--control", f"fd:{ctl_r},{ack_w}",
                                "-o", str(data), "--"],
                       env={PERF_CTL_VAR: f"{ctl_w},{ack_r}"}, pass_fds=fds)
        except EngineError as e:
            raise CollectorUnavailable("perf-record", f"perf record failed: {e}") from e
        finally:
            for fd in fds:
                os.close(fd)
        rep = subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children",
                              "-g", "none", "-F", "overhead,sample,dso,sym", "-t", "|"],
                             capture_output=True, text=True, timeout=timeout)
    if rep.returncode:
        raise CollectorUnavailable("perf-record",
                                   f"perf report exited {rep.returncode}: "
                                   f"{rep.stderr.strip()[-300:]}")
    event, rows, total = parse_perf_report(rep.stdout)
    if not rows:
        raise CollectorUnavailable("perf-record", "perf recorded no samples")
    return Profile(design, workload, "perf-record", event, tuple(rows[:top]), total,
                   params=params, region=PERF_REGION)


# --------------------------------------------------------------------------
# callgrind


def _callgrind_profile(design: str, workload: str, params: dict, build: Mapping,
                       timeout: float, top: int) -> Profile:
    valgrind_version()
    path = _engine_path(design, build)
    # The workload's run function is the measured region (wl_<name>.c
    # defines <name>_run); the TSC calibration and the printing are not.
    region = f"{workload}_run"
    with tempfile.TemporaryDirectory(prefix="fraglib-cgp-") as tmp:
        out = Path(tmp) / "callgrind.out"
        run_engine(path, params, env_pad=0, timeout=timeout,
                   wrapper=callgrind_wrapper([region], out))
        prof = parse_callgrind(out.read_text())
        if not prof.summary.get("Ir"):
            # No function of that name: fall back to the whole process.
            run_engine(path, params, env_pad=0, timeout=timeout,
                       wrapper=callgrind_wrapper([], out, collect_atstart=True))
            prof = parse_callgrind(out.read_text())
    total = prof.summary.get("Ir", 0)
    if not total:
        raise EngineError("callgrind collected no instructions", design, workload)
    rows = []
    for name, own in prof.self_cost.items():
        ir = own.get("Ir", 0)
        if ir <= 0:
            continue
        incl = prof.inclusive_cost.get(name, {}).get("Ir", ir)
        rows.append(FunctionCost(name=name, self_share=ir / total,
                                 inclusive_share=min(incl / total, 1.0), count=ir,
                                 dso=_dso_of(name)))
    rows.sort(key=lambda f: (-f.count, f.name))
    return Profile(design, workload, "callgrind", "Ir", tuple(rows[:top]), total,
                   params=params, region=f"{region} and its callees (set-up before the "
                   "measured region included; calibration and output excluded)")


def _dso_of(name: str) -> str:
    # parse_callgrind labels a name two objects share "name [object]".
    m = re.search(r"\[([^\]]+)\]$", name)
    return m.group(1) if m else ""


# --------------------------------------------------------------------------


def profile(design: str, workload: str = "fastpath", *, method: str = "auto",
            top: int = 15, build: Mapping[str, Any] | None = None,
            timeout: float = 300, **params: Any) -> Profile:
    """Profile one engine run and return its top functions.

    Parameters
    ----------
    design : str
        A registered design.
    workload : str
        Engine workload.
    method : {"auto", "perf-record", "callgrind"}
        ``auto`` uses perf record when the ``perf-record`` collector is
        available and it records samples, callgrind otherwise.
    top : int
        Functions to keep.
    build : dict, optional
        Keyword arguments for ``_build.build_engine``.
    timeout : float
        Seconds per engine process.
    **params
        Engine parameters; ``packets`` defaults to :data:`PERF_PACKETS` for
        perf and :data:`CALLGRIND_PACKETS` for callgrind. ``counters`` is 0.

    Returns
    -------
    Profile

    Raises
    ------
    CollectorUnavailable
        The chosen method (or, for ``auto``, both) cannot run here.
    """
    if method not in METHODS:
        raise ParameterError("method", method, "one of " + ", ".join(METHODS))
    if not isinstance(top, int) or top < 1:
        raise ParameterError("top", top, "a positive integer")
    build = dict(build or {})
    base = {"workload": workload, **params, "counters": 0}

    def with_packets(default: int) -> dict:
        return {**base, "packets": params.get("packets", default)}

    reason = ""
    if method in ("auto", "perf-record"):
        ok, why = COLLECTORS["perf-record"].available()
        if ok:
            try:
                prof = _perf_profile(design, workload, with_packets(PERF_PACKETS), build,
                                     timeout, top)
                return _with_reason(prof, f"perf-record available: {why}")
            except CollectorUnavailable as e:
                if method == "perf-record":
                    raise
                reason = f"perf-record unavailable: {e.reason}"
        elif method == "perf-record":
            raise CollectorUnavailable("perf-record", why)
        else:
            reason = f"perf-record unavailable: {why}"
    prof = _callgrind_profile(design, workload, with_packets(CALLGRIND_PACKETS), build,
                              timeout, top)
    return _with_reason(prof, reason or "callgrind requested")


def _with_reason(p: Profile, reason: str) -> Profile:
    return Profile(p.design, p.workload, p.method, p.event, p.functions, p.total,
                   reason, p.params, p.region)

