/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * perfctr.h - perf_event_open counters around the measured region.
 *
 * One group per measured thread, opened by that thread (pid 0, cpu -1),
 * enabled only around the measured region and read once.  An event the
 * machine cannot count is kept with its errno and a reason, never as zero.
 */
#ifndef FRAG_PERFCTR_H
#define FRAG_PERFCTR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fraglib.cffi.h"	/* the probe the binding calls */

#define FRAG_PERF_MAX_EVENTS	16

struct frag_perf_event {
	const char *name;	/* "cycles", "task-clock", ... */
	int fd;			/* -1 if not opened */
	int err;		/* errno from open or read, 0 if fine */
	bool leader;		/* fd leads a group: ioctls go to it */
	uint64_t value;		/* raw count, valid only if err == 0 */
	uint64_t time_enabled;
	uint64_t time_running;
};

/**
 * struct frag_perf - the counters of one thread.
 * @enabled: false when the run asked for no counters (counters=0).
 */
struct frag_perf {
	bool enabled;
	int nr;
	struct frag_perf_event ev[FRAG_PERF_MAX_EVENTS];
};

/* Open every known event for the calling thread; never fails the run. */
void frag_perf_open(struct frag_perf *p, bool enabled);
/* Reset + enable just before the region, disable just after. */
void frag_perf_start(struct frag_perf *p);
void frag_perf_stop(struct frag_perf *p);
/* Read the values (after stop) and close the fds. */
void frag_perf_read_close(struct frag_perf *p);
/* Print {"thread": idx, "events": {...}} as JSON. */
void frag_perf_json(FILE *f, const struct frag_perf *p, int thread_idx);
/* Why @e has no value ("not supported: no PMU (ENOENT)"); NULL if it has. */
const char *frag_perf_reason(const struct frag_perf_event *e, char *buf,
			     size_t len);

#endif /* FRAG_PERFCTR_H */
