/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kversion.h - which kernel release each design mirrors, and what that
 * release's rx path does with a small skb head.
 *
 * The designs' own files (design_<name>.c) name their version in prose
 * (ops->mirrors); this table gives it as a number the workloads can act
 * on, without touching the designs.  A design missing from the table has
 * no kernel default: the rx workload then asks for small_heads explicitly.
 */
#ifndef FRAG_KVERSION_H
#define FRAG_KVERSION_H

#define FRAG_KVER(a, b)		((a) * 100u + (b))

/**
 * struct frag_kver - one design's kernel.
 * @design:  registry name.
 * @kver:    FRAG_KVER(major, minor) of the tree it mirrors.
 * @why:     the commit / series / reasoning behind @kver.
 */
struct frag_kver {
	const char *design;
	unsigned int kver;
	const char *why;
};

extern const struct frag_kver frag_kvers[];

/* The entry for @design, or NULL. */
const struct frag_kver *frag_kver_find(const char *design);

/*
 * What __napi_alloc_skb() of release @kver does with a head of
 * len + NET_SKB_PAD + NET_IP_ALIGN <= SKB_WITH_OVERHEAD(1024):
 * "kmalloc" (up to 6.2, and 6.14 on, after the revert of the 1 KiB
 * slicer) or "slicer1k" (page_frag_alloc_1k(), 6.3 to 6.13).
 */
const char *frag_kver_small_heads(unsigned int kver);

#endif /* FRAG_KVERSION_H */
