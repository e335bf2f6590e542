"""fraglib: settle the 2024 page_frag debate with measurements.

Faithful user-space re-implementations of every page-fragment allocator in
the netdev debate (top-down, bottom-up and the rest), realistic per-packet
workloads, counters where the machine has them, deterministic simulation
where it does not, and statistics that say whether a difference is real.

Quick start::

    import fraglib
    fraglib.designs()                       # what can be measured
    fraglib.workloads()                     # what a run can do (fraglib.workload_names())
    r = fraglib.run("bottomup", "fastpath", size=256)
    r.median_cycles_per_packet
    c = fraglib.FragCache("topdown"); c.alloc(256)   # poke at a live cache
    fraglib.store.runs()                    # every stored run (DuckDB)

What the notebooks run is in :mod:`fraglib.experiments` (one module per
notebook over one interleaved-rounds scheduler); what they show, sentences,
figures and tables, in :mod:`fraglib.report`. Neither is imported here (they
pull in plotting and statistics packages): ``from fraglib.experiments import rx``.
"""

import types as _types
from importlib import metadata as _metadata

from . import designs, store, workloads
from .api import run
from .cache import FragCache, init_page_model
from .designs import Design, design_names, get_design
from .exceptions import (BuildError, CollectorUnavailable, EngineError, FraglibError,
                         ParameterError, StoreError, UnknownNameError)
from .results import RunResult
from .workloads import Workload, get_workload, workload_names

try:                               # single source: pyproject.toml's [project] version
    __version__ = _metadata.version("fraglib")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


class _Registry(_types.ModuleType):
    """A registry module that, called, lists its entries.

    ``fraglib.designs`` and ``fraglib.workloads`` are the modules (so
    ``fraglib.workloads.RING_PRESETS`` and ``import fraglib.designs as d``
    work) and ``fraglib.designs()`` / ``fraglib.workloads()`` return every
    :class:`Design` / :class:`Workload`, as the modules' own functions of
    the same name do.
    """

    def __call__(self):
        return getattr(self, self.__name__.rpartition(".")[2])()


designs.__class__ = _Registry
workloads.__class__ = _Registry

__all__ = [
    "run", "designs", "design_names", "get_design", "Design", "FragCache",
    "workloads", "workload_names", "get_workload", "Workload",
    "init_page_model", "RunResult", "store", "FraglibError", "ParameterError",
    "UnknownNameError", "BuildError", "EngineError", "CollectorUnavailable",
    "StoreError", "__version__",
]
