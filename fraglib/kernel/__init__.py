"""The kernel's own page_frag code as designs: ``kernel:NAME``.

``add(name, tree, rev, patches)`` reads a revision of a Linux tree (plus
patches), extracts its page_frag functions and types with a C parser,
compiles them against the user-space shim (csrc/kshim) behind the ops
table of their API generation (va, encoded, part2; or, where asked with
``source="sock"``, net/core/sock.c's refill), and registers
``kernel:NAME``: from then on it is a design like the built-in ones for
:func:`fraglib.run`, :func:`fraglib.compare`,
:class:`fraglib.cache.FragCache`, callgrind and code size. Its release
(the tree's Makefile at the rev) sets the rx workload's small-head route.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..designs import PAGE_SIZE, Design
from .errors import (KernelCompileError, KernelError, KernelFileMissingError,
                     KernelFunctionMissingError, NotAGitTreeError, PatchApplyError,
                     UnknownGenerationError, UnknownRevError)
from .generations import GENERATIONS
from .registry import PREFIX, add, design_functions, entries, entry, load_library, remove

__all__ = ["KernelDesign", "get_kernel_design", "add", "entries", "entry", "remove",
           "design_functions",
           "GENERATIONS", "PREFIX", "KernelError", "NotAGitTreeError", "UnknownRevError",
           "KernelFileMissingError", "KernelFunctionMissingError", "PatchApplyError",
           "UnknownGenerationError", "KernelCompileError"]


@dataclass(frozen=True)
class KernelDesign(Design):
    """A registered kernel design: its ops table is read from its own library."""

    def library(self):
        return load_library(self.name)


def get_kernel_design(name: str) -> KernelDesign:
    """The Design of ``kernel:NAME``; UnknownNameError when not registered."""
    rec = entry(name)
    from .. import _core
    ops = load_library(rec["design"]).fraglib_design_at(0)
    kver = rec.get("kernel")
    return KernelDesign(rec["design"], _core.text(ops.mirrors), ops.struct_size, ops.caps,
                        ops.max_frag or PAGE_SIZE, None if kver is None else tuple(kver),
                        "" if kver is None else
                        f"VERSION/PATCHLEVEL of the Makefile at {rec['rev']}")
