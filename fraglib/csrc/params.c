// SPDX-License-Identifier: GPL-2.0-only
/*
 * params.c - the engine's parameters: one table that parses, bounds-checks
 * and documents each key=value.  An error names the parameter, the value
 * and what is allowed, and the engine then writes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "kversion.h"

enum ptype { P_LONG, P_DOUBLE, P_STR, P_POW2 };

struct param_def {
	const char *key;
	enum ptype type;
	size_t off;
	double min, max;
	const char *help;
	const char *const *choices;	/* the words a P_STR takes, or NULL */
	const char *why;		/* with choices: what the choice decides */
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* rx small-head routes, and how rx frees a head consumed on cpu2. */
static const char *const small_heads[] = { "slicer1k", "kmalloc", "design",
					   NULL };
static const char *const remote_free[] = { "direct", "defer", NULL };

#define F(field) offsetof(struct frag_params, field)

static const struct param_def defs[] = {
	{ "design", P_STR, F(design), 0, 0, "design (fixed at build time)", NULL, NULL },
	{ "workload", P_STR, F(workload), 0, 0, "workload name", NULL, NULL },
	{ "packets", P_LONG, F(packets), 1, 1e11, "packets in the measured region", NULL, NULL },
	{ "size", P_LONG, F(size), 1, FRAG_PAGE_SIZE, "fragment size in bytes", NULL, NULL },
	{ "align", P_POW2, F(align), 1, FRAG_PAGE_SIZE,
	  "alignment, a power of two (1 = page_frag_alloc)", NULL, NULL },
	{ "batch", P_LONG, F(batch), 1, 1 << 20, "packets per timed sample", NULL, NULL },
	{ "warmup", P_LONG, F(warmup), 0, 1 << 20, "warm-up samples (kept, marked)", NULL, NULL },
	{ "cpu", P_LONG, F(cpu), -1, 4095, "CPU to pin to, -1 = do not pin", NULL, NULL },
	{ "cpu2", P_LONG, F(cpu2), -1, 4095, "second CPU (two-thread workloads)", NULL, NULL },
	{ "seed", P_LONG, F(seed), 0, 9.2e18, "random seed", NULL, NULL },
	{ "counters", P_LONG, F(counters), 0, 1, "1 = perf_event_open counters", NULL, NULL },
	{ "arena_mb", P_LONG, F(arena_mb), 1, 65536, "page model arena in MiB", NULL, NULL },
	{ "max_pages", P_LONG, F(max_pages), 0, 1e12, "cap on pages in use, 0 = none", NULL, NULL },
	{ "high_order_fail", P_DOUBLE, F(high_order_fail), 0, 1,
	  "probability an order-3 allocation fails", NULL, NULL },
	{ "pfmemalloc_rate", P_DOUBLE, F(pfmemalloc_rate), 0, 1,
	  "probability an order-0 page is pfmemalloc", NULL, NULL },
	{ "busy_poll", P_LONG, F(busy_poll), -1, 1,
	  "1 = waiting threads spin, 0 = they yield, -1 = the workload's "
	  "default (ring spins as page_frag_test's cond_resched() does on an "
	  "idle CPU; rx and tx yield)", NULL, NULL },
	{ "dist", P_STR, F(dist), 0, 0,
	  "packet sizes: fixed:N, uniform:A-B, imix, csv:NAME", NULL, NULL },
	{ "queue_depth", P_LONG, F(queue_depth), 0, 1 << 20,
	  "packets alive before they are freed", NULL, NULL },
	{ "mss", P_LONG, F(mss), 1, 65535, "tx segment size", NULL, NULL },
	{ "gso_size", P_LONG, F(gso_size), 1, 1 << 20, "tx bytes per skb", NULL, NULL },
	{ "tx_delay", P_LONG, F(tx_delay), 0, 1 << 20,
	  "tx completion delay in segments", NULL, NULL },
	{ "touch", P_LONG, F(touch), 0, FRAG_PAGE_SIZE, "header bytes written", NULL, NULL },
	{ "net_skb_pad", P_LONG, F(net_skb_pad), 0, 4096, "NET_SKB_PAD", NULL, NULL },
	{ "net_ip_align", P_LONG, F(net_ip_align), 0, 64, "NET_IP_ALIGN", NULL, NULL },
	{ "shinfo_size", P_LONG, F(shinfo_size), 0, 4096,
	  "sizeof(struct skb_shared_info)", NULL, NULL },
	{ "cache_line", P_POW2, F(cache_line), 8, 4096, "SMP_CACHE_BYTES", NULL, NULL },
	{ "ring_size", P_LONG, F(ring_size), 2, 1 << 20, "ring slots", NULL, NULL },
	{ "sizes_dir", P_STR, F(sizes_dir), 0, 0,
	  "directory of dist=csv:NAME tables (NAME.csv)", NULL, NULL },
	{ "init_on_alloc", P_LONG, F(init_on_alloc), 0, 1,
	  "1 = zero every page as it is allocated (init_on_alloc=1)", NULL, NULL },
	{ "small_heads", P_STR, F(small_heads), 0, 0,
	  "rx heads with len+NET_SKB_PAD+NET_IP_ALIGN <= SKB_WITH_OVERHEAD(1024): "
	  "slicer1k (6.3-6.13), kmalloc (<= 6.2, >= 6.14) or design (what-if); "
	  "default: what the design's kernel does",
	  small_heads, "where rx heads below SKB_WITH_OVERHEAD(1024) go" },
	{ "remote_free", P_STR, F(remote_free), 0, 0,
	  "rx heads consumed on cpu2: direct (freed there) or defer "
	  "(skb_attempt_defer_free: handed back to the allocating CPU)",
	  remote_free, "how rx frees a head consumed on cpu2" },
	{ "defer_max", P_LONG, F(defer_max), 0, 1 << 20,
	  "sysctl_skb_defer_max: per-CPU defer list limit (kick at half)", NULL, NULL },
	{ "sample_batches", P_LONG, F(sample_batches), 1, 1 << 20,
	  "batches per timed sample (fastpath)", NULL, NULL },
	{ "rerandomize", P_LONG, F(rerandomize), 0, 1,
	  "1 = new stack depth and pointer-array offset every sample (fastpath)", NULL, NULL },
	{ "fault", P_LONG, F(fault), 0, 4,
	  "test only: 1 SIGSEGV, 2 abort, 3 hang, 4 malformed output", NULL, NULL },
	{ "handoff_rfd", P_LONG, F(handoff_rfd), -1, 65535,
	  "interleave: fd to read the peer engine's token from, -1 = off", NULL, NULL },
	{ "handoff_wfd", P_LONG, F(handoff_wfd), -1, 65535,
	  "interleave: fd to write the token to the peer engine, -1 = off", NULL, NULL },
	{ "handoff_samples", P_LONG, F(handoff_samples), 0, 1 << 20,
	  "interleave: samples per round before the token passes, 0 = off", NULL, NULL },
	{ "handoff_wait", P_LONG, F(handoff_wait), 0, 1,
	  "interleave: 1 = wait for the peer's token before the first round", NULL, NULL },
};

void frag_params_defaults(struct frag_params *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->workload, "fastpath");
	p->packets = 262144;
	p->size = 256;
	p->align = 1;
	p->batch = 64;
	p->warmup = 16;
	p->cpu = -1;
	p->cpu2 = -1;
	p->seed = 1;
	p->counters = 1;
	p->arena_mb = 16;
	strcpy(p->dist, "imix");
	p->queue_depth = 256;
	p->mss = 1448;
	p->gso_size = 65536;
	p->tx_delay = 64;
	p->touch = 64;
	p->net_skb_pad = 64;
	p->net_ip_align = 0;
	p->shinfo_size = 320;
	p->cache_line = 64;
	p->ring_size = 512;
	p->busy_poll = -1;
	/* small_heads stays empty: frag_params_resolve() asks the design. */
	strcpy(p->remote_free, "direct");
	p->defer_max = 64;
	p->sample_batches = 64;
	p->rerandomize = 1;
	p->handoff_rfd = -1;
	p->handoff_wfd = -1;
}

static const struct param_def *find_def(const char *key);

/* A P_STR with choices: its value must be one of them. */
static int check_choice(const struct frag_params *p, const char *key,
			char *err, size_t len)
{
	const struct param_def *d = find_def(key);
	const char *val = (const char *)p + d->off;
	size_t i, n;

	for (i = 0; d->choices[i]; i++)
		if (!strcmp(val, d->choices[i]))
			return 0;
	n = snprintf(err, len, "invalid %s=%s: allowed ", key, val);
	for (i = 0; d->choices[i] && n < len; i++)
		n += snprintf(err + n, len - n, "%s%s", i ? ", " : "",
			      d->choices[i]);
	if (n < len)
		snprintf(err + n, len - n, " (%s)", d->why);
	return -1;
}

/*
 * Fill in the defaults that depend on the design and the workload, and
 * check the parameters that take one of a few words.  Called once the
 * engine knows both; the params it then prints hold the resolved values.
 */
int frag_params_resolve(struct frag_params *p, const char *design, char *err,
			size_t len)
{
	const struct frag_kver *k = frag_kver_find(design);
	const struct frag_workload_info *wi = frag_workload_info_find(p->workload);
	unsigned int flags = wi ? wi->flags : 0;

	if (p->busy_poll < 0)
		p->busy_poll = !!(flags & FRAG_WL_SPINS);
	if (!p->small_heads[0]) {
		if (k) {
			snprintf(p->small_heads, sizeof(p->small_heads), "%s",
				 frag_kver_small_heads(k->kver));
		} else if (flags & FRAG_WL_SMALL_HEADS) {
			snprintf(err, len, "invalid small_heads=(unset): allowed "
				 "slicer1k, kmalloc or design; design %s names no "
				 "kernel version (kversion.c), so rx has no default",
				 design);
			return -1;
		}
	}
	if (p->small_heads[0] && check_choice(p, "small_heads", err, len))
		return -1;
	if (check_choice(p, "remote_free", err, len))
		return -1;
	if (!(flags & FRAG_WL_DEFER_FREE) && strcmp(p->remote_free, "direct")) {
		snprintf(err, len, "invalid remote_free=%s: allowed direct for "
			 "workload %s (skb_attempt_defer_free() is the rx path's)",
			 p->remote_free, p->workload);
		return -1;
	}
	return 0;
}

void frag_params_known_keys(char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(defs) && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
			      defs[i].key);
}

static const struct param_def *find_def(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(defs); i++)
		if (!strcmp(defs[i].key, key))
			return &defs[i];
	return NULL;
}

bool frag_params_known(const char *key)
{
	return find_def(key);
}

int frag_params_set(struct frag_params *p, const char *key, const char *val,
		    char *err, size_t len)
{
	const struct param_def *d = find_def(key);
	char *end, *field;

	if (!d) {
		char known[1024];

		frag_params_known_keys(known, sizeof(known));
		snprintf(err, len, "unknown parameter '%s'; known: %s", key, known);
		return -1;
	}
	field = (char *)p + d->off;
	if (d->type == P_STR) {
		if (strlen(val) >= FRAG_STR_LEN || !*val || strpbrk(val, "\"\\")) {
			snprintf(err, len, "invalid %s='%s': allowed 1..%d characters, no quotes or backslashes",
				 key, val, FRAG_STR_LEN - 1);
			return -1;
		}
		strcpy(field, val);
		return 0;
	}
	errno = 0;
	if (d->type == P_DOUBLE) {
		double v = strtod(val, &end);

		if (errno || end == val || *end || !(v >= d->min && v <= d->max)) {
			snprintf(err, len, "invalid %s=%s: allowed a number in [%g, %g] (%s)",
				 key, val, d->min, d->max, d->help);
			return -1;
		}
		*(double *)field = v;
		return 0;
	} else {
		long v = strtol(val, &end, 10);

		if (errno || end == val || *end || v < d->min || v > d->max) {
			snprintf(err, len, "invalid %s=%s: allowed an integer in [%.0f, %.0f] (%s)",
				 key, val, d->min, d->max, d->help);
			return -1;
		}
		if (d->type == P_POW2 && (v & (v - 1))) {
			snprintf(err, len, "invalid %s=%s: allowed a power of two in [%.0f, %.0f] (%s)",
				 key, val, d->min, d->max, d->help);
			return -1;
		}
		*(long *)field = v;
		return 0;
	}
}

int frag_params_check_cpu(const char *key, long cpu, char *err, size_t len)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	if (sched_getaffinity(0, sizeof(set), &set) || cpu >= CPU_SETSIZE ||
	    !CPU_ISSET(cpu, &set)) {
		snprintf(err, len, "invalid %s=%ld: allowed -1 (do not pin) or a CPU this process may run on (0..%ld)",
			 key, cpu, ncpu - 1);
		return -1;
	}
	return 0;
}

void frag_params_help(FILE *f)
{
	size_t i;

	fprintf(f, "parameters (key=value):\n");
	for (i = 0; i < ARRAY_SIZE(defs); i++)
		fprintf(f, "  %-16s %s\n", defs[i].key, defs[i].help);
}

static const char *const type_names[] = {
	[P_LONG] = "int", [P_DOUBLE] = "float", [P_STR] = "str",
	[P_POW2] = "pow2",
};

/* Print @d's field of @p as key=value text (no quotes). */
static void field_text(const struct param_def *d, const struct frag_params *p,
		       char *buf, size_t len)
{
	const char *field = (const char *)p + d->off;

	if (d->type == P_STR)
		snprintf(buf, len, "%s", field);
	else if (d->type == P_DOUBLE)
		snprintf(buf, len, "%.17g", *(const double *)field);
	else
		snprintf(buf, len, "%ld", *(const long *)field);
}

/* The table, for the binding (fraglib.workloads reads it). */
int fraglib_nparams(void)
{
	return (int)ARRAY_SIZE(defs);
}

int fraglib_param_at(int i, struct fraglib_param *out)
{
	struct frag_params p;
	const struct param_def *d;

	if (i < 0 || i >= (int)ARRAY_SIZE(defs))
		return -1;
	d = &defs[i];
	frag_params_defaults(&p);
	memset(out, 0, sizeof(*out));
	out->key = d->key;
	out->type = type_names[d->type];
	out->min = d->min;
	out->max = d->max;
	out->help = d->help;
	out->choices = d->choices;
	out->why = d->why;
	field_text(d, &p, out->default_text, sizeof(out->default_text));
	return 0;
}

void frag_params_json(FILE *f, const struct frag_params *p)
{
	size_t i;

	fputc('{', f);
	for (i = 0; i < ARRAY_SIZE(defs); i++) {
		const char *field = (const char *)p + defs[i].off;

		fprintf(f, "%s\"%s\": ", i ? ", " : "", defs[i].key);
		if (defs[i].type == P_STR)
			fprintf(f, "\"%s\"", field);
		else if (defs[i].type == P_DOUBLE)
			fprintf(f, "%.17g", *(const double *)field);
		else
			fprintf(f, "%ld", *(const long *)field);
	}
	fputc('}', f);
}

/* Test-only fault injection (tests/test_reliability.py): never set by a sweep. */
void frag_params_fault(const struct frag_params *p)
{
	switch (p->fault) {
	case 1:
		raise(SIGSEGV);
		break;
	case 2:
		abort();
	case 3:
		for (;;)
			pause();
	case 4:
		fputs("{\"cycles\": [1, 2", stdout);
		exit(0);
	}
}
