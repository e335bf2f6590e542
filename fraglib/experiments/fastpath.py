"""The fastpath notebook's grid: alloc + free over fragment sizes and alignments.

Returns one row per run (:func:`fraglib.experiments.schedule.grid`); the
notebook compares designs with :func:`fraglib.experiments.cells.pairwise`
and states the result with :func:`fraglib.report.answers.headline`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from .schedule import grid

__all__ = ["fastpath_grid"]


def fastpath_grid(designs: Sequence[str] = ("topdown", "bottomup"),
                  sizes: Sequence[int] = (64, 256, 1024, 2048),
                  alignments: Sequence[int] = (1,), *, packets: int = 65536,
                  repeats: int = 8, **kwargs) -> pd.DataFrame:
    """The fastpath workload over sizes x alignments (see :func:`fraglib.experiments.schedule.grid`)."""
    cells = [{"size": s, "align": a} for s, a in itertools.product(sizes, alignments)]
    return grid(designs, "fastpath", cells, repeats=repeats, packets=packets, **kwargs)
