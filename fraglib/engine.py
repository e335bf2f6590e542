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
import signal as _signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .exceptions import EngineError, ParameterError

__all__ = ["engine_command", "run_engine", "ENV_PAD_VAR", "PROGRESS_AFTER_S",
           "stderr_progress"]

#: a run still going after this many seconds reports progress
PROGRESS_AFTER_S = 3.0
#: keys every engine document has (anything else is malformed output)
_REQUIRED = {"params": dict, "tsc_hz": (int, float), "cycles": list, "packets": list,
             "warmup_samples": int}

ENV_PAD_VAR = "FRAGLIB_ENV_PAD"
_INVALID = re.compile(r"invalid (\w+)=(.*?): (?:allowed )?(.*)$")
_UNKNOWN = re.compile(r"unknown parameter '(\w+)'; known: (.*)$")
_NOT_KV = re.compile(r"argument '(.*)' is not key=value")


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


def _signal_name(rc: int) -> str | None:
    """Name of the signal behind a negative subprocess return code, else None."""
    if rc >= 0:
        return None
    num = -rc
    try:
        return _signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _raise_for(rc: int, stderr: str, design: str | None, workload: str | None):
    sig = _signal_name(rc)
    if sig is not None:
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        raise EngineError(f"engine for {design}/{workload} was killed by {sig}"
                          + (f" after printing: {tail}" if tail else "")
                          + "; nothing was stored", design, workload, rc, stderr, sig)
    line = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    msg = line.split(": ", 1)[1] if line.startswith("fraglib-engine: ") else line
    if rc == 2:
        m = _UNKNOWN.match(msg)
        if m:
            raise ParameterError(m.group(1), "(given)", "a known parameter: " + m.group(2))
        m = _INVALID.match(msg)
        if m:
            raise ParameterError(m.group(1), m.group(2), m.group(3))
        m = _NOT_KV.match(msg)
        if m:
            raise ParameterError("argument", m.group(1), "key=value (see the engine's "
                                 "--help)")
    raise EngineError(f"engine for {design}/{workload} failed (exit {rc}): "
                      f"{msg or 'no message'}; nothing was stored", design, workload, rc,
                      stderr)


def stderr_progress(label: str, expected_s: float | None) -> Callable[[float], None]:
    """A progress callback printing ``label: 12 s of ~40 s (30 %)`` on stderr.

    On a terminal one line is rewritten; elsewhere (a notebook, a log) a
    line is printed every 10 seconds or so.
    """
    tty = sys.stderr.isatty()
    last = [-1e9]

    def show(elapsed: float) -> None:
        if not tty and elapsed - last[0] < 10:
            return
        last[0] = elapsed
        if expected_s:
            pct = min(99, int(100 * elapsed / expected_s))
            text = f"{label}: {elapsed:.0f} s of ~{expected_s:.0f} s expected ({pct} %)"
        else:
            text = f"{label}: running for {elapsed:.0f} s"
        print(("\r" if tty else "") + "fraglib: " + text, end="" if tty else "\n",
              file=sys.stderr, flush=True)

    return show


def _check_doc(doc: object, design, workload, stderr: str) -> dict:
    if not isinstance(doc, dict):
        raise EngineError(f"engine for {design}/{workload} printed malformed output: "
                          f"a JSON {type(doc).__name__}, not an object; nothing was stored",
                          design, workload, 0, stderr)
    for key, kind in _REQUIRED.items():
        if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
            raise EngineError(f"engine for {design}/{workload} printed malformed output: "
                              f"{key!r} missing or not {getattr(kind, '__name__', 'a number')}"
                              "; nothing was stored", design, workload, 0, stderr)
    return doc


def run_engine(path: str | os.PathLike, params: Mapping[str, object], *,
               env_pad: int | None = None, timeout: float | None = None,
               wrapper: Sequence[str] = (), env: Mapping[str, str] | None = None,
               pass_fds: Sequence[int] = (),
               progress: Callable[[float], None] | None = None) -> dict:
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
    progress : callable, optional
        Called with the elapsed seconds about once a second once the run
        has taken :data:`PROGRESS_AFTER_S` (see :func:`stderr_progress`).

    Raises
    ------
    ParameterError
        The engine rejected a parameter (exit status 2).
    EngineError
        Any other failure: killed by a signal (``signal`` names it), timed out
        (the process is killed), or output that is not one JSON document
        with the engine's keys. It names the design and the workload.
    """
    if env_pad is not None and not 0 <= env_pad < 4096:
        raise ParameterError("env_pad", env_pad, "an integer in [0, 4095] or None")
    if env_pad is None:
        env_pad = random.randrange(4096)
    cmd = [*wrapper, *engine_command(path, params)]
    design, workload = Path(path).name.removeprefix("fraglib-engine-"), params.get("workload")
    t0 = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_env(env_pad, env),
                          pass_fds=tuple(pass_fds)) as proc:
        while True:
            elapsed = time.monotonic() - t0
            wait = 1.0 if progress is not None else None
            if timeout is not None:
                left = timeout - elapsed
                wait = left if wait is None else min(wait, left)
            if progress is not None and elapsed < PROGRESS_AFTER_S:
                wait = min(wait, PROGRESS_AFTER_S - elapsed)
            try:
                out, err = proc.communicate(timeout=None if wait is None else max(wait, 0))
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - t0
                if timeout is not None and elapsed >= timeout:
                    proc.kill()
                    out, err = proc.communicate()
                    raise EngineError(f"engine for {design}/{workload} timed out after "
                                      f"{timeout} s and was killed (SIGKILL); nothing was "
                                      "stored (raise timeout= or lower packets=)",
                                      design, workload, proc.returncode, err,
                                      "SIGKILL") from None
                if progress is not None and elapsed >= PROGRESS_AFTER_S:
                    progress(elapsed)
    if proc.returncode:
        _raise_for(proc.returncode, err, design, workload)
    try:
        doc = json.loads(out)
    except json.JSONDecodeError as e:
        raise EngineError(f"engine for {design}/{workload} printed malformed output "
                          f"(not one JSON document: {e}); nothing was stored",
                          design, workload, proc.returncode, err) from e
    doc = _check_doc(doc, design, workload, err)
    doc["_stderr"] = err
    doc["_env_pad"] = env_pad
    return doc
