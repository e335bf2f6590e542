"""Where in a tree an allocator's code lives, and what to take from it.

The page_frag allocator (``page_frag``, the default) is read from
mm/page_frag_cache.c or mm/page_alloc.c and the headers with its struct,
sizes and inline helpers; every function whose name holds ``page_frag``
is taken. Other allocators are read only where asked (``kernel add
--source``): ``sock`` is net/core/sock.c's ``skb_page_frag_refill()`` on
a ``struct page_frag``, the Tx side's allocator, and only that function
is taken (sock.c's other page_frag functions need a struct sock).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import ParameterError

__all__ = ["SourceSet", "SOURCE_SETS", "get_source_set"]


@dataclass(frozen=True)
class SourceSet:
    """The files and names one allocator is extracted from.

    Attributes
    ----------
    name : str
        ``page_frag`` or ``sock``: the ``--source`` of ``kernel add``.
    sources : tuple of str
        Files holding the functions, newest layout first; the first one the
        revision has is the design's source file.
    headers : tuple of str
        Headers read for types, macros and inline helpers (those missing at
        the revision are skipped).
    functions : re.Pattern
        Function names taken.
    macros : re.Pattern
        Macro names taken.
    structs : tuple of str
        Struct tags taken.
    """

    name: str
    sources: tuple
    headers: tuple
    functions: re.Pattern
    macros: re.Pattern
    structs: tuple


SOURCE_SETS = {s.name: s for s in (
    SourceSet("page_frag", ("mm/page_frag_cache.c", "mm/page_alloc.c"),
              ("include/linux/page_frag_cache.h", "include/linux/mm_types_task.h",
               "include/linux/mm_types.h", "include/linux/gfp.h"),
              re.compile(r"page_frag|^encoded_page_"), re.compile(r"^PAGE_FRAG_CACHE_"),
              ("page_frag_cache", "page_frag")),
    SourceSet("sock", ("net/core/sock.c",),
              ("include/linux/mm_types_task.h", "include/linux/mm_types.h",
               "include/net/sock.h"),
              re.compile(r"^skb_page_frag_refill$"), re.compile(r"^SKB_FRAG_PAGE_ORDER$"),
              ("page_frag",)),
)}


def get_source_set(name: str) -> SourceSet:
    """The source set ``name``; ParameterError naming the known ones."""
    try:
        return SOURCE_SETS[name]
    except (KeyError, TypeError):
        raise ParameterError("source", name, ", ".join(SOURCE_SETS)) from None
