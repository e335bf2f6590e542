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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .collectors import COLLECTORS, get_collector
from .collectors.perf_record import (PERF_CTL_VAR, PERF_REGION, FunctionCost,  # noqa: F401
                                     parse_perf_report)
from .engine import run_engine
from .exceptions import CollectorUnavailable, EngineError, ParameterError
from .valgrind import _engine_path, valgrind_version

__all__ = ["FunctionCost", "Profile", "profile", "parse_perf_report", "METHODS"]

METHODS = ("auto", "perf-record", "callgrind")
#: default packets: enough samples at perf's 4 kHz default, yet < 1 s.
PERF_PACKETS = 1 << 24
#: callgrind runs ~50x slower; instruction counts need far fewer packets.
CALLGRIND_PACKETS = 1 << 16


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


def _perf_profile(design: str, workload: str, params: dict, build: Mapping,
                  timeout: float, top: int) -> Profile:
    path = _engine_path(design, build)
    with get_collector("perf-record").collect(timeout=timeout) as c:
        c.record(run_engine(path, c.engine_params(params), timeout=timeout,
                            **c.run_kwargs()))
    rep = c.result
    return Profile(design, workload, "perf-record", rep.event, rep.functions[:top],
                   rep.total, params=c.engine_params(params), region=PERF_REGION)


# --------------------------------------------------------------------------
# callgrind


def _callgrind_profile(design: str, workload: str, params: dict, build: Mapping,
                       timeout: float, top: int) -> Profile:
    valgrind_version()
    path = _engine_path(design, build)
    # The workload's run function is the measured region (wl_<name>.c
    # defines <name>_run); the TSC calibration and the printing are not.
    region = f"{workload}_run"
    prof = _callgrind(path, params, timeout, functions=[region])
    if not prof.summary.get("Ir"):
        # No function of that name: fall back to the whole process.
        prof = _callgrind(path, params, timeout, collect_atstart=True)
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


def _callgrind(path: Path, params: dict, timeout: float, **options: Any):
    """One engine run under the valgrind collector; its CallgrindProfile."""
    with get_collector("valgrind").collect(**options) as c:
        c.record(run_engine(path, c.engine_params(params), timeout=timeout,
                            **c.run_kwargs()))
    return c.result


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

