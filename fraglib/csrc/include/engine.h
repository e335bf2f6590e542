/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * engine.h - what the engine hands a workload and what a workload hands
 * back.  A workload is a C loop that calls the design directly; it records
 * one sample per batch (TSC cycles and packets) and any metrics it has.
 */
#ifndef FRAG_ENGINE_H
#define FRAG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "frag.h"
#include "perfctr.h"

/*
 * SZ_1K: a small rx head's 1 KiB (a page_frag_alloc_1k() slice or a
 * kmalloc-1k object); heads up to SKB_WITH_OVERHEAD() of it are small.
 */
#define FRAG_SMALL_HEAD_SIZE	1024u

#define FRAG_ERR_LEN		512
#define FRAG_MAX_METRICS	48

/*
 * struct frag_params - every run parameter.  params.c holds the table
 * that parses, bounds-checks and documents each one; a workload's
 * validate() checks the combinations.
 */
struct frag_params {
	char design[FRAG_STR_LEN];
	char workload[FRAG_STR_LEN];
	long packets;		/* fragments (packets) in the measured region */
	long size;		/* fragment size in bytes (fastpath) */
	long align;		/* power of two; 1 = page_frag_alloc() */
	long batch;		/* packets per timed sample (NAPI budget) */
	long warmup;		/* batches run and recorded but marked warm-up */
	long cpu;		/* CPU to pin the (first) thread to; -1 = none */
	long cpu2;		/* second CPU for two-thread workloads */
	long seed;
	long counters;		/* 1: perf_event_open around the region */
	long arena_mb;		/* page model arena */
	long max_pages;		/* cap on pages in use, 0 = arena */
	double high_order_fail;	/* order-3 failure probability */
	double pfmemalloc_rate;	/* pfmemalloc page probability */
	long busy_poll;		/* 1: spin, 0: yield, -1: workload's default */
	/* rx / tx / ring (the real-use-cases issue) */
	char dist[FRAG_STR_LEN];	/* packet size distribution spec */
	long queue_depth;	/* packets alive before free (rx) */
	long mss;		/* tx segment size */
	long gso_size;		/* tx max bytes per skb */
	long tx_delay;		/* tx completion delay, in segments */
	long touch;		/* bytes of header written per packet (rx) */
	long net_skb_pad;
	long net_ip_align;
	long shinfo_size;
	long cache_line;
	long ring_size;
	char sizes_dir[FRAG_STR_LEN];	/* where dist=csv:NAME finds NAME.csv */
	long init_on_alloc;	/* 1: the page model zeroes every allocation */
	/* rx small heads and remote free (issue 10) */
	char small_heads[FRAG_STR_LEN];	/* slicer1k, kmalloc or design */
	char remote_free[FRAG_STR_LEN];	/* direct or defer */
	long defer_max;		/* sysctl_skb_defer_max */
	long sample_batches;	/* batches per timed sample (fastpath) */
	long rerandomize;	/* 1: move stack and pointer array per sample */
	long fault;		/* test only: 1 segv, 2 abort, 3 hang, 4 garbage */
	/* lockstep interleaving of two engine processes (issue 9) */
	long handoff_rfd;	/* read the peer's token here; -1 = off */
	long handoff_wfd;	/* write our token here; -1 = off */
	long handoff_samples;	/* samples per round; 0 = off */
	long handoff_wait;	/* 1: wait for the token before the first round */
};

struct frag_metric {
	char name[40];
	double value;
};

/**
 * struct frag_run - one run of one workload on one design.
 * @p:       the validated parameters.
 * @nc:      the cache (inside @box); workloads pass it to frag_alloc().
 * @cycles:  per-sample TSC cycles (warm-up samples first).
 * @packets: per-sample packet count.
 * @rounds:  per-sample round index, with handoff on (else NULL).
 * @stamps:  per-sample TSC at its end, with handoff on (else NULL).
 * @perf:    counters, one per measured thread.
 */
struct frag_run {
	const struct frag_params *p;
	struct frag_box *box;
	void *nc;
	uint64_t *cycles;
	uint32_t *packets;
	uint32_t *rounds;	/* per-sample round index (handoff runs) */
	uint64_t *stamps;	/* per-sample TSC at its end (handoff runs) */
	long nsamples, cap;
	/* handoff state: fds are -1 once the peer has gone (EOF, EPIPE) */
	int ho_rfd, ho_wfd;
	long ho_left;		/* samples left in this round */
	long ho_round;		/* round index of the next sample */
	long ho_handoffs;	/* tokens passed to the peer */
	long ho_peer_gone;	/* sample index at which the peer went, or -1 */
	int nperf;
	struct frag_perf perf[2];
	int nmetrics;
	struct frag_metric metrics[FRAG_MAX_METRICS];
	char err[FRAG_ERR_LEN];
};

/**
 * struct frag_workload - one workload's code.
 * @info:     name, help and threads (workload_info.c, struct
 *            frag_workload_info in fraglib.cffi.h).
 * @validate: NULL, or check parameter combinations; fill @err and return -1
 *            (what the design can serve is @info->limits, run before).
 * @run:      run it; return 0, or -1 with r->err filled.
 */
struct frag_workload {
	const struct frag_workload_info *info;
	int (*validate)(const struct frag_params *p, char *err, size_t len);
	int (*run)(struct frag_run *r);
};

extern const struct frag_workload_info frag_wl_info_fastpath;
extern const struct frag_workload_info frag_wl_info_rx;
extern const struct frag_workload_info frag_wl_info_tx;
extern const struct frag_workload_info frag_wl_info_ring;
extern const struct frag_workload_info frag_wl_info_sizes;
extern const struct frag_workload_info *const frag_workload_infos[];
/* The info of workload @name, or NULL. */
const struct frag_workload_info *frag_workload_info_find(const char *name);
extern const struct frag_workload *const frag_workloads[];

/* Record one timed sample. Storage grows as needed (outside the region). */
int frag_sample(struct frag_run *r, uint64_t cycles, uint32_t packets);
/* Make room for n samples before the measured region starts. */
int frag_reserve_samples(struct frag_run *r, long n);
void frag_metric(struct frag_run *r, const char *name, double value);
/* Lockstep interleaving with a peer engine (engine.c): called by the engine. */
int frag_handoff_validate(const struct frag_params *p,
			  const struct frag_workload *wl, char *err, size_t len);

/* params.c */
void frag_params_defaults(struct frag_params *p);
int frag_params_set(struct frag_params *p, const char *key, const char *val,
		    char *err, size_t len);
int frag_params_check_cpu(const char *key, long cpu, char *err, size_t len);
int frag_params_resolve(struct frag_params *p, const char *design, char *err,
			size_t len);
void frag_params_help(FILE *f);
bool frag_params_known(const char *key);
void frag_params_known_keys(char *buf, size_t len);
void frag_params_fault(const struct frag_params *p);
void frag_params_json(FILE *f, const struct frag_params *p);

#endif /* FRAG_ENGINE_H */
