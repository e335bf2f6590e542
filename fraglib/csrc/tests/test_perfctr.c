// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_perfctr.c - perfctr.c on its own: open, count a busy loop, read.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Ifraglib/csrc/include \
 *        fraglib/csrc/perfctr.c fraglib/csrc/tests/test_perfctr.c
 *
 * Checks what must hold on any machine, PMU or not: task-clock counted
 * something, and each hardware event either has a value or says why not.
 * Prints the counters JSON on stdout (the same object the engine prints).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfctr.h"

static int failures;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			failures++;					\
		}							\
	} while (0)

static const char *const hw_names[] = {
	"cycles", "instructions", "cache-references", "cache-misses",
	"L1-dcache-load-misses", "LLC-load-misses", "branch-misses",
};

static const struct frag_perf_event *find(const struct frag_perf *p,
					  const char *name)
{
	int i;

	for (i = 0; i < p->nr; i++)
		if (!strcmp(p->ev[i].name, name))
			return &p->ev[i];
	return NULL;
}

/* Long enough (a few ms) that task-clock cannot round to zero. */
static unsigned long busy(unsigned long n)
{
	unsigned long i, x = 1;

	for (i = 0; i < n; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		asm volatile("" : "+r"(x) : : "memory");
	}
	return x;
}

int main(void)
{
	struct frag_perf p, off;
	const struct frag_perf_event *e;
	char buf[128];
	unsigned long x;
	size_t i;

	frag_perf_open(&p, true);
	frag_perf_start(&p);
	x = busy(20UL * 1000 * 1000);
	frag_perf_stop(&p);
	frag_perf_read_close(&p);

	e = find(&p, "task-clock");
	CHECK(e != NULL, "no task-clock event");
	if (e) {
		CHECK(e->err == 0, "task-clock errno %d", e->err);
		CHECK(e->value > 0, "task-clock is 0");
		CHECK(e->time_running > 0, "task-clock never ran");
	}
	for (i = 0; i < sizeof(hw_names) / sizeof(hw_names[0]); i++) {
		e = find(&p, hw_names[i]);
		CHECK(e != NULL, "no %s event", hw_names[i]);
		if (!e)
			continue;
		CHECK(e->fd == -1, "%s fd left open", hw_names[i]);
		/* A value, or an errno with a reason: never a silent 0. */
		if (e->err)
			CHECK(frag_perf_reason(e, buf, sizeof(buf)) != NULL,
			      "%s: errno %d without reason", hw_names[i],
			      e->err);
		else
			CHECK(frag_perf_reason(e, buf, sizeof(buf)) == NULL,
			      "%s: reason without errno", hw_names[i]);
	}
	/* Counted, and it ran: 20M iterations cannot take 0 cycles. */
	e = find(&p, "cycles");
	if (e && !e->err && e->time_running)
		CHECK(e->value > 0, "cycles measured as 0");

	frag_perf_open(&off, false);
	frag_perf_start(&off);
	frag_perf_stop(&off);
	frag_perf_read_close(&off);
	CHECK(off.nr == 0, "disabled run opened %d events", off.nr);

	frag_perf_json(stdout, &p, 0);
	fputc('\n', stdout);
	frag_perf_json(stdout, &off, 1);
	fputc('\n', stdout);

	fprintf(stderr, "test_perfctr: %s (x=%lu)\n",
		failures ? "FAILED" : "ok", x & 1);
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
