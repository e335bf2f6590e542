// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_order0.c - baseline: one order-0 page per fragment, alloc_page()
 * and put_page(), no cache at all.  This is the misuse the maintainers
 * warned about when drivers skipped page_frag (every fragment a trip to
 * the page allocator, 4 KiB of truesize for a 64-byte head); here it
 * measures what the page_frag designs save.
 *
 * Requests above PAGE_SIZE return NULL.  Every alignment up to PAGE_SIZE
 * holds because a fragment is a whole page.
 */
#include "frag.h"

/* Nothing to keep between calls: the page allocator is the cache. */
struct order0_cache {
};
_Static_assert(sizeof(struct order0_cache) == 0, "stateless");

void order0_init(void *cache)
{
	(void)cache;
}

void *order0_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page *page;

	(void)align_mask;	/* page aligned: every align <= PAGE_SIZE */
	if (unlikely(fragsz > PAGE_SIZE))
		goto fail;
	page = alloc_page(GFP_ATOMIC);
	if (unlikely(!page))
		goto fail;
	FRAG_STAT_INC(cache, refills);
	FRAG_STAT_INC(cache, allocs);
	FRAG_STAT_ADD(cache, bytes_requested, fragsz);
	FRAG_STAT_ADD(cache, bytes_consumed, PAGE_SIZE);
	return page_address(page);
fail:
	FRAG_STAT_INC(cache, alloc_failures);
	return NULL;
}

void order0_free(void *addr)
{
	put_page(virt_to_head_page(addr));
}

void order0_drain(void *cache)
{
	(void)cache;	/* the cache holds no page */
}

const struct frag_ops frag_ops_order0 = {
	.name		= "order0",
	.mirrors	= "baseline: alloc_page()/put_page() per fragment, the "
			  "misuse page_frag exists to avoid",
	.struct_size	= sizeof(struct order0_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES,
	.max_frag	= 0,	/* up to a page */
	.init		= order0_init,
	.alloc		= order0_alloc,
	.free		= order0_free,
	.drain		= order0_drain,
	.inspect	= frag_inspect_no_page,
};
