/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kshim.h - the user-space kernel shim: what page_frag code taken from a
 * real tree (mm/page_alloc.c, mm/page_frag_cache.c and the inline helpers
 * of its headers) includes and calls, mapped onto the page model.
 *
 * fraglib.kernel extracts the page_frag functions, types and macros of a
 * revision, drops their #include lines and puts them after this header,
 * so everything they name must be here.  The model already spells most
 * of the page API the kernel's way (page.h: struct page, the page_ref_*
 * atomics, alloc_pages, __free_pages, virt_to_head_page, ...); this file
 * adds the rest, as the kernel's tools/testing shims do for radix-tree
 * and memblock.
 *
 * frag.h is included for struct frag_box and the ops table the adapter
 * fills (not page_frag.h: page_frag_free() and __page_frag_cache_drain()
 * come from the revision itself); its own PAGE_FRAG_CACHE_* sizes are dropped so the revision's
 * definitions (mm_types.h, mm_types_task.h) are the ones compiled.
 */
#ifndef FRAG_KSHIM_H
#define FRAG_KSHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/frag.h"
#include "../include/kversion.h"	/* FRAG_KVER: the release of the tree */

#undef PAGE_FRAG_CACHE_MAX_SIZE
#undef PAGE_FRAG_CACHE_MAX_ORDER

/*
 * The kernel's spellings (asm/page_types.h): unsigned long and free of
 * casts, so "#if (PAGE_SIZE < PAGE_FRAG_CACHE_MAX_SIZE)" evaluates.
 */
#undef PAGE_SIZE
#undef PAGE_MASK
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))

/*
 * The extracted code is the kernel's, compiled with the kernel's warning
 * set rather than ours: unused static helpers and unsigned comparisons
 * are normal there.
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-variable"

/* ---- types (include/linux/types.h, asm-generic/int-ll64.h) ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef uintptr_t phys_addr_t;

#define BITS_PER_LONG		(__SIZEOF_LONG__ * 8)	/* usable in #if */
#define NUMA_NO_NODE		(-1)

/* ---- compiler.h, build_bug.h, bug.h, export.h ---- */
#define __maybe_unused		__attribute__((unused))
#define __must_check		__attribute__((warn_unused_result))
#define __init
#define __cold			__attribute__((cold))
#define fallthrough		__attribute__((fallthrough))
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)

/*
 * BUILD_BUG_ON(): as the kernel does it, a call to a function carrying an
 * error attribute that only survives when the condition is not folded to
 * false.  Engines are always built -O2, so constant conditions fold.
 */
extern void __kshim_build_bug(void)
	__attribute__((error("BUILD_BUG_ON failed")));
#define BUILD_BUG_ON(cond) \
	do { if (cond) __kshim_build_bug(); } while (0)
#define BUILD_BUG_ON_MSG(cond, msg)	BUILD_BUG_ON(cond)

/* The model's debug checks (FRAG_DEBUG=1 in the library) stand for VM_BUG_ON. */
#define VM_BUG_ON(cond)		FRAG_BUG_ON(cond, NULL, #cond)
#define VM_BUG_ON_PAGE(cond, page)	FRAG_BUG_ON(cond, page, #cond)
#define VM_BUG_ON_FOLIO(cond, folio)	FRAG_BUG_ON(cond, &(folio)->page, #cond)
#define VM_WARN_ON_ONCE(cond)	((void)(cond))
#define BUG_ON(cond)		FRAG_BUG_ON(cond, NULL, #cond)
#define BUG()			abort()

static inline bool __kshim_warn(bool cond, const char *what, bool *done)
{
	if (unlikely(cond) && !*done) {
		*done = true;
		fprintf(stderr, "kshim: WARN_ON_ONCE(%s)\n", what);
	}
	return cond;
}
#define WARN_ON_ONCE(cond) ({						\
	static bool __kshim_warned;					\
	__kshim_warn(!!(cond), #cond, &__kshim_warned);			\
})
#define WARN_ON(cond)		WARN_ON_ONCE(cond)

/*
 * jump_label.h: the static key page_frag code tests
 * (net_high_order_alloc_disable_key in sock.c) is DEFINE_STATIC_KEY_FALSE
 * and nothing here turns it on, so it folds like the patched-out branch.
 * The key itself is sock.c's, not extracted: the macro drops its argument.
 */
#define static_branch_unlikely(key)	false

/* ---- bits.h, const.h, align.h, minmax.h ---- */
#define BIT(nr)			(1UL << (nr))
#define GENMASK(h, l) \
	(((~0UL) - (1UL << (l)) + 1) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define __ALIGN_MASK(x, mask)	__ALIGN_KERNEL_MASK((x), (mask))
#define __ALIGN_KERNEL(x, a)	__ALIGN_KERNEL_MASK(x, (__typeof__(x))(a) - 1)
#define ALIGN(x, a)		__ALIGN_KERNEL((x), (a))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define min(a, b)		((a) < (b) ? (a) : (b))
#define max(a, b)		((a) > (b) ? (a) : (b))
#define min_t(t, a, b)		min((t)(a), (t)(b))
#define max_t(t, a, b)		max((t)(a), (t)(b))
#define is_power_of_2(n)	((n) != 0 && (((n) & ((n) - 1)) == 0))

/* ---- asm-generic/getorder.h: folds to a constant for constant sizes ---- */
#define get_order(size)							\
	((size) <= PAGE_SIZE ? 0 :					\
	 (int)(8 * sizeof(long) - __builtin_clzl((unsigned long)(size) - 1) - \
	       PAGE_SHIFT))

/* ---- gfp_types.h: the bits the model does not act on are accepted ---- */
#define __GFP_ZERO		0x40u
#define __GFP_MEMALLOC		0x80u
#define __GFP_ACCOUNT		0x100u
#define __GFP_NOFAIL		0x200u
#define __GFP_KSWAPD_RECLAIM	0x400u
#define __GFP_RECLAIM		(__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT		(__GFP_KSWAPD_RECLAIM)
#define GFP_NOIO		(__GFP_RECLAIM)
#define GFP_NOFS		(__GFP_RECLAIM)
#define GFP_USER		(__GFP_RECLAIM)

/* ---- the page allocator (gfp.h, page_alloc.c, internal.h) ---- */
static inline int numa_mem_id(void)
{
	return 0;	/* the model has one node */
}

static inline int numa_node_id(void)
{
	return 0;
}

typedef struct { unsigned long bits[1]; } nodemask_t;

static inline struct page *__alloc_pages(gfp_t gfp, unsigned int order,
					 int preferred_nid, nodemask_t *nodemask)
{
	return alloc_pages(gfp, order);
}

static inline struct page *__alloc_pages_node(int nid, gfp_t gfp,
					      unsigned int order)
{
	return alloc_pages(gfp, order);
}

static inline struct page *alloc_pages_node(int nid, gfp_t gfp,
					    unsigned int order)
{
	return alloc_pages(gfp, order);
}

#define alloc_pages_noprof		alloc_pages
#define alloc_pages_node_noprof		alloc_pages_node
#define __alloc_pages_noprof		__alloc_pages

/* page_alloc.c's static helper, up to 6.10: the same free in the model. */
static inline void free_the_page(struct page *page, unsigned int order)
{
	__free_pages(page, order);
}

static inline void free_unref_page_list(struct page *page)
{
	__free_pages(page, compound_order(page));
}

static inline struct page *pfn_to_page(unsigned long pfn)
{
	return &frag_mem_map[pfn];
}

static inline void *lowmem_page_address(const struct page *page)
{
	return page_address(page);
}

static inline int page_count(const struct page *page)
{
	return page_ref_count(compound_head((struct page *)page));
}

static inline bool page_ref_dec_and_test(struct page *page)
{
	return page_ref_sub_and_test(page, 1);
}

static inline void page_ref_sub(struct page *page, int nr)
{
	page_ref_add(page, -nr);
}

static inline bool get_page_unless_zero(struct page *page)
{
	int old = page_ref_count(page);

	while (old) {
		if (atomic_compare_exchange_weak(&page->_refcount, &old, old + 1))
			return true;
	}
	return false;
}

/*
 * Folios: in the model a folio is its head page.  struct folio wraps it
 * (not a #define: kernel code names variables "folio" next to "page").
 */
struct folio {
	struct page page;
};

static inline struct folio *page_folio(struct page *page)
{
	return (struct folio *)compound_head(page);
}

static inline struct folio *virt_to_folio(const void *addr)
{
	return (struct folio *)virt_to_head_page(addr);
}

static inline void *folio_address(const struct folio *folio)
{
	return page_address(&folio->page);
}

static inline unsigned int folio_order(const struct folio *folio)
{
	return compound_order(&folio->page);
}

static inline bool folio_put_testzero(struct folio *folio)
{
	return put_page_testzero(&folio->page);
}

static inline void folio_put(struct folio *folio)
{
	put_page(&folio->page);
}

static inline int folio_ref_count(const struct folio *folio)
{
	return page_ref_count(&folio->page);
}

static inline void folio_ref_add(struct folio *folio, int nr)
{
	page_ref_add(&folio->page, nr);
}

static inline bool folio_ref_sub_and_test(struct folio *folio, int nr)
{
	return page_ref_sub_and_test(&folio->page, nr);
}

static inline struct page *folio_page(struct folio *folio, unsigned long n)
{
	return &folio->page + n;
}

static inline bool folio_test_pfmemalloc(const struct folio *folio)
{
	return page_is_pfmemalloc(&folio->page);
}

static inline void free_unref_folios(struct folio *folio)
{
	__free_pages(&folio->page, folio_order(folio));
}

#endif /* FRAG_KSHIM_H */
