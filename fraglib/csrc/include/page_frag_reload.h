/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * page_frag_reload.h - the refill and reuse halves of
 * __page_frag_cache_reload(), as Yunsheng Lin's page_frag series split that
 * slow path (v12/v13, mm/page_frag_cache.c), on the 6.13 encoded page.
 * Shared by the two counters compared on v10: design_remaining.c
 * ("option 2") and design_negoffset.c (Duyck's "option 1").  They differ
 * only in what __page_frag_cache_reload() resets the counter to, which
 * each file keeps.
 *
 * Include it after defining struct page_frag_cache with an
 * `unsigned long encoded_va` and a `pagecnt_bias`.  Both functions are
 * plain static, not noinline: each is inlined into the design's own
 * __page_frag_cache_reload(), so fraglib.codesize, which counts what
 * design_<name>.c defines, still counts them with the alloc path.
 */
#ifndef FRAG_PAGE_FRAG_RELOAD_H
#define FRAG_PAGE_FRAG_RELOAD_H

#include "page_frag.h"
#include "page_frag_encoded.h"

_Static_assert(sizeof(((struct page_frag_cache *)0)->encoded_va) ==
	       sizeof(unsigned long),
	       "define struct page_frag_cache (encoded_va) before this header");

static struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
					     gfp_t gfp_mask)
{
	unsigned int order;
	struct page *page = page_frag_cache_alloc_pages(nc, gfp_mask, &order);

	if (unlikely(!page)) {
		nc->encoded_va = 0;
		return NULL;
	}
	FRAG_STAT_INC(nc, refills);
	nc->encoded_va = encoded_page_create(page, order,
					     page_is_pfmemalloc(page));
	/* Not atomic_set: get_page_unless_zero() users may race. */
	page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
	return page;
}

/* Take the page back if every fragment is gone and it may be reused. */
static bool __page_frag_cache_reuse(struct page_frag_cache *nc)
{
	unsigned long encoded_va = nc->encoded_va;
	struct page *page = virt_to_page((void *)encoded_va);

	if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
		FRAG_STAT_INC(nc, pages_abandoned);
		return false;
	}
	if (unlikely(encoded_page_decode_pfmemalloc(encoded_va))) {
		free_unref_page(page, encoded_page_decode_order(encoded_va));
		return false;
	}
	/* Every fragment is gone, so the count is 0: a plain set is safe. */
	set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
	FRAG_STAT_INC(nc, reuses);
	return true;
}

#endif /* FRAG_PAGE_FRAG_RELOAD_H */
