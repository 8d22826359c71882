/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Static grants (netif.h "Static Grants", the control ring's
 * XEN_NETIF_CTRL_TYPE_{GET_GREF_MAPPING_SIZE,ADD_GREF_MAPPING,
 * DEL_GREF_MAPPING}): the frontend names grant references for the backend
 * to keep mapped, per queue, so that the data path copies packets to and
 * from its buffers with plain memory copies instead of a grant copy per
 * slot. Grants that are not mapped still go by grant copy.
 *
 * The data path finds a mapping by grant reference in an open-addressing
 * table, at most half full. Two copies of it per queue: the control thread
 * edits the one not in use, publishes it with release, and before it edits
 * or unmaps anything again it waits until no burst can still be reading the
 * old copy (xen::queue_retract_barrier() and queue_wait_idle() on the
 * queue's rx and tx sync, bursts bracket themselves with BurstGuard). */

#include <cstdint>

namespace xenback
{

/* Mappings per queue: a frontend's tx and rx buffers at full ring depth
 * (256 each), one list page of xen_netif_gref (4096 / 8 = 512 entries). */
constexpr uint32_t max_static_grants = 512;
constexpr uint32_t gref_table_slots = 2 * max_static_grants; /* a power of two */

struct GrefEntry {
	uint32_t key;      /* grant reference + 1; 0: empty */
	uint32_t writable; /* mapped for writing (a receive buffer) */
	uint8_t *addr;     /* the page, in this process */
};

struct GrefTable {
	uint32_t count;
	GrefEntry slots[gref_table_slots];
};

struct SharedGrefs {
	GrefTable copies[2];
	uint32_t current; /* index of the published copy */
};

/* The published table, or nullptr if it maps nothing (once per burst). */
inline const GrefTable *published_grefs(const SharedGrefs *s) noexcept
{
	if (s == nullptr)
		return nullptr;
	const GrefTable *t = &s->copies[__atomic_load_n(&s->current, __ATOMIC_ACQUIRE) & 1];
	return t->count != 0 ? t : nullptr;
}

/* Where `ref` is looked for first. A frontend grants its buffers in runs
 * of consecutive references, which this places in consecutive slots with
 * no collision (one probe per lookup); references a table size apart are
 * spread by their upper bits. */
inline uint32_t gref_home(uint32_t ref) noexcept
{
	static_assert((gref_table_slots & (gref_table_slots - 1)) == 0);
	constexpr unsigned bits = __builtin_ctz(gref_table_slots);
	return (ref ^ (ref >> bits) ^ (ref >> (2 * bits))) & (gref_table_slots - 1);
}

/* The mapped page of `ref`, nullptr if it is not mapped (or only for
 * reading when `write`). Terminates: the table is never full. */
inline uint8_t *gref_lookup(const GrefTable &t, uint32_t ref, bool write) noexcept
{
	for (uint32_t i = gref_home(ref);; i = (i + 1) & (gref_table_slots - 1)) {
		const GrefEntry &e = t.slots[i];
		if (e.key == ref + 1)
			return write && !e.writable ? nullptr : e.addr;
		if (e.key == 0)
			return nullptr;
	}
}

/* Control path: adds an entry (the table has room: count < slots / 2). */
inline void gref_insert(GrefTable &t, uint32_t ref, uint8_t *addr, bool writable) noexcept
{
	uint32_t i = gref_home(ref);
	while (t.slots[i].key != 0)
		i = (i + 1) & (gref_table_slots - 1);
	t.slots[i] = GrefEntry{ref + 1, writable ? 1u : 0u, addr};
	t.count++;
}

} // namespace xenback
