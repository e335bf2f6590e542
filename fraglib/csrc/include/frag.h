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

/* Capabilities a design advertises (FRAG_CAP_*): fraglib.cffi.h. */

/* Storage big enough for any design's cache struct. */
#define FRAG_CACHE_STORAGE	64

/* struct frag_stats: fraglib.cffi.h */

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

/*
 * struct frag_state, struct frag_prepared and struct frag_ops (one design,
 * with its max_frag): fraglib.cffi.h, the one definition C and Python share.
 */

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

/*
 * An EXPORT_SYMBOL'd function seen from its caller: a real call, and no
 * interprocedural shortcuts (constprop/isra clones, return-value or
 * clobber knowledge) that a separate translation unit would not allow.
 */
#if defined(__clang__)
#define __frag_exported		noinline
#else
#define __frag_exported		__attribute__((__noinline__, __noipa__))
#endif

#endif /* FRAG_H */
