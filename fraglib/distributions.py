"""Packet-size distributions: the ``dist`` parameter, parsed by the engine's
own parser (``csrc/sizes.c``) through the binding.

``fixed:N``, ``uniform:A-B``, ``imix`` (simple IMIX: 64/576/1500 B in the
ratio 7:4:1) or ``csv:NAME`` (``data/sizes/NAME.csv``; see
``data/sizes/README.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import _core
from ._build import REPO_ROOT
from ._core import consts
from .exceptions import ParameterError

__all__ = ["Distribution", "size_distribution", "SIZES_DIR", "SIZE_MAX", "DIST_MAX_ROWS"]

#: where ``dist=csv:NAME`` looks for ``NAME.csv`` unless ``sizes_dir`` is given.
SIZES_DIR = REPO_ROOT / "data" / "sizes"
#: largest packet size a ``dist`` can draw, and most rows of a ``csv:`` table.
SIZE_MAX = consts.FRAG_SIZE_MAX
DIST_MAX_ROWS = consts.FRAG_DIST_MAX_ROWS


@dataclass(frozen=True)
class Distribution:
    """A parsed ``dist`` spec, as the engine's generator samples it.

    Attributes
    ----------
    spec : str
        The spec as given.
    kind : str
        ``fixed``, ``uniform`` or ``table`` (imix and csv:).
    lo, hi : int
        Smallest and largest size that can be drawn.
    table : tuple of (int, float)
        ``(size, probability)`` rows for ``fixed`` and ``table`` (file order,
        zero-weight rows kept); empty for ``uniform``.
    """

    spec: str
    kind: str
    lo: int
    hi: int
    table: tuple[tuple[int, float], ...] = ()

    @property
    def mean(self) -> float:
        if self.kind == "uniform":
            return (self.lo + self.hi) / 2
        return sum(s * p for s, p in self.table)

    def probabilities(self) -> dict[int, float]:
        """``{size: probability}`` (uniform: every integer lo..hi)."""
        if self.kind == "uniform":
            n = self.hi - self.lo + 1
            return {s: 1 / n for s in range(self.lo, self.hi + 1)}
        out: dict[int, float] = {}
        for s, p in self.table:
            out[s] = out.get(s, 0.0) + p
        return out


def size_distribution(spec: str, sizes_dir: str | os.PathLike | None = None
                      ) -> Distribution:
    """Parse a ``dist`` spec with the engine's own parser (csrc/sizes.c).

    Parameters
    ----------
    spec : str
        ``fixed:N``, ``uniform:A-B``, ``imix`` or ``csv:NAME``.
    sizes_dir : path, optional
        Directory of ``csv:`` tables; default :data:`SIZES_DIR`.

    Returns
    -------
    Distribution

    Raises
    ------
    ParameterError
        ``param == "dist"``: unknown distribution, bad bounds, unreadable or
        malformed CSV (the engine's words for what is allowed).
    """
    if not isinstance(spec, str):
        raise ParameterError("dist", spec, "a string: fixed:N, uniform:A-B, imix or csv:NAME")
    if "\0" in spec:
        raise ParameterError("dist", spec, "fixed:N, uniform:A-B, imix or csv:NAME")
    lib, ffi = _core.lib(), _core.ffi
    d = ffi.new("struct frag_dist *")
    err = ffi.new("char[]", 1024)
    directory = os.fspath(sizes_dir if sizes_dir is not None else SIZES_DIR)
    if lib.frag_dist_parse(d, spec.encode(), directory.encode(), err, len(err)):
        raise ParameterError("dist", spec, ffi.string(err).decode())
    try:
        if d.kind == lib.FRAG_DIST_UNIFORM:
            return Distribution(spec, "uniform", d.lo, d.hi)
        table = tuple((d.value[i], d.prob[i]) for i in range(d.n))
        if d.kind == lib.FRAG_DIST_FIXED:
            return Distribution(spec, "fixed", d.lo, d.hi, ((d.lo, 1.0),))
        return Distribution(spec, "table", d.lo, d.hi, table)
    finally:
        lib.frag_dist_free(d)
