/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The one flag between a driver's control path and its data path.
 *
 * Each queue has a generation word written by the control path (ctrl_gen)
 * and acknowledged by the data path (dp_gen). Odd means "disconnected: do
 * not touch the ring". The control path makes it odd, waits until the data
 * path has acknowledged (or the port is stopped), then owns the ring and its
 * buffers: it may unmap, re-format or re-post them. It hands them back by
 * publishing the next even value with release. The data path checks once per
 * burst, before touching anything shared with the other end. */

#include <cstdint>

#include <rte_branch_prediction.h>
#include <rte_common.h>

struct xenevtchn_handle;

namespace xen
{

struct QueueSync {
	alignas(RTE_CACHE_LINE_SIZE) uint32_t ctrl_gen; /* control → data path */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t dp_gen;   /* data path → control */
};

/* Data path: true when the ring may be used in this burst. The release store
 * of dp_gen pairs with the control path's acquire load in acknowledged():
 * every ring access of earlier bursts happens before it owns the ring. */
static inline bool queue_usable(QueueSync &sync) noexcept
{
	uint32_t gen = __atomic_load_n(&sync.ctrl_gen, __ATOMIC_ACQUIRE);
	if (unlikely(gen != sync.dp_gen))
		__atomic_store_n(&sync.dp_gen, gen, __ATOMIC_RELEASE);
	return (gen & 1) == 0;
}

/* Control path. */
static inline void queue_tell(QueueSync &sync, uint32_t gen) noexcept
{
	__atomic_store_n(&sync.ctrl_gen, gen, __ATOMIC_SEQ_CST);
}
/* Hands the ring (re-formatted, reconnected) back to the data path. */
static inline void queue_publish(QueueSync &sync, uint32_t gen) noexcept
{
	__atomic_store_n(&sync.ctrl_gen, gen, __ATOMIC_RELEASE);
}
static inline bool queue_acknowledged(const QueueSync &sync, uint32_t gen) noexcept
{
	return __atomic_load_n(&sync.dp_gen, __ATOMIC_ACQUIRE) == gen;
}
/* Before any connection: disconnected, nothing to acknowledge. */
static inline void queue_sync_init(QueueSync &sync, uint32_t gen) noexcept
{
	sync.ctrl_gen = gen | 1;
	sync.dp_gen = gen | 1;
}

/* Where a data-path notification goes: a ring's event channel. */
struct Notifier {
	::xenevtchn_handle *handle; /* process-private, set by the control path */
	uint32_t port;
};

} // namespace xen
