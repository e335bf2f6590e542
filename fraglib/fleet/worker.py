"""``fraglib worker``: this machine joins a fleet as one Dask worker.

The worker has one thread and the resources ``machine=1`` and
``machine:<name>=1`` (:func:`~.identity.worker_resources`), so one fleet
task at a time runs here and each task lands on the machine it was meant
for. It runs under a :class:`distributed.Nanny`, which restarts the worker
process if it dies: the task it was running is then run again here.
Before connecting it announces its identity and description
(:func:`~.identity.describe`) on stdout.

When the scheduler goes away (restarted, or its host rebooted) the worker
process closes; ``serve`` then starts a new nanny that waits for the
scheduler to be back and registers again, for up to ``reconnect``
seconds without a scheduler, after which it exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from .identity import describe, machine_name, source_hash, worker_resources

__all__ = ["serve"]


#: seconds ``fraglib worker`` waits for a lost scheduler before it exits
RECONNECT_S = 300.0


def serve(scheduler: str, *, announce: bool = True, reconnect: float = RECONNECT_S) -> int:
    """Run a worker for this machine until the scheduler closes it or Ctrl-C.

    Parameters
    ----------
    scheduler : str
        Scheduler address (``tcp://host:8786``).
    announce : bool
        Print the machine description first (a TSC calibration run and a
        counter probe: a second or two).
    reconnect : float
        Seconds to keep trying to (re)connect while there is no scheduler
        (0: exit as soon as it is gone).

    Returns
    -------
    int
        0 after Ctrl-C; 1 when no scheduler answered for ``reconnect`` s.
    """
    from distributed import Nanny

    name = machine_name()
    if announce:
        d = describe()
        print(json.dumps({k: v for k, v in d.items() if k != "metadata"}, default=str),
              flush=True)
    else:
        print(json.dumps({"machine": name, "source_hash": source_hash()}), flush=True)

    async def once() -> None:
        async with Nanny(scheduler, nthreads=1, resources=worker_resources(name),
                         name=name, dashboard=False,
                         death_timeout=max(float(reconnect), 1.0)) as nanny:
            print(f"fraglib worker {name} connected to {scheduler}", file=sys.stderr,
                  flush=True)
            await nanny.finished()

    since = time.monotonic()                # the last time a nanny was running
    while True:
        try:
            asyncio.run(once())
            since = time.monotonic()
            why = "the scheduler closed the connection"
        except KeyboardInterrupt:
            return 0
        except (OSError, RuntimeError, TimeoutError) as e:
            why = f"{type(e).__name__}: {e}"
        if time.monotonic() - since >= reconnect:
            print(f"fraglib worker {name}: no scheduler at {scheduler} for "
                  f"{reconnect:g} s ({why}): exiting", file=sys.stderr, flush=True)
            return 1
        print(f"fraglib worker {name}: {why}; waiting for the scheduler at {scheduler}",
              file=sys.stderr, flush=True)
        time.sleep(1.0)
