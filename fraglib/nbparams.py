"""Check notebook parameters before a sweep starts.

papermill only logs a warning for a parameter the notebook does not
declare, and a bad value fails inside the notebook after its first cells
ran. :func:`validate_notebook_params` refuses both before any notebook
starts: every key must be declared by at least one selected notebook
(``papermill.inspect_notebook``), each value must have the type of the
declared default (the notebooks' parameters carry no annotations, so the
default's literal is the declaration), and values with a known meaning are
range-checked with the same rules as a run (:data:`RULES`).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .exceptions import ParameterError

__all__ = ["declared", "validate_notebook_params", "strings_as_declared", "RULES"]


def _design(name, v):
    from .designs import get_design
    get_design(v) if isinstance(v, str) else _bad(name, v, "a design name")


def _workload(name, v):
    from .workloads import get_workload
    get_workload(v) if isinstance(v, str) else _bad(name, v, "a workload name")


def _dist(name, v):
    from .workloads import size_distribution
    size_distribution(v)


def _engine(key):
    def check(name, v):
        from .engine_params import check_value
        try:
            check_value(key, v)
        except ParameterError as e:
            raise ParameterError(name, v, e.allowed) from None
    return check


def _at_least(lo):
    def check(name, v):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            _bad(name, v, f"an integer >= {lo}")
    return check


def _resamples(name, v):
    # the verdict's own floor (fraglib.stats.MIN_RESAMPLES), so a notebook
    # parameter is refused here exactly when compare()/verdict() would refuse it
    from .stats.validation import MIN_RESAMPLES
    _at_least(MIN_RESAMPLES)(name, v)


def _bad(name, v, allowed):
    raise ParameterError(name, v, allowed)


#: per-name value rules (lists: applied to each element)
RULES = {
    "designs": _design, "sleep_designs": _design, "profile_designs": _design,
    "baseline": _design, "candidate": _design, "design": _design,
    "workloads": _workload, "workload": _workload, "profile_workload": _workload,
    "sleep_workload": _workload,
    "dists": _dist, "sizes": _engine("size"), "alignments": _engine("align"),
    "packets": _engine("packets"), "mss": _engine("mss"), "cpu2": _engine("cpu2"),
    "seed": _engine("seed"),
    "repeats": _at_least(1), "builds": _at_least(1), "processes": _at_least(2),
    "top": _at_least(1), "resamples": _resamples, "slowdowns": _at_least(0),
    "arena_mb": _at_least(1),
}
#: list parameters whose elements must be among the default's
_CHOICES = ("modes", "cpus")


def declared(path: str | Path) -> dict[str, object]:
    """``{name: default value}`` of a notebook's ``parameters`` cell."""
    import papermill as pm

    out = {}
    for name, info in pm.inspect_notebook(str(path)).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            out[name] = None          # an expression: no type to check against
    return out


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def _type_ok(want, got) -> bool:
    if want is None:
        return True
    kw, kg = _kind(want), _kind(got)
    if kw == "float":
        return kg in ("int", "float")
    return kw == kg


def _check_one(nb: str, name: str, value, default) -> None:
    if not _type_ok(default, value):
        kind = _kind(default)
        raise ParameterError(name, value, f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                             "like the default "
                             f"{default!r} declared in {nb}")
    if isinstance(value, (list, tuple)):
        elems = [d for d in default or [] if d is not None] if isinstance(
            default, (list, tuple)) else []
        for item in value:
            if elems and not any(_type_ok(d, item) for d in elems):
                raise ParameterError(name, value, f"a list of {_kind(elems[0])} like the "
                                     f"default {default!r} declared in {nb}")
            if name in _CHOICES and item not in default:
                raise ParameterError(name, value, "a list of values among "
                                     + ", ".join(map(str, default)))
            if name in RULES:
                try:
                    RULES[name](name, item)
                except ParameterError as e:
                    raise ParameterError(name, value, f"a list whose every element is "
                                         f"{e.allowed} ({item!r} is not)") from None
        if not value and name in RULES:
            raise ParameterError(name, value, "a non-empty list")
    elif name in RULES and value is not None:
        try:
            RULES[name](name, value)
        except ParameterError as e:
            raise ParameterError(name, value, e.allowed) from None


def _str_declared(default) -> bool:
    if isinstance(default, (list, tuple)):
        return bool(default) and all(isinstance(d, str) for d in default)
    return isinstance(default, str)


def _text(v):
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def strings_as_declared(paths: Sequence[Path], parameters: Mapping[str, object]
                        ) -> dict[str, object]:
    """Integers back to strings where the notebooks declare strings.

    The command line reads ``-p`` values as YAML, so ``modes=[2048,75]``
    arrives as integers although 4.0-ring's ``modes`` are strings
    (``["2048", "75", ...]``). Where every selected notebook that declares a
    key has a string (or list of strings) default, integers in its value
    become their decimal text; anything else is left for
    :func:`validate_notebook_params` to judge.
    """
    decl = [declared(p) for p in paths]
    out = dict(parameters)
    for key, value in parameters.items():
        defaults = [d[key] for d in decl if key in d]
        if not defaults or not all(_str_declared(d) for d in defaults):
            continue
        out[key] = [_text(v) for v in value] if isinstance(value, list) else _text(value)
    return out


def validate_notebook_params(paths: Sequence[Path],
                             parameters: Mapping[str, object] | None
                             ) -> dict[Path, dict[str, object]]:
    """Check ``parameters`` against every selected notebook; split them.

    Parameters
    ----------
    paths : sequence of Path
        The notebooks a sweep will run.
    parameters : mapping
        Values for the notebooks' ``parameters`` cells.

    Returns
    -------
    dict
        For each notebook, the parameters it declares (the others are not
        passed to it).

    Raises
    ------
    ParameterError
        A key no selected notebook declares, a value of another type than
        the declared default, or a value out of range. Nothing has run.
    """
    parameters = dict(parameters or {})
    decl = {p: declared(p) for p in paths}
    known = sorted({k for d in decl.values() for k in d})
    for key, value in parameters.items():
        if not any(key in d for d in decl.values()):
            names = ", ".join(p.stem for p in paths)
            close = difflib.get_close_matches(key, known, n=1)
            raise ParameterError(key, value, f"a parameter declared by {names}: "
                                 + ", ".join(known)
                                 + (f" (did you mean {close[0]}?)" if close else ""))
    for p, d in decl.items():
        for key, value in parameters.items():
            if key in d:
                _check_one(p.stem, key, value, d[key])
    return {p: {k: v for k, v in parameters.items() if k in d} for p, d in decl.items()}
