// SPDX-License-Identifier: GPL-2.0-only
/*
 * design_null.c - baseline: hand out the same static buffer every time,
 * free nothing.  What remains of a measurement with this design is the
 * harness itself (the loop, the timer reads, the call): subtract it from
 * the others to get the allocator alone.
 *
 * Fragments alias (FRAG_CAP_ALIASED): never write through two at once.
 * Requests above the buffer (32 KiB, the largest fragment any page design
 * serves) return NULL; the buffer is page aligned, so every alignment up
 * to PAGE_SIZE holds.
 */
#include "frag.h"

#define NULL_BUF_SIZE	PAGE_FRAG_CACHE_MAX_SIZE

static _Alignas(PAGE_SIZE) unsigned char null_buf[NULL_BUF_SIZE];

/* Nothing to keep between calls. */
struct null_cache {
};
_Static_assert(sizeof(struct null_cache) == 0, "stateless");
_Static_assert(NULL_BUF_SIZE % PAGE_SIZE == 0, "whole pages");

void null_init(void *cache)
{
	(void)cache;
}

void *null_alloc(void *cache, unsigned int fragsz, unsigned int align_mask)
{
	(void)align_mask;	/* page aligned: every align <= PAGE_SIZE */
	if (unlikely(fragsz > NULL_BUF_SIZE)) {
		FRAG_STAT_INC(cache, alloc_failures);
		return NULL;
	}
	FRAG_STAT_INC(cache, allocs);
	FRAG_STAT_ADD(cache, bytes_requested, fragsz);
	return null_buf;
}

void null_free(void *addr)
{
	(void)addr;
}

void null_drain(void *cache)
{
	(void)cache;
}

const struct frag_ops frag_ops_null = {
	.name		= "null",
	.mirrors	= "baseline: one static buffer, free does nothing "
			  "(measures the harness)",
	.struct_size	= sizeof(struct null_cache),
	.caps		= FRAG_CAP_ALIGN | FRAG_CAP_ALIASED,
	.max_frag	= 0,	/* up to a page */
	.init		= null_init,
	.alloc		= null_alloc,
	.free		= null_free,
	.drain		= null_drain,
	.inspect	= frag_inspect_no_page,
};
