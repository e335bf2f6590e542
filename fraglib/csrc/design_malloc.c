// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_malloc.c - baseline: the C library's malloc()/aligned_alloc()
 * and free().  Not a kernel design: it is the user-space allocator every
 * number here can be compared with (a per-thread-cached general-purpose
 * allocator, glibc's unless the engine is run with another preloaded).
 * Fragments do not live in model pages, so page counters stay at 0 and
 * refcount questions do not apply.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include "frag.h"

/* Nothing to keep between calls. */
struct malloc_cache {
};
_Static_assert(sizeof(struct malloc_cache) == 0, "stateless");

void malloc_init(void *cache)
{
	(void)cache;
}

void *malloc_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	/* align_mask is -align, so ~align_mask is align - 1. */
	size_t align = (size_t)~align_mask + 1;
	size_t size = fragsz;
	void *p;

	if (likely(align <= alignof(max_align_t))) {
		p = malloc(size);
	} else {
		/* C11 wants the size to be a multiple of the alignment. */
		size = (size + align - 1) & ~(align - 1);
		p = aligned_alloc(align, size);
	}
	if (unlikely(!p)) {
		FRAG_STAT_INC(cache, alloc_failures);
		return NULL;
	}
	FRAG_STAT_INC(cache, allocs);
	FRAG_STAT_ADD(cache, bytes_requested, fragsz);
	FRAG_STAT_ADD(cache, bytes_consumed, size);
	return p;
}

void malloc_free(void *addr)
{
	free(addr);
}

void malloc_drain(void *cache)
{
	(void)cache;
}

const struct frag_ops frag_ops_malloc = {
	.name		= "malloc",
	.mirrors	= "baseline: C library malloc()/aligned_alloc() + free() "
			  "(no model pages)",
	.struct_size	= sizeof(struct malloc_cache),
	.caps		= FRAG_CAP_ALIGN,
	.max_frag	= 0,	/* up to a page */
	.init		= malloc_init,
	.alloc		= malloc_alloc,
	.free		= malloc_free,
	.drain		= malloc_drain,
	.inspect	= frag_inspect_no_page,
};
