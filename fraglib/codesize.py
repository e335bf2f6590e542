"""Code size of each design, read from its engine's symbol table.

The debate counted bytes (``bloat-o-meter``: option 1 was 37 B larger than
option 2; Part-2's ``__page_frag_cache_prepare`` was 500 B), so fraglib
reports the same thing for its builds: the size of ``<design>_alloc`` and
``<design>_free`` in the canonical (timed) engine, plus every static helper
of the design's own file that each of them calls, directly or through
another helper (the refill/reload/reuse slow paths). Helpers are found by
following ``call``/``jmp`` targets in ``objdump -d``; which file a symbol
comes from is read from the debug line info (``nm -l``; the engine is
built with ``-g``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ._build import _design_source, build_engine
from .exceptions import BuildError

__all__ = ["code_size"]

_CALL = re.compile(r"\s(?:call|jmp)q?\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BuildError(f"'{name}' not found: install binutils to measure code size")
    return path


def _functions(binary: Path, design: str) -> dict[str, int]:
    """Function symbols defined in ``design_<design>.c``: name -> bytes."""
    out = subprocess.run([_tool("nm"), "-S", "-l", "--defined-only", str(binary)],
                         capture_output=True, text=True, check=True).stdout
    src = f"design_{design}.c:"
    funcs = {}
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 5 or parts[2] not in "tT" or src not in parts[4]:
            continue
        funcs[parts[3]] = int(parts[1], 16)
    return funcs


def _callees(binary: Path, names: set[str]) -> dict[str, set[str]]:
    """For each function in ``names``: the symbols it calls or jumps to."""
    out = subprocess.run([_tool("objdump"), "-d", "--no-show-raw-insn", str(binary)],
                         capture_output=True, text=True, check=True).stdout
    graph: dict[str, set[str]] = {}
    current = None
    for line in out.splitlines():
        m = re.match(r"[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            current = m.group(1) if m.group(1) in names else None
            if current:
                graph[current] = set()
            continue
        if current:
            c = _CALL.search(line)
            if c and c.group(1) != current:
                graph[current].add(c.group(1))
    return graph


def _reach(root: str, graph: dict[str, set[str]], local: dict[str, int]) -> list[str]:
    """``root`` and every design-local function it reaches."""
    seen, todo = [], [root]
    while todo:
        f = todo.pop()
        if f in seen or f not in local:
            continue
        seen.append(f)
        todo.extend(sorted(graph.get(f, ())))
    return seen


@lru_cache(maxsize=None)
def code_size(design: str) -> dict:
    """Bytes of machine code of one design in its canonical engine.

    Parameters
    ----------
    design : str
        A registered design name; for ``kernel:NAME`` the functions are
        those of its generated source (``<cid>_alloc``, the revision's own
        functions it reaches, ...).

    Returns
    -------
    dict
        ``alloc``: ``<design>_alloc`` plus the static helpers it reaches
        (refill, reload, reuse); ``free``: ``<design>_free`` plus helpers;
        ``total``: ``alloc + free`` (a helper both use is counted once);
        ``prepare``/``commit``: the same for the Part-2 pair, or None;
        ``text``: every function of ``design_<design>.c``;
        ``helpers``: the static helpers counted in ``alloc``;
        ``functions``: name -> bytes for every function of the file;
        ``binary``: the engine measured.

    Raises
    ------
    UnknownNameError
        ``design`` is not registered.
    BuildError
        The engine does not build, or binutils is missing.
    """
    binary = build_engine(design).path
    design = _design_source(design)[0]  # kernel:NAME -> its source's C identifier
    local = _functions(binary, design)
    if f"{design}_alloc" not in local:
        raise BuildError(f"no {design}_alloc with line info in {binary.name}: "
                         "was it built without -g?")
    graph = _callees(binary, set(local))

    def part(entry: str) -> list[str] | None:
        return _reach(entry, graph, local) if entry in local else None

    alloc_fns = part(f"{design}_alloc") or []
    free_fns = part(f"{design}_free") or []
    prep_fns, commit_fns = part(f"{design}_prepare"), part(f"{design}_commit")
    size = lambda fns: None if fns is None else sum(local[f] for f in fns)  # noqa: E731
    return {
        "alloc": size(alloc_fns),
        "free": size(free_fns),
        "total": size(sorted(set(alloc_fns) | set(free_fns))),
        "prepare": size(prep_fns),
        "commit": size(commit_fns),
        "text": sum(local.values()),
        "helpers": [f for f in alloc_fns if f != f"{design}_alloc"],
        "functions": dict(sorted(local.items())),
        "binary": str(binary),
    }
