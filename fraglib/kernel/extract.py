"""Pick the page_frag functions, types and macros out of kernel C text.

The text is parsed with tree-sitter's C grammar, which reads raw kernel
source (macros, attributes and ``#if`` blocks included) without running
the preprocessor. What is picked, by name (the page_frag defaults; a
source set, :mod:`fraglib.kernel.sourcesets`, passes its own):

- ``#define PAGE_FRAG_CACHE_*`` (sizes, order mask, pfmemalloc bit);
- ``struct page_frag_cache`` (and ``struct page_frag`` where a file has it);
- every function whose name holds ``page_frag`` or starts with
  ``encoded_page_`` (the 6.13 encoded-page helpers).

Each item is kept as its exact source text, ``#if`` blocks inside it
included, so the compiler sees the revision's own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["Item", "Extracted", "extract", "FUNCTION_NAME", "STRUCT_NAMES"]

#: functions taken by name.
FUNCTION_NAME = re.compile(r"page_frag|^encoded_page_")
#: struct tags taken.
STRUCT_NAMES = ("page_frag_cache", "page_frag")
#: macros taken.
MACRO_NAME = re.compile(r"^PAGE_FRAG_CACHE_")


@dataclass(frozen=True)
class Item:
    """One extracted definition.

    Attributes
    ----------
    kind : str
        ``macro``, ``struct`` or ``function``.
    name : str
    path : str
        The file it came from.
    text : str
        Its source text.
    prototype : str
        For functions, the declaration (text before the body) + ``;``.
    fields : tuple of str
        For structs, the member names.
    static : bool
        For functions, declared ``static``.
    """

    kind: str
    name: str
    path: str
    text: str
    prototype: str = ""
    fields: tuple = ()
    static: bool = False


@dataclass
class Extracted:
    """Everything picked from a set of files, first definition wins."""

    macros: dict = field(default_factory=dict)
    structs: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)

    def add(self, item: Item) -> None:
        table = {"macro": self.macros, "struct": self.structs,
                 "function": self.functions}[item.kind]
        table.setdefault(item.name, item)


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_c
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_c.language()))


def _declarator_name(node) -> str | None:
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return node.text.decode()
        nxt = node.child_by_field_name("declarator")
        if nxt is None:
            # e.g. a parenthesized declarator
            nxt = next((c for c in node.named_children
                        if c.type.endswith("declarator") or c.type == "identifier"), None)
        node = nxt
    return None


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def extract(path: str, text: str, into: Extracted | None = None, *,
            functions: re.Pattern = FUNCTION_NAME, macros: re.Pattern = MACRO_NAME,
            structs: tuple = STRUCT_NAMES) -> Extracted:
    """Parse ``text`` (the file ``path``) and add its items to ``into``:
    the functions, macros and structs whose names match (default: page_frag's)."""
    out = into if into is not None else Extracted()
    src = text.encode()
    tree = _parser().parse(src)
    for n in _walk(tree.root_node):
        if n.type == "preproc_def":
            name = n.child_by_field_name("name").text.decode()
            if macros.search(name):
                out.add(Item("macro", name, path, src[n.start_byte:n.end_byte]
                             .decode().rstrip() + "\n"))
        elif n.type == "struct_specifier":
            tag = n.child_by_field_name("name")
            body = n.child_by_field_name("body")
            if tag is None or body is None or tag.text.decode() not in structs:
                continue
            fields = tuple(c.text.decode() for c in _walk(body)
                           if c.type == "field_identifier")
            out.add(Item("struct", tag.text.decode(), path,
                         src[n.start_byte:n.end_byte].decode() + ";\n", fields=fields))
        elif n.type == "function_definition":
            name = _declarator_name(n.child_by_field_name("declarator"))
            if not name or not functions.search(name):
                continue
            body = n.child_by_field_name("body")
            head = src[n.start_byte:body.start_byte].decode().rstrip()
            static = any(c.type == "storage_class_specifier" and c.text == b"static"
                         for c in n.children)
            out.add(Item("function", name, path, src[n.start_byte:n.end_byte].decode()
                         + "\n", prototype=head + ";\n", static=static))
    return out
