// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_bottomup.c - page_frag_cache after "mm: page_frag: use initial
 * zero offset for page_frag_alloc_align()" (8218f62c9c9b, Yunsheng Lin,
 * reviewed by Alexander Duyck; merged for 6.13), with the old 24-byte
 * struct still in place (before 0c3ce2f50261 encoded the page).
 *
 * The offset counts UP from 0, so consecutive fragments are contiguous
 * (what tcp_sendmsg-style coalescing needs).  The price Duyck named: the
 * fast path must load both offset and size and compare them, and
 * alignment rounds up (add, then AND) instead of a single AND.
 *
 * Also the Part-2 prepare/commit pair (RFC 2024-10-28, v1 2024-11-14,
 * v2 2024-12-06; not merged), which only a count-up offset allows: the
 * caller sees how much room is left and commits what it used, with a
 * reference (new fragment) or without (merged into the previous one).
 */
#include <errno.h>

#include "frag.h"
#include "page_frag.h"

struct page_frag_cache {
	void *va;
	uint16_t offset;		/* first free byte; counts up */
	uint16_t size;			/* 32768 or 4096 (after a fallback) */
	unsigned int pagecnt_bias;	/* references we still hold */
	bool pfmemalloc;		/* page from reserves: never reuse */
};
_Static_assert(sizeof(struct page_frag_cache) == 24, "old struct is 24 B");
_Static_assert(sizeof(struct page_frag_cache) <= FRAG_CACHE_STORAGE,
	       "fits the box");

static noinline struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
						      gfp_t gfp_mask)
{
	struct page *page;
	gfp_t gfp = gfp_mask;

	gfp_mask = (gfp_mask & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP |
		   __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	page = alloc_pages(gfp_mask, PAGE_FRAG_CACHE_MAX_ORDER);
	nc->size = page ? PAGE_FRAG_CACHE_MAX_SIZE : PAGE_SIZE;
	if (unlikely(!page)) {
		FRAG_STAT_INC(nc, high_order_fallbacks);
		page = alloc_pages(gfp, 0);
	}
	nc->va = page ? page_address(page) : NULL;
	return page;
}

void bottomup_init(void *cache)
{
	struct page_frag_cache *nc = cache;

	nc->va = NULL;
	nc->offset = 0;
	nc->size = 0;
	nc->pagecnt_bias = 0;
	nc->pfmemalloc = false;
}

void *bottomup_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page_frag_cache *nc = cache;
	unsigned int size, offset;
	struct page *page;

	if (unlikely(!nc->va)) {
refill:
		page = __page_frag_cache_refill(nc, GFP_ATOMIC);
		if (!page) {
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}
		FRAG_STAT_INC(nc, refills);
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pfmemalloc = page_is_pfmemalloc(page);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
	}

	/* The size can vary (order-0 fallback): read it every time. */
	size = nc->size;
	offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
	if (unlikely(offset + fragsz > size)) {
		if (unlikely(fragsz > PAGE_SIZE)) {
			/*
			 * The caller asks for more than a page and the cache
			 * cannot serve it now.  Keep the page rather than add to
			 * memory pressure.
			 */
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}

		page = virt_to_page(nc->va);
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
			FRAG_STAT_INC(nc, pages_abandoned);
			goto refill;
		}
		if (unlikely(nc->pfmemalloc)) {
			free_unref_page(page, compound_order(page));
			goto refill;
		}
		/* Every fragment is gone, so the count is 0: a plain set is safe. */
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		FRAG_STAT_INC(nc, reuses);
		offset = 0;
	}

	nc->pagecnt_bias--;
	FRAG_STAT_ADD(nc, bytes_consumed, offset + fragsz -
		      (offset ? nc->offset : 0));
	nc->offset = offset + fragsz;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	return (char *)nc->va + offset;
}

void bottomup_free(void *addr)
{
	page_frag_free(addr);
}

void bottomup_drain(void *cache)
{
	struct page_frag_cache *nc = cache;

	if (!nc->va)
		return;
	__page_frag_cache_drain(virt_to_head_page(nc->va), nc->pagecnt_bias);
	nc->va = NULL;
}

/* ---- Part-2 (not merged): prepare/commit ---- */

/*
 * The slow half of prepare: make room for @fragsz the way alloc does
 * (recycle the page if every fragment is gone and it is not pfmemalloc,
 * else abandon it and refill), but consume nothing.
 */
static noinline int __page_frag_cache_reload(struct page_frag_cache *nc,
					     unsigned int fragsz)
{
	struct page *page;

	if (nc->va) {
		/* As alloc: never drop the page for a request it cannot take. */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		page = virt_to_page(nc->va);
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
			FRAG_STAT_INC(nc, pages_abandoned);
		} else if (nc->pfmemalloc) {
			free_unref_page(page, compound_order(page));
		} else {
			/* Every fragment is gone: recycle it in place. */
			set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
			nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
			nc->offset = 0;
			FRAG_STAT_INC(nc, reuses);
			return 0;
		}
	}

	page = __page_frag_cache_refill(nc, GFP_ATOMIC);
	if (!page)
		goto fail;
	FRAG_STAT_INC(nc, refills);
	page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
	nc->pfmemalloc = page_is_pfmemalloc(page);
	nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
	nc->offset = 0;
	/* A fresh order-0 page can still be too small: keep it, fail. */
	if (fragsz > nc->size)
		goto fail;
	return 0;
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return -ENOMEM;
}

int bottomup_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		     struct frag_prepared *pf)
{
	struct page_frag_cache *nc = cache;
	unsigned int offset = 0;

	if (likely(nc->va)) {
		offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
		if (likely(offset + fragsz <= nc->size))
			goto found;
	}
	if (__page_frag_cache_reload(nc, fragsz))
		return -ENOMEM;
	offset = 0;
found:
	pf->va = (char *)nc->va + offset;
	pf->offset = offset;
	pf->size = nc->size - offset;
	return 0;
}

void *bottomup_commit(void *cache, const struct frag_prepared *pf,
		      unsigned int used, bool ref)
{
	struct page_frag_cache *nc = cache;

	/* A commit must follow its prepare: same page, inside what it found. */
	FRAG_BUG_ON(used > pf->size || pf->offset < nc->offset ||
		    nc->va != (char *)pf->va - pf->offset,
		    virt_to_page(nc->va), "commit without a matching prepare");
	if (ref) {
		nc->pagecnt_bias--;
		FRAG_STAT_INC(nc, allocs);
	} else {
		FRAG_STAT_INC(nc, commits_noref);
	}
	FRAG_STAT_ADD(nc, bytes_requested, used);
	FRAG_STAT_ADD(nc, bytes_consumed, pf->offset + used - nc->offset);
	nc->offset = pf->offset + used;
	return pf->va;
}

static void bottomup_inspect(const void *cache, struct frag_state *st)
{
	const struct page_frag_cache *nc = cache;

	st->va = nc->va;
	st->offset = nc->offset;
	st->size = nc->va ? nc->size : 0;
	st->bias = nc->pagecnt_bias;
	st->pfmemalloc = nc->pfmemalloc;
	st->order = nc->va ? compound_order(virt_to_head_page(nc->va)) : 0;
}

const struct frag_ops frag_ops_bottomup = {
	.name		= "bottomup",
	.mirrors	= "8218f62c9c9b \"mm: page_frag: use initial zero offset "
			  "for page_frag_alloc_align()\" (6.13 series), 24-byte struct",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= bottomup_init,
	.alloc		= bottomup_alloc,
	.free		= bottomup_free,
	.drain		= bottomup_drain,
	.inspect	= bottomup_inspect,
	.prepare	= bottomup_prepare,
	.commit		= bottomup_commit,
};
