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

#include "fraglib.cffi.h"	/* struct frag_kver, FRAG_KVER_BASE */

#define FRAG_KVER(a, b)		((a) * (unsigned int)FRAG_KVER_BASE + (b))

extern const struct frag_kver frag_kvers[];

/* The entry for @design, or NULL. */
const struct frag_kver *frag_kver_find(const char *design);

/*
 * frag_kver_small_heads() (fraglib.cffi.h): what __napi_alloc_skb() of
 * release @kver does with a head of len + NET_SKB_PAD + NET_IP_ALIGN <=
 * SKB_WITH_OVERHEAD(1024): "kmalloc" (up to 6.2, and 6.14 on, after the
 * revert of the 1 KiB slicer) or "slicer1k" (page_frag_alloc_1k(), 6.3
 * to 6.13).
 */

#endif /* FRAG_KVERSION_H */
