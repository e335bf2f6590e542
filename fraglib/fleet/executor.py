"""Carry out one comparison's plan on several machines at once.

Every selected machine runs the whole plan (:class:`fraglib.compare.Plan`)
with its own :class:`~fraglib.scheduler.Scheduler`: the builds are made on
the machine, each ABBA pair runs there as one task (a pair never straddles
machines), and the verdict is per machine. The client drives all the
schedulers at once, one action in flight per machine, and writes each
pair's results into the store (``data/runs/<machine>/``, atomically, with
:func:`fraglib.store.write_run`) as they come back.

Look-ahead: without a budget the actions do not depend on the measurements,
so each machine's next pair is submitted while its current one runs (a
second scheduler of the same plan plans ahead; every action the real one
decides is checked against it). The worker starts the next pair the moment
the last one ends, and the client writes results meanwhile: no task round
trip between pairs. In budget mode the next action waits for the last
result (it decides whether to stop).

Faults (:mod:`fraglib.fleet.dispatch`): a worker that dies mid-task loses
that task only. Dask runs it again on the same machine once the machine's
nanny has restarted its worker; if the machine has no worker for
``lost_after`` seconds, or Dask gives up on it, the pair is recorded as lost
with the reason and that machine's comparison stops there (its verdict
covers the pairs measured before). Nothing is written for a lost pair. A
scheduler restart is survived: the client reconnects and submits the pairs
in flight again; the pairs already measured are kept (and stored).

Resume: with resume on (``$FRAGLIB_RESUME=1``, ``--resume``), a pair whose
two runs are stored for that machine (same scope, spec key and occurrence,
:mod:`fraglib.resume`) is read back instead of being run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections import deque
from collections.abc import Mapping

from .. import resume as _resume
from ..exceptions import ParameterError
from ..scheduler import MakeBuilds, RunPair, Scheduler, Stop
from . import tasks
from .client import Fleet
from .dispatch import Dispatcher

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
    restarts : int
        Scheduler restarts survived (the pairs in flight were run again).
    """

    comparisons: Mapping
    lost: tuple = ()
    pairs_run: Mapping = dataclasses.field(default_factory=dict)
    pairs_resumed: Mapping = dataclasses.field(default_factory=dict)
    wall_s: float = math.nan
    restarts: int = 0

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


class _Task:
    """One action of a machine's plan: its job in flight, or its stored results."""

    def __init__(self, act, job=None, seqs=(), stored=None):
        self.act, self.job, self.seqs, self.stored = act, job, list(seqs), stored


class _Machine:
    """One machine's scheduler, its look-ahead planner and its queued tasks.

    ``sched`` is fed the real results and decides; ``planner`` (no budget
    only) is a second scheduler of the same plan that runs ahead on empty
    feedback, so that the machine's next pair is queued on its worker
    before the current one ends. Every action ``sched`` decides is checked
    against the planned one; a difference cancels the planned tasks, submits
    the real one and ends the look-ahead on this machine.
    """

    def __init__(self, name: str, sched: Scheduler, planner: Scheduler | None):
        self.name = name
        self.sched = sched
        self.planner = planner
        self.planner_waits = False     # planned builds: planner.built() not called yet
        self.planner_done = planner is None
        self.queued: deque[_Task] = deque()
        self.current: _Task | None = None
        self.stop: str | None = None
        self.run = 0
        self.resumed = 0
        self.said = False

    def in_flight(self) -> int:
        return sum(t is not None and t.job is not None
                   for t in (self.current, *self.queued))


#: jobs a machine has submitted at once with look-ahead: the one running and the next
AHEAD = 2


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
                 comparison: str | None = None, lookahead: bool = True) -> FleetComparison:
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
    lookahead : bool, default True
        Without a budget, queue each machine's next pair on its worker
        while the current one runs (False: one task at a time; the
        benchmark compares both).

    Returns
    -------
    FleetComparison
    """
    import sys

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
        ahead = bool(lookahead) and p.budget is None

        def scheduler(m: str) -> Scheduler:
            return Scheduler(p, comparison=_machine_id(cid, m), clock=clock)

        ms = {m: _Machine(m, scheduler(m), scheduler(m) if ahead else None) for m in names}
        disp = Dispatcher(fleet, lost_after=lost_after)
        lost: list = []

        def task_for(m: _Machine, act) -> _Task:
            """Submit ``act`` on ``m``, or read its pair back from the store."""
            if isinstance(act, MakeBuilds):
                return _Task(act, disp.submit(m.name, tasks.make_builds, p.a, p.b,
                                              act.indices, p.seed, p.aa, p.slowdown,
                                              act.seeds))
            seqs = [(k, stored.next_seq(m.name, k)) for k in _pair_keys(act, p)]
            if stored.index:
                done = [stored.lookup(m.name, k, q) for k, q in seqs]
                if all(d is not None for d in done):
                    return _Task(act, seqs=seqs, stored=done)
            return _Task(act, disp.submit(m.name, tasks.run_pair, act.specs, act.order,
                                          interleave=p.interleave,
                                          handoff_samples=p.handoff_samples,
                                          metadata=p.metadata), seqs)

        def plan_ahead(m: _Machine) -> None:
            """Queue the planner's next actions until AHEAD jobs are in flight."""
            while not m.planner_done and not m.planner_waits and m.in_flight() < AHEAD:
                act = m.planner.next()
                if isinstance(act, Stop):
                    m.planner_done = True
                    return
                m.queued.append(task_for(m, act))
                if isinstance(act, MakeBuilds):
                    m.planner_waits = True            # its builds come with the result
                else:
                    m.planner.measured([], 0.0)

        def drop_queued(m: _Machine) -> None:
            for t in m.queued:
                if t.job is not None:
                    disp.cancel(t.job)
            m.queued.clear()

        def advance(m: _Machine) -> None:
            """Make ``m``'s next action current: the queued task when it is the
            same action, else a new one; stored pairs are fed back on the way."""
            while True:
                plan_ahead(m)
                act = m.sched.next()
                if isinstance(act, Stop):
                    m.stop = m.stop or act.reason
                    m.current = None
                    drop_queued(m)
                    return
                if m.queued and m.queued[0].act == act:
                    m.current = m.queued.popleft()
                else:
                    if m.queued or not m.planner_done:
                        drop_queued(m)                 # the plan went elsewhere
                        m.planner_done = True
                    m.current = task_for(m, act)
                if m.current.stored is None:
                    plan_ahead(m)
                    return
                done = m.current.stored
                now = clock() - t0
                m.sched.measured(_observations(done, act, {r.run_id: (now, 0.0) for r in done},
                                               p.interleave), 0.0)
                m.resumed += 1

        def finish(m: _Machine, value) -> None:
            """Feed ``m``'s finished task back to its scheduler (and planner)."""
            act, task = m.current.act, m.current
            m.current = None
            if isinstance(act, MakeBuilds):
                builds, elapsed = value
                m.sched.built(builds, elapsed)
                if m.planner_waits:
                    m.planner.built(builds, 0.0)
                    m.planner_waits = False
                return
            results, timing, _, elapsed = value
            start = clock() - elapsed - t0
            fixed = []
            for r in results:
                key, seq = task.seqs[0] if r.labels["role"] == "A" else task.seqs[1]
                fixed.append(dataclasses.replace(r, provenance={
                    **r.provenance, "machine": m.name, "spec_key": key, "spec_seq": seq,
                    "spec_scope": _resume.scope()}))
            if store:
                from ..store import write_run

                for r in fixed:
                    write_run(r, root)
            timing = {rid: (start + off, wall) for rid, (off, wall) in timing.items()}
            m.sched.measured(_observations(fixed, act, timing, p.interleave), elapsed)
            m.run += 1

        def give_up(m: _Machine, reason: str) -> None:
            act = m.current.act if m.current is not None else m.queued[0].act
            what = ("builds " + ",".join(map(str, act.indices))
                    if isinstance(act, MakeBuilds)
                    else f"build {act.build.build} pair {act.pair}")
            lost.append(_lost(m.name, what, reason))
            if m.current is not None and m.current.job is not None:
                disp.cancel(m.current.job)
            drop_queued(m)
            m.current, m.stop = None, f"stopped: {what} lost ({reason})"

        for m in ms.values():
            advance(m)
        while busy := [m for m in ms.values() if m.current is not None]:
            for job, outcome, value in disp.settled([m.current.job for m in busy]):
                m = ms[job.machine]
                if m.current is None:
                    continue                           # given up on already
                if outcome == "ok" and m.current.job is job:
                    finish(m, value)
                    advance(m)
                elif outcome != "ok":
                    give_up(m, value)
            if progress:
                for m in ms.values():
                    if m.current is None and m.stop and not m.said:
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
                               {m.name: m.resumed for m in ms.values()}, clock() - t0,
                               disp.restarts)
    finally:
        if fleet is not cluster:
            fleet.close()


def _machine_id(cid: str, machine: str) -> str:
    return hashlib.sha256(f"{cid}:{machine}".encode()).hexdigest()[:12]


def _lost(machine: str, what: str, reason: str) -> Lost:
    import sys

    print(f"fraglib: {machine}: lost {what}: {reason}", file=sys.stderr, flush=True)
    return Lost(machine, what, reason)
