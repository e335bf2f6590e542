// SPDX-License-Identifier: GPL-2.0-only
/*
 * wl_ring.c - page_frag_test.ko in user space
 * (tools/testing/selftests/mm/page_frag/page_frag_test.c, docs/
 * kernel-pagefrag.md §5).
 *
 * A push thread on `cpu` allocates `size` bytes (test_alloc_len: 2048 in
 * the module; 75 in test_page_frag.sh's nonaligned/aligned modes; 12 in
 * the v13-v23 cover letters), at `align` if it is not 1 (test_align:
 * SMP_CACHE_BYTES), and produces each fragment into a ptr_ring of
 * `ring_size` (512) slots (wl_ptr_ring.h: the consumer clears slots in
 * batches of 2 * cache_line / sizeof(void *), last first).  If the ring is
 * full it frees the fragment itself, waits and does not count it, as the
 * module does.  A pop thread on `cpu2` consumes and frees.  Both threads
 * on one CPU are allowed (Duyck asked for that run too).
 *
 * The module reports only the total time; here `elapsed_ns` is that (all
 * warm-up + packets objects, start to last free), and each sample is
 * `batch` successful pushes as the push thread sees them.  The module
 * waits with cond_resched(), which returns at once on a CPU with nothing
 * else to run, so the default here (busy_poll=-1 -> 1) spins;
 * busy_poll=0 yields instead (sched_yield()).  fraglib.workloads
 * RING_PRESETS holds the module's, the script's and the cover letters'
 * configurations.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "design_direct.h"
#include "engine.h"
#include "tsc.h"
#include "wl_common.h"

/* A design that never hands out memory would spin forever; stop it. */
#define RING_MAX_FAILURES	(1l << 20)

static int ring_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int size = p->size, mask = frag_align_mask(p->align);
	uintptr_t misalign = p->align - 1;
	long batch = p->batch, b;
	long total = p->warmup + (p->packets + batch - 1) / batch;
	long nobj = p->warmup * batch + p->packets, done = 0;
	uint64_t self = 0, failures = 0, misaligned = 0, t_start, t_end;
	long fail_run = 0;
	struct wl_ring ring = { 0 };
	struct wl_peer peer;
	struct wl_mem mem;
	void *nc = r->nc;

	if (wl_ring_init(&ring, p->ring_size, p->cache_line) ||
	    frag_reserve_samples(r, total)) {
		snprintf(r->err, sizeof(r->err), "out of memory for the ring");
		wl_ring_exit(&ring);
		return -1;
	}
	r->nperf = 2;
	if (wl_peer_start(&peer, r, &ring, p->cpu2, NULL, NULL)) {
		wl_ring_exit(&ring);
		return -1;
	}
	wl_mem_begin(r, &mem);

	wl_peer_go(&peer);
	t_start = wl_now_ns();
	for (b = 0; b < total; b++) {
		long n = b < p->warmup ? batch :
			 (nobj - done < batch ? nobj - done : batch);
		long pushed = 0;
		uint64_t t0, t1;

		wl_sample_start(r, b, &peer);
		t0 = frag_rdtscp();
		while (pushed < n) {
			void *va = frag_alloc(nc, size, mask);

			if (unlikely(!va)) {
				failures++;
				if (++fail_run == RING_MAX_FAILURES)
					goto stuck;
				continue;
			}
			fail_run = 0;
			if (unlikely((uintptr_t)va & misalign))
				misaligned++;
			if (unlikely(wl_ring_push(&ring, va))) {
				/* Full: free it here, uncounted; let pop run. */
				frag_free(va);
				self++;
				wl_wait(p->busy_poll);
				continue;
			}
			pushed++;
		}
		t1 = frag_rdtscp();
		frag_sample(r, t1 - t0, n);
		done += n;
	}
	frag_perf_stop(&r->perf[0]);
	if (wl_peer_finish(&peer)) {
		wl_ring_exit(&ring);
		return -1;
	}
	t_end = peer.t_end;

	frag_metric(r, "objects", (double)nobj);
	frag_metric(r, "frags_allocated", (double)(nobj + self));
	frag_metric(r, "frags_freed", (double)(peer.freed + self));
	frag_metric(r, "frags_freed_remote", (double)peer.freed);
	frag_metric(r, "ring_full_frees", (double)self);
	frag_metric(r, "alloc_failures", (double)failures);
	frag_metric(r, "misaligned", (double)misaligned);
	frag_metric(r, "ring_batch", (double)ring.batch);
	frag_metric(r, "busy_poll", (double)p->busy_poll);
	frag_metric(r, "elapsed_ns", (double)(t_end - t_start));
	frag_metric(r, "ns_per_object", (double)(t_end - t_start) / nobj);
	wl_mem_end(r, &mem, (double)nobj, (double)size * (nobj + self));
	wl_ring_exit(&ring);
	return 0;

stuck:
	frag_perf_stop(&r->perf[0]);
	wl_peer_finish(&peer);
	wl_ring_exit(&ring);
	snprintf(r->err, sizeof(r->err), "%ld allocations of size=%u failed in a "
		 "row: the design or the page model (arena_mb, max_pages) hands "
		 "out nothing", RING_MAX_FAILURES, size);
	return -1;
}

const struct frag_workload frag_wl_ring = {
	.info		= &frag_wl_info_ring,
	.validate	= NULL,	/* size and align: its limits rule */
	.run		= ring_run,
};
