"""Checks that a rendered report is clean: no warnings, tracebacks or paths.

A report is read and forwarded by people who never saw this machine: a
``RuntimeWarning`` block, a traceback or a path of the author's home in it is noise
at best and a leak at worst. :func:`problems` lists what a rendered HTML
report (or any text) shows that it should not; the notebook smoke tests
assert it is empty. Conditions worth reporting (page faults in the timed
region, refused parameters) belong in the tables as data
(:func:`fraglib.experiments.schedule.run_flags`, :func:`fraglib.report.tables.show`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["problems", "machine_paths", "FORBIDDEN_WORDS"]

#: words that mean a warning or an exception leaked into the output.
FORBIDDEN_WORDS = ("Warning", "Traceback")

_HIDDEN = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)


def machine_paths(extra: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Absolute paths of this machine a report must not show.

    The repository root and ``$HOME`` (each also resolved through symlinks),
    plus `extra` (e.g. a test's temporary directory). The root directory
    ``/`` is never listed.
    """
    from .._build import REPO_ROOT

    cands = [REPO_ROOT, *(Path(p) for p in extra)]
    home = os.environ.get("HOME")
    if home:
        cands.append(Path(home))
    out = []
    for p in cands:
        for q in (str(p), os.path.realpath(p)):
            q = q.rstrip("/")
            if q and q not in out:
                out.append(q)
    return out


def problems(text: str, extra_paths: Iterable[str | os.PathLike] = (), *,
             context: int = 60) -> list[str]:
    """What `text` shows that a report must not, one line per finding.

    Parameters
    ----------
    text : str
        A rendered report (HTML is fine: ``<style>`` and ``<script>``
        blocks are skipped, they are not shown).
    extra_paths : iterable of path
        Further absolute paths that must not appear.
    context : int, default 60
        Characters of context quoted around each finding.

    Returns
    -------
    list of str
        Empty when the text is clean.
    """
    shown = _HIDDEN.sub("", text)
    found = []

    def quote(i: int, n: int) -> str:
        s = shown[max(0, i - context):i + n + context]
        return " ".join(s.split())

    for word in FORBIDDEN_WORDS:
        for m in re.finditer(re.escape(word), shown):
            found.append(f"{word!r}: ...{quote(m.start(), len(word))}...")
    for p in machine_paths(extra_paths):
        for m in re.finditer(re.escape(p) + r"(?=[/\"'<\s:]|$)", shown):
            found.append(f"machine path {p!r}: ...{quote(m.start(), len(p))}...")
    return found
