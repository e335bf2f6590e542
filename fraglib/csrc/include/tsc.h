/* SPDX-License-Identifier: MIT */
/*
 * tsc.h - rdtscp timing.  rdtscp waits for earlier instructions to retire
 * before reading the TSC, so the stop stamp covers the region; the lfence
 * after it keeps later work from starting early.  The TSC ticks at a
 * constant reference rate (constant_tsc), not the core clock, so results
 * are "TSC cycles" and the rate is calibrated and recorded with each run.
 */
#ifndef FRAG_TSC_H
#define FRAG_TSC_H

#include <stdint.h>
#include <x86intrin.h>

static inline uint64_t frag_rdtscp(void)
{
	unsigned int aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
}

/* TSC ticks per second, measured against CLOCK_MONOTONIC_RAW. */
double frag_tsc_calibrate(unsigned int ms);

/* Keep the compiler from dropping or moving work across a point. */
#define frag_barrier()		__asm__ __volatile__("" ::: "memory")
#define frag_keep(p)		__asm__ __volatile__("" : : "r"(p) : "memory")

#endif /* FRAG_TSC_H */
