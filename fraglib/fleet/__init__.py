"""Fleet runs on Dask: the same comparison on many machines, one store.

Workers are machines (``fraglib worker --scheduler ADDR``:
:mod:`fraglib.fleet.worker`); the client (:class:`Fleet`) checks their
source hash, sends each machine its builds and ABBA pairs
(:mod:`fraglib.fleet.tasks`) and writes the results under
``data/runs/<machine>/`` (:func:`compare_plan`, which
:func:`fraglib.compare.compare` calls when given ``cluster=`` or
``machines=``). :func:`fraglib.report.fleet.fleet_table` puts the
verdicts side by side. ``fraglib sweep --cluster`` and :func:`fraglib.notebooks.sweep`
with ``cluster=`` run the notebooks on every machine
(:func:`fraglib.fleet.sweep.sweep`).
"""

from .client import Fleet
from .executor import LOST_AFTER_S, FleetComparison, Lost, compare_plan
from .identity import Identity, describe, machine_name, source_hash
from .sweep import FleetSweep

__all__ = ["Fleet", "FleetComparison", "Lost", "compare_plan", "LOST_AFTER_S", "Identity",
           "describe", "machine_name", "source_hash", "FleetSweep"]
