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
from .engine import PROGRESS_AFTER_S, run_engine, stderr_progress
from .exceptions import ParameterError
from .provenance import git_state
from .results import RunResult
from .spec import RunSpec

__all__ = ["run", "run_spec", "run_pair", "run_spec_pair", "check_pair", "HANDOFF_SAMPLES", "default_cpu", "check_cpu", "common_params", "RUN_DEFAULTS"]



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


def run(design: str | RunSpec = "topdown", workload: str = "fastpath", *,
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
    design : str or RunSpec
        A design name (:func:`fraglib.design_names`), or a whole
        :class:`~fraglib.spec.RunSpec` (made and validated before): then the
        spec's fields are used and only ``store``, ``root``, ``metadata``
        and ``resume`` apply (:func:`run_spec`). With a name, the keywords
        make the spec (:meth:`RunSpec.make <fraglib.spec.RunSpec.make>`).
    workload : str
        A workload name (:func:`fraglib.workload_names`).
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
        Extra JSON-safe provenance fields recorded with the run. A run's
        place in an experiment (role, pair, build id, process, comparison)
        belongs in its spec's :class:`~fraglib.spec.Labels`, which the store
        keeps as columns.
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
    if isinstance(design, RunSpec):
        spec = design
    else:
        spec = RunSpec.make(design, workload, packets=packets, size=size, align=align,
                            batch=batch, warmup=warmup, cpu=cpu, counters=counters,
                            layout_seed=layout_seed, extra_flags=tuple(extra_flags),
                            stats=stats, env_pad=env_pad, timeout=timeout,
                            provenance=provenance, **params)
    return run_spec(spec, store=store, root=root, metadata=metadata, resume=resume)


def run_spec(spec: RunSpec, *, store: bool = True, root: str | os.PathLike | None = None,
             metadata: bool = True, resume: bool | None = None,
             writer=None) -> RunResult:
    """Run one :class:`~fraglib.spec.RunSpec` (already validated: not checked again).

    ``store``, ``root``, ``metadata`` and ``resume`` are as :func:`run`'s;
    the result's ``spec`` is ``spec.as_dict()``. With ``store`` and a
    ``writer`` (:class:`fraglib.store_writer.RunWriter`, for ``root``) the
    run is handed to it instead of written before this returns.
    """
    if not isinstance(spec, RunSpec):
        raise ParameterError("spec", type(spec).__name__, "a fraglib.spec.RunSpec")
    key = _resume.key_of(spec)
    seq = _resume.next_seq(key)
    if store and _resume.resume_enabled(resume):
        done = _resume.lookup(key, seq, root)
        if done is not None:
            return done
    build = build_engine(spec.design, layout_seed=spec.layout_seed, stats=spec.stats,
                         extra_flags=spec.extra_flags)
    meta = _metadata.machine_metadata(enabled=metadata)
    freq_before = _metadata.frequencies() if metadata else {}
    started = _dt.datetime.now(_dt.timezone.utc)
    label = f"{spec.design}/{spec.workload}"
    packets = int(spec.params["packets"])
    expected_s = _estimate.expected_seconds(spec.design, spec.workload, packets)
    if expected_s > PROGRESS_AFTER_S:
        print(f"fraglib: {label}: {packets:,} packets, about "
              f"{expected_s:,.0f} s expected", file=sys.stderr, flush=True)
    doc = run_engine(build.path, spec.engine_params, env_pad=spec.env_pad,
                     timeout=spec.timeout, progress=stderr_progress(label, expected_s))
    _estimate.observe(spec.design, spec.workload, packets,
                      (_dt.datetime.now(_dt.timezone.utc) - started).total_seconds())
    freq_after = _metadata.frequencies() if metadata else {}
    result = _result(spec, doc, build, started, meta, freq_before, freq_after,
                     metadata, spec.provenance, key, seq)
    if store:
        _store(result, root, writer)
    return result


def _store(result: RunResult, root, writer) -> None:
    """Write `result` now, or hand it to `writer` (a RunWriter)."""
    if writer is not None:
        writer.submit(result)
        return
    from .store import write_run
    write_run(result, root)


def _result(spec: RunSpec, doc, build, started, meta, freq_before, freq_after,
            metadata, provenance, key, seq) -> RunResult:
    """A RunResult with its provenance and spec from one engine document."""
    design, workload = spec.design, spec.workload
    prov = {"machine": _metadata.machine_id() if metadata else "test",
            "time": started.isoformat(timespec="seconds"),
            "env_pad": doc["_env_pad"],
            "tsc_step": doc.get("tsc_step", "not measured: the engine did not report it"),
            **git_state(), **build.as_dict(),
            **{f"meta_{k}": v for k, v in meta.items()},
            **{f"before_{k}": v for k, v in freq_before.items()},
            **{f"after_{k}": v for k, v in freq_after.items()},
            **dict(provenance or {}),
            "spec_key": key, "spec_seq": seq, "spec_scope": _resume.scope()}
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
        rounds=doc.get("rounds"), spec=spec.as_dict())


#: samples per round of an interleaved pair (:func:`run_pair`).  On the
#: 2-core EPYC VM (benchmarks/bench_interleave.py, topdown vs bottomup, 12
#: pairs each, 2026-11-30) sigma_pair was 9.9 % sequential and 2.9, 4.0, 9.3 %
#: with rounds of 1, 4, 16 samples (262144 packets), 0.7-1.9 % with 1-sample
#: rounds at 1048576 packets: the machine's speed changes within a few
#: samples (~30 us each), so the shortest round cancels it best; the handoff
#: (two pipe writes, two context switches) is outside the timed interval.
HANDOFF_SAMPLES = 1


def run_pair(a: str | RunSpec, b: str | RunSpec, workload: str = "fastpath", *, first: str = "A",
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
    a, b : str or RunSpec
        Design names, or specs (then their own fields apply and the per-run
        keywords below are not used for that side; :func:`run_spec_pair`).
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
    from .engine import HANDOFF_KEYS

    for k in HANDOFF_KEYS:
        if k in params:
            raise ParameterError(k, params[k], "not settable: run_pair sets it")
    specs = []
    for side, design, lseed, flags, pad, prov in (
            ("a", a, layout_seed_a, extra_flags_a, env_pad_a, provenance_a),
            ("b", b, layout_seed_b, extra_flags_b, env_pad_b, provenance_b)):
        if isinstance(design, RunSpec):
            specs.append(design)
            continue
        specs.append(RunSpec.make(design, workload, packets=packets, size=size, align=align,
                                  batch=batch, warmup=warmup, cpu=cpu, counters=counters,
                                  layout_seed=lseed, extra_flags=tuple(flags), env_pad=pad,
                                  timeout=timeout, provenance=prov, **params))
    return run_spec_pair(specs[0], specs[1], first=first, handoff_samples=handoff_samples,
                         store=store, root=root, metadata=metadata, resume=resume)


def check_pair(spec_a: RunSpec, spec_b: RunSpec) -> None:
    """Refuse two specs that cannot run interleaved (:func:`run_spec_pair`)."""
    for name, s in (("a", spec_a), ("b", spec_b)):
        if not isinstance(s, RunSpec):
            raise ParameterError(name, type(s).__name__, "a fraglib.spec.RunSpec")
    if spec_a.workload != spec_b.workload:
        raise ParameterError("b", spec_b.workload, f"the same workload as A "
                             f"({spec_a.workload})")
    if spec_a.cpu != spec_b.cpu:
        raise ParameterError("cpu", spec_b.cpu, f"the same CPU as A ({spec_a.cpu}): "
                             "both sides share one CPU")
    for s in (spec_a, spec_b):
        if s.two_threads:
            wl = s.workload if s.workload == "ring" else \
                f"{s.workload} with cpu2={s.params.get('cpu2')}"
            raise ParameterError("workload", wl,
                                 "a single-thread workload (fastpath, rx, tx without "
                                 "cpu2): the token cannot stop a second thread")
        if s.stats:
            raise ParameterError("stats", True, "False for an interleaved pair")


def run_spec_pair(spec_a: RunSpec, spec_b: RunSpec, *, first: str = "A",
                  handoff_samples: int = HANDOFF_SAMPLES, store: bool = True,
                  root: str | os.PathLike | None = None, metadata: bool = True,
                  resume: bool | None = None, writer=None) -> tuple[RunResult, RunResult]:
    """Run two specs interleaved in lockstep (see :func:`run_pair`); not re-validated.

    Each side's provenance gains ``interleaved``, ``handoff_samples``,
    ``interleave_first`` and ``peer_run_id``. ``writer`` as :func:`run_spec`'s.
    """
    from .engine import run_engine_pair

    check_pair(spec_a, spec_b)
    sides = []
    for spec in (spec_a, spec_b):
        spec = spec.derive(provenance={**spec.provenance, "interleaved": True,
                                       "handoff_samples": handoff_samples,
                                       "interleave_first": first})
        key = _resume.key_of(spec)
        sides.append((spec, key, _resume.next_seq(key)))
    if store and _resume.resume_enabled(resume):
        # a pair is replayed only whole: one side alone was not measured with its peer
        done = [_resume.lookup(key, seq, root) for _, key, seq in sides]
        if all(d is not None for d in done):
            return done[0], done[1]
    (sa, _, _), (sb, _, _) = sides
    build_a = build_engine(sa.design, layout_seed=sa.layout_seed, extra_flags=sa.extra_flags)
    build_b = build_engine(sb.design, layout_seed=sb.layout_seed, extra_flags=sb.extra_flags)
    meta = _metadata.machine_metadata(enabled=metadata)
    freq_before = _metadata.frequencies() if metadata else {}
    started = _dt.datetime.now(_dt.timezone.utc)
    doc_a, doc_b = run_engine_pair(build_a.path, sa.engine_params, build_b.path,
                                   sb.engine_params, handoff_samples=handoff_samples,
                                   first=first, env_pad_a=sa.env_pad, env_pad_b=sb.env_pad,
                                   timeout=max(t for t in (sa.timeout, sb.timeout))
                                   if sa.timeout is not None and sb.timeout is not None
                                   else None)
    freq_after = _metadata.frequencies() if metadata else {}
    out = []
    for doc, build, (spec, key, seq) in ((doc_a, build_a, sides[0]),
                                         (doc_b, build_b, sides[1])):
        out.append(_result(spec, doc, build, started, meta, freq_before,
                           freq_after, metadata, spec.provenance, key, seq))
    ra, rb = out
    ra = dataclasses.replace(ra, provenance={**ra.provenance, "peer_run_id": rb.run_id})
    rb = dataclasses.replace(rb, provenance={**rb.provenance, "peer_run_id": ra.run_id})
    if store:
        _store(ra, root, writer)
        _store(rb, root, writer)
    return ra, rb


def _region_page_faults(counters: list) -> int | None:
    total, seen = 0, False
    for thread in counters:
        ev = thread.get("events", {}).get("page-faults")
        if ev and ev.get("value") is not None:
            total += int(ev["value"])
            seen = True
    return total if seen else None
