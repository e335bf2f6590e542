// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_slicer1k.c - the napi small-head slicer of Linux v6.9,
 * net/core/skbuff.c: struct page_frag_1k and page_frag_alloc_1k(), used by
 * __napi_alloc_skb() for heads of at most SKB_WITH_OVERHEAD(1024) bytes
 * when PAGE_SIZE is 4 KiB (NAPI_HAS_SMALL_PAGE_FRAG).  Reverted by Paolo
 * Abeni in Feb 2025 after a virtio_net small-UDP regression with the page
 * allocator as the bottleneck.
 *
 * An order-0 page cut top-down into four 1 KiB slices.  There is no bias
 * and no reuse: a new page gets page_ref_add(page, 3) so that, with the
 * reference alloc_pages() gave, each of the four slices owns exactly one;
 * once the last slice is out the page belongs to its slices alone, and the
 * cache just takes another page.  So every fourth allocation calls the page
 * allocator: the cost the revert was about.
 *
 * As an allocator for the common interface: every fragment is a 1 KiB
 * slice; a request above 1 KiB, or an alignment above 1 KiB, returns NULL
 * (the napi caller never routes one here).  Alignments up to 1 KiB hold
 * trivially, slices being 1 KiB apart in a page-aligned page.  The kernel
 * never drains this per-CPU cache; drain here returns the references of
 * the slices not yet handed out.
 */
#include "frag.h"
#include "page_frag.h"

#define SZ_1K	1024u

_Static_assert(PAGE_SIZE % SZ_1K == 0 && PAGE_SIZE / SZ_1K == 4,
	       "NAPI_HAS_SMALL_PAGE_FRAG: four slices per 4 KiB page");

/* v6.9 layout, 64-bit: 8 + 2 + 1, padded to 16. */
struct page_frag_1k {
	void *va;		/* current page; NULL before the first */
	uint16_t offset;	/* last slice handed out; counts down */
	bool pfmemalloc;	/* copied to skb->pfmemalloc by the caller */
};
_Static_assert(sizeof(struct page_frag_1k) == 16, "v6.9 struct is 16 B");
_Static_assert(sizeof(struct page_frag_1k) <= FRAG_CACHE_STORAGE,
	       "fits the box");
/* offset is u16 and starts at PAGE_SIZE - 1K. */
_Static_assert(PAGE_SIZE - SZ_1K <= UINT16_MAX, "u16 offset");

void slicer1k_init(void *cache)
{
	struct page_frag_1k *nc = cache;

	nc->va = NULL;
	nc->offset = 0;		/* 0 - 1K < 0: the first call takes a page */
	nc->pfmemalloc = false;
}

void *slicer1k_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page_frag_1k *nc = cache;
	struct page *page;
	int offset;

	/* ~align_mask is align - 1: anything above 1 KiB is not ours. */
	if (unlikely(fragsz > SZ_1K || ~align_mask >= SZ_1K)) {
		FRAG_STAT_INC(nc, alloc_failures);
		return NULL;
	}

	offset = nc->offset - SZ_1K;
	if (likely(offset >= 0))
		goto use_frag;

	/* alloc_pages_node(NUMA_NO_NODE, gfp, 0) */
	page = alloc_pages(GFP_ATOMIC, 0);
	if (!page) {
		FRAG_STAT_INC(nc, alloc_failures);
		return NULL;
	}
	FRAG_STAT_INC(nc, refills);
	nc->va = page_address(page);
	nc->pfmemalloc = page_is_pfmemalloc(page);
	offset = PAGE_SIZE - SZ_1K;
	/* One reference per slice: alloc_pages() gave the first. */
	page_ref_add(page, offset / SZ_1K);

use_frag:
	nc->offset = offset;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	FRAG_STAT_ADD(nc, bytes_consumed, SZ_1K);
	return (char *)nc->va + offset;
}

/* skb_free_frag() -> page_frag_free(): one atomic on the head page. */
void slicer1k_free(void *addr)
{
	page_frag_free(addr);
}

void slicer1k_drain(void *cache)
{
	struct page_frag_1k *nc = cache;
	unsigned int unused;
	struct page *page;

	if (!nc->va)
		return;
	/* Slices below the offset were never handed out: their references. */
	unused = nc->offset / SZ_1K;
	page = virt_to_page(nc->va);
	if (unused && page_ref_sub_and_test(page, unused))
		free_unref_page(page, 0);
	nc->va = NULL;
	nc->offset = 0;
}

static void slicer1k_inspect(const void *cache, struct frag_state *st)
{
	const struct page_frag_1k *nc = cache;

	st->va = nc->va;
	st->offset = nc->offset;
	st->size = nc->va ? PAGE_SIZE : 0;
	/* The bias equivalent: references still held for unsliced space. */
	st->bias = nc->va ? nc->offset / SZ_1K : 0;
	st->pfmemalloc = nc->pfmemalloc;
	st->order = 0;
}

const struct frag_ops frag_ops_slicer1k = {
	.name		= "slicer1k",
	.mirrors	= "Linux v6.9 net/core/skbuff.c page_frag_alloc_1k() "
			  "(napi small heads; reverted Feb 2025): order-0 page, "
			  "four 1 KiB slices top-down, one reference each",
	.struct_size	= sizeof(struct page_frag_1k),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES,
	.max_frag	= 1024,	/* a 1 KiB slice: NULL above */
	.init		= slicer1k_init,
	.alloc		= slicer1k_alloc,
	.free		= slicer1k_free,
	.drain		= slicer1k_drain,
	.inspect	= slicer1k_inspect,
};
