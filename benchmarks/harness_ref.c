// SPDX-License-Identifier: GPL-2.0-only
/*
 * harness_ref.c - the reference the engine's harness is judged against
 * (benchmarks/bench_harness.py): the fastpath workload's two direct calls
 * per packet and nothing else.  Per batch, allocate `batch` fragments into
 * a pointer array on the heap, then free them.  One rdtscp pair times
 * `per` packets (the engine's batch * sample_batches), so both sides are
 * reduced by the same per-process statistic.
 *
 *   harness-ref-<design> packets batch per warmup size
 *
 * Prints "<cycles> <packets>" per timed block, warm-up blocks first.
 * Built with the engine's compiler and flags against one design
 * (-DFRAG_DESIGN=null) in its own translation unit: the compiler cannot
 * see that null_alloc() is pure and hoist the calls out of the loop, which
 * a one-file reference lets it do (and then it measures an empty loop).
 */
#include <stdio.h>
#include <stdlib.h>

#include "design_direct.h"
#include "tsc.h"

static _Alignas(64) unsigned char cache[FRAG_CACHE_STORAGE];

int main(int argc, char **argv)
{
	long packets = argc > 1 ? atol(argv[1]) : 262144;
	long batch = argc > 2 ? atol(argv[2]) : 64;
	long per = argc > 3 ? atol(argv[3]) : 4096;
	long warmup = argc > 4 ? atol(argv[4]) : 16;
	unsigned int size = argc > 5 ? atoi(argv[5]) : 256;
	unsigned int mask = frag_align_mask(1);
	void **ptr = calloc(batch, sizeof(*ptr));
	long total, blk, done, i, n, left;
	uint64_t t0, *cyc;

	if (!ptr || packets < 1 || batch < 1 || per < 1 || warmup < 0)
		return 2;
	total = warmup + (packets + per - 1) / per;
	cyc = calloc(total, sizeof(*cyc));
	if (!cyc)
		return 2;
	frag_init(cache);
	for (blk = 0, left = packets; blk < total; blk++) {
		long np = blk < warmup ? per : (left < per ? left : per);

		t0 = frag_rdtscp();
		for (done = 0; done < np; done += n) {
			n = np - done < batch ? np - done : batch;
			for (i = 0; i < n; i++) {
				ptr[i] = frag_alloc(cache, size, mask);
				frag_keep(ptr[i]);
			}
			for (i = 0; i < n; i++)
				if (likely(ptr[i]))
					frag_free(ptr[i]);
		}
		cyc[blk] = frag_rdtscp() - t0;
		if (blk >= warmup)
			left -= np;
	}
	frag_drain(cache);
	for (blk = 0, left = packets; blk < total; blk++) {
		long np = blk < warmup ? per : (left < per ? left : per);

		printf("%llu %ld\n", (unsigned long long)cyc[blk], np);
		if (blk >= warmup)
			left -= np;
	}
	free(cyc);
	free(ptr);
	return 0;
}
