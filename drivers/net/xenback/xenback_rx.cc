/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Guest transmit → port receive, as Linux netback's xenvif_tx_action does
 * it as far as a frontend can observe: requests are copied out of the
 * shared ring and checked (slot count, page bounds, sizes), the packet data
 * is grant-copied into the application's mbufs in one batch per burst, and
 * every request slot gets one response: the first slot and each fragment
 * with the packet's status, each extra-info slot with NETIF_RSP_NULL
 * (make_tx_response). A malformed packet is answered NETIF_RSP_ERROR; a
 * request netback treats as fatal (a slot crossing its page, too many
 * slots, an unknown extra type) stops the queue, as xenvif_fatal_tx_err
 * disables the vif. */

#include "xenback.h"

#include <cstring>
#include <netinet/in.h>
#include <poll.h>

#include <rte_branch_prediction.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memcpy.h>
#include <rte_ring.h>

extern "C" {
#include <xenevtchn.h>
}

#include "mbuf_free.h"
#include "net_headers.h"
#include "xenback_gso.h"
#include "xenback_logs.h"

namespace xenback
{
namespace
{

constexpr unsigned max_batch = 64;

/* One packet of a burst: its request slots and where its data lands. */
struct Pending {
	rte_mbuf *head;
	RING_IDX first;    /* first request slot */
	uint16_t nb_slots; /* request slots, extras included */
	uint16_t nb_extras;
	uint16_t first_seg;
	uint16_t nb_segs;
	int16_t status;    /* NETIF_RSP_OKAY or NETIF_RSP_ERROR */
	uint16_t flags;    /* NETTXF_* of the first slot */
	uint16_t gso_size; /* from a XEN_NETIF_EXTRA_TYPE_GSO extra, 0 if none */
	uint16_t first_id; /* id of the first request */
	bool lent;         /* zero-copy: answered when the application frees it */
};

void fatal(RxQueue &q, const char *why, unsigned value) noexcept
{
	q.stats.fatal_errors++;
	if (!q.broken)
		XB_DRV_LOG(ERR, "xenback",
			   "port %u rx queue %u: frontend %u: %s (%u); queue stopped", q.port_id,
			   q.queue_id, q.guest, why, value);
	q.broken = true;
}

/* Fills `head` (and mbufs chained to it) with the copy segments that carry
 * `len` bytes from the packet's slots; false, with `head` freed, if mbufs or
 * segments ran out. */
bool plan_copy(RxQueue &q, rte_mbuf *head, const netif_tx_request *slots, unsigned nb_data,
	       uint32_t len, unsigned &nb_segs, Pending &p) noexcept
{
	rte_mbuf *seg = head;
	uint32_t room = q.data_room;
	uint8_t *dst = rte_pktmbuf_mtod(seg, uint8_t *);
	p.head = head;
	p.first_seg = static_cast<uint16_t>(nb_segs);
	for (unsigned s = 0; s < nb_data; s++) {
		const netif_tx_request &req = slots[s];
		uint32_t offset = req.offset;
		uint32_t left = req.size;
		while (left > 0) {
			if (room == 0) {
				rte_mbuf *next = rte_pktmbuf_alloc(q.mp);
				if (unlikely(next == nullptr)) {
					rte_pktmbuf_free(head);
					return false;
				}
				seg->next = next;
				head->nb_segs++;
				seg = next;
				room = q.data_room;
				dst = rte_pktmbuf_mtod(seg, uint8_t *);
			}
			if (unlikely(nb_segs == max_copy_segs)) {
				rte_pktmbuf_free(head);
				return false;
			}
			uint32_t n = RTE_MIN(left, room);
			xengnttab_grant_copy_segment_t &g = q.segs[nb_segs++];
			g.source.foreign.ref = req.gref;
			g.source.foreign.offset = static_cast<uint16_t>(offset);
			g.source.foreign.domid = q.guest;
			g.dest.virt = dst;
			g.len = static_cast<uint16_t>(n);
			g.flags = GNTCOPY_source_gref;
			g.status = GNTST_okay;
			dst += n;
			offset += n;
			left -= n;
			room -= n;
			seg->data_len = static_cast<uint16_t>(seg->data_len + n);
		}
	}
	head->pkt_len = len;
	head->port = q.port_id;
	p.nb_segs = static_cast<uint16_t>(nb_segs - p.first_seg);
	return true;
}

void wake_taken(RxQueue &q) noexcept
{
	/* Interrupt style: the frontend kicked us because req_event was
	 * armed. Take the event as an interrupt handler would, so the channel
	 * can fire again. */
	pollfd pfd{q.wake_fd, POLLIN, 0};
	while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		xenevtchn_port_or_error_t port = xenevtchn_pending(q.notify.handle);
		if (port < 0)
			break;
		xenevtchn_unmask(q.notify.handle, static_cast<evtchn_port_t>(port));
		q.stats.wakeups++;
	}
}

/* Hands a received packet to the application, or keeps it for the next
 * burst when this one is full (segmentation can turn one packet into many). */
void deliver(RxQueue &q, rte_mbuf *m, rte_mbuf **pkts, uint16_t nb_pkts, uint16_t &nb_rx,
	     uint64_t &bytes) noexcept
{
	bytes += m->pkt_len;
	if (nb_rx < nb_pkts) {
		pkts[nb_rx++] = m;
		return;
	}
	q.stash[(q.stash_head + q.stash_len++) % stash_size] = m;
}

/* The guest's checksum and GSO requests, as netback turns them into an
 * skb: a blank checksum (Linux CHECKSUM_PARTIAL) is left to the application
 * as RTE_MBUF_F_RX_L4_CKSUM_NONE if it enabled receive checksum offload, or
 * completed here; a GSO packet is delivered whole as RTE_MBUF_F_RX_LRO if it
 * enabled LRO, or segmented here. Headers netback could not parse make the
 * packet an error, as skb_checksum_setup() failing drops it there. */
int16_t finish(RxQueue &q, const Pending &p, rte_mbuf **pkts, uint16_t nb_pkts, uint16_t &nb_rx,
	       uint64_t &bytes) noexcept
{
	rte_mbuf *m = p.head;
	if (p.gso_size == 0 && !(p.flags & NETTXF_csum_blank)) {
		if ((p.flags & NETTXF_data_validated) && q.l4_csum)
			m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		deliver(q, m, pkts, nb_pkts, nb_rx, bytes);
		return NETIF_RSP_OKAY;
	}
	xen::NetHeaders h;
	if (!xen::parse_net_headers(m, h) || h.fragment ||
	    (p.gso_size && h.l4_proto != IPPROTO_TCP)) {
		q.stats.csum_errors++;
		return NETIF_RSP_ERROR;
	}
	if (p.gso_size == 0) {
		if (q.l4_csum) {
			m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		} else {
			xen::complete_blank_csum(m, h);
			q.stats.csum_completed++;
		}
		deliver(q, m, pkts, nb_pkts, nb_rx, bytes);
		return NETIF_RSP_OKAY;
	}
	q.stats.gso_packets++;
	if (q.lro) {
		m->ol_flags |= RTE_MBUF_F_RX_LRO;
		m->tso_segsz = p.gso_size;
		if (q.l4_csum)
			m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		else
			xen::complete_blank_csum(m, h);
		deliver(q, m, pkts, nb_pkts, nb_rx, bytes);
		return NETIF_RSP_OKAY;
	}
	rte_mbuf *segs[stash_size];
	unsigned room = stash_size - q.stash_len;
	int n = segment_tcp(m, h, p.gso_size, q.mp, segs, room);
	if (n < 0) {
		q.stats.mbuf_alloc_failed++;
		return NETIF_RSP_ERROR;
	}
	q.stats.segmented += static_cast<unsigned>(n);
	rte_pktmbuf_free(m);
	for (int k = 0; k < n; k++)
		deliver(q, segs[k], pkts, nb_pkts, nb_rx, bytes);
	return NETIF_RSP_OKAY;
}

/* One xenback_rx_burst: the requests it took and the packets it planned.
 * Each request is copied out of the ring once; the ids of a packet of
 * several slots are kept here for its responses (the frontend may rewrite
 * the ring meanwhile). */
struct Burst {
	RING_IDX prod;
	RING_IDX start; /* req_cons when the burst began: ids[] counts from it */
	RING_IDX cons;  /* next request to take */
	unsigned limit; /* packets it may take */
	unsigned nb_pending = 0;
	unsigned nb_inline = 0; /* answered and delivered while planning */
	unsigned nb_segs = 0;   /* q.segs[] planned */
	unsigned used = 0;      /* heads[] taken */
	unsigned nb_heads;
	unsigned mapped = 0;
	unsigned lent; /* zero-copy bursts only (plan<true>) */
	Pending pending[max_batch];
	/* One head mbuf per packet, allocated in bulk: at most one packet per
	 * request slot. */
	rte_mbuf *heads[max_batch];
	uint16_t ids[xen::tx_ring_size];
};

/* A packet of more than the fast path's one slot, its requests copied out
 * of the ring. */
struct Packet {
	unsigned nb_data = 1;
	uint16_t nb_extras = 0;
	uint16_t gso_size = 0; /* from a XEN_NETIF_EXTRA_TYPE_GSO extra, 0 if none */
	/* A multicast filter change: its type (ADD wins over DEL, as in
	 * netback's xenvif_tx_build_gops) and address; 0 if none. */
	uint8_t mcast = 0;
	uint8_t mcast_addr[RTE_ETHER_ADDR_LEN];
	uint32_t total; /* the packet's size, from the first slot */
	netif_tx_request slots[xen::fatal_tx_slots_per_packet];
};

enum class Read { whole, incomplete, fatal };

/* Request `slot`, copied out of the ring once, its id kept for its response. */
netif_tx_request take(RxQueue &q, Burst &b, RING_IDX slot) noexcept
{
	const netif_tx_request req = q.ring.copy_request(slot);
	b.ids[slot - b.start] = req.id;
	return req;
}

/* The extra-info slots from `i` (netif.h "Extra Info"). As netback: an
 * unknown type is fatal, so are more extras than there are types, and a GSO
 * extra of size 0 or of an unknown type (xenvif_set_skb_gso). */
Read read_extras(RxQueue &q, Burst &b, Packet &pk, RING_IDX &i) noexcept
{
	bool more = true;
	while (more) {
		if (i == b.prod)
			return Read::incomplete;
		const netif_tx_request raw = take(q, b, i++);
		netif_extra_info extra;
		std::memcpy(&extra, &raw, sizeof(extra));
		pk.nb_extras++;
		if (extra.type == XEN_NETIF_EXTRA_TYPE_NONE ||
		    extra.type >= XEN_NETIF_EXTRA_TYPE_MAX ||
		    pk.nb_extras >= XEN_NETIF_EXTRA_TYPE_MAX) {
			fatal(q, "bad extra-info type", extra.type);
			return Read::fatal;
		}
		if (extra.type == XEN_NETIF_EXTRA_TYPE_GSO) {
			if (extra.u.gso.size == 0) {
				fatal(q, "GSO size must not be zero", 0);
				return Read::fatal;
			}
			if (extra.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
			    extra.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) {
				fatal(q, "bad GSO type", extra.u.gso.type);
				return Read::fatal;
			}
			pk.gso_size = extra.u.gso.size;
		}
		if (extra.type == XEN_NETIF_EXTRA_TYPE_MCAST_ADD ||
		    (extra.type == XEN_NETIF_EXTRA_TYPE_MCAST_DEL &&
		     pk.mcast != XEN_NETIF_EXTRA_TYPE_MCAST_ADD)) {
			pk.mcast = extra.type;
			std::memcpy(pk.mcast_addr, extra.u.mcast.addr, sizeof(pk.mcast_addr));
		}
		more = extra.flags & XEN_NETIF_EXTRA_FLAG_MORE;
	}
	return Read::whole;
}

/* The data slots after the first, from `i`, while NETTXF_more_data says
 * so; more than netback's fatal count is fatal. */
Read read_fragments(RxQueue &q, Burst &b, Packet &pk, RING_IDX &i) noexcept
{
	uint16_t flags = pk.slots[0].flags;
	while (flags & NETTXF_more_data) {
		if (i == b.prod)
			return Read::incomplete;
		if (pk.nb_data == xen::fatal_tx_slots_per_packet) {
			fatal(q, "too many slots in one packet", pk.nb_data + 1);
			return Read::fatal;
		}
		pk.slots[pk.nb_data] = take(q, b, i++);
		flags = pk.slots[pk.nb_data].flags;
		pk.nb_data++;
	}
	return Read::whole;
}

/* The first slot's size is the whole packet; its own data is what the
 * later slots leave (netif.h "Guest transmit"). A slot crossing its page,
 * or fragments larger than the packet, are fatal; false then. */
bool check_sizes(RxQueue &q, Packet &pk) noexcept
{
	pk.total = pk.slots[0].size;
	uint32_t rest = 0;
	for (unsigned s = 0; s < pk.nb_data; s++) {
		if (pk.slots[s].offset + static_cast<uint32_t>(s == 0 ? 0 : pk.slots[s].size) >
		    xen::page_size)
			fatal(q, "slot crosses its page", pk.slots[s].offset);
		if (s > 0)
			rest += pk.slots[s].size;
	}
	if (rest > pk.total)
		fatal(q, "fragments larger than the packet", rest);
	if (q.broken)
		return false;
	pk.slots[0].size = static_cast<uint16_t>(pk.total - rest);
	if (pk.slots[0].offset + static_cast<uint32_t>(pk.slots[0].size) > xen::page_size) {
		fatal(q, "slot crosses its page", pk.slots[0].offset);
		return false;
	}
	return true;
}

/* A dummy request carrying a multicast filter change (xenback_mcast.h):
 * answered OKAY, or ERROR for an ADD the full table refuses; no packet. */
void apply_mcast(RxQueue &q, const Packet &pk, Pending &p) noexcept
{
	q.stats.multicast_ops++;
	if (pk.mcast == XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
		mcast_del(*q.mcast, pk.mcast_addr);
		return;
	}
	if constexpr (hostile_hooks)
		if (unlikely(q.hostile.behaviour == HostileBehaviour::tx_mcast_full)) {
			p.status = NETIF_RSP_ERROR;
			q.stats.hostile_injected++;
			return;
		}
	if (!mcast_add(*q.mcast, pk.mcast_addr))
		p.status = NETIF_RSP_ERROR;
}

/* Any packet but the fast path's, from request b.cons (`first`, already
 * copied): its slots read and checked, then a multicast change applied, a
 * counted error answered, or its copy planned. False: the burst stops
 * before it (the rest of it not posted yet, a fatal request, no mbufs). */
bool plan_general(RxQueue &q, Burst &b, const netif_tx_request &first) noexcept
{
	Packet pk;
	pk.slots[0] = first;
	b.ids[b.cons - b.start] = first.id;
	RING_IDX i = b.cons + 1;
	if ((first.flags & NETTXF_extra_info) && read_extras(q, b, pk, i) != Read::whole)
		return false;
	if (read_fragments(q, b, pk, i) != Read::whole || !check_sizes(q, pk))
		return false;
	Pending &p = b.pending[b.nb_pending];
	p = Pending{nullptr,        b.cons, static_cast<uint16_t>(i - b.cons),
		    pk.nb_extras,   0,      0,
		    NETIF_RSP_OKAY, 0,      pk.gso_size,
		    first.id,       false};
	b.cons = i;
	if (pk.mcast) {
		apply_mcast(q, pk, p);
		b.nb_pending++;
		return true;
	}
	/* Dropped with an error response, as netback's xenvif_tx_err: too many
	 * slots, runt, or oversize (a GSO packet may exceed the MTU: it is
	 * segmented or delivered as LRO). */
	p.flags = first.flags;
	if (pk.nb_data > xen::max_tx_slots_per_packet || pk.total < RTE_ETHER_HDR_LEN ||
	    (pk.total > __atomic_load_n(&q.max_frame, __ATOMIC_RELAXED) && pk.gso_size == 0)) {
		p.status = NETIF_RSP_ERROR;
		q.stats.errors++;
		b.nb_pending++;
		return true;
	}
	if (!plan_copy(q, b.heads[b.used++], pk.slots, pk.nb_data, pk.total, b.nb_segs, p)) {
		q.stats.mbuf_alloc_failed++;
		b.cons = p.first; /* retry this packet next burst */
		return false;
	}
	b.nb_pending++;
	return true;
}

/* The fast path's packet: one slot, no extra info, within its page, the
 * frame size and one mbuf (the general path's checks for this shape). */
bool simple(const netif_tx_request &req, uint32_t fast_max) noexcept
{
	return !(req.flags & (NETTXF_extra_info | NETTXF_more_data)) &&
	       req.offset + static_cast<uint32_t>(req.size) <= xen::page_size &&
	       req.size >= RTE_ETHER_HDR_LEN && req.size <= fast_max;
}

/* The copy of a fast-path request's data into the head mbuf `m`. */
void plan_segment(const RxQueue &q, xengnttab_grant_copy_segment_t &g, const netif_tx_request &req,
		  rte_mbuf *m) noexcept
{
	g.source.foreign.ref = req.gref;
	g.source.foreign.offset = req.offset;
	g.source.foreign.domid = q.guest;
	g.dest.virt = rte_pktmbuf_mtod(m, uint8_t *);
	g.len = req.size;
	g.flags = GNTCOPY_source_gref;
	g.status = GNTST_okay;
}

/* A fast-path packet already copied (a static grant) with nothing to
 * complete: its checksum flag and its response. */
void deliver_now(RxQueue &q, rte_mbuf *m, const netif_tx_request &req) noexcept
{
	if ((req.flags & NETTXF_data_validated) && q.l4_csum)
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	netif_tx_response *rsp = q.ring.next_response();
	rsp->id = req.id;
	rsp->status = NETIF_RSP_OKAY;
}

/* The free callback of a lent segment, on the lcore that freed it: the
 * slot goes back to its queue's next burst, which answers the request. */
void zc_freed(void *, void *opaque) noexcept
{
	auto *slot = static_cast<ZcSlot *>(opaque);
	ZeroCopy *z = slot->owner;
	/* Release: the control path, seeing nullptr, may unmap the page. */
	__atomic_store_n(&slot->page, nullptr, __ATOMIC_RELEASE);
	/* Never full: room for every slot. */
	rte_ring_mp_enqueue(z->done, slot);
	zc_unref(z);
}

/* Lends a fast-path request's page to the application: `m` gets the
 * first zc_head bytes, copied (netback's header copy), and a segment
 * attached to the page for the rest; the response waits for the
 * segment's free. False, nothing changed, if no segment mbuf is left. */
bool zc_lend(RxQueue &q, rte_mbuf *m, const netif_tx_request &req, uint8_t *page,
	     uint32_t gen) noexcept
{
	ZeroCopy &z = *q.zc;
	if (z.nb_spare == 0) {
		if (unlikely(rte_pktmbuf_alloc_bulk(q.mp, z.spare, zc_spares) != 0))
			return false;
		z.nb_spare = zc_spares;
	}
	rte_mbuf *seg = z.spare[--z.nb_spare];
	const uint16_t index = z.free[--z.nb_free];
	ZcSlot &slot = z.slots[index];
	slot.id = req.id;
	slot.gen = gen;
	__atomic_store_n(&slot.page, page, __ATOMIC_RELAXED);
	rte_mbuf_ext_refcnt_set(&slot.shinfo, 1);
	__atomic_fetch_add(&z.refs, 1, __ATOMIC_RELAXED);
	z.lent++;
	const rte_iova_t iova = z.iova_va
					? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(page))
					: RTE_BAD_IOVA;
	rte_pktmbuf_attach_extbuf(seg, page, iova, xen::page_size, &slot.shinfo);
	/* The request's offset, not 0: a frontend may put two slots in a page. */
	seg->data_off = static_cast<uint16_t>(req.offset + zc_head);
	seg->data_len = static_cast<uint16_t>(req.size - zc_head);
	rte_memcpy(rte_pktmbuf_mtod(m, uint8_t *), page + req.offset, zc_head);
	m->data_len = zc_head;
	m->next = seg;
	m->nb_segs = 2;
	return true;
}

/* Answers the requests whose lent segments the application freed (their
 * ring still the one they came on); true if it wrote any response. */
bool zc_answer(RxQueue &q) noexcept
{
	ZeroCopy &z = *q.zc;
	const uint32_t gen = __atomic_load_n(&q.sync.ctrl_gen, __ATOMIC_RELAXED);
	void *done[max_batch];
	unsigned n;
	bool answered = false;
	uint32_t lent = z.lent;
	do {
		n = rte_ring_sc_dequeue_burst(z.done, done, max_batch, nullptr);
		for (unsigned k = 0; k < n; k++) {
			auto *slot = static_cast<ZcSlot *>(done[k]);
			if (slot->gen == gen) {
				netif_tx_response *rsp = q.ring.next_response();
				rsp->id = slot->id;
				rsp->status = NETIF_RSP_OKAY;
				answered = true;
			}
			z.free[z.nb_free++] = static_cast<uint16_t>(slot - z.slots);
		}
		lent -= n;
	} while (n == max_batch);
	z.lent = lent;
	q.stats.zc_pending.store(lent);
	return answered;
}

/* Whether a static-grant request is lent rather than copied (zerocopy=1):
 * nothing here writes into its page (no blank checksum to complete), it is
 * large enough to be worth a segment and a deferred response, and less
 * than half a ring is lent already. */
bool zc_try(RxQueue &q, rte_mbuf *m, const netif_tx_request &req, const uint8_t *page,
	    uint32_t gen) noexcept
{
	if (req.size < zc_min_size || (req.flags & NETTXF_csum_blank))
		return false;
	if (q.zc->lent >= zc_max_lent) {
		q.stats.zc_fallbacks++;
		return false;
	}
	return zc_lend(q, m, req, const_cast<uint8_t *>(page), gen);
}

/* Takes requests until the burst is full or the ring empty: the common
 * packet here (one copy segment, or a copy through a static grant), any
 * other through plan_general. The fast path's state stays in locals,
 * written back around plan_general. Zc: the queue lends pages (q.zc set);
 * the copy-only instance has none of its code, so that zerocopy=0 costs
 * the copy path nothing (the callgrind gate). */
template <bool Zc>
void plan(RxQueue &q, Burst &b, rte_mbuf **pkts, uint16_t &nb_rx, uint64_t &bytes) noexcept
{
	const uint32_t fast_max = RTE_MIN(__atomic_load_n(&q.max_frame, __ATOMIC_RELAXED),
					  static_cast<uint32_t>(q.data_room));
	const GrefTable *grefs = published_grefs(q.grefs);
	RING_IDX cons = b.cons;
	unsigned nb_pending = b.nb_pending;
	unsigned nb_segs = b.nb_segs;
	unsigned used = b.used;
	unsigned nb_inline = 0;
	unsigned mapped = 0;
	[[maybe_unused]] unsigned lent = 0;
	[[maybe_unused]] uint32_t gen = 0;
	if constexpr (Zc)
		gen = __atomic_load_n(&q.sync.ctrl_gen, __ATOMIC_RELAXED);
	const RING_IDX prod = b.prod;
	const unsigned limit = b.limit;
	while (cons != prod && nb_pending + nb_inline < limit) {
		const netif_tx_request req = q.ring.copy_request(cons);
		if (unlikely(!simple(req, fast_max) || nb_segs == max_copy_segs)) {
			b.cons = cons;
			b.nb_pending = nb_pending;
			b.nb_segs = nb_segs;
			b.used = used;
			const bool go_on = plan_general(q, b, req);
			cons = b.cons;
			nb_pending = b.nb_pending;
			nb_segs = b.nb_segs;
			used = b.used;
			if (!go_on)
				break;
			continue;
		}
		rte_mbuf *m = b.heads[used++];
		const uint8_t *page =
			grefs != nullptr ? gref_lookup(*grefs, req.gref, false) : nullptr;
		if constexpr (Zc) {
			if (page != nullptr && zc_try(q, m, req, page, gen)) {
				m->pkt_len = req.size;
				m->port = q.port_id;
				cons++;
				lent++;
				if (nb_pending == 0) {
					/* Every packet before it answered:
					 * deliver now, the response when the
					 * application frees it. */
					if ((req.flags & NETTXF_data_validated) && q.l4_csum)
						m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
					pkts[nb_rx++] = m;
					bytes += req.size;
					nb_inline++;
				} else {
					b.pending[nb_pending++] =
						Pending{m,
							cons - 1,
							1,
							0,
							static_cast<uint16_t>(nb_segs),
							0,
							NETIF_RSP_OKAY,
							req.flags,
							0,
							req.id,
							true};
				}
				continue;
			}
		}
		if (page != nullptr) {
			/* A static grant: copy it now, no segment. */
			rte_memcpy(rte_pktmbuf_mtod(m, uint8_t *), page + req.offset, req.size);
			mapped++;
		} else {
			plan_segment(q, q.segs[nb_segs], req, m);
		}
		m->data_len = req.size;
		m->pkt_len = req.size;
		m->port = q.port_id;
		cons++;
		if (page != nullptr && nb_pending == 0 && !(req.flags & NETTXF_csum_blank)) {
			/* Every packet before it answered, nothing to
			 * complete: deliver and answer now (finish()'s plain
			 * case; responses and packets keep the request
			 * order). */
			deliver_now(q, m, req);
			pkts[nb_rx++] = m;
			bytes += req.size;
			nb_inline++;
			continue;
		}
		b.pending[nb_pending++] = Pending{m,
						  cons - 1,
						  1,
						  0,
						  static_cast<uint16_t>(nb_segs),
						  static_cast<uint16_t>(page == nullptr),
						  NETIF_RSP_OKAY,
						  req.flags,
						  0,
						  req.id,
						  false};
		nb_segs += page == nullptr;
	}
	b.cons = cons;
	b.nb_pending = nb_pending;
	b.nb_segs = nb_segs;
	b.used = used;
	b.nb_inline = nb_inline;
	b.mapped = mapped;
	if constexpr (Zc)
		b.lent = lent;
}

/* A planned packet once the grant copy is done: its segments checked, then
 * finished and delivered, or freed and counted as an error. */
void complete(RxQueue &q, Pending &p, rte_mbuf **pkts, uint16_t nb_pkts, uint16_t &nb_rx,
	      uint64_t &bytes) noexcept
{
	for (unsigned s = p.first_seg; s < p.first_seg + p.nb_segs; s++)
		if (unlikely(q.segs[s].status != GNTST_okay)) {
			p.status = NETIF_RSP_ERROR;
			q.stats.copy_errors++;
		}
	if (likely(p.status == NETIF_RSP_OKAY))
		p.status = finish(q, p, pkts, nb_pkts, nb_rx, bytes);
	if (p.status != NETIF_RSP_OKAY) {
		rte_pktmbuf_free(p.head);
		q.stats.errors++;
	}
}

/* One response per request slot, with the ids read when it was taken: the
 * first, NULL for each extra, then each fragment. */
template <bool Zc>
void respond(RxQueue &q, const Burst &b, const Pending &p) noexcept
{
	if constexpr (Zc)
		if (p.lent)
			return; /* answered once the application frees it (zc_answer) */
	if (likely(p.nb_slots == 1)) {
		netif_tx_response *rsp = q.ring.next_response();
		rsp->id = p.first_id;
		rsp->status = p.status;
		return;
	}
	for (unsigned s = 0; s < p.nb_slots; s++) {
		netif_tx_response *rsp = q.ring.next_response();
		const bool extra = s >= 1 && s <= p.nb_extras;
		rsp->id = b.ids[p.first + s - b.start];
		rsp->status = extra ? NETIF_RSP_NULL : p.status;
	}
}

/* Whether there are requests to take from `cons`, their end in `prod`.
 * Idle in interrupt style, req_event is armed first, as netback re-arms it
 * and sleeps; a producer index past the ring is fatal. */
bool requests_ready(RxQueue &q, RING_IDX cons, RING_IDX &prod) noexcept
{
	prod = q.ring.req_prod();
	if (cons == prod) {
		if (!q.interrupt_style || q.armed)
			return false;
		q.armed = true;
		if (!q.ring.final_check_for_requests())
			return false;
		prod = q.ring.req_prod();
	}
	if (q.armed) {
		q.armed = false;
		wake_taken(q);
	}
	if (unlikely(q.ring.req_prod_overflow(prod))) {
		fatal(q, "request producer index ran past the ring", prod);
		return false;
	}
	return true;
}

/* Pushes what zc_answer wrote if the burst did not (it returned early);
 * after a burst that pushed, there is nothing left and no notification. */
__attribute__((noinline)) void push_answers(RxQueue &q) noexcept
{
	if (q.ring.push_responses()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
}

/* Segments left over from the last burst, first. */
uint16_t unstash(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	uint16_t nb_rx = 0;
	while (q.stash_len > 0 && nb_rx < nb_pkts) {
		pkts[nb_rx++] = q.stash[q.stash_head];
		q.stash_head = static_cast<uint16_t>((q.stash_head + 1) % stash_size);
		q.stash_len--;
	}
	return nb_rx;
}

/* A burst past its guard: Zc for a queue that lends pages (q.zc set), chosen
 * once per burst so that the copy-only instance has none of the zero-copy
 * checks. */
template <bool Zc>
uint16_t rx_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	uint16_t nb_rx = unstash(q, pkts, nb_pkts);
	if (q.stash_len > 0 || nb_rx == nb_pkts)
		return nb_rx; /* still full: leave the ring */
	const RING_IDX cons = q.ring.req_cons();
	RING_IDX prod;
	if (!requests_ready(q, cons, prod))
		return nb_rx; /* idle: nothing of a Burst set up */
	Burst b;
	b.prod = prod;
	b.start = b.cons = cons;
	if constexpr (hostile_hooks)
		if (unlikely(q.hostile.behaviour == HostileBehaviour::snoop))
			hostile_snoop(q, b.cons, b.prod);
	b.limit = RTE_MIN(static_cast<unsigned>(nb_pkts - nb_rx), max_batch);
	b.nb_heads = RTE_MIN(b.limit, b.prod - b.cons);
	if (unlikely(rte_pktmbuf_alloc_bulk(q.mp, b.heads, b.nb_heads) != 0)) {
		q.stats.mbuf_alloc_failed++;
		return nb_rx;
	}
	const RING_IDX rsp_first = q.ring.rsp_prod_pvt();
	uint64_t bytes = 0;
	plan<Zc>(q, b, pkts, nb_rx, bytes);
	q.ring.set_req_cons(b.cons);
	q.stats.mapped_copies += b.mapped;
	if constexpr (Zc) {
		q.stats.zerocopy += b.lent;
		q.stats.zc_pending.store(q.zc->lent);
	}
	xen::free_mbufs(b.heads + b.used, b.nb_heads - b.used);
	if (b.nb_pending + b.nb_inline == 0)
		return nb_rx;

	if (b.nb_segs > 0 && xengnttab_grant_copy(q.gnttab, b.nb_segs, q.segs) != 0)
		for (unsigned s = 0; s < b.nb_segs; s++)
			q.segs[s].status = GNTST_general_error;
	for (unsigned k = 0; k < b.nb_pending; k++) {
		Pending &p = b.pending[k];
		if (p.head != nullptr)
			complete(q, p, pkts, nb_pkts, nb_rx, bytes);
		respond<Zc>(q, b, p);
	}
	if constexpr (hostile_hooks)
		if (unlikely(q.hostile.behaviour != HostileBehaviour::none))
			hostile_guest_tx(q, rsp_first);
	if (q.ring.push_responses()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
	q.stats.bursts += nb_rx > 0;
	q.stats.packets += nb_rx;
	q.stats.bytes += bytes;
	return nb_rx;
}

} // namespace

extern "C" uint16_t xenback_rx_burst(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	RxQueue &q = *static_cast<RxQueue *>(queue);
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	if (likely(q.zc == nullptr))
		return rx_burst<false>(q, pkts, nb_pkts);
	/* Lent pages the application gave back: answered first, so that a
	 * guest waiting for its slots gets them even when nothing else moves. */
	const bool answered = zc_answer(q);
	const uint16_t nb_rx = rx_burst<true>(q, pkts, nb_pkts);
	if (answered)
		push_answers(q);
	return nb_rx;
}

ZeroCopy *zc_create(uint16_t port, uint16_t queue, int socket) noexcept
{
	auto *z = static_cast<ZeroCopy *>(
		rte_zmalloc_socket("xenback_zc", sizeof(ZeroCopy), RTE_CACHE_LINE_SIZE, socket));
	if (z == nullptr)
		return nullptr;
	/* Room for every slot, so that the callback's enqueue never fails
	 * (an rte_ring of size N holds N - 1). */
	const unsigned size = rte_align32pow2(ring_size + 1);
	const ssize_t bytes = rte_ring_get_memsize(size);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "xb_zc_%u_%u", port, queue);
	if (bytes > 0)
		z->done = static_cast<rte_ring *>(
			rte_zmalloc_socket(name, size_t(bytes), RTE_CACHE_LINE_SIZE, socket));
	if (z->done == nullptr || rte_ring_init(z->done, name, size, RING_F_SC_DEQ) != 0) {
		rte_free(z->done);
		rte_free(z);
		return nullptr;
	}
	z->refs = 1;
	z->iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	for (uint32_t i = 0; i < ring_size; i++) {
		ZcSlot &s = z->slots[i];
		s.shinfo.free_cb = zc_freed;
		s.shinfo.fcb_opaque = &s;
		rte_mbuf_ext_refcnt_set(&s.shinfo, 0);
		s.owner = z;
		z->free[z->nb_free++] = static_cast<uint16_t>(ring_size - 1 - i);
	}
	return z;
}

void zc_unref(ZeroCopy *z) noexcept
{
	/* Acquire-release: whoever drops the last reference sees every other
	 * holder's use of the block done. */
	if (z != nullptr && __atomic_sub_fetch(&z->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		rte_free(z->done);
		rte_free(z);
	}
}

bool zc_lent_in(ZeroCopy &z, const uint8_t *base, size_t len) noexcept
{
	for (const ZcSlot &s : z.slots) {
		const uint8_t *page = __atomic_load_n(&s.page, __ATOMIC_ACQUIRE);
		if (page != nullptr && page >= base && page < base + len)
			return true;
	}
	return false;
}

void release_rx_queue(RxQueue *q) noexcept
{
	if (q == nullptr)
		return;
	if (q->zc != nullptr) {
		rte_pktmbuf_free_bulk(q->zc->spare, q->zc->nb_spare);
		q->zc->nb_spare = 0;
	}
	zc_unref(q->zc);
	rte_free(q);
}

} // namespace xenback
