// SPDX-License-Identifier: GPL-2.0-only
/*
 * workload_info.c - what each workload is, apart from its code: name,
 * help, threads, the FRAG_WL_* flags the parameter rules read, and the
 * rule that refuses what a design's largest fragment cannot serve.
 * Design-independent, so the shared library exports it (fraglib.workloads
 * reads it, and validate_params() calls the same rules) while each engine
 * links the code (wl_<name>.c) that points here.
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "page.h"
#include "sizes.h"

#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((unsigned long)(a) - 1))

/* A design serves fragments of at most @max bytes: the alignment too. */
static int align_limit(const struct frag_params *p, const char *design,
		       unsigned int max, char *err, size_t len)
{
	if ((unsigned long)p->align > max) {
		snprintf(err, len, "invalid align=%ld: allowed at most %u on "
			 "design %s", p->align, max, design);
		return -1;
	}
	return 0;
}

/*
 * The longest frame whose head fits @room bytes: SKB_HEAD_ALIGN(len +
 * NET_SKB_PAD + NET_IP_ALIGN) <= @room inverted, with SKB_HEAD_ALIGN(x) =
 * ALIGN(x, line) + ALIGN(shinfo, line).
 */
long frag_rx_max_len(const struct frag_params *p, unsigned long room)
{
	unsigned long shinfo = ALIGN_UP(p->shinfo_size, p->cache_line);
	unsigned long headroom = p->net_skb_pad + p->net_ip_align;
	unsigned long data;

	if (room < shinfo)
		return 0;
	data = (room - shinfo) & ~((unsigned long)p->cache_line - 1);
	return data > headroom ? (long)(data - headroom) : 0;
}

/*
 * rx: a head goes to kmalloc above a page, to small_heads' allocator when
 * it is small (unless small_heads=design), else to the design, which must
 * then fit it: refuse a `dist` with frames in between.
 */
static int rx_limits(const struct frag_params *p, const char *design,
		     unsigned int max, char *err, size_t len)
{
	long fits = frag_rx_max_len(p, max), page = frag_rx_max_len(p, PAGE_SIZE);
	long small = frag_rx_max_len(p, FRAG_SMALL_HEAD_SIZE);
	bool routed = p->small_heads[0] && strcmp(p->small_heads, "design");
	struct frag_dist d;
	int hits;

	if (frag_dist_parse_param(&d, p->dist, p->sizes_dir, err, len))
		return -1;
	if (routed && small > fits)
		fits = small;
	hits = max < PAGE_SIZE && page > fits &&
	       frag_dist_hits(&d, fits + 1, page);
	frag_dist_free(&d);
	if (hits) {
		snprintf(err, len, "invalid dist=%s: allowed on design %s only "
			 "frames whose head fits %u B (len <= %ld) or goes to "
			 "kmalloc (len > %ld) with these net_skb_pad/shinfo_size; "
			 "__napi_alloc_skb() sends the others to page_frag_cache, "
			 "e.g. uniform:60-%ld", p->dist, design, max, fits,
			 page, fits);
		return -1;
	}
	return align_limit(p, design, max, err, len);
}

/* ring: page_frag_test.ko allocates `size` bytes at `align`. */
static int ring_limits(const struct frag_params *p, const char *design,
		       unsigned int max, char *err, size_t len)
{
	if ((unsigned long)p->size > max) {
		snprintf(err, len, "invalid size=%ld: allowed an integer in [1, %u] "
			 "on design %s", p->size, max, design);
		return -1;
	}
	return align_limit(p, design, max, err, len);
}

const struct frag_workload_info frag_wl_info_fastpath = {
	.name		= "fastpath",
	.help		= "alloc `batch` fragments of `size` at `align`, then free them; "
			  "one sample per `sample_batches` batches, each sample at a new "
			  "stack depth and pointer-array offset unless rerandomize=0 (the "
			  "debate's micro-benchmark without the ring)",
	.threads	= 1,
	.flags		= 0,
};

const struct frag_workload_info frag_wl_info_rx = {
	.name		= "rx",
	.help		= "NAPI rx poll loop: per frame (length from `dist`) a head of "
			  "SKB_HEAD_ALIGN(len + net_skb_pad + net_ip_align) from the "
			  "design; a small head (len + pad + ip_align <= "
			  "SKB_WITH_OVERHEAD(1024)) goes where `small_heads` says, by "
			  "default what the design's kernel does (slicer1k: "
			  "page_frag_alloc_1k(), 6.3-6.13; kmalloc: a kmalloc-1k "
			  "stand-in, <= 6.2 and >= 6.14; design: a what-if); heads above "
			  "a page go to kmalloc (counted, not allocated). `touch` header "
			  "bytes and the shared-info line are written; the packet waits "
			  "in a FIFO of `queue_depth` and is freed here, or with cpu2 >= "
			  "0 by a thread on cpu2 via a ptr_ring of `ring_size`, which "
			  "frees it (remote_free=direct) or hands it back to this CPU's "
			  "defer list (remote_free=defer: skb_attempt_defer_free(), limit "
			  "`defer_max`, flushed every poll). One sample = `batch` frames "
			  "(the NAPI budget).",
	.threads	= 2,
	.flags		= FRAG_WL_SMALL_HEADS | FRAG_WL_DEFER_FREE,
	.limits		= rx_limits,
};

const struct frag_workload_info frag_wl_info_tx = {
	.name		= "tx",
	.help		= "tcp_sendmsg copy loop: `packets` messages (sizes from `dist`) "
			  "memcpy'd as tcp_sendmsg_locked() copies them: min(size_goal - "
			  "skb len, bytes left, room in the page fragment) per copy (size "
			  "goal = gso_size rounded down to mss; no mss cap); with "
			  "prepare/commit each copy asks prepare() for 32 B "
			  "(sk_page_frag_refill) and space contiguous with the skb's last "
			  "fragment is merged without a page reference; without it each "
			  "copy is a frag_alloc() of at most a page; skbs are completed "
			  "(freed, here or on cpu2) `tx_delay` wire segments later. One "
			  "sample = `batch` messages; its packet count is the wire "
			  "segments (sum of ceil(len/mss)).",
	.threads	= 2,
	.flags		= 0,
	.limits		= align_limit,
};

const struct frag_workload_info frag_wl_info_ring = {
	.name		= "ring",
	.help		= "page_frag_test.ko: a push thread on cpu allocates `size` at "
			  "`align` into a ptr_ring of `ring_size` (the consumer clears "
			  "slots in batches of 16, last first; full: free it, wait, do "
			  "not count); a pop thread on cpu2 frees. Waiting spins by "
			  "default (busy_poll=1: cond_resched() on an idle CPU returns at "
			  "once); busy_poll=0 yields. Both on one CPU is allowed. One "
			  "sample = `batch` pushes as the push thread sees them; "
			  "elapsed_ns is the module's total time. RING_PRESETS holds the "
			  "module's, the script's and the cover letters' settings.",
	.threads	= 2,
	.flags		= FRAG_WL_SPINS | FRAG_WL_POP_THREAD,
	.limits		= ring_limits,
};

const struct frag_workload_info frag_wl_info_sizes = {
	.name		= "sizes",
	.help		= "not a measurement: warmup + packets sizes drawn from `dist` "
			  "with `seed`, one per sample, in the sample's cycles field "
			  "(generator check and plots)",
	.threads	= 1,
	.flags		= 0,
};

/* Registry order: the order Python lists them in. */
const struct frag_workload_info *const frag_workload_infos[] = {
	&frag_wl_info_fastpath,
	&frag_wl_info_rx,
	&frag_wl_info_tx,
	&frag_wl_info_ring,
	&frag_wl_info_sizes,
	NULL
};

const struct frag_workload_info *frag_workload_info_find(const char *name)
{
	const struct frag_workload_info *const *w;

	for (w = frag_workload_infos; *w; w++)
		if (!strcmp((*w)->name, name))
			return *w;
	return NULL;
}

int fraglib_nworkloads(void)
{
	int n = 0;

	while (frag_workload_infos[n])
		n++;
	return n;
}

const struct frag_workload_info *fraglib_workload_at(int i)
{
	return i >= 0 && i < fraglib_nworkloads() ? frag_workload_infos[i] : NULL;
}
