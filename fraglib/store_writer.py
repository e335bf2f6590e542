"""Write a comparison's runs to the store while its next pair runs.

A comparison in budget mode runs thousands of short engine processes; each
run's Parquet file costs about 10 ms of Python and pyarrow (one third of a
lockstep pair's 50 ms on the 2-vCPU VM). The engines of a pair sit on one
pinned CPU and the Python parent only waits for them, so :class:`RunWriter`
writes on a thread of its own, pinned to the other CPUs where there are
any, and the pairs no longer wait for the disk.

Every run is still written by :func:`fraglib.store.write_run` (atomic, one
file per run). What changes is when a failure shows: the first
:class:`~fraglib.exceptions.StoreError` is raised at the next
:meth:`RunWriter.submit` or at :meth:`RunWriter.close`, which waits for
every run handed over; a comparison closes its writer before it returns,
so its runs are all in the store, or its caller sees why not.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

from .results import RunResult

__all__ = ["RunWriter"]


def _pin_away_from(cpus: frozenset[int]) -> None:
    """Pin the calling thread to the CPUs not in `cpus` (if any remain)."""
    others = os.sched_getaffinity(0) - set(cpus)
    if cpus and others:
        os.sched_setaffinity(0, others)     # pid 0: this thread only


class RunWriter:
    """Write :class:`~fraglib.results.RunResult` to the store on one thread.

    Parameters
    ----------
    root : path, optional
        Runs directory, as :func:`fraglib.store.write_run`'s.
    avoid_cpus : iterable of int, optional
        The CPUs the engines run on: the writer's thread keeps off them
        while any other CPU is allowed (a ring pair on a 2-CPU machine
        takes both: then it runs where the scheduler puts it).

    Notes
    -----
    Use as a context manager; leaving it waits for every run handed over
    and raises the first write error (the runs after a failed one are
    still attempted, each atomically).
    """

    def __init__(self, root=None, *, avoid_cpus=()):
        self.root = root
        self.avoid_cpus = frozenset(int(c) for c in avoid_cpus)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraglib-store",
                                        initializer=_pin_away_from,
                                        initargs=(self.avoid_cpus,))
        self._pending: list[Future] = []
        self.written = 0

    def submit(self, result: RunResult) -> None:
        """Hand a run over to be written; raise an earlier run's write error."""
        from .store import write_run

        self._raise_done()
        self._pending.append(self._pool.submit(write_run, result, self.root))

    def _raise_done(self, wait: bool = False) -> None:
        keep, error = [], None
        for f in self._pending:
            if wait or f.done():
                e = f.exception()
                if e is None:
                    self.written += 1
                elif error is None:
                    error = e
            else:
                keep.append(f)
        self._pending = keep
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for every run handed over; raise the first write error."""
        try:
            self._raise_done(wait=True)
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        # already failing: still finish the writes, but keep the first error
        try:
            self.close()
        except Exception:
            pass
