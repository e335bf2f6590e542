// SPDX-License-Identifier: GPL-2.0-only
/*
 * kversion.c - the kernel release behind each design (see kversion.h).
 *
 * Small-head routing per release, read from net/core/skbuff.c:
 * - 5.11 (3226b158e67c "net: avoid 32 x truesize under-estimation for
 *   tiny skbs") sends __napi_alloc_skb() heads with
 *   len + NET_SKB_PAD + NET_IP_ALIGN <= SKB_WITH_OVERHEAD(1024) to
 *   __alloc_skb(), i.e. kmalloc; __netdev_alloc_skb() does the same with
 *   len + NET_SKB_PAD.  So in 6.1 and 6.2.
 * - 6.3 (dbae2b062824 "net: skb: introduce and use a single page frag
 *   cache") keeps kmalloc only when !NAPI_HAS_SMALL_PAGE_FRAG and gives
 *   such napi heads a 1 KiB slice from page_frag_alloc_1k() (4 KiB pages);
 *   __netdev_alloc_skb() still uses kmalloc.  Through 6.13.
 * - 6.14: Paolo Abeni's revert (Feb 2025) restores the 5.11 condition.
 */
#include <string.h>

#include "kversion.h"

const struct frag_kver frag_kvers[] = {
	{ "topdown", FRAG_KVER(6, 9), "v6.9 mm/page_alloc.c page_frag_cache" },
	{ "bottomup", FRAG_KVER(6, 13),
	  "8218f62c9c9b, merged for 6.13 (Part-1)" },
	{ "encoded", FRAG_KVER(6, 13), "6.13 mm/page_frag_cache.c" },
	{ "remaining", FRAG_KVER(6, 10),
	  "page_frag v9/v10, June-July 2024, on net-next of 6.10/6.11" },
	{ "negoffset", FRAG_KVER(6, 10),
	  "Duyck's option 1 on v10, July 2024, on the same net-next" },
	{ "sockfrag", FRAG_KVER(6, 9), "v6.9 net/core/sock.c" },
	{ "slicer1k", FRAG_KVER(6, 9), "v6.9 page_frag_alloc_1k()" },
	{ "part2", FRAG_KVER(6, 13),
	  "Part-2 v2, Dec 2024, on net-next after 6.13-rc1 (slicer still in)" },
	/*
	 * Baselines stand in for page_frag_cache in the debate's reference
	 * rx path, v6.9, so they compare with topdown like for like.
	 */
	{ "order0", FRAG_KVER(6, 9), "baseline in the v6.9 rx path" },
	{ "malloc", FRAG_KVER(6, 9), "baseline in the v6.9 rx path" },
	{ "null", FRAG_KVER(6, 9), "baseline in the v6.9 rx path" },
	{ NULL, 0, NULL }
};

/*
 * A design generated from a kernel tree (fraglib.kernel) is not in the
 * table: its source defines this entry with the release of the tree's
 * Makefile at the revision read, so its engine routes rx heads by the
 * same rule as the built-in designs.  Weak: absent from every other build.
 */
extern const struct frag_kver frag_kver_generated __attribute__((weak));

const struct frag_kver *frag_kver_find(const char *design)
{
	const struct frag_kver *k;

	for (k = frag_kvers; k->design; k++)
		if (!strcmp(k->design, design))
			return k;
	if (&frag_kver_generated && !strcmp(frag_kver_generated.design, design))
		return &frag_kver_generated;
	return NULL;
}

const char *frag_kver_small_heads(unsigned int kver)
{
	if (kver >= FRAG_KVER(6, 3) && kver < FRAG_KVER(6, 14))
		return "slicer1k";
	return "kmalloc";
}

int fraglib_nkvers(void)
{
	int n = 0;

	while (frag_kvers[n].design)
		n++;
	return n;
}

const struct frag_kver *fraglib_kver_at(int i)
{
	return i >= 0 && i < fraglib_nkvers() ? &frag_kvers[i] : NULL;
}
