// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_designs.c - every registered design, through its ops table, under
 * ASan and UBSan: known answers from a fresh cache, then a randomized
 * alloc/free/prepare/commit/drain stress with the page model's invariants
 * checked as it goes, then a two-thread producer/consumer (page_frag_test's
 * shape: one CPU allocates, the other frees).
 *
 * Build (tests/test_c_sanitizers.py does this):
 *   gcc -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
 *       -fno-sanitize-recover=all -DFRAG_STATS -DFRAG_DEBUG=2 -pthread \
 *       -Ifraglib/csrc/include fraglib/csrc/tests/test_designs.c \
 *       fraglib/csrc/page.c fraglib/csrc/registry.c fraglib/csrc/design_*.c
 *
 * What is checked, per design:
 * - fragments never overlap: each is filled with its own tag byte and
 *   verified on free (skipped for FRAG_CAP_ALIASED);
 * - alignment is honoured (FRAG_CAP_ALIGN) and a fragment lies inside its
 *   page (FRAG_CAP_PAGES);
 * - refcounts balance: for every page, refcount == live fragments on it
 *   + the cache's bias if it is the cache's current page;
 * - after freeing everything and draining, every page is back and
 *   frag_pages_check() passes;
 * - the statistics agree with what the test saw (allocs, failures, bytes).
 * Prints one line per design; exit status 0 iff nothing failed.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frag.h"

static int failures;
static const char *cur_design = "";
static const char *cur_phase = "";

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "FAIL %s/%s %s:%d: ", cur_design, \
				cur_phase, __FILE__, __LINE__);		\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			failures++;					\
		}							\
	} while (0)

/* ---- helpers ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static void model_init(size_t max_pages, double hof, double pfm)
{
	struct frag_pages_cfg cfg = {
		.arena_bytes = 16u << 20,
		.max_pages = max_pages,
		.high_order_fail = hof,
		.pfmemalloc_rate = pfm,
		.seed = 42,
	};

	if (frag_pages_init(&cfg)) {
		fprintf(stderr, "cannot map the arena\n");
		exit(2);
	}
	frag_set_cpu(0);
}

static uint64_t pages_in_use(void)
{
	struct frag_pages_stats st;

	frag_pages_get_stats(&st);
	return st.pages_in_use;
}

static void check_model_clean(void)
{
	char msg[256];

	frag_pages_drain_pcp();
	CHECK(pages_in_use() == 0, "%llu pages still in use",
	      (unsigned long long)pages_in_use());
	CHECK(frag_pages_check(msg, sizeof(msg)) == 0, "page model: %s", msg);
}

static struct frag_box *box_new(const struct frag_ops *ops)
{
	struct frag_box *box = aligned_alloc(64, sizeof(*box));

	memset(box, 0, sizeof(*box));
	box->ops = ops;
	ops->init(box->cache);
	return box;
}

static struct frag_state state_of(const struct frag_box *box)
{
	struct frag_state st;

	memset(&st, 0, sizeof(st));
	box->ops->inspect(box->cache, &st);
	return st;
}

static long page_off(const void *p)
{
	return (const char *)p - (const char *)page_address(virt_to_head_page(p));
}

/* The largest request a design must always serve (page model uncapped). */
static unsigned int must_serve(const struct frag_ops *ops)
{
	if (!strcmp(ops->name, "slicer1k"))
		return 1024;
	if (!(ops->caps & FRAG_CAP_PAGES))
		return PAGE_FRAG_CACHE_MAX_SIZE;
	return PAGE_SIZE;
}

static unsigned int max_align(const struct frag_ops *ops)
{
	return !strcmp(ops->name, "slicer1k") ? 1024 : PAGE_SIZE;
}

/* ---- known answers ---- */

enum shape { TOPDOWN, BOTTOMUP, SLICER, ORDER0, OTHER };

static enum shape shape_of(const struct frag_ops *ops)
{
	static const char *const up[] = {
		"bottomup", "encoded", "remaining", "negoffset", "sockfrag",
	};
	unsigned int i;

	if (!strcmp(ops->name, "topdown"))
		return TOPDOWN;
	for (i = 0; i < sizeof(up) / sizeof(up[0]); i++)
		if (!strcmp(ops->name, up[i]))
			return BOTTOMUP;
	if (!strcmp(ops->name, "slicer1k"))
		return SLICER;
	if (!strcmp(ops->name, "order0"))
		return ORDER0;
	return OTHER;
}

static void known_answers(const struct frag_ops *ops)
{
	static const unsigned int size[4] = { 256, 256, 100, 1000 };
	static const unsigned int align[4] = { 1, 1, 64, 1 };
	static const long want[][4] = {
		[TOPDOWN]	= { 32512, 32256, 32128, 31128 },
		[BOTTOMUP]	= { 0, 256, 512, 612 },
		[SLICER]	= { 3072, 2048, 1024, 0 },
		[ORDER0]	= { 0, 0, 0, 0 },
	};
	enum shape shape = shape_of(ops);
	struct frag_box *box;
	struct frag_state st;
	void *p[4];
	int i;

	cur_phase = "known-answers";
	model_init(0, 0, 0);
	box = box_new(ops);
	st = state_of(box);
	CHECK(st.va == NULL, "a fresh cache holds no page");
	for (i = 0; i < 4; i++) {
		p[i] = ops->alloc(box->cache, size[i], frag_align_mask(align[i]));
		CHECK(p[i] != NULL, "alloc %d failed", i);
		if (!p[i])
			return;
		if (shape != OTHER)
			CHECK(page_off(p[i]) == want[shape][i],
			      "fragment %d at %ld, want %ld", i, page_off(p[i]),
			      want[shape][i]);
	}
	st = state_of(box);
	switch (shape) {
	case TOPDOWN:
	case BOTTOMUP:
		CHECK(st.size == PAGE_FRAG_CACHE_MAX_SIZE && st.order == 3,
		      "order-3 page expected, got size %u", st.size);
		if (!strcmp(ops->name, "sockfrag")) {
			CHECK(st.bias == 1, "sockfrag holds one reference");
			CHECK(page_ref_count(virt_to_head_page(p[0])) == 5,
			      "refcount %d, want 1 + 4",
			      page_ref_count(virt_to_head_page(p[0])));
		} else {
			CHECK(st.bias == PAGE_FRAG_CACHE_MAX_SIZE + 1 - 4,
			      "bias %u, want MAX+1-4", st.bias);
			CHECK(page_ref_count(virt_to_head_page(p[0])) ==
			      PAGE_FRAG_CACHE_MAX_SIZE + 1,
			      "refcount %d, want MAX+1",
			      page_ref_count(virt_to_head_page(p[0])));
		}
		break;
	case SLICER:
		CHECK(st.bias == 0 &&
		      page_ref_count(virt_to_head_page(p[0])) == 4,
		      "four slices, four references");
		break;
	case ORDER0:
		for (i = 1; i < 4; i++)
			CHECK(p[i] != p[i - 1], "one page per fragment");
		break;
	case OTHER:
		break;
	}
	for (i = 0; i < 4; i++)
		ops->free(p[i]);
	ops->drain(box->cache);
	CHECK(state_of(box).va == NULL, "drain empties the cache");
	check_model_clean();
	free(box);
}

/* ---- randomized stress ---- */

#define MAX_LIVE	512

struct live {
	unsigned char *p;
	unsigned int size;
	unsigned char tag;
};

struct stress {
	const struct frag_ops *ops;
	struct frag_box *box;
	struct live live[MAX_LIVE];
	int nlive;
	int last;		/* index of the newest fragment, -1 if gone */
	unsigned char next_tag;
	bool capped;		/* page model capped: failures are allowed */
	unsigned int max_size;	/* largest request to make */
	uint64_t allocs, failures, bytes, noref;
};

static void fill(struct stress *s, struct live *f, unsigned int from)
{
	if (!(s->ops->caps & FRAG_CAP_ALIASED))
		memset(f->p + from, f->tag, f->size - from);
}

static void verify(struct stress *s, const struct live *f)
{
	unsigned int i;

	if (s->ops->caps & FRAG_CAP_ALIASED)
		return;
	for (i = 0; i < f->size; i++)
		if (f->p[i] != f->tag) {
			CHECK(0, "fragment %p+%u overwritten (overlap)",
			      (void *)f->p, i);
			return;
		}
}

static void check_placement(struct stress *s, const void *p,
			    unsigned int size, unsigned int align)
{
	const struct frag_ops *ops = s->ops;

	if (ops->caps & FRAG_CAP_ALIGN)
		CHECK(((uintptr_t)p & (align - 1)) == 0, "%p not %u-aligned",
		      p, align);
	if (ops->caps & FRAG_CAP_PAGES) {
		struct page *head;

		CHECK(frag_addr_in_arena(p), "%p outside the arena", p);
		head = virt_to_head_page(p);
		CHECK(page_off(p) + size <=
		      (long)PAGE_SIZE << compound_order(head),
		      "fragment %p+%u crosses its page", p, size);
	}
}

static void track(struct stress *s, void *p, unsigned int size)
{
	struct live *f = &s->live[s->nlive];

	f->p = p;
	f->size = size;
	f->tag = ++s->next_tag ? s->next_tag : ++s->next_tag;
	fill(s, f, 0);
	s->last = s->nlive++;
}

static void do_alloc(struct stress *s)
{
	unsigned int size, align = 1u << rnd_below(13);
	void *p;

	size = 1 + rnd_below(rnd_below(8) ? PAGE_SIZE : s->max_size);
	if (rnd_below(2))
		align = 1;
	p = s->ops->alloc(s->box->cache, size, frag_align_mask(align));
	if (!p) {
		s->failures++;
		CHECK(s->capped || size > must_serve(s->ops) ||
		      align > max_align(s->ops),
		      "alloc(%u, align %u) failed", size, align);
		return;
	}
	s->allocs++;
	s->bytes += size;
	check_placement(s, p, size, align);
	track(s, p, size);
}

static void do_free(struct stress *s)
{
	int i;

	if (!s->nlive)
		return;
	i = rnd_below(s->nlive);
	verify(s, &s->live[i]);
	s->ops->free(s->live[i].p);
	s->live[i] = s->live[--s->nlive];
	if (s->last == i)
		s->last = -1;
	else if (s->last == s->nlive)
		s->last = i;
}

/*
 * tcp_sendmsg's pattern: prepare, then merge into the last fragment if it
 * is on the same page and ends exactly where the room starts
 * (skb_can_coalesce), else commit a new fragment.
 */
static void do_prepare_commit(struct stress *s)
{
	unsigned int size = 1 + rnd_below(2048), align = 1u << rnd_below(7);
	struct frag_prepared pf;
	unsigned int used;
	struct live *last;
	void *p;

	if (rnd_below(2))
		align = 1;
	if (s->ops->prepare(s->box->cache, size, frag_align_mask(align), &pf)) {
		s->failures++;
		CHECK(s->capped, "prepare(%u) failed", size);
		return;
	}
	CHECK(pf.size >= size, "prepare found %u < %u", pf.size, size);
	CHECK(((uintptr_t)pf.va & (align - 1)) == 0, "prepare not aligned");
	check_placement(s, pf.va, pf.size, align);
	used = 1 + rnd_below(pf.size < 4096 ? pf.size : 4096);
	last = s->last >= 0 ? &s->live[s->last] : NULL;
	s->bytes += used;
	if (last && last->p + last->size == (unsigned char *)pf.va &&
	    virt_to_head_page(last->p) == virt_to_head_page(pf.va)) {
		unsigned int from = last->size;

		p = s->ops->commit(s->box->cache, &pf, used, false);
		CHECK(p == pf.va, "commit returned %p, want %p", p, pf.va);
		s->noref++;
		last->size += used;
		fill(s, last, from);
		return;
	}
	p = s->ops->commit(s->box->cache, &pf, used, true);
	CHECK(p == pf.va, "commit returned %p, want %p", p, pf.va);
	s->allocs++;
	track(s, p, used);
}

static int cmp_page(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* refcount(page) == live fragments on it + bias if it is the cache's page. */
static void check_refcounts(struct stress *s)
{
	static uintptr_t heads[MAX_LIVE];
	struct frag_state st = state_of(s->box);
	struct page *cur = st.va ? virt_to_head_page(st.va) : NULL;
	bool cur_seen = false;
	int i, j;

	if (!(s->ops->caps & FRAG_CAP_PAGES))
		return;
	for (i = 0; i < s->nlive; i++)
		heads[i] = (uintptr_t)virt_to_head_page(s->live[i].p);
	qsort(heads, s->nlive, sizeof(heads[0]), cmp_page);
	for (i = 0; i < s->nlive; i = j) {
		struct page *page = (struct page *)heads[i];
		int want;

		for (j = i; j < s->nlive && heads[j] == heads[i]; j++)
			;
		want = j - i + (page == cur ? (int)st.bias : 0);
		cur_seen |= page == cur;
		CHECK(page_ref_count(page) == want,
		      "pfn %lu: refcount %d, want %d live + %u bias",
		      page_to_pfn(page), page_ref_count(page), j - i,
		      page == cur ? st.bias : 0);
	}
	if (cur && !cur_seen)
		CHECK(page_ref_count(cur) == (int)st.bias,
		      "current page: refcount %d, want bias %u",
		      page_ref_count(cur), st.bias);
}

static void stress(const struct frag_ops *ops, const char *phase,
		   size_t max_pages, double hof, double pfm, unsigned int max_size,
		   int ops_n)
{
	static struct stress s;
	struct frag_stats *fs;
	int i;

	cur_phase = phase;
	model_init(max_pages, hof, pfm);
	memset(&s, 0, sizeof(s));
	s.ops = ops;
	s.box = box_new(ops);
	s.last = -1;
	s.capped = max_pages != 0;
	s.max_size = max_size;
	for (i = 0; i < ops_n && !failures; i++) {
		unsigned int r = rnd_below(100);

		if (r < 50 && s.nlive < MAX_LIVE)
			do_alloc(&s);
		else if (r >= 92 && r < 98 && ops->prepare &&
			 s.nlive < MAX_LIVE)
			do_prepare_commit(&s);
		else if (r < 98)
			do_free(&s);
		else
			ops->drain(s.box->cache);
		if ((i & 63) == 0)
			check_refcounts(&s);
	}
	check_refcounts(&s);
	while (s.nlive)
		do_free(&s);
	ops->drain(s.box->cache);
	check_model_clean();

	fs = &s.box->stats;
	CHECK(fs->allocs == s.allocs, "stats: %llu allocs, saw %llu",
	      (unsigned long long)fs->allocs, (unsigned long long)s.allocs);
	CHECK(fs->alloc_failures == s.failures, "stats: %llu failures, saw %llu",
	      (unsigned long long)fs->alloc_failures,
	      (unsigned long long)s.failures);
	CHECK(fs->bytes_requested == s.bytes, "stats: %llu bytes, saw %llu",
	      (unsigned long long)fs->bytes_requested,
	      (unsigned long long)s.bytes);
	CHECK(fs->commits_noref == s.noref, "stats: %llu noref, saw %llu",
	      (unsigned long long)fs->commits_noref,
	      (unsigned long long)s.noref);
	if (!(ops->caps & FRAG_CAP_ALIASED))
		CHECK(fs->bytes_consumed >= fs->bytes_requested,
		      "stats: consumed %llu < requested %llu",
		      (unsigned long long)fs->bytes_consumed,
		      (unsigned long long)fs->bytes_requested);
	if (!strcmp(phase, "pfmemalloc") && ops->caps & FRAG_CAP_PAGES &&
	    strcmp(ops->name, "sockfrag"))
		CHECK(fs->reuses == 0, "a pfmemalloc page was reused");
	free(s.box);
}

/* ---- two threads: one allocates, the other frees ---- */

#define RING	512

struct ring {
	const struct frag_ops *ops;
	void *slot[RING];
	_Atomic unsigned long head;	/* fragments produced */
	_Atomic unsigned long tail;	/* fragments consumed */
	atomic_bool done;
	bool aliased;
	unsigned long bad;
};

static void *consumer(void *arg)
{
	struct ring *r = arg;
	const struct frag_ops *ops = r->ops;

	frag_set_cpu(1);
	for (;;) {
		unsigned long t = atomic_load_explicit(&r->tail,
						       memory_order_relaxed);
		unsigned char *p;

		if (t == atomic_load_explicit(&r->head, memory_order_acquire)) {
			if (atomic_load(&r->done) &&
			    t == atomic_load(&r->head))
				break;
			sched_yield();
			continue;
		}
		p = r->slot[t % RING];
		if (!r->aliased && (p[0] != (unsigned char)t ||
				    p[63] != (unsigned char)t))
			r->bad++;
		ops->free(p);
		atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	}
	return NULL;
}

static void two_threads(const struct frag_ops *ops, unsigned long n)
{
	static struct ring r;
	struct frag_box *box;
	pthread_t thr;
	unsigned long h;

	cur_phase = "two-threads";
	model_init(0, 0, 0);
	memset(&r, 0, sizeof(r));
	r.ops = ops;
	r.aliased = ops->caps & FRAG_CAP_ALIASED;
	box = box_new(ops);
	pthread_create(&thr, NULL, consumer, &r);
	for (h = 0; h < n; h++) {
		unsigned char *p;

		while (h - atomic_load_explicit(&r.tail,
						memory_order_acquire) >= RING)
			sched_yield();
		p = ops->alloc(box->cache, 64 + (h & 1) * 192, ~0u);
		if (!p) {
			CHECK(0, "alloc %lu failed", h);
			break;
		}
		if (!r.aliased)
			memset(p, (unsigned char)h, 64);
		r.slot[h % RING] = p;
		atomic_store_explicit(&r.head, h + 1, memory_order_release);
	}
	atomic_store(&r.done, true);
	pthread_join(thr, NULL);
	CHECK(r.bad == 0, "%lu fragments corrupted in flight", r.bad);
	ops->drain(box->cache);
	check_model_clean();
	free(box);
}

int main(int argc, char **argv)
{
	const struct frag_ops *const *d;
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	int before;

	for (d = frag_designs; *d; d++) {
		const struct frag_ops *ops = *d;

		cur_design = ops->name;
		before = failures;
		CHECK(frag_design_find(ops->name) == ops, "registry lookup");
		CHECK(!ops->prepare == !(ops->caps & FRAG_CAP_PREPARE) &&
		      !ops->commit == !ops->prepare,
		      "prepare/commit must match FRAG_CAP_PREPARE");
		known_answers(ops);
		stress(ops, "default", 0, 0, 0, 40000, n);
		stress(ops, "order0-fallback", 0, 1.0, 0, 40000, n);
		/*
		 * Only order-0 pfmemalloc pages: no request above PAGE_SIZE.
		 * v6.9 topdown never returns from one (fresh page too small ->
		 * all references back -> pfmemalloc, so freed -> refill -> the
		 * same again); the kernel has the same loop, only its odds of
		 * a pfmemalloc page are lower.
		 */
		stress(ops, "pfmemalloc", 0, 1.0, 1.0, PAGE_SIZE, n);
		stress(ops, "capped", 40, 0.5, 0.5, 40000, n);
		two_threads(ops, 5 * n);
		printf("%-10s %s\n", ops->name,
		       failures == before ? "ok" : "FAILED");
	}
	frag_pages_exit();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
