"""The client side of a fleet: connect, check the workers, pick machines.

:class:`Fleet` wraps a :class:`distributed.Client`. Made without a cluster,
it starts a :class:`distributed.LocalCluster` with one in-process worker
(``processes=False``: no second interpreter to start and nothing pickled
between processes; benchmarks/bench_fleet.py measures what it costs) that
is this machine. Given an address or a Client, it uses that cluster, whose
workers were started with ``fraglib worker --scheduler ADDR``.

On connect every selected worker reports its :class:`~.identity.Identity`;
one whose source hash differs from the client's is refused
(:class:`~fraglib.exceptions.SourceMismatchError`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..exceptions import FleetError, ParameterError, SourceMismatchError
from . import identity as _identity

__all__ = ["Fleet"]


class Fleet:
    """A Dask cluster whose workers are machines.

    Parameters
    ----------
    cluster : None, str or distributed.Client
        None: a local cluster of one in-process worker (this machine); a
        scheduler address (``tcp://host:8786``); or a connected Client.
    timeout : float, default 30
        Seconds to wait for the scheduler and for the machines asked for.

    Examples
    --------
    >>> with Fleet() as f:                       # doctest: +SKIP
    ...     print(f.machines())
    """

    def __init__(self, cluster=None, *, timeout: float = 30.0):
        from distributed import Client, LocalCluster

        self._own: list = []
        self.timeout = float(timeout)
        if cluster is None:
            name = _identity.machine_name()
            lc = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                              resources=_identity.worker_resources(name),
                              dashboard_address=None, name=f"fraglib-{name}",
                              # no dashboard; its HTTP endpoint on a free port, not
                              # 8787 (a warning when another cluster holds it)
                              scheduler_kwargs={"dashboard_address": ":0"})
            self.client = Client(lc)
            self._own += [self.client, lc]
        elif isinstance(cluster, str):
            try:
                self.client = Client(cluster, timeout=self.timeout)
            except (OSError, TimeoutError) as e:
                raise FleetError(f"cannot reach the Dask scheduler at {cluster}: {e} "
                                 "(start one with `dask scheduler`)") from e
            self._own.append(self.client)
        elif isinstance(cluster, Client):
            self.client = cluster
        else:
            raise ParameterError("cluster", cluster, "None (this machine), a scheduler "
                                 "address such as tcp://host:8786, or a distributed.Client")

    # ---- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the client and the local cluster this Fleet started (not a given one)."""
        for obj in self._own:
            obj.close()
        self._own.clear()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- machines --------------------------------------------------------------

    def identities(self) -> dict[str, _identity.Identity]:
        """``{worker address: Identity}`` of every connected worker."""
        return self.client.run(_identity.identity)

    def machines(self, wanted: str | Iterable[str] = "all") -> list[str]:
        """The machines to run on, checked.

        Parameters
        ----------
        wanted : "all" or iterable of str
            Every connected machine, or these (waiting up to ``timeout``
            seconds for each to connect).

        Raises
        ------
        SourceMismatchError
            A selected worker runs another fraglib.
        FleetError
            No worker, or a named machine did not connect in time.
        """
        if isinstance(wanted, str) and wanted != "all":
            wanted = [m for m in wanted.split(",") if m]
        if not isinstance(wanted, str):
            wanted = list(wanted)
            if not wanted or not all(isinstance(m, str) and m for m in wanted):
                raise ParameterError("machines", wanted, '"all" or a list of machine names')
        deadline = time.monotonic() + self.timeout
        while True:
            ids = self.identities()
            have = {i.machine for i in ids.values()}
            missing = [] if wanted == "all" else [m for m in wanted if m not in have]
            if have and not missing:
                break
            if time.monotonic() > deadline:
                if not have:
                    raise FleetError(f"no worker connected within {self.timeout:g} s: "
                                     "start one on each machine with "
                                     "`fraglib worker --scheduler ADDR`")
                raise FleetError(f"machine(s) {', '.join(missing)} did not connect within "
                                 f"{self.timeout:g} s (connected: {', '.join(sorted(have))})",
                                 missing[0])
            time.sleep(0.2)
        chosen = sorted(have) if wanted == "all" else list(dict.fromkeys(wanted))
        mine = _identity.source_hash()
        for i in ids.values():
            if i.machine in chosen and i.source_hash != mine:
                raise SourceMismatchError(i.machine, i.source_hash, mine)
        return chosen

    def present(self) -> set[str]:
        """The machines that have a worker connected now."""
        res = self.client.scheduler_info(n_workers=-1)["workers"].values() \
            if _accepts_n_workers(self.client) else \
            self.client.scheduler_info()["workers"].values()
        prefix = _identity.machine_resource("")
        return {k[len(prefix):] for w in res for k in (w.get("resources") or {})
                if k.startswith(prefix)}

    def describe(self) -> dict[str, dict]:
        """``{machine: description}`` (:func:`~.identity.describe`: CPU model,
        kernel, TSC rate, counters) of every connected worker."""
        return {d["machine"]: d for d in self.client.run(_identity.describe).values()}

    # ---- tasks -----------------------------------------------------------------

    def submit(self, machine: str, fn, *args, **kwargs):
        """Run ``fn`` on ``machine``, alone there (resources ``machine=1`` and the
        machine's own); a worker lost mid-task makes Dask run it again on the
        same machine once its worker is back."""
        res = {_identity.MACHINE: 1, _identity.machine_resource(machine): 1}
        return self.client.submit(fn, *args, resources=res, pure=False, **kwargs)


def _accepts_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
