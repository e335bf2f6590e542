"""The cffi binding (ABI mode) to ``libfraglib.so``: the only module that
touches ``ffi``. The declarations mirror ``csrc/include/frag.h`` and
``page.h``; ``tests/test_core.py`` checks the struct sizes agree."""

from __future__ import annotations

from functools import lru_cache

import cffi

from ._build import build_library

CDEF = """
struct frag_state {
    void *va; long offset; unsigned int size; unsigned int bias;
    _Bool pfmemalloc; unsigned int order;
};
struct frag_prepared { void *va; unsigned int offset; unsigned int size; };
struct frag_stats {
    uint64_t allocs, alloc_failures, refills, reuses, high_order_fallbacks,
             pages_abandoned, bytes_requested, bytes_consumed, commits_noref;
};
struct frag_ops {
    const char *name; const char *mirrors; unsigned int struct_size;
    unsigned int caps;
    void *init, *alloc, *free, *drain, *inspect, *prepare, *commit;
};
struct frag_box {
    unsigned char cache[64];
    struct frag_stats stats;
    const struct frag_ops *ops;
};
struct frag_pages_stats {
    uint64_t alloc_calls[11];
    uint64_t alloc_failures, injected_failures, pfmemalloc_pages,
             pages_allocated, pages_freed, pages_in_use, peak_pages_in_use;
};
int fraglib_pages_init(size_t arena_bytes, size_t max_pages,
                       double high_order_fail, double pfmemalloc_rate,
                       uint64_t seed, int init_on_alloc);
int fraglib_ndesigns(void);
const struct frag_ops *fraglib_design_at(int i);
struct frag_box *fraglib_cache_new(const char *design);
void fraglib_cache_destroy(struct frag_box *box);
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
struct frag_pcp_state {
    int count; int high; int batch; int free_count; unsigned int alloc_factor;
    unsigned int order[2]; unsigned int blocks[2];
};
void fraglib_pages_pcp(unsigned int cpu, struct frag_pcp_state *st);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)


@lru_cache(maxsize=1)
def lib():
    """Build if needed and load the shared library (once per process)."""
    return ffi.dlopen(str(build_library().path))
