"""fraglib: settle the 2024 page_frag debate with measurements.

Faithful user-space re-implementations of every page-fragment allocator in
the netdev debate (top-down, bottom-up and the rest), realistic per-packet
workloads, counters where the machine has them, deterministic simulation
where it does not, and statistics that say whether a difference is real.

Quick start::

    import fraglib
    fraglib.designs()                       # what can be measured
    r = fraglib.run("bottomup", "fastpath", size=256)
    r.median_cycles_per_packet
    c = fraglib.FragCache("topdown"); c.alloc(256)   # poke at a live cache
    fraglib.store.runs()                    # every stored run (DuckDB)

What the notebooks run is in :mod:`fraglib.experiments` (one module per
notebook over one interleaved-rounds scheduler); what they show, sentences,
figures and tables, in :mod:`fraglib.report`. Neither is imported here (they
pull in plotting and statistics packages): ``from fraglib.experiments import rx``.
"""

from . import store, workloads
from .api import run
from .cache import FragCache, init_page_model
from .designs import Design, design_names, designs, get_design
from .exceptions import (BuildError, CollectorUnavailable, EngineError, FraglibError,
                         ParameterError, StoreError, UnknownNameError)
from .results import RunResult
from .workloads import get_workload, workload_names

__version__ = "0.1.0"

__all__ = [
    "run", "designs", "design_names", "get_design", "Design", "FragCache",
    "workload_names", "get_workload",
    "init_page_model", "RunResult", "store", "FraglibError", "ParameterError",
    "UnknownNameError", "BuildError", "EngineError", "CollectorUnavailable",
    "StoreError", "__version__",
]
