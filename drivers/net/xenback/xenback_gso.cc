/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenback_gso.h"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

namespace xenback
{
namespace
{

/* Appends `len` bytes of `m` from `off` to the chain ending at `*tail`,
 * allocating more mbufs as they fill; false if the pool ran dry. */
bool append(const rte_mbuf *m, uint32_t off, uint32_t len, rte_mbuf *head, rte_mbuf **tail,
	    rte_mempool *mp)
{
	while (len > 0) {
		rte_mbuf *t = *tail;
		uint16_t room = rte_pktmbuf_tailroom(t);
		if (room == 0) {
			rte_mbuf *next = rte_pktmbuf_alloc(mp);
			if (next == nullptr)
				return false;
			t->next = next;
			head->nb_segs++;
			*tail = next;
			continue;
		}
		uint32_t n = RTE_MIN(len, static_cast<uint32_t>(room));
		uint8_t *dst = rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len);
		const void *src = rte_pktmbuf_read(m, off, n, dst);
		if (src != dst)
			std::memcpy(dst, src, n);
		t->data_len = static_cast<uint16_t>(t->data_len + n);
		head->pkt_len += n;
		off += n;
		len -= n;
	}
	return true;
}

} // namespace

int segment_tcp(const rte_mbuf *m, const xen::NetHeaders &h, uint16_t mss, rte_mempool *mp,
		rte_mbuf **out, unsigned max) noexcept
{
	const uint32_t hdr = h.l2_len + h.l3_len + h.l4_len;
	if (h.l4_proto != IPPROTO_TCP || mss == 0 || m->pkt_len <= hdr)
		return -1;
	const uint32_t payload = m->pkt_len - hdr;
	const unsigned count = (payload + mss - 1) / mss;
	if (count > max)
		return -1;
	uint8_t first[256];
	if (hdr > sizeof(first))
		return -1;
	const auto *orig = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, hdr, first));
	const auto *ip4 = reinterpret_cast<const rte_ipv4_hdr *>(orig + h.l2_len);
	const auto *tcp = reinterpret_cast<const rte_tcp_hdr *>(orig + h.l2_len + h.l3_len);
	const uint32_t seq0 = rte_be_to_cpu_32(tcp->sent_seq);
	const uint16_t id0 = h.ipv6 ? 0 : rte_be_to_cpu_16(ip4->packet_id);

	for (unsigned k = 0; k < count; k++) {
		uint32_t off = hdr + k * mss;
		uint32_t len = RTE_MIN(static_cast<uint32_t>(mss), m->pkt_len - off);
		rte_mbuf *seg = rte_pktmbuf_alloc(mp);
		rte_mbuf *tail = seg;
		if (seg == nullptr || !append(m, 0, hdr, seg, &tail, mp) ||
		    !append(m, off, len, seg, &tail, mp) || seg->data_len < hdr) {
			rte_pktmbuf_free(seg);
			for (unsigned j = 0; j < k; j++)
				rte_pktmbuf_free(out[j]);
			return -1;
		}
		uint8_t *l3 = rte_pktmbuf_mtod_offset(seg, uint8_t *, h.l2_len);
		auto *t = reinterpret_cast<rte_tcp_hdr *>(l3 + h.l3_len);
		t->sent_seq = rte_cpu_to_be_32(seq0 + k * mss);
		if (k + 1 < count)
			t->tcp_flags &=
				static_cast<uint8_t>(~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG));
		if (k > 0)
			t->tcp_flags &= static_cast<uint8_t>(~RTE_TCP_CWR_FLAG);
		if (h.ipv6) {
			reinterpret_cast<rte_ipv6_hdr *>(l3)->payload_len =
				rte_cpu_to_be_16(static_cast<uint16_t>(
					h.l3_len - sizeof(rte_ipv6_hdr) + h.l4_len + len));
		} else {
			auto *ip = reinterpret_cast<rte_ipv4_hdr *>(l3);
			ip->total_length =
				rte_cpu_to_be_16(static_cast<uint16_t>(h.l3_len + h.l4_len + len));
			ip->packet_id = rte_cpu_to_be_16(static_cast<uint16_t>(id0 + k));
			xen::write_ipv4_header_csum(seg, h);
		}
		xen::write_full_csum(seg, h);
		seg->port = m->port;
		out[k] = seg;
	}
	return static_cast<int>(count);
}

} // namespace xenback
