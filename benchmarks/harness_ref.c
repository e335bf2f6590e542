// SPDX-License-Identifier: MIT
/*
 * harness_ref.c - the reference the engine's harness is judged against
 * (benchmarks/bench_harness.py): the fastpath workload's two direct calls
 * per packet and nothing else.  Per batch, allocate `batch` fragments into
 * a pointer array on the heap, then free them; one rdtscp pair around the
 * whole run, so the timer costs nothing per packet.
 *
 *   harness-ref-<design> packets batch size
 *
 * Prints "<tsc cycles> <packets>".  Built with the engine's compiler and
 * flags against one design (-DFRAG_DESIGN=null), so the calls are the same.
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
	unsigned int size = argc > 3 ? atoi(argv[3]) : 256;
	unsigned int mask = frag_align_mask(1);
	void **ptr = calloc(batch, sizeof(*ptr));
	uint64_t t0, t1;
	long done, i, n;

	if (!ptr || packets < 1 || batch < 1)
		return 2;
	frag_init(cache);
	t0 = frag_rdtscp();
	for (done = 0; done < packets; done += n) {
		n = packets - done < batch ? packets - done : batch;
		for (i = 0; i < n; i++) {
			ptr[i] = frag_alloc(cache, size, mask);
			frag_keep(ptr[i]);
		}
		for (i = 0; i < n; i++)
			if (likely(ptr[i]))
				frag_free(ptr[i]);
	}
	t1 = frag_rdtscp();
	frag_drain(cache);
	printf("%llu %ld\n", (unsigned long long)(t1 - t0), packets);
	free(ptr);
	return 0;
}
