"""Run the parameterized notebooks (papermill) and render reports (nbconvert).

``sweep`` executes ``notebooks/*.ipynb`` in order with papermill, writing
executed copies to ``reports/executed/`` and the partial copy of a notebook
that failed, with papermill's error banner, to ``reports/failed/``;
``report`` renders the executed copies to HTML without code cells and writes
``reports/index.html`` linking them (and ``reports/summary.txt`` when the
summary notebook produced one).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ._build import REPO_ROOT
from .exceptions import FraglibError, ParameterError

__all__ = ["notebook_paths", "sweep", "report", "notebooks_dir", "reports_dir",
           "duration"]


def notebooks_dir() -> Path:
    """``$FRAGLIB_NOTEBOOKS`` or ``<repo>/notebooks``."""
    env = os.environ.get("FRAGLIB_NOTEBOOKS")
    return Path(env) if env else REPO_ROOT / "notebooks"


def reports_dir() -> Path:
    """``$FRAGLIB_REPORTS`` or ``<repo>/reports``."""
    env = os.environ.get("FRAGLIB_REPORTS")
    return Path(env) if env else REPO_ROOT / "reports"


def notebook_paths(names: Sequence[str] | None = None) -> list[Path]:
    """Notebooks in :func:`notebooks_dir` by name (``1.0-fastpath`` or
    ``1.0-fastpath.ipynb``); all when None."""
    every = sorted(notebooks_dir().glob("*.ipynb"))
    if not names:
        return every
    known = {p.stem: p for p in every}
    out = []
    for n in names:
        stem = Path(n).name.removesuffix(".ipynb")
        if stem not in known:
            raise ParameterError("notebook", n, "one of " + ", ".join(known))
        out.append(known[stem])
    return out


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (messages)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def skip_iri_format_checker() -> None:
    """Leave jsonschema's optional "iri" format checker out of this process.

    nbformat (so papermill and nbconvert) imports jsonschema, which
    registers that checker when ``rfc3987_syntax`` is installed (JupyterLab
    brings it in), and that package compiles 38 lark grammars at import:
    about 2 s of CPU before the first notebook runs, for a check nothing
    here uses (no nbformat schema field has that format).  jsonschema
    imports it under ``suppress(ImportError)``, so a None entry in
    ``sys.modules`` just leaves the one checker out.  Called only in
    processes fraglib owns (the ``fraglib`` command, a fleet worker's
    notebook process), never in a caller's session; no effect once
    jsonschema is imported.
    """
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)


def sweep(names: Sequence[str] | None = None, *,
          parameters: Mapping[str, object] | None = None,
          out_dir: str | os.PathLike | None = None,
          failed_dir: str | os.PathLike | None = None, progress: bool = True,
          kernel_name: str = "python3", cluster=None, machines=None):
    """Execute notebooks with papermill; return the executed copies.

    Parameters
    ----------
    names : sequence of str, optional
        Notebook stems in :func:`notebooks_dir`; every notebook when None.
    parameters : mapping, optional
        Values injected into every notebook's ``parameters`` cell (only
        the names a notebook declares are passed to it).
    out_dir : path, optional
        Where executed copies go (default ``reports/executed``).
    failed_dir : path, optional
        Where the partial copy of a notebook that failed goes (default
        ``failed`` next to ``out_dir``: ``reports/failed``).
    progress : bool
        Progress bar over notebooks (papermill shows cells).
    cluster : None, str, distributed.Client or fraglib.fleet.Fleet
        Run on a Dask fleet: every notebook runs on each machine and the
        runs land in this store under ``data/runs/<machine>/``
        (:func:`fraglib.fleet.sweep.sweep`, which then returns a
        :class:`fraglib.fleet.FleetSweep`). None with ``machines`` None:
        here, directly (no Dask).
    machines : "all", str or list of str, optional
        With ``cluster``: which machines (default all); given without
        ``cluster``, this machine through a local Dask cluster.

    Raises
    ------
    ParameterError
        Before any notebook runs: a parameter no selected notebook declares,
        or a value of the wrong type or out of range
        (:func:`fraglib.nbparams.validate_notebook_params`).
    FraglibError
        A notebook failed: the message names the cell, the error and where
        its partial copy (executed up to the failing cell, with papermill's
        error banner at the top) was kept; the notebooks after it did not run.
    """
    if cluster is not None or machines is not None:
        from .fleet.sweep import sweep as fleet_sweep
        from .resume import resume_enabled

        if failed_dir is not None:
            raise ParameterError("failed_dir", failed_dir, "None with cluster= (failed "
                                 "copies go to 'failed' beside out_dir)")
        return fleet_sweep(names, cluster=cluster, machines=machines or "all",
                           parameters=parameters, out_dir=out_dir, progress=progress,
                           kernel_name=kernel_name, resume=resume_enabled(None))
    import papermill as pm

    from .nbparams import validate_notebook_params

    paths = notebook_paths(names)
    per_nb = validate_notebook_params(paths, parameters)   # before anything runs
    out = Path(out_dir) if out_dir else reports_dir() / "executed"
    failed = Path(failed_dir) if failed_dir else out.parent / "failed"
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for nb in tqdm(paths, disable=not progress, desc="notebooks"):
        params = per_nb[nb]
        target = out / nb.name
        tmp = out / f".tmp-{nb.name}"
        try:
            pm.execute_notebook(str(nb), str(tmp), parameters=params,
                                kernel_name=kernel_name, cwd=str(REPO_ROOT),
                                progress_bar=False)
        except BaseException as e:
            kept = _keep_failed(tmp, failed / nb.name)
            if not isinstance(e, Exception):
                raise                  # interrupted: the partial copy is kept all the same
            if isinstance(e, pm.PapermillExecutionError):
                what = f"failed in cell {e.exec_count}: {e.ename}: {e.evalue}"
            else:                      # the kernel died, no such kernel, ...
                what = f"failed: {type(e).__name__}: {e}"
            where = (f"; the partial notebook, with the error at the top, is "
                     f"{_shown(kept)}" if kept else "")
            raise FraglibError(f"notebook {nb.name} {what}{where}") from e
        os.replace(tmp, target)
        (failed / nb.name).unlink(missing_ok=True)   # an earlier failure is stale now
        done.append(target)
    return done


def _keep_failed(tmp: Path, dest: Path) -> Path | None:
    """Move a failed notebook's partial copy to ``dest``; None if there is none."""
    if not tmp.exists():
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)
    return dest


def duration(nb_path: str | os.PathLike) -> float | None:
    """Seconds an executed notebook took (papermill's own record); None if unknown."""
    nb = json.loads(Path(nb_path).read_text())
    d = nb.get("metadata", {}).get("papermill", {}).get("duration")
    return float(d) if isinstance(d, (int, float)) else None


def _title(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("# ").strip()
    return nb_path.stem


def report(executed: Sequence[str | os.PathLike] | None = None, *,
           out_dir: str | os.PathLike | None = None) -> Path:
    """Render executed notebooks to HTML (no code cells) and write an index.

    Returns the path of ``index.html``.
    """
    from nbconvert import HTMLExporter

    out = Path(out_dir) if out_dir else reports_dir()
    src = [Path(p) for p in executed] if executed else sorted(
        (reports_dir() / "executed").glob("*.ipynb"))
    if not src:
        raise FraglibError("no executed notebooks to render: run `fraglib sweep` first")
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    entries = []
    for nb in src:
        body, _ = exporter.from_filename(str(nb))
        target = out / f"{nb.stem}.html"
        tmp = out / f".tmp-{nb.stem}.html"
        tmp.write_text(body)
        os.replace(tmp, target)
        secs = duration(nb)
        entries.append((target.name, _title(nb)
                        + (f" ({secs:.0f} s)" if secs is not None else "")))
    extra = ""
    if (out / "summary.txt").exists():
        extra = '<li><a href="summary.txt">summary.txt</a> (plain text, 72 columns)</li>'
    items = "\n".join(f'<li><a href="{html.escape(f)}">{html.escape(t)}</a></li>'
                      for f, t in entries)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    index = out / "index.html"
    index.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fraglib reports</title></head>
<body><h1>fraglib reports</h1>
<p>Top-down vs bottom-up page_frag and the other designs of the 2024 netdev
debate, measured per packet. Generated {stamp}.</p>
<ul>
{items}
{extra}
</ul></body></html>
""")
    return index
