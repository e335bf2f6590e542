"""What a fleet worker runs for ``fraglib sweep --cluster``: one notebook, here.

:func:`run_notebook` executes one notebook on the worker's machine exactly
as ``fraglib sweep`` would (:func:`fraglib.notebooks.sweep`, papermill, the
notebook's own calls into fraglib: its builds use this machine's compiler,
its runs this machine's CPU), in a child process whose store and reports
directories are a private **staging** directory on this machine:

``<tmp>/fraglib-fleet-<sweep>-<machine>-<notebook>/``
    ``nb/`` the notebook as the client sent it, ``data/`` its store,
    ``reports/`` its executed copy and any file it writes there.

When the notebook ends the task reads the runs it stored and hands them,
with the executed copy and those files, back to the client, which writes
them into its store under ``data/runs/<machine>/``; the staging directory
is then removed. Nothing of the client's store or reports is touched here.

Faults: the child runs with resume on (``$FRAGLIB_RESUME=1``) in the
notebook's scope, in a staging directory named after the client's sweep:
if the worker dies mid-notebook, the task that runs again on this machine
finds the runs the killed attempt completed and reads them back instead of
measuring them again (at most the measurement in flight is lost). With
``--resume`` the client also sends the runs its store already holds for
this machine and notebook (``seed``), so a killed client's rerun measures
only what is missing. The child dies with its parent (``PR_SET_PDEATHSIG``):
a killed worker leaves no notebook running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .identity import machine_name

__all__ = ["NotebookOutcome", "run_notebook", "staging_dir"]

#: exit status of the child when the notebook failed (its error is in error.txt)
_FAILED = 3


@dataclasses.dataclass(frozen=True)
class NotebookOutcome:
    """One notebook executed on one machine.

    Attributes
    ----------
    machine, notebook : str
    executed : str or None
        The executed notebook (JSON text); on failure the partial copy,
        with papermill's error banner, if there is one.
    error : str or None
        Why the notebook failed (None: it ran to the end).
    runs : tuple of RunResult
        Every run it stored (not those sent as ``seed``).
    files : Mapping
        Other files it wrote under ``reports/``, ``{relative path: bytes}``.
    elapsed : float
        Seconds on the worker.
    """

    machine: str
    notebook: str
    executed: str | None
    error: str | None
    runs: tuple = ()
    files: Mapping = dataclasses.field(default_factory=dict)
    elapsed: float = 0.0


def staging_dir(sweep: str, machine: str, notebook: str) -> Path:
    """Where ``notebook`` of sweep ``sweep`` runs on ``machine`` (this host's tmp)."""
    return Path(tempfile.gettempdir()) / f"fraglib-fleet-{sweep}-{machine}-{notebook}"


def run_notebook(notebook: str, text: str, parameters: Mapping[str, object], *,
                 sweep: str, seed: Sequence = (), kernel_name: str = "python3"
                 ) -> NotebookOutcome:
    """Execute one notebook on this machine into a staging store; return what it made.

    Parameters
    ----------
    notebook : str
        Its stem (``1.0-fastpath``): also the resume scope of its runs.
    text : str
        The notebook (JSON), as the client has it.
    parameters : Mapping
        Validated values for its ``parameters`` cell (JSON-serialisable).
    sweep : str
        The client's sweep id (names the staging directory).
    seed : sequence of RunResult
        Runs already stored for this machine and notebook (``--resume``).
    kernel_name : str
        Jupyter kernel.
    """
    from .. import store
    from .._build import REPO_ROOT

    t0 = time.monotonic()
    machine = machine_name()
    stage = staging_dir(sweep, machine, notebook)
    (stage / "nb").mkdir(parents=True, exist_ok=True)
    (stage / "nb" / f"{notebook}.ipynb").write_text(text)
    runs_root = stage / "data" / "runs"
    have = {p.stem for p in runs_root.rglob("*.parquet")} if runs_root.exists() else set()
    for r in seed:
        if r.run_id not in have:
            store.write_run(r, runs_root)
    seeded = {r.run_id for r in seed}
    args = stage / "args.json"
    args.write_text(json.dumps({"notebook": notebook, "parameters": dict(parameters),
                                "kernel_name": kernel_name, "parent": os.getpid()}))
    env = {**os.environ, "FRAGLIB_DATA": str(stage / "data"),
           "FRAGLIB_REPORTS": str(stage / "reports"), "FRAGLIB_NOTEBOOKS": str(stage / "nb"),
           "FRAGLIB_RESUME": "1", "FRAGLIB_RESUME_SCOPE": notebook,
           "FRAGLIB_COMPACT_THRESHOLD": "0"}
    proc = subprocess.run([sys.executable, "-m", "fraglib.fleet.nbrun", str(args)], env=env,
                          cwd=str(REPO_ROOT), capture_output=True, text=True)
    error = None
    if proc.returncode == _FAILED:
        # the client says where it keeps the partial copy, not this staging path
        error = (stage / "error.txt").read_text().split("; the partial notebook")[0]
    elif proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        error = f"the notebook process exited with status {proc.returncode}: " \
                + " / ".join(tail)
    reports = stage / "reports"
    copy = reports / ("executed" if error is None else "failed") / f"{notebook}.ipynb"
    executed = copy.read_text() if copy.exists() else None
    files = {p.relative_to(reports).as_posix(): p.read_bytes()
             for p in sorted(reports.rglob("*")) if p.is_file()
             and p.relative_to(reports).parts[0] not in ("executed", "failed")} \
        if reports.exists() else {}
    runs = tuple(store.read_run(p) for p in sorted(runs_root.rglob("*.parquet"))
                 if not any(part.startswith(".") for part in p.relative_to(runs_root).parts)
                 and p.stem not in seeded) \
        if runs_root.exists() else ()
    shutil.rmtree(stage, ignore_errors=True)
    return NotebookOutcome(machine, notebook, executed, error, runs, files,
                           time.monotonic() - t0)


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the worker that started it dies (Linux)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)            # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return                                   # not Linux: nothing to arm
    if os.getppid() != parent:                   # the parent died before the arming
        os._exit(1)


def _main(argv: list[str]) -> int:
    """The child: ``python -m fraglib.fleet.nbrun ARGS.json``."""
    args = json.loads(Path(argv[0]).read_text())
    _die_with_parent(int(args["parent"]))
    from ..exceptions import FraglibError
    from ..notebooks import skip_iri_format_checker, sweep

    skip_iri_format_checker()
    try:
        sweep([args["notebook"]], parameters=args["parameters"], progress=False,
              kernel_name=args["kernel_name"])
    except FraglibError as e:
        (Path(argv[0]).parent / "error.txt").write_text(str(e))
        return _FAILED
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
