/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The one flag between a driver's control path and its data path.
 *
 * Each queue has a generation word written by the control path (ctrl_gen):
 * odd means "disconnected: do not touch the ring". A burst marks the queue
 * busy before it reads the generation and clears the mark when it is done.
 * To take a ring back, the control path publishes an odd generation and
 * waits until the queue is not busy; from then on no burst touches the
 * ring, whether or not the application still polls that queue, so the
 * control path may unmap, re-format or re-post it. It hands the ring back by
 * publishing the next even generation with release.
 *
 * Ordering: the burst's exchange of `busy` and the control path's store of
 * ctrl_gen are both sequentially consistent, so either the burst sees the
 * odd generation, or the control path sees it busy and waits. */

#include <cstdint>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_pause.h>

struct xenevtchn_handle;

namespace xen
{

struct QueueSync {
	alignas(RTE_CACHE_LINE_SIZE) uint32_t ctrl_gen; /* control → data path */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t busy;     /* data path: in a burst */
};

/* Brackets one burst: `if (!guard.usable()) return 0;`. */
class BurstGuard
{
public:
	explicit BurstGuard(QueueSync &sync) noexcept : sync_(sync)
	{
		__atomic_exchange_n(&sync_.busy, 1, __ATOMIC_SEQ_CST);
		usable_ = (__atomic_load_n(&sync_.ctrl_gen, __ATOMIC_SEQ_CST) & 1) == 0;
	}
	~BurstGuard() { __atomic_store_n(&sync_.busy, 0, __ATOMIC_RELEASE); }
	BurstGuard(const BurstGuard &) = delete;
	BurstGuard &operator=(const BurstGuard &) = delete;
	bool usable() const noexcept { return usable_; }

private:
	QueueSync &sync_;
	bool usable_;
};

/* Control path. Before any connection the ring is not the data path's. */
inline void queue_sync_init(QueueSync &sync, uint32_t gen) noexcept
{
	sync.ctrl_gen = gen | 1;
	sync.busy = 0;
}

/* Takes the ring back: publishes the odd generation `gen`; returns true
 * once no burst is using the queue, false if one stayed busy past `spins`
 * polls (a wedged lcore). */
inline bool queue_take_back(QueueSync &sync, uint32_t gen, uint64_t spins) noexcept
{
	__atomic_store_n(&sync.ctrl_gen, gen, __ATOMIC_SEQ_CST);
	for (uint64_t i = 0; i < spins; i++) {
		if (__atomic_load_n(&sync.busy, __ATOMIC_SEQ_CST) == 0)
			return true;
		rte_pause();
	}
	return false;
}

/* Hands the ring (re-formatted, reconnected) back to the data path. */
inline void queue_publish(QueueSync &sync, uint32_t gen) noexcept
{
	__atomic_store_n(&sync.ctrl_gen, gen, __ATOMIC_RELEASE);
}

/* Where a data-path notification goes: a ring's event channel. */
struct Notifier {
	::xenevtchn_handle *handle; /* process-private, set by the control path */
	uint32_t port;
};

} // namespace xen
