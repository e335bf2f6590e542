"""``fraglib worker``: this machine joins a fleet as one Dask worker.

The worker has one thread and the resources ``machine=1`` and
``machine:<name>=1`` (:func:`~.identity.worker_resources`), so one fleet
task at a time runs here and each task lands on the machine it was meant
for. It runs under a :class:`distributed.Nanny`, which restarts the worker
process if it dies: the task it was running is then run again here.
Before connecting it announces its identity and description
(:func:`~.identity.describe`) on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys

from .identity import describe, machine_name, source_hash, worker_resources

__all__ = ["serve"]


def serve(scheduler: str, *, announce: bool = True) -> int:
    """Run a worker for this machine until the scheduler closes it or Ctrl-C.

    Parameters
    ----------
    scheduler : str
        Scheduler address (``tcp://host:8786``).
    announce : bool
        Print the machine description first (a TSC calibration run and a
        counter probe: a second or two).
    """
    from distributed import Nanny

    name = machine_name()
    if announce:
        d = describe()
        print(json.dumps({k: v for k, v in d.items() if k != "metadata"}, default=str),
              flush=True)
    else:
        print(json.dumps({"machine": name, "source_hash": source_hash()}), flush=True)

    async def run() -> None:
        async with Nanny(scheduler, nthreads=1, resources=worker_resources(name),
                         name=name, dashboard=False) as nanny:
            print(f"fraglib worker {name} connected to {scheduler}", file=sys.stderr,
                  flush=True)
            await nanny.finished()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0
