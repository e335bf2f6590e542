// SPDX-License-Identifier: GPL-2.0-only
/* workloads.c - every workload the engine can run, by name. */
#include "engine.h"

extern const struct frag_workload frag_wl_fastpath;
extern const struct frag_workload frag_wl_rx;
extern const struct frag_workload frag_wl_tx;
extern const struct frag_workload frag_wl_ring;
extern const struct frag_workload frag_wl_sizes;

const struct frag_workload *const frag_workloads[] = {
	&frag_wl_fastpath,
	&frag_wl_rx,
	&frag_wl_tx,
	&frag_wl_ring,
	&frag_wl_sizes,
	NULL
};
