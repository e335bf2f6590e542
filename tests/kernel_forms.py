"""Kernel-form files for the kernel-design tests, written for this project.

They are laid out as a Linux tree lays out page_frag (mm/*.c plus the
headers that hold struct page_frag_cache and its sizes), in the kernel's
names, with the algorithms of the built-in designs ``topdown`` (v6.9
generation, struct with ``va``), ``encoded`` (6.13 generation, encoded
page) and ``part2`` (the page_frag series' prepare/commit API on the 6.13
cache).  No kernel source: the bodies restate design_topdown.c,
design_encoded.c and design_part2.c of this project without their
statistics.
"""

import subprocess
from pathlib import Path

MM_TYPES_V69 = """\
#ifndef _LINUX_MM_TYPES_H
#define _LINUX_MM_TYPES_H
#include <linux/types.h>

#define PAGE_FRAG_CACHE_MAX_SIZE	__ALIGN_MASK(32768, ~PAGE_MASK)
#define PAGE_FRAG_CACHE_MAX_ORDER	get_order(PAGE_FRAG_CACHE_MAX_SIZE)

struct page_frag_cache {
	void *va;
#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE)
	__u16 offset;
	__u16 size;
#else
	__u32 offset;
#endif
	/* references the cache still holds */
	unsigned int pagecnt_bias;
	bool pfmemalloc;
};

struct unrelated_type {
	int x;
};
#endif
"""

GFP_V69 = """\
#ifndef __LINUX_GFP_H
#define __LINUX_GFP_H
extern void page_frag_free(void *addr);
void *__page_frag_alloc_align(struct page_frag_cache *nc, unsigned int fragsz,
			      gfp_t gfp_mask, unsigned int align_mask);

static inline void *page_frag_alloc(struct page_frag_cache *nc,
				    unsigned int fragsz, gfp_t gfp_mask)
{
	return __page_frag_alloc_align(nc, fragsz, gfp_mask, ~0u);
}
#endif
"""

PAGE_ALLOC_V69 = """\
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/mm.h>
#include "internal.h"

static int unrelated_helper(int x)
{
	return x + 1;
}

static struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
					     gfp_t gfp_mask)
{
	struct page *page = NULL;
	gfp_t gfp = gfp_mask;

#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE)
	gfp_mask = (gfp_mask & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP |
		   __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	page = alloc_pages_node(NUMA_NO_NODE, gfp_mask,
				PAGE_FRAG_CACHE_MAX_ORDER);
	nc->size = page ? PAGE_FRAG_CACHE_MAX_SIZE : PAGE_SIZE;
#endif
	if (unlikely(!page))
		page = alloc_pages_node(NUMA_NO_NODE, gfp, 0);

	nc->va = page ? page_address(page) : NULL;
	return page;
}

void page_frag_cache_drain(struct page_frag_cache *nc)
{
	if (!nc->va)
		return;

	__page_frag_cache_drain(virt_to_head_page(nc->va), nc->pagecnt_bias);
	nc->va = NULL;
}
EXPORT_SYMBOL(page_frag_cache_drain);

void __page_frag_cache_drain(struct page *page, unsigned int count)
{
	VM_BUG_ON_PAGE(page_ref_count(page) == 0, page);

	if (page_ref_sub_and_test(page, count))
		free_the_page(page, compound_order(page));
}
EXPORT_SYMBOL(__page_frag_cache_drain);

void *__page_frag_alloc_align(struct page_frag_cache *nc,
			      unsigned int fragsz, gfp_t gfp_mask,
			      unsigned int align_mask)
{
	unsigned int size = PAGE_SIZE;
	struct page *page;
	int offset;

	if (unlikely(!nc->va)) {
refill:
		page = __page_frag_cache_refill(nc, gfp_mask);
		if (!page)
			return NULL;
#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE)
		size = nc->size;
#endif
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pfmemalloc = page_is_pfmemalloc(page);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = size;
	}

	offset = nc->offset - fragsz;
	if (unlikely(offset < 0)) {
		page = virt_to_page(nc->va);

		if (!page_ref_sub_and_test(page, nc->pagecnt_bias))
			goto refill;

		if (unlikely(nc->pfmemalloc)) {
			free_the_page(page, compound_order(page));
			goto refill;
		}
#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE)
		size = nc->size;
#endif
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		offset = size - fragsz;
		if (unlikely(offset < 0))
			return NULL;
	}

	nc->pagecnt_bias--;
	offset &= align_mask;
	nc->offset = offset;

	return nc->va + offset;
}
EXPORT_SYMBOL(__page_frag_alloc_align);

void page_frag_free(void *addr)
{
	struct page *page = virt_to_head_page(addr);

	if (unlikely(put_page_testzero(page)))
		free_the_page(page, compound_order(page));
}
EXPORT_SYMBOL(page_frag_free);
"""

MM_TYPES_TASK_V613 = """\
#ifndef _LINUX_MM_TYPES_TASK_H
#define _LINUX_MM_TYPES_TASK_H
#define PAGE_FRAG_CACHE_MAX_SIZE	__ALIGN_MASK(32768, ~PAGE_MASK)
#define PAGE_FRAG_CACHE_MAX_ORDER	get_order(PAGE_FRAG_CACHE_MAX_SIZE)
struct page_frag_cache {
	/* address, order and pfmemalloc of the page, in one word */
	unsigned long encoded_page;
#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE) && (BITS_PER_LONG <= 32)
	__u16 offset;
	__u16 pagecnt_bias;
#else
	__u32 offset;
	__u32 pagecnt_bias;
#endif
};
#endif
"""

PAGE_FRAG_CACHE_H_V613 = """\
#ifndef _LINUX_PAGE_FRAG_CACHE_H
#define _LINUX_PAGE_FRAG_CACHE_H
#define PAGE_FRAG_CACHE_ORDER_MASK		GENMASK(7, 0)
#define PAGE_FRAG_CACHE_PFMEMALLOC_BIT		BIT(8)

static inline bool encoded_page_decode_pfmemalloc(unsigned long encoded_page)
{
	return !!(encoded_page & PAGE_FRAG_CACHE_PFMEMALLOC_BIT);
}

static inline void page_frag_cache_init(struct page_frag_cache *nc)
{
	nc->encoded_page = 0;
}

void page_frag_cache_drain(struct page_frag_cache *nc);
void *__page_frag_alloc_align(struct page_frag_cache *nc, unsigned int fragsz,
			      gfp_t gfp_mask, unsigned int align_mask);
void page_frag_free(void *addr);
#endif
"""

PAGE_FRAG_CACHE_V613 = """\
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/mm.h>
#include <linux/page_frag_cache.h>

static unsigned long encoded_page_create(struct page *page, unsigned int order,
					 bool pfmemalloc)
{
	BUILD_BUG_ON(PAGE_FRAG_CACHE_MAX_ORDER > PAGE_FRAG_CACHE_ORDER_MASK);

	return (unsigned long)page_address(page) |
		(order & PAGE_FRAG_CACHE_ORDER_MASK) |
		((unsigned long)pfmemalloc * PAGE_FRAG_CACHE_PFMEMALLOC_BIT);
}

static unsigned long encoded_page_decode_order(unsigned long encoded_page)
{
	return encoded_page & PAGE_FRAG_CACHE_ORDER_MASK;
}

static void *encoded_page_decode_virt(unsigned long encoded_page)
{
	return (void *)(encoded_page & PAGE_MASK);
}

static struct page *encoded_page_decode_page(unsigned long encoded_page)
{
	return virt_to_page((void *)encoded_page);
}

static struct page *__page_frag_cache_refill(struct page_frag_cache *nc,
					     gfp_t gfp_mask)
{
	unsigned long order = PAGE_FRAG_CACHE_MAX_ORDER;
	struct page *page = NULL;
	gfp_t gfp = gfp_mask;

	gfp_mask = (gfp_mask & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP |
		   __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	page = alloc_pages_node(NUMA_NO_NODE, gfp_mask, PAGE_FRAG_CACHE_MAX_ORDER);
	if (unlikely(!page)) {
		page = alloc_pages_node(NUMA_NO_NODE, gfp, 0);
		order = 0;
	}
	nc->encoded_page = page ?
		encoded_page_create(page, order, page_is_pfmemalloc(page)) : 0;
	return page;
}

void page_frag_cache_drain(struct page_frag_cache *nc)
{
	if (!nc->encoded_page)
		return;
	__page_frag_cache_drain(encoded_page_decode_page(nc->encoded_page),
				nc->pagecnt_bias);
	nc->encoded_page = 0;
}
EXPORT_SYMBOL(page_frag_cache_drain);

void __page_frag_cache_drain(struct page *page, unsigned int count)
{
	VM_BUG_ON_PAGE(page_ref_count(page) == 0, page);

	if (page_ref_sub_and_test(page, count))
		free_unref_page(page, compound_order(page));
}

void *__page_frag_alloc_align(struct page_frag_cache *nc,
			      unsigned int fragsz, gfp_t gfp_mask,
			      unsigned int align_mask)
{
	unsigned long encoded_page = nc->encoded_page;
	unsigned int size, offset;
	struct page *page;

	if (unlikely(!encoded_page)) {
refill:
		page = __page_frag_cache_refill(nc, gfp_mask);
		if (!page)
			return NULL;
		encoded_page = nc->encoded_page;
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
	}

	size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
	offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
	if (unlikely(offset + fragsz > size)) {
		if (unlikely(fragsz > PAGE_SIZE))
			return NULL;

		page = encoded_page_decode_page(encoded_page);
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias))
			goto refill;

		if (unlikely(encoded_page_decode_pfmemalloc(encoded_page))) {
			free_unref_page(page, encoded_page_decode_order(encoded_page));
			goto refill;
		}
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		offset = 0;
	}

	nc->pagecnt_bias--;
	nc->offset = offset + fragsz;
	return encoded_page_decode_virt(encoded_page) + offset;
}
EXPORT_SYMBOL(__page_frag_alloc_align);

void page_frag_free(void *addr)
{
	struct page *page = virt_to_head_page(addr);

	if (unlikely(put_page_testzero(page)))
		free_unref_page(page, compound_order(page));
}
EXPORT_SYMBOL(page_frag_free);
"""

MM_TYPES_TASK_PART2 = MM_TYPES_TASK_V613.replace("struct page_frag_cache {", """\
/* a piece of a page: what a prepare hands back */
struct page_frag {
	struct page *page;
#if (BITS_PER_LONG > 32) || (PAGE_SIZE >= 65536)
	__u32 offset;
	__u32 size;
#else
	__u16 offset;
	__u16 size;
#endif
};

struct page_frag_cache {""", 1)

# The series' header: the allocation entry becomes an inline prepare +
# commit, and public wrappers name the pair (a later revision's spelling).
PAGE_FRAG_CACHE_H_PART2 = """\
#ifndef _LINUX_PAGE_FRAG_CACHE_H
#define _LINUX_PAGE_FRAG_CACHE_H
#define PAGE_FRAG_CACHE_ORDER_MASK		GENMASK(7, 0)
#define PAGE_FRAG_CACHE_PFMEMALLOC_BIT		BIT(8)

static inline bool encoded_page_decode_pfmemalloc(unsigned long encoded_page)
{
	return !!(encoded_page & PAGE_FRAG_CACHE_PFMEMALLOC_BIT);
}

static inline void page_frag_cache_init(struct page_frag_cache *nc)
{
	nc->encoded_page = 0;
}

void page_frag_cache_drain(struct page_frag_cache *nc);
void *__page_frag_cache_prepare(struct page_frag_cache *nc, unsigned int fragsz,
				struct page_frag *pfrag, gfp_t gfp_mask,
				unsigned int align_mask);
unsigned int __page_frag_cache_commit_noref(struct page_frag_cache *nc,
					    struct page_frag *pfrag,
					    unsigned int used_sz);
void page_frag_free(void *addr);

/* taking a reference is only the bias: inline */
static inline unsigned int __page_frag_cache_commit(struct page_frag_cache *nc,
						    struct page_frag *pfrag,
						    unsigned int used_sz)
{
	VM_BUG_ON(!nc->pagecnt_bias);
	nc->pagecnt_bias--;
	return __page_frag_cache_commit_noref(nc, pfrag, used_sz);
}

static inline void *__page_frag_alloc_align(struct page_frag_cache *nc,
					    unsigned int fragsz, gfp_t gfp_mask,
					    unsigned int align_mask)
{
	struct page_frag pfrag;
	void *va;

	va = __page_frag_cache_prepare(nc, fragsz, &pfrag, gfp_mask, align_mask);
	if (unlikely(!va))
		return NULL;
	__page_frag_cache_commit(nc, &pfrag, fragsz);
	return va;
}

static inline void *__page_frag_alloc_refill_prepare_align(struct page_frag_cache *nc,
							   unsigned int fragsz,
							   struct page_frag *pfrag,
							   gfp_t gfp_mask,
							   unsigned int align_mask)
{
	return __page_frag_cache_prepare(nc, fragsz, pfrag, gfp_mask, align_mask);
}

static inline unsigned int page_frag_refill_commit(struct page_frag_cache *nc,
						   struct page_frag *pfrag,
						   unsigned int used_sz)
{
	return __page_frag_cache_commit(nc, pfrag, used_sz);
}

static inline unsigned int page_frag_refill_commit_noref(struct page_frag_cache *nc,
							 struct page_frag *pfrag,
							 unsigned int used_sz)
{
	return __page_frag_cache_commit_noref(nc, pfrag, used_sz);
}
#endif
"""

# 6.13's file with the alloc body split: prepare finds room and fills the
# page_frag without consuming; commit_noref moves the offset.
PAGE_FRAG_CACHE_PART2 = (
    PAGE_FRAG_CACHE_V613.split("void *__page_frag_alloc_align(")[0]
    + """\
unsigned int __page_frag_cache_commit_noref(struct page_frag_cache *nc,
					    struct page_frag *pfrag,
					    unsigned int used_sz)
{
	unsigned int before = nc->offset;

	VM_BUG_ON(used_sz > pfrag->size);
	VM_BUG_ON(pfrag->page != encoded_page_decode_page(nc->encoded_page));
	/* an aligned prepare may start past the cache's offset, never before */
	VM_BUG_ON(nc->offset > pfrag->offset);

	nc->offset = pfrag->offset + used_sz;
	/* what was consumed, the alignment padding included */
	return nc->offset - before;
}
EXPORT_SYMBOL(__page_frag_cache_commit_noref);

void *__page_frag_cache_prepare(struct page_frag_cache *nc, unsigned int fragsz,
				struct page_frag *pfrag, gfp_t gfp_mask,
				unsigned int align_mask)
{
	unsigned long encoded_page = nc->encoded_page;
	unsigned int size, offset;
	struct page *page;

	if (unlikely(!encoded_page)) {
refill:
		page = __page_frag_cache_refill(nc, gfp_mask);
		if (!page)
			return NULL;
		encoded_page = nc->encoded_page;
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
	} else {
		page = encoded_page_decode_page(encoded_page);
	}

	size = PAGE_SIZE << encoded_page_decode_order(encoded_page);
	offset = __ALIGN_KERNEL_MASK(nc->offset, ~align_mask);
	if (unlikely(offset + fragsz > size)) {
		if (unlikely(fragsz > PAGE_SIZE))
			return NULL;
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias))
			goto refill;
		if (unlikely(encoded_page_decode_pfmemalloc(encoded_page))) {
			free_unref_page(page, encoded_page_decode_order(encoded_page));
			goto refill;
		}
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = 0;
		offset = 0;
	}

	pfrag->page = page;
	pfrag->offset = offset;
	pfrag->size = size - offset;
	return encoded_page_decode_virt(encoded_page) + offset;
}
EXPORT_SYMBOL(__page_frag_cache_prepare);

void page_frag_free(void *addr)
"""
    + PAGE_FRAG_CACHE_V613.split("void page_frag_free(void *addr)\n", 1)[1])

#: the v6.9-form tree and the 6.13-form tree, path -> text.
TREE_V69 = {"mm/page_alloc.c": PAGE_ALLOC_V69, "include/linux/mm_types.h": MM_TYPES_V69,
            "include/linux/gfp.h": GFP_V69, "Makefile": "VERSION = 6\nPATCHLEVEL = 9\n"}
TREE_V613 = {"mm/page_frag_cache.c": PAGE_FRAG_CACHE_V613,
             "include/linux/mm_types_task.h": MM_TYPES_TASK_V613,
             "include/linux/page_frag_cache.h": PAGE_FRAG_CACHE_H_V613,
             "mm/page_alloc.c": "/* the page allocator: no page_frag here any more */\n",
             "Makefile": "VERSION = 6\nPATCHLEVEL = 13\n"}


# net/core/sock.c's Tx allocator: a struct page_frag the socket owns one
# reference of, rewound when that is the only one left (design_sockfrag.c).
SOCK_C = """\
// SPDX-License-Identifier: GPL-2.0-or-later
#include <linux/mm.h>
#include <net/sock.h>

DEFINE_STATIC_KEY_FALSE(net_high_order_alloc_disable_key);

bool skb_page_frag_refill(unsigned int sz, struct page_frag *pfrag, gfp_t gfp)
{
	if (pfrag->page) {
		/* only the socket's own reference: start the page over */
		if (page_ref_count(pfrag->page) == 1) {
			pfrag->offset = 0;
			return true;
		}
		if (pfrag->offset + sz <= pfrag->size)
			return true;
		put_page(pfrag->page);
	}

	pfrag->offset = 0;
	if (SKB_FRAG_PAGE_ORDER &&
	    !static_branch_unlikely(&net_high_order_alloc_disable_key)) {
		pfrag->page = alloc_pages((gfp & ~__GFP_DIRECT_RECLAIM) |
					  __GFP_COMP | __GFP_NOWARN |
					  __GFP_NORETRY,
					  SKB_FRAG_PAGE_ORDER);
		if (likely(pfrag->page)) {
			pfrag->size = PAGE_SIZE << SKB_FRAG_PAGE_ORDER;
			return true;
		}
	}
	pfrag->page = alloc_page(gfp);
	if (likely(pfrag->page)) {
		pfrag->size = PAGE_SIZE;
		return true;
	}
	return false;
}
EXPORT_SYMBOL(skb_page_frag_refill);

/* needs a struct sock: read only by name, so never extracted */
bool sk_page_frag_refill(struct sock *sk, struct page_frag *pfrag)
{
	if (likely(skb_page_frag_refill(32U, pfrag, sk->sk_allocation)))
		return true;
	sk_enter_memory_pressure(sk);
	return false;
}
EXPORT_SYMBOL(sk_page_frag_refill);
"""

SOCK_H = """\
#ifndef _SOCK_H
#define _SOCK_H
#define SKB_FRAG_PAGE_ORDER	get_order(32768)

static inline struct page_frag *sk_page_frag(struct sock *sk)
{
	return &sk->sk_frag;
}
#endif
"""

#: the Part-2 form: the 6.13 tree with the series applied.
TREE_PART2 = {**TREE_V613, "mm/page_frag_cache.c": PAGE_FRAG_CACHE_PART2,
              "include/linux/mm_types_task.h": MM_TYPES_TASK_PART2,
              "include/linux/page_frag_cache.h": PAGE_FRAG_CACHE_H_PART2}


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                        "HOME": str(repo), "PATH": "/usr/bin:/bin"})


def write_tree(repo: Path, files: dict, remove=()) -> None:
    for p in remove:
        (repo / p).unlink()
    for p, text in files.items():
        f = repo / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)


def make_repo(path: Path) -> Path:
    """A git repo with tags v6.9 (page_alloc.c form), v6.13 (page_frag_cache.c),
    part2 (the prepare/commit series on 6.13) and sock (part2 plus
    net/core/sock.c's skb_page_frag_refill, read with source="sock")."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "master")
    write_tree(path, TREE_V69)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "v6.9 form")
    git(path, "tag", "v6.9")
    write_tree(path, {**TREE_V613, "mm/page_alloc.c": TREE_V613["mm/page_alloc.c"]},
               remove=("include/linux/gfp.h",))
    git(path, "add", "-A")
    git(path, "commit", "-qm", "v6.13 form")
    git(path, "tag", "v6.13")
    write_tree(path, TREE_PART2)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "mm: page_frag: prepare/commit form")
    git(path, "tag", "part2")
    write_tree(path, {"net/core/sock.c": SOCK_C, "include/net/sock.h": SOCK_H})
    git(path, "add", "-A")
    git(path, "commit", "-qm", "net: sock.c's page_frag refill")
    git(path, "tag", "sock")
    return path
