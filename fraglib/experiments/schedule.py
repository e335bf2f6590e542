"""The interleaved-rounds scheduler every experiment grid runs on.

Many engine runs are compared only if drift on a noisy machine hits them
alike, so every grid runs in rounds: each round visits the cells in order
and runs each cell's items (designs, or on/off settings) in a fresh random
order. :func:`schedule` is that order, :func:`run_rounds` executes it with
each run's warnings recorded as data (:func:`flag_text`), and the two grid
runners build on it:

* :func:`grid` — every design on every cell, one row per run (the fastpath
  notebook);
* :func:`cell_grid` — the same with rows for (design, cell) pairs a workload
  refuses or this machine cannot run (``status`` ``"refused: ..."`` or
  ``"skipped: ..."``, NaN measurements), never dropped (rx, tx, ring,
  memory).

Runs of one round form a pair for the verdicts
(:mod:`fraglib.experiments.cells`).
"""

from __future__ import annotations

import dataclasses
import os
import random
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..api import default_cpu, run
from ..designs import design_names, get_design
from ..exceptions import EngineError, ParameterError
from ..workloads import get_workload

__all__ = ["MEASURED", "Job", "schedule", "run_rounds", "flag_text", "run_flags", "grid",
           "cell_grid", "other_cpu", "remote_cells", "check_designs", "select_designs",
           "check_positive", "check_nonempty"]

#: status of a row that was run
MEASURED = "measured"
_FREE_ON = {False: "this CPU", True: "another CPU"}
_FAULTS = "page faults in the timed region"


# ---- the loop, written once ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    """One run of a schedule: its round, its cell (group) and its item."""

    round: int
    group: int
    item: object


def schedule(groups: Sequence[Sequence], repeats: int, seed: int) -> list[Job]:
    """The run order: ``repeats`` rounds, each group's items freshly shuffled.

    Parameters
    ----------
    groups : sequence of sequences
        One sequence of items per cell (e.g. the designs a cell runs).
    repeats : int
        Rounds (>= 1).
    seed : int
        Seed of the order (one :class:`random.Random` for the whole schedule).

    Returns
    -------
    list of Job
        In run order: round 0's groups in order, each group's items shuffled,
        then round 1, ...
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ParameterError("repeats", repeats, "an integer >= 1")
    rng = random.Random(seed)
    jobs = []
    for rep in range(repeats):
        for gi, items in enumerate(groups):
            order = list(items)
            rng.shuffle(order)
            jobs += [Job(rep, gi, x) for x in order]
    return jobs


def flag_text(caught: Iterable[warnings.WarningMessage]) -> str:
    """The distinct messages of recorded warnings, joined by ``"; "``."""
    return "; ".join(dict.fromkeys(str(w.message) for w in caught))


def run_rounds(jobs: Sequence[Job], fn: Callable[[Job], object], *,
               catch: tuple[type[BaseException], ...] = (), progress: bool = True,
               desc: str | None = None) -> Iterator[tuple[Job, object, str, BaseException | None]]:
    """Run `fn` for every job, in order, with its warnings recorded as data.

    Parameters
    ----------
    jobs : sequence of Job
        :func:`schedule` output.
    fn : callable
        Called with each job; returns the run's result.
    catch : tuple of exception types
        Errors that cost their job, not the whole schedule: the job is
        yielded with the error instead of a result.
    progress : bool
        Show a progress bar.
    desc : str, optional
        Its label.

    Yields
    ------
    (Job, result or None, str, exception or None)
        The job, what `fn` returned, :func:`flag_text` of its warnings, and
        the caught error (None when it ran).
    """
    for job in tqdm(jobs, disable=not progress, desc=desc):
        with warnings.catch_warnings(record=True) as caught:   # flags become data
            warnings.simplefilter("always")
            try:
                out = fn(job)
            except catch as e:
                yield job, None, "", e
                continue
        yield job, out, flag_text(caught), None


def run_flags(caught: Sequence[warnings.WarningMessage], n_runs: int | None = None
              ) -> tuple[int, str]:
    """Turn the warnings of a comparison's engine runs into data.

    :func:`fraglib.run` warns when a run had page faults in its timed region
    (e.g. the ``malloc`` baseline, whose arena is glibc's). A report shows
    such a cell with a footnote instead of a warning block.

    Parameters
    ----------
    caught : sequence of warnings.WarningMessage
        What ``warnings.catch_warnings(record=True)`` recorded around the
        comparison.
    n_runs : int, optional
        Engine processes of the comparison, named in the text.

    Returns
    -------
    (int, str)
        Runs with page faults in the timed region, and one line describing
        every flag (empty when there is none). Only the warning messages are
        kept, never the file and line they were raised from.
    """
    faulted, designs, most, other = 0, [], 0, []
    for w in caught:
        msg = str(w.message)
        if _FAULTS in msg:
            faulted += 1
            head, _, rest = msg.partition(": ")
            designs.append(head.split("/")[0])
            n = rest.split(" ", 1)[0]
            most = max(most, int(n)) if n.isdigit() else most
        else:
            other.append(msg)
    parts = []
    if faulted:
        of = f" of {n_runs}" if n_runs else ""
        who = ", ".join(dict.fromkeys(designs))
        parts.append(f"{_FAULTS} in {faulted}{of} engine runs ({who}; up to {most} faults "
                     "per run): its cycles include the kernel's fault handling")
    parts += list(dict.fromkeys(other))
    return faulted, "; ".join(parts)


# ---- checks and CPUs ----------------------------------------------------------------


def _allowed_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def other_cpu(cpu: int | None = None) -> tuple[int | None, str | None]:
    """A CPU other than the engine's, for a free on another CPU.

    Parameters
    ----------
    cpu : int, optional
        The engine's (first thread's) CPU; default
        :func:`fraglib.api.default_cpu`.

    Returns
    -------
    (int, None) or (None, str)
        The highest other allowed CPU, or None and why there is none.
    """
    cpu = default_cpu() if cpu is None else cpu
    others = [c for c in _allowed_cpus() if c != cpu]
    if not others:
        return None, (f"only CPU {cpu} is allowed (sched_getaffinity): no second CPU "
                      "to free on")
    return max(others), None


def check_designs(designs: Iterable[str] | None) -> list[str]:
    """Registered design names, deduplicated; None: every design."""
    names = list(dict.fromkeys(design_names() if designs is None else designs))
    if not names:
        raise ParameterError("designs", designs, "at least one design name")
    for d in names:
        get_design(d)
    return names


def select_designs(designs: Iterable[str] | None, *, exclude: Iterable[str] = ()
                   ) -> list[str]:
    """:func:`check_designs` of `designs` less `exclude` (names checked too).

    Parameters
    ----------
    designs : iterable of str, optional
        None: every design in the registry (:func:`fraglib.design_names`).
    exclude : iterable of str
        Registered designs to leave out (e.g. slow baselines).
    """
    exclude = list(exclude)
    skip = set(check_designs(exclude)) if exclude else set()
    names = [d for d in check_designs(designs) if d not in skip]
    if not names:
        raise ParameterError("exclude", sorted(skip), "fewer designs than selected "
                             "(every design was excluded)")
    return names


def check_positive(name: str, v: object) -> int:
    """`v` if it is an integer >= 1, else a ParameterError naming `name`."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ParameterError(name, v, "an integer >= 1")
    return v


def check_nonempty(name: str, values: Iterable, allowed: Iterable | None = None) -> list:
    """`values` deduplicated, at least one, each in `allowed` when given."""
    out = list(dict.fromkeys(values))
    if not out:
        raise ParameterError(name, values, "at least one value")
    if allowed is not None:
        allowed = list(allowed)
        for v in out:
            if v not in allowed:
                raise ParameterError(name, v, "one of " + ", ".join(map(str, allowed)))
    return out


def remote_cells(labels: Sequence[tuple[dict, dict]], remote: Sequence[bool],
                 cpu: int | None) -> list[dict]:
    """:func:`cell_grid` cells freed on this CPU and/or another (``cpu2``)."""
    cpu2, why = other_cpu(cpu)
    cells = []
    for lab, params in labels:
        for rem in remote:
            cells.append({"labels": {**lab, "remote": bool(rem), "free_on": _FREE_ON[bool(rem)]},
                          "params": {**params, "cpu2": cpu2 if rem and cpu2 is not None else -1},
                          "skip": why if rem and cpu2 is None else None})
    return cells


# ---- the two grids ------------------------------------------------------------------


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
    cells = [dict(c) for c in cells]
    jobs = schedule([designs] * len(cells), repeats, seed)
    rows, failed = [], []
    for job, r, flag, err in run_rounds(
            jobs, lambda j: run(j.item, workload, **cells[j.group], **run_kwargs),
            catch=(EngineError,), progress=progress, desc=workload):
        head = {"design": job.item, **cells[job.group], "cell": job.group,
                "repeat": job.round}
        if err is not None:   # a crashed engine costs its cell, not the sweep
            failed.append({**head, "error": str(err)})
            continue
        rows.append({**head, "flag": flag,
                     "median_cpp": r.median_cycles_per_packet,
                     "value_cpp": r.value_cycles_per_packet,
                     "min_cpp": float(r.cycles_per_packet.min()),
                     "ns_per_packet": float(pd.Series(r.ns_per_packet).median()),
                     "run_id": r.run_id})
    df = pd.DataFrame(rows)
    df.attrs["failed"] = failed   # cells the engine could not measure (EngineError)
    return df


def _nan_row(metrics: Sequence[str]) -> dict:
    return {"median_cpp": np.nan, "min_cpp": np.nan, "ns_per_packet": np.nan,
            **{m: np.nan for m in metrics}, "run_id": None}


def _metric(r, name: str) -> float:
    v = r.metrics.get(name)
    return np.nan if v is None else float(v)


def cell_grid(designs: Sequence[str], workload: str, cells: Sequence[dict], *,
              repeats: int, seed: int, progress: bool, metrics: Sequence[str],
              run_kwargs: Mapping, param_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Run each cell's accepted designs ``repeats`` rounds, interleaved.

    Parameters
    ----------
    designs : sequence of str
    workload : str
    cells : sequence of dict
        Each with ``labels`` (columns of its rows), ``params`` (passed to
        :func:`fraglib.run`) and ``skip`` (why the cell cannot run on this
        machine, or None).
    repeats, seed, progress
        As in :func:`grid`.
    metrics : sequence of str
        Engine metrics kept as columns (NaN when a run did not report one).
    run_kwargs : mapping
        Passed to every run (a cell's ``params`` win).
    param_columns : sequence of str
        Run parameters kept as columns, as the run recorded them.

    Returns
    -------
    pandas.DataFrame
        One row per run with ``status`` :data:`MEASURED`, and one per
        refused or skipped (design, cell) with NaN measurements; sorted by
        cell, design (in the given order) and repeat.
    """
    w = get_workload(workload)
    rows: list[dict] = []
    accepted: list[list[str]] = []
    for ci, cell in enumerate(cells):
        ok = []
        for d in designs:
            reason = f"skipped: {cell['skip']}" if cell.get("skip") else None
            if reason is None:
                why = w.refusal(d, {**cell["params"],
                                    **{k: v for k, v in run_kwargs.items()
                                       if k in ("size", "align", "batch")}})
                reason = f"refused: {why}" if why else None
            if reason:
                rows.append({"design": d, **cell["labels"], "cell": ci, "repeat": np.nan,
                             **{k: None for k in param_columns}, "status": reason,
                             "note": w.adaptation(d) or "", "flag": "", **_nan_row(metrics)})
            else:
                ok.append(d)
        accepted.append(ok)
    jobs = schedule(accepted, repeats, seed)
    for job, r, flag, _ in run_rounds(
            jobs, lambda j: run(j.item, workload, **{**run_kwargs, **cells[j.group]["params"]}),
            progress=progress, desc=workload):
        d = job.item
        rows.append({"design": d, **cells[job.group]["labels"], "cell": job.group,
                     "repeat": job.round, **{k: r.params.get(k) for k in param_columns},
                     "status": MEASURED, "note": w.adaptation(d) or "", "flag": flag,
                     "median_cpp": r.median_cycles_per_packet,
                     "min_cpp": float(r.cycles_per_packet.min()),
                     "ns_per_packet": float(np.median(r.ns_per_packet)),
                     **{m: _metric(r, m) for m in metrics}, "run_id": r.run_id})
    df = pd.DataFrame(rows)
    order = {d: i for i, d in enumerate(designs)}
    return (df.assign(_d=df["design"].map(order))
              .sort_values(["cell", "_d", "repeat"], na_position="first", kind="stable")
              .drop(columns="_d").reset_index(drop=True))
