"""What one engine run will measure: a frozen, validated, serializable spec.

A :class:`RunSpec` is made once, and everything about it is resolved and
checked then: the design and workload exist, ``packets``/``size``/...
take the given value, else the workload's preference, else
:data:`fraglib.api.RUN_DEFAULTS` (:func:`fraglib.api.common_params`), the
workload's own parameters are checked and their defaults filled in
(:func:`fraglib.workloads.validate_params`) and the run fits in a sample
buffer and its timeout (:func:`fraglib.estimate.check_run_size`).
:func:`fraglib.run` and :func:`fraglib.api.run_pair` take a spec and
execute it without validating again.

A spec also carries its **labels** (:class:`Labels`): which side of a
comparison it is (role A or B), its pair, build and process index and the
comparison's id. The store records them as columns next to the whole spec
as JSON, so a comparison's statistics can be rebuilt from stored rows
alone (:func:`fraglib.stats.verdict_from_store`).

Example::

    >>> s = RunSpec.make("topdown", "fastpath", packets=4096)   # doctest: +SKIP
    >>> RunSpec.from_json(s.to_json()) == s                        # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .exceptions import ParameterError

__all__ = ["RunSpec", "Labels", "ROLES", "ORDERS"]

#: sides of a comparison: A is the baseline, B the candidate
ROLES = ("A", "B")
#: the two ABBA orders of a pair
ORDERS = ("AB", "BA")
#: the largest environment pad (bytes) an engine accepts, plus one
_ENV_PAD_LIMIT = 4096


def _opt_int(name: str, v: object, lo: int) -> int | None:
    if v is None:
        return None
    # numbers.Integral: NumPy integers too (layout seeds, pads drawn by NumPy)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        raise ParameterError(name, v, f"an integer >= {lo} or None")
    return int(v)


@dataclasses.dataclass(frozen=True)
class Labels:
    """Where a run sits in an experiment; every field is optional.

    Attributes
    ----------
    role : {"A", "B"} or None
        Side of a comparison (A the baseline).
    pair : int or None
        Pair index within its build (``>= 0``).
    build_id : int or None
        Layout build index within its comparison (``>= 0``).
    process : int or None
        Position of this engine process in its comparison (``>= 0``).
    comparison : str or None
        Id shared by every run of one comparison.
    order : {"AB", "BA"} or None
        The pair's ABBA order.
    name : str or None
        The side's label in the verdict (the design, ``topdown+slowdown8``,
        or ``topdown (A)`` in an A/A run).
    """

    role: str | None = None
    pair: int | None = None
    build_id: int | None = None
    process: int | None = None
    comparison: str | None = None
    order: str | None = None
    name: str | None = None

    def __post_init__(self):
        if self.role is not None and self.role not in ROLES:
            raise ParameterError("role", self.role, "A, B or None")
        if self.order is not None and self.order not in ORDERS:
            raise ParameterError("order", self.order, "AB, BA or None")
        for k in ("pair", "build_id", "process"):
            object.__setattr__(self, k, _opt_int(k, getattr(self, k), 0))
        for k in ("comparison", "name"):
            v = getattr(self, k)
            if v is not None and (not isinstance(v, str) or not v):
                raise ParameterError(k, v, "a non-empty string or None")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: fields a derived spec may change without its parameters being validated again
_DERIVABLE = ("layout_seed", "extra_flags", "env_pad", "labels", "provenance")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One engine run, resolved and validated when it is made.

    Attributes
    ----------
    design, workload : str
    params : Mapping
        Every engine parameter of the workload, resolved: ``packets``,
        ``size``, ``align``, ``batch``, ``warmup`` and the workload's own
        (defaults filled in). Given values of None take the workload's
        preference, else :data:`fraglib.api.RUN_DEFAULTS`.
    cpu : int or None
        CPU the engine is pinned to; None resolves to
        :func:`fraglib.api.default_cpu` when the spec is made.
    counters : bool
        Open perf_event counters around the measured region.
    layout_seed : int or None
        Layout-variant build (:mod:`fraglib._build`).
    extra_flags : tuple of str
        Extra compiler flags of the engine build.
    stats : bool
        Engine built with per-cache statistics.
    env_pad : int or None
        Environment pad in bytes, [0, 4095]; None: random at run time.
    timeout : float or None
        Seconds before the engine is killed (None: no limit).
    labels : Labels
        Role, pair, build, process and comparison of the run.
    provenance : Mapping
        Extra JSON-safe fields recorded with the run.

    Raises
    ------
    ParameterError
        Any field not allowed (named); :class:`UnknownNameError` for an
        unknown design, workload or parameter.
    """

    design: str
    workload: str = "fastpath"
    params: Mapping = dataclasses.field(default_factory=dict)
    cpu: int | None = None
    counters: bool = True
    layout_seed: int | None = None
    extra_flags: tuple = ()
    stats: bool = False
    env_pad: int | None = None
    timeout: float | None = 600
    labels: Labels = Labels()
    provenance: Mapping = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        from . import api
        from . import estimate as _estimate
        from .designs import get_design
        from .workloads import validate_params

        get_design(self.design)
        common = api.common_params(self.workload, self.params)
        cpu = api.default_cpu() if self.cpu is None else api.check_cpu("cpu", self.cpu)
        params = validate_params(self.workload, {**self.params, **common},
                                 design=self.design, cpu=cpu)
        if self.timeout is not None:
            t = self.timeout
            if isinstance(t, bool) or not isinstance(t, (int, float)) \
                    or not (math.isfinite(t) and t > 0):
                raise ParameterError("timeout", t, "a number of seconds > 0, or None")
        _estimate.check_run_size(self.design, self.workload, params, self.timeout)
        for k in ("counters", "stats"):
            v = getattr(self, k)
            if not isinstance(v, (bool, np.bool_, numbers.Integral)) or v not in (0, 1):
                raise ParameterError(k, v, "True or False")
            object.__setattr__(self, k, bool(v))
        object.__setattr__(self, "params", MappingProxyType(dict(params)))
        object.__setattr__(self, "cpu", cpu)
        self._check_derivable()

    def _check_derivable(self) -> None:
        """Check (and freeze) the fields :meth:`derive` may change."""
        flags = self.extra_flags
        if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
            raise ParameterError("extra_flags", flags, "a tuple of compiler flags (str)")
        object.__setattr__(self, "extra_flags", tuple(flags))
        pad = self.env_pad
        if pad is not None and (isinstance(pad, bool) or not isinstance(pad, numbers.Integral)
                                or not 0 <= pad < _ENV_PAD_LIMIT):
            raise ParameterError("env_pad", pad,
                                 f"an integer in [0, {_ENV_PAD_LIMIT - 1}] or None")
        object.__setattr__(self, "env_pad", None if pad is None else int(pad))
        object.__setattr__(self, "layout_seed", _opt_int("layout_seed", self.layout_seed, 0))
        labels = self.labels
        if isinstance(labels, Mapping):
            labels = Labels(**labels)
        if not isinstance(labels, Labels):
            raise ParameterError("labels", labels, "a Labels or a mapping of its fields")
        object.__setattr__(self, "labels", labels)
        prov = dict(self.provenance or {})
        try:
            json.dumps(prov)
        except (TypeError, ValueError):
            raise ParameterError("provenance", prov, "a JSON-safe mapping") from None
        object.__setattr__(self, "provenance", MappingProxyType(prov))

    # ---- making and deriving ---------------------------------------------------

    @classmethod
    def make(cls, design: str, workload: str = "fastpath", *,
             packets: int | None = None, size: int | None = None,
             align: int | None = None, batch: int | None = None,
             warmup: int | None = None, cpu: int | None = None, counters: bool = True,
             layout_seed: int | None = None, extra_flags=(), stats: bool = False,
             env_pad: int | None = None, timeout: float | None = 600,
             labels: Labels | Mapping | None = None,
             provenance: Mapping | None = None, **params) -> "RunSpec":
        """A spec from :func:`fraglib.run`'s keywords (``**params``: workload's)."""
        common = dict(packets=packets, size=size, align=align, batch=batch, warmup=warmup)
        return cls(design, workload, {**params, **{k: v for k, v in common.items()
                                                   if v is not None}},
                   cpu=cpu, counters=counters, layout_seed=layout_seed,
                   extra_flags=extra_flags, stats=stats, env_pad=env_pad, timeout=timeout,
                   labels=labels if labels is not None else Labels(),
                   provenance=provenance or {})

    def derive(self, **changes) -> "RunSpec":
        """This spec with new layout, flags, env pad, labels or provenance.

        The engine parameters are the same, so they are not validated again
        (a comparison derives hundreds of specs from two validated ones);
        the changed fields are checked.
        """
        bad = [k for k in changes if k not in _DERIVABLE]
        if bad:
            raise ParameterError(bad[0], changes[bad[0]], "one of " + ", ".join(_DERIVABLE)
                                 + " (other fields: make a new RunSpec)")
        new = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.get(f.name, getattr(self, f.name)))
        new._check_derivable()
        return new

    # ---- what the engine sees --------------------------------------------------

    @property
    def engine_params(self) -> dict:
        """The key=value parameters the engine is started with."""
        return {"workload": self.workload, "cpu": self.cpu,
                "counters": int(self.counters), **self.params}

    @property
    def two_threads(self) -> bool:
        """Whether the workload runs a second thread (ring, or ``cpu2 >= 0``)."""
        cpu2 = self.params.get("cpu2", -1)
        return self.workload == "ring" or (isinstance(cpu2, int) and cpu2 >= 0)

    # ---- serialization ---------------------------------------------------------

    def as_dict(self) -> dict:
        """JSON-safe dict; :meth:`from_dict` inverts it."""
        return {"design": self.design, "workload": self.workload,
                "params": dict(self.params), "cpu": self.cpu, "counters": self.counters,
                "layout_seed": self.layout_seed, "extra_flags": list(self.extra_flags),
                "stats": self.stats, "env_pad": self.env_pad, "timeout": self.timeout,
                "labels": self.labels.as_dict(), "provenance": dict(self.provenance)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunSpec":
        """The spec of :meth:`as_dict`'s output, validated again (stored data)."""
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            k = sorted(unknown)[0]
            raise ParameterError(k, d[k], "a RunSpec field: "
                                 + ", ".join(f.name for f in dataclasses.fields(cls)))
        d["extra_flags"] = tuple(d.get("extra_flags", ()))
        d["labels"] = Labels(**dict(d.get("labels") or {}))
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunSpec":
        return cls.from_dict(json.loads(text))
