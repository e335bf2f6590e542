// SPDX-License-Identifier: MIT
/*
 * wl_fastpath.c - the allocator's fast path, nothing else: per sample,
 * allocate `batch` fragments of `size` bytes at `align`, then free them
 * all, timed with rdtscp.  This is the micro-benchmark the debate ran
 * (page_frag_test without the ring): it isolates alloc + free cost,
 * including the refill/reuse path every 32 KiB.
 */
#include <stdlib.h>

#include "design_direct.h"
#include "engine.h"
#include "tsc.h"

static int fastpath_validate(const struct frag_params *p, char *err, size_t len)
{
	(void)p;
	(void)err;
	(void)len;
	return 0;
}

static int fastpath_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int fragsz = p->size, mask = frag_align_mask(p->align);
	long b, i, batch = p->batch;
	long total = (p->packets + batch - 1) / batch + p->warmup;
	long left = p->packets;
	void **ptr = calloc(batch, sizeof(*ptr));
	void *nc = r->nc;

	if (!ptr || frag_reserve_samples(r, total)) {
		snprintf(r->err, sizeof(r->err), "out of memory for %ld samples", total);
		free(ptr);
		return -1;
	}
	for (b = 0; b < total; b++) {
		long n = b < p->warmup ? batch : (left < batch ? left : batch);
		uint64_t t0, t1;

		/* Counters cover the measured samples only, not the warm-up. */
		if (b == p->warmup)
			frag_perf_start(&r->perf[0]);
		t0 = frag_rdtscp();
		for (i = 0; i < n; i++) {
			ptr[i] = frag_alloc(nc, fragsz, mask);
			frag_keep(ptr[i]);
		}
		for (i = 0; i < n; i++)
			if (likely(ptr[i]))
				frag_free(ptr[i]);
		t1 = frag_rdtscp();
		frag_sample(r, t1 - t0, n);
		if (b >= p->warmup)
			left -= n;
	}
	frag_perf_stop(&r->perf[0]);
	free(ptr);
	return 0;
}

const struct frag_workload frag_wl_fastpath = {
	.name		= "fastpath",
	.help		= "alloc `batch` fragments of `size` at `align`, free them; timed per batch",
	.threads	= 1,
	.validate	= fastpath_validate,
	.run		= fastpath_run,
};
