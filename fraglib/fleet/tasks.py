"""What a fleet worker runs: builds and pairs, on its own machine, storing nothing.

The functions here execute inside a worker process (they are pickled by
reference, so the worker needs the same fraglib: the client checks the
source hash first). They build with the worker's compiler for the worker's
CPU, measure, and hand the results back; the client writes them, so a
worker killed mid-task leaves no file behind.
"""

from __future__ import annotations

import dataclasses
import time

from ..spec import RunSpec
from .identity import machine_name

__all__ = ["make_builds", "run_pair"]


def make_builds(a: str, b: str, indices, seed: int, aa: bool, slowdown: int,
                seeds) -> tuple[list, float]:
    """Compile (or reuse) both engines of each build on this machine
    (:func:`fraglib.compare._make_builds`); returns them and the seconds taken."""
    from ..compare import _make_builds

    t0 = time.monotonic()
    builds = _make_builds(a, b, indices, seed, aa, slowdown, seeds)
    return builds, time.monotonic() - t0


def run_pair(specs: tuple[RunSpec, RunSpec], order: str, *, interleave: bool,
             handoff_samples: int, metadata: bool) -> tuple[list, dict, str, float]:
    """Run one ABBA pair here; nothing is stored.

    Returns
    -------
    (results, timing, machine, elapsed)
        The two :class:`~fraglib.results.RunResult` in the order they ran,
        ``{run_id: (seconds from the task's start, wall seconds)}``, this
        machine's identity (also each result's ``machine`` provenance) and
        the task's seconds (the client, which may have queued the task
        ahead, dates the pair from it).
    """
    from ..api import run_spec, run_spec_pair

    machine = machine_name()
    t0 = time.monotonic()
    if interleave:
        results = list(run_spec_pair(*specs, first=order[0], handoff_samples=handoff_samples,
                                     store=False, metadata=metadata, resume=False))
        half = (time.monotonic() - t0) / 2.0
        timing = {r.run_id: (0.0, half) for r in results}
    else:
        in_order = specs if order == "AB" else specs[::-1]
        results, timing = [], {}
        for spec in in_order:
            t1 = time.monotonic()
            results.append(run_spec(spec, store=False, metadata=metadata, resume=False))
            timing[results[-1].run_id] = (t1 - t0, time.monotonic() - t1)
    results = [dataclasses.replace(r, provenance={**r.provenance, "machine": machine})
               for r in results]
    return results, timing, machine, time.monotonic() - t0
