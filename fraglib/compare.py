"""A/B comparison of two designs, with a verdict a sceptical reviewer accepts.

:func:`compare` is the experiment of docs/methodology.md §8-9 in one call:

* **Three levels of repetition.** ``builds`` layout builds (seeds derived from
  ``seed``; :mod:`fraglib._build` shuffles the link order, picks the function
  alignment and pads the text) ⊃ ``processes`` fresh engine processes per
  design per build (each with a random environment pad; ASLR on) ⊃ samples
  (each process contributes the packet-weighted mean of its measured
  samples after dropping disturbed ones, :func:`fraglib.stats.process_value`,
  which a coarse TSC does not quantize; warm-up samples are discarded and
  recorded).
* **Randomized ABBA pairs.** Within a build each pair runs A then B or B then
  A, chosen at random and recorded; each adjacent A/B is one pair, so drift
  cancels in the ratio. Builds are visited round robin (pair 0 of every
  build, then pair 1, ...), so a slow drift of the machine is not mistaken
  for a build effect.
* **Verdict.** :func:`fraglib.stats.verdict`: geometric mean of the paired
  B/A ratios, hierarchical bootstrap CI (builds, then pairs), Wilcoxon,
  per-build signs ("layout-sensitive") and the MDE of this design.
* **Calibration.** ``aa=True`` allows ``a == b``: the two sides then use
  *different* layout builds, so the interval calibrates layout plus process
  noise and should contain 1 about 95 % of the time. ``slowdown=k`` builds B
  with ``-DFRAG_SLOWDOWN=k`` (k dependent adds on B's alloc path, see
  ``csrc/include/design_direct.h``), a known effect that must be detected.
* **Budget mode.** ``budget=`` seconds: keep adding waves of ``builds`` new
  builds until the CI's relative half-width is below ``target_halfwidth``
  or the time is spent (never more than one process pair over), and report
  what was achieved. After the first wave the pairs per build follow the
  measured variance components and costs (:func:`optimal_pairs`, Kalibera &
  Jones' dimensioning).
* **Plan, scheduler, executor.** :func:`plan` validates every argument once
  and makes both sides' :class:`~fraglib.spec.RunSpec`;
  :class:`fraglib.scheduler.Scheduler` decides, from the measurements so far,
  the budget and a clock, which builds and pairs come next and when to
  stop (pure: testable with a fake clock); :func:`compare` carries the
  decisions out and hands the results back. Every run is stored with its
  spec's labels (role, pair, build, process, comparison), so
  :func:`fraglib.stats.verdict_from_store` gives the same verdict from the
  stored rows alone.

Example::

    >>> c = compare("topdown", "bottomup", builds=4, processes=6)  # doctest: +SKIP
    >>> print(c.text)                                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import stats as _stats
from ._build import build_engine
from .comparison import (OBSERVATION_COLUMNS, Comparison, comparisons_table,  # noqa: F401
                         observation_rows)
from .exceptions import ParameterError, UnknownNameError
from .scheduler import (BuildPair, MakeBuilds, Plan, Scheduler, Stop,
                        layout_seed, side_labels, slowdown_flags)
from .spec import RunSpec
# planning statistics live in fraglib.stats; these names stay importable from
# here for the notebooks and fraglib.noise
from .stats import build_t_interval, guard_few_builds, mde_grid, optimal_pairs

__all__ = ["Comparison", "BuildPair", "Plan", "plan", "compare", "comparison_id", "slowdown_flags",
           "layout_seed", "build_t_interval", "guard_few_builds", "optimal_pairs",
           "compare_each", "comparisons_table", "mde_grid", "OBSERVATION_COLUMNS",
           "RUN_KEYS"]

#: keyword arguments of :func:`fraglib.run` that are not workload parameters.
RUN_KEYS = ("packets", "size", "align", "batch", "warmup", "cpu", "counters",
            "metadata", "timeout")

# workloads whose "cycles" are not a measurement (the size generator check).
_NOT_TIMED = ("sizes",)
# what the plan chooses for every process: not a keyword of compare()
_CHOSEN = ("layout_seed", "extra_flags", "env_pad", "stats", "store", "root", "provenance",
           "labels", "resume")


# ---- the plan: every argument validated once ------------------------------------


def _check_int(param: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ParameterError(param, v, f"an integer >= {lo}")
    return int(v)


def plan(a: str, b: str, *, workload: str = "fastpath", builds: int = 4,
         processes: int = 6, aa: bool = False, budget: float | None = None,
         slowdown: int = 0, seed: int = 0, resamples: int = 10_000,
         target_halfwidth: float = 0.0025, confidence: float = 0.95,
         interleave: bool | None = None, handoff_samples: int | None = None,
         **params) -> Plan:
    """Validate a comparison's arguments and return its :class:`Plan`.

    Takes :func:`compare`'s arguments (without ``store``, ``root``,
    ``progress``); builds, runs and writes nothing. Each side's
    :class:`~fraglib.spec.RunSpec` is made here, so a workload that refuses
    a design, a bad run or workload parameter and a run too large all fail
    before anything is built.

    Raises
    ------
    ParameterError
        Bad input, naming the parameter (:class:`UnknownNameError` for an
        unknown design: ``a`` or ``b``).
    """
    from .api import HANDOFF_SAMPLES
    from .designs import design_names, get_design

    for param, name in (("a", a), ("b", b)):
        try:
            get_design(name)
        except UnknownNameError:
            raise UnknownNameError(param, name, design_names()) from None
    builds = _check_int("builds", builds, 1)
    processes = _check_int("processes", processes, 2)
    if slowdown is None or isinstance(slowdown, bool) \
            or not isinstance(slowdown, (int, np.integer)) or slowdown < 0:
        raise ParameterError("slowdown", slowdown,
                             "an integer >= 0 (dependent adds injected into B's alloc)")
    if slowdown > 100_000:
        raise ParameterError("slowdown", slowdown, "an integer in [0, 100000]")
    if a == b and not aa and not slowdown:
        raise ParameterError("b", b, "the same design twice: pass aa=True for an A/A "
                             "calibration")
    if budget is not None:
        try:
            bud = float(budget)
        except (TypeError, ValueError):
            raise ParameterError("budget", budget, "a number of seconds > 0") from None
        if not (math.isfinite(bud) and bud > 0):
            raise ParameterError("budget", budget, "a number of seconds > 0")
        budget = bud
    if not (isinstance(target_halfwidth, (int, float)) and not isinstance(target_halfwidth, bool)
            and 0 < target_halfwidth < 1):
        raise ParameterError("target_halfwidth", target_halfwidth,
                             "a relative half-width in (0, 1), e.g. 0.0025 for ±0.25 %")
    if workload in _NOT_TIMED:
        raise ParameterError("workload", workload, "a timed workload (not "
                             + ", ".join(_NOT_TIMED) + ")")
    seed = _check_int("seed", seed, 0)
    resamples = _stats._check_resamples(resamples)
    confidence = _stats._check_confidence(confidence)
    for k in _CHOSEN:
        if k in params:
            raise ParameterError(k, params[k], "not settable here: compare() chooses "
                                 "it for every process")
    metadata = params.pop("metadata", True)
    if not isinstance(metadata, bool):
        raise ParameterError("metadata", metadata, "True or False")
    given = {k: params[k] for k in RUN_KEYS if k in params}
    spec_a = RunSpec.make(a, workload, **params)
    spec_b = RunSpec.make(b, workload, extra_flags=slowdown_flags(slowdown), **params)
    interleave, handoff_samples = _check_interleave(interleave, handoff_samples, spec_a,
                                                    HANDOFF_SAMPLES)
    label_a, label_b = side_labels(a, b, int(slowdown))
    recorded = {**dict(spec_a.params), **given, **({"metadata": metadata}
                                                   if "metadata" in given else {})}
    return Plan(a=a, b=b, workload=workload, spec_a=spec_a, spec_b=spec_b,
                label_a=label_a, label_b=label_b, builds=builds, processes=processes,
                aa=bool(aa), budget=budget, slowdown=int(slowdown), seed=seed,
                resamples=resamples, target_halfwidth=float(target_halfwidth),
                confidence=confidence, interleave=interleave,
                handoff_samples=handoff_samples, params=recorded, metadata=metadata)


def _check_interleave(interleave, handoff_samples, spec: RunSpec,
                      default_samples: int) -> tuple[bool, int]:
    """Resolve ``interleave`` (None: by workload) and ``handoff_samples``."""
    two_threads = spec.two_threads
    if interleave is None:
        interleave = not two_threads
    if not isinstance(interleave, (bool, np.bool_)):
        raise ParameterError("interleave", interleave, "True, False or None (by workload)")
    if interleave and two_threads:
        cpu2 = spec.params.get("cpu2", -1)
        raise ParameterError("interleave", interleave,
                             f"False for workload {spec.workload}"
                             + (f" with cpu2={cpu2}" if spec.workload != "ring" else "")
                             + " (two threads: the token cannot stop the second one)")
    if handoff_samples is None:
        handoff_samples = default_samples
    if isinstance(handoff_samples, bool) or not isinstance(handoff_samples, (int, np.integer)) \
            or not 1 <= handoff_samples <= 1 << 20:
        raise ParameterError("handoff_samples", handoff_samples,
                             f"an integer in [1, {1 << 20}] (samples per round)")
    return bool(interleave), int(handoff_samples)


# ---- the executor -----------------------------------------------------------------


def _make_builds(a: str, b: str, indices, seed: int, aa: bool, slowdown: int,
                 seeds=None) -> list[BuildPair]:
    """Build (or reuse) both engines of each build, two compilers at a time."""
    indices = list(indices)
    if seeds is None:
        seeds = [(layout_seed(seed, j, 0), layout_seed(seed, j, 1 if aa else 0))
                 for j in indices]

    def one(job) -> BuildPair:
        j, (sa, sb) = job
        ia = build_engine(a, layout_seed=sa)
        ib = build_engine(b, layout_seed=sb, extra_flags=slowdown_flags(slowdown))
        return BuildPair(j, sa, sb, ia.key, ib.key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, zip(indices, seeds)))


def compare(a: str, b: str, *, workload: str = "fastpath", builds: int = 4,
            processes: int = 6, aa: bool = False, budget: float | None = None,
            slowdown: int = 0, seed: int = 0, store: bool = True, root=None,
            progress: bool = True, resamples: int = 10_000,
            target_halfwidth: float = 0.0025, confidence: float = 0.95,
            interleave: bool | None = None, handoff_samples: int | None = None,
            cluster=None, machines=None, **params) -> Comparison:
    """Compare design B against baseline A and return a verdict with its data.

    Validates everything first (:func:`plan`), then carries out what the
    :class:`~fraglib.scheduler.Scheduler` decides: builds, pairs, stop.

    Parameters
    ----------
    a, b : str
        Baseline and candidate design names (:func:`fraglib.design_names`).
    workload : str, default "fastpath"
        Workload name.
    builds : int, default 4
        Layout builds (>= 1). In budget mode, the size of each wave of new
        builds.
    processes : int, default 6
        Engine processes per design per build, i.e. ABBA pairs per build
        (>= 2).
    aa : bool, default False
        Allow ``a == b`` (an A/A calibration); the two sides then run on
        different layout builds.
    budget : float, optional
        Seconds, compiling included. Keep adding waves of ``builds`` builds
        until the CI half-width is below `target_halfwidth` or the budget is
        spent. The first wave has ``processes`` pairs per build; later waves
        have :func:`fraglib.stats.optimal_pairs` for the variance components
        and costs measured so far (never fewer than ``processes``). When a
        new wave would not fit, the remaining time adds pairs to the
        existing builds, round robin. The run never starts a pair it expects
        to end past the budget, so it exceeds it by at most one pair.
    slowdown : int, default 0
        Inject this many dependent adds into B's alloc path
        (``-DFRAG_SLOWDOWN``). With ``slowdown > 0``, ``a == b`` is allowed
        without `aa` (B is a different program); both sides share the layout
        seed.
    seed : int, default 0
        Derives the layout seeds, the ABBA orders and the environment pads,
        and seeds the bootstrap.
    store, root :
        Passed to :func:`fraglib.run` (write every run to the store, with
        its spec's labels: :func:`fraglib.stats.verdict_from_store` rebuilds
        the verdict from those rows).
    progress : bool, default True
        Progress bar over pairs.
    resamples : int, default 10000
        Bootstrap resamples of the final verdict.
    target_halfwidth : float, default 0.0025
        Budget mode: stop once the interval's relative half-width,
        ``expm1((log(ci_hi) - log(ci_lo)) / 2)``, is below this (about
        ``(ci_hi - ci_lo) / 2`` for ratios near 1; the log scale is that of
        the MDE the interval implies, whatever the effect's size).
    confidence : float, default 0.95
        Level of the interval (and of the per-build sign tests).
    interleave : bool, optional
        Run each pair's two processes concurrently, pinned to one CPU, in
        lockstep rounds of `handoff_samples` samples
        (:func:`fraglib.api.run_pair`); the pair's ABBA order says which
        side runs the first round. Both sides then see the same mixture of
        the machine's speed modes, and the paired ratio cancels them (run
        one after the other, a mode switch between A and B lands fully in
        the ratio). Default: True for single-thread workloads (fastpath,
        rx and tx without ``cpu2``), False for ring and ``cpu2 >= 0``,
        where True is refused.
    handoff_samples : int, optional
        Samples per round when interleaved; default
        :data:`fraglib.api.HANDOFF_SAMPLES`.
    cluster : None, str, distributed.Client or fraglib.fleet.Fleet
        Run on a Dask fleet (:mod:`fraglib.fleet`): each machine runs the
        whole plan, its builds and pairs, and gets its own verdict; the
        result is then a :class:`fraglib.fleet.FleetComparison`
        (``{machine: Comparison}``). None with ``machines`` None: here,
        directly (no Dask).
    machines : "all", str or list of str, optional
        With ``cluster``: which machines (default all); given without
        ``cluster``, this machine through a local Dask cluster.
    **params
        Run parameters (``packets``, ``size``, ``align``, ``batch``,
        ``warmup``, ``cpu``, ``counters``, ``metadata``, ``timeout``) and
        workload parameters (``busy_poll``, ``dist``, ``queue_depth``, ...),
        passed to every process and recorded.

    Returns
    -------
    Comparison

    Raises
    ------
    ParameterError
        Bad input (named): nothing was built or run. Also when the budget
        left room for fewer than 2 pairs.
    """
    p = plan(a, b, workload=workload, builds=builds, processes=processes, aa=aa,
             budget=budget, slowdown=slowdown, seed=seed, resamples=resamples,
             target_halfwidth=target_halfwidth, confidence=confidence,
             interleave=interleave, handoff_samples=handoff_samples, **params)
    if cluster is not None or machines is not None:
        from .fleet import compare_plan

        return compare_plan(p, cluster=cluster, machines=machines or "all", store=store,
                            root=root, progress=progress)
    clock = time.monotonic
    sched = Scheduler(p, comparison=comparison_id(p, resume=store), clock=clock)
    t0 = sched.t0
    bar = tqdm(total=None if p.budget else p.builds * p.processes, disable=not progress,
               desc=f"{p.label_b} vs {p.label_a}", unit="pair")
    try:
        with run_writer(p, store, root) as writer:
            run_kw = dict(store=store, root=root, metadata=p.metadata, writer=writer)
            while not isinstance(act := sched.next(), Stop):
                ts = clock()
                if isinstance(act, MakeBuilds):
                    sched.built(_carry_out_builds(p, act), clock() - ts)
                    continue
                sched.measured(_carry_out_pair(p, act, t0, clock, run_kw), clock() - ts)
                bar.update(1)
    finally:
        bar.close()
    return _comparison(p, sched, act.reason, clock() - t0, t0, clock)


def run_writer(p: Plan, store: bool, root):
    """Where a comparison's runs go: a :class:`~fraglib.store_writer.RunWriter`
    kept off the CPUs its engines run on, or nothing without a store.

    A context manager: leaving it waits until every run is written.
    """
    from .store_writer import RunWriter

    if not store:
        return contextlib.nullcontext(None)
    return RunWriter(root, avoid_cpus=engine_cpus(p.spec_a) | engine_cpus(p.spec_b))


def engine_cpus(spec) -> frozenset[int]:
    """The CPUs an engine process of `spec` is pinned to (``cpu``, ``cpu2``)."""
    cpus = (spec.cpu, spec.params.get("cpu2", -1))
    return frozenset(c for c in cpus if isinstance(c, int) and not isinstance(c, bool)
                     and c >= 0)


def _carry_out_builds(p: Plan, act: MakeBuilds) -> list[BuildPair]:
    """The executor's half of a :class:`~fraglib.scheduler.MakeBuilds`."""
    return _make_builds(p.a, p.b, act.indices, p.seed, p.aa, p.slowdown, act.seeds)


def _carry_out_pair(p: Plan, act, t0: float, clock, run_kw: dict) -> list[dict]:
    """Run one :class:`~fraglib.scheduler.RunPair`; its two observation rows."""
    from .api import run_spec, run_spec_pair

    ts = clock()
    if p.interleave:
        # both at once: each row carries half the pair's wall time
        results = run_spec_pair(*act.specs, first=act.order[0],
                                handoff_samples=p.handoff_samples, **run_kw)
        timing = {r.run_id: (ts - t0, (clock() - ts) / 2.0) for r in results}
    else:
        results, timing = [], {}
        for spec in act.in_order:
            t1 = clock()
            results.append(run_spec(spec, **run_kw))
            timing[results[-1].run_id] = (t1 - t0, clock() - t1)
    return observation_rows(results, act, timing, p.interleave)


def comparison_id(p: Plan, *, resume: bool = True) -> str:
    """The id every run of a comparison is labelled with.

    Random, except with resume on (``$FRAGLIB_RESUME=1``, :mod:`fraglib.resume`):
    then a hash of the plan, the resume scope and how many identical plans
    this process ran before, so that a rerun of a killed comparison labels
    its new runs like the stored ones it resumes, and
    :func:`fraglib.stats.verdict_from_store` finds them all under one id.
    """
    from . import resume as _resume

    if not (resume and _resume.resume_enabled(None)):
        return uuid.uuid4().hex[:12]
    doc = json.dumps([_resume.key_of(p.spec_a), _resume.key_of(p.spec_b), p.builds,
                      p.processes, p.aa, p.budget, p.slowdown, p.seed,
                      p.target_halfwidth, p.interleave, p.handoff_samples])
    key = "compare:" + hashlib.sha256(doc.encode()).hexdigest()[:16]
    seq = _resume.next_seq(key)
    return hashlib.sha256(f"{_resume.scope()}:{key}:{seq}".encode()).hexdigest()[:12]


def _comparison(p: Plan, sched: Scheduler, stop_reason: str, measured_s: float,
                t0: float, clock) -> Comparison:
    """The verdict on what the scheduler gathered, as a :class:`Comparison`."""
    if sched.n_pairs < 2:
        raise ParameterError("budget", p.budget,
                             f"enough seconds for at least 2 process pairs (one pair took "
                             f"{sched.pair_times[0] if sched.pair_times else math.nan:.2f} "
                             f"s here, building the engines {sum(sched.compile_times):.1f} s)")
    obs = pd.DataFrame(sched.rows, columns=list(OBSERVATION_COLUMNS))
    used = set(obs["build"].unique())
    made = [bp for bp in sched.made if bp.build in used]
    v, ci_method = _stats.comparison_verdict(obs, p.label_a, p.label_b,
                                             confidence=p.confidence,
                                             resamples=p.resamples, seed=p.seed)
    return Comparison(a=p.a, b=p.b, label_a=p.label_a, label_b=p.label_b,
                      workload=p.workload, verdict=v, observations=obs,
                      wall_s=clock() - t0, builds=tuple(made), params=p.params, aa=p.aa,
                      slowdown=p.slowdown, seed=p.seed, budget=p.budget,
                      target_halfwidth=p.target_halfwidth if p.budget is not None else None,
                      stop_reason=stop_reason, ci_method=ci_method,
                      measured_s=measured_s, interleave=p.interleave,
                      handoff_samples=p.handoff_samples if p.interleave else None)


# ---- series of comparisons (the noise notebook) ---------------------------------


def compare_each(a: str, b: str, param: str, values, **kwargs) -> dict:
    """Run :func:`compare` once per value of one parameter.

    Parameters
    ----------
    a, b : str
        Designs, as for :func:`compare`.
    param : str
        A keyword of :func:`compare` (``slowdown``) or a run/workload
        parameter (``busy_poll``, ``size``).
    values : iterable
        Its values, run in the order given.
    **kwargs
        Everything else :func:`compare` takes, the same for every value.

    Returns
    -------
    dict
        ``{value: Comparison}`` in the order given.
    """
    values = list(values)
    if not values:
        raise ParameterError("values", values, f"at least one value of {param}")
    if param in kwargs:
        raise ParameterError(param, kwargs[param], "not also a keyword: it is the "
                             "parameter being varied")
    return {v: compare(a, b, **{param: v}, **kwargs) for v in values}
