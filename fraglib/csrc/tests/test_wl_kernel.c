// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_wl_kernel.c - the workloads' kernel disciplines, observed one step
 * at a time (tests/test_workloads_kernel.py checks the output):
 *
 * ring <size> <cache_line> <pushes> <pops>
 *	ptr_ring (include/linux/ptr_ring.h): push @pushes pointers, then pop
 *	@pops, one line per pop that cleared slots: "pop N clear i j k ..."
 *	in the order the slots were NULLed, then "push_ok N" (how many more
 *	pushes succeed) and "batch B".
 * defer <max> <attempts> <flush_every>
 *	skb_attempt_defer_free(): @attempts hand-backs of pointers 1, 2, ...,
 *	taking the list every @flush_every attempts; one line per attempt
 *	("attempt N deferred|nodefer [kick]") and per take ("flush N: a b c",
 *	the order the owner frees them in).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t cleared[1 << 16];
static size_t ncleared;

#define WL_RING_CLEAR_HOOK(q, idx) \
	((void)(q), cleared[ncleared++ % (1 << 16)] = (idx))

#include "wl_defer.h"
#include "wl_ptr_ring.h"

static int test_ring(size_t size, size_t line, long pushes, long pops)
{
	struct wl_ring q;
	long i, ok = 0;

	if (wl_ring_init(&q, size, line))
		return 1;
	printf("batch %zu\n", q.batch);
	for (i = 0; i < pushes; i++)
		if (wl_ring_push(&q, (void *)(uintptr_t)(i + 1)))
			break;
	printf("pushed %ld\n", i);
	for (i = 0; i < pops; i++) {
		void *p;
		size_t k;

		ncleared = 0;
		p = wl_ring_pop(&q);
		if (!p) {
			printf("pop %ld empty\n", i + 1);
			break;
		}
		if (!ncleared)
			continue;
		printf("pop %ld got %lu clear", i + 1, (unsigned long)(uintptr_t)p);
		for (k = 0; k < ncleared; k++)
			printf(" %zu", cleared[k]);
		printf("\n");
	}
	while (!wl_ring_push(&q, (void *)1))
		ok++;
	printf("push_ok %ld\n", ok);
	wl_ring_exit(&q);
	return 0;
}

static int test_defer(unsigned int max, long attempts, long every)
{
	struct wl_defer d;
	long i;

	if (wl_defer_init(&d, max))
		return 1;
	for (i = 1; i <= attempts; i++) {
		uint64_t kicks = d.kicks;
		bool ok = wl_defer_attempt(&d, (void *)(uintptr_t)i);

		printf("attempt %ld %s%s\n", i, ok ? "deferred" : "nodefer",
		       d.kicks != kicks ? " kick" : "");
		if (i % every == 0) {
			void **list;
			unsigned int n = wl_defer_take(&d, &list), k;

			printf("flush %u:", n);
			for (k = n; k-- > 0;)
				printf(" %lu", (unsigned long)(uintptr_t)list[k]);
			printf("\n");
		}
	}
	wl_defer_exit(&d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "ring"))
		return test_ring(strtoul(argv[2], NULL, 0),
				 strtoul(argv[3], NULL, 0), atol(argv[4]),
				 atol(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "defer"))
		return test_defer(strtoul(argv[2], NULL, 0), atol(argv[3]),
				  atol(argv[4]));
	fprintf(stderr, "usage: ring SIZE LINE PUSHES POPS | defer MAX N EVERY\n");
	return 2;
}
