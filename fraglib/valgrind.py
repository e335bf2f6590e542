"""Deterministic mode: instructions, cache and branch misses under callgrind.

Where there is no PMU (every VM we run on) instructions and misses per
packet still have to come from somewhere. Callgrind's cache and branch
simulation gives them, identical from run to run, for the design's own
functions only::

    valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes
             --collect-atstart=no --toggle-collect=topdown_alloc
             --toggle-collect=topdown_free --callgrind-out-file=F
             fraglib-engine-topdown workload=fastpath packets=65536 counters=0

Collection is switched on while a toggled function runs, so the counts
cover those functions and everything they call (refill, the page model)
and nothing of the timing loop. Every figure is *simulated*: a model of
the cache geometry in ``desc:`` lines, not the machine's own counters, and
:class:`SimulatedCosts` says so.

Cachegrind's region requests would be the other way but need valgrind >=
3.22; Debian 12 has 3.19 (docs/methodology.md §7).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .collectors import get_collector
from .collectors.callgrind import callgrind_wrapper
from .engine import run_engine
from .exceptions import CollectorUnavailable, EngineError, ParameterError

__all__ = [
    "CacheGeometry",
    "CallgrindProfile",
    "SimulatedCosts",
    "parse_callgrind",
    "design_functions",
    "callgrind_wrapper",
    "callgrind_costs",
    "valgrind_version",
]

#: Callgrind event -> our name, for the events we report.
EVENT_NAMES = {
    "Ir": "instructions",
    "Dr": "data_reads",
    "Dw": "data_writes",
    "I1mr": "i1_misses",
    "ILmr": "ll_instruction_misses",
    "D1mr": "d1_read_misses",
    "D1mw": "d1_write_misses",
    "DLmr": "ll_read_misses",
    "DLmw": "ll_write_misses",
    "Bc": "branches_conditional",
    "Bcm": "branch_mispredicts_conditional",
    "Bi": "branches_indirect",
    "Bim": "branch_mispredicts_indirect",
}

_GEOMETRY_RE = re.compile(
    r"^desc:\s*(I1|D1|LL|L2) cache:\s*(\d+) B,\s*(\d+) B,\s*(\d+)-way associative",
    re.M)


@dataclass(frozen=True)
class CacheGeometry:
    """One simulated cache level, from a ``desc: D1 cache: ...`` line."""

    level: str
    size_bytes: int
    line_bytes: int
    assoc: int

    def __post_init__(self):
        for f in ("size_bytes", "line_bytes", "assoc"):
            v = getattr(self, f)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{self.level}: {f} must be a positive int, not {v!r}")

    def __str__(self) -> str:
        return f"{self.level} {self.size_bytes} B, {self.line_bytes} B lines, {self.assoc}-way"


@dataclass(frozen=True)
class CallgrindProfile:
    """A parsed callgrind output file.

    Attributes
    ----------
    events : tuple of str
        The ``events:`` line (``Ir Dr Dw ...``).
    summary : dict of str to int
        The ``summary:`` line: collected cost of the whole file.
    geometry : tuple of CacheGeometry
        The simulated caches (I1, D1, LL).
    command : str
        The ``cmd:`` line.
    creator : str
        ``callgrind-3.19.0``.
    self_cost, inclusive_cost : dict of str to dict of str to int
        Per function name: its own cost, and its own plus its callees'.
    calls : dict of (str, str) to int
        Call counts per (caller, callee) edge seen in collected code.
    """

    events: tuple[str, ...]
    summary: dict[str, int]
    geometry: tuple[CacheGeometry, ...]
    command: str = ""
    creator: str = ""
    self_cost: dict[str, dict[str, int]] = field(default_factory=dict)
    inclusive_cost: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: dict[tuple[str, str], int] = field(default_factory=dict)

    def top(self, n: int = 10, event: str = "Ir", inclusive: bool = True
            ) -> list[tuple[str, int, int]]:
        """The ``n`` costliest functions as ``(name, inclusive, self)``."""
        key = self.inclusive_cost if inclusive else self.self_cost
        names = sorted(key, key=lambda f: (-key[f].get(event, 0), f))
        return [(f, self.inclusive_cost.get(f, {}).get(event, 0),
                 self.self_cost.get(f, {}).get(event, 0)) for f in names[:n]]


def _costs(tokens: Sequence[str], events: Sequence[str]) -> list[int]:
    # Trailing zeros are left out of cost lines and of summary:.
    vals = [int(t) for t in tokens[:len(events)]]
    return vals + [0] * (len(events) - len(vals))


def _add(acc: dict[str, dict[str, int]], fn: str, events: Sequence[str],
         vals: Sequence[int]) -> None:
    d = acc.setdefault(fn, dict.fromkeys(events, 0))
    for e, v in zip(events, vals):
        d[e] += v


def parse_callgrind(text: str) -> CallgrindProfile:
    """Parse a callgrind output file (format version 1).

    Parameters
    ----------
    text : str
        The file's contents.

    Returns
    -------
    CallgrindProfile

    Raises
    ------
    ValueError
        If the file has no ``events:`` line.
    """
    events: list[str] = []
    positions = 1
    summary: dict[str, int] | None = None
    totals: dict[str, int] | None = None
    command = creator = ""
    # Name compression: "(12) name" defines id 12, "(12)" refers to it.
    # fn and cfn share one table; ob and cob another.
    tables: dict[str, dict[str, str]] = {"fn": {}, "ob": {}}
    ob = cob = ""
    fn = cfn = None  # (object, name)
    in_call = False
    self_cost: dict[tuple, dict[str, int]] = {}
    callee_cost: dict[tuple, dict[str, int]] = {}
    calls: dict[tuple, int] = {}

    def resolve(table: str, rest: str) -> str:
        m = re.match(r"\((\d+)\)\s*(.*)", rest)
        if not m:
            return rest.strip()
        ident, name = m.group(1), m.group(2).strip()
        if name:
            tables[table][ident] = name
        return tables[table].get(ident, f"({ident})")

    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        c = line[0]
        if c.isdigit() or c in "+-*":
            if not events or fn is None:
                continue
            vals = _costs(line.split()[positions:], events)
            if in_call:
                _add(callee_cost, fn, events, vals)
                in_call, cob = False, ""
            else:
                _add(self_cost, fn, events, vals)
            continue
        key, sep, rest = line.partition("=")
        if sep and re.fullmatch(r"[a-z]+", key):
            if key == "ob":
                ob = resolve("ob", rest)
            elif key == "cob":
                cob = resolve("ob", rest)
            elif key == "fn":
                fn = (ob, resolve("fn", rest))
                self_cost.setdefault(fn, dict.fromkeys(events, 0))
            elif key == "cfn":
                cfn = (cob or ob, resolve("fn", rest))
            elif key == "calls":
                in_call = True
                n = int(rest.split()[0])
                if fn is not None and cfn is not None:
                    calls[(fn, cfn)] = calls.get((fn, cfn), 0) + n
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        rest = rest.strip()
        if key == "events":
            events = rest.split()
        elif key == "positions":
            positions = len(rest.split())
        elif key == "summary":
            summary = dict(zip(events, _costs(rest.split(), events)))
        elif key == "totals":
            totals = dict(zip(events, _costs(rest.split(), events)))
        elif key == "cmd":
            command = rest
        elif key == "creator":
            creator = rest
    if not events:
        raise ValueError("not a callgrind file: no 'events:' line")
    if summary is None:
        summary = totals or {e: sum(d.get(e, 0) for d in self_cost.values())
                             for e in events}
    geometry = tuple(CacheGeometry(m.group(1), int(m.group(2)), int(m.group(3)),
                                   int(m.group(4))) for m in _GEOMETRY_RE.finditer(text))
    # Plain names where unique; "name [object]" where two objects share one.
    keys = set(self_cost) | set(callee_cost) | {k for edge in calls for k in edge}
    count: dict[str, int] = {}
    for _, name in keys:
        count[name] = count.get(name, 0) + 1

    def label(k: tuple) -> str:
        o, name = k
        return name if count[name] == 1 else f"{name} [{os.path.basename(o) or '?'}]"

    inclusive, own = {}, {}
    for k in keys:
        s, extra = self_cost.get(k, {}), callee_cost.get(k, {})
        own[label(k)] = {e: s.get(e, 0) for e in events}
        inclusive[label(k)] = {e: s.get(e, 0) + extra.get(e, 0) for e in events}
    edges: dict[tuple[str, str], int] = {}
    for (a, b), n in calls.items():
        edges[(label(a), label(b))] = edges.get((label(a), label(b)), 0) + n
    return CallgrindProfile(tuple(events), summary, geometry, command, creator,
                            own, inclusive, edges)


# --------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class SimulatedCosts:
    """Callgrind's counts for one design and workload, per packet.

    Attributes
    ----------
    design, workload : str
    functions : tuple of str
        The toggled functions: the counts are theirs and their callees'.
    packets : int
        Calls into the region: every packet the engine ran, warm-up batches
        included (the toggles do not know about warm-up).
    totals : dict of str to int
        Raw callgrind events (``Ir``, ``D1mr``, ...), from ``summary:``.
    geometry : tuple of CacheGeometry
        The simulated caches; the miss figures hold for these, not the host.
    tool : str
        ``callgrind-3.19.0``.
    params : dict
        The engine parameters of the run.
    status : str
        Always ``"simulated"``.
    warnings : tuple of str
        valgrind's own warnings (e.g. how it picked the LL geometry).
    """

    design: str
    workload: str
    functions: tuple[str, ...]
    packets: int
    totals: dict[str, int]
    geometry: tuple[CacheGeometry, ...]
    tool: str
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "simulated"
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.packets, int) or self.packets <= 0:
            raise ValueError(f"packets must be a positive int, not {self.packets!r}")
        if self.status != "simulated":
            raise ValueError(f"status must be 'simulated', not {self.status!r}")
        if "Ir" not in self.totals:
            raise ValueError("totals has no Ir (instructions)")
        for k, v in self.totals.items():
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"totals[{k!r}] must be a non-negative int, not {v!r}")

    def _get(self, event: str) -> int | None:
        return self.totals.get(event)

    @property
    def values(self) -> dict[str, int | None]:
        """Totals under our names; None where the event was not simulated."""
        out = {name: self._get(ev) for ev, name in EVENT_NAMES.items()}
        b = [self._get(e) for e in ("Bcm", "Bim")]
        out["branch_mispredicts"] = None if None in b else sum(b)
        return out

    def per_packet(self) -> dict[str, float | None]:
        """Every value divided by :attr:`packets`."""
        return {k: (None if v is None else v / self.packets) for k, v in self.values.items()}

    def statuses(self) -> dict[str, str]:
        """``"simulated"`` or ``"not measured: ..."`` per value."""
        return {k: "simulated" if v is not None else
                "not measured: event not simulated (no --cache-sim/--branch-sim)"
                for k, v in self.values.items()}

    def as_dict(self) -> dict[str, Any]:
        """Flat dict: per-packet values, totals, geometry and provenance."""
        out: dict[str, Any] = {"design": self.design, "workload": self.workload,
                               "mode": self.status, "tool": self.tool,
                               "functions": ",".join(self.functions),
                               "packets": self.packets}
        for k, v in self.per_packet().items():
            out[f"{k}_per_packet"] = v
        for k, v in self.values.items():
            out[f"{k}_total"] = v
        for g in self.geometry:
            out[f"{g.level}_size_bytes"] = g.size_bytes
            out[f"{g.level}_line_bytes"] = g.line_bytes
            out[f"{g.level}_assoc"] = g.assoc
        return out


# --------------------------------------------------------------------------
# running


def valgrind_version() -> str:
    """``valgrind-3.19.0``; raises CollectorUnavailable when absent."""
    exe = shutil.which("valgrind")
    if exe is None:
        raise CollectorUnavailable("valgrind", "valgrind not installed (not on PATH)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    if out.returncode:
        raise CollectorUnavailable("valgrind", f"{exe} --version exited {out.returncode}")
    return out.stdout.strip()


def design_functions(design: str) -> tuple[str, ...]:
    """The design's entry points a workload calls (``topdown_alloc``, ...).

    A ``kernel:NAME`` design's entry points carry the C identifier of its
    generated source (``kernel_<hash>_alloc``, ...). prepare/commit are weak
    and may be absent; toggling an absent function is harmless.
    """
    from ._build import _design_source

    ident = _design_source(design)[0]
    return tuple(f"{ident}_{op}" for op in ("alloc", "free", "prepare", "commit"))


def _engine_path(design: str, build_kw: Mapping[str, Any]) -> Path:
    """The design's engine executable, built (or reused) by ``_build``."""
    from . import _build

    return Path(_build.build_engine(design, **dict(build_kw)).path)


def callgrind_costs(design: str, workload: str = "fastpath", *,
                    functions: Sequence[str] | None = None,
                    cache: Mapping[str, tuple[int, int, int]] | None = None,
                    build: Mapping[str, Any] | None = None,
                    keep: str | os.PathLike | None = None,
                    timeout: float = 600, **params: Any) -> SimulatedCosts:
    """Simulated instructions, cache and branch misses per packet.

    Parameters
    ----------
    design : str
        A registered design; its engine is built (or reused) by ``_build``.
    workload : str
        Engine workload.
    functions : sequence of str, optional
        Region to collect; default :func:`design_functions` (the design's
        own code and its callees).
    cache : dict, optional
        Fixed simulated geometry, see :func:`callgrind_wrapper`.
    build : dict, optional
        Keyword arguments for ``_build.build_engine`` (``layout_seed``, ...).
    keep : path, optional
        Keep the callgrind output file here.
    **params
        Engine parameters (``packets=65536``, ``size=256``, ...).
        ``counters`` is forced to 0: perf counters inside a simulator count
        the simulator.

    Returns
    -------
    SimulatedCosts

    Raises
    ------
    CollectorUnavailable
        valgrind is not installed.
    ParameterError
        The engine rejected a parameter.
    EngineError
        The engine failed under valgrind, or nothing was collected.
    """
    tool = valgrind_version()
    functions = tuple(functions or design_functions(design))
    params = {"workload": workload, **params}
    path = _engine_path(design, build or {})
    where = {"out_dir": Path(keep).parent, "out_name": Path(keep).name} if keep else {}
    with get_collector("valgrind").collect(functions=functions, cache=cache, **where) as c:
        c.record(run_engine(path, c.engine_params(params), timeout=timeout,
                            **c.run_kwargs()))
    prof, result, params = c.result, c.document, c.engine_params(params)
    stderr = result.get("_stderr", "")
    packets = int(sum(result.get("packets") or []))
    if packets <= 0:
        raise EngineError("engine ran no packets", design=design, workload=workload)
    if not prof.summary.get("Ir"):
        raise EngineError(f"callgrind collected nothing: none of {', '.join(functions)} ran",
                          design=design, workload=workload, stderr=stderr[-4000:])
    # A toggled function calling another toggled one switches collection off.
    nested = [(a, b) for (a, b) in prof.calls if a in functions and b in functions]
    if nested:
        raise ParameterError("functions", functions,
                             f"functions that do not call each other ({nested[0][0]} calls "
                             f"{nested[0][1]})")
    warnings = tuple(ln.split("warning:", 1)[1].strip()
                     for ln in stderr.splitlines() if "warning:" in ln)
    return SimulatedCosts(design=design, workload=workload, functions=functions,
                          packets=packets, totals=dict(prof.summary),
                          geometry=prof.geometry, tool=tool,
                          params=dict(result.get("params") or params),
                          warnings=warnings)
