/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Memory of this process that is already granted to the port's backend
 * domain, so that the transmit path can name it in a netif tx request
 * (gref + offset) instead of copying the packet into a queue's own pages.
 *
 * A region is page-aligned virtual memory, `nb_pages` 4 KiB pages with one
 * grant reference each (pages mapped contiguously by gntalloc, as
 * xengntshr_share_pages returns them). The public granted mbuf pool
 * (rte_pmd_xenfront_pktmbuf_pool_create, xenfront_pool.cc) registers its
 * memory here; receive pages lent to mbufs as external buffers may too.
 *
 * The table lives in dev_private (Adapter), so every queue reaches it.
 * Registration is control path (a spinlock orders writers); the data path
 * reads it without a lock: a writer fills base and grefs and then stores
 * `end` with release, the reader loads `end` with acquire before it reads
 * the rest. An entry is removed by storing end = 0. A region may be removed
 * only when no mbuf whose data lies in it is still being transmitted (its
 * pool being freed), so a reader that still sees the old entry never
 * matches an address with it. */

#include <cstdint>

#include <rte_spinlock.h>

#include "xen_protocol.h"

namespace xenfront
{

struct Adapter;

/* Regions per port: one per granted pool, and a few for receive pages. */
constexpr unsigned max_granted_regions = 8;

struct GrantedRegion {
	uintptr_t base;        /* page-aligned */
	uintptr_t end;         /* base + nb_pages * 4 KiB; 0: entry free */
	const uint32_t *grefs; /* grefs[i] grants page i; in rte_malloc memory */
};

struct GrantedRegions {
	rte_spinlock_t lock; /* writers only */
	/* Entries [0, nb_used) may be in use; it only grows (release store). */
	uint32_t nb_used;
	GrantedRegion entries[max_granted_regions];
};

/* Control path. Makes [base, base + nb_pages * 4 KiB) known to the
 * transmit path of the port; `grefs` (nb_pages of them, granted to that
 * port's backend domain at least for reading) must stay valid until
 * unregister_granted_region. 0, or -EINVAL (base not page-aligned, no
 * pages), -EEXIST (overlaps a registered region), -ENOSPC (table full). */
int register_granted_region(Adapter &a, const void *base, uint32_t nb_pages,
			    const uint32_t *grefs) noexcept;

/* Control path. Forgets the region that starts at `base` (the caller
 * guarantees no mbuf in it is in flight any more); false if none does. */
bool unregister_granted_region(Adapter &a, const void *base) noexcept;

/* Data path: entries to look at this burst (acquire pairs with the release
 * in register_granted_region). */
inline uint32_t granted_regions_in_use(const GrantedRegions &t) noexcept
{
	return __atomic_load_n(&t.nb_used, __ATOMIC_ACQUIRE);
}

/* Data path: the region holding [addr, addr + len) entirely, or nullptr. */
inline const GrantedRegion *find_granted_region(const GrantedRegions &t, uint32_t nb_used,
						uintptr_t addr, uint32_t len) noexcept
{
	for (uint32_t i = 0; i < nb_used; i++) {
		const GrantedRegion &r = t.entries[i];
		uintptr_t end = __atomic_load_n(&r.end, __ATOMIC_ACQUIRE);
		if (addr >= r.base && addr < end && end - addr >= len)
			return &r;
	}
	return nullptr;
}

/* The grant reference of the page holding `addr` (inside `r`). */
inline uint32_t granted_gref(const GrantedRegion &r, uintptr_t addr) noexcept
{
	return r.grefs[(addr - r.base) / xen::page_size];
}

} // namespace xenfront
