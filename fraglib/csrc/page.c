// SPDX-License-Identifier: GPL-2.0-only
/*
 * page.c - the page allocator model: arena, struct page array, buddy,
 * per-CPU-like lists, fault injection.  See page.h for why it exists.
 *
 * Locking: the buddy lists sit behind one spinlock (zone->lock); each pcp
 * list has its own, nearly always uncontended, lock (the kernel's
 * pcp_spin_trylock), so two threads that share a "CPU" stay correct.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "page.h"

/*
 * The per-CPU lists count PAGES, not blocks, as mm/page_alloc.c has since
 * 44042b449872 ("mm/page_alloc: allow high-order pages to be stored on
 * the per-cpu lists", 5.13) and still does in 6.13: one pcp->count per CPU
 * for all its lists, += 1 << order on free, += alloced << order on a bulk
 * refill, and pcp->high and pcp->batch are page counts.  So a CPU's lists
 * hold at most PCP_HIGH / 8 order-3 blocks, and a bulk refill takes
 * max(batch >> order, 2) of them (nr_pcp_alloc()).
 *
 * Modelled as in 6.8-6.13 with high_min == high_max (no high
 * auto-tuning): alloc_factor doubles order-0 refills while a CPU only
 * allocates, free_count grows the flush size while it only frees
 * (nr_pcp_free()), and free_pcppages_bulk() drains the cold end, the list
 * just freed to first, then round robin.  Not modelled: the free_high
 * shortcut for consecutive order 1-3 frees (PCPF_PREV_FREE_HIGH_ORDER),
 * migratetypes, and the zone watermarks that move high.
 */
#define PCP_HIGH		64	/* pcp->high, pages */
#define PCP_BATCH		16	/* pcp->batch, pages */
#define PCP_BATCH_SCALE_MAX	5	/* CONFIG_PCP_BATCH_SCALE_MAX default */
_Static_assert(PCP_HIGH >= 2 * PCP_BATCH,
	       "nr_pcp_free() clamps to [batch, high - batch]");
_Static_assert((PCP_HIGH >> 3) >= 1, "an order-3 block fits under high");

struct page *frag_mem_map;
unsigned char *frag_arena;
size_t frag_nr_pages;

/*
 * The arena stands for the kernel's direct map, which x86-64 maps with
 * 2 MiB or 1 GiB pages: page_address() of neighbouring pfns is physically
 * contiguous and costs few TLB entries.  So the arena is 2 MiB aligned
 * and asks for transparent huge pages.  That is also what makes start-up
 * cheap: prefaulting 16 MiB is 8 faults instead of 4096 (12 ms of every
 * engine process at 4 KiB pages).  Where THP is off or no huge page is
 * free the arena stays in 4 KiB pages; frag_pages_huge_bytes() says which
 * a run got.
 */
#define ARENA_ALIGN	(2ul << 20)
static void *arena_map;		/* the mapping, before alignment */
static size_t arena_map_bytes;

struct free_area {
	struct page *head;	/* doubly linked via lru_next/lru_prev */
	unsigned long nr_free;
};

/*
 * One CPU's lists (struct per_cpu_pages): doubly linked through
 * lru_next/lru_prev; alloc and free use the hot head, flushes take the
 * cold tail (list_last_entry in free_pcppages_bulk()).
 */
struct per_cpu_pages {
	atomic_flag lock;
	int count;			/* PAGES on all lists, not blocks */
	int free_count;			/* pages freed, halved per alloc */
	unsigned int alloc_factor;	/* order-0 refill scale, shift */
	struct page *head[FRAG_PCP_ORDERS];
	struct page *tail[FRAG_PCP_ORDERS];
	unsigned int nr[FRAG_PCP_ORDERS];	/* blocks per list */
};

static struct {
	atomic_flag lock;
	struct free_area area[FRAG_MAX_ORDER + 1];
	struct per_cpu_pages pcp[FRAG_NR_CPUS];
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

_Static_assert(FRAG_PCP_ORDERS == 2, "pcp lists: order 0 (index 0), order 3");

static unsigned int pcp_order(int i)
{
	return i ? 3 : 0;
}

static void pcp_list_add(struct per_cpu_pages *pcp, int i, struct page *page,
			 bool tail)
{
	page->lru_prev = tail ? pcp->tail[i] : NULL;
	page->lru_next = tail ? NULL : pcp->head[i];
	if (page->lru_prev)
		page->lru_prev->lru_next = page;
	else
		pcp->head[i] = page;
	if (page->lru_next)
		page->lru_next->lru_prev = page;
	else
		pcp->tail[i] = page;
	pcp->nr[i]++;
}

static void pcp_list_del(struct per_cpu_pages *pcp, int i, struct page *page)
{
	if (page->lru_prev)
		page->lru_prev->lru_next = page->lru_next;
	else
		pcp->head[i] = page->lru_next;
	if (page->lru_next)
		page->lru_next->lru_prev = page->lru_prev;
	else
		pcp->tail[i] = page->lru_prev;
	page->lru_next = page->lru_prev = NULL;
	pcp->nr[i]--;
}

/* Blocks to take from the buddy lists on an empty list (nr_pcp_alloc()). */
static int nr_pcp_alloc(struct per_cpu_pages *pcp, unsigned int order)
{
	int batch = PCP_BATCH, max_nr_alloc;

	if (!order) {
		/* Double while this CPU only allocates, up to high. */
		batch = PCP_BATCH << pcp->alloc_factor;
		max_nr_alloc = PCP_HIGH - pcp->count - PCP_BATCH;
		if (max_nr_alloc < PCP_BATCH)
			max_nr_alloc = PCP_BATCH;
		if (batch <= max_nr_alloc &&
		    pcp->alloc_factor < PCP_BATCH_SCALE_MAX)
			pcp->alloc_factor++;
		if (batch > max_nr_alloc)
			batch = max_nr_alloc;
	}
	/* batch is in pages: an order-3 refill takes batch / 8 blocks. */
	batch >>= order;
	return batch > 2 ? batch : 2;
}

/* Pages to flush once count reaches high (nr_pcp_free(), !free_high). */
static int nr_pcp_free(const struct per_cpu_pages *pcp)
{
	int n = pcp->free_count;

	if (n < PCP_BATCH)
		n = PCP_BATCH;			/* flush at least a batch */
	if (n > PCP_HIGH - PCP_BATCH)
		n = PCP_HIGH - PCP_BATCH;	/* and leave a batch behind */
	return n;
}

/*
 * free_pcppages_bulk(): give @count PAGES back to the buddy lists, from
 * the cold end, starting with list @i, then round robin.  A block counts
 * 1 << order, so the last one may overshoot, as in the kernel.
 */
static void free_pcppages_bulk(struct per_cpu_pages *pcp, int count, int i)
{
	if (count > pcp->count)
		count = pcp->count;
	i--;
	spin_lock(&zone.lock);
	while (count > 0) {
		unsigned int order;

		do {
			if (++i > FRAG_PCP_ORDERS - 1)
				i = 0;
		} while (!pcp->tail[i]);
		order = pcp_order(i);
		do {
			struct page *page = pcp->tail[i];

			pcp_list_del(pcp, i, page);
			count -= 1 << order;
			pcp->count -= 1 << order;
			set_page_flags(page, 0);
			buddy_free(page_to_pfn(page), order);
		} while (count > 0 && pcp->tail[i]);
	}
	spin_unlock(&zone.lock);
}

static struct page *pcp_alloc(unsigned int order)
{
	struct per_cpu_pages *pcp = &zone.pcp[this_cpu];
	int i = pcp_index(order);
	struct page *page;

	spin_lock(&pcp->lock);
	/* An allocation halves the run of frees (rmqueue_pcplist()). */
	pcp->free_count >>= 1;
	if (unlikely(!pcp->head[i])) {
		int n, batch = nr_pcp_alloc(pcp, order), alloced = 0;

		spin_lock(&zone.lock);
		for (n = 0; n < batch; n++) {
			long pfn = buddy_alloc(order);

			if (pfn < 0)
				break;
			page = &frag_mem_map[pfn];
			set_page_flags(page, PG_pcp);
			page->order = order;
			pcp_list_add(pcp, i, page, true);	/* rmqueue_bulk */
			alloced++;
		}
		spin_unlock(&zone.lock);
		pcp->count += alloced << order;
	}
	page = pcp->head[i];
	if (page) {
		pcp_list_del(pcp, i, page);
		pcp->count -= 1 << order;
		set_page_flags(page, 0);
	}
	spin_unlock(&pcp->lock);
	return page;
}

static void pcp_free(struct page *page, unsigned int order)
{
	struct per_cpu_pages *pcp = &zone.pcp[this_cpu];
	int i = pcp_index(order);

	spin_lock(&pcp->lock);
	/* A free halves the order-0 refill scale (free_unref_page_commit). */
	pcp->alloc_factor >>= 1;
	set_page_flags(page, PG_pcp);
	page->order = order;
	pcp_list_add(pcp, i, page, false);
	pcp->count += 1 << order;
	if (pcp->free_count < (PCP_BATCH << PCP_BATCH_SCALE_MAX))
		pcp->free_count += 1 << order;
	if (pcp->count >= PCP_HIGH)
		free_pcppages_bulk(pcp, nr_pcp_free(pcp), i);
	spin_unlock(&pcp->lock);
}

void frag_pages_drain_pcp(void)
{
	int c;

	for (c = 0; c < FRAG_NR_CPUS; c++) {
		struct per_cpu_pages *pcp = &zone.pcp[c];

		spin_lock(&pcp->lock);
		free_pcppages_bulk(pcp, pcp->count, 0);
		pcp->free_count = 0;
		pcp->alloc_factor = 0;
		spin_unlock(&pcp->lock);
	}
}

void frag_pages_pcp_state(unsigned int cpu, struct frag_pcp_state *st)
{
	struct per_cpu_pages *pcp = &zone.pcp[cpu % FRAG_NR_CPUS];
	int i;

	spin_lock(&pcp->lock);
	st->count = pcp->count;
	st->high = PCP_HIGH;
	st->batch = PCP_BATCH;
	st->free_count = pcp->free_count;
	st->alloc_factor = pcp->alloc_factor;
	for (i = 0; i < FRAG_PCP_ORDERS; i++) {
		st->order[i] = pcp_order(i);
		st->blocks[i] = pcp->nr[i];
	}
	spin_unlock(&pcp->lock);
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
	/*
	 * init_on_alloc=1 (CONFIG_INIT_ON_ALLOC_DEFAULT_ON, on in many
	 * distribution kernels): post_alloc_hook() clears every page of the
	 * block on every allocation, pcp hit or not.  A refill-heavy design
	 * pays 32 KiB of stores per order-3 page.
	 */
	if (zone.cfg.init_on_alloc)
		memset(page_address(page), 0, (size_t)FRAG_PAGE_SIZE << order);
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
	size_t bytes = cfg->arena_bytes ? cfg->arena_bytes : 16u << 20;
	const size_t unit = (size_t)FRAG_PAGE_SIZE << 3;
	unsigned long pfn;
	int i;

	if (bytes % unit || cfg->high_order_fail < 0 || cfg->high_order_fail > 1 ||
	    cfg->pfmemalloc_rate < 0 || cfg->pfmemalloc_rate > 1)
		return -EINVAL;
	frag_pages_exit();

	arena_map_bytes = bytes + ARENA_ALIGN;
	arena_map = mmap(NULL, arena_map_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena_map == MAP_FAILED) {
		arena_map = NULL;
		return -ENOMEM;
	}
	frag_arena = (unsigned char *)(((uintptr_t)arena_map + ARENA_ALIGN - 1) &
				       ~(ARENA_ALIGN - 1));
	/* Best effort: EINVAL where the kernel has no THP; 4 KiB pages then. */
	(void)madvise(frag_arena, bytes, MADV_HUGEPAGE);
	/* Prefault: every page written once, so the timed region never faults. */
	memset(frag_arena, 0, bytes);
	frag_nr_pages = bytes >> FRAG_PAGE_SHIFT;
	if (posix_memalign((void **)&frag_mem_map, 64,
			   frag_nr_pages * sizeof(struct page))) {
		frag_pages_exit();
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
	if (arena_map)
		munmap(arena_map, arena_map_bytes);
	free(frag_mem_map);
	arena_map = NULL;
	frag_arena = NULL;
	frag_mem_map = NULL;
	frag_nr_pages = 0;
}

size_t frag_pages_huge_bytes(void)
{
	/*
	 * The arena's own entry of /proc/self/smaps, not the process total:
	 * madvise() split the mapping, so the entry starts at frag_arena.
	 */
	char line[256];
	unsigned long lo, hi, kb;
	size_t huge = (size_t)-1;
	int in_arena = 0;
	FILE *f;

	if (!frag_arena)
		return 0;
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return huge;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*4[-rwxps] ", &lo, &hi) == 2)
			in_arena = lo == (uintptr_t)frag_arena;
		else if (in_arena && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			huge = (size_t)kb << 10;
	}
	fclose(f);
	return huge;
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
	for (c = 0; c < FRAG_NR_CPUS; c++) {
		long pcp_pages = 0;

		for (i = 0; i < FRAG_PCP_ORDERS; i++) {
			struct page *p;

			for (p = zone.pcp[c].head[i]; p; p = p->lru_next)
				pcp_pages += 1l << p->order;
		}
		if (pcp_pages != zone.pcp[c].count) {
			snprintf(msg, len, "cpu %d: pcp->count %d != %ld pages listed",
				 c, zone.pcp[c].count, pcp_pages);
			return -1;
		}
		free_pages += pcp_pages;
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
