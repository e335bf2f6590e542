"""What every measurement back end shares: the ``Collector`` and its ``Collection``.

The engine is a subprocess, so a collector cannot hook into it the way a
pyperf hook wraps a function. Instead :meth:`Collector.collect` is a context
manager that prepares what the engine run needs (a command to put in front
of its argv, environment, file descriptors, parameter overrides) and, when
the block ends, reads what was collected into :attr:`Collection.result`::

    with get_collector("perf-stat").collect() as c:
        doc = run_engine(path, c.engine_params(params), **c.run_kwargs())
        c.record(doc)
    c.result                      # a CounterSet

:func:`fraglib.collectors.run_collected` is that block in one call.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import CollectorUnavailable, EngineError

__all__ = ["Collection", "Collector", "tool_version", "output_dir"]


@dataclass
class Collection:
    """One collector's hold on one engine run (mutable: filled in as it goes).

    Attributes
    ----------
    collector : str
        The collector's registry name.
    argv : tuple of str
        Command to put in front of the engine's argv (``run_engine(wrapper=)``).
    env : dict of str to str
        Extra environment variables for the engine.
    pass_fds : tuple of int
        File descriptors the engine (and the wrapper) inherit.
    params : dict
        Engine parameters this collector forces (``counters``).
    env_pad : int or None
        Environment pad to force (0 under a simulator: fixed addresses);
        None leaves it random.
    scope : str
        What the measurement covers (whole process or measured region).
    document : dict or None
        The engine's JSON document, handed over with :meth:`record`.
    result : object
        What was collected; set when the ``with`` block ends without error.
    """

    collector: str
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    env_pad: int | None = None
    scope: str = ""
    document: dict | None = None
    result: Any = None

    def engine_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with this collector's overrides applied."""
        return {**params, **self.params}

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`fraglib.engine.run_engine`."""
        kw: dict[str, Any] = {"wrapper": list(self.argv), "env": dict(self.env),
                              "pass_fds": tuple(self.pass_fds)}
        if self.env_pad is not None:
            kw["env_pad"] = self.env_pad
        return kw

    def record(self, document: Mapping[str, Any]) -> None:
        """Hand over the engine's JSON document (packets, counters...)."""
        self.document = dict(document)

    def require_document(self) -> dict:
        """The recorded document, or EngineError when none was recorded."""
        if self.document is None:
            raise EngineError(f"{self.collector}: no engine document was recorded "
                              "(call Collection.record(doc) inside the with block)")
        return self.document

    def packets(self) -> int | None:
        """Packets the recorded engine run measured, or None without a document."""
        if self.document is None:
            return None
        return int(sum(self.document.get("packets") or [])) or None


class Collector:
    """A measurement back end: can it run here, and run it around an engine.

    Subclasses set :attr:`name`, :attr:`description`, :attr:`scope` and
    implement :meth:`available` and :meth:`_collect` (a generator that
    yields one :class:`Collection` and fills in its ``result`` afterwards).
    """

    name = ""
    description = ""
    scope = ""

    def available(self) -> tuple[bool, str]:
        """Return ``(ok, reason)``; the reason also says what is partial."""
        raise NotImplementedError

    def require(self) -> str:
        """Return the reason if available, else raise ``CollectorUnavailable``."""
        ok, reason = self.available()
        if not ok:
            raise CollectorUnavailable(self.name, reason)
        return reason

    @contextmanager
    def collect(self, out_dir=None, **options: Any) -> Iterator[Collection]:
        """Wrap one engine run; see the module docstring.

        Parameters
        ----------
        out_dir : path, optional
            Where the back end's raw output goes (kept); a temporary
            directory, removed afterwards, when None.
        **options
            Back-end options (``events=`` for perf stat, ``functions=`` for
            callgrind, ...).

        Raises
        ------
        CollectorUnavailable
            The back end cannot run here (checked before the run).
        """
        self.require()
        yield from self._collect(out_dir, **options)

    def _collect(self, out_dir, **options: Any) -> Iterator[Collection]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def tool_version(exe: str, *args: str) -> str | None:
    """First line of ``exe args`` (``--version``), or None when it fails."""
    try:
        out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if out.returncode == 0 and text else None


@contextmanager
def output_dir(out_dir=None, prefix: str = "fraglib-collect-") -> Iterator["Path"]:
    """``out_dir`` (created, kept) or a temporary directory removed afterwards."""
    import tempfile
    from pathlib import Path

    if out_dir is not None:
        p = Path(out_dir)
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
