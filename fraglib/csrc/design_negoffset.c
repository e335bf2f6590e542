// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_negoffset.c - page_frag_cache with a NEGATIVE remaining counter:
 * Alexander Duyck's suggestion on the v10 "remaining" patch (netdev,
 * 2024-07, <CAKgT0Uea-BrGRy-gfjdLWxp=0aQKQZa3dZW4euq5oGr1pTQVAA@mail.gmail.com>),
 * written out by Yunsheng Lin as "option 1" (2024-07-14) and measured
 * against his v10 form (design_remaining.c): 24.557 s vs 24.413 s over
 * 500 runs, and 37 bytes more code.
 *
 * The counter starts at -size and climbs towards 0.  Rounding it up with
 * __ALIGN_KERNEL_MASK aligns the address too (size is a multiple of the
 * alignment), the fit check is one add and a sign test
 * (remaining + fragsz > 0), and the fragment lies at va + size + remaining:
 * addresses go up, as bottom-up coalescing needs.  An empty cache is
 * encoded_va == 0 with remaining == 0, so the first call falls into the
 * reload path by the same sign test.
 *
 * The page is encoded as in 6.13 (order in bits 0-7, pfmemalloc in bit 8
 * of the page address): 16 bytes.  Reuse/refill as in the series'
 * __page_frag_cache_reload() (v13 08/14,
 * <20240808123714.462740-9-linyunsheng@huawei.com>).  Also the Part-2
 * prepare/commit pair (not merged), on this counter.
 *
 * A request above PAGE_SIZE that does not fit returns NULL before the
 * reload, page untouched.  The option-1 sketch
 * (<12ff13d9-1f3d-4c1b-a972-2efb6f247e31@gmail.com>) shows only the
 * counter arithmetic and leaves that check out, but it rewrites the v10
 * __page_frag_alloc_va_align(), which has it (RFC v11 08/14's removed
 * lines, <20240719093338.55117-9-linyunsheng@huawei.com>; option 3 of
 * 2024-07-16 keeps it), and v13 keeps it in alloc and prepare.  As in
 * v13, an empty cache (remaining == 0) refuses such a request too.
 */
#include <errno.h>

#include "frag.h"
#include "page_frag.h"
#include "page_frag_encoded.h"

/* -size must be representable, and rounding it up must stay <= 0. */
_Static_assert(PAGE_FRAG_CACHE_MAX_SIZE <= INT32_MAX,
	       "a signed 32-bit counter covers the largest page");

/*
 * The int counter meets the unsigned mask: the math is done unsigned and
 * read back as int, which rounds a negative counter up (towards 0) in two's
 * complement.  -32761 at align 16 must land on -32752.
 */
_Static_assert((int)__ALIGN_KERNEL_MASK(-32761, 15u) == -32752,
	       "__ALIGN_KERNEL_MASK rounds a negative counter towards 0");

/* 64-bit: 8 + 4 + 4 = 16, no padding (option 1's layout). */
struct page_frag_cache {
	unsigned long encoded_va;	/* va | order | pfmemalloc; 0 = empty */
	int32_t remaining;		/* -(bytes left); 0 when empty */
	uint32_t pagecnt_bias;		/* references we still hold */
};
_Static_assert(sizeof(struct page_frag_cache) == 16,
	       "option 1 struct is 16 B");
_Static_assert(sizeof(struct page_frag_cache) <= FRAG_CACHE_STORAGE,
	       "fits the box");

/* Refill and reuse, shared with design_remaining.c. */
#include "page_frag_reload.h"

static noinline bool __page_frag_cache_reload(struct page_frag_cache *nc,
					      gfp_t gfp_mask)
{
	if (likely(nc->encoded_va) && __page_frag_cache_reuse(nc))
		goto out;
	if (unlikely(!__page_frag_cache_refill(nc, gfp_mask))) {
		/*
		 * Option 1's sketch leaves this out, but the fast path trusts
		 * remaining alone: a stale negative value with encoded_va == 0
		 * would hand out addresses near 0.
		 */
		nc->remaining = 0;
		return false;
	}
out:
	nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
	nc->remaining = -(int)page_frag_cache_page_size(nc->encoded_va);
	return true;
}

void negoffset_init(void *cache)
{
	struct page_frag_cache *nc = cache;

	nc->encoded_va = 0;
	nc->remaining = 0;
	nc->pagecnt_bias = 0;
}

void *negoffset_alloc(void *cache, unsigned int fragsz,
		      unsigned int align_mask)
{
	struct page_frag_cache *nc = cache;
	unsigned int size = page_frag_cache_page_size(nc->encoded_va);
	int prev = nc->remaining;	/* stats only */
	int remaining;

	remaining = __ALIGN_KERNEL_MASK(nc->remaining, ~align_mask);
	if (unlikely(remaining + (int)fragsz > 0)) {
		/*
		 * More than a page and it does not fit: refuse before the
		 * reload, so a page with live fragments is neither dropped
		 * nor recycled (the v10 check this option edits).
		 */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		if (unlikely(!__page_frag_cache_reload(nc, GFP_ATOMIC)))
			goto fail;
		/* fragsz <= PAGE_SIZE <= size: a fresh page always fits. */
		size = page_frag_cache_page_size(nc->encoded_va);
		remaining = -(int)size;
		prev = remaining;
	}

	nc->pagecnt_bias--;
	nc->remaining = remaining + fragsz;
	FRAG_STAT_INC(nc, allocs);
	FRAG_STAT_ADD(nc, bytes_requested, fragsz);
	FRAG_STAT_ADD(nc, bytes_consumed, nc->remaining - prev);
	return (char *)encoded_page_decode_virt(nc->encoded_va) + size +
	       remaining;
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return NULL;
}

void negoffset_free(void *addr)
{
	page_frag_free(addr);
}

void negoffset_drain(void *cache)
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

int negoffset_prepare(void *cache, unsigned int fragsz,
		      unsigned int align_mask, struct frag_prepared *pf)
{
	struct page_frag_cache *nc = cache;
	unsigned int size = page_frag_cache_page_size(nc->encoded_va);
	int remaining;

	remaining = __ALIGN_KERNEL_MASK(nc->remaining, ~align_mask);
	if (unlikely(remaining + (int)fragsz > 0)) {
		/* As alloc (v13 page_frag_alloc_prepare): refuse first. */
		if (unlikely(fragsz > PAGE_SIZE))
			goto fail;
		if (unlikely(!__page_frag_cache_reload(nc, GFP_ATOMIC)))
			goto fail;
		size = page_frag_cache_page_size(nc->encoded_va);
		remaining = -(int)size;
	}
	pf->offset = size + remaining;
	pf->va = (char *)encoded_page_decode_virt(nc->encoded_va) + pf->offset;
	pf->size = -remaining;
	return 0;
fail:
	FRAG_STAT_INC(nc, alloc_failures);
	return -ENOMEM;
}

void *negoffset_commit(void *cache, const struct frag_prepared *pf,
		       unsigned int used, bool ref)
{
	struct page_frag_cache *nc = cache;
	int size = page_frag_cache_page_size(nc->encoded_va);
	int prev = nc->remaining;	/* stats only */

	FRAG_BUG_ON(used > pf->size ||
		    (int)pf->offset - size < nc->remaining ||
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
	nc->remaining = (int)(pf->offset + used) - size;
	FRAG_STAT_ADD(nc, bytes_requested, used);
	FRAG_STAT_ADD(nc, bytes_consumed, nc->remaining - prev);
	return pf->va;
}

static void negoffset_inspect(const void *cache, struct frag_state *st)
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

const struct frag_ops frag_ops_negoffset = {
	.name		= "negoffset",
	.mirrors	= "Duyck's \"option 1\" on page_frag v10 (netdev, July "
			  "2024): negative remaining from -size, sign-test fit, "
			  "va + size + remaining; encoded 16-byte struct",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= negoffset_init,
	.alloc		= negoffset_alloc,
	.free		= negoffset_free,
	.drain		= negoffset_drain,
	.inspect	= negoffset_inspect,
	.prepare	= negoffset_prepare,
	.commit		= negoffset_commit,
};
