"""The Python API: run one measurement in a fresh, pinned engine process."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import sys
import warnings
from collections.abc import Mapping

from . import estimate as _estimate
from . import metadata as _metadata
from . import resume as _resume
from ._build import build_engine
from ._core import CTable
from .designs import get_design
from .engine import PROGRESS_AFTER_S, run_engine, stderr_progress
from .exceptions import ParameterError
from .provenance import git_state
from .results import RunResult

__all__ = ["run", "run_pair", "HANDOFF_SAMPLES", "default_cpu", "check_cpu", "common_params", "RUN_DEFAULTS"]



def default_cpu() -> int:
    """The highest-numbered CPU this process may use (CPU 0 takes most IRQs)."""
    return max(os.sched_getaffinity(0))


def check_cpu(name: str, cpu: object) -> int:
    """Validate a CPU number against this process's affinity set."""
    allowed = sorted(os.sched_getaffinity(0))
    if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu not in allowed:
        raise ParameterError(name, cpu, "a CPU this process may run on: "
                             + ", ".join(map(str, allowed)))
    return cpu


def _run_defaults() -> dict:
    from .workloads import ENGINE_PARAMS
    return {k: ENGINE_PARAMS[k].default for k in ("packets", "size", "align", "batch",
                                                  "warmup")}


#: run()'s own defaults where the workload states no preference: the engine's
#: (csrc/params.c frag_params_defaults), read from the library on first use.
RUN_DEFAULTS = CTable(_run_defaults)


def common_params(workload: str, given: Mapping[str, object]) -> dict:
    """``packets``, ``size``, ``align``, ``batch``, ``warmup`` as a run will use them.

    Each is the given value when not None, else the workload's preferred
    value (ring: 2048-byte objects as page_frag_test; tx: 16 messages per
    sample), else :data:`RUN_DEFAULTS`. Not validated here.
    """
    from .workloads import get_workload

    pref = {**RUN_DEFAULTS, **{k: v for k, v in get_workload(workload).params.items()
                               if k in RUN_DEFAULTS}}
    return {k: pref[k] if given.get(k) is None else given[k] for k in RUN_DEFAULTS}


def run(design: str = "topdown", workload: str = "fastpath", *,
        packets: int | None = None, size: int | None = None, align: int | None = None,
        batch: int | None = None, warmup: int | None = None, cpu: int | None = None, counters: bool = True,
        stats: bool = False, layout_seed: int | None = None,
        env_pad: int | None = None, extra_flags: tuple[str, ...] = (),
        store: bool = True, root: str | os.PathLike | None = None,
        metadata: bool = True, provenance: Mapping[str, object] | None = None,
        timeout: float | None = 600, resume: bool | None = None,
        **params) -> RunResult:
    """Run one workload on one design in a fresh engine process.

    Parameters
    ----------
    design : str
        A design name (:func:`fraglib.designs`).
    workload : str
        A workload name (:func:`fraglib.workloads`).
    packets : int, optional
        Packets (fragments) in the measured region, after warm-up.
    size, align : int, optional
        Fragment size in bytes (1..4096) and alignment (power of two;
        1 means plain ``page_frag_alloc``).
    batch : int, optional
        Packets per timed sample (64 = the NAPI budget).
    warmup : int, optional
        Leading samples kept but marked warm-up.

    Each of these five defaults to the workload's preferred value (ring:
    2048-byte objects as page_frag_test; tx: 16 messages per sample), else
    to :data:`RUN_DEFAULTS`.
    cpu : int, optional
        CPU to pin the engine to; default the highest allowed CPU.
    counters : bool
        Open perf_event counters around the measured region.
    stats : bool
        Use an engine built with per-cache statistics (not for timing
        comparisons: the counters cost a little).
    layout_seed : int, optional
        Use a layout-variant build (see :mod:`fraglib._build`).
    env_pad : int, optional
        Environment padding in bytes; random in [0, 4095] when None.
    extra_flags : tuple of str
        Extra compiler flags for the engine build.
    store : bool
        Write the result to the store (:mod:`fraglib.store`).
    root : path, optional
        Runs directory for the store.
    metadata : bool
        Collect machine metadata (tests switch it off for determinism).
    provenance : mapping, optional
        Extra provenance fields (build id, process, pair, role) recorded
        with the run.
    timeout : float, optional
        Seconds before the engine is killed. A run expected to take longer
        (:mod:`fraglib.estimate`) is refused before it starts; one that
        takes more than a few seconds reports progress on stderr.
    resume : bool, optional
        Return the stored run of the same specification instead of running
        it again (:mod:`fraglib.resume`); default ``$FRAGLIB_RESUME == "1"``.
    **params
        Workload parameters (``dist``, ``queue_depth``, ``mss``, ``cpu2``...).

    Returns
    -------
    RunResult

    Raises
    ------
    ParameterError
        A parameter is not allowed, or the run is too large to keep or to
        finish within ``timeout``; nothing was run or written.
    EngineError
        The engine crashed (``signal`` names the signal), hung past
        ``timeout`` or printed malformed output; nothing was written.
    StoreError
        The result could not be written; nothing partial was left.
    """
    prep = _prepare(design, workload, dict(packets=packets, size=size, align=align,
                                           batch=batch, warmup=warmup), cpu, counters,
                    timeout, params)
    engine_params = prep["engine_params"]
    spec = _resume.spec_key(design, workload, engine_params, layout_seed=layout_seed,
                            stats=stats, extra_flags=tuple(extra_flags),
                            provenance=provenance)
    seq = _resume.next_seq(spec)
    if store and _resume.resume_enabled(resume):
        done = _resume.lookup(spec, seq, root)
        if done is not None:
            return done
    build = build_engine(design, layout_seed=layout_seed, stats=stats,
                         extra_flags=tuple(extra_flags))
    meta = _metadata.machine_metadata(enabled=metadata)
    freq_before = _metadata.frequencies() if metadata else {}
    started = _dt.datetime.now(_dt.timezone.utc)
    label = f"{design}/{workload}"
    expected_s = prep["expected_s"]
    if expected_s > PROGRESS_AFTER_S:
        print(f"fraglib: {label}: {prep['params']['packets']:,} packets, about "
              f"{expected_s:,.0f} s expected", file=sys.stderr, flush=True)
    doc = run_engine(build.path, engine_params, env_pad=env_pad, timeout=timeout,
                     progress=stderr_progress(label, expected_s))
    _estimate.observe(design, workload, int(prep["params"]["packets"]),
                      (_dt.datetime.now(_dt.timezone.utc) - started).total_seconds())
    freq_after = _metadata.frequencies() if metadata else {}
    result = _result(design, workload, doc, build, started, meta, freq_before, freq_after,
                     metadata, provenance, spec, seq)
    if store:
        from .store import write_run
        write_run(result, root)
    return result


def _prepare(design: str, workload: str, common_given: dict, cpu, counters, timeout,
             params: dict) -> dict:
    """Validate one run's parameters (nothing built or run)."""
    get_design(design)
    from .workloads import validate_params

    common = common_params(workload, common_given)
    cpu = default_cpu() if cpu is None else check_cpu("cpu", cpu)
    params = validate_params(workload, {**params, **common}, design=design, cpu=cpu)
    expected_s = _estimate.check_run_size(design, workload, params, timeout)
    engine_params = {"workload": workload, "cpu": cpu, "counters": int(bool(counters)),
                     **params}
    return {"params": params, "engine_params": engine_params, "expected_s": expected_s,
            "cpu": cpu}


def _result(design, workload, doc, build, started, meta, freq_before, freq_after,
            metadata, provenance, spec, seq) -> RunResult:
    """A RunResult with its provenance from one engine document."""
    prov = {"machine": _metadata.machine_id() if metadata else "test",
            "time": started.isoformat(timespec="seconds"),
            "env_pad": doc["_env_pad"],
            "tsc_step": doc.get("tsc_step", "not measured: the engine did not report it"),
            **git_state(), **build.as_dict(),
            **{f"meta_{k}": v for k, v in meta.items()},
            **{f"before_{k}": v for k, v in freq_before.items()},
            **{f"after_{k}": v for k, v in freq_after.items()},
            **dict(provenance or {}),
            "spec_key": spec, "spec_seq": seq, "spec_scope": _resume.scope()}
    faults = _region_page_faults(doc.get("counters", []))
    prov["region_page_faults"] = "not measured" if faults is None else faults
    if faults:
        prov["flag"] = f"{faults} page faults in the timed region (arena not prefaulted?)"
        warnings.warn(f"{design}/{workload}: {prov['flag']}", RuntimeWarning, stacklevel=3)
    return RunResult(
        design=design, workload=workload, params=doc["params"], tsc_hz=doc["tsc_hz"],
        cycles=doc["cycles"], packets=doc["packets"],
        warmup_samples=doc["warmup_samples"], metrics=doc.get("metrics", {}),
        pages=doc.get("pages", {}), stats=doc.get("stats") or {},
        counters=tuple(doc.get("counters", [])), provenance=prov,
        rounds=doc.get("rounds"))


#: samples per round of an interleaved pair (:func:`run_pair`).  On the
#: 2-core EPYC VM (benchmarks/bench_interleave.py, topdown vs bottomup, 12
#: pairs each, 2026-11-30) sigma_pair was 9.9 % sequential and 2.9, 4.0, 9.3 %
#: with rounds of 1, 4, 16 samples (262144 packets), 0.7-1.9 % with 1-sample
#: rounds at 1048576 packets: the machine's speed changes within a few
#: samples (~30 us each), so the shortest round cancels it best; the handoff
#: (two pipe writes, two context switches) is outside the timed interval.
HANDOFF_SAMPLES = 1


def run_pair(a: str, b: str, workload: str = "fastpath", *, first: str = "A",
             handoff_samples: int = HANDOFF_SAMPLES,
             packets: int | None = None, size: int | None = None,
             align: int | None = None, batch: int | None = None,
             warmup: int | None = None, cpu: int | None = None, counters: bool = True,
             layout_seed_a: int | None = None, layout_seed_b: int | None = None,
             extra_flags_a: tuple[str, ...] = (), extra_flags_b: tuple[str, ...] = (),
             env_pad_a: int | None = None, env_pad_b: int | None = None,
             store: bool = True, root: str | os.PathLike | None = None,
             metadata: bool = True, provenance_a: Mapping[str, object] | None = None,
             provenance_b: Mapping[str, object] | None = None,
             timeout: float | None = 600, resume: bool | None = None,
             **params) -> tuple[RunResult, RunResult]:
    """Run designs A and B interleaved, in lockstep on one CPU.

    Both engine processes run at once, pinned to the same CPU, and pass a
    token so that they alternate in rounds of ``handoff_samples`` samples
    (:func:`fraglib.engine.run_engine_pair`): both see the same mixture of
    the machine's speed modes, which a pair run one after the other does
    not. Single-thread workloads only (not ring, not ``cpu2 >= 0``).

    Parameters
    ----------
    a, b : str
        Design names.
    workload : str
    first : {"A", "B"}
        The side that runs the first round (ABBA order of a comparison).
    handoff_samples : int
        Samples per round.
    packets, size, align, batch, warmup, cpu, counters, metadata, timeout :
        As :func:`run`, the same for both sides.
    layout_seed_a, layout_seed_b, extra_flags_a, extra_flags_b, env_pad_a, env_pad_b :
        As :func:`run`'s ``layout_seed``, ``extra_flags``, ``env_pad``, per side.
    store, root :
        Write both results to the store (each as :func:`run` does).
    provenance_a, provenance_b : mapping, optional
        Extra provenance per side; ``interleaved``, ``handoff_samples``,
        ``interleave_first`` and ``peer_run_id`` are added.
    resume : bool, optional
        Return the stored pair of the same specification instead of running
        it again, when both sides are stored (as :func:`run`).
    **params
        Workload parameters, the same for both sides.

    Returns
    -------
    (RunResult, RunResult)
        A's and B's results; ``rounds`` holds each sample's round index.

    Raises
    ------
    ParameterError
        Bad input (nothing run), including ``handoff_*`` keys in ``params``.
    EngineError
        Either engine failed; the message names its design. Nothing stored.
    """
    from .engine import HANDOFF_KEYS, run_engine_pair

    for k in HANDOFF_KEYS:
        if k in params:
            raise ParameterError(k, params[k], "not settable: run_pair sets it")
    given = dict(packets=packets, size=size, align=align, batch=batch, warmup=warmup)
    cpu = default_cpu() if cpu is None else check_cpu("cpu", cpu)
    pa = _prepare(a, workload, given, cpu, counters, timeout, dict(params))
    pb = _prepare(b, workload, given, cpu, counters, timeout, dict(params))
    wl_threads = pa["params"].get("cpu2", -1)
    if workload == "ring" or (isinstance(wl_threads, int) and wl_threads >= 0):
        raise ParameterError("workload", workload if workload == "ring" else
                             f"{workload} with cpu2={wl_threads}",
                             "a single-thread workload (fastpath, rx, tx without cpu2): "
                             "the token cannot stop a second thread")
    sides = []
    for design, prov, prep, lseed, flags in (
            (a, provenance_a, pa, layout_seed_a, extra_flags_a),
            (b, provenance_b, pb, layout_seed_b, extra_flags_b)):
        prov = {**dict(prov or {}), "interleaved": True,
                "handoff_samples": handoff_samples, "interleave_first": first}
        spec = _resume.spec_key(design, workload, prep["engine_params"],
                                layout_seed=lseed, stats=False, extra_flags=tuple(flags),
                                provenance=prov)
        sides.append((prov, spec, _resume.next_seq(spec)))
    if store and _resume.resume_enabled(resume):
        # a pair is replayed only whole: one side alone was not measured with its peer
        done = [_resume.lookup(spec, seq, root) for _, spec, seq in sides]
        if all(d is not None for d in done):
            return done[0], done[1]
    build_a = build_engine(a, layout_seed=layout_seed_a, extra_flags=tuple(extra_flags_a))
    build_b = build_engine(b, layout_seed=layout_seed_b, extra_flags=tuple(extra_flags_b))
    meta = _metadata.machine_metadata(enabled=metadata)
    freq_before = _metadata.frequencies() if metadata else {}
    started = _dt.datetime.now(_dt.timezone.utc)
    doc_a, doc_b = run_engine_pair(build_a.path, pa["engine_params"], build_b.path,
                                   pb["engine_params"], handoff_samples=handoff_samples,
                                   first=first, env_pad_a=env_pad_a, env_pad_b=env_pad_b,
                                   timeout=timeout)
    freq_after = _metadata.frequencies() if metadata else {}
    out = []
    for design, doc, build, (prov, spec, seq) in ((a, doc_a, build_a, sides[0]),
                                                  (b, doc_b, build_b, sides[1])):
        out.append(_result(design, workload, doc, build, started, meta, freq_before,
                           freq_after, metadata, prov, spec, seq))
    ra, rb = out
    ra = dataclasses.replace(ra, provenance={**ra.provenance, "peer_run_id": rb.run_id})
    rb = dataclasses.replace(rb, provenance={**rb.provenance, "peer_run_id": ra.run_id})
    if store:
        from .store import write_run
        write_run(ra, root)
        write_run(rb, root)
    return ra, rb


def _region_page_faults(counters: list) -> int | None:
    total, seen = 0, False
    for thread in counters:
        ev = thread.get("events", {}).get("page-faults")
        if ev and ev.get("value") is not None:
            total += int(ev["value"])
            seen = True
    return total if seen else None
