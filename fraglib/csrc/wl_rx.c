// SPDX-License-Identifier: GPL-2.0-only
/*
 * wl_rx.c - the rx path: a NAPI poll loop building skb heads in page
 * fragments, as __napi_alloc_skb() does (net/core/skbuff.c, v6.9; see
 * docs/kernel-pagefrag.md §4).
 *
 * Per frame: its length comes from `dist`; the head fragment is
 *
 *	SKB_HEAD_ALIGN(len + NET_SKB_PAD + NET_IP_ALIGN)
 *	  = ALIGN(len + pad + ip_align, line) + ALIGN(shinfo, line)
 *
 * (1514 B -> 1920 B with the x86_64 values).  A head larger than a page
 * goes to kmalloc in the kernel, so it is counted and not allocated.
 *
 * Small heads never reach page_frag_cache in any kernel: when
 * len + NET_SKB_PAD + NET_IP_ALIGN <= SKB_WITH_OVERHEAD(1024) (704 B with
 * the x86_64 values, i.e. frames up to 640 B), __napi_alloc_skb() uses
 * kmalloc (up to 6.2 and from 6.14) or a 1 KiB slice of
 * page_frag_alloc_1k() (6.3-6.13); see kversion.c for the commits.
 * `small_heads` chooses (slicer1k, kmalloc, or design as a what-if); its
 * default is what the design's kernel does (kversion.c), and the engine
 * prints the resolved value with the params.  The side allocators are in
 * wl_small.h; their pages count in pages_taken like the design's.
 *
 * The driver and the stack write the first `touch` bytes after the
 * headroom, and __build_skb_around() clears the front of skb_shared_info
 * (at SKB_WITH_OVERHEAD(1024) in a 1 KiB slice or kmalloc-1k object).
 *
 * The packet then waits in a FIFO of `queue_depth` (the socket receive
 * queue) and is freed when it leaves: here, or with cpu2 >= 0 by a second
 * thread on cpu2 (recvmsg() on another CPU) that it reaches through a
 * ptr_ring of `ring_size`.  A full ring makes the poll loop wait rather
 * than drop.  With remote_free=direct cpu2 frees every head itself; with
 * remote_free=defer it hands it back to this CPU's defer list
 * (skb_attempt_defer_free(), wl_common.h, limit `defer_max`), which the
 * poll loop empties at the top of every poll, as net_rx_action() does.
 * One sample = one NAPI poll of `batch` frames.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "design_direct.h"
#include "engine.h"
#include "sizes.h"
#include "tsc.h"
#include "wl_common.h"

/*
 * offsetof(struct skb_shared_info, dataref) on v6.9 x86_64, from the layout
 * in docs/kernel-pagefrag.md §4 (not checked with pahole).  build_skb
 * clears the shinfo up to dataref, then sets dataref to 1.
 */
#define SHINFO_DATAREF_OFF	32

#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((unsigned long)(a) - 1))

/*
 * Which frames the design must fit (not small, not above a page) is the
 * workload's limits rule in workload_info.c, which the shared library
 * runs for validate_params() too.
 */
static int rx_validate(const struct frag_params *p, char *err, size_t len)
{
	return wl_check_two_cpus(p, err, len);
}

struct rx_state {
	void **fifo;		/* the receive queue, queue_depth + 1 slots */
	long head, tail, cap;
	struct wl_peer peer;
	bool remote;
	struct wl_small small;	/* small-head allocators of this CPU */
	struct wl_defer defer;	/* this CPU's defer list */
	uint64_t freed;		/* freed by this thread, defer flushes included */
};

/* The packet leaves the receive queue: recvmsg() frees its head. */
static inline void rx_release(struct rx_state *s, void *va)
{
	if (s->remote) {
		wl_peer_push(&s->peer, va);
	} else {
		wl_release_local(&s->small, va);
		s->freed++;
	}
}

/* Where a small head goes: the side allocators tag what they return. */
static inline void *rx_alloc_small(struct rx_state *s, enum wl_small_route rt,
				   void *nc, unsigned int fragsz,
				   unsigned int mask, uint64_t *count)
{
	void *va;

	switch (rt) {
	case WL_SMALL_SLICER1K:
		va = wl_slicer_alloc(&s->small.slicer);
		if (likely(va))
			count[rt]++;
		return va ? wl_tag(va, WL_TAG_SLICER) : NULL;
	case WL_SMALL_KMALLOC:
		va = wl_kmalloc(&s->small.kmem);
		if (likely(va))
			count[rt]++;
		return va ? wl_tag(va, WL_TAG_KMALLOC) : NULL;
	default:
		va = frag_alloc(nc, fragsz, mask);
		if (likely(va))
			count[rt]++;
		return va;
	}
}

static enum wl_small_route rx_route(const char *name)
{
	if (!strcmp(name, "slicer1k"))
		return WL_SMALL_SLICER1K;
	if (!strcmp(name, "kmalloc"))
		return WL_SMALL_KMALLOC;
	return WL_SMALL_DESIGN;
}

/*
 * What the driver and __build_skb_around() write into a new head: the
 * first @touch bytes after the headroom (headers the stack parses), then
 * skb_shared_info cleared up to dataref (@clear bytes) and dataref = 1.
 */
static inline void rx_build_skb(unsigned char *va, unsigned long headroom,
				unsigned long touch, unsigned char *shinfo,
				unsigned long clear, bool has_dataref)
{
	static const uint32_t dataref = 1;

	memset(va + headroom, 0x5a, touch);
	memset(shinfo, 0, clear);
	if (has_dataref)
		memcpy(shinfo + SHINFO_DATAREF_OFF, &dataref, sizeof(dataref));
}

static int rx_run(struct frag_run *r)
{
	const struct frag_params *p = r->p;
	unsigned int mask = frag_align_mask(p->align);
	unsigned long line = p->cache_line;
	unsigned long shinfo = ALIGN_UP(p->shinfo_size, line);
	unsigned long headroom = p->net_skb_pad + p->net_ip_align;
	/* SKB_WITH_OVERHEAD(1024): the small-head limit and its shinfo. */
	unsigned long small_max = WL_SZ_1K > shinfo ? WL_SZ_1K - shinfo : 0;
	enum wl_small_route route = rx_route(p->small_heads);
	bool defer = !strcmp(p->remote_free, "defer");
	/* A shinfo too small to hold dataref is only cleared. */
	bool has_dataref = p->shinfo_size >= SHINFO_DATAREF_OFF + 4;
	unsigned long clear = has_dataref ? SHINFO_DATAREF_OFF : p->shinfo_size;
	long batch = p->batch, nwarm = p->warmup * batch;
	long total = p->warmup + (p->packets + batch - 1) / batch;
	long nframes = nwarm + p->packets, k = 0, b;
	uint64_t allocated = 0, kmalloc = 0, failed = 0, bytes_req = 0;
	uint64_t small[3] = { 0 }, small_bytes = 0, misaligned = 0;
	uint64_t heads, t_start, t_end;
	struct wl_ring ring = { 0 };
	struct rx_state s;
	struct frag_dist d;
	struct wl_mem mem;
	uint32_t *len;
	void *nc = r->nc;

	memset(&s, 0, sizeof(s));
	wl_kmem_init(&s.small.kmem);
	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, r->err, sizeof(r->err)))
		return -1;
	len = malloc(nframes * sizeof(*len));
	s.cap = p->queue_depth + 1;
	s.fifo = calloc(s.cap, sizeof(*s.fifo));
	if (!len || !s.fifo || frag_reserve_samples(r, total) ||
	    wl_defer_init(&s.defer, p->defer_max)) {
		snprintf(r->err, sizeof(r->err), "out of memory for %ld frames",
			 nframes);
		goto fail;
	}
	/* Generated (and faulted in) here, so the region times none of it. */
	frag_dist_fill(&d, p->seed, len, nframes);

	wl_mem_begin(r, &mem);
	if (wl_remote_start(r, &s.peer, &ring, &s.remote, &s.small,
			    defer ? &s.defer : NULL))
		goto fail;

	if (s.remote)
		wl_peer_go(&s.peer);
	t_start = wl_now_ns();
	for (b = 0; b < total; b++) {
		long n = b < p->warmup ? batch :
			 (nframes - k < batch ? nframes - k : batch);
		uint64_t t0, t1;
		long i;

		wl_sample_start(r, b, s.remote ? &s.peer : NULL);
		t0 = frag_rdtscp();
		/* net_rx_action(): skb_defer_free_flush() before each poll. */
		if (defer)
			s.freed += wl_defer_flush(&s.defer, &s.small);
		for (i = 0; i < n; i++) {
			unsigned long need = len[k] + headroom;
			unsigned long data = ALIGN_UP(need, line);
			unsigned int fragsz = data + shinfo;
			unsigned long touch = (unsigned long)p->touch < len[k] ?
					      (unsigned long)p->touch : len[k];
			unsigned char *va;

			k++;
			if (unlikely(fragsz > PAGE_SIZE)) {
				/* __napi_alloc_skb() takes the kmalloc path. */
				kmalloc++;
				continue;
			}
			if (need <= small_max && route != WL_SMALL_DESIGN) {
				/* A 1 KiB slice or kmalloc-1k object. */
				void *head = rx_alloc_small(&s, route, nc, fragsz,
							    mask, small);

				if (unlikely(!head)) {
					failed++;
					continue;
				}
				va = wl_untag(head);
				small_bytes += WL_SZ_1K;
				rx_build_skb(va, headroom, touch, va + small_max,
					     clear, has_dataref);
				va = head;
				goto queue;
			}
			va = frag_alloc(nc, fragsz, mask);
			if (unlikely(!va)) {
				/* The driver drops the frame. */
				failed++;
				continue;
			}
			if (unlikely(wl_tag_of(va))) {
				/* No tag bits to spare: cannot tell it apart. */
				misaligned++;
				frag_free(va);
				continue;
			}
			if (need <= small_max)
				small[WL_SMALL_DESIGN]++;
			allocated++;
			bytes_req += fragsz;
			rx_build_skb(va, headroom, touch, va + data, clear,
				     has_dataref);
queue:
			s.fifo[s.tail] = va;
			s.tail = s.tail + 1 == s.cap ? 0 : s.tail + 1;
			if (s.tail == s.head) {
				/* queue_depth packets wait: the oldest leaves. */
				rx_release(&s, s.fifo[s.head]);
				s.head = s.head + 1 == s.cap ? 0 : s.head + 1;
			}
		}
		t1 = frag_rdtscp();
		frag_sample(r, t1 - t0, n);
	}
	frag_perf_stop(&r->perf[0]);
	/* Outside the samples: the application reads what is still queued. */
	while (s.head != s.tail) {
		rx_release(&s, s.fifo[s.head]);
		s.head = s.head + 1 == s.cap ? 0 : s.head + 1;
	}
	t_end = wl_now_ns();
	if (s.remote) {
		if (wl_peer_finish(&s.peer))
			goto fail;
		if (s.peer.t_end > t_end)
			t_end = s.peer.t_end;
	}
	/* What cpu2 handed back after the last poll. */
	if (defer)
		s.freed += wl_defer_flush(&s.defer, &s.small);
	if (misaligned) {
		snprintf(r->err, sizeof(r->err), "design %s returned %llu heads "
			 "not 4-byte aligned: rx cannot tell them from small heads",
			 FRAG_OPS.name, (unsigned long long)misaligned);
		goto fail;
	}

	heads = allocated + small[WL_SMALL_SLICER1K] + small[WL_SMALL_KMALLOC];
	frag_metric(r, "packets", (double)nframes);
	frag_metric(r, "heads_allocated", (double)heads);
	frag_metric(r, "heads_freed", (double)(s.freed + s.peer.freed));
	frag_metric(r, "heads_freed_remote", (double)s.peer.freed);
	frag_metric(r, "frags_allocated", (double)allocated);
	frag_metric(r, "small_heads_slicer1k", (double)small[WL_SMALL_SLICER1K]);
	frag_metric(r, "small_heads_kmalloc", (double)small[WL_SMALL_KMALLOC]);
	frag_metric(r, "small_heads_design", (double)small[WL_SMALL_DESIGN]);
	frag_metric(r, "small_heads_bytes", (double)small_bytes);
	frag_metric(r, "small_heads_pages",
		    (double)(s.small.slicer.pages + s.small.kmem.slab_pages));
	frag_metric(r, "kmalloc_slab_pages", (double)s.small.kmem.slab_pages);
	frag_metric(r, "kmalloc_remote_frees",
		    (double)s.small.kmem.frees_remote);
	frag_metric(r, "kmalloc_remote_takes",
		    (double)s.small.kmem.remote_takes);
	frag_metric(r, "kmalloc_heads", (double)kmalloc);
	frag_metric(r, "alloc_failures", (double)failed);
	frag_metric(r, "head_bytes_mean",
		    allocated ? (double)bytes_req / allocated : 0);
	frag_metric(r, "dist_mean", d.mean);
	frag_metric(r, "defer_max", (double)p->defer_max);
	frag_metric(r, "heads_deferred", (double)s.defer.deferred);
	frag_metric(r, "defer_nodefer", (double)s.defer.nodefer);
	frag_metric(r, "defer_kicks", (double)s.defer.kicks);
	frag_metric(r, "defer_flushes", (double)s.defer.flushes);
	frag_metric(r, "defer_flushed", (double)s.defer.flushed);
	frag_metric(r, "defer_list_peak", (double)s.defer.max_seen);
	frag_metric(r, "elapsed_ns", (double)(t_end - t_start));
	wl_mem_end(r, &mem, (double)nframes, (double)bytes_req);

	wl_slicer_drain(&s.small.slicer);
	wl_kmem_exit(&s.small.kmem);
	wl_defer_exit(&s.defer);
	frag_dist_free(&d);
	free(len);
	free(s.fifo);
	wl_ring_exit(&ring);
	return 0;
fail:
	wl_slicer_drain(&s.small.slicer);
	wl_kmem_exit(&s.small.kmem);
	wl_defer_exit(&s.defer);
	frag_dist_free(&d);
	free(len);
	free(s.fifo);
	wl_ring_exit(&ring);
	return -1;
}

const struct frag_workload frag_wl_rx = {
	.info		= &frag_wl_info_rx,
	.validate	= rx_validate,
	.run		= rx_run,
};
