// SPDX-License-Identifier: MIT
/*
 * wl_tx.c - the tx copy path: tcp_sendmsg_locked() copying user data into
 * page fragments (net/ipv4/tcp.c with sk_page_frag() and
 * skb_page_frag_refill(), docs/kernel-pagefrag.md §3).
 *
 * Each message (`dist`, e.g. fixed:65536) is copied with memcpy from a
 * source buffer, in chunks of at most `mss` bytes and at most what the
 * current skb still takes (size_goal = gso_size rounded down to a multiple
 * of mss, as tcp_xmit_size_goal() does).
 *
 * On a design with prepare/commit (the Part-2 API), each chunk asks
 * prepare() for at least 32 bytes, as sk_page_frag_refill() does, copies
 * min(chunk, what is there), and if that space starts exactly where the
 * skb's last fragment ends on the same page (skb_can_coalesce()), grows
 * that fragment and commits without a page reference (commit_noref);
 * otherwise it commits with a reference and adds a fragment.  A design
 * without prepare/commit allocates every chunk with frag_alloc() and never
 * coalesces.  An skb holds at most MAX_SKB_FRAGS fragments.
 *
 * An skb that is full is "sent"; its fragments are freed on tx completion
 * once `tx_delay` more wire segments (MSS packets) have been sent, so the
 * bytes in flight are about tx_delay * mss on every design whatever its
 * skbs look like.  Completion runs here or, with cpu2 >= 0, on cpu2
 * through an SPSC ring (the completion interrupt on another CPU).
 *
 * `packets` counts sendmsg() calls; one sample is `batch` of them, and its
 * packet count is the wire segments they make (sum of ceil(len / mss)),
 * which is the same for every design, so cycles per packet compare.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "design_direct.h"
#include "engine.h"
#include "sizes.h"
#include "tsc.h"
#include "wl_common.h"

#define MAX_SKB_FRAGS		17	/* sysctl_max_skb_frags default */
#define TX_PREPARE_MIN		32u	/* sk_page_frag_refill(): 32U */
#define TX_SRC_LEN		65536u	/* user buffer the copies cycle through */

struct tx_skb {
	uint32_t len;
	uint32_t segs;		/* wire segments: ceil(len / mss) */
	uint32_t nr_frags;
	unsigned char *frag[MAX_SKB_FRAGS];
	uint32_t frag_len[MAX_SKB_FRAGS];
};

struct tx_state {
	struct tx_skb *skb;	/* FIFO: [head, tail) sent, tail = filling */
	long head, tail, cap;
	long tx_delay;		/* wire segments in flight before completion */
	long inflight_segs;
	unsigned int mss;
	bool remote;
	struct wl_peer peer;
	uint64_t segments;	/* skbs sent */
	uint64_t freed;		/* fragments freed by this thread */
	uint64_t bytes_completed;
};

static int tx_validate(const struct frag_params *p, char *err, size_t len)
{
	struct frag_dist d;

	if (frag_dist_parse(&d, p->dist, p->sizes_dir, err, len))
		return -1;
	frag_dist_free(&d);
	if (p->mss > (long)wl_design_max_frag()) {
		snprintf(err, len, "invalid mss=%ld: allowed an integer in [1, %u] "
			 "on design %s (a chunk must fit one fragment)", p->mss,
			 wl_design_max_frag(), FRAG_OPS.name);
		return -1;
	}
	if ((unsigned long)p->align > wl_design_max_frag()) {
		snprintf(err, len, "invalid align=%ld: allowed at most %u on "
			 "design %s", p->align, wl_design_max_frag(), FRAG_OPS.name);
		return -1;
	}
	return wl_check_two_cpus(p, err, len);
}

/* tx completion: the skb's fragments go back, here or on cpu2. */
static inline void tx_complete(struct tx_state *s)
{
	struct tx_skb *skb = &s->skb[s->head];
	uint32_t i;

	for (i = 0; i < skb->nr_frags; i++) {
		if (s->remote) {
			wl_peer_push(&s->peer, skb->frag[i]);
		} else {
			frag_free(skb->frag[i]);
			s->freed++;
		}
	}
	s->bytes_completed += skb->len;
	s->inflight_segs -= skb->segs;
	s->head = s->head + 1 == s->cap ? 0 : s->head + 1;
}

static inline long tx_inflight(const struct tx_state *s)
{
	return (s->tail - s->head + s->cap) % s->cap;
}

/* The skb being filled is sent; start an empty one. */
static inline void tx_push_skb(struct tx_state *s)
{
	struct tx_skb *skb;

	skb = &s->skb[s->tail];
	if (!skb->len)
		return;
	skb->segs = (skb->len + s->mss - 1) / s->mss;
	s->inflight_segs += skb->segs;
	s->segments++;
	s->tail = s->tail + 1 == s->cap ? 0 : s->tail + 1;
	/* Completions arrive once tx_delay more segments are on the wire. */
	while (s->inflight_segs > s->tx_delay)
		tx_complete(s);
	skb = &s->skb[s->tail];
	skb->len = 0;
	skb->nr_frags = 0;
}

static int tx_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int mask = frag_align_mask(p->align), mss = p->mss;
	unsigned int size_goal = p->gso_size / mss * mss;
	const bool prep = (FRAG_OPS.caps & FRAG_CAP_PREPARE) && frag_prepare &&
			  frag_commit;
	long batch = p->batch, b, k = 0;
	long total = p->warmup + (p->packets + batch - 1) / batch;
	long nmsg = p->warmup * batch + p->packets;
	uint64_t bytes_sent = 0, bytes_copied = 0, chunks = 0, merged = 0;
	uint64_t allocated = 0, failures = 0, wire = 0, t_start, t_end;
	unsigned char *src = NULL;
	size_t soff = 0;
	struct wl_ring ring = { 0 };
	struct tx_state s;
	struct frag_dist d;
	struct wl_mem mem;
	uint32_t *msg = NULL;
	void *nc = r->nc;

	if (!size_goal)
		size_goal = mss;
	memset(&s, 0, sizeof(s));
	if (frag_dist_parse(&d, p->dist, p->sizes_dir, r->err, sizeof(r->err)))
		return -1;
	s.tx_delay = p->tx_delay;
	s.mss = mss;
	/* Every skb carries at least one segment: tx_delay + 1 in flight. */
	s.cap = p->tx_delay + 2;
	s.skb = calloc(s.cap, sizeof(*s.skb));
	msg = malloc(nmsg * sizeof(*msg));
	src = malloc(TX_SRC_LEN + PAGE_SIZE);
	if (!s.skb || !msg || !src || frag_reserve_samples(r, total)) {
		snprintf(r->err, sizeof(r->err), "out of memory for %ld messages",
			 nmsg);
		goto fail;
	}
	frag_dist_fill(&d, p->seed, msg, nmsg);
	for (k = 0; k < (long)(TX_SRC_LEN + PAGE_SIZE); k++)
		src[k] = (unsigned char)(k * 131 + 7);

	s.remote = p->cpu2 >= 0;
	r->nperf = s.remote ? 2 : 1;
	if (s.remote) {
		if (wl_ring_init(&ring, p->ring_size)) {
			snprintf(r->err, sizeof(r->err), "out of memory for the ring");
			goto fail;
		}
		if (wl_peer_start(&s.peer, r, &ring, p->cpu2))
			goto fail;
	}
	wl_mem_begin(r, &mem);

	if (s.remote)
		wl_peer_go(&s.peer);
	t_start = wl_now_ns();
	k = 0;
	for (b = 0; b < total; b++) {
		long n = b < p->warmup ? batch :
			 (nmsg - k < batch ? nmsg - k : batch), i;
		uint64_t t0, t1, pkts = 0;

		wl_sample_start(r, b, s.remote ? &s.peer : NULL);
		t0 = frag_rdtscp();
		for (i = 0; i < n; i++) {
			uint32_t left = msg[k++];

			pkts += (left + mss - 1) / mss;
			bytes_sent += left;
			while (left) {
				struct tx_skb *skb = &s.skb[s.tail];
				uint32_t chunk, copy;
				unsigned char *va;
				bool merge = false;

				if (skb->len >= size_goal) {
					tx_push_skb(&s);
					continue;
				}
				chunk = size_goal - skb->len;
				chunk = chunk < mss ? chunk : mss;
				chunk = chunk < left ? chunk : left;
				if (prep) {
					struct frag_prepared pf;

					if (unlikely(frag_prepare(nc, chunk < TX_PREPARE_MIN ?
								  chunk : TX_PREPARE_MIN,
								  mask, &pf)))
						goto nomem;
					copy = chunk < pf.size ? chunk : pf.size;
					va = pf.va;
					if (skb->nr_frags) {
						uint32_t last = skb->nr_frags - 1;
						unsigned char *end = skb->frag[last] +
								     skb->frag_len[last];

						merge = va == end && pf.offset &&
							frag_addr_in_arena(va) &&
							virt_to_head_page(va) ==
							virt_to_head_page(skb->frag[last]);
					}
					if (!merge && skb->nr_frags == MAX_SKB_FRAGS) {
						tx_push_skb(&s);
						continue;
					}
					memcpy(va, src + soff, copy);
					if (merge) {
						frag_commit(nc, &pf, copy, false);
						skb->frag_len[skb->nr_frags - 1] += copy;
						merged++;
					} else {
						frag_commit(nc, &pf, copy, true);
					}
				} else {
					if (skb->nr_frags == MAX_SKB_FRAGS) {
						tx_push_skb(&s);
						continue;
					}
					copy = chunk;
					va = frag_alloc(nc, copy, mask);
					if (unlikely(!va))
						goto nomem;
					memcpy(va, src + soff, copy);
				}
				if (!merge) {
					skb->frag[skb->nr_frags] = va;
					skb->frag_len[skb->nr_frags] = copy;
					skb->nr_frags++;
					allocated++;
				}
				skb->len += copy;
				left -= copy;
				chunks++;
				bytes_copied += copy;
				soff = (soff + copy) % TX_SRC_LEN;
				continue;
nomem:
				/*
				 * sk_stream_wait_memory(): completions give memory
				 * back.  With nothing in flight there is none to wait
				 * for, so the run fails.
				 */
				failures++;
				if (!tx_inflight(&s)) {
					snprintf(r->err, sizeof(r->err),
						 "allocation failed with no skb in flight "
						 "(arena_mb/max_pages too small?)");
					goto fail_running;
				}
				tx_complete(&s);
			}
		}
		t1 = frag_rdtscp();
		if (unlikely(pkts > UINT32_MAX)) {
			snprintf(r->err, sizeof(r->err), "a sample of %ld messages "
				 "makes more than 2^32 segments: lower batch", n);
			goto fail_running;
		}
		wire += pkts;
		frag_sample(r, t1 - t0, (uint32_t)pkts);
	}
	frag_perf_stop(&r->perf[0]);
	/* Outside the samples: push the last skb, then every completion. */
	tx_push_skb(&s);
	while (tx_inflight(&s))
		tx_complete(&s);
	t_end = wl_now_ns();
	if (s.remote) {
		if (wl_peer_finish(&s.peer))
			goto fail;
		if (s.peer.t_end > t_end)
			t_end = s.peer.t_end;
	}

	frag_metric(r, "messages", (double)nmsg);
	frag_metric(r, "packets", (double)wire);
	frag_metric(r, "segments", (double)s.segments);
	frag_metric(r, "size_goal", size_goal);
	frag_metric(r, "prepare_commit", prep);
	frag_metric(r, "bytes_sent", (double)bytes_sent);
	frag_metric(r, "bytes_copied", (double)bytes_copied);
	frag_metric(r, "bytes_completed", (double)s.bytes_completed);
	frag_metric(r, "chunks", (double)chunks);
	frag_metric(r, "merged_chunks", (double)merged);
	frag_metric(r, "coalesce_rate", chunks ? (double)merged / chunks : 0);
	frag_metric(r, "frags_allocated", (double)allocated);
	frag_metric(r, "frags_freed", (double)(s.freed + s.peer.freed));
	frag_metric(r, "frags_freed_remote", (double)s.peer.freed);
	frag_metric(r, "frags_per_segment",
		    s.segments ? (double)allocated / s.segments : 0);
	frag_metric(r, "alloc_failures", (double)failures);
	frag_metric(r, "elapsed_ns", (double)(t_end - t_start));
	wl_mem_end(r, &mem, (double)wire, (double)bytes_copied);

	frag_dist_free(&d);
	free(s.skb);
	free(msg);
	free(src);
	wl_ring_exit(&ring);
	return 0;

fail_running:
	/* Give every fragment back so the engine's leak check stays exact. */
	frag_perf_stop(&r->perf[0]);
	tx_push_skb(&s);
	while (tx_inflight(&s))
		tx_complete(&s);
	if (s.remote)
		wl_peer_finish(&s.peer);
fail:
	frag_dist_free(&d);
	free(s.skb);
	free(msg);
	free(src);
	wl_ring_exit(&ring);
	return -1;
}

const struct frag_workload frag_wl_tx = {
	.name		= "tx",
	.help		= "tcp_sendmsg copy of `dist` messages in mss chunks; coalesces via "
			  "prepare/commit where the design has it; freed tx_delay segments later",
	.threads	= 2,
	.validate	= tx_validate,
	.run		= tx_run,
};
