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
 * xenvif_rx_ring_slots_available does. */

#include "xenback.h"

#include <rte_branch_prediction.h>

extern "C" {
#include <xenevtchn.h>
}

#include "xenback_logs.h"

namespace xenback
{
namespace
{

constexpr unsigned max_batch = 64;

struct Sent {
	RING_IDX first;
	uint16_t nb_slots;
	uint16_t first_seg;
	uint16_t nb_segs;
	uint32_t len;
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

/* Segments copying `m` into the buffers of slots first..first+nb_slots-1. */
void plan_copy(TxQueue &q, const rte_mbuf *m, RING_IDX first, unsigned &nb_segs) noexcept
{
	const rte_mbuf *seg = m;
	const uint8_t *src = rte_pktmbuf_mtod(seg, const uint8_t *);
	uint32_t seg_left = seg->data_len;
	uint32_t left = m->pkt_len;
	for (RING_IDX slot = first; left > 0; slot++) {
		netif_rx_request req = q.ring.copy_request(slot);
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

	Sent sent[max_batch];
	rte_mbuf *done[max_batch];
	unsigned nb_sent = 0;
	unsigned nb_done = 0;
	unsigned nb_segs = 0;
	uint16_t nb_tx = 0;
	unsigned arm_for = 0; /* slots to wait for, in interrupt style */
	uint16_t limit = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	while (nb_tx < limit) {
		rte_mbuf *m = pkts[nb_tx];
		uint32_t len = m->pkt_len;
		unsigned need = (len + xen::page_size - 1) / xen::page_size;
		/* More than one slot needs the frontend's feature-sg; netif's
		 * sizes are 16 bits. */
		if (unlikely(len == 0 || len > xen::max_packet_size || (need > 1 && !q.guest_sg))) {
			q.stats.dropped++;
			done[nb_done++] = m;
			nb_tx++;
			continue;
		}
		if (need > prod - cons || nb_segs + need + m->nb_segs > max_copy_segs) {
			q.stats.ring_full++;
			arm_for = need;
			break;
		}
		Sent &s = sent[nb_sent++];
		s = Sent{cons, static_cast<uint16_t>(need), static_cast<uint16_t>(nb_segs), 0, len};
		plan_copy(q, m, cons, nb_segs);
		s.nb_segs = static_cast<uint16_t>(nb_segs - s.first_seg);
		cons += need;
		done[nb_done++] = m;
		nb_tx++;
	}
	if (nb_sent > 0) {
		if (nb_segs > 0 && xengnttab_grant_copy(q.gnttab, nb_segs, q.segs) != 0)
			for (unsigned k = 0; k < nb_segs; k++)
				q.segs[k].status = GNTST_general_error;
		uint64_t bytes = 0;
		unsigned packets = 0;
		RING_IDX rsp_first = q.ring.rsp_prod_pvt();
		for (unsigned k = 0; k < nb_sent; k++) {
			const Sent &s = sent[k];
			bool ok = true;
			for (unsigned g = s.first_seg; g < s.first_seg + s.nb_segs; g++)
				if (unlikely(q.segs[g].status != GNTST_okay)) {
					ok = false;
					q.stats.copy_errors++;
				}
			uint32_t left = s.len;
			for (unsigned slot = 0; slot < s.nb_slots; slot++) {
				netif_rx_request req = q.ring.copy_request(s.first + slot);
				uint32_t chunk =
					RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
				left -= chunk;
				netif_rx_response *rsp = q.ring.next_response();
				rsp->id = req.id;
				rsp->offset = 0;
				rsp->flags = ok && left > 0 ? NETRXF_more_data : 0;
				rsp->status = ok ? static_cast<int16_t>(chunk) : NETIF_RSP_ERROR;
			}
			if (ok) {
				packets++;
				bytes += s.len;
			}
		}
		q.ring.set_req_cons(cons);
		if (unlikely(q.hostile.behaviour != HostileBehaviour::none))
			hostile_guest_rx(q, rsp_first);
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
