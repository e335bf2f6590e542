// SPDX-License-Identifier: MIT
/*
 * page.c - the page allocator model: arena, struct page array, buddy,
 * per-CPU-like lists, fault injection.  See page.h for why it exists.
 *
 * Locking: the buddy lists sit behind one spinlock (zone->lock); each pcp
 * list has its own, nearly always uncontended, lock (the kernel's
 * pcp_spin_trylock), so two threads that share a "CPU" stay correct.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "page.h"

#define PCP_HIGH	64	/* pages on a pcp list before a flush */
#define PCP_BATCH	16	/* pages moved per refill/flush */

struct page *frag_mem_map;
unsigned char *frag_arena;
size_t frag_nr_pages;

struct free_area {
	struct page *head;	/* doubly linked via lru_next/lru_prev */
	unsigned long nr_free;
};

struct pcp_list {
	atomic_flag lock;
	struct page *head;	/* LIFO, singly linked via lru_next */
	unsigned int count;	/* blocks, not pages */
};

static struct {
	atomic_flag lock;
	struct free_area area[FRAG_MAX_ORDER + 1];
	struct pcp_list pcp[FRAG_NR_CPUS][FRAG_PCP_ORDERS];
	struct frag_pages_cfg cfg;
	size_t cap;
	uint64_t fail_threshold;	/* high_order_fail scaled to 2^64 */
	uint64_t pfmemalloc_threshold;
} zone = { .lock = ATOMIC_FLAG_INIT };

static struct {
	atomic_ullong alloc_calls[FRAG_MAX_ORDER + 1];
	atomic_ullong alloc_failures;
	atomic_ullong injected_failures;
	atomic_ullong pfmemalloc_pages;
	atomic_ullong pages_allocated;
	atomic_ullong pages_freed;
	atomic_llong pages_in_use;
	atomic_llong peak_pages_in_use;
} pstat;

static _Thread_local unsigned int this_cpu;
static _Thread_local uint64_t rng_state;

void frag_page_bug(const struct page *page, const char *what)
{
	fprintf(stderr, "fraglib: BUG: %s (pfn %lu, refcount %d, flags %#lx)\n",
		what, page_to_pfn(page), page_ref_count(page), page_flags(page));
	abort();
}

static void spin_lock(atomic_flag *l)
{
	while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
		__builtin_ia32_pause();
}

static void spin_unlock(atomic_flag *l)
{
	atomic_flag_clear_explicit(l, memory_order_release);
}

void frag_set_cpu(unsigned int cpu)
{
	this_cpu = cpu % FRAG_NR_CPUS;
	rng_state = 0;
}

/* splitmix64: cheap, seeded, per-thread; only runs on the refill path. */
static uint64_t fault_rand(void)
{
	uint64_t z;

	if (!rng_state)
		rng_state = zone.cfg.seed * 0x9e3779b97f4a7c15ull + this_cpu + 1;
	z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t prob_threshold(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return UINT64_MAX;
	return (uint64_t)(p * 18446744073709551616.0);
}

/* ---- buddy lists (zone->lock held) ---- */

static void area_add(struct page *page, unsigned int order)
{
	struct free_area *fa = &zone.area[order];

	set_page_flags(page, PG_buddy);
	page->order = order;
	page->lru_prev = NULL;
	page->lru_next = fa->head;
	if (fa->head)
		fa->head->lru_prev = page;
	fa->head = page;
	fa->nr_free++;
}

static void area_del(struct page *page, unsigned int order)
{
	struct free_area *fa = &zone.area[order];

	if (page->lru_prev)
		page->lru_prev->lru_next = page->lru_next;
	else
		fa->head = page->lru_next;
	if (page->lru_next)
		page->lru_next->lru_prev = page->lru_prev;
	set_page_flags(page, page_flags(page) & ~PG_buddy);
	page->lru_next = page->lru_prev = NULL;
	fa->nr_free--;
}

static void buddy_free(unsigned long pfn, unsigned int order)
{
	while (order < FRAG_MAX_ORDER) {
		unsigned long buddy = pfn ^ (1ul << order);
		struct page *bp;

		if (buddy + (1ul << order) > frag_nr_pages)
			break;
		bp = &frag_mem_map[buddy];
		if (!(page_flags(bp) & PG_buddy) || bp->order != order)
			break;
		area_del(bp, order);
		pfn &= ~(1ul << order);
		order++;
	}
	area_add(&frag_mem_map[pfn], order);
}

static long buddy_alloc(unsigned int order)
{
	unsigned int o;
	struct page *page;
	unsigned long pfn;

	for (o = order; o <= FRAG_MAX_ORDER; o++)
		if (zone.area[o].head)
			break;
	if (o > FRAG_MAX_ORDER)
		return -1;
	page = zone.area[o].head;
	area_del(page, o);
	pfn = page_to_pfn(page);
	while (o > order) {	/* hand the upper halves back */
		o--;
		area_add(&frag_mem_map[pfn + (1ul << o)], o);
	}
	return (long)pfn;
}

/* ---- pcp lists ---- */

static int pcp_index(unsigned int order)
{
	return order == 0 ? 0 : order == 3 ? 1 : -1;
}

static struct page *pcp_alloc(unsigned int order)
{
	struct pcp_list *pcp = &zone.pcp[this_cpu][pcp_index(order)];
	struct page *page;

	spin_lock(&pcp->lock);
	if (unlikely(!pcp->head)) {
		int i;

		spin_lock(&zone.lock);
		for (i = 0; i < PCP_BATCH; i++) {
			long pfn = buddy_alloc(order);

			if (pfn < 0)
				break;
			page = &frag_mem_map[pfn];
			set_page_flags(page, PG_pcp);
			page->order = order;
			page->lru_next = pcp->head;
			pcp->head = page;
			pcp->count++;
		}
		spin_unlock(&zone.lock);
	}
	page = pcp->head;
	if (page) {
		pcp->head = page->lru_next;
		pcp->count--;
		page->lru_next = NULL;
		set_page_flags(page, 0);
	}
	spin_unlock(&pcp->lock);
	return page;
}

static void pcp_flush(struct pcp_list *pcp, unsigned int n)
{
	spin_lock(&zone.lock);
	while (n-- && pcp->head) {
		struct page *page = pcp->head;

		pcp->head = page->lru_next;
		pcp->count--;
		set_page_flags(page, 0);
		buddy_free(page_to_pfn(page), page->order);
	}
	spin_unlock(&zone.lock);
}

static void pcp_free(struct page *page, unsigned int order)
{
	struct pcp_list *pcp = &zone.pcp[this_cpu][pcp_index(order)];

	spin_lock(&pcp->lock);
	set_page_flags(page, PG_pcp);
	page->order = order;
	page->lru_next = pcp->head;
	pcp->head = page;
	if (++pcp->count > PCP_HIGH)
		pcp_flush(pcp, PCP_BATCH);
	spin_unlock(&pcp->lock);
}

void frag_pages_drain_pcp(void)
{
	int c, i;

	for (c = 0; c < FRAG_NR_CPUS; c++)
		for (i = 0; i < FRAG_PCP_ORDERS; i++) {
			struct pcp_list *pcp = &zone.pcp[c][i];

			spin_lock(&pcp->lock);
			pcp_flush(pcp, UINT32_MAX);
			spin_unlock(&pcp->lock);
		}
}

/* ---- the allocator ---- */

static void account(long pages)
{
	long long now = atomic_fetch_add(&pstat.pages_in_use, pages) + pages;
	long long peak = atomic_load(&pstat.peak_pages_in_use);

	while (now > peak &&
	       !atomic_compare_exchange_weak(&pstat.peak_pages_in_use, &peak, now))
		;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	unsigned long i, nr = 1ul << order;
	struct page *page = NULL;
	long pfn;

	atomic_fetch_add_explicit(&pstat.alloc_calls[order], 1,
				  memory_order_relaxed);
	if (order && zone.fail_threshold && fault_rand() < zone.fail_threshold) {
		atomic_fetch_add(&pstat.injected_failures, 1);
		goto fail;
	}
	if ((size_t)atomic_load(&pstat.pages_in_use) + nr > zone.cap)
		goto fail;

	if (pcp_index(order) >= 0) {
		page = pcp_alloc(order);
	} else {
		spin_lock(&zone.lock);
		pfn = buddy_alloc(order);
		spin_unlock(&zone.lock);
		page = pfn < 0 ? NULL : &frag_mem_map[pfn];
	}
	if (!page)
		goto fail;

	set_page_flags(page, 0);
	page->order = order;
	if (order && (gfp & __GFP_COMP)) {
		set_page_flags(page, PG_head);
		for (i = 1; i < nr; i++) {
			set_page_flags(&page[i], PG_tail);
			page[i].compound_head = page;
		}
	}
	if (!(gfp & __GFP_NOMEMALLOC) && zone.pfmemalloc_threshold &&
	    fault_rand() < zone.pfmemalloc_threshold) {
		set_page_flags(page, page_flags(page) | PG_pfmemalloc);
		atomic_fetch_add(&pstat.pfmemalloc_pages, 1);
	}
	set_page_count(page, 1);
	atomic_fetch_add(&pstat.pages_allocated, nr);
	account((long)nr);
	return page;
fail:
	atomic_fetch_add(&pstat.alloc_failures, 1);
	return NULL;
}

void __free_pages(struct page *page, unsigned int order)
{
	unsigned long i, nr = 1ul << order;

	FRAG_BUG_ON(page_ref_count(page) != 0, page, "freeing a referenced page");
	FRAG_BUG_ON(page_flags(page) & (PG_buddy | PG_pcp | PG_tail), page,
		    "double free or freeing a tail page");
	for (i = 1; i < nr && (page_flags(page) & PG_head); i++) {
		set_page_flags(&page[i], 0);
		page[i].compound_head = NULL;
	}
	atomic_fetch_add(&pstat.pages_freed, nr);
	account(-(long)nr);
	if (pcp_index(order) >= 0) {
		pcp_free(page, order);
	} else {
		spin_lock(&zone.lock);
		buddy_free(page_to_pfn(page), order);
		spin_unlock(&zone.lock);
	}
}

int frag_pages_init(const struct frag_pages_cfg *cfg)
{
	size_t bytes = cfg->arena_bytes ? cfg->arena_bytes : 64u << 20;
	const size_t unit = (size_t)FRAG_PAGE_SIZE << 3;
	unsigned long pfn;
	int i;

	if (bytes % unit || cfg->high_order_fail < 0 || cfg->high_order_fail > 1 ||
	    cfg->pfmemalloc_rate < 0 || cfg->pfmemalloc_rate > 1)
		return -EINVAL;
	frag_pages_exit();

	frag_arena = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (frag_arena == MAP_FAILED) {
		frag_arena = NULL;
		return -ENOMEM;
	}
	/* Prefault: every page written once, so the timed region never faults. */
	memset(frag_arena, 0, bytes);
	frag_nr_pages = bytes >> FRAG_PAGE_SHIFT;
	if (posix_memalign((void **)&frag_mem_map, 64,
			   frag_nr_pages * sizeof(struct page))) {
		munmap(frag_arena, bytes);
		frag_arena = NULL;
		return -ENOMEM;
	}
	memset(frag_mem_map, 0, frag_nr_pages * sizeof(struct page));
	memset(zone.area, 0, sizeof(zone.area));
	memset(zone.pcp, 0, sizeof(zone.pcp));
	zone.cfg = *cfg;
	zone.cfg.arena_bytes = bytes;
	zone.cap = cfg->max_pages && cfg->max_pages < frag_nr_pages ?
		   cfg->max_pages : frag_nr_pages;
	zone.fail_threshold = prob_threshold(cfg->high_order_fail);
	zone.pfmemalloc_threshold = prob_threshold(cfg->pfmemalloc_rate);
	rng_state = 0;

	/* Hand the arena to the buddy lists in the largest aligned blocks. */
	for (pfn = 0; pfn < frag_nr_pages;) {
		unsigned int order = FRAG_MAX_ORDER;

		while ((pfn & ((1ul << order) - 1)) ||
		       pfn + (1ul << order) > frag_nr_pages)
			order--;
		area_add(&frag_mem_map[pfn], order);
		pfn += 1ul << order;
	}
	for (i = 0; i <= FRAG_MAX_ORDER; i++)
		atomic_store(&pstat.alloc_calls[i], 0);
	frag_pages_reset_stats();
	atomic_store(&pstat.pages_in_use, 0);
	atomic_store(&pstat.peak_pages_in_use, 0);
	return 0;
}

void frag_pages_exit(void)
{
	if (frag_arena)
		munmap(frag_arena, frag_nr_pages << FRAG_PAGE_SHIFT);
	free(frag_mem_map);
	frag_arena = NULL;
	frag_mem_map = NULL;
	frag_nr_pages = 0;
}

bool frag_pages_ready(void)
{
	return frag_arena != NULL;
}

void frag_pages_reset_stats(void)
{
	int i;

	for (i = 0; i <= FRAG_MAX_ORDER; i++)
		atomic_store(&pstat.alloc_calls[i], 0);
	atomic_store(&pstat.alloc_failures, 0);
	atomic_store(&pstat.injected_failures, 0);
	atomic_store(&pstat.pfmemalloc_pages, 0);
	atomic_store(&pstat.pages_allocated, 0);
	atomic_store(&pstat.pages_freed, 0);
	atomic_store(&pstat.peak_pages_in_use, atomic_load(&pstat.pages_in_use));
}

void frag_pages_get_stats(struct frag_pages_stats *st)
{
	int i;

	for (i = 0; i <= FRAG_MAX_ORDER; i++)
		st->alloc_calls[i] = atomic_load(&pstat.alloc_calls[i]);
	st->alloc_failures = atomic_load(&pstat.alloc_failures);
	st->injected_failures = atomic_load(&pstat.injected_failures);
	st->pfmemalloc_pages = atomic_load(&pstat.pfmemalloc_pages);
	st->pages_allocated = atomic_load(&pstat.pages_allocated);
	st->pages_freed = atomic_load(&pstat.pages_freed);
	st->pages_in_use = (uint64_t)atomic_load(&pstat.pages_in_use);
	st->peak_pages_in_use = (uint64_t)atomic_load(&pstat.peak_pages_in_use);
}

int frag_pages_check(char *msg, size_t len)
{
	unsigned long pfn, free_pages = 0;
	int c, i;

	for (pfn = 0; pfn < frag_nr_pages; pfn++) {
		struct page *p = &frag_mem_map[pfn];

		if ((page_flags(p) & (PG_buddy | PG_pcp)) && page_ref_count(p)) {
			snprintf(msg, len, "free page %lu has refcount %d",
				 pfn, page_ref_count(p));
			return -1;
		}
		if ((page_flags(p) & PG_tail) && !p->compound_head) {
			snprintf(msg, len, "tail page %lu has no head", pfn);
			return -1;
		}
		if (page_flags(p) & PG_buddy)
			free_pages += 1ul << p->order;
	}
	for (c = 0; c < FRAG_NR_CPUS; c++)
		for (i = 0; i < FRAG_PCP_ORDERS; i++) {
			struct page *p;

			for (p = zone.pcp[c][i].head; p; p = p->lru_next)
				free_pages += 1ul << p->order;
		}
	if (free_pages + (unsigned long)atomic_load(&pstat.pages_in_use) !=
	    frag_nr_pages) {
		snprintf(msg, len, "%lu free + %lld in use != %zu pages",
			 free_pages, (long long)atomic_load(&pstat.pages_in_use),
			 frag_nr_pages);
		return -1;
	}
	if (msg && len)
		msg[0] = '\0';
	return 0;
}
