/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * page_frag_613.h - Linux 6.13's page_frag_cache around its alloc path:
 * struct page_frag_cache (include/linux/mm_types_task.h after 0c3ce2f50261
 * "mm: page_frag: reuse existing space for 'size' and 'pfmemalloc'"),
 * __page_frag_cache_refill() and page_frag_cache_drain() from
 * mm/page_frag_cache.c, and fraglib's init and inspect for that struct.
 *
 * Shared by design_encoded.c (6.13 as merged) and design_part2.c (Yunsheng
 * Lin's Part-2 v2 01/10 on top of it): the patch leaves all of this as it
 * is and reshapes only __page_frag_alloc_align(), so each of those files
 * keeps its own alloc path (and prepare/commit) and nothing else.
 *
 * Every function here is __always_inline, and each design wraps it in a
 * function of its own file (the refill as a noinline
 * __page_frag_cache_refill(), the kernel's name, which its alloc path
 * calls): fraglib.codesize counts only what design_<name>.c defines, and
 * the generated code is what it was when each file had its own copy.
 */
#ifndef FRAG_PAGE_FRAG_613_H
#define FRAG_PAGE_FRAG_613_H

#include "frag.h"
#include "page_frag.h"
#include "page_frag_encoded.h"

/* 64-bit: 8 + 4 + 4 = 16, no padding (mm_types_task.h after Part-1). */
struct page_frag_cache {
	unsigned long encoded_page;	/* va | order | pfmemalloc; 0 = empty */
	uint32_t offset;		/* first free byte; counts up */
	uint32_t pagecnt_bias;		/* references we still hold */
};
_Static_assert(sizeof(struct page_frag_cache) == 16,
	       "6.13 struct is 16 B, the size of struct page_frag");
_Static_assert(sizeof(struct page_frag_cache) <= FRAG_CACHE_STORAGE,
	       "fits the box");

/* The body of 6.13's __page_frag_cache_refill(). */
static __always_inline struct page *
__page_frag_cache_refill_inline(struct page_frag_cache *nc, gfp_t gfp_mask)
{
	unsigned int order;
	struct page *page = page_frag_cache_alloc_pages(nc, gfp_mask, &order);

	/* 0 on failure: the cache reads as empty, never as a stale page. */
	nc->encoded_page = page ?
		encoded_page_create(page, order, page_is_pfmemalloc(page)) : 0;
	return page;
}

static __always_inline void page_frag_cache_init(struct page_frag_cache *nc)
{
	/* Only encoded_page matters: a refill writes the other two. */
	nc->encoded_page = 0;
	nc->offset = 0;
	nc->pagecnt_bias = 0;
}

static __always_inline void page_frag_cache_drain(struct page_frag_cache *nc)
{
	if (!nc->encoded_page)
		return;
	__page_frag_cache_drain(encoded_page_decode_page(nc->encoded_page),
				nc->pagecnt_bias);
	nc->encoded_page = 0;
}

static __always_inline void
page_frag_cache_inspect(const struct page_frag_cache *nc, struct frag_state *st)
{
	unsigned long encoded_page = nc->encoded_page;

	st->va = encoded_page ? encoded_page_decode_virt(encoded_page) : NULL;
	st->offset = nc->offset;
	st->order = encoded_page_decode_order(encoded_page);
	st->size = encoded_page ? PAGE_SIZE << st->order : 0;
	st->bias = nc->pagecnt_bias;
	st->pfmemalloc = encoded_page_decode_pfmemalloc(encoded_page);
}

#endif /* FRAG_PAGE_FRAG_613_H */
