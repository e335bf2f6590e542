"""The design registry: every allocator design the C core implements.

The C ops tables are the source of truth (name, what it mirrors, struct
size, capabilities, largest fragment) and so is csrc/kversion.c's table of
the kernel release each design mirrors; this module reads both through the
binding so the Python side can never disagree with what the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._core import consts
from .exceptions import UnknownNameError

__all__ = ["Design", "designs", "get_design", "design_names", "details",
           "CAP_ALIGN", "CAP_PREPARE", "CAP_PAGES", "CAP_HIGH_ORDER", "CAP_ALIASED"]

CAP_ALIGN = consts.FRAG_CAP_ALIGN
CAP_PREPARE = consts.FRAG_CAP_PREPARE
CAP_PAGES = consts.FRAG_CAP_PAGES
CAP_HIGH_ORDER = consts.FRAG_CAP_HIGH_ORDER
CAP_ALIASED = consts.FRAG_CAP_ALIASED
#: a page (FRAG_PAGE_SIZE): what ``ops->max_frag == 0`` means.
PAGE_SIZE = 1 << consts.FRAG_PAGE_SHIFT
_CAP_NAMES = {CAP_ALIGN: "align", CAP_PREPARE: "prepare/commit",
              CAP_PAGES: "model pages", CAP_HIGH_ORDER: "order-3 first",
              CAP_ALIASED: "aliased fragments"}


@dataclass(frozen=True)
class Design:
    """One design, as its C ops table describes it.

    Attributes
    ----------
    name : str
        Registry key (``topdown``, ``bottomup``, ...).
    mirrors : str
        The kernel version, commit or mail it re-implements.
    struct_size : int
        ``sizeof`` its cache struct on this build (bytes).
    caps : int
        ``FRAG_CAP_*`` bits.
    max_frag : int
        Largest fragment it hands out, bytes (``ops->max_frag``; a page
        unless the design has its own limit, 1 KiB for slicer1k).
    kernel : tuple of (int, int) or None
        ``(major, minor)`` of the release it mirrors (csrc/kversion.c), None
        when the table does not name one.
    kernel_why : str
        The commit, series or reasoning behind ``kernel``.
    """

    name: str
    mirrors: str
    struct_size: int
    caps: int
    max_frag: int = PAGE_SIZE
    kernel: tuple[int, int] | None = None
    kernel_why: str = ""

    @property
    def limits_frag(self) -> bool:
        """True when it cannot hand out a fragment as large as a page."""
        return self.max_frag < PAGE_SIZE

    @property
    def capabilities(self) -> tuple[str, ...]:
        return tuple(n for bit, n in _CAP_NAMES.items() if self.caps & bit)

    def details(self, *, code_size: bool = True) -> dict:
        """Everything known about the design, for ``fraglib designs --details``.

        Parameters
        ----------
        code_size : bool
            Also measure code size (builds the design's engine if needed;
            see :func:`fraglib.codesize.code_size`).

        Returns
        -------
        dict
            ``name``, ``mirrors``, ``struct_size`` (bytes), ``caps`` (bits),
            ``max_frag`` (bytes), ``kernel`` (``"6.9"``, or None),
            ``capabilities`` (names), and ``code_size`` (``alloc``, ``free``,
            ``total``, ``prepare``, ``commit``, ``text`` in bytes, and
            ``helpers``) or None when not measured.
        """
        out = {"name": self.name, "mirrors": self.mirrors,
               "struct_size": self.struct_size, "caps": self.caps,
               "max_frag": self.max_frag,
               "kernel": None if self.kernel is None else "%d.%d" % self.kernel,
               "capabilities": list(self.capabilities), "code_size": None}
        if code_size:
            from .codesize import code_size as measure
            cs = measure(self.name)
            out["code_size"] = {k: cs[k] for k in (
                "alloc", "free", "total", "prepare", "commit", "text", "helpers")}
        return out

    def library(self):
        """The cffi library handle an in-process cache of this design calls."""
        from . import _core
        return _core.lib()

    def __str__(self) -> str:
        return self.name


@lru_cache(maxsize=1)
def _table() -> dict[str, Design]:
    from . import _core
    lib, ffi = _core.lib(), _core.ffi
    kernels = {}
    for i in range(lib.fraglib_nkvers()):
        k = lib.fraglib_kver_at(i)
        kernels[_core.text(k.design)] = (divmod(k.kver, consts.FRAG_KVER_BASE),
                                         _core.text(k.why))
    out = {}
    for i in range(lib.fraglib_ndesigns()):
        ops = lib.fraglib_design_at(i)
        name = ffi.string(ops.name).decode()
        kernel, why = kernels.get(name, (None, ""))
        out[name] = Design(name, ffi.string(ops.mirrors).decode(), ops.struct_size,
                           ops.caps, ops.max_frag or PAGE_SIZE,
                           None if kernel is None else tuple(kernel), why)
    return out


def designs() -> tuple[Design, ...]:
    """Every registered design, in registry order."""
    return tuple(_table().values())


def design_names() -> tuple[str, ...]:
    """Names of every registered design."""
    return tuple(_table())


def details(names=None, *, code_size: bool = True) -> list[dict]:
    """:meth:`Design.details` for ``names`` (default: every design), in order."""
    return [get_design(n).details(code_size=code_size)
            for n in (design_names() if names is None else names)]


def get_design(name: str) -> Design:
    """Look a design up by name; raise UnknownNameError naming the known ones.
    ``kernel:NAME`` names come from :mod:`fraglib.kernel`'s registry."""
    if isinstance(name, str) and name.startswith("kernel:"):
        from .kernel import get_kernel_design
        return get_kernel_design(name)
    try:
        return _table()[name]
    except (KeyError, TypeError):
        raise UnknownNameError("design", name, _table()) from None
