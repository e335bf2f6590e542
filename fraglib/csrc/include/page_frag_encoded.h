/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * page_frag_encoded.h - the encoded page of include/linux/page_frag_cache.h
 * (Linux 6.13, 0c3ce2f50261 "mm: page_frag: reuse existing space for 'size'
 * and 'pfmemalloc'"), shared by every 16-byte design: design_encoded.c
 * (6.13 as merged) and the v9/v10 counters design_remaining.c and
 * design_negoffset.c.
 *
 * A page address is page aligned, so its low 12 bits are free: the order
 * goes in bits 0-7 and the pfmemalloc flag in bit 8.  The v10 series
 * spelled the same helpers encode_aligned_va() (taking page_address(page)),
 * encoded_page_order(), encoded_page_pfmemalloc() and
 * encoded_page_address(); the merged names are used here.
 */
#ifndef FRAG_PAGE_FRAG_ENCODED_H
#define FRAG_PAGE_FRAG_ENCODED_H

#include "frag.h"

/*
 * A whole byte for the order: the shift that rebuilds the size takes a
 * byte operand anyway, so a narrower field would save nothing.
 */
#define PAGE_FRAG_CACHE_ORDER_MASK	0xFFul		/* GENMASK(7, 0) */
#define PAGE_FRAG_CACHE_PFMEMALLOC_BIT	(PAGE_FRAG_CACHE_ORDER_MASK + 1)

/* The kernel's BUILD_BUG_ON()s in encoded_page_create(). */
_Static_assert(PAGE_FRAG_CACHE_MAX_ORDER <= PAGE_FRAG_CACHE_ORDER_MASK,
	       "the cache's order must fit the order bits");
_Static_assert(FRAG_MAX_ORDER <= PAGE_FRAG_CACHE_ORDER_MASK,
	       "any order the page model hands out must fit");
_Static_assert(PAGE_FRAG_CACHE_PFMEMALLOC_BIT < PAGE_SIZE,
	       "the flag must sit below the page-aligned address bits");

static inline unsigned long encoded_page_create(struct page *page,
						unsigned int order,
						bool pfmemalloc)
{
	return (unsigned long)page_address(page) |
	       (order & PAGE_FRAG_CACHE_ORDER_MASK) |
	       ((unsigned long)pfmemalloc * PAGE_FRAG_CACHE_PFMEMALLOC_BIT);
}

static inline unsigned long encoded_page_decode_order(unsigned long encoded)
{
	return encoded & PAGE_FRAG_CACHE_ORDER_MASK;
}

static inline void *encoded_page_decode_virt(unsigned long encoded)
{
	return (void *)(encoded & PAGE_MASK);
}

static inline bool encoded_page_decode_pfmemalloc(unsigned long encoded)
{
	return !!(encoded & PAGE_FRAG_CACHE_PFMEMALLOC_BIT);
}

/* virt_to_page() ignores the low bits, so no masking is needed. */
static inline struct page *encoded_page_decode_page(unsigned long encoded)
{
	return virt_to_page((void *)encoded);
}

/*
 * The page half of the refill, the same text in 6.13's
 * __page_frag_cache_refill() (page_frag_613.h) and in the series' v12/v13
 * one (page_frag_reload.h): order 3 opportunistically, without reclaim,
 * retries or reserves, then order 0 with the caller's flags.  *@order says
 * which one @page is; @nc only carries the fallback counter.  Always
 * inline: the code lands in each design's own refill.
 */
struct page_frag_cache;

static __always_inline struct page *
page_frag_cache_alloc_pages(struct page_frag_cache *nc, gfp_t gfp_mask,
			    unsigned int *order)
{
	struct page *page;
	gfp_t gfp = gfp_mask;

	*order = PAGE_FRAG_CACHE_MAX_ORDER;
	gfp_mask = (gfp_mask & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP |
		   __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	page = alloc_pages(gfp_mask, PAGE_FRAG_CACHE_MAX_ORDER);
	if (unlikely(!page)) {
		FRAG_STAT_INC(nc, high_order_fallbacks);
		page = alloc_pages(gfp, 0);
		*order = 0;
	}
	return page;
}

/*
 * The v10 series' size helper.  An empty cache (0) reads as order 0:
 * harmless, remaining is 0 too.
 */
static inline unsigned int page_frag_cache_page_size(unsigned long encoded)
{
	return PAGE_SIZE << encoded_page_decode_order(encoded);
}

#endif /* FRAG_PAGE_FRAG_ENCODED_H */
