// SPDX-License-Identifier: GPL-2.0-only
/*
 * wl_fastpath.c - the allocator's fast path, nothing else: per batch,
 * allocate `batch` fragments of `size` bytes at `align`, then free them
 * all.  This is the micro-benchmark the debate ran (page_frag_test without
 * the ring): it isolates alloc + free cost, including the refill/reuse
 * path every 32 KiB.
 *
 * The harness around the two calls is cut to what a kernel caller has
 * (benchmarks/bench_harness.py measures what is left against a bare loop):
 *
 *  - One rdtscp pair times `sample_batches` batches, not one: rdtscp costs
 *    about as much as 20 null packets, and a VM's TSC may tick only every
 *    ~25 cycles, so a 64-packet sample was mostly timer.  Batches inside a
 *    sample are still alloc-64-then-free-64, so the allocator sees the
 *    same pattern as before.
 *  - The timed loop is its own function with nothing live across the
 *    calls but the cache, size, mask and a cursor and end pointer into the
 *    array: they stay in callee-saved registers.  The old loop kept the
 *    cache pointer in a stack slot reloaded every packet, right after the
 *    store of the previous fragment to the heap array, a load that could
 *    4 KiB-alias that store depending on the environment pad.
 *  - The loop is 64-byte aligned in its own function, so layout builds
 *    move the design's code, not the harness loop's fetch alignment.
 *  - Sample bookkeeping (frag_sample) runs between samples, never per
 *    batch inside one.
 *
 * Placement (rerandomize=1): the stack depth of the timed loop and the
 * offset of the pointer array change before every sample, each by a
 * random multiple of 16 bytes in [0, 4 KiB).  Which of the loop's loads
 * and stores alias at 4 KiB, and which cache sets they share with the
 * design's data, depends on those addresses; a kernel caller's are
 * arbitrary too.  Frozen per process, they made the per-process cost
 * bimodal; drawn per sample, every process averages many placements.
 */
#include <alloca.h>
#include <stdlib.h>
#include <string.h>

#include "design_direct.h"
#include "engine.h"
#include "tsc.h"

/* Placements span one 4 KiB page: every aliasing offset is reachable. */
#define FP_PLACE_SPAN	4096
#define FP_PLACE_ALIGN	16

static int fastpath_validate(const struct frag_params *p, char *err, size_t len)
{
	/* A sample's packet count is recorded as a u32. */
	if (p->batch * p->sample_batches > (long)UINT32_MAX) {
		snprintf(err, len, "invalid sample_batches=%ld: allowed batch * "
			 "sample_batches <= %u (batch=%ld)", p->sample_batches,
			 UINT32_MAX, p->batch);
		return -1;
	}
	return 0;
}

/*
 * One timed sample: `packets` packets in batches of `batch` (the last one
 * may be short).  Returns TSC cycles.
 */
static noinline __attribute__((aligned(64)))
uint64_t fastpath_sample(void *nc, void **ptr, long batch, long packets,
			 unsigned int fragsz, unsigned int mask)
{
	void **pp, **end;
	uint64_t t0;

	t0 = frag_rdtscp();
	do {
		end = ptr + (packets < batch ? packets : batch);
		for (pp = ptr; pp != end; pp++) {
			*pp = frag_alloc(nc, fragsz, mask);
			frag_keep(*pp);
		}
		for (pp = ptr; pp != end; pp++)
			if (likely(*pp))
				frag_free(*pp);
		packets -= batch;
	} while (packets > 0);
	return frag_rdtscp() - t0;
}

/* Run one sample with its frame `pad` bytes deeper in the stack. */
static noinline uint64_t fastpath_sample_at(unsigned int pad, void *nc,
					    void **ptr, long batch,
					    long packets, unsigned int fragsz,
					    unsigned int mask)
{
	char *p = alloca(pad + 1);

	/* Keep the alloca: without a use the compiler may drop it. */
	frag_keep(p);
	return fastpath_sample(nc, ptr, batch, packets, fragsz, mask);
}

/*
 * Fault in the stack the deepest placement reaches, before the region: a
 * first touch of a stack page inside a timed sample is a page fault.
 */
static noinline void fastpath_touch_stack(void)
{
	char *p = alloca(FP_PLACE_SPAN + 2 * 4096);

	memset(p, 0, FP_PLACE_SPAN + 2 * 4096);
	frag_keep(p);
}

/* xorshift64: placements need no quality, only no pattern. */
static inline uint64_t fp_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fastpath_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int fragsz = p->size, mask = frag_align_mask(p->align);
	long per = p->batch * p->sample_batches;
	long total = (p->packets + per - 1) / per + p->warmup;
	long left = p->packets, placements = 0, b;
	size_t room = (size_t)p->batch * sizeof(void *) + FP_PLACE_SPAN;
	uint64_t rng = (uint64_t)p->seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned int pad = 0, off = 0;
	char *arr = aligned_alloc(64, (room + 63) & ~(size_t)63);

	if (!arr || frag_reserve_samples(r, total)) {
		snprintf(r->err, sizeof(r->err), "out of memory for %ld samples", total);
		free(arr);
		return -1;
	}
	/* Touch it all now: a first-touch fault inside the region is a bug. */
	memset(arr, 0, room);
	fastpath_touch_stack();
	for (b = 0; b < total; b++) {
		long n = b < p->warmup ? per : (left < per ? left : per);
		uint64_t c;

		if (p->rerandomize) {
			pad = fp_rand(&rng) % FP_PLACE_SPAN & ~(FP_PLACE_ALIGN - 1u);
			off = fp_rand(&rng) % FP_PLACE_SPAN & ~(FP_PLACE_ALIGN - 1u);
			placements++;
		}
		/* Counters cover the measured samples only, not the warm-up. */
		if (b == p->warmup)
			frag_perf_start(&r->perf[0]);
		c = fastpath_sample_at(pad, r->nc, (void **)(arr + off), p->batch,
				       n, fragsz, mask);
		frag_sample(r, c, n);
		if (b >= p->warmup)
			left -= n;
	}
	frag_perf_stop(&r->perf[0]);
	free(arr);
	/* Placements drawn, one per sample (1 when frozen for the process). */
	frag_metric(r, "placements", p->rerandomize ? (double)placements : 1.0);
	frag_metric(r, "placement_span_bytes",
		    p->rerandomize ? (double)FP_PLACE_SPAN : 0.0);
	frag_metric(r, "sample_packets", (double)per);
	return 0;
}

const struct frag_workload frag_wl_fastpath = {
	.info		= &frag_wl_info_fastpath,
	.validate	= fastpath_validate,
	.run		= fastpath_run,
};
