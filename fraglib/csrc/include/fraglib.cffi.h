/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fraglib.cffi.h - the binding contract: every type and function the
 * shared library (libfraglib.so) offers Python.
 *
 * This file is read twice.  The C sources include it (page.h, frag.h,
 * sizes.h, kversion.h, perfctr.h and engine.h pull it in), so these are
 * the one definition of each struct and the compiler checks every
 * export against its declaration.  fraglib/_core.py hands the same text
 * to cffi's cdef(), after dropping the preprocessor lines that are not
 * "#define NAME <integer>".  So: plain declarations only, no macros in
 * types, no attributes, no inline code.
 */
#ifndef FRAGLIB_CFFI_H
#define FRAGLIB_CFFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- page model (page.h, page.c) ---- */

#define FRAG_PAGE_SHIFT		12	/* 4 KiB pages (FRAG_PAGE_SIZE) */
#define FRAG_MAX_ORDER		10	/* buddy blocks up to 4 MiB */
#define FRAG_PCP_ORDERS		2	/* pcp for order 0 and order 3 */

/**
 * struct frag_pcp_state - one CPU's per-CPU lists, for tests.
 * @count:        pages on all its lists (pcp->count), not blocks.
 * @high:         flush threshold, pages (pcp->high).
 * @batch:        refill/flush unit, pages (pcp->batch).
 * @free_count:   pages freed since allocations last halved it.
 * @alloc_factor: order-0 refill scale (shift).
 * @order:        order of each list.
 * @blocks:       blocks on each list.
 */
struct frag_pcp_state {
	int count;
	int high;
	int batch;
	int free_count;
	unsigned int alloc_factor;
	unsigned int order[FRAG_PCP_ORDERS];
	unsigned int blocks[FRAG_PCP_ORDERS];
};

/*
 * struct frag_pages_stats - page allocator counters (always on: they sit
 * on the refill path only, never on a fragment fast path).
 */
struct frag_pages_stats {
	uint64_t alloc_calls[FRAG_MAX_ORDER + 1];
	uint64_t alloc_failures;	/* NULL returned, any reason */
	uint64_t injected_failures;	/* of which high-order injection */
	uint64_t pfmemalloc_pages;	/* pages handed out as pfmemalloc */
	uint64_t pages_allocated;	/* in 4 KiB units */
	uint64_t pages_freed;		/* in 4 KiB units */
	uint64_t pages_in_use;		/* now */
	uint64_t peak_pages_in_use;
};

/* ---- designs (frag.h) ---- */

/* Capabilities a design advertises in its ops table. */
#define FRAG_CAP_ALIGN		0x1	/* honours align_mask */
#define FRAG_CAP_PREPARE	0x2	/* prepare/commit (Part-2 API) */
#define FRAG_CAP_PAGES		0x4	/* fragments live in model pages */
#define FRAG_CAP_HIGH_ORDER	0x8	/* tries an order-3 page first */
#define FRAG_CAP_ALIASED	0x10	/* fragments share memory (null) */

/*
 * struct frag_stats - per-cache counters, compiled in with -DFRAG_STATS.
 * The timed build leaves FRAG_STAT() as (void)0, so it pays nothing.
 */
struct frag_stats {
	uint64_t allocs;		/* fragments handed out */
	uint64_t alloc_failures;	/* NULL returns */
	uint64_t refills;		/* new page taken from the page allocator */
	uint64_t reuses;		/* same page recycled in place */
	uint64_t high_order_fallbacks;	/* order-3 wanted, order-0 taken */
	uint64_t pages_abandoned;	/* page left to its last free */
	uint64_t bytes_requested;	/* sum of fragsz */
	uint64_t bytes_consumed;	/* offset movement incl. align and tails */
	uint64_t commits_noref;		/* prepare/commit without a reference */
};

/*
 * struct frag_state - a design-neutral view of a cache, for inspection.
 * @va:       base address of the current page, or NULL if none.
 * @offset:   the design's offset field as stored (meaning differs by design).
 * @size:     bytes of the current page (PAGE_SIZE << order).
 * @bias:     pagecnt_bias or equivalent (0 if the design has none).
 * @pfmemalloc: current page came from the emergency reserves.
 * @order:    order of the current page.
 */
struct frag_state {
	void *va;
	long offset;
	unsigned int size;
	unsigned int bias;
	bool pfmemalloc;
	unsigned int order;
};

/*
 * struct frag_prepared - what prepare() found (mirrors Part-2's page_frag).
 * @va:     address of the first usable byte.
 * @offset: offset of @va within its page.
 * @size:   bytes available from @va (at least what was asked).
 */
struct frag_prepared {
	void *va;
	unsigned int offset;
	unsigned int size;
};

/*
 * struct frag_ops - one design.
 * @name:       registry key, e.g. "topdown".
 * @mirrors:    the kernel version / commit / mail this design mirrors.
 * @struct_size: sizeof the kernel-equivalent cache struct on this build.
 * @caps:       FRAG_CAP_* bits.
 * @max_frag:   largest fragment it hands out; 0 = a page (no own limit).
 * @init:       zero a cache (page_frag_cache_init).
 * @alloc:      __page_frag_alloc_align(nc, fragsz, gfp, align_mask).
 * @free:       page_frag_free(addr).
 * @drain:      page_frag_cache_drain(nc).
 * @inspect:    fill a struct frag_state.
 * @prepare:    ask for at least @fragsz bytes without consuming (optional).
 * @commit:     consume @used bytes of a prepare(); @ref: take a reference
 *              (a new fragment) or not (merged into the previous one).
 */
struct frag_ops {
	const char *name;
	const char *mirrors;
	unsigned int struct_size;
	unsigned int caps;
	unsigned int max_frag;
	void (*init)(void *nc);
	void *(*alloc)(void *nc, unsigned int fragsz, unsigned int align_mask);
	void (*free)(void *addr);
	void (*drain)(void *nc);
	void (*inspect)(const void *nc, struct frag_state *st);
	int (*prepare)(void *nc, unsigned int fragsz, unsigned int align_mask,
		       struct frag_prepared *pf);
	void *(*commit)(void *nc, const struct frag_prepared *pf,
			unsigned int used, bool ref);
};

/* A cache as the binding holds it (frag.h); Python never looks inside. */
struct frag_box;

/* ---- packet-size distributions (sizes.h, sizes.c) ---- */

#define FRAG_SIZE_MAX		16777216	/* 16 MiB: any message or frame */
#define FRAG_DIST_MAX_ROWS	65536		/* rows of a csv: table */

enum frag_dist_kind {
	FRAG_DIST_FIXED,
	FRAG_DIST_UNIFORM,
	FRAG_DIST_TABLE,	/* imix and csv: */
};

/*
 * struct frag_dist - a parsed distribution.
 * @kind:    how to sample.
 * @lo:      fixed size, or the uniform lower bound; table minimum.
 * @hi:      uniform upper bound (== @lo for fixed); table maximum.
 * @n:       table rows.
 * @value:   table sizes, in file order.
 * @prob:    table probabilities (weights normalised to sum 1).
 * @alias_p: alias method: probability of keeping column i (in [0, 1]).
 * @alias:   alias method: the other outcome of column i.
 * @mean:    expected size in bytes.
 */
struct frag_dist {
	enum frag_dist_kind kind;
	uint32_t lo, hi;
	uint32_t n;
	uint32_t *value;
	double *prob;
	double *alias_p;
	uint32_t *alias;
	double mean;
};

/*
 * frag_dist_parse() - parse a `dist` spec.
 * @d:    filled on success; release with frag_dist_free().
 * @spec: the parameter's value ("imix", "fixed:1500", ...).
 * @dir:  directory of csv: tables (the `sizes_dir` parameter), or "".
 * @err:  on failure, what dist allows and why @spec is not it (the text
 *        after "invalid dist=<spec>: allowed ").
 *
 * Return: 0, or -1 with @err filled and nothing allocated.
 */
int frag_dist_parse(struct frag_dist *d, const char *spec, const char *dir,
		    char *err, size_t len);
void frag_dist_free(struct frag_dist *d);
/* Fill @out with @n sizes drawn from @d by a generator seeded with @seed. */
void frag_dist_fill(const struct frag_dist *d, uint64_t seed, uint32_t *out,
		    size_t n);

/* ---- kernel releases (kversion.h, kversion.c) ---- */

/* FRAG_KVER(major, minor) == major * FRAG_KVER_BASE + minor */
#define FRAG_KVER_BASE		100

/*
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

int fraglib_nkvers(void);
const struct frag_kver *fraglib_kver_at(int i);
/* "slicer1k" or "kmalloc": where release @kver puts a small rx head. */
const char *frag_kver_small_heads(unsigned int kver);

/* ---- workloads (workload_info.c) ---- */

/* What a workload does that the parameters' rules depend on (@flags). */
#define FRAG_WL_SPINS		0x1	/* busy_poll=-1 means spin, not yield */
#define FRAG_WL_SMALL_HEADS	0x2	/* routes small rx heads (small_heads) */
#define FRAG_WL_DEFER_FREE	0x4	/* remote_free=defer applies */
#define FRAG_WL_POP_THREAD	0x8	/* always two threads, even with cpu2=-1 */

struct frag_params;

/*
 * struct frag_workload_info - what a workload is, apart from its code.
 * @name:    registry key ("fastpath", "rx", ...), the engine's workload=.
 * @help:    what one sample is and what the packet unit is.
 * @threads: 1 or 2 (2 needs cpu2).
 * @flags:   FRAG_WL_* bits.
 * @limits:  NULL, or the rule that refuses parameters a design whose
 *           largest fragment is @max_frag bytes cannot serve (the rx heads,
 *           ring sizes and alignments it would ask for): fills @err with
 *           "invalid <key>=<value>: allowed <what>" and returns -1.  The
 *           engine and fraglib_workload_limits() both call it.
 */
struct frag_workload_info {
	const char *name;
	const char *help;
	int threads;
	unsigned int flags;
	int (*limits)(const struct frag_params *p, const char *design,
		      unsigned int max_frag, char *err, size_t len);
};

int fraglib_nworkloads(void);
const struct frag_workload_info *fraglib_workload_at(int i);

/*
 * fraglib_workload_limits - the engine's design-limit rule of @workload,
 * for @design (largest fragment @max_frag), on the engine defaults with
 * the @n parameters @keys = @values set as the engine's command line sets
 * them.  Returns 0, or -1 with @err filled as above.
 */
int fraglib_workload_limits(const char *workload, const char *design,
			    unsigned int max_frag, const char **keys,
			    const char **values, int n, char *err, size_t len);

/* ---- engine parameters (params.c) ---- */

#define FRAG_STR_LEN		256

/*
 * struct fraglib_param - one row of the engine's parameter table.
 * @key:     the key=value key.
 * @type:    "int", "float", "pow2" or "str".
 * @min:     lower bound (not "str").
 * @max:     upper bound (not "str").
 * @help:    one line.
 * @choices: NULL, or the words a "str" parameter takes (NULL-ended).
 * @why:     with @choices: what the choice decides.
 * @default_text: the engine's default as key=value text; "" when it has none
 *           (or it depends on the design and workload).
 */
struct fraglib_param {
	const char *key;
	const char *type;
	double min, max;
	const char *help;
	const char *const *choices;
	const char *why;
	char default_text[FRAG_STR_LEN];
};

int fraglib_nparams(void);
/* Fill @out with row @i; return 0, or -1 when @i is out of range. */
int fraglib_param_at(int i, struct fraglib_param *out);

/* ---- perf counters (perfctr.c) ---- */

/* "not known" for fraglib_perf_reason()'s @paranoid: it reads /proc. */
#define FRAG_PERF_PARANOID_READ	2147483647

int fraglib_perf_nevents(void);
/* Name of event @i (hardware first, engine order); *hw = is hardware. */
const char *fraglib_perf_event_at(int i, int *hw);
/*
 * Open @name for the calling thread as the engine does, count a little
 * work, read and close.  Return 0 when it counted; else the errno (or
 * -1: opened but never scheduled) with @reason filled.
 */
int fraglib_perf_probe(const char *name, char *reason, size_t len);
/* The engine's reason for errno @err on event @name. */
const char *fraglib_perf_reason(const char *name, int err, int paranoid,
				char *buf, size_t len);

/* ---- the in-process cache (api.c) ---- */

int fraglib_pages_init(size_t arena_bytes, size_t max_pages,
		       double high_order_fail, double pfmemalloc_rate,
		       uint64_t seed, int init_on_alloc);
int fraglib_ndesigns(void);
const struct frag_ops *fraglib_design_at(int i);
struct frag_box *fraglib_cache_new(const char *design);
void fraglib_cache_destroy(struct frag_box *box);
const struct frag_stats *fraglib_cache_stats(const struct frag_box *box);
void *fraglib_alloc(struct frag_box *box, unsigned int fragsz,
		    unsigned int align_mask);
void fraglib_free(struct frag_box *box, void *addr);
void fraglib_drain(struct frag_box *box);
void fraglib_inspect(const struct frag_box *box, struct frag_state *st);
int fraglib_prepare(struct frag_box *box, unsigned int fragsz,
		    unsigned int align_mask, struct frag_prepared *pf);
void *fraglib_commit(struct frag_box *box, const struct frag_prepared *pf,
		     unsigned int used, int ref);
int fraglib_page_refcount(const void *addr);
int fraglib_page_order(const void *addr);
int fraglib_page_is_pfmemalloc(const void *addr);
long fraglib_page_offset(const void *addr);
int fraglib_in_arena(const void *addr);
void fraglib_pages_stats(struct frag_pages_stats *st);
int fraglib_pages_check(char *msg, size_t len);
void fraglib_pages_drain_pcp(void);
void fraglib_pages_pcp(unsigned int cpu, struct frag_pcp_state *st);

#endif /* FRAGLIB_CFFI_H */
