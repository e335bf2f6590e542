// SPDX-License-Identifier: MIT
/* workloads.c - every workload the engine can run, by name. */
#include "engine.h"

extern const struct frag_workload frag_wl_fastpath;

const struct frag_workload *const frag_workloads[] = {
	&frag_wl_fastpath,
	NULL
};
