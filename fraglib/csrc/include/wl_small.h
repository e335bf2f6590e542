/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wl_small.h - where the rx path puts the heads the kernel never gives to
 * page_frag_cache: `len + NET_SKB_PAD + NET_IP_ALIGN <=
 * SKB_WITH_OVERHEAD(1024)` in __napi_alloc_skb() (net/core/skbuff.c).
 *
 * Two stand-ins, both on the page model so their pages are counted:
 *
 * - slicer1k: page_frag_alloc_1k() of v6.3-v6.13 (dbae2b062824 "net: skb:
 *   introduce and use a single page frag cache", reverted for 6.14): an
 *   order-0 page cut top-down into four 1 KiB slices, one page reference
 *   per slice, freed by skb_free_frag() -> page_frag_free().  The same
 *   allocator as design_slicer1k.c, kept here as the rx path's side
 *   allocator so every design's engine has it.
 *
 * - kmalloc: __alloc_skb() -> kmalloc_reserve() (up to 6.2 and from 6.14;
 *   always in __netdev_alloc_skb()).  A SLUB-like kmalloc-1k: the owner
 *   CPU pops 1 KiB objects from its freelist (c->freelist); an empty list
 *   first takes every object other CPUs freed (one atomic exchange, as
 *   SLUB takes a slab's freelist), then a new slab: order 3 (8 pages, 32
 *   objects, kmalloc-1k's usual slab) with an order-0 fallback.  A free on
 *   the owner pushes to its freelist; a free on another CPU is one
 *   compare-and-swap onto the remote list.  Slabs are kept until the run
 *   ends (a warm kmalloc cache).  Not modelled: the smaller size classes
 *   (kmalloc-512, 6.3's skb_small_head_cache of about 640 B) and the
 *   per-object sk_buff, which every path allocates alike.
 *
 * Heads carry a tag in their two low bits (every head is at least 8-byte
 * aligned: sizes are multiples of SMP_CACHE_BYTES), so whichever CPU frees
 * one knows where it came from.
 */
#ifndef FRAG_WL_SMALL_H
#define FRAG_WL_SMALL_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "page.h"
#include "page_frag.h"
#include "engine.h"

#define WL_SZ_1K		FRAG_SMALL_HEAD_SIZE
#define WL_KMALLOC_ORDER	3u	/* SLUB kmalloc-1k: 8 pages, 32 objects */

enum wl_small_route {
	WL_SMALL_SLICER1K,	/* page_frag_alloc_1k(), 6.3-6.13 napi */
	WL_SMALL_KMALLOC,	/* kmalloc_reserve(), <= 6.2 and >= 6.14 */
	WL_SMALL_DESIGN,	/* what-if: the design under test */
};

#define WL_TAG_MASK		3ul
#define WL_TAG_SLICER		1ul
#define WL_TAG_KMALLOC		2ul

static inline void *wl_tag(void *p, unsigned long tag)
{
	return (void *)((uintptr_t)p | tag);
}

static inline unsigned long wl_tag_of(const void *p)
{
	return (uintptr_t)p & WL_TAG_MASK;
}

static inline void *wl_untag(void *p)
{
	return (void *)((uintptr_t)p & ~(uintptr_t)WL_TAG_MASK);
}

/* struct page_frag_1k, v6.3-v6.13: 4 slices of an order-0 page. */
struct wl_slicer {
	void *va;
	int offset;		/* last slice handed out; counts down */
	uint64_t pages;		/* pages taken */
};

/* page_frag_alloc_1k(): NULL when the page allocator has nothing. */
static inline void *wl_slicer_alloc(struct wl_slicer *nc)
{
	int offset = nc->offset - (int)WL_SZ_1K;
	struct page *page;

	if (likely(offset >= 0))
		goto out;
	page = alloc_pages(GFP_ATOMIC, 0);
	if (!page)
		return NULL;
	nc->pages++;
	nc->va = page_address(page);
	offset = PAGE_SIZE - WL_SZ_1K;
	/* One reference per slice; alloc_pages() gave the first. */
	page_ref_add(page, offset / WL_SZ_1K);
out:
	nc->offset = offset;
	return (char *)nc->va + offset;
}

/* The slices never handed out give their references back (teardown). */
static inline void wl_slicer_drain(struct wl_slicer *nc)
{
	struct page *page;

	if (!nc->va || nc->offset <= 0)
		goto out;
	page = virt_to_page(nc->va);
	if (page_ref_sub_and_test(page, nc->offset / WL_SZ_1K))
		free_unref_page(page, 0);
out:
	nc->va = NULL;
	nc->offset = 0;
}

/**
 * struct wl_kmem - the kmalloc-1k stand-in.
 * @freelist: the owner's objects; the link is the object's first word
 *            (inside NET_SKB_PAD, which nothing writes).
 * @remote:   objects freed by other CPUs, taken in one exchange.
 * @slab:     every slab's head page, returned at the end.
 */
struct wl_kmem {
	void *freelist;
	struct page **slab;
	long nr_slabs, cap;
	uint64_t allocs, slab_pages, remote_takes;
	_Alignas(64) _Atomic(void *) remote;
	uint64_t frees_remote;	/* written by the remote CPU only */
};

static inline void wl_kmem_init(struct wl_kmem *c)
{
	memset(c, 0, sizeof(*c));
	atomic_init(&c->remote, NULL);
}

static noinline void *wl_kmem_refill(struct wl_kmem *c)
{
	unsigned int order = WL_KMALLOC_ORDER, i, n;
	struct page *page;
	char *base;

	/* Objects other CPUs gave back come first (SLUB: slab->freelist). */
	c->freelist = atomic_exchange_explicit(&c->remote, NULL,
					       memory_order_acquire);
	if (c->freelist) {
		c->remote_takes++;
		return c->freelist;
	}
	if (c->nr_slabs == c->cap) {
		long cap = c->cap ? c->cap * 2 : 64;
		struct page **s = realloc(c->slab, cap * sizeof(*s));

		if (!s)
			return NULL;
		c->slab = s;
		c->cap = cap;
	}
	/* allocate_slab(): the preferred order without reclaim, then order 0. */
	page = alloc_pages(GFP_ATOMIC | __GFP_COMP | __GFP_NOWARN |
			   __GFP_NORETRY | __GFP_NOMEMALLOC, order);
	if (!page) {
		order = 0;
		page = alloc_pages(GFP_ATOMIC | __GFP_NOMEMALLOC, 0);
		if (!page)
			return NULL;
	}
	c->slab[c->nr_slabs++] = page;
	c->slab_pages += 1u << order;
	base = page_address(page);
	n = (PAGE_SIZE << order) / WL_SZ_1K;
	for (i = 0; i < n; i++)
		*(void **)(base + i * WL_SZ_1K) =
			i + 1 < n ? base + (i + 1) * WL_SZ_1K : NULL;
	c->freelist = base;
	return base;
}

/* kmalloc(1024, GFP_ATOMIC) on the owner CPU. */
static inline void *wl_kmalloc(struct wl_kmem *c)
{
	void *obj = c->freelist;

	if (unlikely(!obj)) {
		obj = wl_kmem_refill(c);
		if (!obj)
			return NULL;
	}
	c->freelist = *(void **)obj;
	c->allocs++;
	return obj;
}

/* kfree() on the owner CPU. */
static inline void wl_kfree_local(struct wl_kmem *c, void *obj)
{
	*(void **)obj = c->freelist;
	c->freelist = obj;
}

/* kfree() on another CPU: one CAS onto the remote list. */
static inline void wl_kfree_remote(struct wl_kmem *c, void *obj)
{
	void *old = atomic_load_explicit(&c->remote, memory_order_relaxed);

	do {
		*(void **)obj = old;
	} while (!atomic_compare_exchange_weak_explicit(&c->remote, &old, obj,
							memory_order_release,
							memory_order_relaxed));
	c->frees_remote++;
}

/* Every object is back: return the slabs (one reference each). */
static inline void wl_kmem_exit(struct wl_kmem *c)
{
	long i;

	for (i = 0; i < c->nr_slabs; i++)
		put_page(c->slab[i]);
	free(c->slab);
	c->slab = NULL;
	c->nr_slabs = c->cap = 0;
	c->freelist = NULL;
	atomic_store(&c->remote, NULL);
}

/**
 * struct wl_small - the rx path's small-head allocators, owned by the rx
 * CPU.  Heads from them are tagged; wl_small_free() dispatches.
 */
struct wl_small {
	struct wl_slicer slicer;
	struct wl_kmem kmem;
};

/* Free a tagged head; @remote: on a CPU other than the owner. */
static inline void wl_small_free(struct wl_small *s, void *p, bool remote)
{
	void *va = wl_untag(p);

	if (wl_tag_of(p) == WL_TAG_SLICER)
		page_frag_free(va);		/* skb_free_frag() */
	else if (remote)
		wl_kfree_remote(&s->kmem, va);
	else
		wl_kfree_local(&s->kmem, va);
}

#endif /* FRAG_WL_SMALL_H */
