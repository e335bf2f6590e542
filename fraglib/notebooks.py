"""Run the parameterized notebooks (papermill) and render reports (nbconvert).

``sweep`` executes ``notebooks/*.ipynb`` in order with papermill, writing
executed copies to ``reports/executed/``; ``report`` renders those copies
to HTML without code cells and writes ``reports/index.html`` linking them
(and ``reports/summary.txt`` when the summary notebook produced one).
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

__all__ = ["notebook_paths", "sweep", "report", "notebooks_dir", "reports_dir"]


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def reports_dir() -> Path:
    """``$FRAGLIB_REPORTS`` or ``<repo>/reports``."""
    env = os.environ.get("FRAGLIB_REPORTS")
    return Path(env) if env else REPO_ROOT / "reports"


def notebook_paths(names: Sequence[str] | None = None) -> list[Path]:
    """Notebooks by name (``1.0-fastpath`` or a glob); all when None."""
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


def sweep(names: Sequence[str] | None = None, *,
          parameters: Mapping[str, object] | None = None,
          out_dir: str | os.PathLike | None = None, progress: bool = True,
          kernel_name: str = "python3") -> list[Path]:
    """Execute notebooks with papermill; return the executed copies.

    Parameters
    ----------
    names : sequence of str, optional
        Notebook stems; every notebook when None.
    parameters : mapping, optional
        Values injected into every notebook's ``parameters`` cell (only
        the names a notebook declares are passed to it).
    out_dir : path, optional
        Where executed copies go (default ``reports/executed``).
    progress : bool
        Progress bar over notebooks (papermill shows cells).

    Raises
    ------
    ParameterError
        Before any notebook runs: a parameter no selected notebook declares,
        or a value of the wrong type or out of range
        (:func:`fraglib.nbparams.validate_notebook_params`).
    """
    import papermill as pm

    from .nbparams import validate_notebook_params

    paths = notebook_paths(names)
    per_nb = validate_notebook_params(paths, parameters)   # before anything runs
    out = Path(out_dir) if out_dir else reports_dir() / "executed"
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
        except pm.PapermillExecutionError as e:
            tmp.unlink(missing_ok=True)
            raise FraglibError(f"notebook {nb.name} failed in cell {e.exec_count}: "
                               f"{e.ename}: {e.evalue}") from e
        os.replace(tmp, target)
        done.append(target)
    return done


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
        entries.append((target.name, _title(nb)))
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
