"""Measurement back ends, one module each, behind one registry.

=================  ===========================================================
``counters``       :mod:`.engine_counters`: perf_event_open inside the engine
                   (``counters=1``), measured region, per thread
``valgrind``       :mod:`.callgrind`: callgrind cache/branch simulation
``perf-record``    :mod:`.perf_record`: sampled self time per function
``perf-stat``      :mod:`.perf_stat`: ``perf stat -x,`` around the whole process
=================  ===========================================================

Each entry answers :meth:`~.base.Collector.available` ``-> (ok, reason)``
and runs with :meth:`~.base.Collector.collect`, a context manager around
one engine run (the engine is a subprocess, so the collector hands the run
a command prefix, environment and parameter overrides, and reads its output
afterwards)::

    with get_collector("perf-stat").collect(events=["task-clock"]) as c:
        c.record(run_engine(path, c.engine_params(params), **c.run_kwargs()))
    c.result["task-clock"].status

:func:`run_collected` does exactly that for one engine executable.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Mapping
from typing import Any

from .. import counters as _counters
from ..exceptions import UnknownNameError
from ._perf import PERF_PACKAGE
from .base import Collection, Collector
from .callgrind import Valgrind
from .engine_counters import EngineCounters
from .perf_record import PerfRecord
from .perf_stat import PerfStat

__all__ = ["COLLECTORS", "Collection", "Collector", "EngineCounters", "Valgrind",
           "PerfRecord", "PerfStat", "get_collector", "how_to_enable", "run_collected"]

#: Registry of measurement back ends, by name.
COLLECTORS: dict[str, Collector] = {c.name: c for c in
                                    (EngineCounters(), Valgrind(), PerfRecord(), PerfStat())}

#: what to install for a collector whose tool is missing
_PACKAGES = {"valgrind": "valgrind", "perf-record": PERF_PACKAGE, "perf-stat": PERF_PACKAGE}


def get_collector(name: str) -> Collector:
    """Return the registered collector ``name`` or raise UnknownNameError."""
    try:
        return COLLECTORS[name]
    except KeyError:
        raise UnknownNameError("collector", name, COLLECTORS) from None


def run_collected(name: str, engine_path, params: Mapping[str, Any], *, out_dir=None,
                  timeout: float | None = None, **options: Any) -> Collection:
    """Run one engine process under collector ``name``; return the finished Collection.

    Parameters
    ----------
    name : str
        A registered collector.
    engine_path : path
        Engine executable (``fraglib._build.build_engine(...).path``).
    params : mapping
        Engine parameters; the collector's overrides (``counters``) win.
    out_dir : path, optional
        Keep the back end's raw output here.
    timeout : float, optional
        Seconds before the engine is killed.
    **options
        The collector's options (see its class).

    Returns
    -------
    Collection
        ``.result`` holds what was collected, ``.document`` the engine's JSON.
    """
    from ..engine import run_engine

    with get_collector(name).collect(out_dir, **options) as c:
        c.record(run_engine(engine_path, c.engine_params(params), timeout=timeout,
                            **c.run_kwargs()))
    return c


def how_to_enable() -> list[str]:
    """Hints, one per missing capability, for what a user could change.

    Returns
    -------
    list of str
        Empty when every event and collector is available.
    """
    hints = []
    res = _counters.probe()
    errs = {r.errno for r in res.values() if not r.supported}
    if any(r.kind == "hardware" and r.errno in (_errno.ENOENT, _errno.EOPNOTSUPP)
           for r in res.values() if not r.supported):
        hints.append("hardware counters need a PMU: run on bare metal or a VM with a "
                     "virtual PMU (KVM: -cpu host,pmu=on); meanwhile the 'valgrind' "
                     "collector gives simulated instructions and cache misses")
    if errs & {_errno.EACCES, _errno.EPERM}:
        hints.append("lower kernel.perf_event_paranoid (sysctl -w "
                     "kernel.perf_event_paranoid=1) or grant CAP_PERFMON")
    if _errno.ENOSYS in errs:
        hints.append("the kernel lacks perf_event_open (CONFIG_PERF_EVENTS=n) or a "
                     "seccomp filter blocks it (containers: --security-opt seccomp=...)")
    for name, c in COLLECTORS.items():
        ok, why = c.available()
        if not ok and "not installed" in why and name in _PACKAGES:
            hints.append(f"{name}: install {_PACKAGES[name]}")
        elif not ok:
            hints.append(f"{name}: {why}")
    return list(dict.fromkeys(hints))
