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
import signal as _signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .exceptions import EngineError, ParameterError

__all__ = ["engine_command", "run_engine", "run_engine_pair", "ENV_PAD_VAR",
           "PROGRESS_AFTER_S", "stderr_progress", "HANDOFF_KEYS"]

#: engine parameters of the lockstep handoff; run_engine_pair sets them
HANDOFF_KEYS = ("handoff_rfd", "handoff_wfd", "handoff_samples", "handoff_wait")

#: a run still going after this many seconds reports progress
PROGRESS_AFTER_S = 3.0
#: keys every engine document has (anything else is malformed output)
_REQUIRED = {"params": dict, "tsc_hz": (int, float), "cycles": list, "packets": list,
             "warmup_samples": int}

ENV_PAD_VAR = "FRAGLIB_ENV_PAD"


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
    err = _error_doc(line)
    if err.get("error") == "parameter" and err.get("key"):
        raise ParameterError(err["key"], err.get("value", ""), err.get("allowed", ""))
    msg = err.get("message") or line
    raise EngineError(f"engine for {design}/{workload} failed (exit {rc}): "
                      f"{msg or 'no message'}; nothing was stored", design, workload, rc,
                      stderr)


def _error_doc(line: str) -> dict:
    """The engine's error line (``{"error": ..., ...}``, csrc/engine.c), or {}."""
    try:
        doc = json.loads(line)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) and isinstance(doc.get("error"), str) else {}


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
               progress: Callable[[float], None] | None = None,
               on_start: Callable[[], None] | None = None) -> dict:
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
    on_start : callable, optional
        Called once the process exists (or failed to start), e.g. to close
        the parent's copies of ``pass_fds`` so the engine sees EOF when its
        peer goes (:func:`run_engine_pair`).

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
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=_env(env_pad, env), pass_fds=tuple(pass_fds))
    finally:
        if on_start is not None:
            on_start()
    with proc:
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


def run_engine_pair(path_a: str | os.PathLike, params_a: Mapping[str, object],
                    path_b: str | os.PathLike, params_b: Mapping[str, object], *,
                    handoff_samples: int, first: str = "A",
                    env_pad_a: int | None = None, env_pad_b: int | None = None,
                    timeout: float | None = None) -> tuple[dict, dict]:
    """Run two engines concurrently in lockstep; return both documents.

    The two processes should be pinned to the same CPU (``cpu`` in both
    parameter sets). They pass a one-byte token through two pipes, so they
    run in alternating rounds of ``handoff_samples`` samples: a machine
    whose speed changes with time then shows both the same mixture of
    speeds, and their ratio cancels it. The handoff runs between samples,
    outside the timed interval (``csrc/engine.c``). Each side gets its own
    random environment pad.

    Parameters
    ----------
    path_a, path_b : path
        The two engine executables.
    params_a, params_b : mapping
        Their parameters, without the ``handoff_*`` keys (set here).
    handoff_samples : int
        Samples per round (>= 1).
    first : {"A", "B"}
        Which side runs the first round (the other waits for the token).
    env_pad_a, env_pad_b : int, optional
        Environment pads; random in [0, 4095] when None.
    timeout : float, optional
        Seconds before each process is killed.

    Returns
    -------
    (dict, dict)
        The documents of A and B, as :func:`run_engine` returns them.

    Raises
    ------
    ParameterError
        A bad ``handoff_samples`` or ``first``, or either engine rejected a
        parameter.
    EngineError
        Either engine failed (it names that engine's design); when both
        did, A's error, with B's as its cause.
    """
    if isinstance(handoff_samples, bool) or not isinstance(handoff_samples, int) \
            or not 1 <= handoff_samples <= 1 << 20:
        raise ParameterError("handoff_samples", handoff_samples,
                             f"an integer in [1, {1 << 20}] (samples per round)")
    if first not in ("A", "B"):
        raise ParameterError("first", first, '"A" or "B" (the side that starts)')
    for name, params in (("params_a", params_a), ("params_b", params_b)):
        for k in HANDOFF_KEYS:
            if k in params:
                raise ParameterError(k, params[k], f"not set in {name}: run_engine_pair "
                                     "sets it")
    from concurrent.futures import ThreadPoolExecutor

    a_to_b, b_to_a = os.pipe(), os.pipe()      # (read, write) each
    fds_a = (b_to_a[0], a_to_b[1])
    fds_b = (a_to_b[0], b_to_a[1])
    open_fds = set(fds_a + fds_b)

    def closer(fds):
        def close():
            for fd in fds:
                if fd in open_fds:
                    open_fds.discard(fd)
                    os.close(fd)
        return close

    def side(path, params, fds, wait, pad):
        p = {**params, "handoff_rfd": fds[0], "handoff_wfd": fds[1],
             "handoff_samples": handoff_samples, "handoff_wait": int(wait)}
        return run_engine(path, p, env_pad=pad, timeout=timeout, pass_fds=fds,
                          on_start=closer(fds))

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            fa = pool.submit(side, path_a, params_a, fds_a, first == "B", env_pad_a)
            fb = pool.submit(side, path_b, params_b, fds_b, first == "A", env_pad_b)
            ea, eb = fa.exception(), fb.exception()
    finally:
        closer(tuple(open_fds))()
    if ea is not None:
        raise ea from eb
    if eb is not None:
        raise eb
    return fa.result(), fb.result()
