/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The Toeplitz hash of netif.h ("Hash algorithms"), and the input buffers of
 * its hash types ("Hash types"): IPv4 (addresses), IPv4+TCP (addresses and
 * ports), IPv6 and IPv6+TCP, built from a packet. The "maximal" type wins:
 * a TCP packet is hashed with the TCP type when that type is enabled. */

#include <cstddef>
#include <cstdint>

#include <rte_mbuf.h>

namespace xen
{

constexpr size_t toeplitz_key_size = 40; /* what DPDK and Linux netback use */
/* The longest hash input: IPv6 addresses and TCP ports. */
constexpr size_t toeplitz_max_input = 36;

/* netif.h's Toeplitz hash (xen_netif_toeplitz_hash from the header itself):
 * for each input bit set, XOR in the 32 key bits starting at that bit. Key
 * bytes past `key_len` count as zero. */
uint32_t toeplitz_hash(const uint8_t *key, size_t key_len, const uint8_t *buf, size_t len) noexcept;

/* The same hash a byte at a time, for the data path: entry [i][b] is the
 * hash of byte value b at input position i (the XOR of the key windows of
 * its set bits), so a hash costs one lookup and XOR per input byte instead
 * of eight shift-and-test steps. 36 KiB; filled once per key. */
struct ToeplitzTable {
	uint32_t entries[toeplitz_max_input][256];

	void set_key(const uint8_t *key, size_t key_len) noexcept;
	uint32_t hash(const uint8_t *buf, size_t len) const noexcept
	{
		uint32_t h = 0;
		for (size_t i = 0; i < len && i < toeplitz_max_input; i++)
			h ^= entries[i][buf[i]];
		return h;
	}
};

/* The hash input of `m` for the enabled `types` (XEN_NETIF_CTRL_HASH_TYPE_*
 * bits): writes it to `buf` (toeplitz_max_input bytes) and returns its length and
 * the _XEN_NETIF_CTRL_HASH_TYPE_* index used, or 0 if no enabled type
 * applies (then the packet has no hash). */
size_t hash_input(const rte_mbuf *m, uint32_t types, uint8_t *buf, uint8_t &type) noexcept;

} // namespace xen
