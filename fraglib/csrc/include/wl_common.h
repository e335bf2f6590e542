/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wl_common.h - pieces the rx, tx and ring workloads share: the second
 * ("remote CPU") thread that frees what the ptr_ring (wl_ptr_ring.h)
 * delivers, the rx path's deferred free (skb_attempt_defer_free()), and
 * the memory metrics every run reports.
 *
 * Include after design_direct.h: the peer thread calls frag_free()
 * directly, as the remote CPU calls page_frag_free() in the kernel.
 */
#ifndef FRAG_WL_COMMON_H
#define FRAG_WL_COMMON_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "design_direct.h"
#include "engine.h"
#include "wl_defer.h"
#include "wl_ptr_ring.h"
#include "wl_small.h"

/*
 * Waiting: busy_poll=1 spins (the core stays awake, as a busy-polling
 * socket does, and as page_frag_test.ko's cond_resched() does on an
 * otherwise idle CPU: it returns at once); busy_poll=0 yields.
 */
static inline void wl_wait(long busy_poll)
{
	if (busy_poll)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static inline uint64_t wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Free a head on the CPU that allocated it (tagged heads dispatch). */
static inline void wl_release_local(struct wl_small *small, void *p)
{
	if (unlikely(wl_tag_of(p)))
		wl_small_free(small, p, false);
	else
		frag_free(p);
}

/*
 * skb_defer_free_flush() on the owner, at the top of every NAPI poll:
 * take the list, then free every head here, newest first (the list is
 * LIFO).  Returns the heads it freed.
 */
static inline unsigned int wl_defer_flush(struct wl_defer *d,
					  struct wl_small *small)
{
	void **list;
	unsigned int n = wl_defer_take(d, &list), i;

	for (i = n; i-- > 0;)
		wl_release_local(small, list[i]);
	return n;
}

/* ---- the remote CPU: pop and free ---- */

enum { WL_PEER_STARTING, WL_PEER_READY, WL_PEER_GO };

/**
 * struct wl_peer - the second thread (recvmsg / tx completion / pop).
 * @r:      the run; the peer owns r->perf[1].
 * @ring:   what it pops from.
 * @cpu:    CPU to pin to; -1 keeps the creator's affinity.
 * @state:  WL_PEER_* handshake, so thread start-up is never timed.
 * @measure: set by the producer when its warm-up ends: the peer's
 *          counters cover the measured part only, like the producer's.
 * @done:   set (release) by the producer after its last push.
 * @small:  the rx path's small-head allocators (tagged heads), or NULL.
 * @defer:  with remote_free=defer, the owner's defer list, or NULL.
 * @freed:  heads the peer freed itself.
 * @t_end:  wl_now_ns() when it popped the last one.
 * @err:    non-zero if pinning failed (it runs unpinned; the run fails).
 */
struct wl_peer {
	struct frag_run *r;
	struct wl_ring *ring;
	long cpu;
	atomic_int state;
	atomic_int measure;
	atomic_int done;
	struct wl_small *small;
	struct wl_defer *defer;
	uint64_t freed;
	uint64_t t_end;
	int err;
	pthread_t tid;
};

/*
 * What the remote CPU does with a head it consumed: hand it back to the
 * owner (remote_free=defer, when there is room), else free it here: the
 * design's fragments with frag_free(), tagged heads through wl_small.
 * Returns 1 if it freed the head itself.  tx and ring pass no @small:
 * their fragments (75 B, say) need not be aligned and are never tagged.
 */
static inline int wl_peer_release(struct wl_peer *w, void *p)
{
	if (w->defer && wl_defer_attempt(w->defer, p))
		return 0;
	/* Only rx tags its heads; tx and ring fragments may be unaligned. */
	if (unlikely(w->small && wl_tag_of(p)))
		wl_small_free(w->small, p, true);
	else
		frag_free(p);
	return 1;
}

static inline void *wl_peer_main(void *arg)
{
	struct wl_peer *w = arg;
	long busy_poll = w->r->p->busy_poll;
	uint64_t freed = 0;
	bool counting = false;

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		w->err = pthread_setaffinity_np(pthread_self(), sizeof(set),
						&set);
	}
	/* Its own pcp list, as a different CPU has in the kernel. */
	frag_set_cpu(1);
	frag_perf_open(&w->r->perf[1], w->r->p->counters);
	atomic_store_explicit(&w->state, WL_PEER_READY, memory_order_release);
	while (atomic_load_explicit(&w->state, memory_order_acquire) !=
	       WL_PEER_GO)
		wl_wait(busy_poll);

	for (;;) {
		void *p = wl_ring_pop(w->ring);

		if (unlikely(!counting) &&
		    atomic_load_explicit(&w->measure, memory_order_relaxed)) {
			frag_perf_start(&w->r->perf[1]);
			counting = true;
		}
		if (likely(p)) {
			freed += wl_peer_release(w, p);
			continue;
		}
		/* Empty: finished only if nothing was pushed before done. */
		if (atomic_load_explicit(&w->done, memory_order_acquire)) {
			p = wl_ring_pop(w->ring);
			if (!p)
				break;
			freed += wl_peer_release(w, p);
			continue;
		}
		wl_wait(busy_poll);
	}
	w->t_end = wl_now_ns();
	if (!counting)
		frag_perf_start(&w->r->perf[1]);
	frag_perf_stop(&w->r->perf[1]);
	frag_perf_read_close(&w->r->perf[1]);
	w->freed = freed;
	return NULL;
}

/* Start the peer and wait until it is pinned and its counters are open. */
static inline int wl_peer_start(struct wl_peer *w, struct frag_run *r,
				struct wl_ring *ring, long cpu,
				struct wl_small *small, struct wl_defer *defer)
{
	int e;

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->ring = ring;
	w->cpu = cpu;
	w->small = small;
	w->defer = defer;
	atomic_init(&w->state, WL_PEER_STARTING);
	atomic_init(&w->measure, 0);
	atomic_init(&w->done, 0);
	e = pthread_create(&w->tid, NULL, wl_peer_main, w);
	if (e) {
		snprintf(r->err, sizeof(r->err), "cannot start the cpu2 thread: %s",
			 strerror(e));
		return -1;
	}
	while (atomic_load_explicit(&w->state, memory_order_acquire) !=
	       WL_PEER_READY)
		sched_yield();
	return 0;
}

/*
 * The optional second CPU of rx and tx: with cpu2 >= 0 a peer thread there
 * frees what the ring carries (recvmsg or tx completion elsewhere).
 * Returns 0 with *remote set, or -1 with r->err filled.
 */
static inline int wl_remote_start(struct frag_run *r, struct wl_peer *peer,
				  struct wl_ring *ring, bool *remote,
				  struct wl_small *small, struct wl_defer *defer)
{
	const struct frag_params *p = r->p;

	*remote = p->cpu2 >= 0;
	r->nperf = *remote ? 2 : 1;
	if (!*remote)
		return 0;
	if (wl_ring_init(ring, p->ring_size, p->cache_line)) {
		snprintf(r->err, sizeof(r->err), "out of memory for the ring");
		return -1;
	}
	return wl_peer_start(peer, r, ring, p->cpu2, small, defer);
}

static inline void wl_peer_go(struct wl_peer *w)
{
	atomic_store_explicit(&w->state, WL_PEER_GO, memory_order_release);
}

/* The producer's warm-up is over: the peer starts its counters too. */
static inline void wl_peer_measure(struct wl_peer *w)
{
	atomic_store_explicit(&w->measure, 1, memory_order_relaxed);
}

/*
 * Called at the top of every sample: counters cover the measured samples
 * only, not the warm-up (as wl_fastpath.c does).
 */
static inline void wl_sample_start(struct frag_run *r, long b,
				   struct wl_peer *peer)
{
	if (b != r->p->warmup)
		return;
	frag_perf_start(&r->perf[0]);
	if (peer)
		wl_peer_measure(peer);
}

/* Push, waiting for room: every fragment is freed remotely. */
static inline void wl_peer_push(struct wl_peer *w, void *p)
{
	while (unlikely(wl_ring_push(w->ring, p)))
		wl_wait(w->r->p->busy_poll);
}

/* Tell the peer nothing more comes, and join it. */
static inline int wl_peer_finish(struct wl_peer *w)
{
	atomic_store_explicit(&w->done, 1, memory_order_release);
	pthread_join(w->tid, NULL);
	if (w->err) {
		snprintf(w->r->err, sizeof(w->r->err),
			 "cannot pin the second thread to cpu2=%ld: %s", w->cpu,
			 strerror(w->err));
		return -1;
	}
	return 0;
}

/* ---- memory metrics ---- */

/* Counters at the start of a run, so the metrics are this run's deltas. */
struct wl_mem {
	struct frag_pages_stats ps;
	struct frag_stats st;
};

static inline void wl_mem_begin(const struct frag_run *r, struct wl_mem *m)
{
	frag_pages_get_stats(&m->ps);
	m->st = r->box->stats;
}

/*
 * Report what the run cost in memory.  @packets and @bytes_requested count
 * the whole run, warm-up included, like the page counters they are
 * divided into.  Pages are 4 KiB units (an order-3 page is 8).
 */
static inline void wl_mem_end(struct frag_run *r, const struct wl_mem *m,
			      double packets, double bytes_requested)
{
	struct frag_pages_stats ps;
	double pages;

	frag_pages_get_stats(&ps);
	pages = (double)(ps.pages_allocated - m->ps.pages_allocated);
	frag_metric(r, "bytes_requested", bytes_requested);
	if (FRAG_OPS.caps & FRAG_CAP_PAGES) {
		frag_metric(r, "pages_taken", pages);
		frag_metric(r, "pages_per_1k_packets",
			    packets > 0 ? pages * 1000 / packets : 0);
		frag_metric(r, "peak_pages_held", (double)ps.peak_pages_in_use);
	}
#ifdef FRAG_STATS
	{
		const struct frag_stats *s = &r->box->stats, *s0 = &m->st;
		double req = (double)(s->bytes_requested - s0->bytes_requested);
		double used = (double)(s->bytes_consumed - s0->bytes_consumed);

		frag_metric(r, "bytes_consumed", used);
		if (req > 0)
			frag_metric(r, "consumed_per_requested", used / req);
		frag_metric(r, "refills", (double)(s->refills - s0->refills));
		frag_metric(r, "reuses", (double)(s->reuses - s0->reuses));
		frag_metric(r, "high_order_fallbacks",
			    (double)(s->high_order_fallbacks -
				     s0->high_order_fallbacks));
		frag_metric(r, "pages_abandoned",
			    (double)(s->pages_abandoned - s0->pages_abandoned));
		frag_metric(r, "commits_noref",
			    (double)(s->commits_noref - s0->commits_noref));
	}
#endif
}

/* Two CPUs are needed and the same one was given twice. */
static inline int wl_check_two_cpus(const struct frag_params *p, char *err,
				    size_t len)
{
	if (p->cpu2 >= 0 && p->cpu2 == p->cpu) {
		snprintf(err, len, "invalid cpu2=%ld: allowed -1 (free on the same "
			 "CPU) or a CPU other than cpu=%ld (this workload frees on a "
			 "second CPU)", p->cpu2, p->cpu);
		return -1;
	}
	return 0;
}

#endif /* FRAG_WL_COMMON_H */
