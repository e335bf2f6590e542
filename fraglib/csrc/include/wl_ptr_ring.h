/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wl_ptr_ring.h - the single-producer, single-consumer ring of
 * include/linux/ptr_ring.h as page_frag_test.ko uses it
 * (__ptr_ring_produce() / __ptr_ring_consume(), no locks: one thread on
 * each side).  Own code, written from the v6.13 header's rules:
 *
 * - A slot is free when it holds NULL; there is no shared head or tail,
 *   so each side touches only its own indices plus the slots.
 * - The producer stores into queue[producer] if that slot is NULL and
 *   wraps at size (__ptr_ring_produce()).
 * - The consumer reads queue[consumer_head] (__ptr_ring_peek()) and does
 *   NOT clear it at once (__ptr_ring_discard_one()): it advances
 *   consumer_head and, once consumer_head - consumer_tail reaches `batch`
 *   or the end of the ring, NULLs the slots [consumer_tail, consumer_head)
 *   from the last to the first, then sets consumer_tail = consumer_head.
 *   At the end of the ring both indices go back to 0.  Clearing in batches
 *   keeps the consumer out of the cache line the producer is writing;
 *   clearing in reverse makes the producer see the first slot of the batch
 *   free last, so it cannot run ahead into lines still being written.
 * - batch = 2 * SMP_CACHE_BYTES / sizeof(void *) (16 on x86-64), or 1 if
 *   that exceeds half the ring (__ptr_ring_set_size()).
 *
 * Pushed pointers are never NULL.  The release store of a pointer
 * publishes what the producer wrote into it; the consumer's acquire load
 * sees it.  No design dependency, so C tests can include it alone.
 * Define WL_RING_CLEAR_HOOK(q, idx) before including to observe every
 * slot the consumer clears (tests); it defaults to nothing.
 */
#ifndef FRAG_WL_PTR_RING_H
#define FRAG_WL_PTR_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef WL_RING_CLEAR_HOOK
#define WL_RING_CLEAR_HOOK(q, idx)	((void)(q), (void)(idx))
#endif

/**
 * struct wl_ring - ptr_ring's fields, each side's on its own line.
 * @slot:          the queue; NULL = free.
 * @size:          slots.
 * @batch:         slots the consumer clears at once.
 * @producer:      producer's next slot.
 * @consumer_head: consumer's next slot to read.
 * @consumer_tail: first consumed slot not yet cleared;
 *                 consumer_tail <= consumer_head < size, and
 *                 consumer_head - consumer_tail < batch between calls.
 */
struct wl_ring {
	_Atomic(void *) *slot;
	size_t size;
	size_t batch;
	_Alignas(64) size_t producer;
	_Alignas(64) size_t consumer_head;
	size_t consumer_tail;
};

/* __ptr_ring_set_size(): two cache lines of pointers, at most size / 2. */
static inline size_t wl_ring_batch(size_t size, size_t cache_line)
{
	size_t batch = cache_line * 2 / sizeof(void *);

	if (batch > size / 2 || !batch)
		batch = 1;
	return batch;
}

static inline int wl_ring_init(struct wl_ring *q, size_t size,
			       size_t cache_line)
{
	size_t bytes = (size * sizeof(*q->slot) + 63) & ~(size_t)63;
	size_t i;

	memset(q, 0, sizeof(*q));
	q->slot = aligned_alloc(64, bytes);
	if (!q->slot)
		return -1;
	for (i = 0; i < size; i++)
		atomic_init(&q->slot[i], NULL);
	q->size = size;
	q->batch = wl_ring_batch(size, cache_line);
	return 0;
}

static inline void wl_ring_exit(struct wl_ring *q)
{
	free(q->slot);
	q->slot = NULL;
}

/* __ptr_ring_produce(): 0, or -1 if the slot still holds a pointer. */
static inline int wl_ring_push(struct wl_ring *q, void *p)
{
	size_t h = q->producer;

	if (atomic_load_explicit(&q->slot[h], memory_order_acquire))
		return -1;
	atomic_store_explicit(&q->slot[h], p, memory_order_release);
	q->producer = h + 1 == q->size ? 0 : h + 1;
	return 0;
}

/* __ptr_ring_discard_one(): advance, clearing a whole batch at a time. */
static inline void wl_ring_discard_one(struct wl_ring *q)
{
	size_t head = q->consumer_head + 1;

	if (head - q->consumer_tail >= q->batch || head >= q->size) {
		size_t i = head;

		/* Last slot first: the producer sees the first one free last. */
		while (i-- > q->consumer_tail) {
			WL_RING_CLEAR_HOOK(q, i);
			atomic_store_explicit(&q->slot[i], NULL,
					      memory_order_release);
		}
		q->consumer_tail = head;
	}
	if (head >= q->size) {
		head = 0;
		q->consumer_tail = 0;
	}
	q->consumer_head = head;
}

/* __ptr_ring_consume(): peek, and discard what was there. */
static inline void *wl_ring_pop(struct wl_ring *q)
{
	void *p = atomic_load_explicit(&q->slot[q->consumer_head],
				       memory_order_acquire);

	if (p)
		wl_ring_discard_one(q);
	return p;
}

#endif /* FRAG_WL_PTR_RING_H */
