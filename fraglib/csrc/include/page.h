/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * page.h - a user-space model of the kernel's struct page and page allocator.
 *
 * Why a model and not malloc: the costs the debate argued about are the
 * refcount atomics on struct page (a different cache line from the data),
 * virt_to_head_page() on free, and how often the page allocator is hit.
 * So memory comes from one mmap'd arena, prefaulted before any timing, and
 * every 4 KiB page has a 64-byte struct page in a separate array, exactly
 * as the kernel's vmemmap keeps it apart from the data.
 *
 * The allocator is a binary buddy (orders 0..FRAG_MAX_ORDER) behind
 * per-CPU-like LIFO lists for order 0 and order 3 (the kernel's pcp lists
 * cover orders <= PAGE_ALLOC_COSTLY_ORDER), counted in pages as the
 * kernel counts them (page.c).  Fault injection: high-order failure rate,
 * pfmemalloc rate, and a cap on pages in use; init_on_alloc zeroes pages
 * as they are handed out.
 */
#ifndef FRAG_PAGE_H
#define FRAG_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fraglib.cffi.h"	/* FRAG_MAX_ORDER, the stats structs */

#define FRAG_PAGE_SIZE		(1u << FRAG_PAGE_SHIFT)
#define FRAG_PAGE_MASK		(~((uintptr_t)FRAG_PAGE_SIZE - 1))
#define FRAG_NR_CPUS		8	/* pcp lists; threads pick one */

/* Kernel spellings, so designs read like their mm/ source. */
#ifndef PAGE_SIZE
#define PAGE_SIZE		FRAG_PAGE_SIZE
#define PAGE_SHIFT		FRAG_PAGE_SHIFT
#define PAGE_MASK		FRAG_PAGE_MASK
#endif

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#ifndef __always_inline
#define __always_inline		inline __attribute__((always_inline))
#endif
#define noinline		__attribute__((noinline))

/* gfp bits that change the model's behaviour (others are accepted). */
typedef unsigned int gfp_t;
#define __GFP_DIRECT_RECLAIM	0x01u
#define __GFP_COMP		0x02u
#define __GFP_NOWARN		0x04u
#define __GFP_NORETRY		0x08u
#define __GFP_NOMEMALLOC	0x10u	/* never hand out a pfmemalloc page */
#define __GFP_HIGH		0x20u
#define GFP_ATOMIC		(__GFP_HIGH)
#define GFP_KERNEL		(__GFP_DIRECT_RECLAIM)

/* page->flags */
#define PG_head			0x1u
#define PG_tail			0x2u
#define PG_buddy		0x4u	/* free, in a buddy list */
#define PG_pfmemalloc		0x8u
#define PG_pcp			0x10u	/* free, in a pcp list */

/*
 * struct page - 64 bytes, one per 4 KiB of arena.
 * Invariants (checked by frag_pages_check()):
 * - a free page (PG_buddy or PG_pcp) has _refcount 0;
 * - a tail page has compound_head pointing at its head and no refcount use;
 * - order is the block order for buddy/pcp heads and compound heads.
 */
struct page {
	unsigned long flags;
	struct page *lru_next;		/* free lists */
	struct page *lru_prev;
	struct page *compound_head;	/* tail -> head, else NULL */
	unsigned int order;
	atomic_int _refcount;		/* 0 when free */
	unsigned char __pad[64 - 4 * sizeof(void *) - 2 * sizeof(int)];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct page) == 64, "struct page is one cache line");

/**
 * struct frag_pages_cfg - page allocator set-up.
 * @arena_bytes:      arena size; a multiple of 32 KiB (default 16 MiB).
 * @max_pages:        cap on pages in use, 0 = the whole arena.
 * @high_order_fail:  probability that an order > 0 request fails.
 * @pfmemalloc_rate:  probability that a page allocated without
 *                    __GFP_NOMEMALLOC comes from the reserves.
 * @seed:             seed of the fault-injection generator.
 * @init_on_alloc:    zero every page as it is allocated (init_on_alloc=1).
 */
struct frag_pages_cfg {
	size_t arena_bytes;
	size_t max_pages;
	double high_order_fail;
	double pfmemalloc_rate;
	uint64_t seed;
	bool init_on_alloc;
};

/* struct frag_pcp_state, struct frag_pages_stats: fraglib.cffi.h */

extern struct page *frag_mem_map;	/* struct page array */
extern unsigned char *frag_arena;	/* the data */
extern size_t frag_nr_pages;

int frag_pages_init(const struct frag_pages_cfg *cfg);
void frag_pages_exit(void);
/* Bytes of the arena in transparent huge pages; (size_t)-1: unknown. */
size_t frag_pages_huge_bytes(void);
bool frag_pages_ready(void);
void frag_pages_reset_stats(void);
void frag_pages_get_stats(struct frag_pages_stats *st);
/* Returns 0 if every invariant holds, else -1 and a message in @msg. */
int frag_pages_check(char *msg, size_t len);
/* Return every pcp page to the buddy lists (for leak checks). */
void frag_pages_drain_pcp(void);
/* Select the pcp list this thread uses (its "CPU"). */
void frag_set_cpu(unsigned int cpu);
/* Snapshot of one CPU's pcp lists. */
void frag_pages_pcp_state(unsigned int cpu, struct frag_pcp_state *st);

struct page *alloc_pages(gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);

static inline struct page *alloc_page(gfp_t gfp)
{
	return alloc_pages(gfp, 0);
}

/* v6.10+ name of the same operation, used by the page_frag code. */
static inline void free_unref_page(struct page *page, unsigned int order)
{
	__free_pages(page, order);
}

/*
 * page->flags is read without the zone lock (buddy_free() peeks at a
 * neighbour another CPU may be allocating; free paths test PG_tail), so
 * every access is a relaxed atomic, as the kernel's bitops on page->flags
 * are.  On x86 these are plain moves.
 */
static inline unsigned long page_flags(const struct page *page)
{
	return __atomic_load_n(&page->flags, __ATOMIC_RELAXED);
}

static inline void set_page_flags(struct page *page, unsigned long flags)
{
	__atomic_store_n(&page->flags, flags, __ATOMIC_RELAXED);
}

static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - frag_mem_map);
}

static inline void *page_address(const struct page *page)
{
	return frag_arena + ((size_t)page_to_pfn(page) << FRAG_PAGE_SHIFT);
}

static inline struct page *virt_to_page(const void *addr)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)frag_arena;

	return &frag_mem_map[off >> FRAG_PAGE_SHIFT];
}

static inline struct page *compound_head(struct page *page)
{
	return unlikely(page_flags(page) & PG_tail) ? page->compound_head : page;
}

static inline struct page *virt_to_head_page(const void *addr)
{
	return compound_head(virt_to_page(addr));
}

static inline unsigned int compound_order(const struct page *page)
{
	return (page_flags(page) & PG_head) ? page->order : 0;
}

static inline bool page_is_pfmemalloc(const struct page *page)
{
	return page_flags(page) & PG_pfmemalloc;
}

/* True if @addr lies inside the arena (and so has a struct page). */
static inline bool frag_addr_in_arena(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)frag_arena;

	return a >= b && a < b + (frag_nr_pages << FRAG_PAGE_SHIFT);
}

/* ---- refcounting, the same atomics the kernel's page_ref.h uses ---- */

#ifndef FRAG_DEBUG
#define FRAG_DEBUG 0
#endif

void frag_page_bug(const struct page *page, const char *what);

#if FRAG_DEBUG
#define FRAG_BUG_ON(cond, page, what) \
	do { if (unlikely(cond)) frag_page_bug(page, what); } while (0)
#else
#define FRAG_BUG_ON(cond, page, what) ((void)0)
#endif

static inline int page_ref_count(const struct page *page)
{
	return atomic_load_explicit(&((struct page *)page)->_refcount,
				    memory_order_relaxed);
}

static inline void set_page_count(struct page *page, int v)
{
	atomic_store_explicit(&page->_refcount, v, memory_order_relaxed);
}

static inline void page_ref_add(struct page *page, int nr)
{
	atomic_fetch_add_explicit(&page->_refcount, nr, memory_order_relaxed);
}

static inline void page_ref_inc(struct page *page)
{
	page_ref_add(page, 1);
}

static inline void get_page(struct page *page)
{
	page = compound_head(page);
	FRAG_BUG_ON(page_ref_count(page) <= 0, page, "get_page on free page");
	page_ref_inc(page);
}

/* Like the kernel: a full barrier on the way to zero. */
static inline bool page_ref_sub_and_test(struct page *page, int nr)
{
	int old = atomic_fetch_sub_explicit(&page->_refcount, nr,
					    memory_order_acq_rel);

	FRAG_BUG_ON(old < nr, page, "refcount underflow");
	return old == nr;
}

static inline bool put_page_testzero(struct page *page)
{
	return page_ref_sub_and_test(page, 1);
}

static inline void put_page(struct page *page)
{
	page = compound_head(page);
	if (put_page_testzero(page))
		__free_pages(page, compound_order(page));
}

#endif /* FRAG_PAGE_H */
