/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Transmit path: mbufs → netif tx requests.
 *
 * Each request id owns a slot of a page granted at queue set-up (half a
 * page, tx_slot_size; a whole one if the backend lacks feature-sg). A
 * packet is copied into the slots of as many free ids as it needs and its
 * mbufs are freed in bulk at the end of the burst, so no mbuf is held while
 * the backend works and nothing is granted or revoked here. A slot is
 * claimed only when both an id and a ring slot are free, requests are
 * written in ring order and published once per burst, and the backend is
 * notified only when its req_event asks (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
 * Responses are matched by id: Linux netback completes out of order.
 *
 * Zero copy. An mbuf whose data lies in memory already granted to the
 * backend (a region of xenfront_granted.h, e.g. a pool made by
 * rte_pmd_xenfront_pktmbuf_pool_create) is not copied: its requests name
 * that memory's grant reference and offset, one slot per 4 KiB page each
 * segment touches (netif.h: a slot may not cross its page), and the mbuf
 * is held until the backend answers the packet's last slot. That is what
 * Linux xen-netfront does with every skb (xennet_start_xmit grants the
 * skb's own pages), minus the per-packet grant and ungrant, which the pool
 * does once. Packets below zero_copy_break are still copied (see there),
 * and so are packets with offloads: the copy path edits headers
 * (apply_tx_offload) in its own page, and we never write into the
 * application's mbuf. */

#include "xenfront.h"

#include <bit>
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

/* Granted packets shorter than this are copied anyway. A copy of a short
 * packet costs less than holding its mbuf until the backend answers and
 * freeing it then, cold, one by one (the copy path frees a whole burst at
 * once, warm); measured with examples/xenfront_zero_copy (doc/guides/
 * nics/xenfront.rst "Zero-copy transmit"). */
constexpr uint32_t zero_copy_break = 256;

/* Mbufs to free, batched so that rte_mempool_put_bulk sees many at once. */
struct FreeBatch {
	static constexpr unsigned size = 64;
	rte_mbuf *mbufs[size];
	unsigned n = 0;
	unsigned total = 0; /* added since construction */
	void add(rte_mbuf *m) noexcept
	{
		total++;
		mbufs[n++] = m;
		if (n == size)
			flush();
	}
	void flush() noexcept
	{
		xen::free_mbufs(mbufs, n);
		n = 0;
	}
};

/* Where id's slot starts in its granted page (the request's offset). */
inline uint16_t slot_offset(const TxQueue &q, uint16_t id) noexcept
{
	return static_cast<uint16_t>((uint32_t(id) * q.slot_size) % xen::page_size);
}

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
void reclaim_into(TxQueue &q, FreeBatch &done) noexcept;

void reclaim(TxQueue &q) noexcept
{
	FreeBatch done;
	reclaim_into(q, done);
	done.flush();
}

void reclaim_into(TxQueue &q, FreeBatch &done) noexcept
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
			if (rsp.status == NETIF_RSP_ERROR &&
			    q.inflight[rsp.id] == tx_inflight_mcast) {
				q.stats.multicast_refused++; /* the backend's list is full */
			} else if (rsp.status == NETIF_RSP_ERROR ||
				   rsp.status == NETIF_RSP_DROPPED) {
				q.stats.errors++;
			} else {
				q.stats.bad_status++;
				q.stats.bad_responses++;
			}
		}
		q.inflight[rsp.id] = 0;
		if (rte_mbuf *held = q.held[rsp.id]) {
			q.held[rsp.id] = nullptr;
			done.add(held);
		}
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
		q.inflight[id] = tx_inflight_packet;
		uint8_t *page = q.pages + size_t(id) * q.slot_size;
		uint8_t *dst = page;
		uint32_t chunk = RTE_MIN(left, static_cast<uint32_t>(q.slot_size));
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
			/* The headers are in the first slot (checked by the plan). */
			apply_tx_offload(page, m, *plan);
			flags |= plan->netif_flags;
			gso = plan->gso_type != XEN_NETIF_GSO_TYPE_NONE;
			if (gso)
				flags |= NETTXF_extra_info;
		}
		netif_tx_request *req = q.ring.next_request();
		req->gref = q.grefs[id];
		req->offset = slot_offset(q, id);
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

/* The common packet: its data in one mbuf, at most a slot, no offload. It
 * takes one free id and one ring slot (the caller checked both), one copy
 * into that id's slot and one request. */
inline void enqueue_single(TxQueue &q, const rte_mbuf *m, uint16_t len) noexcept
{
	const uint16_t id = q.free_ids[--q.nb_free];
	q.inflight[id] = tx_inflight_packet;
	rte_memcpy(q.pages + size_t(id) * q.slot_size, rte_pktmbuf_mtod(m, const uint8_t *), len);
	netif_tx_request *req = q.ring.next_request();
	req->gref = q.grefs[id];
	req->offset = slot_offset(q, id);
	req->flags = 0;
	req->id = id;
	req->size = len;
}

enum class Room { enough, retry, none };

/* Whether `ids` free ids and `requests` ring slots are there for the next
 * packet. If not, the answers that came in since the burst began are
 * reclaimed once (retry the packet), and after that the burst stops there
 * (counted as ring_full unless the backend broke the queue). */
inline Room make_room(TxQueue &q, unsigned ids, unsigned requests, bool &reclaimed_again,
		      FreeBatch &done) noexcept
{
	if (likely(ids <= q.nb_free && requests <= q.ring.free_requests()))
		return Room::enough;
	if (!reclaimed_again) {
		reclaimed_again = true;
		reclaim_into(q, done);
		return unlikely(q.broken) ? Room::none : Room::retry;
	}
	q.stats.ring_full++;
	return Room::none;
}

/* The slots a packet from granted memory takes, one per 4 KiB page each
 * non-empty segment touches, with each segment's region in `regions`; 0 if
 * a segment lies outside every region or the packet would take more slots
 * than Linux netback accepts (XEN_NETBK_LEGACY_SLOTS_MAX, 18): the copy
 * path then packs it into its slots. */
unsigned plan_zero_copy(const TxQueue &q, uint32_t nb_regions, const rte_mbuf *m,
			const GrantedRegion **regions) noexcept
{
	if (m->nb_segs > xen::max_tx_slots_per_packet)
		return 0;
	unsigned slots = 0;
	unsigned i = 0;
	for (const rte_mbuf *seg = m; seg != nullptr; seg = seg->next, i++) {
		const uintptr_t addr = rte_pktmbuf_mtod(seg, uintptr_t);
		const uint32_t len = seg->data_len;
		regions[i] = nullptr;
		if (len == 0)
			continue;
		regions[i] = find_granted_region(*q.granted, nb_regions, addr, len);
		if (regions[i] == nullptr)
			return 0;
		slots += (addr % xen::page_size + len + xen::page_size - 1) / xen::page_size;
	}
	return slots <= xen::max_tx_slots_per_packet ? slots : 0;
}

/* Writes the requests of a packet planned by plan_zero_copy (the caller
 * checked ids and ring slots): each names the granted page and the offset
 * of its piece; the first carries the whole packet's size (netif.h "Guest
 * transmit"). The mbuf is held on the last slot's id: Linux netback
 * answers a packet's slots in order, the last when it is done with all. */
void enqueue_zero_copy(TxQueue &q, rte_mbuf *m, const GrantedRegion *const *regions) noexcept
{
	uint32_t left = m->pkt_len;
	bool first = true;
	uint16_t id = 0;
	unsigned i = 0;
	for (const rte_mbuf *seg = m; seg != nullptr; seg = seg->next, i++) {
		uintptr_t addr = rte_pktmbuf_mtod(seg, uintptr_t);
		uint32_t len = seg->data_len;
		while (len > 0) {
			const uint32_t offset = addr % xen::page_size;
			const uint32_t n =
				RTE_MIN(len, static_cast<uint32_t>(xen::page_size - offset));
			id = q.free_ids[--q.nb_free];
			q.inflight[id] = tx_inflight_packet;
			left -= n;
			netif_tx_request *req = q.ring.next_request();
			req->gref = granted_gref(*regions[i], addr);
			req->offset = static_cast<uint16_t>(offset);
			req->flags = left > 0 ? NETTXF_more_data : 0;
			req->id = id;
			req->size = static_cast<uint16_t>(first ? m->pkt_len : n);
			first = false;
			addr += n;
			len -= n;
		}
	}
	q.held[id] = m;
}

} // namespace

void tx_queue_release_held(TxQueue &q) noexcept
{
	for (uint16_t id = 0; id < ring_size; id++) {
		if (q.held[id] != nullptr) {
			rte_pktmbuf_free(q.held[id]);
			q.held[id] = nullptr;
		}
	}
}

void tx_queue_reset(TxQueue &q) noexcept
{
	tx_queue_release_held(q);
	q.nb_free = 0;
	for (uint16_t id = 0; id < q.nb_desc; id++) {
		q.inflight[id] = 0;
		q.free_ids[q.nb_free++] = static_cast<uint16_t>(q.nb_desc - 1 - id);
	}
	q.broken = false;
}

unsigned tx_queue_send_mcast(TxQueue &q, const rte_ether_addr *addrs, unsigned n, bool add) noexcept
{
	reclaim(q);
	unsigned sent = 0;
	/* netif.h "Multicast control": a request with XEN_NETTXF_extra_info
	 * and no data (no mbuf: held[id] stays nullptr), then the extra slot
	 * with the address. Linux netback answers the request OKAY (ERROR: its
	 * list of 64 is full) and the extra NETIF_RSP_NULL, and delivers no
	 * packet; reclaim_into() takes the id back. */
	while (sent < n && !q.broken && q.nb_free > 0 && q.ring.free_requests() >= 2) {
		const uint16_t id = q.free_ids[--q.nb_free];
		q.inflight[id] = tx_inflight_mcast;
		netif_tx_request *req = q.ring.next_request();
		req->gref = q.grefs[id];
		req->offset = 0;
		req->flags = NETTXF_extra_info;
		req->id = id;
		req->size = 0;
		netif_extra_info extra{};
		extra.type = add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD : XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
		std::memcpy(extra.u.mcast.addr, addrs[sent].addr_bytes, sizeof(extra.u.mcast.addr));
		static_assert(sizeof(extra) <= sizeof(netif_tx_request));
		std::memcpy(q.ring.next_request(), &extra, sizeof(extra));
		sent++;
	}
	q.stats.multicast_requests += sent;
	if (sent > 0 && q.ring.push_requests()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
	return sent;
}

unsigned tx_queue_cleanup(TxQueue &q) noexcept
{
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	FreeBatch done;
	reclaim_into(q, done);
	done.flush();
	return done.total;
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
	const uint32_t max_frame = queue_max_frame(q);
	const uint32_t fast_max = RTE_MIN(max_frame, static_cast<uint32_t>(q.slot_size));
	/* slot_size is a power of two: a shift per packet, not a division. */
	const unsigned slot_shift = std::countr_zero(q.slot_size);
	/* Granted memory registered: packets from it above the copy-break
	 * leave the fast path for the zero-copy one. */
	const uint32_t nb_regions = granted_regions_in_use(*q.granted);
	const uint32_t zc_min = nb_regions != 0 ? zero_copy_break : UINT32_MAX;
	unsigned budget = RTE_MIN(static_cast<unsigned>(q.nb_free), q.ring.free_requests());
	budget = RTE_MIN(budget, static_cast<unsigned>(nb_pkts));
	while (nb_tx < budget) {
		const rte_mbuf *m = pkts[nb_tx];
		const uint32_t len = m->pkt_len;
		if (unlikely((m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) || m->data_len != len ||
			     len < RTE_ETHER_HDR_LEN || len > fast_max))
			break;
		if (len >= zc_min && find_granted_region(*q.granted, nb_regions,
							 rte_pktmbuf_mtod(m, uintptr_t), len))
			break;
		enqueue_single(q, m, static_cast<uint16_t>(len));
		bytes += len;
		nb_tx++;
	}
	packets = nb_tx;
	/* The fast path's mbufs are copied: freed now, in one go. */
	xen::free_mbufs(pkts, nb_tx);
	FreeBatch done;
	unsigned zero_copy = 0;
	while (nb_tx < nb_pkts) {
		rte_mbuf *m = pkts[nb_tx];
		uint32_t len = m->pkt_len;
		if (len >= zc_min && !(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) &&
		    len >= RTE_ETHER_HDR_LEN && len <= max_frame && len <= xen::max_packet_size) {
			const GrantedRegion *regions[xen::max_tx_slots_per_packet];
			const unsigned zc_slots = plan_zero_copy(q, nb_regions, m, regions);
			/* More than one slot needs feature-sg; without it the
			 * copy path may still fit the packet in one slot. */
			if (zc_slots != 0 && (zc_slots == 1 || q.sg)) {
				const Room room =
					make_room(q, zc_slots, zc_slots, reclaimed_again, done);
				if (room == Room::retry)
					continue;
				if (room == Room::none)
					break;
				enqueue_zero_copy(q, m, regions);
				zero_copy++;
				packets++;
				bytes += len;
				nb_tx++;
				continue;
			}
		}
		unsigned nb_slots = (len + q.slot_size - 1) >> slot_shift;
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
		/* More slots than netback takes: half-page slots and a packet
		 * over 18 of them (the MTU raised after queue set-up). */
		if (unlikely(!ok || len < RTE_ETHER_HDR_LEN || len > xen::max_packet_size ||
			     (len > max_frame && !tso) || (nb_slots > 1 && !q.sg) ||
			     nb_slots > xen::max_tx_slots_per_packet)) {
			if (!ok)
				q.stats.offload_refused++;
			else
				q.stats.dropped++;
		} else {
			unsigned ring_slots =
				nb_slots + (offload && plan.gso_type != XEN_NETIF_GSO_TYPE_NONE);
			const Room room = make_room(q, nb_slots, ring_slots, reclaimed_again, done);
			if (room == Room::retry)
				continue;
			if (room == Room::none)
				break;
			enqueue(q, m, nb_slots, offload);
			packets++;
			bytes += len;
		}
		/* Copied or refused: ours to free. */
		done.add(m);
		nb_tx++;
	}
	done.flush();
	q.stats.zero_copy_packets += zero_copy;
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
	/* Under fan-out, judged by the backend of the ring the queue sends on
	 * (its caps are set at each connection, which may come after start). */
	const TxOffloadCaps &caps =
		unlikely(q.fanout != nullptr)
			? q.fanout->rings[q.queue_id % q.fanout->nb_rings].txq->caps
			: q.caps;
	const uint32_t max_frame = queue_max_frame(q);
	for (uint16_t i = 0; i < nb_pkts; i++) {
		TxOffloadPlan plan;
		int rc = plan_tx_offload(pkts[i], caps, plan);
		if (rc != 0) {
			rte_errno = -rc;
			return i;
		}
		bool tso = pkts[i]->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
		if (pkts[i]->pkt_len > xen::max_packet_size ||
		    (pkts[i]->pkt_len > max_frame && !tso)) {
			rte_errno = EINVAL;
			return i;
		}
	}
	return nb_pkts;
}

} // namespace xenfront
