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
    """The engine process failed or printed something unreadable."""

    def __init__(self, message: str, design: str | None = None,
                 workload: str | None = None, returncode: int | None = None,
                 stderr: str = ""):
        self.design = design
        self.workload = workload
        self.returncode = returncode
        self.stderr = stderr
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
    """A result could not be written or read."""
