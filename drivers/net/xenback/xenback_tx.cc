/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Port transmit → guest receive, as Linux netback's guest-RX path: each
 * packet is copied (grant copy) into the whole-page buffers the frontend
 * posted, filling each page from offset 0 before the next, so a packet takes
 * the fewest slots and its head slot is never empty ("xen-netback: linearise
 * SKBs as we copy them into guest memory on guest-RX"). Every slot gets a
 * response in its request's position with the request's id, the bytes it
 * holds and NETRXF_more_data on all but the last. When the frontend has not
 * posted enough buffers the burst stops there; in interrupt style it asks
 * (req_event) to be kicked once enough are posted, as
 * xenvif_rx_ring_slots_available does.
 *
 * Transmit offloads the application asks for become what the guest said it
 * accepts (feature-no-csum-offload, feature-ipv6-csum-offload,
 * feature-gso-tcpv4/6): a blank checksum with NETRXF_csum_blank and a GSO
 * extra slot after the first response (xenvif_rx_extra_slot), or else a
 * checksum computed here and a packet segmented here. */

#include "xenback.h"

#include <cstring>
#include <netinet/in.h>

#include <rte_branch_prediction.h>

extern "C" {
#include <xenevtchn.h>
}

#include "net_headers.h"
#include "xenback_gso.h"
#include "xenback_logs.h"
#include "xenback_rsc.h"

namespace xenback
{
namespace
{

constexpr unsigned max_batch = 64;
/* Segments of one TSO mbuf segmented here: 64 KiB at the smallest MSS a
 * DPDK application would ask for, 1 KiB. */
constexpr unsigned max_soft_segments = 64;

constexpr uint64_t handled_offloads = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 |
				      RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM |
				      RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;

struct Sent {
	RING_IDX first;   /* first request slot */
	uint16_t nb_data; /* data slots */
	bool extra;       /* a GSO extra slot follows the first */
	uint8_t gso_type;
	uint16_t gso_size;
	uint16_t rsp_flags; /* NETRXF_csum_blank | NETRXF_data_validated */
	uint16_t first_seg;
	uint16_t nb_segs;
	uint32_t len;
};

/* What a packet needs before it is copied, once its offloads are done. */
struct Prepared {
	uint8_t gso_type = XEN_NETIF_GSO_TYPE_NONE;
	uint16_t gso_size = 0;
	uint16_t rsp_flags = 0;
	bool segment = false; /* TSO the guest cannot take: segment here */
};

void fatal(TxQueue &q, const char *why, unsigned value) noexcept
{
	q.stats.fatal_errors++;
	if (!q.broken)
		XB_DRV_LOG(ERR, "xenback",
			   "port %u tx queue %u: frontend %u: %s (%u); queue stopped", q.port_id,
			   q.queue_id, q.guest, why, value);
	q.broken = true;
}

/* The request slot that carries data slot `k` of packet `s`. */
RING_IDX data_slot(const Sent &s, unsigned k)
{
	return s.first + k + (k > 0 && s.extra);
}

/* Segments copying `m` into the buffers of its data slots. */
void plan_copy(TxQueue &q, const rte_mbuf *m, const Sent &s, unsigned &nb_segs) noexcept
{
	const rte_mbuf *seg = m;
	const uint8_t *src = rte_pktmbuf_mtod(seg, const uint8_t *);
	uint32_t seg_left = seg->data_len;
	uint32_t left = m->pkt_len;
	for (unsigned k = 0; left > 0; k++) {
		netif_rx_request req = q.ring.copy_request(data_slot(s, k));
		uint32_t offset = 0;
		uint32_t chunk = RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
		while (offset < chunk) {
			while (seg_left == 0) {
				seg = seg->next;
				src = rte_pktmbuf_mtod(seg, const uint8_t *);
				seg_left = seg->data_len;
			}
			uint32_t n = RTE_MIN(chunk - offset, seg_left);
			xengnttab_grant_copy_segment_t &g = q.segs[nb_segs++];
			g.source.virt = const_cast<uint8_t *>(src);
			g.dest.foreign.ref = req.gref;
			g.dest.foreign.offset = static_cast<uint16_t>(offset);
			g.dest.foreign.domid = q.guest;
			g.len = static_cast<uint16_t>(n);
			g.flags = GNTCOPY_dest_gref;
			g.status = GNTST_okay;
			src += n;
			seg_left -= n;
			offset += n;
		}
		left -= chunk;
	}
}

/* Does the offloads `m` asks for in its headers (`m` is writable) and says
 * what the guest is told; false if they cannot be done. */
bool prepare_offloads(TxQueue &q, rte_mbuf *m, const xen::NetHeaders &h, Prepared &p) noexcept
{
	const uint64_t ol = m->ol_flags;
	if ((ol & RTE_MBUF_F_TX_IP_CKSUM) && !h.ipv6)
		xen::write_ipv4_header_csum(m, h);
	if (ol & RTE_MBUF_F_TX_TCP_SEG) {
		if (h.l4_proto != IPPROTO_TCP || m->tso_segsz == 0)
			return false;
		/* Linux netfront parses only untagged IP for a GSO packet. */
		if ((h.ipv6 ? q.guest_gso_v6 : q.guest_gso_v4) && !h.vlan) {
			xen::write_blank_csum(m, h, true);
			p.gso_type = h.ipv6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;
			p.gso_size = m->tso_segsz;
			p.rsp_flags = NETRXF_csum_blank | NETRXF_data_validated;
		} else {
			p.segment = true;
		}
		return true;
	}
	if (ol & RTE_MBUF_F_TX_L4_MASK) {
		uint8_t want = (ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM
				       ? IPPROTO_TCP
				       : IPPROTO_UDP;
		if (h.l4_proto != want || h.fragment)
			return false;
		if ((h.ipv6 ? q.guest_csum_v6 : q.guest_csum_v4) && !h.vlan) {
			xen::write_blank_csum(m, h, false);
			p.rsp_flags = NETRXF_csum_blank | NETRXF_data_validated;
		} else {
			xen::write_full_csum(m, h);
			q.stats.csum_computed++;
		}
	}
	return true;
}

} // namespace

extern "C" uint16_t xenback_tx_burst(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	TxQueue &q = *static_cast<TxQueue *>(queue);
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	RING_IDX prod = q.ring.req_prod();
	if (unlikely(q.ring.req_prod_overflow(prod))) {
		fatal(q, "rx request producer index ran past the ring", prod);
		return 0;
	}
	RING_IDX cons = q.ring.req_cons();

	/* Packets to send: the application's, or segments made here. */
	Sent sent[max_batch + 2 * max_soft_segments];
	rte_mbuf *done[2 * max_batch + 2 * max_soft_segments];
	unsigned nb_sent = 0;
	unsigned nb_done = 0;
	unsigned nb_segs = 0;
	uint16_t nb_tx = 0;
	unsigned arm_for = 0; /* slots to wait for, in interrupt style */
	uint16_t limit = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	while (nb_tx < limit) {
		/* `orig` is the application's; `m`, what we send, may be a
		 * private copy whose headers we may change; `parts`, segments of
		 * it made here. Whatever is consumed goes to done[]; what is
		 * not (a full ring, no mbufs) is left to the application as it
		 * came, and our own copies of it are freed. */
		if (nb_done + 2 > RTE_DIM(done) || nb_sent == RTE_DIM(sent))
			break;
		/* Receive segment coalescing: a run of segments merged into its
		 * first, if the ring takes the result; the others ride in its
		 * chain. */
		unsigned merged = 1;
		if (q.rsc && q.guest_sg && !(pkts[nb_tx]->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK)) {
			uint32_t len;
			unsigned run = rsc_run_length(pkts + nb_tx, limit - nb_tx, q.guest_gso_v4,
						      q.guest_gso_v6, len, q.stats.rsc);
			/* Once merged there is no going back: check now that the
			 * ring and the copy budget take the result. */
			unsigned slots = (len + xen::page_size - 1) / xen::page_size + 1;
			unsigned copies = slots;
			for (unsigned k = 0; k < run; k++)
				copies += pkts[nb_tx + k]->nb_segs;
			if (run > 1 && slots <= prod - cons && nb_segs + copies <= max_copy_segs &&
			    nb_done + 2 <= RTE_DIM(done) &&
			    rsc_merge(pkts + nb_tx, run, q.stats.rsc))
				merged = run;
		}
		rte_mbuf *orig = pkts[nb_tx];
		rte_mbuf *m = orig;
		Prepared prep;
		rte_mbuf *parts[max_soft_segments];
		unsigned nb_parts = 1;
		bool segmented = false;
		bool refused = false;
		bool retry_later = false;
		if (orig->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) {
			xen::NetHeaders h;
			refused =
				(orig->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK & ~handled_offloads) ||
				!xen::parse_net_headers(orig, h);
			if (!refused && !xen::headers_writable(orig, h)) {
				m = rte_pktmbuf_copy(orig, orig->pool, 0, UINT32_MAX);
				if (m == nullptr)
					break;
			}
			refused = refused || !prepare_offloads(q, m, h, prep);
			if (!refused && prep.segment) {
				uint32_t hdr = h.l2_len + h.l3_len + h.l4_len;
				unsigned count = m->pkt_len > hdr
							 ? (m->pkt_len - hdr + m->tso_segsz - 1) /
								   m->tso_segsz
							 : 0;
				if (count == 0 || count > max_soft_segments) {
					refused = true;
				} else if (count > RTE_DIM(sent) - nb_sent ||
					   nb_done + count + 2 > RTE_DIM(done)) {
					retry_later = true; /* next burst */
				} else {
					int n = segment_tcp(m, h, m->tso_segsz, m->pool, parts,
							    count);
					retry_later = n < 0; /* out of mbufs */
					nb_parts = n < 0 ? 0 : static_cast<unsigned>(n);
					segmented = n > 0;
				}
			}
		}
		if (retry_later) {
			if (m != orig)
				rte_pktmbuf_free(m);
			break;
		}
		if (!segmented)
			parts[0] = m;
		/* Room for every part, or none of them is sent. A part's copy
		 * takes at most one segment per slot plus one per mbuf segment. */
		unsigned need = 0;
		unsigned copies = 0;
		bool fits = !refused;
		for (unsigned k = 0; fits && k < nb_parts; k++) {
			uint32_t len = parts[k]->pkt_len;
			unsigned slots = (len + xen::page_size - 1) / xen::page_size;
			need += slots + (prep.gso_type != XEN_NETIF_GSO_TYPE_NONE);
			copies += slots + parts[k]->nb_segs;
			fits = len > 0 && len <= xen::max_packet_size && (slots == 1 || q.guest_sg);
		}
		if (fits && (need > prod - cons || nb_segs + copies > max_copy_segs)) {
			q.stats.ring_full++;
			arm_for = need;
			if (segmented)
				rte_pktmbuf_free_bulk(parts, nb_parts);
			if (m != orig)
				rte_pktmbuf_free(m);
			break;
		}
		if (fits) {
			for (unsigned k = 0; k < nb_parts; k++) {
				rte_mbuf *part = parts[k];
				Sent &s = sent[nb_sent++];
				bool gso = prep.gso_type != XEN_NETIF_GSO_TYPE_NONE;
				unsigned data =
					(part->pkt_len + xen::page_size - 1) / xen::page_size;
				s = Sent{cons,
					 static_cast<uint16_t>(data),
					 gso,
					 prep.gso_type,
					 prep.gso_size,
					 segmented ? uint16_t(0) : prep.rsp_flags,
					 static_cast<uint16_t>(nb_segs),
					 0,
					 part->pkt_len};
				plan_copy(q, part, s, nb_segs);
				s.nb_segs = static_cast<uint16_t>(nb_segs - s.first_seg);
				cons += data + gso;
			}
			q.stats.gso_packets += prep.gso_type != XEN_NETIF_GSO_TYPE_NONE;
			q.stats.segmented += segmented ? nb_parts : 0;
		} else if (refused) {
			q.stats.offload_refused++;
		} else {
			q.stats.dropped++;
		}
		/* Freed once the grant copy has read them. */
		if (segmented)
			for (unsigned k = 0; k < nb_parts; k++)
				done[nb_done++] = parts[k];
		if (m != orig)
			done[nb_done++] = m;
		done[nb_done++] = orig;
		nb_tx = static_cast<uint16_t>(nb_tx + merged);
	}
	if (nb_sent > 0) {
		if (nb_segs > 0 && xengnttab_grant_copy(q.gnttab, nb_segs, q.segs) != 0)
			for (unsigned k = 0; k < nb_segs; k++)
				q.segs[k].status = GNTST_general_error;
		uint64_t bytes = 0;
		unsigned packets = 0;
		for (unsigned k = 0; k < nb_sent; k++) {
			const Sent &s = sent[k];
			bool ok = true;
			for (unsigned g = s.first_seg; g < s.first_seg + s.nb_segs; g++)
				if (unlikely(q.segs[g].status != GNTST_okay)) {
					ok = false;
					q.stats.copy_errors++;
				}
			uint32_t left = s.len;
			for (unsigned d = 0; d < s.nb_data; d++) {
				RING_IDX slot = data_slot(s, d);
				netif_rx_request req = q.ring.copy_request(slot);
				uint32_t chunk =
					RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
				left -= chunk;
				netif_rx_response *rsp = q.ring.next_response();
				rsp->id = req.id;
				rsp->offset = 0;
				uint16_t flags = ok && left > 0 ? NETRXF_more_data : 0;
				if (d == 0 && ok)
					flags |= s.rsp_flags | (s.extra ? NETRXF_extra_info : 0);
				rsp->flags = flags;
				rsp->status = ok ? static_cast<int16_t>(chunk) : NETIF_RSP_ERROR;
				if (d == 0 && s.extra && ok) {
					/* The extra overlays the next response, in the slot
					 * of the request it consumed (netif.h "Extra Info"). */
					netif_extra_info extra{};
					extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
					extra.u.gso.size = s.gso_size;
					extra.u.gso.type = s.gso_type;
					std::memcpy(q.ring.next_response(), &extra, sizeof(extra));
				} else if (d == 0 && s.extra) {
					/* Failed: that slot answers as an error of its own. */
					netif_rx_request ereq = q.ring.copy_request(s.first + 1);
					netif_rx_response *ersp = q.ring.next_response();
					ersp->id = ereq.id;
					ersp->offset = 0;
					ersp->flags = 0;
					ersp->status = NETIF_RSP_ERROR;
				}
			}
			if (ok) {
				packets++;
				bytes += s.len;
			}
		}
		q.ring.set_req_cons(cons);
		if (q.ring.push_responses()) {
			xenevtchn_notify(q.notify.handle, q.notify.port);
			q.stats.notifications++;
		}
		q.stats.packets += packets;
		q.stats.bytes += bytes;
	}
	if (arm_for > 0 && q.interrupt_style)
		q.ring.request_event_after(arm_for);
	if (nb_done > 0)
		rte_pktmbuf_free_bulk(done, nb_done);
	return nb_tx;
}

} // namespace xenback
