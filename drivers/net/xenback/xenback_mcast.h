/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Multicast control (netif.h "Multicast control"), as Linux netback's
 * xenvif_mcast_add/del/match: the guest adds and removes addresses with
 * dummy transmit requests (XEN_NETIF_EXTRA_TYPE_MCAST_ADD/DEL), and while
 * it asks for filtering (request-multicast-control=1) multicast frames
 * toward it whose address is not listed are dropped; broadcast always
 * passes.
 *
 * One table per vif, in dev_private. Any queue's guest-transmit burst may
 * change it (writers take `lock`, only on a multicast request); every
 * guest-receive burst may read it, without a lock: each slot is one atomic
 * word, 0 when empty. A reader racing a change sees the address either
 * there or not, never a torn one. */

#include <cstdint>
#include <cstring>

#include <rte_ether.h>
#include <rte_spinlock.h>

namespace xenback
{

/* XEN_NETBK_MCAST_MAX: netback keeps at most 64 addresses per vif and
 * answers the ADD of another NETIF_RSP_ERROR. */
constexpr unsigned max_mcast_addrs = 64;

struct McastFilter {
	/* request-multicast-control=1 while connected; written by the control
	 * thread, read by the guest-receive bursts (relaxed: a frame decided
	 * just before a change is as if it came just before). */
	uint32_t enabled;
	uint32_t count;      /* addresses listed; under lock */
	rte_spinlock_t lock; /* writers */
	/* An address's six bytes, with bit 48 set so that no listed address
	 * reads 0 (an empty slot). Linux keeps a list that may hold an
	 * address twice (each ADD adds one, each DEL removes one): so do we. */
	uint64_t slots[max_mcast_addrs];
};

inline uint64_t mcast_key(const uint8_t *addr) noexcept
{
	uint64_t key = 0;
	std::memcpy(&key, addr, RTE_ETHER_ADDR_LEN);
	return key | (uint64_t(1) << 48);
}

/* false when the table is full (netback: -ENOSPC, answered ERROR). */
inline bool mcast_add(McastFilter &f, const uint8_t *addr) noexcept
{
	const uint64_t key = mcast_key(addr);
	bool added = false;
	rte_spinlock_lock(&f.lock);
	for (unsigned i = 0; i < max_mcast_addrs && f.count < max_mcast_addrs; i++) {
		if (__atomic_load_n(&f.slots[i], __ATOMIC_RELAXED) != 0)
			continue;
		__atomic_store_n(&f.slots[i], key, __ATOMIC_RELEASE);
		f.count++;
		added = true;
		break;
	}
	rte_spinlock_unlock(&f.lock);
	return added;
}

/* Removes one occurrence; an address not listed is no error (netback). */
inline void mcast_del(McastFilter &f, const uint8_t *addr) noexcept
{
	const uint64_t key = mcast_key(addr);
	rte_spinlock_lock(&f.lock);
	for (unsigned i = 0; i < max_mcast_addrs; i++) {
		if (__atomic_load_n(&f.slots[i], __ATOMIC_RELAXED) != key)
			continue;
		__atomic_store_n(&f.slots[i], 0, __ATOMIC_RELEASE);
		f.count--;
		break;
	}
	rte_spinlock_unlock(&f.lock);
}

inline bool mcast_match(const McastFilter &f, uint64_t key) noexcept
{
	for (unsigned i = 0; i < max_mcast_addrs; i++)
		if (__atomic_load_n(&f.slots[i], __ATOMIC_RELAXED) == key)
			return true;
	return false;
}

/* The frontend went away: no filtering, no address (netback frees its
 * list when the vif disconnects). */
inline void mcast_reset(McastFilter &f) noexcept
{
	__atomic_store_n(&f.enabled, 0, __ATOMIC_RELAXED);
	rte_spinlock_lock(&f.lock);
	for (unsigned i = 0; i < max_mcast_addrs; i++)
		__atomic_store_n(&f.slots[i], 0, __ATOMIC_RELAXED);
	f.count = 0;
	rte_spinlock_unlock(&f.lock);
}

inline void mcast_init(McastFilter &f) noexcept
{
	std::memset(&f, 0, sizeof(f));
	rte_spinlock_init(&f.lock);
}

} // namespace xenback
