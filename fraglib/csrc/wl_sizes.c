// SPDX-License-Identifier: GPL-2.0-only
/*
 * wl_sizes.c - not a measurement: print the sizes the rx/tx workloads
 * would use.  It draws warmup + packets sizes from `dist` with `seed`
 * (the same call the workloads make) and records each as one sample
 * whose "cycles" field holds the size in bytes and whose packet count is
 * 1.  Tests check the generator through it; notebooks can plot it.
 */
#include <stdlib.h>

#include "design_direct.h"
#include "engine.h"
#include "sizes.h"

static int sizes_validate(const struct frag_params *p, char *err, size_t len)
{
	struct frag_dist d;

	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, err, len))
		return -1;
	frag_dist_free(&d);
	if (p->packets + p->warmup > (1l << 24)) {
		snprintf(err, len, "invalid packets=%ld: allowed at most %ld sizes "
			 "(packets + warmup) for workload=sizes", p->packets,
			 (1l << 24) - p->warmup);
		return -1;
	}
	return 0;
}

static int sizes_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	long n = p->warmup + p->packets, i;
	double sum = 0, lo = 0, hi = 0;
	struct frag_dist d;
	uint32_t *v;

	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, r->err, sizeof(r->err)))
		return -1;
	v = malloc(n * sizeof(*v));
	if (!v || frag_reserve_samples(r, n)) {
		snprintf(r->err, sizeof(r->err), "out of memory for %ld sizes", n);
		free(v);
		frag_dist_free(&d);
		return -1;
	}
	frag_dist_fill(&d, p->seed, v, n);
	for (i = 0; i < n; i++) {
		frag_sample(r, v[i], 1);
		sum += v[i];
		if (!i || v[i] < lo)
			lo = v[i];
		if (!i || v[i] > hi)
			hi = v[i];
	}
	frag_metric(r, "size_mean", sum / n);
	frag_metric(r, "size_min", lo);
	frag_metric(r, "size_max", hi);
	frag_metric(r, "dist_mean", d.mean);
	frag_metric(r, "dist_rows", d.n);
	free(v);
	frag_dist_free(&d);
	return 0;
}

const struct frag_workload frag_wl_sizes = {
	.info		= &frag_wl_info_sizes,
	.validate	= sizes_validate,
	.run		= sizes_run,
};
