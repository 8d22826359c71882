/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Transmit path: mbufs → netif tx requests.
 *
 * Each request id owns one page granted at queue set-up. A packet is copied
 * into the pages of as many free ids as it needs (one per 4 KiB) and its
 * mbufs are freed in bulk at the end of the burst, so no mbuf is held while
 * the backend works and nothing is granted or revoked here. A slot is
 * claimed only when both an id and a ring slot are free, requests are
 * written in ring order and published once per burst, and the backend is
 * notified only when its req_event asks (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
 * Responses are matched by id: Linux netback completes out of order. */

#include "xenfront.h"

#include <cstring>

#include <rte_branch_prediction.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_memcpy.h>

extern "C" {
#include <xenevtchn.h>
}

#include "mbuf_free.h"
#include "xenfront_fanout.h"
#include "xenfront_logs.h"
#include "xenfront_offload.h"

namespace xenfront
{
namespace
{

void mark_broken(TxQueue &q, const char *why, RING_IDX value) noexcept
{
	q.stats.bad_responses++;
	if (!q.broken)
		XF_DRV_LOG(ERR, "xenfront", "port %u tx queue %u: %s (%u); queue stopped",
			   q.port_id, q.queue_id, why, value);
	q.broken = true;
}

/* Takes back the ids the backend has answered.
 *
 * Each request slot gets one response, so a response for an id that is not
 * in flight (never issued, or answered twice) means some request's answer
 * is lost and its id never comes back: as Linux netfront (xennet_tx_buf_gc),
 * the queue stops. The same holds when every slot written has been
 * answered yet ids are still in flight (an id answered NULL). */
void reclaim(TxQueue &q) noexcept
{
	RING_IDX prod = q.ring.rsp_prod();
	RING_IDX cons = q.ring.rsp_cons();
	if (prod == cons)
		return;
	if (unlikely(q.ring.rsp_prod_past_requests(prod))) {
		q.stats.ring_overrun++;
		mark_broken(q, "backend's response producer index is past the requests", prod);
		return;
	}
	for (; cons != prod; cons++) {
		netif_tx_response rsp = q.ring.copy_response(cons);
		/* Extra-info slots are answered with NETIF_RSP_NULL and no id
		 * (Linux netback make_tx_response). */
		if (rsp.status == NETIF_RSP_NULL)
			continue;
		if (unlikely(rsp.id >= q.nb_desc || !q.inflight[rsp.id])) {
			q.stats.bad_id++;
			q.ring.set_rsp_cons(cons + 1);
			mark_broken(q, "backend answered a request id not in flight", rsp.id);
			return;
		}
		if (unlikely(rsp.status != NETIF_RSP_OKAY)) {
			if (rsp.status == NETIF_RSP_ERROR || rsp.status == NETIF_RSP_DROPPED) {
				q.stats.errors++;
			} else {
				q.stats.bad_status++;
				q.stats.bad_responses++;
			}
		}
		q.inflight[rsp.id] = 0;
		q.free_ids[q.nb_free++] = rsp.id;
	}
	q.ring.set_rsp_cons(cons);
	if (unlikely(cons == q.ring.req_prod_pvt() && q.nb_free != q.nb_desc)) {
		q.stats.lost_ids += q.nb_desc - q.nb_free;
		mark_broken(q, "backend answered every request but ids are still in flight",
			    q.nb_desc - q.nb_free);
	}
}

/* Copies `m` into the pages of `nb_slots` free ids, applies its offloads to
 * the copy and writes its requests: the first slot, a GSO extra-info slot if
 * the packet is to be segmented by the backend, then the other slots
 * (netif.h "Guest transmit"). */
void enqueue(TxQueue &q, const rte_mbuf *m, unsigned nb_slots, const TxOffloadPlan *plan) noexcept
{
	const uint32_t total = m->pkt_len;
	const rte_mbuf *seg = m;
	const uint8_t *src = rte_pktmbuf_mtod(seg, const uint8_t *);
	uint32_t seg_left = seg->data_len;
	uint32_t left = total;
	for (unsigned s = 0; s < nb_slots; s++) {
		uint16_t id = q.free_ids[--q.nb_free];
		q.inflight[id] = 1;
		uint8_t *page = q.pages + size_t(id) * xen::page_size;
		uint8_t *dst = page;
		uint32_t chunk = RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
		uint32_t todo = chunk;
		while (todo > 0) {
			while (seg_left == 0) {
				seg = seg->next;
				src = rte_pktmbuf_mtod(seg, const uint8_t *);
				seg_left = seg->data_len;
			}
			uint32_t n = RTE_MIN(todo, seg_left);
			rte_memcpy(dst, src, n);
			dst += n;
			src += n;
			todo -= n;
			seg_left -= n;
		}
		left -= chunk;
		uint16_t flags = left > 0 ? NETTXF_more_data : 0;
		bool gso = false;
		if (s == 0 && plan != nullptr) {
			/* The headers are in the first page (checked by the plan). */
			apply_tx_offload(page, m, *plan);
			flags |= plan->netif_flags;
			gso = plan->gso_type != XEN_NETIF_GSO_TYPE_NONE;
			if (gso)
				flags |= NETTXF_extra_info;
		}
		netif_tx_request *req = q.ring.next_request();
		req->gref = q.grefs[id];
		req->offset = 0;
		req->flags = flags;
		req->id = id;
		/* netif.h: the first slot carries the whole packet's size. */
		req->size = static_cast<uint16_t>(s == 0 ? total : chunk);
		if (gso) {
			netif_extra_info extra{};
			extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
			extra.u.gso.size = plan->gso_size;
			extra.u.gso.type = plan->gso_type;
			static_assert(sizeof(extra) <= sizeof(netif_tx_request));
			std::memcpy(q.ring.next_request(), &extra, sizeof(extra));
		}
	}
}

/* The common packet: its data in one mbuf, at most a page, no offload. It
 * takes one free id and one ring slot (the caller checked both), one copy
 * into that id's granted page and one request. */
inline void enqueue_single(TxQueue &q, const rte_mbuf *m, uint16_t len) noexcept
{
	const uint16_t id = q.free_ids[--q.nb_free];
	q.inflight[id] = 1;
	rte_memcpy(q.pages + size_t(id) * xen::page_size, rte_pktmbuf_mtod(m, const uint8_t *),
		   len);
	netif_tx_request *req = q.ring.next_request();
	req->gref = q.grefs[id];
	req->offset = 0;
	req->flags = 0;
	req->id = id;
	req->size = len;
}

} // namespace

void tx_queue_reset(TxQueue &q) noexcept
{
	q.nb_free = 0;
	for (uint16_t id = 0; id < q.nb_desc; id++) {
		q.inflight[id] = 0;
		q.free_ids[q.nb_free++] = static_cast<uint16_t>(q.nb_desc - 1 - id);
	}
	q.broken = false;
}

uint16_t ring_tx_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	reclaim(q);
	if (unlikely(q.broken))
		return 0;

	uint16_t nb_tx = 0;
	uint64_t bytes = 0;
	unsigned packets = 0;
	bool reclaimed_again = false;
	/* Fast path: single-slot packets without offload while ids and ring
	 * slots last; the first other packet, or the end of either budget,
	 * goes to the general loop, which counts and reclaims as it must. */
	const uint32_t fast_max = RTE_MIN(q.max_frame, static_cast<uint32_t>(xen::page_size));
	unsigned budget = RTE_MIN(static_cast<unsigned>(q.nb_free), q.ring.free_requests());
	budget = RTE_MIN(budget, static_cast<unsigned>(nb_pkts));
	while (nb_tx < budget) {
		const rte_mbuf *m = pkts[nb_tx];
		const uint32_t len = m->pkt_len;
		if (unlikely((m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) || m->data_len != len ||
			     len < RTE_ETHER_HDR_LEN || len > fast_max))
			break;
		enqueue_single(q, m, static_cast<uint16_t>(len));
		bytes += len;
		nb_tx++;
	}
	packets = nb_tx;
	while (nb_tx < nb_pkts) {
		rte_mbuf *m = pkts[nb_tx];
		uint32_t len = m->pkt_len;
		unsigned nb_slots = (len + xen::page_size - 1) / xen::page_size;
		TxOffloadPlan plan;
		const TxOffloadPlan *offload = nullptr;
		bool ok = true;
		if (m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) {
			ok = plan_tx_offload(m, q.caps, plan) == 0;
			offload = &plan;
		}
		bool tso = m->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
		/* Netback refuses frames shorter than an Ethernet header and a
		 * multi-slot packet from a frontend without feature-sg; the
		 * first slot's 16-bit size must hold the whole length (an MTU
		 * of 65521 gives frames up to 65539). A segmentation-offloaded
		 * packet may exceed the MTU. */
		if (unlikely(!ok || len < RTE_ETHER_HDR_LEN || len > xen::max_packet_size ||
			     (len > q.max_frame && !tso) || (nb_slots > 1 && !q.sg))) {
			if (!ok)
				q.stats.offload_refused++;
			else
				q.stats.dropped++;
		} else {
			unsigned ring_slots =
				nb_slots + (offload && plan.gso_type != XEN_NETIF_GSO_TYPE_NONE);
			if (unlikely(nb_slots > q.nb_free || ring_slots > q.ring.free_requests())) {
				if (!reclaimed_again) {
					reclaimed_again = true;
					reclaim(q);
					if (unlikely(q.broken))
						break;
					continue;
				}
				q.stats.ring_full++;
				break;
			}
			enqueue(q, m, nb_slots, offload);
			packets++;
			bytes += len;
		}
		nb_tx++;
	}
	/* Copied or refused: the first nb_tx are ours to free. */
	xen::free_mbufs(pkts, nb_tx);
	if (packets > 0 && q.ring.push_requests()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
	q.stats.bursts += packets > 0;
	q.stats.packets += packets;
	q.stats.bytes += bytes;
	return nb_tx;
}

} // namespace xenfront

namespace xenfront
{

extern "C" uint16_t xenfront_tx_burst(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	TxQueue &q = *static_cast<TxQueue *>(queue);
	if (unlikely(q.fanout != nullptr))
		return fanout_tx_burst(q, pkts, nb_pkts);
	return ring_tx_burst(q, pkts, nb_pkts);
}

extern "C" uint16_t xenfront_tx_prepare(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	const TxQueue &q = *static_cast<const TxQueue *>(queue);
	for (uint16_t i = 0; i < nb_pkts; i++) {
		TxOffloadPlan plan;
		int rc = plan_tx_offload(pkts[i], q.caps, plan);
		if (rc != 0) {
			rte_errno = -rc;
			return i;
		}
		bool tso = pkts[i]->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
		if (pkts[i]->pkt_len > xen::max_packet_size ||
		    (pkts[i]->pkt_len > q.max_frame && !tso)) {
			rte_errno = EINVAL;
			return i;
		}
	}
	return nb_pkts;
}

} // namespace xenfront
