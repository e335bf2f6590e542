// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_sockfrag.c - the Tx side's struct page_frag with
 * skb_page_frag_refill() from net/core/sock.c (about v6.9; the logic is
 * unchanged since SKB_FRAG_PAGE_ORDER and the high_order_alloc_disable
 * key), used the way tcp_sendmsg_locked() uses sk_page_frag():
 * refill, copy at pfrag->offset, page_ref_inc() for a new skb fragment
 * (none when merging into the previous one), advance the offset.
 *
 * No pagecnt_bias: the cache owns exactly one reference and every fragment
 * takes its own with an atomic increment, so each fragment costs two
 * atomics (get here, put on free) against the bias designs' one.  In
 * exchange, "is the page free again?" is a plain read: a refcount of 1
 * means every skb that used the page is gone and the offset rewinds to 0.
 * That rewind does not look at pfmemalloc (the Tx path handles reserves
 * per socket, not per page), unlike page_frag_cache.
 *
 * The order-3 attempt has no __GFP_NOMEMALLOC: sock.c was left out of the
 * v6.9 gfp unification (4bc0d63a2395).
 *
 * As an allocator for the common interface: alloc = refill for the
 * aligned request + round the offset up + one page reference + advance;
 * free = put_page() on the head page (skb_frag_unref); drain = put_page()
 * of the cache's own reference (sk_destruct).  prepare/commit are the
 * same split tcp_sendmsg_locked() makes: refill and look, then commit
 * with (new fragment) or without (coalesced) a reference.
 */
#include <errno.h>

#include "frag.h"

/* get_order(32768): 3 with 4 KiB pages. */
#define SKB_FRAG_PAGE_ORDER	PAGE_FRAG_CACHE_MAX_ORDER
_Static_assert((PAGE_SIZE << SKB_FRAG_PAGE_ORDER) == 32768,
	       "SKB_FRAG_PAGE_ORDER is get_order(32768)");

/* include/linux/mm_types_task.h, 64-bit: 8 + 4 + 4 = 16, no padding. */
struct page_frag {
	struct page *page;	/* holds one reference of ours; NULL = none */
	uint32_t offset;	/* first free byte; counts up */
	uint32_t size;		/* 32768 or 4096 (after a fallback) */
};
_Static_assert(sizeof(struct page_frag) == 16, "struct page_frag is 16 B");
_Static_assert(sizeof(struct page_frag) <= FRAG_CACHE_STORAGE,
	       "fits the box");

/*
 * net.core.high_order_alloc_disable, a static key that defaults to off;
 * nothing here turns it on, so the compiler folds it like the kernel's
 * patched-out branch.
 */
static const bool net_high_order_alloc_disable_key;

/*
 * skb_page_frag_refill() - make sure @pfrag has @sz bytes at its offset.
 * Out of line on purpose: in the kernel it is an exported function of
 * sock.c that tcp.c calls for every chunk, so that call is the fast path;
 * and no constprop clone with the gfp argument folded in, which a call
 * from another file cannot get (3 instructions per packet on fastpath).
 */
static __frag_exported bool skb_page_frag_refill(unsigned int sz,
					  struct page_frag *pfrag, gfp_t gfp)
{
	if (pfrag->page) {
		if (page_ref_count(pfrag->page) == 1) {
			/* Only our reference is left: start the page over. */
			if (pfrag->offset)
				FRAG_STAT_INC(pfrag, reuses);
			pfrag->offset = 0;
			return true;
		}
		if (pfrag->offset + sz <= pfrag->size)
			return true;
		/* Fragments still use it: their last put frees it. */
		put_page(pfrag->page);
		FRAG_STAT_INC(pfrag, pages_abandoned);
	}

	pfrag->offset = 0;
	if (SKB_FRAG_PAGE_ORDER && !net_high_order_alloc_disable_key) {
		/* Avoid direct reclaim but allow kswapd to wake. */
		pfrag->page = alloc_pages((gfp & ~__GFP_DIRECT_RECLAIM) |
					  __GFP_COMP | __GFP_NOWARN |
					  __GFP_NORETRY,
					  SKB_FRAG_PAGE_ORDER);
		if (likely(pfrag->page)) {
			pfrag->size = PAGE_SIZE << SKB_FRAG_PAGE_ORDER;
			FRAG_STAT_INC(pfrag, refills);
			return true;
		}
		FRAG_STAT_INC(pfrag, high_order_fallbacks);
	}
	pfrag->page = alloc_page(gfp);
	if (likely(pfrag->page)) {
		pfrag->size = PAGE_SIZE;
		FRAG_STAT_INC(pfrag, refills);
		return true;
	}
	return false;
}

void sockfrag_init(void *cache)
{
	struct page_frag *pfrag = cache;

	pfrag->page = NULL;
	pfrag->offset = 0;
	pfrag->size = 0;
}

void *sockfrag_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	struct page_frag *pfrag = cache;
	unsigned int offset, pad;

	/* Ask the refill for the padding too, so a "fits" answer holds. */
	pad = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask) - pfrag->offset;
	if (unlikely(!skb_page_frag_refill(fragsz + pad, pfrag, GFP_ATOMIC)))
		goto fail;
	/* The refill may have rewound or replaced the page: realign. */
	offset = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask);
	/*
	 * The refill never checks a fresh page against sz (tcp asks for 32
	 * bytes and clamps its copy to size - offset); a whole fragment must
	 * fit, so refuse here and keep the page.
	 */
	if (unlikely(offset + fragsz > pfrag->size))
		goto fail;

	page_ref_inc(pfrag->page);	/* the fragment's own reference */
	FRAG_STAT_INC(pfrag, allocs);
	FRAG_STAT_ADD(pfrag, bytes_requested, fragsz);
	FRAG_STAT_ADD(pfrag, bytes_consumed, offset + fragsz - pfrag->offset);
	pfrag->offset = offset + fragsz;
	return (char *)page_address(pfrag->page) + offset;
fail:
	FRAG_STAT_INC(pfrag, alloc_failures);
	return NULL;
}

void sockfrag_free(void *addr)
{
	put_page(virt_to_head_page(addr));
}

void sockfrag_drain(void *cache)
{
	struct page_frag *pfrag = cache;

	if (!pfrag->page)
		return;
	put_page(pfrag->page);
	pfrag->page = NULL;
	pfrag->offset = 0;
}

/* ---- prepare/commit: tcp_sendmsg_locked()'s own split ---- */

int sockfrag_prepare(void *cache, unsigned int fragsz, unsigned int align_mask,
		     struct frag_prepared *pf)
{
	struct page_frag *pfrag = cache;
	unsigned int offset, pad;

	pad = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask) - pfrag->offset;
	if (unlikely(!skb_page_frag_refill(fragsz + pad, pfrag, GFP_ATOMIC)))
		goto fail;
	offset = __ALIGN_KERNEL_MASK(pfrag->offset, ~align_mask);
	if (unlikely(offset + fragsz > pfrag->size))
		goto fail;
	pf->va = (char *)page_address(pfrag->page) + offset;
	pf->offset = offset;
	pf->size = pfrag->size - offset;
	return 0;
fail:
	FRAG_STAT_INC(pfrag, alloc_failures);
	return -ENOMEM;
}

void *sockfrag_commit(void *cache, const struct frag_prepared *pf,
		      unsigned int used, bool ref)
{
	struct page_frag *pfrag = cache;

	FRAG_BUG_ON(!pfrag->page || used > pf->size ||
		    pf->offset < pfrag->offset ||
		    page_address(pfrag->page) != (char *)pf->va - pf->offset,
		    pfrag->page, "commit without a matching prepare");
	if (ref) {
		page_ref_inc(pfrag->page);	/* a new skb fragment */
		FRAG_STAT_INC(pfrag, allocs);
	} else {
		FRAG_STAT_INC(pfrag, commits_noref);	/* skb_can_coalesce */
	}
	FRAG_STAT_ADD(pfrag, bytes_requested, used);
	FRAG_STAT_ADD(pfrag, bytes_consumed, pf->offset + used - pfrag->offset);
	pfrag->offset = pf->offset + used;
	return pf->va;
}

static void sockfrag_inspect(const void *cache, struct frag_state *st)
{
	const struct page_frag *pfrag = cache;

	st->va = pfrag->page ? page_address(pfrag->page) : NULL;
	st->offset = pfrag->offset;
	st->size = pfrag->page ? pfrag->size : 0;
	/* The bias equivalent: the one reference the cache itself holds. */
	st->bias = pfrag->page ? 1 : 0;
	st->pfmemalloc = pfrag->page && page_is_pfmemalloc(pfrag->page);
	st->order = pfrag->page ? compound_order(pfrag->page) : 0;
}

const struct frag_ops frag_ops_sockfrag = {
	.name		= "sockfrag",
	.mirrors	= "net/core/sock.c skb_page_frag_refill() + struct "
			  "page_frag (v6.9), used as tcp_sendmsg_locked() does: "
			  "one page_ref_inc per fragment, rewind at refcount 1",
	.struct_size	= sizeof(struct page_frag),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_PAGES | FRAG_CAP_HIGH_ORDER |
			  FRAG_CAP_PREPARE,
	.max_frag	= 0,	/* up to a page */
	.init		= sockfrag_init,
	.alloc		= sockfrag_alloc,
	.free		= sockfrag_free,
	.drain		= sockfrag_drain,
	.inspect	= sockfrag_inspect,
	.prepare	= sockfrag_prepare,
	.commit		= sockfrag_commit,
};
