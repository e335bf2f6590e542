// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_part2.c - the 6.13 page_frag_cache (design_encoded.c) with its
 * alloc path rebuilt the way Yunsheng Lin's "Replace page_frag with
 * page_frag_cache (Part-2)" rebuilt it: "[PATCH net-next v2 01/10] mm:
 * page_frag: some minor refactoring before adding new API" (2024-12-06,
 * <20241206122533.3589947-2-linyunsheng@huawei.com>), the revision
 * mirrored here.  v1 of the series
 * (<20241114121606.3434517-1-linyunsheng@huawei.com>) opened with a patch
 * of the same title (its text is not in the archive searched) and
 * reported page_frag_test about 20 % slower for the refactor (5.566 ->
 * 7.035 s non-aligned, 2.584 -> 3.211 s aligned); this design exists so
 * that claim can be measured against "encoded".
 *
 * Same struct, same algorithm, same offsets and references as 6.13.  What
 * changes is the shape of the code:
 *
 * - __page_frag_cache_prepare() is the old __page_frag_alloc_align() body
 *   minus the commit: it finds room (refill, recycle, or the current
 *   page), fills a struct page_frag {page, offset, size - offset} and
 *   consumes nothing.  Out of line (EXPORT_SYMBOL in mm/).
 * - __page_frag_cache_commit_noref() advances the offset to
 *   pfrag->offset + used_sz and returns the true size consumed, alignment
 *   padding included.  Out of line (EXPORT_SYMBOL).
 * - __page_frag_cache_commit() is an inline pagecnt_bias-- in front of it.
 * - __page_frag_alloc_align() becomes an inline wrapper in the header:
 *   prepare, then commit(fragsz).  So every caller (napi_alloc_frag, ...)
 *   now makes two calls per fragment where 6.13 makes one, passes a
 *   struct page_frag through memory, and stores pfrag->page even on the
 *   fast path.
 *
 * Here part2_alloc() plays the caller with the wrapper inlined into it
 * (the engine calls it directly, as net/ calls mm/), and the two exported
 * functions are noinline + noipa: in the kernel they live in another
 * translation unit, so the compiler can neither inline them nor clone or
 * specialise them for this caller.
 */
#include <errno.h>

#include "frag.h"
#include "page_frag.h"
#include "page_frag_encoded.h"
/* The 6.13 struct, refill, init, drain, inspect: the patch keeps them. */
#include "page_frag_613.h"

/* struct page_frag on 64-bit (include/linux/mm_types_task.h). */
struct page_frag {
	struct page *page;
	uint32_t offset;
	uint32_t size;
};
_Static_assert(sizeof(struct page_frag) == 16, "64-bit struct page_frag");

/* Unchanged by the patch: 6.13's, out of line as in design_encoded.c. */
static noinline struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
						      gfp_t gfp_mask)
{
	return __page_frag_cache_refill_inline(nc, gfp_mask);
}

/*
 * Returns the true size consumed: the new offset minus the old one, so a
 * caller that aligned pays for the padding too.
 */
static __frag_exported unsigned int
__page_frag_cache_commit_noref(struct page_frag_cache *nc,
			       struct page_frag *pfrag, unsigned int used_sz)
{
	unsigned int orig_offset;

	FRAG_BUG_ON(used_sz > pfrag->size ||
		    pfrag->page != encoded_page_decode_page(nc->encoded_page) ||
		    pfrag->offset + pfrag->size >
		    (PAGE_SIZE << encoded_page_decode_order(nc->encoded_page)) ||
		    nc->offset > pfrag->offset,	/* align may move it up */
		    pfrag->page, "commit without a matching prepare");

	orig_offset = nc->offset;
	nc->offset = pfrag->offset + used_sz;
	return nc->offset - orig_offset;
}

/* Inline in the series' header: the reference is just the bias. */
static inline unsigned int __page_frag_cache_commit(struct page_frag_cache *nc,
						    struct page_frag *pfrag,
						    unsigned int used_sz)
{
	FRAG_BUG_ON(!nc->pagecnt_bias, pfrag->page, "commit with no bias left");
	nc->pagecnt_bias--;
	return __page_frag_cache_commit_noref(nc, pfrag, used_sz);
}

static __frag_exported void *
__page_frag_cache_prepare(struct page_frag_cache *nc, unsigned int fragsz,
			  struct page_frag *pfrag, gfp_t gfp_mask,
			  unsigned int align_mask)
{
	unsigned long encoded_page = nc->encoded_page;
	unsigned int size, offset;
	struct page *page;

	if (unlikely(!encoded_page)) {
refill:
		page = __page_frag_cache_refill(nc, gfp_mask);
		if (!page)
			return NULL;
		FRAG_STAT_INC(nc, refills);
		encoded_page = nc->encoded_page;
		/* Not atomic_set: get_page_unless_zero() users may race. */
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
	} else {
		/* The series moved this up: pfrag->page is always filled. */
		page = encoded_page_decode_page(encoded_page);
	}

	size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
	offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
	if (unlikely(offset + fragsz > size)) {
		/* More than a page that does not fit: keep the page (6.13). */
		if (unlikely(fragsz > PAGE_SIZE))
			return NULL;
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
		nc->offset = 0;
		FRAG_STAT_INC(nc, reuses);
		offset = 0;
	}

	pfrag->page = page;
	pfrag->offset = offset;
	pfrag->size = size - offset;
	return (char *)encoded_page_decode_virt(encoded_page) + offset;
}

/* The series' header wrapper, inlined into its caller. */
static __always_inline void *__page_frag_alloc_align(struct page_frag_cache *nc,
						     unsigned int fragsz,
						     gfp_t gfp_mask,
						     unsigned int align_mask)
{
	struct page_frag page_frag;
	unsigned int true_size;
	void *va;

	va = __page_frag_cache_prepare(nc, fragsz, &page_frag, gfp_mask,
				       align_mask);
	if (likely(va)) {
		true_size = __page_frag_cache_commit(nc, &page_frag, fragsz);
		FRAG_STAT_INC(nc, allocs);
		FRAG_STAT_ADD(nc, bytes_requested, fragsz);
		FRAG_STAT_ADD(nc, bytes_consumed, true_size);
		(void)true_size;	/* the kernel's callers ignore it too */
	} else {
		FRAG_STAT_INC(nc, alloc_failures);
	}
	return va;
}

void part2_init(void *cache)
{
	page_frag_cache_init(cache);
}

void *part2_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	return __page_frag_alloc_align(cache, fragsz, GFP_ATOMIC, align_mask);
}

void part2_free(void *addr)
{
	page_frag_free(addr);
}

void part2_drain(void *cache)
{
	page_frag_cache_drain(cache);
}

/* ---- the Part-2 API itself: prepare, then commit with or without ref ---- */

int part2_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		  struct frag_prepared *pf)
{
	struct page_frag_cache *nc = cache;
	struct page_frag page_frag;
	void *va;

	va = __page_frag_cache_prepare(nc, fragsz, &page_frag, GFP_ATOMIC,
				       align_mask);
	if (unlikely(!va)) {
		FRAG_STAT_INC(nc, alloc_failures);
		return -ENOMEM;
	}
	pf->va = va;
	pf->offset = page_frag.offset;
	pf->size = page_frag.size;
	return 0;
}

void *part2_commit(void *cache, const struct frag_prepared *pf,
		   unsigned int used, bool ref)
{
	struct page_frag_cache *nc = cache;
	struct page_frag page_frag = {
		.page	= virt_to_page((char *)pf->va - pf->offset),
		.offset	= pf->offset,
		.size	= pf->size,
	};
	unsigned int true_size;

	if (ref) {
		true_size = __page_frag_cache_commit(nc, &page_frag, used);
		FRAG_STAT_INC(nc, allocs);
	} else {
		true_size = __page_frag_cache_commit_noref(nc, &page_frag, used);
		FRAG_STAT_INC(nc, commits_noref);
	}
	FRAG_STAT_ADD(nc, bytes_requested, used);
	FRAG_STAT_ADD(nc, bytes_consumed, true_size);
	(void)true_size;
	return pf->va;
}

static void part2_inspect(const void *cache, struct frag_state *st)
{
	page_frag_cache_inspect(cache, st);
}

const struct frag_ops frag_ops_part2 = {
	.name		= "part2",
	.mirrors	= "Part-2 v2 01/10 (Yunsheng Lin, 2024-12-06, "
			  "<20241206122533.3589947-2-linyunsheng@huawei.com>): "
			  "6.13 encoded cache, __page_frag_alloc_align as an "
			  "inline wrapper over out-of-line "
			  "__page_frag_cache_prepare + "
			  "__page_frag_cache_commit_noref (v1 claimed ~20 % "
			  "slower)",
	.struct_size	= sizeof(struct page_frag_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= part2_init,
	.alloc		= part2_alloc,
	.free		= part2_free,
	.drain		= part2_drain,
	.inspect	= part2_inspect,
	.prepare	= part2_prepare,
	.commit		= part2_commit,
};
