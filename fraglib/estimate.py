"""How long a run will take and how much it will keep, before it starts.

A run keeps one sample per batch (one per packet for ``sizes``) in the
engine and prints them all as JSON, so ``packets=10**11`` at ``batch=64``
would mean 1.6e9 samples, tens of GB: :func:`check_run_size` refuses it
up front. :func:`expected_seconds` turns the packet count into a duration
from a per-workload rate (measured on a 2-core VM; deliberately on the
slow side). The refusal uses that table alone; the estimate shown with the
progress switches to what this process measured once a run of the same
design and workload lasted a few seconds, so a sweep's later estimates
track the machine.
"""

from __future__ import annotations

import math

from .exceptions import ParameterError

__all__ = ["MAX_SAMPLES", "NS_PER_PACKET", "STARTUP_S", "expected_samples",
           "expected_seconds", "check_run_size", "observe"]

#: samples one run may keep (12 bytes each in the engine, ~20 in its JSON)
MAX_SAMPLES = 1 << 24
#: engine start, TSC calibration and arena prefault, seconds
STARTUP_S = 0.25
#: nanoseconds per unit of ``packets`` (tx: per message) on a slow machine
NS_PER_PACKET = {"fastpath": 40.0, "rx": 160.0, "tx": 8000.0, "ring": 120.0,
                 "sizes": 1500.0}
_DEFAULT_NS = 200.0

_seen: dict[tuple[str, str], float] = {}


def expected_samples(workload: str, packets: int, batch: int, warmup: int) -> int:
    """Samples the engine will keep (warm-up included)."""
    per = 1 if workload == "sizes" else max(int(batch), 1)
    return int(warmup) + math.ceil(int(packets) / per)


def expected_seconds(design: str, workload: str, packets: int, *,
                     learned: bool = True) -> float:
    """Wall-clock estimate of one engine run, startup included.

    ``learned=False`` uses only the fixed table (:data:`NS_PER_PACKET`):
    refusals depend on it alone, so they do not change with the load.
    """
    ns = NS_PER_PACKET.get(workload, _DEFAULT_NS)
    if learned:
        ns = _seen.get((design, workload), ns)
    return STARTUP_S + int(packets) * ns * 1e-9


#: runs shorter than this teach nothing (startup and load dominate)
_LEARN_MIN_S = 2.0


def observe(design: str, workload: str, packets: int, seconds: float) -> None:
    """Record a finished long run's wall time so later estimates use it."""
    if packets > 0 and seconds >= _LEARN_MIN_S:
        _seen[(design, workload)] = (seconds - STARTUP_S) / packets * 1e9


def check_run_size(design: str, workload: str, params: dict,
                   timeout: float | None) -> float:
    """Refuse a run too large to keep or to finish; return its expected seconds.

    Raises
    ------
    ParameterError
        ``packets`` would give more than :data:`MAX_SAMPLES` samples, or
        the run is expected to last longer than ``timeout``.
    """
    packets, batch = int(params["packets"]), int(params.get("batch", 64))
    warmup = int(params.get("warmup", 0))
    per = 1 if workload == "sizes" else max(batch, 1)
    if expected_samples(workload, packets, batch, warmup) > MAX_SAMPLES:
        most = (MAX_SAMPLES - warmup) * per
        raise ParameterError("packets", packets, f"at most {most:,} with batch={batch} on "
                             f"{workload}: a run keeps at most {MAX_SAMPLES:,} samples "
                             "(one per batch) and prints them all; raise batch or split "
                             "it into several runs")
    est = expected_seconds(design, workload, packets, learned=False)
    if timeout is not None and est > timeout:
        raise ParameterError("packets", packets, f"a count that ends within timeout="
                             f"{timeout:g} s: {design}/{workload} is expected to take about "
                             f"{est:,.0f} s; lower packets, or pass a larger timeout "
                             "(timeout=None: no limit)")
    return expected_seconds(design, workload, packets)
