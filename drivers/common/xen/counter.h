/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A 64-bit statistics counter of a queue: one writer, any readers.
 *
 * The burst polling the queue adds to it (or, for a queue several lcores
 * send on, whoever holds the queue's lock); stats_get, the xstats and
 * telemetry read it from other threads while the bursts run. Both sides
 * are relaxed atomic accesses: a reader sees a whole value, never a torn
 * or stale-forever one, and the writer is not a locked read-modify-write,
 * which a single writer does not need. On x86-64 each access is the plain
 * mov a uint64_t would get.
 *
 * A reset (stats_reset) stores zero from the control thread; a burst
 * adding at that instant may put back the value it read before the reset,
 * as with any PMD's software counters. */

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace xen
{

class Counter
{
public:
	/* The writer's add: load and store, each relaxed. */
	void operator+=(uint64_t n) noexcept
	{
		__atomic_store_n(&value_, __atomic_load_n(&value_, __ATOMIC_RELAXED) + n,
				 __ATOMIC_RELAXED);
	}
	void operator++(int) noexcept { *this += 1; }
	void operator++() noexcept { *this += 1; }

	uint64_t load() const noexcept { return __atomic_load_n(&value_, __ATOMIC_RELAXED); }
	/* A value that is not a count (an lcore id), or a reset. */
	void store(uint64_t v) noexcept { __atomic_store_n(&value_, v, __ATOMIC_RELAXED); }

	/* Not copyable: a plain copy would read it non-atomically. The
	 * structs holding counters live in zeroed memory (rte_zmalloc). */
	Counter() = default;
	Counter(const Counter &) = delete;
	Counter &operator=(const Counter &) = delete;

private:
	uint64_t value_;
};

static_assert(sizeof(Counter) == sizeof(uint64_t) && std::is_standard_layout_v<Counter>);

/* The counter at byte `offset` of a stats struct made only of Counters
 * (the offsets of an xstats table). */
template <typename Stats>
inline Counter &counter_at(Stats &stats, size_t offset) noexcept
{
	static_assert(sizeof(Stats) % sizeof(Counter) == 0);
	return *reinterpret_cast<Counter *>(reinterpret_cast<uint8_t *>(&stats) + offset);
}
template <typename Stats>
inline const Counter &counter_at(const Stats &stats, size_t offset) noexcept
{
	static_assert(sizeof(Stats) % sizeof(Counter) == 0);
	return *reinterpret_cast<const Counter *>(reinterpret_cast<const uint8_t *>(&stats) +
						  offset);
}

} // namespace xen
