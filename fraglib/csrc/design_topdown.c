// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_topdown.c - page_frag_cache as in Linux v6.9, mm/page_alloc.c
 * (__page_frag_cache_refill, __page_frag_alloc_align, page_frag_free),
 * including 4bc0d63a2395 (no direct reclaim for the order-3 attempt) and
 * 411c5f36805c (align_mask split), both merged for v6.9.
 *
 * The offset counts DOWN from the end of the page: the fast path is one
 * subtraction and a sign test, and alignment is a single AND that rounds
 * the address down.  The cache holds MAX_SIZE+1 references up front
 * (pagecnt_bias) and hands one to each fragment without touching the
 * shared refcount; page_frag_free() drops one with an atomic on the head
 * page.
 */
#include "frag.h"
#include "page_frag.h"

/* 64-bit, 4 KiB pages: 8 + 2 + 2 + 4 + 1, padded to 24 (v6.9 layout). */
struct page_frag_cache {
	void *va;
	uint16_t offset;		/* next fragment ends here; counts down */
	uint16_t size;			/* 32768 or 4096 (after a fallback) */
	unsigned int pagecnt_bias;	/* references we still hold */
	bool pfmemalloc;		/* page from reserves: never reuse */
};
_Static_assert(sizeof(struct page_frag_cache) == 24, "v6.9 struct is 24 B");
_Static_assert(sizeof(struct page_frag_cache) <= FRAG_CACHE_STORAGE,
	       "fits the box");
/* offset and size are u16: MAX_SIZE must fit. */
_Static_assert(PAGE_FRAG_CACHE_MAX_SIZE <= UINT16_MAX + 1u, "u16 offset");

static noinline struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
						      gfp_t gfp_mask)
{
	struct page *page;
	gfp_t gfp = gfp_mask;

	/* Order 3 opportunistically: no reclaim, no retry, no reserves. */
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

void topdown_init(void *cache)
{
	struct page_frag_cache *nc = cache;

	nc->va = NULL;
	nc->offset = 0;
	nc->size = 0;
	nc->pagecnt_bias = 0;
	nc->pfmemalloc = false;
}

void *topdown_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page_frag_cache *nc = cache;
	unsigned int size = PAGE_SIZE;
	struct page *page;
	unsigned int prev = nc->offset;	/* stats only; dead otherwise */
	int offset;

	if (unlikely(!nc->va)) {
refill:
		page = __page_frag_cache_refill(nc, GFP_ATOMIC);
		if (!page) {
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}
		FRAG_STAT_INC(nc, refills);
		/* The size can vary (order-0 fallback): use what we got. */
		size = nc->size;
		/* Not atomic_set: get_page_unless_zero() users may race. */
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pfmemalloc = page_is_pfmemalloc(page);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = size;
		prev = size;
	}

	offset = nc->offset - fragsz;
	if (unlikely(offset < 0)) {
		page = virt_to_page(nc->va);

		/* Give back the references no fragment took, in one atomic. */
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
			FRAG_STAT_INC(nc, pages_abandoned);
			goto refill;
		}
		if (unlikely(nc->pfmemalloc)) {
			free_unref_page(page, compound_order(page));
			goto refill;
		}
		size = nc->size;
		/* Every fragment is gone, so the count is 0: a plain set is safe. */
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		FRAG_STAT_INC(nc, reuses);
		prev = size;
		offset = size - fragsz;
		if (unlikely(offset < 0)) {
			/*
			 * fragsz > PAGE_SIZE after an order-0 fallback.  Keep the
			 * page: releasing it could make memory pressure worse.
			 */
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}
	}

	nc->pagecnt_bias--;
	FRAG_STAT_ADD(nc, bytes_consumed, prev - (offset & align_mask));
	offset &= align_mask;
	nc->offset = offset;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	return (char *)nc->va + offset;
}

void topdown_free(void *addr)
{
	page_frag_free(addr);
}

void topdown_drain(void *cache)
{
	struct page_frag_cache *nc = cache;

	if (!nc->va)
		return;
	__page_frag_cache_drain(virt_to_head_page(nc->va), nc->pagecnt_bias);
	nc->va = NULL;
}

static void topdown_inspect(const void *cache, struct frag_state *st)
{
	const struct page_frag_cache *nc = cache;

	st->va = nc->va;
	st->offset = nc->offset;
	st->size = nc->va ? nc->size : 0;
	st->bias = nc->pagecnt_bias;
	st->pfmemalloc = nc->pfmemalloc;
	st->order = nc->va ? compound_order(virt_to_head_page(nc->va)) : 0;
}

const struct frag_ops frag_ops_topdown = {
	.name		= "topdown",
	.mirrors	= "Linux v6.9 mm/page_alloc.c page_frag_cache "
			  "(top-down offset, pagecnt_bias = MAX_SIZE+1)",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER,
	.max_frag	= 0,	/* up to a page */
	.init		= topdown_init,
	.alloc		= topdown_alloc,
	.free		= topdown_free,
	.drain		= topdown_drain,
	.inspect	= topdown_inspect,
};
