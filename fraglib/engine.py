"""Run the C engine in a fresh process and read its JSON back.

Measurements never run in the caller's process (a Jupyter kernel has ZMQ
threads and a garbage collector): each run is a new engine process, pinned
by the engine itself, with an environment padded by a random number of
bytes (0-4095) so the stack starts at a different place each time
(Mytkowicz et al.; hyperfine's randomized environment offset).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .exceptions import EngineError, ParameterError

__all__ = ["engine_command", "run_engine", "ENV_PAD_VAR"]

ENV_PAD_VAR = "FRAGLIB_ENV_PAD"
_INVALID = re.compile(r"invalid (\w+)=(.*?): (?:allowed )?(.*)$")
_UNKNOWN = re.compile(r"unknown parameter '(\w+)'; known: (.*)$")


def engine_command(path: str | os.PathLike, params: Mapping[str, object]) -> list[str]:
    """The engine's argv for ``params`` (key=value, in a stable order)."""
    return [str(path), *(f"{k}={_fmt(v)}" for k, v in params.items())]


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return str(int(v))
    return str(v)


def _env(env_pad: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    env[ENV_PAD_VAR] = "x" * env_pad
    return env


def _raise_for(rc: int, stderr: str, design: str | None, workload: str | None):
    line = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    msg = line.split(": ", 1)[1] if line.startswith("fraglib-engine: ") else line
    if rc == 2:
        m = _UNKNOWN.match(msg)
        if m:
            raise ParameterError(m.group(1), "(given)", "a known parameter: " + m.group(2))
        m = _INVALID.match(msg)
        if m:
            raise ParameterError(m.group(1), m.group(2), m.group(3))
    raise EngineError(f"engine for {design}/{workload} failed (exit {rc}): "
                      f"{msg or 'no message'}", design, workload, rc, stderr)


def run_engine(path: str | os.PathLike, params: Mapping[str, object], *,
               env_pad: int | None = None, timeout: float | None = None,
               wrapper: Sequence[str] = (), env: Mapping[str, str] | None = None,
               pass_fds: Sequence[int] = ()) -> dict:
    """Run one engine process; return its parsed JSON document.

    Parameters
    ----------
    path : path
        Engine executable (from :func:`fraglib._build.build_engine`).
    params : mapping
        Engine parameters (``workload``, ``packets``, ``size``, ...).
    env_pad : int, optional
        Bytes of environment padding; random in [0, 4095] when None.
    timeout : float, optional
        Seconds before the process is killed.
    wrapper : sequence of str
        A command to run the engine under (valgrind, perf record).
    env : mapping, optional
        Extra environment variables (e.g. ``FRAGLIB_PERF_CTL`` for a
        profiler's switch, see :mod:`fraglib.profile`).
    pass_fds : sequence of int
        File descriptors the engine (and the wrapper) inherit.

    Raises
    ------
    ParameterError
        The engine rejected a parameter (exit status 2).
    EngineError
        Any other failure, or output that is not one JSON document.
    """
    if env_pad is not None and not 0 <= env_pad < 4096:
        raise ParameterError("env_pad", env_pad, "an integer in [0, 4095] or None")
    if env_pad is None:
        env_pad = random.randrange(4096)
    cmd = [*wrapper, *engine_command(path, params)]
    design, workload = Path(path).name.removeprefix("fraglib-engine-"), params.get("workload")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=_env(env_pad, env), pass_fds=tuple(pass_fds))
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"engine for {design}/{workload} timed out after {timeout} s",
                          design, workload) from e
    if proc.returncode:
        _raise_for(proc.returncode, proc.stderr, design, workload)
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise EngineError(f"engine for {design}/{workload} printed no JSON: {e}",
                          design, workload, proc.returncode, proc.stderr) from e
    doc["_stderr"] = proc.stderr
    doc["_env_pad"] = env_pad
    return doc
