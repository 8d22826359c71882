/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The one flag between a driver's control path and its data path.
 *
 * Each queue has a generation word written by the control path (ctrl_gen):
 * odd means "disconnected: do not touch the ring". A burst counts itself in
 * `busy` (odd while it runs, the next even value when it ends) before it
 * reads the generation. To take a ring back, the control path publishes an
 * odd generation and waits for a grace period: until the queue's count is
 * even or has moved on, i.e. the one burst that may have read the old
 * generation has ended (later ones see the odd one). From then on no burst
 * touches the ring, whether or not the application still polls that queue,
 * so the control path may unmap, re-format or re-post it. It hands the ring
 * back by publishing the next even generation with release.
 *
 * The same grace period frees anything else a burst reads through a pointer
 * the control path replaced (xenback's RSS configuration, static grant
 * tables): publish the new one, queue_retract_barrier(), queue_wait_idle()
 * on every queue whose burst reads it, then reuse the old one.
 *
 * The wait is bounded by time (Grace::deadline): a burst lasts microseconds,
 * so one still running after the deadline is a wedged lcore, which the
 * caller reports; the wait does not depend on how fast this CPU polls.
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

#include <chrono>
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
	/* Data path: bursts begun and ended, twice over: odd while in one.
	 * Written only by the lcore polling the queue. */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t busy;
};

/* Brackets one burst: `if (!guard.usable()) return 0;`. */
class BurstGuard
{
public:
	/* The acquire pairs with the previous burst's release: a burst on
	 * another thread than the last one (testpmd flushes a queue from its
	 * main thread after the forwarding lcore stopped) sees all it wrote. */
	explicit BurstGuard(QueueSync &sync) noexcept
		: sync_(sync), count_(__atomic_load_n(&sync.busy, __ATOMIC_ACQUIRE) | 1)
	{
		__atomic_store_n(&sync_.busy, count_, __ATOMIC_RELAXED);
		if (unlikely(__atomic_load_n(&sync_.fenced, __ATOMIC_RELAXED)))
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		else
			__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the control path fences */
		usable_ = (__atomic_load_n(&sync_.ctrl_gen, __ATOMIC_ACQUIRE) & 1) == 0;
	}
	~BurstGuard() { __atomic_store_n(&sync_.busy, count_ + 1, __ATOMIC_RELEASE); }
	BurstGuard(const BurstGuard &) = delete;
	BurstGuard &operator=(const BurstGuard &) = delete;
	bool usable() const noexcept { return usable_; }

private:
	QueueSync &sync_;
	uint32_t count_; /* odd: this burst */
	bool usable_;
};

/* A read-side section over state the control path replaces while the
 * queue runs (xenback's steering: read before the ring's own BurstGuard
 * is taken): the same count as QueueSync::busy without a generation. */
struct ReadEpoch {
	alignas(RTE_CACHE_LINE_SIZE) uint32_t count; /* odd while a reader is inside */
	uint32_t fenced;
};

class ReadGuard
{
public:
	explicit ReadGuard(ReadEpoch &epoch) noexcept
		: epoch_(epoch), count_(__atomic_load_n(&epoch.count, __ATOMIC_RELAXED) | 1)
	{
		__atomic_store_n(&epoch_.count, count_, __ATOMIC_RELAXED);
		if (unlikely(__atomic_load_n(&epoch_.fenced, __ATOMIC_RELAXED)))
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		else
			__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the control path fences */
	}
	~ReadGuard() { __atomic_store_n(&epoch_.count, count_ + 1, __ATOMIC_RELEASE); }
	ReadGuard(const ReadGuard &) = delete;
	ReadGuard &operator=(const ReadGuard &) = delete;

private:
	ReadEpoch &epoch_;
	uint32_t count_;
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

inline void read_epoch_init(ReadEpoch &epoch) noexcept
{
	epoch.count = 0;
	epoch.fenced = system_barrier_available() ? 0 : 1;
}

/* When a grace period gives up: `budget` from its start (Grace::start()).
 * One deadline serves every queue waited for, so a hand-off over many
 * queues is bounded by one budget too. */
class Grace
{
public:
	using Clock = std::chrono::steady_clock;
	/* A burst lasts microseconds; one busy for a second is wedged. */
	static constexpr std::chrono::milliseconds default_budget{1000};

	static Grace start(std::chrono::milliseconds budget = default_budget) noexcept
	{
		return Grace(Clock::now() + budget);
	}
	bool expired() const noexcept { return Clock::now() >= deadline_; }

private:
	explicit Grace(Clock::time_point deadline) noexcept : deadline_(deadline) {}
	Clock::time_point deadline_;
};

/* Taking rings back, in three steps so that one system-wide barrier serves
 * every queue: queue_retract() each queue (publishes the odd generation
 * `gen`), then queue_retract_barrier() once, then queue_wait_idle() each,
 * which returns true once no burst that began before the barrier is still
 * running, false if one still was at the grace period's deadline. */
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

/* True once the section counted in `count` when called (if any) has
 * ended, false if it still ran at the deadline. */
inline bool epoch_wait(const uint32_t &count, const Grace &grace) noexcept
{
	const uint32_t seen = __atomic_load_n(&count, __ATOMIC_ACQUIRE);
	if ((seen & 1) == 0)
		return true;
	/* Checks the clock every 1024 polls: cheap, and still within
	 * microseconds of the deadline. */
	for (uint32_t i = 1;; i++) {
		if (__atomic_load_n(&count, __ATOMIC_ACQUIRE) != seen)
			return true;
		if ((i & 1023) == 0 && grace.expired())
			return false;
		rte_pause();
	}
}

inline bool queue_wait_idle(const QueueSync &sync, const Grace &grace) noexcept
{
	return epoch_wait(sync.busy, grace);
}

/* After replacing what ReadGuard sections read and queue_retract_barrier(). */
inline bool read_epoch_wait(const ReadEpoch &epoch, const Grace &grace) noexcept
{
	return epoch_wait(epoch.count, grace);
}

/* Control path, once the application polls the queue no more (it frees
 * or replaces the queue): takes the last burst's end with acquire, so that
 * all the bursts wrote happens before what follows (rte_free's memset, a
 * new queue in that memory). The application's own hand-off from its
 * lcores (rte_eal_wait_lcore) orders this already; this is the driver's
 * own edge, and one ThreadSanitizer sees (it cannot see into EAL). */
inline void queue_quiesced(const QueueSync &sync) noexcept
{
	(void)__atomic_load_n(&sync.busy, __ATOMIC_ACQUIRE);
}
inline void read_epoch_quiesced(const ReadEpoch &epoch) noexcept
{
	(void)__atomic_load_n(&epoch.count, __ATOMIC_ACQUIRE);
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
