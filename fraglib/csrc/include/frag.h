/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * frag.h - the one interface every page-fragment design implements.
 *
 * A design is a user-space re-implementation of one allocator from the
 * 2024 netdev page_frag debate.  Each lives in its own design_<name>.c and
 * exports exactly one ops table plus the direct entry points the engine
 * calls (so the hot loop makes a direct call, as net/ calls mm/ in the
 * kernel, never an indirect one the kernel does not make).
 */
#ifndef FRAG_H
#define FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page.h"

/* The debate's sizes (include/linux/mm_types.h until 6.11). */
#define PAGE_FRAG_CACHE_MAX_SIZE	32768u
#define PAGE_FRAG_CACHE_MAX_ORDER	3u
_Static_assert((FRAG_PAGE_SIZE << PAGE_FRAG_CACHE_MAX_ORDER) ==
	       PAGE_FRAG_CACHE_MAX_SIZE, "MAX_ORDER must match MAX_SIZE");

/* Capabilities a design advertises in its ops table. */
#define FRAG_CAP_ALIGN		0x1u	/* honours align_mask */
#define FRAG_CAP_PREPARE	0x2u	/* prepare/commit (Part-2 API) */
#define FRAG_CAP_PAGES		0x4u	/* fragments live in model pages */
#define FRAG_CAP_HIGH_ORDER	0x8u	/* tries an order-3 page first */
#define FRAG_CAP_ALIASED	0x10u	/* fragments share memory (null) */

/* Storage big enough for any design's cache struct. */
#define FRAG_CACHE_STORAGE	64

/**
 * struct frag_stats - per-cache counters, compiled in with -DFRAG_STATS.
 *
 * The timed build leaves FRAG_STAT() as (void)0, so it pays nothing.
 */
struct frag_stats {
	uint64_t allocs;		/* fragments handed out */
	uint64_t alloc_failures;	/* NULL returns */
	uint64_t refills;		/* new page taken from the page allocator */
	uint64_t reuses;		/* same page recycled in place */
	uint64_t high_order_fallbacks;	/* order-3 wanted, order-0 taken */
	uint64_t pages_abandoned;	/* page left to its last free */
	uint64_t bytes_requested;	/* sum of fragsz */
	uint64_t bytes_consumed;	/* offset movement incl. align and tails */
	uint64_t commits_noref;		/* prepare/commit without a reference */
};

/**
 * struct frag_box - a cache as the engine and the binding hold it.
 * @cache: the design's own struct, first so container_of is trivial.
 * @stats: counters, only written when built with FRAG_STATS.
 * @ops:   the design.
 */
struct frag_box {
	_Alignas(64) unsigned char cache[FRAG_CACHE_STORAGE];
	struct frag_stats stats;
	const struct frag_ops *ops;
};

#define frag_box_of(nc)	((struct frag_box *)(void *)(nc))

#ifdef FRAG_STATS
#define FRAG_STAT_ADD(nc, field, n)	(frag_box_of(nc)->stats.field += (n))
#else
#define FRAG_STAT_ADD(nc, field, n)	((void)(nc), (void)(n))
#endif
#define FRAG_STAT_INC(nc, field)	FRAG_STAT_ADD(nc, field, 1)

/**
 * struct frag_state - a design-neutral view of a cache, for inspection.
 * @va:       base address of the current page, or NULL if none.
 * @offset:   the design's offset field as stored (meaning differs by design).
 * @size:     bytes of the current page (PAGE_SIZE << order).
 * @bias:     pagecnt_bias or equivalent (0 if the design has none).
 * @pfmemalloc: current page came from the emergency reserves.
 * @order:    order of the current page.
 */
struct frag_state {
	void *va;
	long offset;
	unsigned int size;
	unsigned int bias;
	bool pfmemalloc;
	unsigned int order;
};

/**
 * struct frag_prepared - what prepare() found (mirrors Part-2's page_frag).
 * @va:     address of the first usable byte.
 * @offset: offset of @va within its page.
 * @size:   bytes available from @va (at least what was asked).
 */
struct frag_prepared {
	void *va;
	unsigned int offset;
	unsigned int size;
};

/**
 * struct frag_ops - one design.
 * @name:       registry key, e.g. "topdown".
 * @mirrors:    the kernel version / commit / mail this design mirrors.
 * @struct_size: sizeof the kernel-equivalent cache struct on this build.
 * @caps:       FRAG_CAP_* bits.
 * @init:       zero a cache (page_frag_cache_init).
 * @alloc:      __page_frag_alloc_align(nc, fragsz, gfp, align_mask).
 * @free:       page_frag_free(addr).
 * @drain:      page_frag_cache_drain(nc).
 * @inspect:    fill a struct frag_state.
 * @prepare:    ask for at least @fragsz bytes without consuming (optional).
 * @commit:     consume @used bytes of a prepare(); @ref: take a reference
 *              (a new fragment) or not (merged into the previous one).
 */
struct frag_ops {
	const char *name;
	const char *mirrors;
	unsigned int struct_size;
	unsigned int caps;
	void (*init)(void *nc);
	void *(*alloc)(void *nc, unsigned int fragsz, unsigned int align_mask);
	void (*free)(void *addr);
	void (*drain)(void *nc);
	void (*inspect)(const void *nc, struct frag_state *st);
	int (*prepare)(void *nc, unsigned int fragsz, unsigned int align_mask,
		       struct frag_prepared *pf);
	void *(*commit)(void *nc, const struct frag_prepared *pf,
			unsigned int used, bool ref);
};

/*
 * inspect() of a baseline whose cache holds no page (order0, malloc, null):
 * every field reads as "no current page".
 */
static inline void frag_inspect_no_page(const void *nc, struct frag_state *st)
{
	(void)nc;
	st->va = NULL;
	st->offset = 0;
	st->size = 0;
	st->bias = 0;
	st->pfmemalloc = false;
	st->order = 0;
}

/* Registry (registry.c). */
extern const struct frag_ops *const frag_designs[];
const struct frag_ops *frag_design_find(const char *name);

/*
 * __ALIGN_KERNEL_MASK(x, mask), include/uapi/linux/const.h: round x up to a
 * multiple of mask + 1 (add, then AND).  The designs that align by rounding
 * up (bottom-up offsets, the negative counter, sock.c) share it.
 */
#define __ALIGN_KERNEL_MASK(x, mask)	(((x) + (mask)) & ~(mask))

/*
 * align -> mask, as page_frag_alloc_align() does since v6.9: the caller
 * passes a power of two and the design sees -align.  Returns 0 on a bad
 * align so callers can reject it with -EINVAL.
 */
static inline unsigned int frag_align_mask(unsigned int align)
{
	if (align == 0 || (align & (align - 1)))
		return 0;
	return -align;
}

#endif /* FRAG_H */
