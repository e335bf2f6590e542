/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wl_defer.h - skb_attempt_defer_free() (net/core/skbuff.c, 5.19 on): the
 * rx path's deferred free, after skb_attempt_defer_free() and
 * skb_defer_free_flush() (net/core/dev.c) as of v6.9.  The CPU that
 * consumes an skb (recvmsg) does not free it when the skb was allocated
 * elsewhere: it takes the allocating CPU's defer_lock and pushes the skb
 * on that CPU's defer_list, unless defer_count already reached
 * sysctl_skb_defer_max (64), in which case it frees it itself (nodefer).
 * The push made while defer_count is exactly defer_max / 2 kicks the
 * owner (an IPI raising NET_RX_SOFTIRQ, once until it has run).  The
 * owner empties the list at the top of net_rx_action(), i.e. every NAPI
 * poll: it steals the list under the lock and frees every skb locally,
 * newest first.  Own code from the kernel's rules; the list is an array of
 * defer_max slots (two, swapped under the lock), so no link is written
 * into a head.
 */
#ifndef FRAG_WL_DEFER_H
#define FRAG_WL_DEFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef unlikely
#define unlikely(x)		__builtin_expect(!!(x), 0)
#endif

struct wl_defer {
	atomic_flag lock;		/* sd->defer_lock */
	_Atomic unsigned int count;	/* sd->defer_count (READ_ONCE) */
	atomic_int ipi_scheduled;	/* sd->defer_ipi_scheduled */
	unsigned int max;		/* sysctl_skb_defer_max */
	unsigned int n;			/* entries in list (under lock) */
	void **list, **spare;
	/* the consuming CPU's counters */
	uint64_t deferred, nodefer, kicks, max_seen;
	/* the owner's counters */
	_Alignas(64) uint64_t flushes, flushed;
};

static inline int wl_defer_init(struct wl_defer *d, unsigned int max)
{
	memset(d, 0, sizeof(*d));
	atomic_flag_clear(&d->lock);
	atomic_init(&d->count, 0);
	atomic_init(&d->ipi_scheduled, 0);
	d->max = max;
	d->list = calloc(max ? max : 1, sizeof(void *));
	d->spare = calloc(max ? max : 1, sizeof(void *));
	return d->list && d->spare ? 0 : -1;
}

static inline void wl_defer_exit(struct wl_defer *d)
{
	free(d->list);
	free(d->spare);
	d->list = d->spare = NULL;
}

static inline void wl_defer_lock(struct wl_defer *d)
{
	while (atomic_flag_test_and_set_explicit(&d->lock,
						 memory_order_acquire))
		__builtin_ia32_pause();
}

static inline void wl_defer_unlock(struct wl_defer *d)
{
	atomic_flag_clear_explicit(&d->lock, memory_order_release);
}

/*
 * On the consuming CPU: hand @p back to its owner.  Returns false if the
 * list is full (defer_count >= defer_max): the caller frees it here.
 */
static inline bool wl_defer_attempt(struct wl_defer *d, void *p)
{
	unsigned int count;
	bool kick;

	if (atomic_load_explicit(&d->count, memory_order_relaxed) >= d->max) {
		d->nodefer++;
		return false;
	}
	wl_defer_lock(d);
	count = d->n;
	if (unlikely(count >= d->max)) {
		wl_defer_unlock(d);
		d->nodefer++;
		return false;
	}
	/* An IPI every time the queue reaches half capacity. */
	kick = count == d->max >> 1;
	d->list[count] = p;
	d->n = count + 1;
	atomic_store_explicit(&d->count, count + 1, memory_order_relaxed);
	wl_defer_unlock(d);
	d->deferred++;
	if (count + 1 > d->max_seen)
		d->max_seen = count + 1;
	if (unlikely(kick)) {
		int zero = 0;

		if (atomic_compare_exchange_strong(&d->ipi_scheduled, &zero, 1))
			d->kicks++;
	}
	return true;
}

/*
 * skb_defer_free_flush() on the owner: steal the list under the lock.
 * *@list gets the heads in push order (free them last first); the array
 * stays valid until the next take.  Returns how many.
 */
static inline unsigned int wl_defer_take(struct wl_defer *d, void ***list)
{
	unsigned int n;

	*list = NULL;
	if (!atomic_load_explicit(&d->count, memory_order_relaxed))
		return 0;
	wl_defer_lock(d);
	*list = d->list;
	n = d->n;
	d->list = d->spare;
	d->spare = *list;
	d->n = 0;
	atomic_store_explicit(&d->count, 0, memory_order_relaxed);
	wl_defer_unlock(d);
	/* The IPI's trigger_rx_softirq() has run: a new kick may come. */
	atomic_store_explicit(&d->ipi_scheduled, 0, memory_order_relaxed);
	d->flushes++;
	d->flushed += n;
	return n;
}

#endif /* FRAG_WL_DEFER_H */
