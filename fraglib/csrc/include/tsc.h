/* SPDX-License-Identifier: GPL-2.0-only */
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

/*
 * The processor id rdtscp also returns is thrown away in a register:
 * __rdtscp(&aux) would store it to the stack inside the timed region, a
 * store the measured code does not make.
 */
static inline uint64_t frag_rdtscp(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi) : : "rcx");
	_mm_lfence();
	return (uint64_t)hi << 32 | lo;
}

/* TSC ticks per second, measured against CLOCK_MONOTONIC_RAW. */
double frag_tsc_calibrate(unsigned int ms);

/*
 * The smallest step the TSC is seen to advance by, in TSC cycles: 1 on
 * bare metal, about 24.5 in a VM whose TSC ticks every 10 ns.  A timed
 * sample is known only to within one step.
 */
double frag_tsc_step(void);

/* Keep the compiler from dropping or moving work across a point. */
#define frag_barrier()		__asm__ __volatile__("" ::: "memory")
#define frag_keep(p)		__asm__ __volatile__("" : : "r"(p) : "memory")

#endif /* FRAG_TSC_H */
