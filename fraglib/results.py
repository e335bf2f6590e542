"""Frozen, validated result records.

A :class:`RunResult` is one engine run: its parameters, every per-batch
sample (warm-up samples kept and marked), the workload's metrics, the page
model's counters, the per-cache statistics (when compiled in), the
hardware/software counters as measured or as "not measured" with the
reason, and the provenance (machine, build, git, time).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

__all__ = ["RunResult", "SCHEMA_VERSION"]

#: bump when the stored layout changes
SCHEMA_VERSION = 1


def _frozen(d: Mapping | None) -> Mapping:
    return MappingProxyType(dict(d or {}))


def _plain(d):
    """A JSON-safe copy of nested mappings (a frozen spec's proxies)."""
    if isinstance(d, Mapping):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_plain(v) for v in d]
    return d


@dataclass(frozen=True)
class RunResult:
    """One run of one workload on one design.

    Attributes
    ----------
    run_id : str
        Unique id (also the file name in the store).
    design, workload : str
    params : Mapping
        Every engine parameter as the engine echoed it back.
    tsc_hz : float
        Calibrated TSC rate (ticks per second).
    cycles : numpy.ndarray
        TSC cycles per sample (warm-up samples first).
    packets : numpy.ndarray
        Packets per sample.
    warmup_samples : int
        How many leading samples are warm-up.
    metrics, pages, stats : Mapping
        Workload metrics, page-model counters, per-cache statistics
        (empty when the engine was built without FRAG_STATS).
    counters : tuple of Mapping
        One mapping per measured thread, as the engine printed it.
    provenance : Mapping
        Machine, build, git and time.
    rounds : numpy.ndarray or None
        Round index of each sample in an interleaved run
        (:func:`fraglib.run_pair`; a round starts right after the peer
        engine ran), else None.
    spec : Mapping or None
        The :class:`~fraglib.spec.RunSpec` it ran, as
        :meth:`~fraglib.spec.RunSpec.as_dict` (None for runs stored before
        specs were recorded); :meth:`run_spec` rebuilds it.
    """

    design: str
    workload: str
    params: Mapping[str, Any]
    tsc_hz: float
    cycles: np.ndarray
    packets: np.ndarray
    warmup_samples: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    pages: Mapping[str, float] = field(default_factory=dict)
    stats: Mapping[str, float] = field(default_factory=dict)
    counters: tuple = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    schema: int = SCHEMA_VERSION
    rounds: Any = None
    spec: Mapping[str, Any] | None = None

    def __post_init__(self):
        cycles = np.asarray(self.cycles, dtype=np.int64)
        packets = np.asarray(self.packets, dtype=np.int64)
        if cycles.ndim != 1 or cycles.shape != packets.shape:
            raise ValueError(f"cycles {cycles.shape} and packets {packets.shape} "
                             "must be 1-d arrays of one length")
        if not 0 <= self.warmup_samples <= len(cycles):
            raise ValueError(f"warmup_samples={self.warmup_samples} outside "
                             f"[0, {len(cycles)}]")
        if len(cycles) and (packets <= 0).any():
            raise ValueError("every sample must cover at least one packet")
        if (cycles < 0).any():
            raise ValueError("negative cycle count in samples")
        if not (self.tsc_hz > 0):
            raise ValueError(f"tsc_hz={self.tsc_hz!r} must be > 0")
        cycles.setflags(write=False)
        packets.setflags(write=False)
        object.__setattr__(self, "cycles", cycles)
        object.__setattr__(self, "packets", packets)
        for name in ("params", "metrics", "pages", "stats", "provenance"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "counters", tuple(_frozen(c) for c in self.counters))
        if self.rounds is not None:
            rounds = np.asarray(self.rounds, dtype=np.int64)
            if rounds.shape != cycles.shape:
                raise ValueError(f"rounds {rounds.shape} must have one entry per "
                                 f"sample ({cycles.shape})")
            rounds.setflags(write=False)
            object.__setattr__(self, "rounds", rounds)
        if self.spec is not None:
            object.__setattr__(self, "spec", _frozen(self.spec))

    # -- derived views ---------------------------------------------------------
    def run_spec(self):
        """The :class:`~fraglib.spec.RunSpec` this run executed (validated
        again), or None for a run stored without one."""
        from .spec import RunSpec
        return None if self.spec is None else RunSpec.from_dict(self.spec)

    @property
    def labels(self) -> Mapping[str, Any]:
        """The spec's labels (role, pair, build_id, process, comparison,
        order, name); empty without a spec."""
        return _frozen((self.spec or {}).get("labels"))

    @property
    def measured(self) -> slice:
        """Slice of the samples after warm-up."""
        return slice(self.warmup_samples, None)

    @property
    def cycles_per_packet(self) -> np.ndarray:
        """TSC cycles per packet of each measured (non warm-up) sample."""
        return self.cycles[self.measured] / self.packets[self.measured]

    @property
    def median_cycles_per_packet(self) -> float:
        cpp = self.cycles_per_packet
        return float(np.median(cpp)) if len(cpp) else float("nan")

    @property
    def tsc_step(self) -> float | None:
        """TSC step in cycles the engine detected at calibration (provenance).

        None for runs stored before it was recorded.
        """
        v = self.provenance.get("tsc_step")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def process_summary(self) -> dict:
        """:func:`fraglib.stats.process_value` of the measured samples.

        Without a recorded TSC step (older runs) the cut uses the samples'
        robust spread alone (step taken as 1 cycle).
        """
        from .stats import process_value

        return process_value(self.cycles[self.measured], self.packets[self.measured],
                             tsc_step=self.tsc_step or 1.0)

    @property
    def value_cycles_per_packet(self) -> float:
        """This process's cycles per packet, the value paired comparisons use.

        The packet-weighted mean of the measured samples after dropping
        disturbed ones (:func:`fraglib.stats.process_value`): unlike the
        median it is not held on the grid of a coarse TSC.
        """
        return self.process_summary["value"]

    @property
    def ns_per_packet(self) -> np.ndarray:
        return self.cycles_per_packet * 1e9 / self.tsc_hz

    @property
    def total_packets(self) -> int:
        return int(self.packets[self.measured].sum())

    def counter_table(self):
        """Counters per thread and event, with per-packet values and status."""
        from . import counters as _counters
        return _counters.parse_counters([dict(c) for c in self.counters],
                                       packets=self.total_packets).to_frame()

    def to_dict(self) -> dict:
        """JSON-safe dict (arrays as lists); :meth:`from_dict` inverts it."""
        return {
            "schema": self.schema, "run_id": self.run_id, "design": self.design,
            "workload": self.workload, "params": dict(self.params),
            "tsc_hz": self.tsc_hz, "cycles": self.cycles.tolist(),
            "packets": self.packets.tolist(), "warmup_samples": self.warmup_samples,
            "metrics": dict(self.metrics), "pages": dict(self.pages),
            "stats": dict(self.stats), "counters": [dict(c) for c in self.counters],
            "provenance": dict(self.provenance),
            # only interleaved runs have it: older documents stay as they were
            **({"rounds": self.rounds.tolist()} if self.rounds is not None else {}),
            **({"spec": _plain(self.spec)} if self.spec is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunResult":
        d = dict(d)
        schema = d.pop("schema", SCHEMA_VERSION)
        if schema != SCHEMA_VERSION:
            raise ValueError(f"result schema {schema} is not {SCHEMA_VERSION}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        return (f"RunResult({self.design}/{self.workload}, "
                f"{self.total_packets} packets, "
                f"{self.value_cycles_per_packet:.2f} cycles/packet, "
                f"run_id={self.run_id})")
