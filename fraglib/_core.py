"""The cffi binding (ABI mode) to ``libfraglib.so``: the only module that
touches ``ffi``.

The declarations are ``csrc/include/fraglib.cffi.h``, the one header the C
sources include for these types and exports, so the compiler checks the
C side against the very text cffi reads here. cffi's ``cdef`` takes no
preprocessor, so its lines starting with ``#`` are dropped except
``#define NAME <integer>`` (constants cffi understands).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import cffi

from ._build import CSRC, build_library

__all__ = ["HEADER", "CTable", "cdef_text", "consts", "ffi", "lib", "text"]

#: the binding contract, shared with the C sources.
HEADER = CSRC / "include" / "fraglib.cffi.h"
_CONST = re.compile(r"#\s*define\s+\w+\s+-?(0x[0-9a-fA-F]+|[0-9]+)\b")


def cdef_text() -> str:
    """The header as cffi's ``cdef`` takes it."""
    keep = []
    for line in HEADER.read_text().splitlines():
        if line.lstrip().startswith("#"):
            m = _CONST.match(line.strip())
            line = line.split("/*")[0].rstrip() if m else ""
        keep.append(line)
    return "\n".join(keep)


ffi = cffi.FFI()
ffi.cdef(cdef_text())
#: the header's integer constants and enums (``consts.FRAG_SIZE_MAX``): they
#: come from the cdef, so reading them builds nothing.
consts = ffi.dlopen(None)


@lru_cache(maxsize=1)
def lib():
    """Build if needed and load the shared library (once per process)."""
    return ffi.dlopen(str(build_library().path))


def text(p) -> str | None:
    """A C string as ``str`` (None for NULL)."""
    return None if p == ffi.NULL else ffi.string(p).decode()


class CTable(Mapping):
    """A read-only mapping filled from the library on first use.

    Module-level tables (``ENGINE_PARAMS``, ``DESIGN_KERNEL``, ...) are
    facts the C side owns; making one of these at import time costs
    nothing, and the first lookup builds and loads the library once.

    Parameters
    ----------
    load : callable
        Returns the ``dict`` to serve; called once.
    """

    def __init__(self, load: Callable[[], Mapping[str, Any]]):
        self._load = load
        self._data: Mapping[str, Any] | None = None

    def _table(self) -> Mapping[str, Any]:
        if self._data is None:
            self._data = dict(self._load())
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"CTable({dict(self._table())!r})"
