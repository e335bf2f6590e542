"""``fraglib sweep --cluster``: the notebooks run on every machine, one store.

Each measuring notebook runs **on each machine**, whole, as ``fraglib
sweep`` runs it there (:func:`fraglib.fleet.nbrun.run_notebook`: papermill
on the worker, builds and runs on its CPU), one notebook at a time per
machine and all machines at once. The notebooks are not changed for it: a
notebook is a question asked of one machine, and the fleet asks it of
every machine. What each run produced comes back to the client, which

* writes its runs into the store under ``data/runs/<machine>/``
  (:func:`fraglib.store.write_run`, atomically);
* keeps the executed copy as ``reports/executed/<notebook>@<machine>.ipynb``
  (its title says the machine), so ``fraglib report`` renders one page per
  notebook and machine; a failed notebook's partial copy goes to
  ``reports/failed/<notebook>@<machine>.ipynb``;
* keeps any other file the notebook wrote under ``reports/`` as
  ``<name>@<machine><suffix>`` (``reports/summary@m-a.txt``).

A notebook that measures nothing and reads the store across machines
declares it in its metadata (``"fraglib": {"runs_on": "client"}``, as
``9.0-fleet`` does): it runs once, here, after the machines' notebooks,
on the store they filled.

Without ``cluster`` and ``machines`` nothing of this runs: ``fraglib
sweep`` executes the notebooks here directly, with no Dask
(:func:`fraglib.notebooks.sweep`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from .client import Fleet
from .dispatch import Dispatcher
from .executor import LOST_AFTER_S, Lost
from .nbrun import run_notebook

__all__ = ["FleetSweep", "sweep", "runs_on"]

#: where a notebook runs in a fleet sweep, from its metadata (default "machines")
RUNS_ON = ("machines", "client")


@dataclasses.dataclass(frozen=True)
class FleetSweep:
    """What a fleet sweep did.

    Attributes
    ----------
    machines : tuple of str
    executed : tuple of Path
        Executed copies written (``<notebook>@<machine>.ipynb``, then the
        client's notebooks).
    failed : tuple of (machine, notebook, error)
        Notebooks that raised; their partial copies are under ``reports/failed``.
    lost : tuple of Lost
        Notebooks given up on (the machine went away), with the reason.
    runs : Mapping
        Runs stored per machine.
    restarts : int
        Scheduler restarts survived.
    """

    machines: tuple
    executed: tuple
    failed: tuple = ()
    lost: tuple = ()
    runs: Mapping = dataclasses.field(default_factory=dict)
    restarts: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.lost

    @property
    def text(self) -> str:
        """One line per machine, then each failure and loss."""
        lines = [f"{m}: {self.runs.get(m, 0)} run(s) stored" for m in self.machines]
        lines += [f"failed on {m}: {nb}: {err}" for m, nb, err in self.failed]
        lines += [f"lost on {x.machine}: {x.what}: {x.reason}" for x in self.lost]
        if self.restarts:
            lines.append(f"survived {self.restarts} scheduler restart(s)")
        return "\n".join(lines)


def runs_on(path: Path) -> str:
    """Where notebook ``path`` runs in a fleet sweep: ``"machines"`` (each
    machine runs it) or ``"client"`` (once, here, after them)."""
    from ..exceptions import ParameterError

    meta = json.loads(Path(path).read_text()).get("metadata", {})
    where = (meta.get("fraglib") or {}).get("runs_on", "machines")
    if where not in RUNS_ON:
        raise ParameterError(f"{Path(path).name} metadata fraglib.runs_on", where,
                             " or ".join(RUNS_ON))
    return where


def _seeds(root, machines: Sequence[str], stems: Sequence[str]) -> dict:
    """``{(machine, notebook): [RunResult]}`` already stored (``--resume``)."""
    from .. import store

    with store._no_compaction(root):
        con = store.connect(root)
        cols = {r[0] for r in con.execute("DESCRIBE samples").fetchall()}
        if not {"spec_scope", "machine"} <= cols:
            return {}
        rows = con.execute("SELECT DISTINCT machine, spec_scope, run_id FROM samples "
                           "WHERE spec_scope IS NOT NULL").fetchall()
    out: dict = {}
    for m, scope, rid in rows:
        if m in machines and scope in stems:
            out.setdefault((m, scope), []).append(store.load_run(rid, root))
    return out


def _titled(text: str, machine: str) -> str:
    """The executed notebook with ``(machine NAME)`` after its title."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = "".join(cell.get("source", ""))
        lines = src.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i] = line.rstrip("\n") + f" (machine {machine})" \
                    + ("\n" if line.endswith("\n") else "")
                cell["source"] = "".join(lines)
                return json.dumps(nb, indent=1)
    return text


def _write(path: Path, data: bytes | str) -> Path:
    """Write ``path`` atomically (a temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def _at(name: str, machine: str) -> str:
    """``summary.txt`` -> ``summary@m-a.txt``."""
    p = Path(name)
    return str(p.with_name(f"{p.stem}@{machine}{p.suffix}"))


def sweep(names: Sequence[str] | None = None, *, cluster=None, machines="all",
          parameters: Mapping[str, object] | None = None, resume: bool = False,
          out_dir: str | os.PathLike | None = None, root=None, progress: bool = True,
          lost_after: float = LOST_AFTER_S, kernel_name: str = "python3") -> FleetSweep:
    """Execute the notebooks on each machine of a fleet; store every run here.

    Parameters
    ----------
    names : sequence of str, optional
        Notebook stems (every notebook when None).
    cluster : None, str, distributed.Client or Fleet
        As :class:`~.client.Fleet` (None: this machine through a local cluster).
    machines : "all", str or list of str
        Which machines.
    parameters : Mapping, optional
        Notebook parameters, checked for every notebook before anything runs
        (:func:`fraglib.nbparams.validate_notebook_params`); each notebook
        gets the names it declares.
    resume : bool
        Skip the runs each machine already stored for each notebook (a
        killed sweep's rerun).
    out_dir : path, optional
        Executed copies (default ``reports/executed``; failed copies go to
        ``failed`` beside it).
    root : path, optional
        Runs directory of the store.
    progress : bool
        One line on stderr per notebook and machine.
    lost_after : float
        Seconds a machine may have no worker before its notebook is lost
        (its later notebooks are then not run).
    kernel_name : str

    Returns
    -------
    FleetSweep

    Raises
    ------
    ParameterError
        Before any notebook runs: an unknown notebook or a bad parameter.
    """
    from ..exceptions import FraglibError, ParameterError
    from ..nbparams import validate_notebook_params
    from ..notebooks import notebook_paths, reports_dir
    from ..notebooks import sweep as local_sweep
    from ..store import write_run

    if isinstance(lost_after, bool) or not isinstance(lost_after, (int, float)) \
            or not lost_after > 0:
        raise ParameterError("lost_after", lost_after, "a number of seconds > 0")
    paths = notebook_paths(names)
    per_nb = validate_notebook_params(paths, parameters)
    where = {p: runs_on(p) for p in paths}
    remote = [p for p in paths if where[p] == "machines"]
    local = [p for p in paths if where[p] == "client"]
    out = Path(out_dir) if out_dir else reports_dir() / "executed"
    failed_dir = out.parent / "failed"
    fleet = cluster if isinstance(cluster, Fleet) else Fleet(cluster)
    try:
        chosen = fleet.machines(machines)
        sid = uuid.uuid4().hex[:12]
        seeds = _seeds(root, chosen, [p.stem for p in remote]) if resume and remote else {}
        disp = Dispatcher(fleet, lost_after=lost_after)
        todo = {m: list(remote) for m in chosen}
        jobs = {}
        executed, failed, lost = [], [], []
        stored = dict.fromkeys(chosen, 0)

        def say(msg: str) -> None:
            if progress:
                print(f"fraglib: {msg}", file=sys.stderr, flush=True)

        def submit(m: str) -> None:
            if todo[m]:
                nb = todo[m].pop(0)
                jobs[m] = (nb, disp.submit(m, run_notebook, nb.stem, nb.read_text(),
                                           per_nb[nb], sweep=sid,
                                           seed=tuple(seeds.get((m, nb.stem), ())),
                                           kernel_name=kernel_name))
            else:
                jobs.pop(m, None)

        def keep(m: str, nb: Path, o) -> None:
            for r in o.runs:
                write_run(dataclasses.replace(r, provenance={**r.provenance, "machine": m}),
                          root)
            stored[m] += len(o.runs)
            name = f"{nb.stem}@{m}.ipynb"
            if o.executed is not None:
                dest = (out if o.error is None else failed_dir) / name
                _write(dest, _titled(o.executed, m))
                if o.error is None:
                    executed.append(dest)
                    (failed_dir / name).unlink(missing_ok=True)
            for rel, data in o.files.items():
                _write(out.parent / _at(rel, m), data)
            if o.error is not None:
                kept = f"; the partial notebook is {failed_dir.name}/{name}" \
                    if o.executed is not None else ""
                failed.append((m, nb.stem, o.error + kept))
                say(f"{m}: {nb.stem} failed: {o.error}")
            else:
                say(f"{m}: {nb.stem} done in {o.elapsed:.0f} s ({len(o.runs)} runs)")

        for m in chosen:
            submit(m)
        while jobs:
            by_job = {job.id: m for m, (_, job) in jobs.items()}
            for job, outcome, value in disp.settled([job for _, job in jobs.values()]):
                m = by_job[job.id]
                nb = jobs[m][0]
                if outcome == "ok":
                    keep(m, nb, value)
                    submit(m)
                else:
                    lost.append(Lost(m, f"notebook {nb.stem}", value))
                    say(f"{m}: lost notebook {nb.stem}: {value}; its other notebooks "
                        "are not run")
                    todo[m].clear()
                    jobs.pop(m)
        for nb in local:                 # they read the store: nothing to resume
            try:
                executed += local_sweep([nb.stem], parameters=per_nb[nb], out_dir=out,
                                        progress=False, kernel_name=kernel_name)
            except FraglibError as e:
                failed.append(("client", nb.stem, str(e)))
                say(f"client: {nb.stem} failed: {e}")
        return FleetSweep(tuple(chosen), tuple(executed), tuple(failed), tuple(lost),
                          stored, disp.restarts)
    finally:
        if fleet is not cluster:
            fleet.close()

