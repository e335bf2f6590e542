"""page_frag API generations: how each one plugs into the ops table.

A generation is recognised by the members of ``struct page_frag_cache``
and the functions the revision defines; it owns the adapter (C text) that
maps the ops table onto that revision's API. Generations the shim does
not know are refused (UnknownGenerationError), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Generation", "GENERATIONS", "detect"]

_COMMON = """
/* ---- adapter: generation {gen} ---- */
void {cid}_init(void *cache)
{{
	/* page_frag_cache_init() of every generation: all fields zero. */
	memset(cache, 0, sizeof(struct page_frag_cache));
}}

void *{cid}_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{{
	return {entry}(cache, fragsz, GFP_ATOMIC, align_mask);
}}

void {cid}_free(void *addr)
{{
	page_frag_free(addr);
}}

void {cid}_drain(void *cache)
{{
	page_frag_cache_drain(cache);
}}
"""


@dataclass(frozen=True)
class Generation:
    """One page_frag API generation.

    Attributes
    ----------
    name : str
        Registry key, recorded in provenance.
    kernels : str
        The releases that have it.
    builtin : str
        The built-in design that re-implements it.
    fields : frozenset of str
        Members ``struct page_frag_cache`` must have.
    entries : tuple of str
        Allocation entry points taking ``(nc, fragsz, gfp, align_mask)``,
        the first one defined is used.
    required : tuple of str
        Functions the adapter calls besides the entry.
    inspect : str
        C body of ``inspect`` (``nc``, ``st`` in scope).
    """

    name: str
    kernels: str
    builtin: str
    fields: frozenset
    entries: tuple
    required: tuple
    inspect: str

    def entry(self, functions) -> str | None:
        return next((e for e in self.entries if e in functions), None)

    def matches(self, fields, functions) -> bool:
        return self.fields <= set(fields) and self.entry(functions) is not None

    def adapter(self, cid: str, entry: str) -> str:
        return (_COMMON.format(gen=self.name, cid=cid, entry=entry)
                + f"\nstatic void {cid}_inspect(const void *cache, struct frag_state *st)\n"
                + "{\n\tconst struct page_frag_cache *nc = cache;\n\n"
                + self.inspect + "}\n")


#: every generation, newest first.
GENERATIONS = (
    Generation(
        "encoded", "6.13 and later (mm/page_frag_cache.c, encoded page, bottom-up)",
        "encoded", frozenset({"encoded_page", "offset", "pagecnt_bias"}),
        ("__page_frag_alloc_align",), ("page_frag_free", "page_frag_cache_drain"),
        "\tunsigned long ep = nc->encoded_page;\n"
        "\tvoid *va = (void *)(ep & PAGE_MASK);\n\n"
        "\tst->va = ep ? va : NULL;\n"
        "\tst->offset = nc->offset;\n"
        "\tst->order = ep ? compound_order(virt_to_head_page(va)) : 0;\n"
        "\tst->size = ep ? PAGE_SIZE << st->order : 0;\n"
        "\tst->bias = nc->pagecnt_bias;\n"
        "\tst->pfmemalloc = ep ? page_is_pfmemalloc(virt_to_head_page(va)) : false;\n"),
    Generation(
        "va", "6.8 to 6.12 (struct with va, offset, size, pagecnt_bias, pfmemalloc)",
        "topdown", frozenset({"va", "offset", "pagecnt_bias", "pfmemalloc"}),
        ("__page_frag_alloc_align", "page_frag_alloc_align"),
        ("page_frag_free", "page_frag_cache_drain"),
        "\tst->va = nc->va;\n"
        "\tst->offset = nc->offset;\n"
        "\tst->order = nc->va ? compound_order(virt_to_head_page(nc->va)) : 0;\n"
        "\tst->size = nc->va ? PAGE_SIZE << st->order : 0;\n"
        "\tst->bias = nc->pagecnt_bias;\n"
        "\tst->pfmemalloc = nc->pfmemalloc;\n"),
)


def detect(fields, functions) -> Generation | None:
    """The generation of a revision, from its struct members and functions."""
    return next((g for g in GENERATIONS if g.matches(fields, functions)), None)
