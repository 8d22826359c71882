/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
/* The header's own implementation of the algorithm (netif.h "Hash
 * algorithms"), compiled here and only here. */
#define XEN_NETIF_DEFINE_TOEPLITZ 1

#include "toeplitz.h"

#include <cstring>
#include <netinet/in.h>

#include "net_headers.h"
#include "xen_protocol.h"

namespace xen
{

uint32_t toeplitz_hash(const uint8_t *key, size_t key_len, const uint8_t *buf, size_t len) noexcept
{
	return xen_netif_toeplitz_hash(key, static_cast<unsigned>(key_len), buf,
				       static_cast<unsigned>(len));
}

void ToeplitzTable::set_key(const uint8_t *key, size_t key_len) noexcept
{
	/* The 32 key bits starting at bit `pos` (bits past the key are 0). */
	auto window = [&](size_t pos) {
		uint64_t bits = 0;
		for (size_t k = 0; k < 5; k++) {
			size_t byte = pos / 8 + k;
			bits = bits << 8 | (byte < key_len ? key[byte] : 0);
		}
		return static_cast<uint32_t>(bits >> (8 - pos % 8));
	};
	for (size_t i = 0; i < toeplitz_max_input; i++) {
		uint32_t bit_hash[8]; /* of the input bit 0x80 >> j at byte i */
		for (size_t j = 0; j < 8; j++)
			bit_hash[j] = window(i * 8 + j);
		for (unsigned b = 0; b < 256; b++) {
			uint32_t h = 0;
			for (size_t j = 0; j < 8; j++)
				if (b & (0x80u >> j))
					h ^= bit_hash[j];
			entries[i][b] = h;
		}
	}
}

size_t hash_input(const rte_mbuf *m, uint32_t types, uint8_t *buf, uint8_t &type) noexcept
{
	uint8_t tmp[128];
	uint32_t peek = RTE_MIN(m->pkt_len, static_cast<uint32_t>(sizeof(tmp)));
	const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, peek, tmp));
	if (p == nullptr || peek < 14)
		return 0;
	uint32_t l3 = 14;
	uint16_t eth = static_cast<uint16_t>(p[12] << 8 | p[13]);
	if (eth == 0x8100 && peek >= 18) {
		eth = static_cast<uint16_t>(p[16] << 8 | p[17]);
		l3 = 18;
	}
	if (eth == 0x0800 && peek >= l3 + 20) {
		uint32_t ihl = (p[l3] & 15u) * 4u;
		bool frag = (p[l3 + 6] & 0x3f) || p[l3 + 7]; /* MF or an offset */
		bool tcp = p[l3 + 9] == IPPROTO_TCP && !frag && peek >= l3 + ihl + 4;
		if (tcp && (types & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)) {
			std::memcpy(buf, p + l3 + 12, 8);
			std::memcpy(buf + 8, p + l3 + ihl, 4);
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
			return 12;
		}
		if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV4) {
			std::memcpy(buf, p + l3 + 12, 8);
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
			return 8;
		}
		return 0;
	}
	if (eth == 0x86dd && peek >= l3 + 40) {
		/* netif.h hashes an IPv6 packet "without options": TCP only
		 * right after the fixed header. */
		bool tcp = p[l3 + 6] == IPPROTO_TCP && peek >= l3 + 44;
		if (tcp && (types & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)) {
			std::memcpy(buf, p + l3 + 8, 32);
			std::memcpy(buf + 32, p + l3 + 40, 4);
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
			return 36;
		}
		if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV6) {
			std::memcpy(buf, p + l3 + 8, 32);
			type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
			return 32;
		}
	}
	return 0;
}

} // namespace xen
