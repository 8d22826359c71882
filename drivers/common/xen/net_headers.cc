/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "net_headers.h"

#include <cstring>
#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_jhash.h>

namespace xen
{
namespace
{

constexpr uint8_t ipv6_hop_by_hop = 0;
constexpr uint8_t ipv6_dest_options = 60;

uint16_t csum_field_offset(const NetHeaders &h)
{
	return static_cast<uint16_t>(h.l2_len + h.l3_len + (h.l4_proto == IPPROTO_TCP ? 16 : 6));
}

uint32_t l4_length(const rte_mbuf *m, const NetHeaders &h)
{
	return m->pkt_len - h.l2_len - h.l3_len;
}

void store_csum(rte_mbuf *m, const NetHeaders &h, uint16_t csum)
{
	std::memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, csum_field_offset(h)), &csum,
		    sizeof(csum));
}

} // namespace

uint32_t pseudo_header_sum(const uint8_t *l3, bool ipv6, uint8_t proto, uint32_t l4_len) noexcept
{
	if (ipv6) {
		const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(l3);
		uint32_t sum = __rte_raw_cksum(&ip->src_addr, 32, 0);
		struct {
			rte_be32_t len;
			uint8_t zero[3];
			uint8_t proto;
		} __rte_packed tail = {rte_cpu_to_be_32(l4_len), {0, 0, 0}, proto};
		return __rte_raw_cksum(&tail, sizeof(tail), sum);
	}
	const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(l3);
	uint32_t sum = __rte_raw_cksum(&ip->src_addr, 8, 0);
	struct {
		uint8_t zero;
		uint8_t proto;
		rte_be16_t len;
	} __rte_packed tail = {0, proto, rte_cpu_to_be_16(static_cast<uint16_t>(l4_len))};
	return __rte_raw_cksum(&tail, sizeof(tail), sum);
}

bool parse_net_headers(const rte_mbuf *m, NetHeaders &h) noexcept
{
	h = NetHeaders{};
	uint8_t buf[128];
	uint32_t peek = RTE_MIN(m->pkt_len, static_cast<uint32_t>(sizeof(buf)));
	const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, peek, buf));
	if (p == nullptr || peek < RTE_ETHER_HDR_LEN)
		return false;
	uint32_t off = RTE_ETHER_HDR_LEN;
	uint16_t type = static_cast<uint16_t>(p[12] << 8 | p[13]);
	if (type == RTE_ETHER_TYPE_VLAN) {
		if (peek < off + 4)
			return false;
		type = static_cast<uint16_t>(p[16] << 8 | p[17]);
		off += 4;
		h.vlan = true;
	}
	h.l2_len = static_cast<uint16_t>(off);
	uint8_t proto;
	if (type == RTE_ETHER_TYPE_IPV4) {
		if (peek < off + sizeof(rte_ipv4_hdr))
			return false;
		const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(p + off);
		uint32_t hlen = rte_ipv4_hdr_len(ip);
		if ((ip->version_ihl >> 4) != 4 || hlen < sizeof(rte_ipv4_hdr))
			return false;
		h.fragment = ip->fragment_offset &
			     rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK);
		proto = ip->next_proto_id;
		off += hlen;
	} else if (type == RTE_ETHER_TYPE_IPV6) {
		if (peek < off + sizeof(rte_ipv6_hdr))
			return false;
		const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(p + off);
		if ((p[off] >> 4) != 6)
			return false;
		proto = ip->proto;
		off += sizeof(rte_ipv6_hdr);
		while (proto == ipv6_hop_by_hop || proto == ipv6_dest_options) {
			if (peek < off + 8)
				return false;
			proto = p[off];
			off += (p[off + 1] + 1u) * 8u;
		}
		h.ipv6 = true;
	} else {
		return false;
	}
	h.l3_len = static_cast<uint16_t>(off - h.l2_len);
	h.l4_proto = proto;
	if (proto == IPPROTO_TCP) {
		if (peek < off + 20)
			return false;
		h.l4_len = static_cast<uint16_t>((p[off + 12] >> 4) * 4);
		if (h.l4_len < 20)
			return false;
	} else if (proto == IPPROTO_UDP) {
		h.l4_len = 8;
	} else {
		return false;
	}
	return off + h.l4_len <= m->pkt_len;
}

bool headers_writable(const rte_mbuf *m, const NetHeaders &h) noexcept
{
	return RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 &&
	       m->data_len >= h.l2_len + h.l3_len + h.l4_len;
}

void complete_blank_csum(rte_mbuf *m, const NetHeaders &h) noexcept
{
	uint16_t raw = 0;
	rte_raw_cksum_mbuf(m, h.l2_len + h.l3_len, l4_length(m, h), &raw);
	uint16_t csum = static_cast<uint16_t>(~raw);
	if (csum == 0 && h.l4_proto == IPPROTO_UDP)
		csum = 0xffff;
	store_csum(m, h, csum);
}

void write_full_csum(rte_mbuf *m, const NetHeaders &h) noexcept
{
	store_csum(m, h, 0);
	uint16_t raw = 0;
	rte_raw_cksum_mbuf(m, h.l2_len + h.l3_len, l4_length(m, h), &raw);
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, h.l2_len);
	uint16_t csum = static_cast<uint16_t>(
		~fold_csum(raw + pseudo_header_sum(l3, h.ipv6, h.l4_proto, l4_length(m, h))));
	if (csum == 0 && h.l4_proto == IPPROTO_UDP)
		csum = 0xffff;
	store_csum(m, h, csum);
}

void write_ipv4_header_csum(rte_mbuf *m, const NetHeaders &h) noexcept
{
	auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, h.l2_len);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

void write_blank_csum(rte_mbuf *m, const NetHeaders &h, bool whole_length) noexcept
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, h.l2_len);
	if (whole_length) {
		if (h.ipv6) {
			reinterpret_cast<rte_ipv6_hdr *>(l3)->payload_len =
				rte_cpu_to_be_16(static_cast<uint16_t>(m->pkt_len - h.l2_len -
								       sizeof(rte_ipv6_hdr)));
		} else {
			reinterpret_cast<rte_ipv4_hdr *>(l3)->total_length =
				rte_cpu_to_be_16(static_cast<uint16_t>(m->pkt_len - h.l2_len));
			write_ipv4_header_csum(m, h);
		}
	}
	store_csum(m, h, fold_csum(pseudo_header_sum(l3, h.ipv6, h.l4_proto, l4_length(m, h))));
}

uint32_t flow_hash(const rte_mbuf *m, uint32_t seed) noexcept
{
	/* Ethernet, a VLAN tag, the longest IPv4 header and the ports. */
	constexpr uint32_t peek_max = 18 + 60 + 4;
	uint8_t tmp[peek_max];
	const uint32_t peek = RTE_MIN(m->pkt_len, peek_max);
	const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, peek, tmp));
	if (p == nullptr || peek < 14)
		return rte_jhash_1word(0, seed);
	uint32_t l3 = 14;
	uint16_t eth = static_cast<uint16_t>(p[12] << 8 | p[13]);
	if ((eth == RTE_ETHER_TYPE_VLAN || eth == RTE_ETHER_TYPE_QINQ) && peek >= 18) {
		eth = static_cast<uint16_t>(p[16] << 8 | p[17]);
		l3 = 18;
	}
	/* Keys: addresses, then protocol, then ports (zero when absent). */
	uint32_t keys[4 + 4 + 2] = {};
	uint32_t nb_addr_words = 0;
	uint8_t proto = 0;
	uint32_t l4 = 0;
	if (eth == RTE_ETHER_TYPE_IPV4 && peek >= l3 + 20) {
		std::memcpy(keys, p + l3 + 12, 8);
		nb_addr_words = 2;
		proto = p[l3 + 9];
		const bool fragment = (p[l3 + 6] & 0x3f) || p[l3 + 7]; /* MF or an offset */
		if (!fragment)
			l4 = l3 + (p[l3] & 15u) * 4u;
	} else if (eth == RTE_ETHER_TYPE_IPV6 && peek >= l3 + 40) {
		std::memcpy(keys, p + l3 + 8, 32);
		nb_addr_words = 8;
		proto = p[l3 + 6];
		l4 = l3 + 40;
	} else {
		return rte_jhash_1word(eth, seed);
	}
	keys[nb_addr_words] = proto;
	const bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
			   proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP;
	if (ports && l4 != 0 && peek >= l4 + 4)
		std::memcpy(&keys[nb_addr_words + 1], p + l4, 4);
	return rte_jhash_32b(keys, nb_addr_words + 2, seed);
}

} // namespace xen
