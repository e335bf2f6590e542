"""Who a fleet worker is: its machine identity, source hash and description.

A worker is a machine. Its **identity** is :func:`fraglib.metadata.machine_id`
(the ``data/runs/<machine>/`` directory its results land in), or
``$FRAGLIB_MACHINE_ID`` where set: a test-only override, so that two worker
processes on one host act as two machines. Its **source hash**
(:func:`source_hash`) covers the C sources (:func:`fraglib._build.source_hash`,
what the engine is built from) and the Python package (what plans, runs and
reduces the measurements); a client refuses a worker whose hash differs from
its own (:class:`~fraglib.exceptions.SourceMismatchError`).
``$FRAGLIB_FLEET_SOURCE_HASH`` overrides the hash (test-only: a worker that
pretends to run other sources).

Every task the client submits asks for :data:`MACHINE` = 1 (one measurement
at a time per machine) and for the machine's own resource
(:func:`machine_resource`), which pins it to that machine even after its
worker process was restarted under a new address.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
from pathlib import Path

from .. import metadata as _metadata
from .._build import source_hash as _c_source_hash
from ..exceptions import ParameterError

__all__ = ["MACHINE", "MACHINE_VAR", "HASH_VAR", "Identity", "machine_name",
           "machine_resource", "source_hash", "identity", "describe", "worker_resources"]

#: the resource every fleet task asks one unit of: one measurement per machine
MACHINE = "machine"
#: test-only override of a worker's machine identity
MACHINE_VAR = "FRAGLIB_MACHINE_ID"
#: test-only override of a worker's source hash
HASH_VAR = "FRAGLIB_FLEET_SOURCE_HASH"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PKG = Path(__file__).resolve().parent.parent


def machine_name() -> str:
    """This process's machine identity (``$FRAGLIB_MACHINE_ID`` or
    :func:`fraglib.metadata.machine_id`)."""
    name = os.environ.get(MACHINE_VAR)
    if name is None:
        return _metadata.machine_id()
    if not _NAME.fullmatch(name):
        raise ParameterError(MACHINE_VAR, name, "a machine name of lower-case letters, "
                             "digits, '_' and '-' (at most 64, starting with a letter "
                             "or digit)")
    return name


def machine_resource(machine: str) -> str:
    """The Dask resource only ``machine``'s worker offers."""
    return f"{MACHINE}:{machine}"


def worker_resources(machine: str) -> dict[str, int]:
    """The resources a worker of ``machine`` offers."""
    return {MACHINE: 1, machine_resource(machine): 1}


@functools.lru_cache(maxsize=None)
def _python_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(_PKG.rglob("*.py")):
        h.update(p.relative_to(_PKG).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def source_hash() -> str:
    """16 hex digits over the C sources and the Python package of this fraglib
    (``$FRAGLIB_FLEET_SOURCE_HASH`` where set: tests)."""
    override = os.environ.get(HASH_VAR)
    if override:
        return override
    h = hashlib.sha256(f"{_c_source_hash()}:{_python_digest()}".encode())
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Identity:
    """What a worker says about itself when the client asks.

    Attributes
    ----------
    machine : str
        Machine identity (its store directory).
    source_hash : str
        :func:`source_hash` of the worker's fraglib.
    pid : int
        The worker process (it changes when a nanny restarts the worker).
    """

    machine: str
    source_hash: str
    pid: int


def identity() -> Identity:
    """This process's :class:`Identity` (cheap: run on every worker on connect)."""
    return Identity(machine_name(), source_hash(), os.getpid())


@functools.lru_cache(maxsize=1)
def describe() -> dict:
    """Machine identity and description: CPU model, kernel, TSC rate, counters.

    Everything :func:`fraglib.metadata.machine_metadata` reads, plus the
    calibrated TSC rate (a 64-packet engine run; "not measured: <why>" when
    it fails) and which perf counters open here (:func:`fraglib.counters.probe`).
    Cached per process.
    """
    from .. import counters
    from ..api import run
    from ..exceptions import FraglibError

    meta = _metadata.machine_metadata()
    out = {"machine": machine_name(), "source_hash": source_hash(),
           "cpu_model": meta.get("cpu_model", "unknown"),
           "kernel": meta.get("kernel", "unknown")}
    try:
        out["tsc_hz"] = float(run("topdown", packets=64, warmup=0, store=False,
                                  metadata=False).tsc_hz)
    except FraglibError as e:
        out["tsc_hz"] = f"not measured: {e}"
    try:
        probe = counters.probe()
        out["counters"] = sorted(n for n, p in probe.items() if p.supported)
        out["counters_not_measured"] = {n: p.reason for n, p in probe.items()
                                        if not p.supported}
    except FraglibError as e:
        out["counters"] = []
        out["counters_not_measured"] = {"*": str(e)}
    out["metadata"] = meta
    return out
