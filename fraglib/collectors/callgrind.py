"""Valgrind collector: callgrind's cache and branch simulation around the engine.

Deterministic and simulated: the counts are a model's, identical from run
to run (``fraglib.valgrind`` turns them into per-packet costs, and
``fraglib.profile`` into a per-function profile).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence

from ..exceptions import ParameterError
from .base import Collection, Collector, output_dir, tool_version

__all__ = ["Valgrind", "callgrind_wrapper"]


def callgrind_wrapper(functions: Sequence[str], out_file: str | os.PathLike, *,
                      cache: Mapping[str, tuple[int, int, int]] | None = None,
                      collect_atstart: bool = False) -> list[str]:
    """The valgrind command to put in front of the engine's argv.

    Parameters
    ----------
    functions : sequence of str
        Function names for ``--toggle-collect`` (wildcards allowed). Empty
        with ``collect_atstart=True`` profiles the whole process.
    out_file : path
        ``--callgrind-out-file``.
    cache : dict, optional
        ``{"I1"|"D1"|"LL": (size, assoc, line)}`` to fix the simulated
        geometry; default: valgrind's guess from the host's cpuid.
    collect_atstart : bool
        Collect from the start instead of only inside ``functions``.
    """
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes",
           f"--collect-atstart={'yes' if collect_atstart else 'no'}",
           f"--callgrind-out-file={out_file}"]
    cmd += [f"--toggle-collect={f}" for f in functions]
    for level, geo in (cache or {}).items():
        if level not in ("I1", "D1", "LL"):
            raise ParameterError("cache", level, "I1, D1 or LL")
        size, assoc, line = geo
        cmd.append(f"--{level}={size},{assoc},{line}")
    return cmd


class Valgrind(Collector):
    """callgrind around the engine; the result is a ``CallgrindProfile``.

    Options of :meth:`collect`: ``functions`` (toggled region, empty with
    ``collect_atstart=True`` for the whole process), ``cache`` (fixed
    geometry), ``collect_atstart``, ``out_name`` (the output file's name in
    ``out_dir``).
    """

    name = "valgrind"
    description = "callgrind cache and branch simulation (deterministic, simulated)"
    scope = "the toggled functions and their callees (simulated, not the host's counters)"

    def available(self) -> tuple[bool, str]:
        exe = shutil.which("valgrind")
        if exe is None:
            return False, "valgrind not installed (not on PATH)"
        ver = tool_version(exe, "--version")
        if ver is None:
            return False, f"{exe} --version failed"
        return True, ver

    def _collect(self, out_dir, *, functions: Sequence[str] = (),
                 cache: Mapping[str, tuple[int, int, int]] | None = None,
                 collect_atstart: bool = False,
                 out_name: str = "callgrind.out") -> Iterator[Collection]:
        from ..valgrind import parse_callgrind

        with output_dir(out_dir, "fraglib-cg-") as d:
            out = d / out_name
            # counters=0: perf counters inside a simulator count the simulator;
            # env_pad=0: the simulated caches see addresses, keep them fixed.
            c = Collection(self.name, argv=tuple(callgrind_wrapper(
                               functions, out, cache=cache, collect_atstart=collect_atstart)),
                           params={"counters": 0}, env_pad=0, scope=self.scope)
            yield c
            c.result = parse_callgrind(out.read_text())
