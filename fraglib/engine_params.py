"""The engine's parameter table, read from C (``csrc/params.c``: key, type,
bounds, default, help, choices), and the checks of one value against it.

The engine checks every value again; these let the Python side refuse a bad
value at once, as a :class:`~fraglib.exceptions.ParameterError` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from . import _core
from ._core import CTable, consts
from .exceptions import ParameterError

__all__ = ["EngineParam", "ENGINE_PARAMS", "COMMON_PARAMS", "check_value", "check_cpu"]


@dataclass(frozen=True)
class EngineParam:
    """One row of the engine's parameter table (``csrc/params.c``).

    Attributes
    ----------
    key : str
        The ``key=value`` key.
    kind : str
        ``"int"``, ``"float"``, ``"pow2"`` (an integer power of two) or ``"str"``.
    lo, hi : int, float or None
        Bounds, inclusive (None for ``"str"``).
    default : int, float, str or None
        The engine's default; None when it has none or it depends on the
        design and workload.
    help : str
        One line, as ``--help`` prints it.
    choices : tuple of str
        The words a ``"str"`` parameter takes; empty when any text goes.
    why : str
        With ``choices``: what the choice decides.
    """

    key: str
    kind: str
    lo: int | float | None
    hi: int | float | None
    default: int | float | str | None
    help: str
    choices: tuple[str, ...] = ()
    why: str = ""

    def __post_init__(self):
        if self.kind not in ("int", "float", "pow2", "str"):
            raise ValueError(f"{self.key}: kind {self.kind!r} is not int, float, pow2 or str")


def _load_params() -> dict[str, EngineParam]:
    lib, ffi = _core.lib(), _core.ffi
    row = ffi.new("struct fraglib_param *")
    out = {}
    for i in range(lib.fraglib_nparams()):
        if lib.fraglib_param_at(i, row):
            raise RuntimeError(f"fraglib_param_at({i}) failed")  # the C count lies
        kind = _core.text(row.type)
        text = ffi.string(row.default_text).decode()
        conv = {"str": str, "float": float}.get(kind, int)
        bounds = (None, None) if kind == "str" else (conv(row.min), conv(row.max))
        choices: list[str] = []
        if row.choices != ffi.NULL:
            while row.choices[len(choices)] != ffi.NULL:
                choices.append(_core.text(row.choices[len(choices)]))
        out[_core.text(row.key)] = EngineParam(
            _core.text(row.key), kind, *bounds, conv(text) if text else None,
            _core.text(row.help), tuple(choices), _core.text(row.why) or "")
    return out


#: Every key the engine accepts -> :class:`EngineParam` (csrc/params.c's table).
ENGINE_PARAMS: Mapping[str, EngineParam] = CTable(_load_params)
#: parameters :func:`fraglib.run` takes as its own arguments; the registry
#: lists a workload's preferred value but validate_params never injects one.
COMMON_PARAMS = frozenset({"packets", "size", "align", "batch", "warmup", "cpu",
                           "counters"})


def check_value(key: str, value: object) -> object:
    """``value`` as the engine takes ``key`` (bools as 0/1 where allowed).

    Raises
    ------
    ParameterError
        Out of bounds, not a power of two, not one of the choices, or text
        the engine's command line cannot carry.
    """
    prm = ENGINE_PARAMS[key]
    kind, lo, hi = prm.kind, prm.lo, prm.hi
    if kind == "str":
        limit = consts.FRAG_STR_LEN - 1
        if (not isinstance(value, str) or not value or len(value) > limit
                or '"' in value or "\\" in value):
            raise ParameterError(key, value, f"1..{limit} characters, no quotes or "
                                 "backslashes")
        if prm.choices and value not in prm.choices:
            raise ParameterError(key, value, ", ".join(prm.choices) + f" ({prm.why})")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ParameterError(key, value, f"a number in [{lo}, {hi}]")
        return float(value)
    if isinstance(value, bool) and (lo, hi) == (0, 1):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(key, value, f"an integer in [{lo}, {hi}]")
    if kind == "pow2" and value & (value - 1):
        raise ParameterError(key, value, f"a power of two in [{lo}, {hi}]")
    return value


def check_cpu(key: str, cpu: int) -> None:
    """Refuse a CPU (other than -1) this process may not run on."""
    if cpu < 0:
        return
    allowed = sorted(os.sched_getaffinity(0))
    if cpu not in allowed:
        raise ParameterError(key, cpu, "-1 (do not pin) or a CPU this process may run on: "
                             + ", ".join(map(str, allowed)))
