"""One exception hierarchy for fraglib.

Every error a user can trigger derives from :class:`FraglibError` and carries
the data needed to act on it (the parameter, the value, what is allowed), so
the CLI, the Python API and notebooks report the same message. Only
``fraglib.cli`` maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "FraglibError",
    "ParameterError",
    "UnknownNameError",
    "BuildError",
    "EngineError",
    "CollectorUnavailable",
    "StoreError",
    "StoreSchemaError",
    "StoreWarning",
    "FleetError",
    "SourceMismatchError",
]


class FraglibError(Exception):
    """Base class of every error fraglib raises on purpose."""


class ParameterError(FraglibError, ValueError):
    """A parameter has a value that is not allowed.

    Parameters
    ----------
    param : str
        Name of the parameter as the user spelled it (``size``, ``--cpu``).
    value : object
        The rejected value.
    allowed : str
        Plain-language description of what is allowed.
    """

    def __init__(self, param: str, value: object, allowed: str):
        self.param = param
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {param}={value!r}: {allowed}")


class UnknownNameError(ParameterError, KeyError):
    """A name (design, workload, distribution, collector) is not registered."""

    def __init__(self, param: str, value: object, known: Iterable[str]):
        self.known = sorted(known)
        super().__init__(param, value, "one of " + ", ".join(self.known))

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class BuildError(FraglibError, RuntimeError):
    """The native core could not be built (no compiler, or it failed)."""

    def __init__(self, message: str, command: str | None = None, output: str = ""):
        self.command = command
        self.output = output
        detail = f"\n  command: {command}" if command else ""
        detail += f"\n{output.strip()}" if output.strip() else ""
        super().__init__(message + detail)


class EngineError(FraglibError, RuntimeError):
    """The engine process failed or printed something unreadable.

    Parameters
    ----------
    message : str
        What happened, naming the design and workload.
    design, workload : str, optional
        The run that failed.
    returncode : int, optional
        The exit status (negative: killed by a signal, as :mod:`subprocess`).
    stderr : str
        What the engine printed on stderr.
    signal : str, optional
        Name of the signal that ended it (``SIGSEGV``, ``SIGABRT``,
        ``SIGKILL`` after a timeout), else None.
    """

    def __init__(self, message: str, design: str | None = None,
                 workload: str | None = None, returncode: int | None = None,
                 stderr: str = "", signal: str | None = None):
        self.design = design
        self.workload = workload
        self.returncode = returncode
        self.stderr = stderr
        self.signal = signal
        super().__init__(message)


class CollectorUnavailable(FraglibError):
    """A collector (hardware counters, valgrind, perf) cannot run here.

    Parameters
    ----------
    collector : str
        Registry name of the collector.
    reason : str
        Why, in words a user can act on (``perf_event_paranoid=3``,
        ``no PMU in this VM (ENOENT)``, ``valgrind not installed``).
    """

    def __init__(self, collector: str, reason: str):
        self.collector = collector
        self.reason = reason
        super().__init__(f"{collector} unavailable: {reason}")


class StoreError(FraglibError, OSError):
    """A result could not be written or read.

    Parameters
    ----------
    message : str
        What failed and what to do about it.
    path : str, optional
        The file or directory concerned.
    reason : str, optional
        The underlying cause (``No space left on device``, ``not a Parquet
        file``).
    """

    def __init__(self, message: str, path: object = None, reason: str | None = None):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(message)

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return self.args[0]


class StoreSchemaError(StoreError):
    """A store file was written by a fraglib whose layout this one cannot read.

    Parameters
    ----------
    path : str
        The file.
    found : int
        The file's store schema version.
    supported : int
        The newest version this fraglib reads.
    """

    def __init__(self, path: object, found: int, supported: int):
        self.found = found
        self.supported = supported
        super().__init__(
            f"{path} was written with store schema {found}; this fraglib reads "
            f"schema <= {supported}: upgrade fraglib (pip install -U -e .) to read it, "
            "or move the file out of the runs directory", path, f"schema {found}")


class StoreWarning(UserWarning):
    """Something in the store was set aside (a corrupt or foreign file)."""


class FleetError(FraglibError, RuntimeError):
    """A fleet (Dask) run could not be set up or carried out (:mod:`fraglib.fleet`).

    Parameters
    ----------
    message : str
        What failed and what to do about it.
    machine : str, optional
        The machine concerned.
    """

    def __init__(self, message: str, machine: str | None = None):
        self.machine = machine
        super().__init__(message)


class SourceMismatchError(FleetError):
    """A worker runs another fraglib than the client: it is refused.

    Parameters
    ----------
    machine : str
        The worker's machine identity.
    worker_hash, client_hash : str
        The two source hashes (:func:`fraglib.fleet.identity.source_hash`).
    """

    def __init__(self, machine: str, worker_hash: str, client_hash: str):
        self.worker_hash = worker_hash
        self.client_hash = client_hash
        super().__init__(
            f"worker {machine} refused: its fraglib source hash is {worker_hash}, the "
            f"client's is {client_hash}; check out the same fraglib commit on both "
            "(and reinstall: pip install -e .), then restart the worker", machine)
