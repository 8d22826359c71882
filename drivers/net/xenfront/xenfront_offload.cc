/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront_offload.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include "net_headers.h"
#include "xen_protocol.h"

namespace xenfront
{
namespace
{

constexpr uint16_t tcp_csum_offset = 16; /* within the TCP header */
constexpr uint16_t udp_csum_offset = 6;
constexpr uint8_t ipv6_hop_by_hop = 0;
constexpr uint8_t ipv6_dest_options = 60;

/* The L4 protocol after the IPv6 extension headers netback can parse
 * (hop-by-hop and destination options); false for any other extension
 * header (routing, fragment, ...), whose L4 checksum cannot be offloaded
 * nor computed without reassembly or the final destination. */
bool ipv6_l4_proto(const uint8_t *hdrs, uint32_t l3_len, uint8_t &proto, bool &extensions)
{
	const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(hdrs);
	uint8_t next = ip->proto;
	uint32_t off = sizeof(rte_ipv6_hdr);
	extensions = false;
	while (next == ipv6_hop_by_hop || next == ipv6_dest_options) {
		if (off + 8 > l3_len)
			return false;
		extensions = true;
		uint32_t len = (hdrs[off + 1] + 1u) * 8u;
		next = hdrs[off];
		off += len;
	}
	if (off != l3_len)
		return false;
	proto = next;
	return true;
}

} // namespace

int plan_tx_offload(const rte_mbuf *m, const TxOffloadCaps &caps, TxOffloadPlan &plan) noexcept
{
	plan = TxOffloadPlan{};
	const uint64_t ol = m->ol_flags;
	if ((ol & RTE_MBUF_F_TX_OFFLOAD_MASK) & ~tx_offload_flags)
		return -ENOTSUP; /* VLAN insertion, tunnels, SCTP, UDP segmentation, ... */
	const uint64_t l4req = ol & RTE_MBUF_F_TX_L4_MASK;
	const bool tso = ol & RTE_MBUF_F_TX_TCP_SEG;
	if (!(ol & RTE_MBUF_F_TX_IP_CKSUM) && l4req == 0 && !tso)
		return 0;
	if (l4req == RTE_MBUF_F_TX_SCTP_CKSUM)
		return -ENOTSUP;
	const bool v4 = ol & RTE_MBUF_F_TX_IPV4;
	const bool v6 = ol & RTE_MBUF_F_TX_IPV6;
	if (v4 == v6 || ((ol & RTE_MBUF_F_TX_IP_CKSUM) && !v4))
		return -EINVAL;

	/* Headers, within the first slot of our copy (half a page, or a page:
	 * TxQueue::slot_size). */
	const uint32_t l2 = m->l2_len, l3 = m->l3_len, l4 = m->l4_len;
	const uint32_t hdr_len = l2 + l3 + (tso ? l4 : 0);
	if (l2 < RTE_ETHER_HDR_LEN || l3 < (v4 ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr)) ||
	    hdr_len > m->pkt_len || hdr_len > xen::page_size / 2 || (tso && l4 < 20))
		return -EINVAL;
	uint8_t buf[256 + 64];
	uint32_t peek = RTE_MIN(l2 + l3, static_cast<uint32_t>(sizeof(buf)));
	const uint8_t *h = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, peek, buf));
	if (h == nullptr || l2 + l3 > sizeof(buf))
		return -EINVAL;
	uint16_t outer_type = static_cast<uint16_t>(h[12] << 8 | h[13]);
	const bool vlan = outer_type == RTE_ETHER_TYPE_VLAN || outer_type == RTE_ETHER_TYPE_QINQ;
	const uint8_t *ip = h + l2;
	uint8_t proto;
	bool extensions = false;
	if (v4) {
		const auto *ip4 = reinterpret_cast<const rte_ipv4_hdr *>(ip);
		if ((ip4->version_ihl >> 4) != 4 || rte_ipv4_hdr_len(ip4) != l3)
			return -EINVAL;
		proto = ip4->next_proto_id;
		/* A fragment's L4 checksum covers the reassembled datagram. */
		if ((l4req || tso) &&
		    (ip4->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
			return -ENOTSUP;
	} else {
		if ((ip[0] >> 4) != 6)
			return -EINVAL;
		if (!ipv6_l4_proto(ip, l3, proto, extensions))
			return -ENOTSUP;
	}
	plan.ipv6 = v6;
	plan.l3_off = static_cast<uint16_t>(l2);
	plan.l4_off = static_cast<uint16_t>(l2 + l3);
	plan.ipv4_header_csum = ol & RTE_MBUF_F_TX_IP_CKSUM;

	if (tso) {
		if (proto != IPPROTO_TCP || m->tso_segsz == 0 ||
		    (l4req && l4req != RTE_MBUF_F_TX_TCP_CKSUM))
			return -EINVAL;
		/* Netback segments only untagged TCP over IPv4/IPv6 it can parse. */
		if (!(v4 ? caps.gso_tcpv4 : caps.gso_tcpv6) || vlan || extensions)
			return -ENOTSUP;
		plan.gso_type = v4 ? XEN_NETIF_GSO_TYPE_TCPV4 : XEN_NETIF_GSO_TYPE_TCPV6;
		plan.gso_size = m->tso_segsz;
		plan.set_ip_length = true;
		plan.ipv4_header_csum = v4;
		plan.l4 = L4Csum::blank;
		plan.l4_proto = IPPROTO_TCP;
	} else if (l4req) {
		uint8_t want = l4req == RTE_MBUF_F_TX_TCP_CKSUM ? IPPROTO_TCP : IPPROTO_UDP;
		if (proto != want)
			return -EINVAL;
		uint32_t min_l4 = want == IPPROTO_TCP ? 20 : 8;
		if (m->pkt_len < l2 + l3 + min_l4)
			return -EINVAL;
		plan.l4_proto = want;
		bool backend_can = (v4 ? caps.ipv4_csum : caps.ipv6_csum) && !vlan && !extensions;
		plan.l4 = backend_can ? L4Csum::blank : L4Csum::full;
	}
	if (plan.l4 == L4Csum::blank)
		/* As Linux netfront does for CHECKSUM_PARTIAL. */
		plan.netif_flags = NETTXF_csum_blank | NETTXF_data_validated;
	return 0;
}

void apply_tx_offload(uint8_t *frame, const rte_mbuf *m, const TxOffloadPlan &plan) noexcept
{
	uint8_t *l3 = frame + plan.l3_off;
	const uint32_t l4_len = m->pkt_len - plan.l4_off;
	if (plan.set_ip_length) {
		if (plan.ipv6)
			reinterpret_cast<rte_ipv6_hdr *>(l3)->payload_len =
				rte_cpu_to_be_16(static_cast<uint16_t>(m->pkt_len - plan.l3_off -
								       sizeof(rte_ipv6_hdr)));
		else
			reinterpret_cast<rte_ipv4_hdr *>(l3)->total_length =
				rte_cpu_to_be_16(static_cast<uint16_t>(m->pkt_len - plan.l3_off));
	}
	if (plan.ipv4_header_csum) {
		auto *ip = reinterpret_cast<rte_ipv4_hdr *>(l3);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (plan.l4 == L4Csum::none)
		return;
	uint16_t field_off =
		plan.l4_off + (plan.l4_proto == IPPROTO_TCP ? tcp_csum_offset : udp_csum_offset);
	uint32_t pseudo = xen::pseudo_header_sum(l3, plan.ipv6, plan.l4_proto, l4_len);
	uint16_t csum;
	if (plan.l4 == L4Csum::blank) {
		csum = xen::fold_csum(pseudo);
	} else {
		/* Sum of the L4 bytes as the application left them, less the
		 * checksum field's content, plus the pseudo-header. */
		uint16_t raw = 0;
		rte_raw_cksum_mbuf(m, plan.l4_off, l4_len, &raw);
		uint16_t field;
		std::memcpy(&field, frame + field_off, sizeof(field));
		uint32_t sum = raw + static_cast<uint16_t>(~field) + pseudo;
		csum = static_cast<uint16_t>(~xen::fold_csum(sum));
		if (csum == 0 && plan.l4_proto == IPPROTO_UDP)
			csum = 0xffff; /* 0 means "no checksum" for UDP (RFC 768) */
	}
	std::memcpy(frame + field_off, &csum, sizeof(csum));
}

} // namespace xenfront
