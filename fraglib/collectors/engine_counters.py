"""Engine counters: ``perf_event_open`` groups inside the engine (``counters=1``).

The engine (``csrc/perfctr.c``) opens the events for each measured thread
and reads them around the measured region only; :func:`fraglib.counters.probe`
asks the same code which events this machine can count.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .. import counters as _counters
from .base import Collection, Collector

__all__ = ["EngineCounters", "hardware_summary"]


def hardware_summary(results: Mapping[str, _counters.ProbeResult]) -> tuple[list[str], str]:
    """The hardware events that count here, and a sentence saying what is missing."""
    hw = [r for r in results.values() if r.kind == "hardware"]
    ok = [r.name for r in hw if r.supported]
    if len(ok) == len(hw):
        return ok, "hardware and software events"
    reasons = sorted({r.reason for r in hw if not r.supported})
    if not ok:
        return ok, "software events only; hardware: " + "; ".join(reasons)
    missing = [r.name for r in hw if not r.supported]
    return ok, (f"partial hardware ({', '.join(missing)}: " + "; ".join(reasons) + ")")


class EngineCounters(Collector):
    """``counters=1``: the engine's own counters, per measured thread.

    :meth:`collect` wraps nothing; it sets ``counters=1`` and, once the
    engine's document is recorded, parses its ``"counters"`` into a
    :class:`fraglib.counters.CounterSet` (per packet over the run's packets).
    """

    name = "counters"
    description = "perf_event_open groups inside the engine, around the measured region"
    scope = "measured region only, per measured thread (summed in thread='all')"

    def available(self) -> tuple[bool, str]:
        res = _counters.probe()
        clock = res["task-clock"]
        if not clock.supported:
            return False, f"task-clock: {clock.reason}"
        return True, hardware_summary(res)[1]

    def _collect(self, out_dir, **options) -> Iterator[Collection]:
        if options:
            raise TypeError(f"{self.name}: unexpected options {sorted(options)}")
        c = Collection(self.name, params={"counters": 1}, scope=self.scope)
        yield c
        doc = c.require_document()
        c.result = _counters.parse_counters(doc.get("counters") or [], packets=c.packets())
