"""perf stat collector: ``perf stat -x, -e <events>`` around a whole engine process.

Unlike the engine's own counters (measured region, per thread) perf stat
counts the whole process: start-up, TSC calibration, set-up, warm-up and
the printing of results, all threads together. It is the check that needs
no help from the engine, and a second opinion on what the engine reports.

perf's CSV lines are ``value,unit,event,run-time,percent-running,...``;
``<not supported>`` and ``<not counted>`` values come back as records with
no value and a reason (``"not measured: ..."``), never as zeros.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import counters as _counters
from ..exceptions import EngineError, ParameterError
from ._perf import find_perf, perf_usable
from .base import Collection, Collector, output_dir
from .engine_counters import hardware_summary

__all__ = ["PerfStat", "parse_perf_stat", "PERF_STAT_SCOPE"]

PERF_STAT_SCOPE = ("whole engine process, all threads together: start-up, TSC "
                   "calibration, set-up, warm-up and output included")

#: perf's placeholders for a value it does not have, and what they mean
_NO_VALUE = {
    "<not supported>": "not supported: perf stat reports <not supported> "
                       "(no such event on this machine, e.g. no PMU)",
    "<not counted>": "not counted: perf stat reports <not counted> "
                     "(the event never ran on a counter)",
}


def _value(text: str, unit: str) -> int:
    v = float(text)
    # task-clock comes in msec; the engine (and perf_event_open) count ns.
    return int(round(v * 1e6)) if unit == "msec" else int(round(v))


def parse_perf_stat(text: str, packets: int | None = None) -> _counters.CounterSet:
    """Parse ``perf stat -x,`` output into a :class:`fraglib.counters.CounterSet`.

    Parameters
    ----------
    text : str
        What perf stat wrote (``-o`` file or stderr); ``#`` lines and blank
        lines are skipped.
    packets : int, optional
        Packets the engine measured, for per-packet values. They are the
        measured region's; the counts are the whole process's.

    Returns
    -------
    CounterSet
        One ``thread="all"`` row per event, no per-thread rows. ``task-clock``
        is converted from msec to ns, as the engine reports it.

    Raises
    ------
    ValueError
        A line that is not perf's CSV, or no event at all.
    """
    rows: list[_counters.CounterRecord] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split(",")
        if len(f) < 5:
            raise ValueError(f"not a perf stat -x, line: {line!r}")
        raw, unit, event = f[0].strip(), f[1].strip(), f[2].strip().split(":")[0]
        if raw in _NO_VALUE:
            rows.append(_counters.make_record(event, "all", None, None, None, 0,
                                              _NO_VALUE[raw], packets))
            continue
        try:
            value = _value(raw, unit)
            running = int(f[3]) if f[3].strip() else None
            pct = float(f[4]) if f[4].strip() else None
        except ValueError:
            raise ValueError(f"not a perf stat -x, line: {line!r}") from None
        # percent-running < 100: multiplexed; time_enabled follows from it.
        enabled = (int(round(running * 100.0 / pct)) if running is not None and pct
                   else running)
        rows.append(_counters.make_record(event, "all", value, enabled, running, 0, None,
                                          packets))
    if not rows:
        raise ValueError("perf stat output holds no event line")
    return _counters.CounterSet(threads=(), totals=tuple(rows), packets=packets)


def _check_events(events: Sequence[str]) -> tuple[str, ...]:
    if isinstance(events, str) or not events:
        raise ParameterError("events", events, "a non-empty sequence of perf event names")
    for e in events:
        if not isinstance(e, str) or not e or "," in e or e.startswith("-"):
            raise ParameterError("events", e, "a perf event name (no commas)")
    return tuple(events)


class PerfStat(Collector):
    """``perf stat -x, -e EVENTS`` around the engine; the result is a ``CounterSet``.

    Options of :meth:`collect`: ``events`` (default: the engine's
    :data:`fraglib.counters.EVENTS`, hardware and software).
    """

    name = "perf-stat"
    description = "perf stat around a whole engine process"
    scope = PERF_STAT_SCOPE

    def available(self) -> tuple[bool, str]:
        usable, ver = perf_usable()
        if not usable:
            return False, ver
        return True, f"{ver}; {hardware_summary(_counters.probe())[1]}"

    def _collect(self, out_dir, *, events: Sequence[str] | None = None
                 ) -> Iterator[Collection]:
        events = _check_events(_counters.EVENTS if events is None else events)
        perf, _ = find_perf()
        with output_dir(out_dir, "fraglib-perfstat-") as d:
            out = d / "perf-stat.csv"
            c = Collection(self.name, argv=(perf, "stat", "-x,", "-o", str(out),
                                            "-e", ",".join(events), "--"),
                           params={"counters": 0}, scope=self.scope)
            yield c
            if not out.exists():
                raise EngineError(f"perf stat wrote no output ({out.name})")
            # No per-packet values: the counts are the whole process's, the
            # packets only the measured region's; dividing would mislead.
            c.result = parse_perf_stat(out.read_text())
