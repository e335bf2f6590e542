// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_encoded.c - page_frag_cache as merged for Linux 6.13:
 * mm/page_frag_cache.c after 0c3ce2f50261 ("mm: page_frag: reuse existing
 * space for 'size' and 'pfmemalloc'") on top of 8218f62c9c9b (initial zero
 * offset), with include/linux/page_frag_cache.h's encoded_page helpers.
 *
 * Same bottom-up algorithm as design_bottomup.c; what changes is the
 * struct.  A page address is page aligned, so its low 12 bits are free:
 * the order goes in bits 0-7 and the pfmemalloc flag in bit 8, which drops
 * the separate size and pfmemalloc fields and brings the cache down from
 * 24 to 16 bytes, the size of struct page_frag (the stated goal: one per
 * socket and one per task).  The price is a mask and a shift on the fast
 * path to recover the address and the size.
 *
 * Also the Part-2 prepare/commit pair (RFC 2024-10-28, v1 2024-11-14,
 * v2 2024-12-06; not merged): prepare finds room without consuming it,
 * commit consumes what the caller actually used, with or without a page
 * reference.
 */
#include <errno.h>

#include "frag.h"
#include "page_frag.h"
#include "page_frag_encoded.h"
/* The 16-byte struct, refill, init, drain, inspect: shared with part2. */
#include "page_frag_613.h"

/* Out of line here, so fraglib.codesize counts it with alloc and prepare. */
static noinline struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
						      gfp_t gfp_mask)
{
	return __page_frag_cache_refill_inline(nc, gfp_mask);
}

void encoded_init(void *cache)
{
	page_frag_cache_init(cache);
}

void *encoded_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page_frag_cache *nc = cache;
	unsigned long encoded_page = nc->encoded_page;
	unsigned int size, offset, prev = nc->offset;	/* prev: stats only */
	struct page *page;

	if (unlikely(!encoded_page)) {
refill:
		page = __page_frag_cache_refill(nc, GFP_ATOMIC);
		if (!page) {
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}
		FRAG_STAT_INC(nc, refills);
		encoded_page = nc->encoded_page;
		/* Not atomic_set: get_page_unless_zero() users may race. */
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
		prev = 0;
	}

	size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
	offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
	if (unlikely(offset + fragsz > size)) {
		if (unlikely(fragsz > PAGE_SIZE)) {
			/*
			 * More than a page and the cache cannot serve it now
			 * (low memory gave us order 0).  Keep the page rather
			 * than add to memory pressure.
			 */
			FRAG_STAT_INC(nc, alloc_failures);
			return NULL;
		}

		page = encoded_page_decode_page(encoded_page);
		/* Give back the references no fragment took, in one atomic. */
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
			FRAG_STAT_INC(nc, pages_abandoned);
			goto refill;
		}
		if (unlikely(encoded_page_decode_pfmemalloc(encoded_page))) {
			free_unref_page(page,
					encoded_page_decode_order(encoded_page));
			goto refill;
		}
		/* Every fragment is gone, so the count is 0: a plain set is safe */
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		FRAG_STAT_INC(nc, reuses);
		offset = 0;
		prev = 0;
	}

	nc->pagecnt_bias--;
	nc->offset = offset + fragsz;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	FRAG_STAT_ADD(nc, bytes_consumed, offset + fragsz - prev);
	return (char *)encoded_page_decode_virt(encoded_page) + offset;
}

void encoded_free(void *addr)
{
	page_frag_free(addr);
}

void encoded_drain(void *cache)
{
	page_frag_cache_drain(cache);
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
	unsigned long encoded_page = nc->encoded_page;
	struct page *page;

	if (encoded_page) {
		/* As alloc: never drop the page for a request it cannot take. */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		page = encoded_page_decode_page(encoded_page);
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias)) {
			FRAG_STAT_INC(nc, pages_abandoned);
		} else if (encoded_page_decode_pfmemalloc(encoded_page)) {
			free_unref_page(page,
					encoded_page_decode_order(encoded_page));
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
	nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
	nc->offset = 0;
	/* A fresh order-0 page can still be too small: keep it, fail. */
	if (fragsz > (PAGE_SIZE << encoded_page_decode_order(nc->encoded_page)))
		goto fail;
	return 0;
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return -ENOMEM;
}

int encoded_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		    struct frag_prepared *pf)
{
	struct page_frag_cache *nc = cache;
	unsigned long encoded_page = nc->encoded_page;
	unsigned int size, offset = 0;

	if (likely(encoded_page)) {
		size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
		offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
		if (likely(offset + fragsz <= size))
			goto found;
	}
	if (__page_frag_cache_reload(nc, fragsz))
		return -ENOMEM;
	encoded_page = nc->encoded_page;
	size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
	offset = 0;
found:
	pf->va = (char *)encoded_page_decode_virt(encoded_page) + offset;
	pf->offset = offset;
	pf->size = size - offset;
	return 0;
}

void *encoded_commit(void *cache, const struct frag_prepared *pf,
		     unsigned int used, bool ref)
{
	struct page_frag_cache *nc = cache;

	/* A commit must follow its prepare: same page, inside what it found. */
	FRAG_BUG_ON(used > pf->size || pf->offset < nc->offset ||
		    encoded_page_decode_virt(nc->encoded_page) !=
		    (char *)pf->va - pf->offset,
		    encoded_page_decode_page(nc->encoded_page),
		    "commit without a matching prepare");
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

static void encoded_inspect(const void *cache, struct frag_state *st)
{
	page_frag_cache_inspect(cache, st);
}

const struct frag_ops frag_ops_encoded = {
	.name		= "encoded",
	.mirrors	= "Linux 6.13 mm/page_frag_cache.c (0c3ce2f50261): "
			  "bottom-up, order+pfmemalloc encoded in the page "
			  "address, 16-byte struct; Part-2 prepare/commit",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= encoded_init,
	.alloc		= encoded_alloc,
	.free		= encoded_free,
	.drain		= encoded_drain,
	.inspect	= encoded_inspect,
	.prepare	= encoded_prepare,
	.commit		= encoded_commit,
};
