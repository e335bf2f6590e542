"""Carry out one comparison's plan on several machines at once.

Every selected machine runs the whole plan (:class:`fraglib.compare.Plan`)
with its own :class:`~fraglib.scheduler.Scheduler`: the builds are made on
the machine, each ABBA pair runs there as one task (a pair never straddles
machines), and the verdict is per machine. The client drives all the
schedulers at once, one action in flight per machine, and writes each
pair's results into the store (``data/runs/<machine>/``, atomically, with
:func:`fraglib.store.write_run`) as they come back.

Faults: a worker that dies mid-task loses that task only. Dask runs it again
on the same machine (the task asks for the machine's own resource) once
the machine's nanny has restarted its worker; if the machine has no worker
for ``lost_after`` seconds, or Dask gives up on it
(:class:`distributed.KilledWorker`), the pair is recorded as lost with the
reason and that machine's comparison stops there (its verdict covers the
pairs measured before). Nothing is written for a lost pair.

Resume: with resume on (``$FRAGLIB_RESUME=1``, ``--resume``), a pair whose
two runs are stored for that machine (same scope, spec key and occurrence,
:mod:`fraglib.resume`) is read back instead of being run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Mapping

from .. import resume as _resume
from ..exceptions import FraglibError, ParameterError
from ..scheduler import MakeBuilds, RunPair, Scheduler, Stop
from . import tasks
from .client import Fleet

__all__ = ["FleetComparison", "Lost", "compare_plan", "LOST_AFTER_S"]

#: seconds a machine may have no worker before its task in flight is lost
LOST_AFTER_S = 60.0


@dataclasses.dataclass(frozen=True)
class Lost:
    """A task given up on: which machine, what it was, and why."""

    machine: str
    what: str
    reason: str


@dataclasses.dataclass(frozen=True)
class FleetComparison(Mapping):
    """One comparison on several machines: ``{machine: Comparison}``.

    Attributes
    ----------
    comparisons : Mapping
        Machine name to its :class:`fraglib.compare.Comparison` (machines
        that measured fewer than 2 pairs are absent; see ``lost``).
    lost : tuple of Lost
        Tasks given up on, with the reason.
    pairs_run, pairs_resumed : Mapping
        Per machine: pairs measured now, pairs read back from the store.
    wall_s : float
    """

    comparisons: Mapping
    lost: tuple = ()
    pairs_run: Mapping = dataclasses.field(default_factory=dict)
    pairs_resumed: Mapping = dataclasses.field(default_factory=dict)
    wall_s: float = math.nan

    def __getitem__(self, machine):
        return self.comparisons[machine]

    def __iter__(self):
        return iter(self.comparisons)

    def __len__(self):
        return len(self.comparisons)

    @property
    def text(self) -> str:
        """Each machine's verdict, the across-machines sentence and what was lost."""
        from ..report.fleet import fleet_text

        return fleet_text(self)


class _Machine:
    """One machine's scheduler and its action in flight."""

    def __init__(self, name: str, sched: Scheduler):
        self.name = name
        self.sched = sched
        self.future = None
        self.act = None
        self.ts = math.nan
        self.absent_since: float | None = None
        self.stop: str | None = None
        self.run = 0
        self.resumed = 0
        self.seqs: list[tuple[str, int]] = []
        self.said = False


def _pair_keys(act: RunPair, p) -> list[str]:
    """The resume keys of a pair's two runs, as the worker will compute them."""
    if not p.interleave:
        return [_resume.key_of(s) for s in act.specs]
    return [_resume.key_of(s.derive(provenance={**s.provenance, "interleaved": True,
                                                "handoff_samples": p.handoff_samples,
                                                "interleave_first": act.order[0]}))
            for s in act.specs]


class _Stored:
    """The stored runs of every machine, by ``(machine, scope, key, seq)``."""

    def __init__(self, root, enabled: bool):
        self.root, self.index, self.seq = root, {}, {}
        if not enabled:
            return
        from .. import store

        with store._no_compaction(root):
            con = store.connect(root)
            cols = {r[0] for r in con.execute("DESCRIBE samples").fetchall()}
            if {"spec_key", "spec_seq", "spec_scope", "machine"} <= cols:
                rows = con.execute("SELECT DISTINCT machine, spec_scope, spec_key, "
                                   "spec_seq, run_id FROM samples "
                                   "WHERE spec_key IS NOT NULL").fetchall()
                self.index = {(m, s or "", k, int(q)): rid for m, s, k, q, rid in rows}

    def next_seq(self, machine: str, key: str) -> int:
        k = (machine, _resume.scope(), key)
        n = self.seq.get(k, 0)
        self.seq[k] = n + 1
        return n

    def lookup(self, machine: str, key: str, seq: int):
        from .. import store

        rid = self.index.get((machine, _resume.scope(), key, seq))
        return None if rid is None else store.load_run(rid, self.root)


def compare_plan(p, *, cluster=None, machines="all", store: bool = True, root=None,
                 progress: bool = True, lost_after: float = LOST_AFTER_S,
                 comparison: str | None = None) -> FleetComparison:
    """Run plan ``p`` (:func:`fraglib.compare.plan`) on each of ``machines``.

    Parameters
    ----------
    p : fraglib.compare.Plan
    cluster : None, str, distributed.Client or Fleet
        As :class:`Fleet` (None: this machine through a local cluster).
    machines : "all", str or list of str
        Machine names (a comma-separated string is split).
    store, root :
        Write every run into the store under ``data/runs/<machine>/``.
    progress : bool
        One line on stderr per finished machine.
    lost_after : float
        Seconds a machine may have no worker before its task is lost.
    comparison : str, optional
        The comparison id (default :func:`fraglib.compare.comparison_id`);
        each machine's runs are labelled with ``<id>-<hash of machine>``.

    Returns
    -------
    FleetComparison
    """
    import sys

    from distributed import wait

    from ..compare import _comparison, comparison_id
    from ..comparison import observation_rows as _observations

    if isinstance(lost_after, bool) or not isinstance(lost_after, (int, float)) \
            or not lost_after > 0:
        raise ParameterError("lost_after", lost_after, "a number of seconds > 0")
    fleet = cluster if isinstance(cluster, Fleet) else Fleet(cluster)
    try:
        names = fleet.machines(machines)
        cid = comparison or comparison_id(p, resume=store)
        stored = _Stored(root, store and _resume.resume_enabled(None))
        clock = time.monotonic
        t0 = clock()
        ms = {m: _Machine(m, Scheduler(p, comparison=_machine_id(cid, m), clock=clock))
              for m in names}
        lost: list = []

        def advance(m: _Machine) -> None:
            """Submit ``m``'s next action, reading stored pairs back on the way."""
            while True:
                act = m.sched.next()
                m.act, m.ts = act, clock()
                if isinstance(act, Stop):
                    m.stop = m.stop or act.reason
                    m.future = None
                    return
                if isinstance(act, MakeBuilds):
                    m.future = fleet.submit(m.name, tasks.make_builds, p.a, p.b, act.indices,
                                            p.seed, p.aa, p.slowdown, act.seeds)
                    return
                keys = _pair_keys(act, p)
                m.seqs = [(k, stored.next_seq(m.name, k)) for k in keys]
                done = [stored.lookup(m.name, k, q) for k, q in m.seqs] if stored.index \
                    else [None, None]
                if all(d is not None for d in done):
                    timing = {r.run_id: (m.ts - t0, 0.0) for r in done}
                    m.sched.measured(_observations(done, act, timing, p.interleave),
                                     clock() - m.ts)
                    m.resumed += 1
                    continue
                m.future = fleet.submit(m.name, tasks.run_pair, act.specs, act.order,
                                        interleave=p.interleave,
                                        handoff_samples=p.handoff_samples,
                                        metadata=p.metadata)
                return

        def finish(m: _Machine) -> None:
            """Feed ``m``'s finished task back to its scheduler."""
            act, fut = m.act, m.future
            m.future = None
            if isinstance(act, MakeBuilds):
                m.sched.built(fut.result(), clock() - m.ts)
                return
            results, timing, _ = fut.result()
            fixed = []
            for r in results:
                key, seq = m.seqs[0] if r.labels["role"] == "A" else m.seqs[1]
                r = dataclasses.replace(r, provenance={
                    **r.provenance, "machine": m.name, "spec_key": key, "spec_seq": seq,
                    "spec_scope": _resume.scope()})
                fixed.append(r)
            if store:
                from ..store import write_run

                for r in fixed:
                    write_run(r, root)
            timing = {rid: (m.ts - t0 + off, wall) for rid, (off, wall) in timing.items()}
            m.sched.measured(_observations(fixed, act, timing, p.interleave), clock() - m.ts)
            m.run += 1

        def give_up(m: _Machine, reason: str) -> None:
            what = ("builds " + ",".join(map(str, m.act.indices))
                    if isinstance(m.act, MakeBuilds)
                    else f"build {m.act.build.build} pair {m.act.pair}")
            lost.append(_lost(m.name, what, reason))
            if m.future is not None:
                m.future.cancel()
            m.future, m.stop = None, f"stopped: {what} lost ({reason})"

        for m in ms.values():
            advance(m)
        while busy := [m for m in ms.values() if m.future is not None]:
            try:
                wait([m.future for m in busy], timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass                      # nothing finished: check the machines are there
            present = None
            for m in busy:
                fut = m.future
                if fut.status == "finished":
                    finish(m)
                    advance(m)
                elif fut.status == "error":
                    exc = fut.exception()
                    if isinstance(exc, FraglibError) and not _killed(exc):
                        raise exc
                    give_up(m, f"{type(exc).__name__}: {exc}")
                elif fut.status == "cancelled":
                    give_up(m, "cancelled by the scheduler")
                else:
                    present = fleet.present() if present is None else present
                    if m.name in present:
                        m.absent_since = None
                    elif m.absent_since is None:
                        m.absent_since = clock()
                    elif clock() - m.absent_since > lost_after:
                        give_up(m, f"machine {m.name} had no worker for {lost_after:g} s")
            if progress:
                for m in ms.values():
                    if m.future is None and m.stop and not m.said:
                        m.said = True
                        print(f"fraglib: {m.name}: {m.stop}", file=sys.stderr, flush=True)
        measured_s = clock() - t0
        out = {}
        for m in ms.values():
            if m.sched.n_pairs < 2:
                lost.append(_lost(m.name, "the comparison",
                                  f"only {m.sched.n_pairs} pair(s) measured: no verdict"))
                continue
            out[m.name] = _comparison(p, m.sched, m.stop, measured_s, t0, clock)
        return FleetComparison(out, tuple(lost), {m.name: m.run for m in ms.values()},
                               {m.name: m.resumed for m in ms.values()}, clock() - t0)
    finally:
        if fleet is not cluster:
            fleet.close()


def _machine_id(cid: str, machine: str) -> str:
    return hashlib.sha256(f"{cid}:{machine}".encode()).hexdigest()[:12]


def _killed(exc: BaseException) -> bool:
    from distributed import KilledWorker

    return isinstance(exc, KilledWorker)


def _lost(machine: str, what: str, reason: str) -> Lost:
    import sys

    print(f"fraglib: {machine}: lost {what}: {reason}", file=sys.stderr, flush=True)
    return Lost(machine, what, reason)
