// SPDX-License-Identifier: GPL-2.0-only
/*
 * engine.c - run one workload on one design, print one JSON document.
 *
 *   fraglib-engine-<design> workload=fastpath packets=262144 size=256 ...
 *
 * The engine is built once per design (-DFRAG_DESIGN=...), so the
 * workload's calls into the design are direct.  It validates every
 * parameter before touching anything, pins itself, builds and prefaults
 * the page model, runs the workload with counters enabled around the
 * measured region only, calibrates the TSC, drains the cache and checks
 * that every page went back.  Exit status: 0 ok, 2 bad parameters (a
 * one-line message on stderr, nothing on stdout), 1 run failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "design_direct.h"
#include "engine.h"
#include "tsc.h"

/*
 * A layout build links a generated object that defines this (see
 * fraglib/_build.py); the canonical build has none, so the weak reference
 * is NULL.  A symbol rather than a -D flag: engine.c then compiles once per
 * design and alignment, and a new layout is only a relink.
 */
extern const int frag_layout_seed __attribute__((weak));

int frag_reserve_samples(struct frag_run *r, long n)
{
	uint64_t *c;
	uint32_t *k;

	if (n <= r->cap)
		return 0;
	c = realloc(r->cycles, n * sizeof(*c));
	if (c)
		r->cycles = c;
	k = realloc(r->packets, n * sizeof(*k));
	if (k)
		r->packets = k;
	if (!c || !k)
		return -1;
	/* Touch it now: a first-touch fault inside the region is a bug. */
	memset(r->cycles + r->cap, 0, (n - r->cap) * sizeof(*c));
	memset(r->packets + r->cap, 0, (n - r->cap) * sizeof(*k));
	if (r->p && r->p->handoff_samples) {
		uint32_t *rd = realloc(r->rounds, n * sizeof(*rd));
		uint64_t *st;

		if (!rd)
			return -1;
		r->rounds = rd;
		st = realloc(r->stamps, n * sizeof(*st));
		if (!st)
			return -1;
		r->stamps = st;
		memset(r->rounds + r->cap, 0, (n - r->cap) * sizeof(*rd));
		memset(r->stamps + r->cap, 0, (n - r->cap) * sizeof(*st));
	}
	r->cap = n;
	return 0;
}

/*
 * Lockstep interleaving (issue 9).  Two engine processes pinned to one
 * CPU pass a one-byte token through two pipes, so they run in alternate
 * rounds of handoff_samples samples.  A VM whose speed changes with time
 * (two machine modes, each lasting many samples) then shows both designs
 * the same mix of modes, and the pair's ratio cancels it; run one after
 * the other, a mode switch between them lands fully in the ratio.  The
 * handoff runs between samples, never inside a timed interval.  When the
 * peer goes (EOF, EPIPE: it finished or died), this engine carries on
 * alone rather than fail a run whose samples are all still valid.
 */
static void handoff_gone(struct frag_run *r)
{
	if (r->ho_wfd >= 0)
		close(r->ho_wfd);
	if (r->ho_rfd >= 0)
		close(r->ho_rfd);
	r->ho_rfd = r->ho_wfd = -1;
	if (r->ho_peer_gone < 0)
		r->ho_peer_gone = r->nsamples;
}

static int handoff_put(struct frag_run *r)
{
	char c = 't';
	ssize_t n;

	if (r->ho_wfd < 0)
		return -1;
	do
		n = write(r->ho_wfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		handoff_gone(r);
		return -1;
	}
	return 0;
}

static int handoff_get(struct frag_run *r)
{
	char c;
	ssize_t n;

	if (r->ho_rfd < 0)
		return -1;
	do
		n = read(r->ho_rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		handoff_gone(r);
		return -1;
	}
	return 0;
}

/* End of a round: give the peer the token and wait for it to come back. */
static noinline void handoff_round(struct frag_run *r)
{
	r->ho_left = r->p->handoff_samples;
	if (handoff_put(r))
		return;
	/* The peer ran (a round, or its last samples): the next round is cold. */
	r->ho_round++;
	r->ho_handoffs++;
	handoff_get(r);
}

int frag_handoff_validate(const struct frag_params *p,
			  const struct frag_workload *wl, char *err, size_t len)
{
	bool on = p->handoff_samples > 0;
	bool pop = wl->info->flags & FRAG_WL_POP_THREAD;
	int fl;

	if (!on && (p->handoff_rfd >= 0 || p->handoff_wfd >= 0 || p->handoff_wait)) {
		snprintf(err, len, "invalid handoff_samples=0: allowed 1..%d when "
			 "handoff_rfd, handoff_wfd or handoff_wait is set (the round "
			 "length of an interleaved run)", 1 << 20);
		return -1;
	}
	if (!on)
		return 0;
	/* A token passed between processes cannot stop a second thread. */
	if (pop || (wl->info->threads > 1 && p->cpu2 >= 0)) {
		snprintf(err, len, "invalid handoff_samples=%ld: allowed 0 for "
			 "workload %s with %s (two threads: the peer engine's rounds "
			 "would not stop the second one)", p->handoff_samples,
			 wl->info->name, pop ? "its pop thread" : "cpu2 >= 0");
		return -1;
	}
	fl = p->handoff_rfd >= 0 ? fcntl(p->handoff_rfd, F_GETFL) : -1;
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		snprintf(err, len, "invalid handoff_rfd=%ld: allowed an open file "
			 "descriptor this engine can read the peer's token from",
			 p->handoff_rfd);
		return -1;
	}
	fl = p->handoff_wfd >= 0 ? fcntl(p->handoff_wfd, F_GETFL) : -1;
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY ||
	    p->handoff_wfd == p->handoff_rfd) {
		snprintf(err, len, "invalid handoff_wfd=%ld: allowed an open file "
			 "descriptor, other than handoff_rfd, this engine can write "
			 "the token to", p->handoff_wfd);
		return -1;
	}
	return 0;
}

/*
 * Before the first sample.  The engine that waits says it is ready, then
 * waits for the token; the other waits for "ready" before it starts, so
 * no round is timed while the peer is still starting up on the same CPU
 * (prefaulting the arena, faulting in the samples).
 */
static void handoff_start(struct frag_run *r)
{
	const struct frag_params *p = r->p;

	r->ho_rfd = r->ho_wfd = -1;
	r->ho_peer_gone = -1;
	if (!p->handoff_samples)
		return;
	/* A peer that died must read as EOF/EPIPE here, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	r->ho_rfd = p->handoff_rfd;
	r->ho_wfd = p->handoff_wfd;
	r->ho_left = p->handoff_samples;
	if (p->handoff_wait && handoff_put(r))
		return;
	handoff_get(r);
}

/*
 * After the last sample: pass the token on (the peer may have samples
 * left), say so by closing our end, and wait until the peer has finished
 * too, so that our drain and output never run beside its timed samples.
 */
static void handoff_finish(struct frag_run *r)
{
	char c;
	ssize_t n;

	if (r->ho_wfd < 0)
		goto out;
	handoff_put(r);
	if (r->ho_wfd >= 0)
		close(r->ho_wfd);
	r->ho_wfd = -1;
	while (r->ho_rfd >= 0) {
		n = read(r->ho_rfd, &c, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
out:
	if (r->ho_rfd >= 0)
		close(r->ho_rfd);
	r->ho_rfd = -1;
}

int frag_sample(struct frag_run *r, uint64_t cycles, uint32_t packets)
{
	if (unlikely(r->nsamples == r->cap) &&
	    frag_reserve_samples(r, r->cap ? 2 * r->cap : 1024))
		return -1;
	r->cycles[r->nsamples] = cycles;
	r->packets[r->nsamples] = packets;
	if (unlikely(r->rounds)) {
		/* Outside the timed interval; lets a test see the rounds alternate. */
		r->rounds[r->nsamples] = r->ho_round;
		r->stamps[r->nsamples] = frag_rdtscp();
		r->nsamples++;
		if (--r->ho_left <= 0)
			handoff_round(r);
		return 0;
	}
	r->nsamples++;
	return 0;
}

void frag_metric(struct frag_run *r, const char *name, double value)
{
	int i;

	for (i = 0; i < r->nmetrics; i++)
		if (!strcmp(r->metrics[i].name, name))
			break;
	if (i == FRAG_MAX_METRICS)
		return;
	snprintf(r->metrics[i].name, sizeof(r->metrics[i].name), "%s", name);
	r->metrics[i].value = value;
	if (i == r->nmetrics)
		r->nmetrics++;
}

/*
 * One reading of CLOCK_MONOTONIC_RAW and the TSC at the same instant: the
 * clock read between two TSC reads, the narrowest of a few tries.  A
 * preemption between a lone TSC read and the clock read would add its
 * length to the interval on one side only; bracketed, it shows as a wide
 * bracket and the try is not used.
 */
static void tsc_clock_point(uint64_t *tsc, double *ns)
{
	uint64_t a, b, best = UINT64_MAX;
	struct timespec t;
	int i;

	for (i = 0; i < 16; i++) {
		a = frag_rdtscp();
		clock_gettime(CLOCK_MONOTONIC_RAW, &t);
		b = frag_rdtscp();
		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = t.tv_sec * 1e9 + t.tv_nsec;
		}
	}
}

/*
 * Over `ms` milliseconds between two bracketed points the rate is known
 * to about a bracket's error over the interval.  The narrowest of 16
 * brackets is a few ns off: at 10 ms, 20 processes' rates spread by
 * 2.3e-7 (relative SD).  The rate only converts cycles to ns (a verdict is
 * a ratio of cycles), so 2 ms (about 1e-6) is plenty, and each ms of spin
 * is a ms of every engine process; a lockstep pair spins both of its
 * processes on one CPU.
 */
double frag_tsc_calibrate(unsigned int ms)
{
	uint64_t t0, t1;
	double ns0, ns1;

	tsc_clock_point(&t0, &ns0);
	do
		tsc_clock_point(&t1, &ns1);
	while (ns1 - ns0 < ms * 1e6);
	return (t1 - t0) * 1e9 / (ns1 - ns0);
}

#define TSC_STEP_READS	4096
#define TSC_STEP_SPAN	512	/* longest delay, in loop iterations */
#define TSC_STEP_GAP	4	/* a gap this wide between values is a step */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Time delays of every length from 1 to TSC_STEP_SPAN iterations of a
 * one-cycle loop.  A clock that counts every cycle fills that range with
 * values one or two apart; a clock that ticks in steps leaves narrow
 * clusters of values (24 and 25 for a 24.5-cycle step) with empty gaps
 * of one step between them.  The step is the distance from the first to
 * the last cluster over the number of steps between them, which resolves
 * a fractional step; few clusters or wide ones mean the clock counts
 * every cycle: 1.
 */
double frag_tsc_step(void)
{
	static uint64_t d[TSC_STEP_READS];
	static double c[TSC_STEP_READS], g[TSC_STEP_READS];
	long i, k = 0, nuniq = 1, steps;
	uint64_t lo, prev;
	double gap, last;

	for (i = 0; i < TSC_STEP_READS; i++) {
		unsigned long len = 1 + (i * 7919) % TSC_STEP_SPAN;
		uint64_t t0, t1;

		t0 = frag_rdtscp();
		__asm__ __volatile__("1: dec %0\n\tjnz 1b" : "+r"(len));
		t1 = frag_rdtscp();
		d[i] = t1 - t0;
	}
	qsort(d, TSC_STEP_READS, sizeof(d[0]), cmp_u64);
	/* Centres of clusters of values less than TSC_STEP_GAP apart. */
	lo = prev = d[0];
	for (i = 1; i <= TSC_STEP_READS; i++) {
		if (i < TSC_STEP_READS && d[i] - prev < TSC_STEP_GAP) {
			nuniq += d[i] != prev;
			prev = d[i];
			continue;
		}
		c[k++] = (lo + prev) / 2.0;
		if (i < TSC_STEP_READS) {
			lo = prev = d[i];
			nuniq++;
		}
	}
	if (k < 8 || nuniq > 3 * k)
		return 1.0;
	/*
	 * Most neighbours are one step apart; a few are more, where no delay
	 * landed in a cluster or one was preempted: the median gap is a step
	 * to within a cycle, and counts the steps to the last cluster before
	 * the first wide (preempted) gap.
	 */
	for (i = 1; i < k; i++)
		g[i - 1] = c[i] - c[i - 1];
	qsort(g, k - 1, sizeof(g[0]), cmp_double);
	gap = g[(k - 1) / 2];
	last = c[0];
	for (i = 1; i < k && c[i] - c[i - 1] < 3 * gap; i++)
		last = c[i];
	steps = (long)((last - c[0]) / gap + 0.5);
	return steps > 0 ? (last - c[0]) / steps : gap;
}

static const struct frag_workload *find_workload(const char *name)
{
	const struct frag_workload *const *w;

	for (w = frag_workloads; *w; w++)
		if (!strcmp((*w)->info->name, name))
			return *w;
	return NULL;
}

/*
 * Errors go to stderr as one JSON line, so the caller (fraglib.engine)
 * reads fields instead of parsing prose:
 *   {"error": "parameter", "key": k, "value": v, "allowed": a, "message": m}
 *   {"error": "run", "message": m}
 * "message" is the human sentence, for a person reading stderr.
 */
static void json_str(FILE *f, const char *s, size_t n)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int param_error(const char *key, size_t nkey, const char *value,
		       size_t nvalue, const char *allowed, const char *msg)
{
	fputs("{\"error\": \"parameter\", \"key\": ", stderr);
	json_str(stderr, key, nkey);
	fputs(", \"value\": ", stderr);
	json_str(stderr, value, nvalue);
	fputs(", \"allowed\": ", stderr);
	json_str(stderr, allowed, SIZE_MAX);
	fputs(", \"message\": ", stderr);
	json_str(stderr, msg, SIZE_MAX);
	fputs("}\n", stderr);
	return 2;
}

static int run_error(const char *fmt, ...)
{
	char msg[2 * FRAG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("{\"error\": \"run\", \"message\": ", stderr);
	json_str(stderr, msg, SIZE_MAX);
	fputs("}\n", stderr);
	return 1;
}

/*
 * Every check (params.c, sizes.c, the workloads' validate()) words its
 * refusal "invalid <key>=<value>: allowed <what>"; split it here, where
 * that convention lives, into the JSON fields.
 */
static int usage_error(const char *msg)
{
	const char *eq, *colon, *allowed;

	if (strncmp(msg, "invalid ", 8) || !(eq = strchr(msg + 8, '=')) ||
	    !(colon = strstr(eq, ": ")))
		return param_error("", 0, "", 0, msg, msg);
	allowed = colon + 2;
	if (!strncmp(allowed, "allowed ", 8))
		allowed += 8;
	return param_error(msg + 8, eq - msg - 8, eq + 1, colon - eq - 1,
			   allowed, msg);
}

static void print_help(void)
{
	const struct frag_workload *const *w;

	printf("fraglib engine for design '%s' (%s)\n", FRAG_OPS.name,
	       FRAG_OPS.mirrors);
	printf("usage: fraglib-engine-%s [key=value ...]\nworkloads:\n",
	       FRAG_OPS.name);
	for (w = frag_workloads; *w; w++)
		printf("  %-10s %s\n", (*w)->info->name, (*w)->info->help);
	frag_params_help(stdout);
}

static void json_str_array(const char *key, FILE *f)
{
	fprintf(f, "\"%s\": [", key);
}

static void print_result(const struct frag_run *r, double tsc_hz,
			 double tsc_step, const struct frag_pages_stats *ps, long leaked,
			 long faults)
{
	const struct frag_stats *s = &r->box->stats;
	long i;

	printf("{\"engine\": 1, \"design\": \"%s\", \"layout_seed\": %d, ",
	       FRAG_OPS.name, &frag_layout_seed ? frag_layout_seed : 0);
	printf("\"struct_size\": %u, \"caps\": %u, ", FRAG_OPS.struct_size,
	       FRAG_OPS.caps);
	printf("\"params\": ");
	frag_params_json(stdout, r->p);
	printf(", \"tsc_hz\": %.1f, \"tsc_step\": %.3f, \"warmup_samples\": %ld, ",
	       tsc_hz, tsc_step,
	       r->p->warmup < r->nsamples ? r->p->warmup : r->nsamples);
	json_str_array("cycles", stdout);
	for (i = 0; i < r->nsamples; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)r->cycles[i]);
	printf("], ");
	json_str_array("packets", stdout);
	for (i = 0; i < r->nsamples; i++)
		printf("%s%u", i ? "," : "", r->packets[i]);
	printf("], ");
	if (r->rounds) {
		json_str_array("rounds", stdout);
		for (i = 0; i < r->nsamples; i++)
			printf("%s%u", i ? "," : "", r->rounds[i]);
		printf("], ");
		json_str_array("stamps", stdout);
		for (i = 0; i < r->nsamples; i++)
			printf("%s%llu", i ? "," : "",
			       (unsigned long long)r->stamps[i]);
		printf("], ");
	}
	printf("\"metrics\": {");
	for (i = 0; i < r->nmetrics; i++)
		printf("%s\"%s\": %.17g", i ? ", " : "", r->metrics[i].name,
		       r->metrics[i].value);
	printf("}, \"pages\": {\"pages_allocated\": %llu, \"pages_freed\": %llu, "
	       "\"peak_pages_in_use\": %llu, \"alloc_failures\": %llu, "
	       "\"injected_failures\": %llu, \"pfmemalloc_pages\": %llu, "
	       "\"order0_allocs\": %llu, \"order3_allocs\": %llu, "
	       "\"pages_leaked\": %ld, \"minor_faults_run\": %ld}, ",
	       (unsigned long long)ps->pages_allocated,
	       (unsigned long long)ps->pages_freed,
	       (unsigned long long)ps->peak_pages_in_use,
	       (unsigned long long)ps->alloc_failures,
	       (unsigned long long)ps->injected_failures,
	       (unsigned long long)ps->pfmemalloc_pages,
	       (unsigned long long)ps->alloc_calls[0],
	       (unsigned long long)ps->alloc_calls[3], leaked, faults);
#ifdef FRAG_STATS
	printf("\"stats\": {\"allocs\": %llu, \"alloc_failures\": %llu, "
	       "\"refills\": %llu, \"reuses\": %llu, \"high_order_fallbacks\": %llu, "
	       "\"pages_abandoned\": %llu, \"bytes_requested\": %llu, "
	       "\"bytes_consumed\": %llu, \"commits_noref\": %llu}, ",
	       (unsigned long long)s->allocs, (unsigned long long)s->alloc_failures,
	       (unsigned long long)s->refills, (unsigned long long)s->reuses,
	       (unsigned long long)s->high_order_fallbacks,
	       (unsigned long long)s->pages_abandoned,
	       (unsigned long long)s->bytes_requested,
	       (unsigned long long)s->bytes_consumed,
	       (unsigned long long)s->commits_noref);
#else
	(void)s;
	printf("\"stats\": null, ");
#endif
	printf("\"counters\": [");
	for (i = 0; i < r->nperf; i++) {
		if (i)
			printf(", ");
		frag_perf_json(stdout, &r->perf[i], (int)i);
	}
	printf("]}\n");
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

int main(int argc, char **argv)
{
	static struct frag_box box;
	struct frag_params p;
	struct frag_run r;
	struct frag_pages_cfg cfg;
	struct frag_pages_stats ps;
	const struct frag_workload *wl;
	char err[FRAG_ERR_LEN], msg[FRAG_ERR_LEN];
	double tsc_hz, tsc_step;
	size_t arena_huge;
	long faults, leaked;
	int i;

	frag_params_defaults(&p);
	for (i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_help();
			return 0;
		}
		if (!eq) {
			snprintf(msg, sizeof(msg),
				 "argument '%s' is not key=value (see --help)", argv[i]);
			return param_error("argument", 8, argv[i], SIZE_MAX,
					   "key=value (see the engine's --help)",
					   msg);
		}
		*eq = '\0';
		if (!frag_params_known(argv[i])) {
			char known[1024], allowed[1100], text[1200];

			frag_params_known_keys(known, sizeof(known));
			snprintf(allowed, sizeof(allowed), "a known parameter: %s",
				 known);
			snprintf(text, sizeof(text),
				 "unknown parameter '%.64s'; known: %s", argv[i],
				 known);
			return param_error(argv[i], SIZE_MAX, eq + 1, SIZE_MAX,
					   allowed, text);
		}
		if (frag_params_set(&p, argv[i], eq + 1, err, sizeof(err)))
			return usage_error(err);
	}
	if (p.design[0] && strcmp(p.design, FRAG_OPS.name)) {
		snprintf(msg, sizeof(msg),
			 "invalid design=%s: this engine is built for design '%s'",
			 p.design, FRAG_OPS.name);
		return usage_error(msg);
	}
	snprintf(p.design, sizeof(p.design), "%s", FRAG_OPS.name);
	wl = find_workload(p.workload);
	if (!wl) {
		const struct frag_workload *const *w;
		size_t n;

		n = snprintf(msg, sizeof(msg), "invalid workload=%s: allowed ",
			     p.workload);
		for (w = frag_workloads; *w && n < sizeof(msg); w++)
			n += snprintf(msg + n, sizeof(msg) - n, "%s%s",
				      w == frag_workloads ? "" : ", ", (*w)->info->name);
		return usage_error(msg);
	}
	if (frag_params_resolve(&p, FRAG_OPS.name, err, sizeof(err)) ||
	    frag_params_check_cpu("cpu", p.cpu, err, sizeof(err)) ||
	    frag_params_check_cpu("cpu2", p.cpu2, err, sizeof(err)) ||
	    (wl->info->limits &&
	     wl->info->limits(&p, FRAG_OPS.name, wl_design_max_frag(), err,
			      sizeof(err))) ||
	    (wl->validate && wl->validate(&p, err, sizeof(err))) ||
	    frag_handoff_validate(&p, wl, err, sizeof(err)))
		return usage_error(err);

	if (p.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(p.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			return run_error("sched_setaffinity(cpu=%ld): %s",
					 p.cpu, strerror(errno));
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.arena_bytes = (size_t)p.arena_mb << 20;
	cfg.max_pages = p.max_pages;
	cfg.high_order_fail = p.high_order_fail;
	cfg.pfmemalloc_rate = p.pfmemalloc_rate;
	cfg.seed = p.seed;
	cfg.init_on_alloc = p.init_on_alloc;
	if (frag_pages_init(&cfg)) {
		return run_error("cannot map a %ld MiB arena", p.arena_mb);
	}
	frag_set_cpu(0);
	arena_huge = frag_pages_huge_bytes();

	memset(&r, 0, sizeof(r));
	r.p = &p;
	r.box = &box;
	r.nc = box.cache;
	box.ops = &FRAG_OPS;
	frag_init(r.nc);
	r.nperf = wl->info->threads;
	frag_perf_open(&r.perf[0], p.counters);

	frag_params_fault(&p);
	faults = minor_faults();
	handoff_start(&r);
	if (wl->run(&r)) {
		return run_error("%s: %s", wl->info->name, r.err);
	}
	handoff_finish(&r);
	faults = minor_faults() - faults;
	if (p.handoff_samples) {
		/* Say the run was interleaved, and how it went. */
		frag_metric(&r, "handoffs", (double)r.ho_handoffs);
		/* Rounds this engine's samples span (not the final handoff). */
		frag_metric(&r, "handoff_rounds", r.nsamples ?
			    (double)r.rounds[r.nsamples - 1] + 1 : 0.0);
		frag_metric(&r, "handoff_peer_gone_at", (double)r.ho_peer_gone);
	}
	frag_perf_read_close(&r.perf[0]);
	/* How the arena (the model's direct map) is backed: see page.c. */
	frag_metric(&r, "arena_huge_mib", arena_huge == (size_t)-1 ? -1.0 :
		    (double)arena_huge / (1 << 20));
	/*
	 * Calibrate after the region, not before: both loops branch on what
	 * the clock read, and under callgrind those branches train the
	 * simulated predictor the region then uses, so a calibration first
	 * made two identical runs differ by a mispredict.  The warm-up
	 * samples, not a calibration spin, bring the CPU up to speed.
	 */
	tsc_hz = frag_tsc_calibrate(2);
	tsc_step = frag_tsc_step();

	frag_drain(r.nc);
	frag_pages_drain_pcp();
	frag_pages_get_stats(&ps);
	leaked = (long)ps.pages_in_use;
	if (frag_pages_check(msg, sizeof(msg))) {
		return run_error("page model corrupt: %s", msg);
	}
	print_result(&r, tsc_hz, tsc_step, &ps, leaked, faults);
	return 0;
}
