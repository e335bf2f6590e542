"""page_frag API generations: how each one plugs into the ops table.

A generation is recognised by the members of ``struct page_frag_cache``
and the functions the revision defines; it owns the adapter (C text) that
maps the ops table onto that revision's API, and the ops-table entries
and capabilities that adapter provides. Generations the shim does not
know are refused (UnknownGenerationError), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Generation", "GENERATIONS", "detect"]

_COMMON = """
/* ---- adapter: generation {gen} ---- */
void {cid}_init(void *cache)
{{
	/* page_frag_cache_init() of every generation: all fields zero. */
	memset(cache, 0, sizeof(struct {struct}));
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

#: the Part-2 pair: the ops table's prepare/commit onto the revision's own.
_PREPARE = """
/*
 * prepare: the revision's prepare fills a struct page_frag {{page, offset,
 * size - offset}} and consumes nothing; the ops table wants the address
 * and the room, so the adapter copies them out (as part2_prepare() does).
 */
int {cid}_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		  struct frag_prepared *pf)
{{
	struct page_frag pfrag;
	void *va;

	va = {prepare}(cache, fragsz, &pfrag, GFP_ATOMIC, align_mask);
	if (unlikely(!va))
		return -ENOMEM;
	pf->va = va;
	pf->offset = pfrag.offset;
	pf->size = pfrag.size;
	return 0;
}}

/*
 * commit: rebuild the struct page_frag the revision's commit checks
 * against its cache (the head page of the fragment's page), then commit
 * with a reference (a new fragment) or without (coalesced into the last).
 */
void *{cid}_commit(void *cache, const struct frag_prepared *pf,
		   unsigned int used, bool ref)
{{
	struct page_frag pfrag = {{
		.page	= virt_to_page((char *)pf->va - pf->offset),
		.offset	= pf->offset,
		.size	= pf->size,
	}};

	if (ref)
		{commit}(cache, &pfrag, used);
	else
		{commit_noref}(cache, &pfrag, used);
	return pf->va;
}}
"""

#: net/core/sock.c's refill on a struct page_frag, used as
#: tcp_sendmsg_locked() uses it (the built-in sockfrag's adapter).
_SOCK = """
/* ---- adapter: generation {gen} ---- */
void {cid}_init(void *cache)
{{
	/* a socket's task_frag / sk_frag starts empty */
	memset(cache, 0, sizeof(struct {struct}));
}}

/*
 * alloc: find room the way tcp_sendmsg_locked() does, take one page
 * reference for the new skb fragment, advance.  The refill is asked for
 * the bytes plus the alignment padding, so its "fits" answer holds; it
 * never checks a fresh page against the size (tcp clamps its copy), so a
 * whole fragment that does not fit is refused here, keeping the page.
 */
void *{cid}_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{{
	struct page_frag *pfrag = cache;
	unsigned int offset, pad;

	pad = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask) - pfrag->offset;
	if (unlikely(!{entry}(fragsz + pad, pfrag, GFP_ATOMIC)))
		return NULL;
	/* the refill may have rewound or replaced the page: realign */
	offset = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask);
	if (unlikely(offset + fragsz > pfrag->size))
		return NULL;
	page_ref_inc(pfrag->page);
	pfrag->offset = offset + fragsz;
	return (char *)page_address(pfrag->page) + offset;
}}

/* skb_frag_unref(): the fragment's own reference */
void {cid}_free(void *addr)
{{
	put_page(virt_to_head_page(addr));
}}

/* sk_destruct(): the socket's own reference */
void {cid}_drain(void *cache)
{{
	struct page_frag *pfrag = cache;

	if (!pfrag->page)
		return;
	put_page(pfrag->page);
	pfrag->page = NULL;
	pfrag->offset = 0;
}}

int {cid}_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		  struct frag_prepared *pf)
{{
	struct page_frag *pfrag = cache;
	unsigned int offset, pad;

	/* the same room as alloc, looked at and not consumed */
	pad = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask) - pfrag->offset;
	if (unlikely(!{entry}(fragsz + pad, pfrag, GFP_ATOMIC)))
		return -ENOMEM;
	offset = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask);
	if (unlikely(offset + fragsz > pfrag->size))
		return -ENOMEM;
	pf->va = (char *)page_address(pfrag->page) + offset;
	pf->offset = offset;
	pf->size = pfrag->size - offset;
	return 0;
}}

/* a new fragment takes a reference; coalescing into the last one does not */
void *{cid}_commit(void *cache, const struct frag_prepared *pf,
		   unsigned int used, bool ref)
{{
	struct page_frag *pfrag = cache;

	if (ref)
		page_ref_inc(pfrag->page);
	pfrag->offset = pf->offset + used;
	return pf->va;
}}
"""

#: the inspect of every encoded-page generation.
_INSPECT_ENCODED = (
    "\tunsigned long ep = nc->encoded_page;\n"
    "\tvoid *va = (void *)(ep & PAGE_MASK);\n\n"
    "\tst->va = ep ? va : NULL;\n"
    "\tst->offset = nc->offset;\n"
    "\tst->order = ep ? compound_order(virt_to_head_page(va)) : 0;\n"
    "\tst->size = ep ? PAGE_SIZE << st->order : 0;\n"
    "\tst->bias = nc->pagecnt_bias;\n"
    "\tst->pfmemalloc = ep ? page_is_pfmemalloc(virt_to_head_page(va)) : false;\n")


@dataclass(frozen=True)
class Generation:
    """One page_frag API generation.

    Attributes
    ----------
    name : str
        Registry key, recorded in provenance.
    kernels : str
        The releases (or series) that have it.
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
    marks : tuple of str
        Functions whose presence tells this generation from an older one
        with the same struct (Part-2's ``__page_frag_cache_prepare``).
    prepare, commit, commit_noref : tuple of str
        For a generation with the Part-2 API: the revision's prepare
        ``(nc, fragsz, pfrag, gfp, align_mask) -> va`` and commits
        ``(nc, pfrag, used_sz)``, with and without a reference; the first
        one the revision defines is used (the series renamed its public
        wrappers between revisions; the ``__page_frag_cache_*`` core stayed).
        Empty: the generation has no prepare/commit.
    source_set : str
        Where it is read from (:mod:`fraglib.kernel.sourcesets`).
    cache_struct : str
        The struct the cache is (the box holds one).
    template : str
        The adapter's C text (``{cid}``, ``{entry}``, ``{struct}``, ``{gen}``).
    own_prepare : bool
        The template itself defines prepare/commit (the caller's split).
    adapter_is_caller : bool
        The adapter plays the revision's caller in another translation
        unit (tcp_sendmsg_locked() calling sock.c), so the exported
        functions it calls stay real calls; otherwise the adapter's entry
        points stand for the exported functions themselves and have them
        inlined (see :func:`inlined`).
    """

    name: str
    kernels: str
    builtin: str
    fields: frozenset
    entries: tuple
    required: tuple
    inspect: str
    marks: tuple = ()
    prepare: tuple = ()
    commit: tuple = ()
    commit_noref: tuple = ()
    source_set: str = "page_frag"
    cache_struct: str = "page_frag_cache"
    template: str = _COMMON
    own_prepare: bool = False
    adapter_is_caller: bool = False

    @staticmethod
    def _first(names, functions) -> str | None:
        return next((e for e in names if e in functions), None)

    def entry(self, functions) -> str | None:
        return self._first(self.entries, functions)

    @property
    def has_prepare(self) -> bool:
        return bool(self.prepare) or self.own_prepare

    def matches(self, structs, functions) -> bool:
        """``structs``: struct tag -> its member names, as extracted."""
        return (self.fields <= set(structs.get(self.cache_struct, ()))
                and self.entry(functions) is not None
                and all(m in functions for m in self.marks))

    def missing(self, functions) -> str | None:
        """The first function the adapter needs that ``functions`` lacks."""
        for fn in self.required:
            if fn not in functions:
                return fn
        for names in (self.prepare, self.commit, self.commit_noref):
            if names and self._first(names, functions) is None:
                return names[-1]
        return None

    def calls(self, functions) -> dict:
        """The revision's functions the adapter calls, by role."""
        out = {"entry": self.entry(functions)}
        if self.prepare:
            out.update(prepare=self._first(self.prepare, functions),
                       commit=self._first(self.commit, functions),
                       commit_noref=self._first(self.commit_noref, functions))
        return out

    def inlined(self, functions) -> set:
        """The revision's exported functions the adapter's entry points stand
        for (alloc, free, drain): inlined into them, as the engine calls the
        entry points across translation units (the call the kernel's caller
        makes). Part-2's prepare and commit are not among them: the kernel's
        callers reach them through inline wrappers of their own, so the
        adapter's prepare/commit play those wrappers and the exported
        functions stay real calls (as in the built-in part2)."""
        if self.adapter_is_caller:
            return set()
        return {self.entry(functions)} | set(self.required)

    def adapter(self, cid: str, functions) -> str:
        calls = self.calls(functions)
        text = self.template.format(gen=self.name, cid=cid, entry=calls["entry"],
                                    struct=self.cache_struct)
        if self.prepare:
            text += _PREPARE.format(cid=cid, prepare=calls["prepare"],
                                    commit=calls["commit"],
                                    commit_noref=calls["commit_noref"])
        return (text + f"\nstatic void {cid}_inspect(const void *cache, struct frag_state *st)\n"
                + f"{{\n\tconst struct {self.cache_struct} *nc = cache;\n\n"
                + self.inspect + "}\n")

    def caps(self) -> str:
        """The ops table's ``.caps`` expression."""
        caps = "FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER"
        return caps + (" | FRAG_CAP_PREPARE" if self.has_prepare else "")

    def ops_entries(self, cid: str) -> str:
        """Ops-table lines beyond init/alloc/free/drain/inspect."""
        if not self.has_prepare:
            return ""
        return f"\t.prepare\t= {cid}_prepare,\n\t.commit\t\t= {cid}_commit,\n"


#: every generation, newest first: the first that matches is taken.
GENERATIONS = (
    Generation(
        "part2", "the page_frag series' prepare/commit API (Yunsheng Lin, "
        "\"mm: page_frag: some minor refactoring before adding new API\" and "
        "later revisions, 2024-2025): 6.13's encoded cache with "
        "__page_frag_cache_prepare + __page_frag_cache_commit(_noref)",
        "part2", frozenset({"encoded_page", "offset", "pagecnt_bias"}),
        ("__page_frag_alloc_align",), ("page_frag_free", "page_frag_cache_drain"),
        _INSPECT_ENCODED, marks=("__page_frag_cache_prepare",),
        prepare=("__page_frag_alloc_refill_prepare_align", "__page_frag_cache_prepare"),
        commit=("page_frag_commit", "page_frag_refill_commit", "__page_frag_cache_commit"),
        commit_noref=("page_frag_commit_noref", "page_frag_refill_commit_noref",
                      "__page_frag_cache_commit_noref")),
    Generation(
        "encoded", "6.13 and later (mm/page_frag_cache.c, encoded page, bottom-up)",
        "encoded", frozenset({"encoded_page", "offset", "pagecnt_bias"}),
        ("__page_frag_alloc_align",), ("page_frag_free", "page_frag_cache_drain"),
        _INSPECT_ENCODED),
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
    Generation(
        "sock", "net/core/sock.c skb_page_frag_refill() on a struct page_frag "
        "(the Tx side; logic unchanged from 5.x to 6.x), used as "
        "tcp_sendmsg_locked() uses it", "sockfrag",
        frozenset({"page", "offset", "size"}), ("skb_page_frag_refill",), (),
        "\tst->va = nc->page ? page_address(nc->page) : NULL;\n"
        "\tst->offset = nc->offset;\n"
        "\tst->size = nc->page ? nc->size : 0;\n"
        "\t/* the bias equivalent: the one reference the socket holds */\n"
        "\tst->bias = nc->page ? 1 : 0;\n"
        "\tst->pfmemalloc = nc->page && page_is_pfmemalloc(nc->page);\n"
        "\tst->order = nc->page ? compound_order(nc->page) : 0;\n",
        source_set="sock", cache_struct="page_frag", template=_SOCK, own_prepare=True,
        adapter_is_caller=True),
)


def detect(structs, functions, source_set: str = "page_frag") -> Generation | None:
    """The generation of a revision read from ``source_set``, from its
    structs' members (tag -> names) and its functions."""
    return next((g for g in GENERATIONS
                 if g.source_set == source_set and g.matches(structs, functions)), None)
