"""Perf counter records: parse the engine's ``"counters"`` JSON; probe the events.

The engine (``csrc/perfctr.c``) prints one object per measured thread::

    {"thread": 0, "events": {
        "cycles": {"value": 123, "time_enabled": 9, "time_running": 9, "errno": 0},
        "instructions": {"value": null, "errno": 2,
                         "reason": "not supported: no PMU (ENOENT)"}, ...}}

or ``{"thread": 0, "disabled": true}`` when the run asked for no counters.
:func:`parse_counters` turns that list into frozen :class:`CounterRecord` rows,
one per (thread, event), plus one summed row per event. A value that was not
counted stays ``None`` with a reason; it is never turned into 0.

:func:`probe` asks the kernel which events this machine can count, through
the engine's own code (``perfctr.c``, via the library).

The measurement back ends live in :mod:`fraglib.collectors` (``COLLECTORS``,
``get_collector``, ``how_to_enable`` stay reachable here for older callers).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import UnknownNameError

__all__ = [
    "EVENTS",
    "HARDWARE_EVENTS",
    "SOFTWARE_EVENTS",
    "CounterRecord",
    "CounterSet",
    "ProbeResult",
    "make_record",
    "parse_counters",
    "load_counters",
    "reason_for_errno",
    "perf_event_paranoid",
    "probe",
]

#: names that moved to fraglib.collectors, still served from here (PEP 562)
_MOVED = ("COLLECTORS", "Collector", "get_collector", "how_to_enable", "EngineCounters",
          "Valgrind", "PerfRecord", "PerfStat")


@functools.lru_cache(maxsize=1)
def _events() -> dict[str, tuple[str, ...]]:
    """csrc/perfctr.c's events, hardware first, as the engine opens them."""
    from . import _core
    lib, ffi = _core.lib(), _core.ffi
    hw = ffi.new("int *")
    names: dict[bool, list[str]] = {True: [], False: []}
    for i in range(lib.fraglib_perf_nevents()):
        name = _core.text(lib.fraglib_perf_event_at(i, hw))
        names[bool(hw[0])].append(name)
    return {"HARDWARE_EVENTS": tuple(names[True]), "SOFTWARE_EVENTS": tuple(names[False]),
            "EVENTS": tuple(names[True]) + tuple(names[False])}


def __getattr__(name: str):
    # EVENTS, HARDWARE_EVENTS, SOFTWARE_EVENTS: the C table, read on first use
    # (PEP 562), so importing this module builds nothing.
    if name in ("EVENTS", "HARDWARE_EVENTS", "SOFTWARE_EVENTS"):
        return _events()[name]
    if name in _MOVED:
        from . import collectors
        return getattr(collectors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MEASURED = "measured"
_DISABLED_REASON = "counters disabled for this run (counters=0)"
_PARANOID_PATH = Path("/proc/sys/kernel/perf_event_paranoid")


# --------------------------------------------------------------------------
# reasons


def perf_event_paranoid(path: Path | str = _PARANOID_PATH) -> int | None:
    """Return ``kernel.perf_event_paranoid``, or None if it cannot be read."""
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def reason_for_errno(err: int, name: str = "", paranoid: int | None = None) -> str:
    """Explain a ``perf_event_open`` errno: the engine's own words (perfctr.c).

    Parameters
    ----------
    err : int
        The errno (positive).
    name : str, optional
        Event name; ENOENT on a hardware event means there is no PMU.
    paranoid : int, optional
        ``perf_event_paranoid``; read from /proc when not given.

    Returns
    -------
    str
        e.g. ``"not supported: no PMU (ENOENT)"`` or
        ``"not permitted: perf_event_paranoid=3 (EACCES)"``.
    """
    from . import _core
    buf = _core.ffi.new("char[]", 256)
    p = _core.consts.FRAG_PERF_PARANOID_READ if paranoid is None else int(paranoid)
    return _core.text(_core.lib().fraglib_perf_reason(name.encode(), int(err), p, buf,
                                                       len(buf)))


# --------------------------------------------------------------------------
# records


def _optional_int(what: str, v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{what} must be a non-negative int or None, not {v!r}")
    return v


@dataclass(frozen=True)
class CounterRecord:
    """One event of one thread (or of all threads, ``thread="all"``).

    Parameters
    ----------
    name : str
        Event name (``"cycles"``, ``"task-clock"``, ...).
    thread : int or str
        Thread index as the engine printed it, or ``"all"`` for the sum.
    value : int or None
        Raw count; None when the event was not counted.
    time_enabled, time_running : int or None
        Nanoseconds the event was enabled / actually on a counter.
    errno : int
        errno from ``perf_event_open`` (0 when opened).
    reason : str or None
        Why there is no value; None when there is one.
    scaled : float or None
        ``value * time_enabled / time_running`` when multiplexed
        (``time_running < time_enabled``), ``value`` when not, None when the
        event never ran or was not counted.
    multiplex_ratio : float or None
        ``time_running / time_enabled`` (1.0 = never multiplexed).
    status : str
        ``"measured"``, ``"scaled (multiplexed 42.0%)"`` (the percentage is
        the share of time the event was on a counter) or
        ``"not measured: <reason>"``.
    packets : int or None
        Packets (operations) in the measured region, if known.
    per_packet : float or None
        ``scaled / packets``.
    threads : int
        Number of thread rows this record sums (1 for a per-thread row).
    """

    name: str
    thread: int | str
    value: int | None
    time_enabled: int | None
    time_running: int | None
    errno: int
    reason: str | None
    scaled: float | None
    multiplex_ratio: float | None
    status: str
    packets: int | None = None
    per_packet: float | None = None
    threads: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, not {self.name!r}")
        if not (self.thread == "all" or (isinstance(self.thread, int)
                                         and not isinstance(self.thread, bool)
                                         and self.thread >= 0)):
            raise ValueError(f"thread must be an int >= 0 or 'all', not {self.thread!r}")
        _optional_int("value", self.value)
        _optional_int("time_enabled", self.time_enabled)
        _optional_int("time_running", self.time_running)
        _optional_int("packets", self.packets)
        if self.value is None and not self.reason:
            raise ValueError(f"{self.name}: a missing value needs a reason")
        if self.value is not None and self.reason:
            raise ValueError(f"{self.name}: a value with a reason ({self.reason!r})")
        if self.scaled is not None and self.value is None:
            raise ValueError(f"{self.name}: scaled value without a value")
        if self.status != MEASURED and not (self.status.startswith("scaled (")
                                            or self.status.startswith("not measured: ")):
            raise ValueError(f"{self.name}: unknown status {self.status!r}")
        if self.status == MEASURED and self.scaled is None:
            raise ValueError(f"{self.name}: 'measured' without a value")

    @property
    def measured(self) -> bool:
        """True when there is a usable (possibly scaled) value."""
        return self.scaled is not None

    def with_packets(self, packets: int | None) -> CounterRecord:
        """Return a copy whose ``per_packet`` is ``scaled / packets``."""
        return make_record(self.name, self.thread, self.value, self.time_enabled,
                            self.time_running, self.errno, self.reason, packets,
                            threads=self.threads)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (one row of a table)."""
        return {
            "name": self.name, "thread": self.thread, "value": self.value,
            "time_enabled": self.time_enabled, "time_running": self.time_running,
            "errno": self.errno, "reason": self.reason, "scaled": self.scaled,
            "multiplex_ratio": self.multiplex_ratio, "status": self.status,
            "packets": self.packets, "per_packet": self.per_packet,
            "threads": self.threads,
        }


def make_record(name: str, thread: int | str, value: int | None,
                enabled: int | None, running: int | None, err: int,
                reason: str | None, packets: int | None = None,
                threads: int = 1) -> CounterRecord:
    """Build a :class:`CounterRecord`, deriving scaled value, ratio and status.

    ``enabled``/``running`` are ``time_enabled``/``time_running`` (ns, None
    when not reported); ``err`` the open's errno; ``reason`` why there is
    no value (required when ``value`` is None).
    """
    scaled: float | None = None
    ratio: float | None = None
    if value is None:
        status = f"not measured: {reason}"
    elif running is None or enabled is None:
        # An engine without time fields: take the count as it is.
        scaled, status = float(value), MEASURED
    elif running == 0:
        why = ("never enabled (time_enabled=0)" if enabled == 0
               else "never scheduled on a counter (time_running=0)")
        reason = why
        value, status = None, f"not measured: {reason}"
        ratio = 0.0 if enabled else None
    else:
        ratio = running / enabled if enabled else 1.0
        if running < enabled:
            scaled = value * enabled / running
            status = f"scaled (multiplexed {100.0 * ratio:.1f}%)"
        else:
            scaled, status = float(value), MEASURED
    per_packet = scaled / packets if scaled is not None and packets else None
    return CounterRecord(name=name, thread=thread, value=value, time_enabled=enabled,
                         time_running=running, errno=err, reason=reason if value is None
                         else None, scaled=scaled, multiplex_ratio=ratio, status=status,
                         packets=packets, per_packet=per_packet, threads=threads)


def _sum_records(name: str, rows: Sequence[CounterRecord],
                 packets: int | None) -> CounterRecord:
    """Sum one event over threads; one unmeasured thread spoils the sum."""
    missing = [r for r in rows if not r.measured]
    if missing:
        reasons = {r.reason for r in missing}
        if len(missing) == len(rows) and len(reasons) == 1:
            reason = reasons.pop()
        else:
            reason = "; ".join(f"thread {r.thread}: {r.reason}" for r in missing)
        return make_record(name, "all", None, None, None,
                            next((r.errno for r in missing if r.errno), 0),
                            reason, packets, threads=len(rows))
    value = sum(r.value for r in rows)
    have_times = all(r.time_enabled is not None and r.time_running is not None
                     for r in rows)
    enabled = sum(r.time_enabled for r in rows) if have_times else None
    running = sum(r.time_running for r in rows) if have_times else None
    rec = make_record(name, "all", value, enabled, running, 0, None, packets,
                       threads=len(rows))
    # Scale per thread, then sum: each thread was multiplexed on its own.
    scaled = sum(r.scaled for r in rows)
    multiplexed = [r for r in rows if r.status != MEASURED]
    status = MEASURED if not multiplexed else rec.status
    return CounterRecord(**{**rec.as_dict(), "scaled": scaled, "status": status,
                            "per_packet": scaled / packets if packets else None})


@dataclass(frozen=True)
class CounterSet:
    """All counters of one run: per-thread rows and summed rows.

    Parameters
    ----------
    threads : tuple of CounterRecord
        One row per (thread, event), in engine order.
    totals : tuple of CounterRecord
        One row per event, ``thread="all"``, summed over threads.
    packets : int or None
        Packets in the measured region (all threads together).
    disabled : bool
        True when the run asked for no counters.
    """

    threads: tuple[CounterRecord, ...]
    totals: tuple[CounterRecord, ...]
    packets: int | None = None
    disabled: bool = False
    _by_name: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {r.name: r for r in self.totals})
        if len(self._by_name) != len(self.totals):
            raise ValueError("duplicate event in totals")

    def __getitem__(self, name: str) -> CounterRecord:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownNameError("event", name, self._by_name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.totals)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.totals)

    @property
    def nthreads(self) -> int:
        return len({r.thread for r in self.threads})

    def rows(self, per_thread: bool = True) -> list[dict[str, Any]]:
        """Rows for a DataFrame: the per-thread rows (if asked) then the sums."""
        out = [r.as_dict() for r in self.threads] if per_thread else []
        return out + [r.as_dict() for r in self.totals]

    def to_frame(self, per_thread: bool = True):
        """The :meth:`rows` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows(per_thread))

    def summary(self) -> dict[str, Any]:
        """``{event: per-packet value or scaled value or status}`` for quick looks."""
        out = {}
        for r in self.totals:
            if not r.measured:
                out[r.name] = r.status
            else:
                out[r.name] = r.per_packet if r.per_packet is not None else r.scaled
        return out


def parse_counters(counters: Any, packets: int | None = None) -> CounterSet:
    """Parse the engine's ``"counters"`` value.

    Parameters
    ----------
    counters : list of dict, dict or str
        The list of per-thread objects; a whole engine result holding a
        ``"counters"`` key; a single thread object; or the JSON text of any.
    packets : int, optional
        Packets (operations) in the measured region, over all threads, for
        the per-packet values of the summed rows. Per-thread rows carry
        ``packets=None``; give them a count with
        :meth:`CounterRecord.with_packets` when each thread's is known.

    Returns
    -------
    CounterSet

    Raises
    ------
    ValueError
        If the JSON does not have the expected shape.
    """
    if isinstance(counters, (str, bytes)):
        counters = json.loads(counters)
    if isinstance(counters, Mapping) and "counters" in counters:
        counters = counters["counters"]
    if isinstance(counters, Mapping):
        counters = [counters]
    if not isinstance(counters, Sequence):
        raise ValueError(f"counters must be a list of thread objects, not {type(counters)}")
    _optional_int("packets", packets)

    rows: list[CounterRecord] = []
    order: list[str] = []
    disabled = bool(counters) and all(t.get("disabled") for t in counters
                                      if isinstance(t, Mapping))
    for i, t in enumerate(counters):
        if not isinstance(t, Mapping):
            raise ValueError(f"counters[{i}] must be an object, not {t!r}")
        tid = t.get("thread", i)
        if t.get("disabled"):
            events: Mapping[str, Any] = {
                n: {"value": None, "errno": 0, "reason": _DISABLED_REASON}
                for n in _events()["EVENTS"]}
        else:
            events = t.get("events")
            if not isinstance(events, Mapping):
                raise ValueError(f"counters[{i}] has no 'events' object")
        for name, ev in events.items():
            if not isinstance(ev, Mapping):
                raise ValueError(f"counters[{i}].{name} must be an object")
            err = int(ev.get("errno") or 0)
            value = ev.get("value")
            reason = ev.get("reason")
            if value is None and not reason:
                reason = reason_for_errno(err, name) if err else "no value reported"
            if value is not None and err:
                # A value and an error: trust the error, keep no number.
                reason, value = reason or reason_for_errno(err, name), None
            rows.append(make_record(name, tid, value, ev.get("time_enabled"),
                                     ev.get("time_running"), err, reason, None))
            if name not in order:
                order.append(name)

    totals = tuple(_sum_records(n, [r for r in rows if r.name == n], packets)
                   for n in order)
    return CounterSet(threads=tuple(rows), totals=totals, packets=packets,
                      disabled=disabled)


def load_counters(path: str | os.PathLike, packets: int | None = None) -> CounterSet:
    """:func:`parse_counters` on a JSON file."""
    return parse_counters(Path(path).read_text(), packets=packets)


# --------------------------------------------------------------------------
# probe: the engine's own perf_event_open, through the library


@dataclass(frozen=True)
class ProbeResult:
    """Whether this machine can count one event.

    ``supported`` is True only when the event opened and counted while
    enabled; otherwise ``reason`` says why (``"not supported: no PMU
    (ENOENT)"``).
    """

    name: str
    kind: str  # "hardware" or "software"
    supported: bool
    errno: int = 0
    reason: str | None = None

    def __post_init__(self):
        if self.kind not in ("hardware", "software"):
            raise ValueError(f"kind must be 'hardware' or 'software', not {self.kind!r}")
        if not self.supported and not self.reason:
            raise ValueError(f"{self.name}: unsupported without a reason")


def _probe_one(name: str) -> ProbeResult:
    from . import _core
    reason = _core.ffi.new("char[]", 256)
    err = _core.lib().fraglib_perf_probe(name.encode(), reason, len(reason))
    kind = "hardware" if name in _events()["HARDWARE_EVENTS"] else "software"
    if err == 0:
        return ProbeResult(name, kind, True)
    # -1: opened but never scheduled on a counter (no errno to report)
    return ProbeResult(name, kind, False, max(err, 0), _core.ffi.string(reason).decode())


@functools.lru_cache(maxsize=1)
def _probe_cached() -> tuple[ProbeResult, ...]:
    return tuple(_probe_one(name) for name in _events()["EVENTS"])


def probe(refresh: bool = False) -> dict[str, ProbeResult]:
    """Tell which of :data:`EVENTS` this machine can count.

    Each event is opened for the calling thread with the attributes the
    engine uses, enabled around a little work, read and closed.

    Parameters
    ----------
    refresh : bool
        Probe again instead of returning the cached answer.

    Returns
    -------
    dict of str to ProbeResult
        In :data:`EVENTS` order.
    """
    if refresh:
        _probe_cached.cache_clear()
    return {r.name: r for r in _probe_cached()}
