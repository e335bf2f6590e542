// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_remaining.c - page_frag_cache with a `remaining` counter, as in
 * Yunsheng Lin's "Replace page_frag with page_frag_cache" v9/v10 (June-July
 * 2024; mm/page_frag_cache.c of that series), in the form he called
 * "option 2" when comparing it with Duyck's negative counter
 * (netdev, 2024-07-14; see design_negoffset.c for option 1).
 *
 * The counter holds the bytes LEFT in the page and counts down, while the
 * addresses it hands out still go up: the fragment starts at
 * va + (size - remaining).  Alignment is one AND on the counter
 * (remaining & align_mask) because size is a multiple of any alignment,
 * and the check is a compare against fragsz.  An empty cache has
 * remaining == 0, so the first allocation falls into the reload path with
 * no separate "no page yet" test.
 *
 * The page is encoded as in 6.13 (order in bits 0-7, pfmemalloc in bit 8
 * of the page address), so the struct is 16 bytes.  Reuse and refill sit
 * in __page_frag_cache_reload(), the v12/v13 split of that slow path
 * (v13 08/14, <20240808123714.462740-9-linyunsheng@huawei.com>).
 *
 * A request above PAGE_SIZE that does not fit returns NULL before the
 * reload, leaving offset, bias and page untouched: the v10 text (the
 * removed lines of RFC v11 08/14,
 * <20240719093338.55117-9-linyunsheng@huawei.com>) and v13 alike, and
 * the same rule 6.13 kept.  As in v13, an empty cache is remaining == 0,
 * so it refuses such a request too (v10 still refilled an empty cache
 * first); after the check a fresh page always fits, so there is no second
 * size test.
 *
 * Also the Part-2 prepare/commit pair (not merged), on this counter.
 */
#include <errno.h>

#include "frag.h"
#include "page_frag.h"
#include "page_frag_encoded.h"

/* remaining & align_mask is only an alignment if size is a multiple of it. */
_Static_assert(PAGE_FRAG_CACHE_MAX_SIZE % PAGE_SIZE == 0,
	       "every page size is a multiple of every align <= PAGE_SIZE");

/* 64-bit: 8 + 4 + 4 = 16, no padding. */
struct page_frag_cache {
	unsigned long encoded_va;	/* va | order | pfmemalloc; 0 = empty */
	uint32_t remaining;		/* bytes left; 0 when empty */
	uint32_t pagecnt_bias;		/* references we still hold */
};
_Static_assert(sizeof(struct page_frag_cache) == 16, "v10 struct is 16 B");
_Static_assert(sizeof(struct page_frag_cache) <= FRAG_CACHE_STORAGE,
	       "fits the box");

/* Refill and reuse, shared with design_negoffset.c. */
#include "page_frag_reload.h"

static noinline bool __page_frag_cache_reload(struct page_frag_cache *nc,
					      gfp_t gfp_mask)
{
	if (likely(nc->encoded_va) && __page_frag_cache_reuse(nc))
		goto out;
	if (unlikely(!__page_frag_cache_refill(nc, gfp_mask))) {
		nc->remaining = 0;	/* keep "empty" self-consistent */
		return false;
	}
out:
	/* Reset the bias and the counter to the start of the page. */
	nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
	nc->remaining = page_frag_cache_page_size(nc->encoded_va);
	return true;
}

void remaining_init(void *cache)
{
	struct page_frag_cache *nc = cache;

	nc->encoded_va = 0;
	nc->remaining = 0;
	nc->pagecnt_bias = 0;
}

void *remaining_alloc(void *cache, unsigned int fragsz,
		      unsigned int align_mask)
{
	struct page_frag_cache *nc = cache;
	unsigned int size = page_frag_cache_page_size(nc->encoded_va);
	unsigned int remaining = nc->remaining & align_mask;
	unsigned int prev = nc->remaining;	/* stats only */

	if (unlikely(remaining < fragsz)) {
		/*
		 * More than a page and it does not fit: refuse before the
		 * reload, so a page with live fragments is neither dropped
		 * nor recycled (low memory gave us order 0; dropping the
		 * page would add to the pressure).  An empty cache has
		 * remaining == 0 and lands here too.
		 */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		if (unlikely(!__page_frag_cache_reload(nc, GFP_ATOMIC)))
			goto fail;
		/* fragsz <= PAGE_SIZE <= size: a fresh page always fits. */
		size = page_frag_cache_page_size(nc->encoded_va);
		remaining = size;
		prev = size;
	}

	nc->pagecnt_bias--;
	nc->remaining = remaining - fragsz;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	FRAG_STAT_ADD(nc, bytes_consumed, prev - nc->remaining);
	return (char *)encoded_page_decode_virt(nc->encoded_va) +
	       (size - remaining);
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return NULL;
}

void remaining_free(void *addr)
{
	page_frag_free(addr);
}

void remaining_drain(void *cache)
{
	struct page_frag_cache *nc = cache;

	if (!nc->encoded_va)
		return;
	__page_frag_cache_drain(virt_to_page((void *)nc->encoded_va),
				nc->pagecnt_bias);
	nc->encoded_va = 0;
	nc->remaining = 0;
}

/* ---- Part-2 (not merged): prepare/commit on the counter ---- */

int remaining_prepare(void *cache, unsigned int fragsz,
		      unsigned int align_mask, struct frag_prepared *pf)
{
	struct page_frag_cache *nc = cache;
	unsigned int size = page_frag_cache_page_size(nc->encoded_va);
	unsigned int remaining = nc->remaining & align_mask;

	if (unlikely(remaining < fragsz)) {
		/* As alloc (v13 page_frag_alloc_prepare): refuse first. */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		if (unlikely(!__page_frag_cache_reload(nc, GFP_ATOMIC)))
			goto fail;
		size = page_frag_cache_page_size(nc->encoded_va);
		remaining = size;
	}
	pf->offset = size - remaining;
	pf->va = (char *)encoded_page_decode_virt(nc->encoded_va) + pf->offset;
	pf->size = remaining;
	return 0;
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return -ENOMEM;
}

void *remaining_commit(void *cache, const struct frag_prepared *pf,
		       unsigned int used, bool ref)
{
	struct page_frag_cache *nc = cache;
	unsigned int prev = nc->remaining;	/* stats only */

	FRAG_BUG_ON(used > pf->size || pf->size > nc->remaining ||
		    encoded_page_decode_virt(nc->encoded_va) !=
		    (char *)pf->va - pf->offset,
		    virt_to_page((void *)nc->encoded_va),
		    "commit without a matching prepare");
	if (ref) {
		nc->pagecnt_bias--;
		FRAG_STAT_INC(nc, allocs);
	} else {
		FRAG_STAT_INC(nc, commits_noref);
	}
	nc->remaining = pf->size - used;
	FRAG_STAT_ADD(nc, bytes_requested, used);
	FRAG_STAT_ADD(nc, bytes_consumed, prev - nc->remaining);
	return pf->va;
}

static void remaining_inspect(const void *cache, struct frag_state *st)
{
	const struct page_frag_cache *nc = cache;

	st->va = nc->encoded_va ?
		 encoded_page_decode_virt(nc->encoded_va) : NULL;
	st->offset = nc->remaining;
	st->order = encoded_page_decode_order(nc->encoded_va);
	st->size = nc->encoded_va ?
		   page_frag_cache_page_size(nc->encoded_va) : 0;
	st->bias = nc->pagecnt_bias;
	st->pfmemalloc = encoded_page_decode_pfmemalloc(nc->encoded_va);
}

const struct frag_ops frag_ops_remaining = {
	.name		= "remaining",
	.mirrors	= "page_frag v9/v10 (Yunsheng Lin, June-July 2024): "
			  "`remaining` counts bytes left down while addresses "
			  "go up (\"option 2\"), encoded 16-byte struct",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= remaining_init,
	.alloc		= remaining_alloc,
	.free		= remaining_free,
	.drain		= remaining_drain,
	.inspect	= remaining_inspect,
	.prepare	= remaining_prepare,
	.commit		= remaining_commit,
};
