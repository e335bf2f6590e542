"""Experiment grids the notebooks run: many engine runs, interleaved.

Each function returns a tidy DataFrame, one row per run, so a notebook
only plots and states what the numbers say. Designs run in a fresh random
order in every round (interleaving cancels drift on a noisy machine), and
every run is stored (:mod:`fraglib.store`) unless ``store=False``.
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections.abc import Iterable, Sequence

import pandas as pd
from tqdm.auto import tqdm

from . import stats as _stats
from .api import run
from .exceptions import EngineError, ParameterError

__all__ = ["grid", "fastpath_grid", "pairwise", "headline"]


def grid(designs: Sequence[str], workload: str, cells: Iterable[dict], *,
         repeats: int = 3, seed: int = 0, progress: bool = True,
         **run_kwargs) -> pd.DataFrame:
    """Run every design on every cell, ``repeats`` rounds, interleaved.

    Parameters
    ----------
    designs : sequence of str
    workload : str
    cells : iterable of dict
        Parameter sets (e.g. ``{"size": 256, "align": 1}``).
    repeats : int
        Rounds; each round runs every (cell, design) once in random order.
    seed : int
        Seed of the run order.
    progress : bool
        Show a progress bar.
    **run_kwargs
        Passed to :func:`fraglib.run` (packets, store, root, ...).

    Returns
    -------
    pandas.DataFrame
        One row per run: design, the cell's parameters, repeat, flag (what
        the run warned about, e.g. page faults in the timed region; empty
        when nothing), median/min cycles per packet, ns per packet, run_id.
        A run whose engine failed (:class:`~fraglib.exceptions.EngineError`)
        has no row; it is listed, with the error, in ``df.attrs["failed"]``.
    """
    designs = list(dict.fromkeys(designs))
    if not designs:
        raise ParameterError("designs", designs, "at least one design name")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ParameterError("repeats", repeats, "an integer >= 1")
    cells = [dict(c) for c in cells]
    rng = random.Random(seed)
    jobs = []
    for rep in range(repeats):
        for ci, cell in enumerate(cells):
            order = designs[:]
            rng.shuffle(order)
            jobs += [(rep, ci, cell, d) for d in order]
    rows, failed = [], []
    for rep, ci, cell, design in tqdm(jobs, disable=not progress, desc=workload):
        with warnings.catch_warnings(record=True) as caught:   # flags become data
            warnings.simplefilter("always")
            try:
                r = run(design, workload, **cell, **run_kwargs)
            except EngineError as e:  # a crashed engine costs its cell, not the sweep
                failed.append({"design": design, **cell, "cell": ci, "repeat": rep,
                               "error": str(e)})
                continue
        rows.append({"design": design, **cell, "cell": ci, "repeat": rep,
                     "flag": "; ".join(dict.fromkeys(str(w.message) for w in caught)),
                     "median_cpp": r.median_cycles_per_packet,
                     "value_cpp": r.value_cycles_per_packet,
                     "min_cpp": float(r.cycles_per_packet.min()),
                     "ns_per_packet": float(pd.Series(r.ns_per_packet).median()),
                     "run_id": r.run_id})
    df = pd.DataFrame(rows)
    df.attrs["failed"] = failed   # cells the engine could not measure (EngineError)
    return df


def fastpath_grid(designs: Sequence[str] = ("topdown", "bottomup"),
                  sizes: Sequence[int] = (64, 256, 1024, 2048),
                  alignments: Sequence[int] = (1,), *, packets: int = 65536,
                  repeats: int = 8, **kwargs) -> pd.DataFrame:
    """The fastpath workload over sizes x alignments (see :func:`grid`)."""
    cells = [{"size": s, "align": a} for s, a in itertools.product(sizes, alignments)]
    return grid(designs, "fastpath", cells, repeats=repeats, packets=packets, **kwargs)


def pairwise(df: pd.DataFrame, a: str, b: str, by: Sequence[str] = ("size", "align"),
             *, resamples: int = 10000, seed: int = 0) -> pd.DataFrame:
    """B against A in every cell: paired ratio, CI and verdict.

    Runs of the same repeat form a pair; with a single build the CI is a
    bootstrap over pairs. Holm-corrected across cells. Each run's value is
    ``value_cpp`` (:func:`fraglib.stats.process_value`), or ``median_cpp``
    for a frame made before that column existed.
    """
    col = "value_cpp" if "value_cpp" in df.columns else "median_cpp"
    cells = []
    for key, sub in df[df.design.isin([a, b])].groupby(list(by), sort=True):
        obs = sub.assign(build=0, pair=sub["repeat"], value=sub[col])
        v = _stats.verdict(obs[["build", "pair", "design", "value"]], a, b,
                           resamples=resamples, seed=seed)
        cells.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                      "verdict": v})
    return _stats.verdict_table(cells)


def headline(table: pd.DataFrame, a: str, b: str) -> str:
    """One sentence: which design was faster, by how much, where it holds."""
    eff = table["effect"]
    lo, hi = (eff.min() - 1) * 100, (eff.max() - 1) * 100
    kinds = table["kind"].value_counts().to_dict()
    faster = kinds.get("faster", 0)
    slower = kinds.get("slower", 0)
    n = len(table)
    if slower and not faster:
        verb = f"{b} was slower than {a} in {slower} of {n} cells"
    elif faster and not slower:
        verb = f"{b} was faster than {a} in {faster} of {n} cells"
    elif faster and slower:
        verb = f"{b} was faster in {faster} and slower in {slower} of {n} cells"
    else:
        verb = f"no difference between {b} and {a} was resolved in any of {n} cells"
    return (f"{verb}; per-cell cycles-per-packet ratio {b}/{a} ranged from "
            f"{lo:+.1f} % to {hi:+.1f} % (after Holm correction, "
            f"{n - faster - slower} cells unresolved).")
