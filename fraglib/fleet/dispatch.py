"""Tasks in flight on a fleet, and what becomes of them: done, lost or resubmitted.

A :class:`Dispatcher` submits functions to machines (:meth:`Fleet.submit`)
and, when asked which of some jobs settled (:meth:`Dispatcher.settled`),
answers with each job's outcome while it deals with the faults a fleet
has:

* **A worker that dies** mid-task: Dask runs the task again on the same
  machine once the machine's nanny has restarted its worker (the task asks
  for the machine's own resource). If the machine has no worker for
  ``lost_after`` seconds, or Dask gives up on it
  (:class:`distributed.KilledWorker`), the job is **lost**, with the reason.
* **A scheduler restart**: the client loses every future (they are
  cancelled with the reason ``scheduler-connection-lost``) and reconnects
  by itself (within its ``timeout``); the workers' nannies start new
  workers, which register with the new scheduler. The dispatcher waits for
  the client to be connected again (at most ``reconnect_s`` seconds, else
  :class:`~fraglib.exceptions.FleetError`) and submits every job still in
  flight again, in the order they were first submitted. A job resubmitted
  more than :data:`MAX_RESUBMITS` times is lost.

Jobs are pure with respect to the store: a task returns its results and the
client writes them, so running one again never leaves two copies.
"""

from __future__ import annotations

import itertools
import time

from ..exceptions import FleetError, FraglibError

__all__ = ["Dispatcher", "Job", "MAX_RESUBMITS"]

#: times one job is submitted again after scheduler restarts before it is lost
MAX_RESUBMITS = 3

_CONNECTION_LOST = "scheduler-connection-lost"


class Job:
    """One function call on one machine, and the Dask future running it now."""

    _ids = itertools.count()

    def __init__(self, machine: str, fn, args: tuple, kwargs: dict):
        self.id = next(self._ids)
        self.machine = machine
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.future = None
        self.resubmits = 0

    def __repr__(self) -> str:
        return f"Job({self.machine}, {getattr(self.fn, '__name__', self.fn)}, #{self.id})"


class Dispatcher:
    """Submit jobs to a :class:`~.client.Fleet` and collect their outcomes.

    Parameters
    ----------
    fleet : Fleet
    lost_after : float
        Seconds a machine may have no worker before its jobs are lost.
    reconnect_s : float, optional
        Seconds to wait for the client to reconnect after the scheduler was
        lost (default: the fleet's ``timeout``).
    """

    def __init__(self, fleet, *, lost_after: float, reconnect_s: float | None = None):
        self.fleet = fleet
        self.lost_after = float(lost_after)
        self.reconnect_s = float(fleet.timeout if reconnect_s is None else reconnect_s)
        self.restarts = 0
        self._live: dict[int, Job] = {}
        self._absent: dict[str, float] = {}

    def submit(self, machine: str, fn, *args, **kwargs) -> Job:
        """Run ``fn(*args, **kwargs)`` on ``machine``; returns its :class:`Job`."""
        job = Job(machine, fn, args, kwargs)
        job.future = self.fleet.submit(machine, fn, *args, **kwargs)
        self._live[job.id] = job
        return job

    def cancel(self, job: Job) -> None:
        """Forget ``job`` (a task already running on its machine runs to its end)."""
        self._live.pop(job.id, None)
        if job.future is not None:
            job.future.cancel()

    def settled(self, jobs, timeout: float = 1.0) -> list[tuple[Job, str, object]]:
        """Wait up to ``timeout`` s for one of ``jobs``; return those settled.

        Returns
        -------
        list of (job, outcome, value)
            ``("ok", result)`` or ``("lost", reason)``; jobs still running
            are not listed.

        Raises
        ------
        FraglibError
            A task raised one (bad input found on the worker): re-raised.
        FleetError
            The scheduler was lost and the client did not reconnect in time.
        """
        from distributed import wait
        from distributed.client import FuturesCancelledError

        jobs = [j for j in jobs if j.id in self._live]
        if not jobs:
            return []
        try:
            wait([j.future for j in jobs], timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass                      # nothing finished: check the machines are there
        except FuturesCancelledError:
            pass                      # the scheduler went away: handled below
        out, restarted, present = [], False, None
        for j in jobs:
            fut = j.future
            if fut.status == "finished":
                out.append((j, "ok", fut.result()))
            elif fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, FraglibError) and not _killed(exc):
                    raise exc
                out.append((j, "lost", f"{type(exc).__name__}: {exc}"))
            elif fut.status in ("cancelled", "lost"):
                if _cancel_reason(fut) == _CONNECTION_LOST or self._disconnected():
                    restarted = True
                else:
                    out.append((j, "lost", "cancelled by the scheduler"))
            else:
                present = self.fleet.present() if present is None else present
                if j.machine in present:
                    self._absent.pop(j.machine, None)
                else:
                    since = self._absent.setdefault(j.machine, time.monotonic())
                    if time.monotonic() - since > self.lost_after:
                        out.append((j, "lost", f"machine {j.machine} had no worker for "
                                               f"{self.lost_after:g} s"))
        for j, _, _ in out:
            self._live.pop(j.id, None)
        if restarted:
            out += self._resubmit_all()
        return out

    # ---- scheduler restarts ----------------------------------------------------

    def _disconnected(self) -> bool:
        return self.fleet.client.status != "running"

    def _resubmit_all(self) -> list[tuple[Job, str, object]]:
        """The scheduler went away: wait for the client to reconnect, then
        submit every live job again, oldest first."""
        import sys

        client = self.fleet.client
        deadline = time.monotonic() + self.reconnect_s
        while client.status != "running":
            if client.status in ("closing", "closed") or time.monotonic() > deadline:
                raise FleetError(f"lost the Dask scheduler and could not reconnect within "
                                 f"{self.reconnect_s:g} s (client {client.status}); rerun "
                                 "with --resume to keep every stored run")
            time.sleep(0.1)
        self.restarts += 1
        print(f"fraglib: reconnected to the scheduler (restart {self.restarts}): "
              f"submitting {len(self._live)} task(s) again", file=sys.stderr, flush=True)
        lost = []
        for j in sorted(self._live.values(), key=lambda j: j.id):
            if j.future.status not in ("cancelled", "lost"):
                continue              # submitted after the reconnect: still valid
            j.resubmits += 1
            if j.resubmits > MAX_RESUBMITS:
                lost.append((j, "lost", f"submitted {MAX_RESUBMITS + 1} times, each lost "
                                        "with the scheduler"))
                continue
            j.future = self.fleet.submit(j.machine, j.fn, *j.args, **j.kwargs)
        for j, _, _ in lost:
            self._live.pop(j.id, None)
        return lost


def _killed(exc: BaseException) -> bool:
    from distributed import KilledWorker

    return isinstance(exc, KilledWorker)


def _cancel_reason(fut) -> str | None:
    """Why Dask cancelled ``fut`` (``scheduler-connection-lost``, ...), if it says."""
    from distributed.client import FutureCancelledError

    try:
        fut.result(timeout=0)
    except FutureCancelledError as e:
        return e.reason
    except Exception:          # noqa: BLE001 - any other state: no reason given
        return None
    return None
