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
 * Ordering: a burst's store of `busy` must be visible before its load of
 * ctrl_gen, or both sides could miss each other (store-load order, which
 * x86 does not keep). That needs a full barrier on each side. The burst's
 * side would pay it on every call, so it is made asymmetric: the control
 * path, after storing the odd generation, runs a system-wide barrier
 * (membarrier(MEMBARRIER_CMD_GLOBAL): every thread of every process, the
 * secondary processes polling the queue included, has passed a full
 * barrier when it returns), and the burst only keeps the compiler from
 * reordering. Where the kernel has no such barrier (nohz_full), queues are
 * set up `fenced` and each burst issues its own full barrier. */

#include <cstdint>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_pause.h>

struct xenevtchn_handle;

namespace xen
{

struct QueueSync {
	alignas(RTE_CACHE_LINE_SIZE) uint32_t ctrl_gen; /* control → data path */
	uint32_t fenced; /* 1: bursts issue the full barrier (no system-wide one) */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t busy; /* data path: in a burst */
};

/* Brackets one burst: `if (!guard.usable()) return 0;`. */
class BurstGuard
{
public:
	explicit BurstGuard(QueueSync &sync) noexcept : sync_(sync)
	{
		__atomic_store_n(&sync_.busy, 1, __ATOMIC_RELAXED);
		if (unlikely(__atomic_load_n(&sync_.fenced, __ATOMIC_RELAXED)))
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		else
			__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the control path fences */
		usable_ = (__atomic_load_n(&sync_.ctrl_gen, __ATOMIC_ACQUIRE) & 1) == 0;
	}
	~BurstGuard() { __atomic_store_n(&sync_.busy, 0, __ATOMIC_RELEASE); }
	BurstGuard(const BurstGuard &) = delete;
	BurstGuard &operator=(const BurstGuard &) = delete;
	bool usable() const noexcept { return usable_; }

private:
	QueueSync &sync_;
	bool usable_;
};

/* Control path: whether the system-wide barrier is available (asked once,
 * cached), and the barrier itself; false if it failed. queue_sync.cc. */
bool system_barrier_available() noexcept;
bool system_barrier() noexcept;

/* Control path. Before any connection the ring is not the data path's. */
inline void queue_sync_init(QueueSync &sync, uint32_t gen) noexcept
{
	sync.ctrl_gen = gen | 1;
	sync.fenced = system_barrier_available() ? 0 : 1;
	sync.busy = 0;
}

/* Taking rings back, in three steps so that one system-wide barrier serves
 * every queue: queue_retract() each queue (publishes the odd generation
 * `gen`), then queue_retract_barrier() once, then queue_wait_idle() each,
 * which returns true once no burst is using the queue, false if one stayed
 * busy past `spins` polls (a wedged lcore). */
inline void queue_retract(QueueSync &sync, uint32_t gen) noexcept
{
	__atomic_store_n(&sync.ctrl_gen, gen, __ATOMIC_SEQ_CST);
}

inline void queue_retract_barrier() noexcept
{
	/* Fenced queues need none; a failure here cannot happen where the
	 * barrier was reported available, and a full fence is all we could
	 * add. */
	if (!system_barrier())
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

inline bool queue_wait_idle(const QueueSync &sync, uint64_t spins) noexcept
{
	for (uint64_t i = 0; i < spins; i++) {
		if (__atomic_load_n(&sync.busy, __ATOMIC_ACQUIRE) == 0)
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
