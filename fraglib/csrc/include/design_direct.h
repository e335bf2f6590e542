/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * design_direct.h - direct calls into the one design an engine is built
 * for (-DFRAG_DESIGN=topdown).  Workloads call frag_alloc()/frag_free():
 * a direct call, as net/ calls page_frag_alloc() in mm/, so the hot loop
 * has no indirect call the kernel does not have.
 *
 * Optional entry points (prepare/commit) are weak: a design without them
 * leaves them NULL and its ops table says so in .caps.
 */
#ifndef FRAG_DESIGN_DIRECT_H
#define FRAG_DESIGN_DIRECT_H

#include "frag.h"

/*
 * -DFRAG_DESIGN=topdown names the design's symbols (topdown_alloc,
 * frag_ops_topdown, ...).  Without it the calls go to frag_design_alloc,
 * frag_ops_frag_design, ...: fraglib/_build.py compiles a workload once
 * that way for every design and renames those references in the object to
 * the design's (objcopy --redefine-sym).  Either way the machine code is
 * the same direct call to a symbol resolved at link time; only the names
 * in the object differ.
 */
#ifdef FRAG_DESIGN
#define FRAG_DESIGN_ID	FRAG_DESIGN
#else
#define FRAG_DESIGN_ID	frag_design
#endif

#define __FRAG_PASTE(a, b)	a##_##b
#define FRAG_PASTE(a, b)	__FRAG_PASTE(a, b)
#define __FRAG_OPS(d)		frag_ops_##d
#define FRAG_OPS_OF(d)		__FRAG_OPS(d)

#define frag_init	FRAG_PASTE(FRAG_DESIGN_ID, init)
#define __frag_alloc	FRAG_PASTE(FRAG_DESIGN_ID, alloc)
#define frag_free	FRAG_PASTE(FRAG_DESIGN_ID, free)
#define frag_drain	FRAG_PASTE(FRAG_DESIGN_ID, drain)
#define frag_prepare	FRAG_PASTE(FRAG_DESIGN_ID, prepare)
#define frag_commit	FRAG_PASTE(FRAG_DESIGN_ID, commit)
#define FRAG_OPS	FRAG_OPS_OF(FRAG_DESIGN_ID)

void frag_init(void *nc);
void *__frag_alloc(void *nc, unsigned int fragsz, unsigned int align_mask);
void frag_free(void *addr);
void frag_drain(void *nc);
int frag_prepare(void *nc, unsigned int fragsz, unsigned int align_mask,
		 struct frag_prepared *pf) __attribute__((weak));
void *frag_commit(void *nc, const struct frag_prepared *pf, unsigned int used,
		  bool ref) __attribute__((weak));
extern const struct frag_ops FRAG_OPS;

/*
 * Calibration: -DFRAG_SLOWDOWN=k puts k extra *dependent* instructions on
 * this design's alloc path (methodology §9, "known-effect injection").
 * The chain is k "add $0" on the register that carries fragsz into the
 * design: each add waits for the one before it, the design's offset
 * arithmetic waits for the last one, and the asm is volatile, so neither
 * the compiler nor the assembler can drop or fold it.  It costs between
 * k/issue-width and k cycles per packet, depending on how much of the
 * chain out-of-order execution hides; compare() measures the effect, it
 * does not assume it.  k = 0 or undefined: the plain direct call.
 */
#if defined(FRAG_SLOWDOWN) && FRAG_SLOWDOWN > 0
#define __FRAG_STR(x)	#x
#define FRAG_STR(x)	__FRAG_STR(x)

static inline __attribute__((always_inline))
void *frag_alloc(void *nc, unsigned int fragsz, unsigned int align_mask)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__(".rept " FRAG_STR(FRAG_SLOWDOWN) "\n\t"
			     "addl $0, %0\n\t"
			     ".endr"
			     : "+r" (fragsz));
#elif defined(__aarch64__)
	__asm__ __volatile__(".rept " FRAG_STR(FRAG_SLOWDOWN) "\n\t"
			     "add %w0, %w0, #0\n\t"
			     ".endr"
			     : "+r" (fragsz));
#else
#error "FRAG_SLOWDOWN: no dependent-add chain for this architecture"
#endif
	return __frag_alloc(nc, fragsz, align_mask);
}
#else
#define frag_alloc	__frag_alloc
#endif

/*
 * The largest fragment the design can hand out: its ops table's max_frag,
 * 0 meaning a page.  slicer1k serves __napi_alloc_skb() heads of at most
 * 1 KiB and returns NULL above, so a workload that needs more refuses to
 * run on it.
 */
static inline unsigned int wl_design_max_frag(void)
{
	return FRAG_OPS.max_frag ? FRAG_OPS.max_frag : PAGE_SIZE;
}

#endif /* FRAG_DESIGN_DIRECT_H */
