"""perf record collector: sampled self time per function, measured region only.

``perf record -g`` starts disabled (``--delay=-1``); the engine switches it
on and off around the measured region through ``--control fd:CTL,ACK``
(``csrc/perfctr.c``, environment variable :data:`PERF_CTL_VAR`). Without a
PMU perf samples on the ``cpu-clock`` software timer, and says so.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from .. import counters as _counters
from ..exceptions import CollectorUnavailable, EngineError
from ._perf import find_perf, perf_usable
from .base import Collection, Collector, output_dir
from .engine_counters import hardware_summary

__all__ = ["PerfRecord", "PerfReport", "FunctionCost", "parse_perf_report",
           "PERF_CTL_VAR", "PERF_REGION"]

#: environment variable that hands the engine its ends of perf's control
#: pipes ("ctl_fd,ack_fd"; csrc/perfctr.c)
PERF_CTL_VAR = "FRAGLIB_PERF_CTL"
#: what a perf-record profile covers
PERF_REGION = ("measured region only: perf starts disabled and the engine switches it "
               "on and off around the region (perf record --control); TSC calibration, "
               "set-up, warm-up before the first measured sample and output are excluded")


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


@dataclass(frozen=True)
class PerfReport:
    """What ``perf report`` made of one recording: event, functions, samples."""

    event: str
    functions: tuple[FunctionCost, ...]
    total: int


class PerfRecord(Collector):
    """``perf record -g`` around the engine; the result is a :class:`PerfReport`.

    The block's engine run fails as ``CollectorUnavailable`` when perf
    records or reports nothing (e.g. no symbols, no samples).
    """

    name = "perf-record"
    description = "perf record -g sampling, perf report top functions"
    scope = PERF_REGION

    def available(self) -> tuple[bool, str]:
        usable, ver = perf_usable()
        if not usable:
            return False, ver
        ok, _ = hardware_summary(_counters.probe())
        if "cycles" in ok:
            return True, f"{ver}; samples on cycles"
        return True, f"{ver}; no cycles event, samples on cpu-clock (software timer)"

    def _collect(self, out_dir, *, timeout: float | None = 300) -> Iterator[Collection]:
        perf, _ = find_perf()
        with output_dir(out_dir, "fraglib-perf-") as d:
            data = d / "perf.data"
            # perf reads commands from ctl_r and acks on ack_w; the engine
            # writes "enable"/"disable" to ctl_w and waits on ack_r.
            ctl_r, ctl_w = os.pipe()
            ack_r, ack_w = os.pipe()
            fds = (ctl_r, ctl_w, ack_r, ack_w)
            c = Collection(self.name,
                           argv=(perf, "record", "-g", "-q", "--delay=-1", "--control",
                                 f"fd:{ctl_r},{ack_w}", "-o", str(data), "--"),
                           env={PERF_CTL_VAR: f"{ctl_w},{ack_r}"}, pass_fds=fds,
                           params={"counters": 0}, scope=self.scope)
            try:
                yield c
            except EngineError as e:
                raise CollectorUnavailable(self.name, f"perf record failed: {e}") from e
            finally:
                for fd in fds:
                    os.close(fd)
            rep = subprocess.run([perf, "report", "-i", str(data), "--stdio",
                                  "--no-children", "-g", "none",
                                  "-F", "overhead,sample,dso,sym", "-t", "|"],
                                 capture_output=True, text=True, timeout=timeout)
        if rep.returncode:
            raise CollectorUnavailable(self.name, f"perf report exited {rep.returncode}: "
                                                  f"{rep.stderr.strip()[-300:]}")
        event, rows, total = parse_perf_report(rep.stdout)
        if not rows:
            raise CollectorUnavailable(self.name, "perf recorded no samples")
        c.result = PerfReport(event, tuple(rows), total)
