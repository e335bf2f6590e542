/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * page_frag.h - the two functions every version of page_frag_cache shares,
 * whatever its struct: page_frag_free() and __page_frag_cache_drain(), from
 * mm/page_alloc.c (up to v6.10) and mm/page_frag_cache.c (65941f10caf2 on).
 *
 * The kernel has one out-of-line copy of each.  Here they are inline, so
 * each design's <name>_free and <name>_drain still hold their own code:
 * the engine calls them directly (design_direct.h) and fraglib.codesize
 * counts only what is defined in design_<name>.c.
 */
#ifndef FRAG_PAGE_FRAG_H
#define FRAG_PAGE_FRAG_H

#include "page.h"

/**
 * __page_frag_cache_drain() - drop the references a cache holds on a page.
 * @page:  the cache's page (a head page).
 * @count: the references it still holds (its pagecnt_bias).
 *
 * Frees the page if no fragment holds it any more; otherwise the last
 * page_frag_free() of its fragments will.
 */
static inline void __page_frag_cache_drain(struct page *page,
					   unsigned int count)
{
	FRAG_BUG_ON(page_ref_count(page) == 0, page, "drain of a free page");

	if (page_ref_sub_and_test(page, count))
		free_unref_page(page, compound_order(page));
}

/**
 * page_frag_free() - free a fragment.
 * @addr: any address inside the fragment.
 *
 * One atomic decrement on the head page and no per-fragment metadata:
 * the fragment's size and offset are never needed.
 */
static __always_inline void page_frag_free(const void *addr)
{
	struct page *page = virt_to_head_page(addr);

	if (unlikely(put_page_testzero(page)))
		free_unref_page(page, compound_order(page));
}

#endif /* FRAG_PAGE_FRAG_H */
