// SPDX-License-Identifier: GPL-2.0-only
/*
 * wl_tx.c - the tx copy path: tcp_sendmsg_locked() copying user data into
 * page fragments (net/ipv4/tcp.c with sk_page_frag() and
 * skb_page_frag_refill(), docs/kernel-pagefrag.md §3).
 *
 * Each message (`dist`, e.g. fixed:65536) is copied with memcpy from a
 * source buffer the way tcp_sendmsg_locked() (v6.9) copies it: every turn
 * of its loop copies
 *
 *	min(size_goal - skb->len, bytes left in the message,
 *	    room left in the page fragment)
 *
 * with size_goal = gso_size rounded down to a multiple of mss
 * (tcp_xmit_size_goal()).  There is no cap at mss: segmentation to MSS
 * happens later (GSO/TSO), so with 64 KiB messages, mss 1448 and an
 * order-3 page a message takes about three copies, not 46.
 *
 * On a design with prepare/commit (the Part-2 API), each turn asks
 * prepare() for 32 bytes, as sk_page_frag_refill() asks
 * skb_page_frag_refill() for 32U, copies min(the above, what prepare()
 * reports is left), and if that space starts exactly where the skb's last
 * fragment ends on the same page (skb_can_coalesce()), grows that fragment
 * and commits without a page reference (commit_noref); otherwise it
 * commits with a reference and adds a fragment (page_ref_inc()).  A design
 * without prepare/commit cannot say how much room its page has left: it
 * allocates each copy with frag_alloc(), of at most a page (1 KiB on
 * slicer1k), the largest fragment every design serves, and never
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
#define TX_SRC_LEN		65536u	/* the user buffer copies cycle through */

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
	long tx_delay;		/* segments in flight before completion */
	long inflight_segs;
	unsigned int mss;
	unsigned int size_goal;
	unsigned int mask;
	unsigned int max_frag;	/* frag_alloc() designs: largest copy */
	bool prep;		/* the design has prepare/commit */
	bool remote;
	struct wl_peer peer;
	const unsigned char *src;
	size_t soff;		/* next byte of the user buffer */
	uint64_t segments;	/* skbs sent */
	uint64_t freed;		/* fragments freed by this thread */
	uint64_t bytes_completed;
	uint64_t bytes_copied;
	uint64_t chunks;	/* copies */
	uint64_t merged;	/* copies that grew the last fragment */
	uint64_t allocated;	/* fragments (page references) taken */
};

/* The largest copy and `align` are the limits rule's (workload_info.c). */
static int tx_validate(const struct frag_params *p, char *err, size_t len)
{
	struct frag_dist d;

	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, err, len))
		return -1;
	frag_dist_free(&d);
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

/*
 * skb_can_coalesce(): the space starts where the skb's last fragment ends,
 * on the same page.
 */
static inline bool tx_can_coalesce(const struct tx_skb *skb,
				   const struct frag_prepared *pf)
{
	const unsigned char *last, *va = pf->va;

	if (!skb->nr_frags || !pf->offset)
		return false;
	last = skb->frag[skb->nr_frags - 1];
	return va == last + skb->frag_len[skb->nr_frags - 1] &&
	       frag_addr_in_arena(va) &&
	       virt_to_head_page(va) == virt_to_head_page(last);
}

/*
 * One turn of tcp_sendmsg_locked()'s copy loop: copy at most @chunk bytes
 * (what the skb and the message still take) into the skb being filled,
 * bounded by the room left in the page fragment.  Return the bytes
 * copied; 0 if the skb had no fragment slot left and has been sent (call
 * again); -1 if there is no memory.
 */
static inline long tx_copy(struct tx_state *s, void *nc, uint32_t chunk)
{
	struct tx_skb *skb = &s->skb[s->tail];
	struct frag_prepared pf;
	unsigned char *va;
	bool merge = false;
	uint32_t copy;

	if (s->prep) {
		/* sk_page_frag_refill(): skb_page_frag_refill(32U, ...) */
		if (unlikely(frag_prepare(nc, TX_PREPARE_MIN, s->mask, &pf)))
			return -1;
		/* copy = min_t(int, copy, pfrag->size - pfrag->offset) */
		copy = chunk < pf.size ? chunk : pf.size;
		va = pf.va;
		merge = tx_can_coalesce(skb, &pf);
	} else {
		copy = chunk < s->max_frag ? chunk : s->max_frag;
		va = NULL;
	}
	if (!merge && skb->nr_frags == MAX_SKB_FRAGS) {
		tx_push_skb(s);
		return 0;
	}
	if (!s->prep) {
		va = frag_alloc(nc, copy, s->mask);
		if (unlikely(!va))
			return -1;
	}
	memcpy(va, s->src + s->soff, copy);
	if (merge) {
		/* The skb's last fragment grows: no new page reference. */
		frag_commit(nc, &pf, copy, false);
		skb->frag_len[skb->nr_frags - 1] += copy;
		s->merged++;
	} else {
		if (s->prep)
			frag_commit(nc, &pf, copy, true);
		skb->frag[skb->nr_frags] = va;
		skb->frag_len[skb->nr_frags] = copy;
		skb->nr_frags++;
		s->allocated++;
	}
	skb->len += copy;
	s->chunks++;
	s->bytes_copied += copy;
	s->soff = (s->soff + copy) % TX_SRC_LEN;
	return copy;
}

/*
 * sendmsg() of one @len byte message: each turn copies what the skb
 * (size_goal) and the message still take, bounded in tx_copy() by the
 * page fragment.  On no memory, wait for completions as
 * sk_stream_wait_memory() does; with nothing in flight, give up (-1).
 */
static inline int tx_sendmsg(struct tx_state *s, void *nc, uint32_t len,
			     uint64_t *failures)
{
	while (len) {
		uint32_t room = s->size_goal - s->skb[s->tail].len, chunk;
		long copied;

		if (!room) {
			tx_push_skb(s);
			continue;
		}
		chunk = room < len ? room : len;
		copied = tx_copy(s, nc, chunk);
		if (likely(copied >= 0)) {
			len -= copied;
			continue;
		}
		(*failures)++;
		if (!tx_inflight(s))
			return -1;
		tx_complete(s);
	}
	return 0;
}

static int tx_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int mss = p->mss;
	long batch = p->batch, b, k;
	long total = p->warmup + (p->packets + batch - 1) / batch;
	long nmsg = p->warmup * batch + p->packets;
	uint64_t bytes_sent = 0, failures = 0, wire = 0, t_start, t_end;
	struct wl_ring ring = { 0 };
	unsigned char *src = NULL;
	struct tx_state s;
	struct frag_dist d;
	struct wl_mem mem;
	uint32_t *msg = NULL;
	void *nc = r->nc;

	memset(&s, 0, sizeof(s));
	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, r->err, sizeof(r->err)))
		return -1;
	s.mss = mss;
	/* tcp_xmit_size_goal(): a whole number of segments, at least one. */
	s.size_goal = p->gso_size / mss * mss;
	if (!s.size_goal)
		s.size_goal = mss;
	s.mask = frag_align_mask(p->align);
	s.max_frag = wl_design_max_frag();
	s.prep = (FRAG_OPS.caps & FRAG_CAP_PREPARE) && frag_prepare &&
		 frag_commit;
	s.tx_delay = p->tx_delay;
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
	/* A copy may start anywhere in the first TX_SRC_LEN bytes. */
	for (k = 0; k < (long)(TX_SRC_LEN + PAGE_SIZE); k++)
		src[k] = (unsigned char)(k * 131 + 7);
	s.src = src;

	if (wl_remote_start(r, &s.peer, &ring, &s.remote, NULL, NULL))
		goto fail;
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
			uint32_t len = msg[k++];

			pkts += (len + mss - 1) / mss;
			bytes_sent += len;
			if (unlikely(tx_sendmsg(&s, nc, len, &failures))) {
				snprintf(r->err, sizeof(r->err), "allocation failed "
					 "with no skb in flight (arena_mb or "
					 "max_pages too small?)");
				goto fail_running;
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
	frag_metric(r, "size_goal", s.size_goal);
	frag_metric(r, "prepare_commit", s.prep);
	frag_metric(r, "bytes_sent", (double)bytes_sent);
	frag_metric(r, "bytes_copied", (double)s.bytes_copied);
	frag_metric(r, "bytes_completed", (double)s.bytes_completed);
	frag_metric(r, "chunks", (double)s.chunks);
	frag_metric(r, "merged_chunks", (double)s.merged);
	frag_metric(r, "coalesce_rate",
		    s.chunks ? (double)s.merged / s.chunks : 0);
	frag_metric(r, "frags_allocated", (double)s.allocated);
	frag_metric(r, "frags_freed", (double)(s.freed + s.peer.freed));
	frag_metric(r, "frags_freed_remote", (double)s.peer.freed);
	frag_metric(r, "frags_per_segment",
		    s.segments ? (double)s.allocated / s.segments : 0);
	frag_metric(r, "alloc_failures", (double)failures);
	/* One turn = one prepare()+commit() or one frag_alloc(). */
	frag_metric(r, "alloc_calls", (double)s.chunks);
	frag_metric(r, "alloc_calls_per_message",
		    nmsg ? (double)s.chunks / nmsg : 0);
	frag_metric(r, "alloc_calls_per_wire_segment",
		    wire ? (double)s.chunks / wire : 0);
	frag_metric(r, "page_refs_per_wire_segment",
		    wire ? (double)s.allocated / wire : 0);
	frag_metric(r, "copy_bytes_mean",
		    s.chunks ? (double)s.bytes_copied / s.chunks : 0);
	frag_metric(r, "elapsed_ns", (double)(t_end - t_start));
	wl_mem_end(r, &mem, (double)wire, (double)s.bytes_copied);

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
	.info		= &frag_wl_info_tx,
	.validate	= tx_validate,
	.run		= tx_run,
};
