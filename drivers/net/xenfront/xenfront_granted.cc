/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The table of granted regions (xenfront_granted.h). */

#include "xenfront_granted.h"

#include <cerrno>

#include "xenfront.h"

namespace xenfront
{

int register_granted_region(Adapter &a, const void *base, uint32_t nb_pages,
			    const uint32_t *grefs) noexcept
{
	const auto start = reinterpret_cast<uintptr_t>(base);
	if (nb_pages == 0 || grefs == nullptr || start % xen::page_size != 0)
		return -EINVAL;
	const uintptr_t end = start + uintptr_t(nb_pages) * xen::page_size;
	GrantedRegions &t = a.granted;
	rte_spinlock_lock(&t.lock);
	GrantedRegion *slot = nullptr;
	for (GrantedRegion &r : t.entries) {
		if (r.end == 0) {
			if (slot == nullptr)
				slot = &r;
		} else if (start < r.end && r.base < end) {
			rte_spinlock_unlock(&t.lock);
			return -EEXIST;
		}
	}
	if (slot == nullptr) {
		rte_spinlock_unlock(&t.lock);
		return -ENOSPC;
	}
	slot->base = start;
	slot->grefs = grefs;
	/* Pairs with the acquire in find_granted_region: base and grefs are
	 * visible to a reader that sees this end. */
	__atomic_store_n(&slot->end, end, __ATOMIC_RELEASE);
	const auto index = static_cast<uint32_t>(slot - t.entries);
	if (index >= t.nb_used)
		__atomic_store_n(&t.nb_used, index + 1, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&t.lock);
	return 0;
}

bool unregister_granted_region(Adapter &a, const void *base) noexcept
{
	const auto start = reinterpret_cast<uintptr_t>(base);
	GrantedRegions &t = a.granted;
	bool found = false;
	rte_spinlock_lock(&t.lock);
	for (GrantedRegion &r : t.entries) {
		if (r.end != 0 && r.base == start) {
			__atomic_store_n(&r.end, 0, __ATOMIC_RELEASE);
			found = true;
			break;
		}
	}
	rte_spinlock_unlock(&t.lock);
	return found;
}

} // namespace xenfront
