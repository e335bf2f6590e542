// SPDX-License-Identifier: GPL-2.0-only
/*
 * api.c - the shared library's exports for in-process use (cffi, tests,
 * exploration).  Built with FRAG_STATS and FRAG_DEBUG, never timed.
 * Calls go through the ops table here: speed does not matter, every
 * design being reachable by name does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "frag.h"
#include "fraglib.cffi.h"

int fraglib_pages_init(size_t arena_bytes, size_t max_pages,
		       double high_order_fail, double pfmemalloc_rate,
		       uint64_t seed, int init_on_alloc)
{
	struct frag_pages_cfg cfg = {
		.arena_bytes = arena_bytes,
		.max_pages = max_pages,
		.high_order_fail = high_order_fail,
		.pfmemalloc_rate = pfmemalloc_rate,
		.seed = seed,
		.init_on_alloc = init_on_alloc,
	};

	return frag_pages_init(&cfg);
}

int fraglib_ndesigns(void)
{
	int n = 0;

	while (frag_designs[n])
		n++;
	return n;
}

const struct frag_ops *fraglib_design_at(int i)
{
	return i >= 0 && i < fraglib_ndesigns() ? frag_designs[i] : NULL;
}

struct frag_box *fraglib_cache_new(const char *design)
{
	const struct frag_ops *ops = frag_design_find(design);
	struct frag_box *box;

	if (!ops || !frag_pages_ready())
		return NULL;
	if (posix_memalign((void **)&box, 64, sizeof(*box)))
		return NULL;
	memset(box, 0, sizeof(*box));
	box->ops = ops;
	ops->init(box->cache);
	return box;
}

void fraglib_cache_destroy(struct frag_box *box)
{
	free(box);
}

const struct frag_stats *fraglib_cache_stats(const struct frag_box *box)
{
	return &box->stats;
}

void *fraglib_alloc(struct frag_box *box, unsigned int fragsz,
		    unsigned int align_mask)
{
	return box->ops->alloc(box->cache, fragsz, align_mask);
}

void fraglib_free(struct frag_box *box, void *addr)
{
	box->ops->free(addr);
}

void fraglib_drain(struct frag_box *box)
{
	box->ops->drain(box->cache);
}

void fraglib_inspect(const struct frag_box *box, struct frag_state *st)
{
	memset(st, 0, sizeof(*st));
	box->ops->inspect(box->cache, st);
}

int fraglib_prepare(struct frag_box *box, unsigned int fragsz,
		    unsigned int align_mask, struct frag_prepared *pf)
{
	if (!box->ops->prepare)
		return -95;	/* -EOPNOTSUPP */
	return box->ops->prepare(box->cache, fragsz, align_mask, pf);
}

void *fraglib_commit(struct frag_box *box, const struct frag_prepared *pf,
		     unsigned int used, int ref)
{
	if (!box->ops->commit)
		return NULL;
	return box->ops->commit(box->cache, pf, used, ref);
}

/* Refcount of the head page holding @addr, or -1 outside the arena. */
int fraglib_page_refcount(const void *addr)
{
	if (!frag_pages_ready() || !frag_addr_in_arena(addr))
		return -1;
	return page_ref_count(virt_to_head_page(addr));
}

/* Head page's order and pfmemalloc flag, for tests. */
int fraglib_page_order(const void *addr)
{
	if (!frag_pages_ready() || !frag_addr_in_arena(addr))
		return -1;
	return (int)compound_order(virt_to_head_page(addr));
}

int fraglib_page_is_pfmemalloc(const void *addr)
{
	if (!frag_pages_ready() || !frag_addr_in_arena(addr))
		return -1;
	return page_is_pfmemalloc(virt_to_head_page(addr));
}

/* Offset of @addr from its head page's start. */
long fraglib_page_offset(const void *addr)
{
	struct page *head;

	if (!frag_pages_ready() || !frag_addr_in_arena(addr))
		return -1;
	head = virt_to_head_page(addr);
	return (const char *)addr - (const char *)page_address(head);
}

int fraglib_in_arena(const void *addr)
{
	return frag_pages_ready() && frag_addr_in_arena(addr);
}

void fraglib_pages_stats(struct frag_pages_stats *st)
{
	frag_pages_get_stats(st);
}

int fraglib_pages_check(char *msg, size_t len)
{
	return frag_pages_check(msg, len);
}

void fraglib_pages_drain_pcp(void)
{
	frag_pages_drain_pcp();
}

void fraglib_pages_pcp(unsigned int cpu, struct frag_pcp_state *st)
{
	frag_pages_pcp_state(cpu, st);
}

int fraglib_workload_limits(const char *workload, const char *design,
			    unsigned int max_frag, const char **keys,
			    const char **values, int n, char *err, size_t len)
{
	const struct frag_workload_info *wi = frag_workload_info_find(workload);
	struct frag_params p;
	int i;

	if (!wi) {
		snprintf(err, len, "invalid workload=%s: allowed a registered "
			 "workload", workload);
		return -1;
	}
	frag_params_defaults(&p);
	snprintf(p.workload, sizeof(p.workload), "%s", workload);
	for (i = 0; i < n; i++)
		if (frag_params_set(&p, keys[i], values[i], err, len))
			return -1;
	return wi->limits ? wi->limits(&p, design, max_frag, err, len) : 0;
}
