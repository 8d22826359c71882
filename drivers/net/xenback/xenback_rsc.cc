/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenback_rsc.h"

#include <cstring>
#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "xen_protocol.h"

namespace xenback
{
namespace
{

constexpr uint8_t end_flags = RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_URG_FLAG;

/* A segment as RSC sees it; headers in the first mbuf segment. */
struct Segment {
	xen::NetHeaders h;
	const uint8_t *l3 = nullptr;
	const rte_tcp_hdr *tcp = nullptr;
	uint32_t seq = 0;
	uint32_t payload = 0;
};

bool view(const rte_mbuf *m, Segment &s)
{
	if (!xen::parse_net_headers(m, s.h) || s.h.l4_proto != IPPROTO_TCP || s.h.fragment ||
	    !xen::headers_writable(m, s.h))
		return false;
	if (!s.h.ipv6 && s.h.l3_len != sizeof(rte_ipv4_hdr))
		return false; /* IP options: not merged (as Linux GRO) */
	if (s.h.ipv6 && s.h.l3_len != sizeof(rte_ipv6_hdr))
		return false;
	s.l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, s.h.l2_len);
	s.tcp = reinterpret_cast<const rte_tcp_hdr *>(s.l3 + s.h.l3_len);
	s.seq = rte_be_to_cpu_32(s.tcp->sent_seq);
	s.payload = m->pkt_len - s.h.l2_len - s.h.l3_len - s.h.l4_len;
	return true;
}

/* Same flow and same everything a merge keeps from the first segment. */
bool same_flow_and_headers(const Segment &a, const Segment &b)
{
	if (a.h.ipv6 != b.h.ipv6 || a.h.vlan != b.h.vlan || a.h.l2_len != b.h.l2_len ||
	    a.h.l4_len != b.h.l4_len)
		return false;
	if (a.h.ipv6) {
		const auto *x = reinterpret_cast<const rte_ipv6_hdr *>(a.l3);
		const auto *y = reinterpret_cast<const rte_ipv6_hdr *>(b.l3);
		if (std::memcmp(&x->src_addr, &y->src_addr, 32) != 0 ||
		    x->vtc_flow != y->vtc_flow || x->hop_limits != y->hop_limits)
			return false;
	} else {
		const auto *x = reinterpret_cast<const rte_ipv4_hdr *>(a.l3);
		const auto *y = reinterpret_cast<const rte_ipv4_hdr *>(b.l3);
		if (x->src_addr != y->src_addr || x->dst_addr != y->dst_addr ||
		    x->type_of_service != y->type_of_service ||
		    x->time_to_live != y->time_to_live ||
		    ((x->fragment_offset ^ y->fragment_offset) &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)))
			return false;
	}
	return a.tcp->src_port == b.tcp->src_port && a.tcp->dst_port == b.tcp->dst_port &&
	       a.tcp->recv_ack == b.tcp->recv_ack &&
	       /* options, byte for byte (Linux tcp_gro_receive) */
	       std::memcmp(a.tcp + 1, b.tcp + 1, a.h.l4_len - sizeof(rte_tcp_hdr)) == 0;
}

} // namespace

unsigned rsc_run_length(rte_mbuf *const *pkts, unsigned n, bool v4, bool v6, uint32_t &merged_len,
			RscStats &stats) noexcept
{
	Segment first;
	merged_len = pkts[0]->pkt_len;
	if (!view(pkts[0], first) || !(first.h.ipv6 ? v6 : v4) || first.h.vlan)
		return 1;
	uint8_t flags = first.tcp->tcp_flags;
	if (flags & RTE_TCP_SYN_FLAG) {
		stats.bypass_syn++;
		return 1;
	}
	if (first.payload == 0)
		return 1;
	if (flags & (end_flags | RTE_TCP_PSH_FLAG | RTE_TCP_CWR_FLAG))
		return 1; /* nothing may follow it in a merge */
	uint32_t total = pkts[0]->pkt_len;
	uint32_t next_seq = first.seq + first.payload;
	unsigned segs = pkts[0]->nb_segs;
	unsigned k = 1;
	for (; k < n; k++) {
		if (pkts[k]->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) {
			stats.flush_mismatch++;
			break;
		}
		Segment s;
		if (!view(pkts[k], s) || !same_flow_and_headers(first, s)) {
			stats.flush_mismatch++;
			break;
		}
		uint8_t f = s.tcp->tcp_flags;
		if (f & RTE_TCP_SYN_FLAG) {
			stats.bypass_syn++;
			break;
		}
		if (f & end_flags) {
			stats.flush_fin_rst_urg++;
			break;
		}
		if (s.seq != next_seq || s.payload == 0) {
			stats.flush_out_of_order++;
			break;
		}
		/* Only ACK and PSH, and PSH only on the last one merged. */
		if ((f & ~RTE_TCP_PSH_FLAG) != flags || s.payload > first.payload) {
			stats.flush_mismatch++;
			break;
		}
		if (total + s.payload > xen::max_packet_size ||
		    segs + pkts[k]->nb_segs > RTE_MBUF_MAX_NB_SEGS) {
			stats.flush_size++;
			break;
		}
		total += s.payload;
		merged_len = total;
		segs += pkts[k]->nb_segs;
		next_seq += s.payload;
		if (f & RTE_TCP_PSH_FLAG) {
			k++;
			break;
		}
	}
	return k;
}

bool rsc_merge(rte_mbuf *const *pkts, unsigned count, RscStats &stats) noexcept
{
	rte_mbuf *head = pkts[0];
	Segment first;
	if (count < 2 || !view(head, first))
		return false;
	const uint16_t hdr = first.h.l2_len + first.h.l3_len + first.h.l4_len;
	uint8_t psh = 0;
	for (unsigned k = 1; k < count; k++) {
		rte_mbuf *m = pkts[k];
		psh |= rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr *,
					       first.h.l2_len + first.h.l3_len)
			       ->tcp_flags &
		       RTE_TCP_PSH_FLAG;
		rte_pktmbuf_adj(m, hdr);
		/* Within limits: rsc_run_length checked the segment count. */
		rte_pktmbuf_chain(head, m);
	}
	auto *tcp = rte_pktmbuf_mtod_offset(head, rte_tcp_hdr *, first.h.l2_len + first.h.l3_len);
	tcp->tcp_flags |= psh;
	head->ol_flags =
		RTE_MBUF_F_TX_TCP_SEG |
		(first.h.ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
	head->l2_len = first.h.l2_len;
	head->l3_len = first.h.l3_len;
	head->l4_len = first.h.l4_len;
	head->tso_segsz = static_cast<uint16_t>(first.payload);
	stats.packets++;
	stats.segments += count;
	return true;
}

} // namespace xenback
