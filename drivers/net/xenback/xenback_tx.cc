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
#include <rte_memcpy.h>

extern "C" {
#include <xenevtchn.h>
}

#include "mbuf_free.h"
#include "net_headers.h"
#include "xenback_gso.h"
#include "xenback_logs.h"
#include "xenback_rsc.h"
#include "toeplitz.h"

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
	RING_IDX first;    /* first request slot */
	uint16_t nb_data;  /* data slots */
	uint8_t nb_extras; /* extra slots after the first: GSO, then hash */
	uint8_t gso_type;  /* XEN_NETIF_GSO_TYPE_NONE: no GSO extra */
	uint16_t gso_size;
	bool hash; /* a XEN_NETIF_EXTRA_TYPE_HASH extra */
	uint8_t hash_type;
	uint32_t hash_value;
	uint16_t rsp_flags; /* NETRXF_csum_blank | NETRXF_data_validated */
	uint16_t first_seg;
	uint16_t nb_segs;
	uint32_t len;
	uint16_t first_id; /* id of the first data slot's request */
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

/* A packet's hash for the guest (XEN_NETIF_EXTRA_TYPE_HASH), if any. */
struct HashInfo {
	uint32_t value;
	uint8_t type;
	bool valid;
};

constexpr unsigned max_sent = max_batch + 2 * max_soft_segments;
constexpr unsigned max_done = 2 * max_batch + 2 * max_soft_segments;

/* One send_on: the requests it took, what it sends and what it owes. Each
 * request is copied out of the ring once (take()) and its id kept here for
 * its response: the frontend may rewrite the ring meanwhile. The counters
 * are copied into the queue's stats once, at the end (publish()). */
struct Burst {
	RING_IDX prod;
	RING_IDX start; /* req_cons when the burst began: ids[] counts from it */
	RING_IDX cons;  /* next request to take */
	uint16_t limit; /* packets it may consume */
	uint16_t nb_tx = 0;
	unsigned nb_sent = 0;
	unsigned nb_done = 0;
	unsigned nb_segs = 0; /* q.segs[] planned */
	unsigned arm_for = 0; /* slots to wait for, in interrupt style */
	unsigned mapped = 0;
	unsigned packets = 0;
	uint64_t bytes = 0;
	const HashInfo *hashes; /* one per packet, or nullptr */
	Sent sent[max_sent];
	rte_mbuf *done[max_done];        /* consumed: freed once the copy has read them */
	uint16_t ids[xen::rx_ring_size]; /* ids of the requests taken, from start */
};

/* Request `slot`, copied out of the ring once, its id kept for its response. */
netif_rx_request take(TxQueue &q, Burst &b, RING_IDX slot) noexcept
{
	const netif_rx_request req = q.ring.copy_request(slot);
	b.ids[slot - b.start] = req.id;
	return req;
}

/* The request slot that carries data slot `k` of packet `s`. */
RING_IDX data_slot(const Sent &s, unsigned k)
{
	return s.first + k + (k > 0 ? s.nb_extras : 0);
}

/* Takes the requests of `m`'s data slots and plans the segments copying it
 * into their buffers. */
void plan_copy(TxQueue &q, Burst &b, const rte_mbuf *m, Sent &s) noexcept
{
	const rte_mbuf *seg = m;
	const uint8_t *src = rte_pktmbuf_mtod(seg, const uint8_t *);
	uint32_t seg_left = seg->data_len;
	uint32_t left = m->pkt_len;
	for (unsigned k = 0; left > 0; k++) {
		const netif_rx_request req = take(q, b, data_slot(s, k));
		if (k == 0)
			s.first_id = req.id;
		uint32_t offset = 0;
		uint32_t chunk = RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
		while (offset < chunk) {
			while (seg_left == 0) {
				seg = seg->next;
				src = rte_pktmbuf_mtod(seg, const uint8_t *);
				seg_left = seg->data_len;
			}
			uint32_t n = RTE_MIN(chunk - offset, seg_left);
			xengnttab_grant_copy_segment_t &g = q.segs[b.nb_segs++];
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

/* The extras after a packet's first response, in the slots of the requests
 * they consumed (netif.h "Extra Info"): GSO, then hash, as netback orders
 * them. A failed packet answers those slots as errors of their own. */
void write_extras(TxQueue &q, const Burst &b, const Sent &s, bool ok) noexcept
{
	unsigned left = s.nb_extras;
	RING_IDX slot = s.first + 1;
	auto put = [&](const netif_extra_info &extra) {
		left--;
		if (!ok) {
			*q.ring.next_response() =
				netif_rx_response{b.ids[slot++ - b.start], 0, 0, NETIF_RSP_ERROR};
			return;
		}
		netif_extra_info e = extra;
		e.flags = left ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
		std::memcpy(q.ring.next_response(), &e, sizeof(e));
		slot++;
	};
	if (s.gso_type != XEN_NETIF_GSO_TYPE_NONE) {
		netif_extra_info extra{};
		extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
		extra.u.gso.size = s.gso_size;
		extra.u.gso.type = s.gso_type;
		put(extra);
	}
	if (s.hash) {
		netif_extra_info extra{};
		extra.type = XEN_NETIF_EXTRA_TYPE_HASH;
		extra.u.hash.type = s.hash_type;
		extra.u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
		for (int b = 0; b < 4; b++) /* least significant byte first */
			extra.u.hash.value[b] = static_cast<uint8_t>(s.hash_value >> (8 * b));
		put(extra);
		q.stats.hash_extras += ok;
	}
}

/* The copy of one-segment `m` into the whole buffer granted as `gref`. */
void plan_segment(const TxQueue &q, xengnttab_grant_copy_segment_t &g, rte_mbuf *m,
		  grant_ref_t gref) noexcept
{
	g.source.virt = rte_pktmbuf_mtod(m, uint8_t *);
	g.dest.foreign.ref = gref;
	g.dest.foreign.offset = 0;
	g.dest.foreign.domid = q.guest;
	g.len = static_cast<uint16_t>(m->pkt_len);
	g.flags = GNTCOPY_dest_gref;
	g.status = GNTST_okay;
}

/* What send_simple takes: one mbuf segment within a page, no offload. */
bool simple(const rte_mbuf *m) noexcept
{
	return !(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) && m->nb_segs == 1 && m->pkt_len != 0 &&
	       m->pkt_len <= xen::page_size;
}

/* The common packet first, when there is no hash to hand over and no
 * coalescing: one request, one copy segment (none: a static grant), one
 * response. Stops at anything else, or a full ring, for send_one. The
 * burst's budgets (sent, done, segs) cover max_batch such packets. Its
 * state stays in locals, written back once. */
void send_simple(TxQueue &q, Burst &b, rte_mbuf **pkts) noexcept
{
	static_assert(max_batch <= max_sent && max_batch <= max_done && max_batch <= max_copy_segs);
	const GrefTable *grefs = published_grefs(q.grefs);
	RING_IDX cons = b.cons;
	uint16_t nb_tx = b.nb_tx;
	unsigned nb_sent = b.nb_sent;
	unsigned nb_segs = b.nb_segs;
	unsigned nb_done = b.nb_done;
	unsigned mapped = 0;
	unsigned packets = 0;
	uint64_t bytes = 0;
	const RING_IDX prod = b.prod;
	const uint16_t limit = b.limit;
	while (nb_tx < limit && cons != prod) {
		rte_mbuf *m = pkts[nb_tx];
		if (unlikely(!simple(m)))
			break;
		const uint32_t len = m->pkt_len;
		const netif_rx_request req = q.ring.copy_request(cons);
		uint8_t *page = grefs != nullptr ? gref_lookup(*grefs, req.gref, true) : nullptr;
		if (page != nullptr) {
			rte_memcpy(page, rte_pktmbuf_mtod(m, const uint8_t *), len);
			mapped++;
		}
		if (page != nullptr && nb_sent == 0) {
			/* Written, and every response before it too: answer
			 * now (responses go in request order, netif.h "Guest
			 * receive"). */
			netif_rx_response *rsp = q.ring.next_response();
			rsp->id = req.id;
			rsp->offset = 0;
			rsp->flags = 0;
			rsp->status = static_cast<int16_t>(len);
			packets++;
			bytes += len;
		} else {
			/* Answered in turn, after the grant copy. */
			if (page == nullptr)
				plan_segment(q, q.segs[nb_segs], m, req.gref);
			b.sent[nb_sent++] = Sent{cons,
						 1,
						 0,
						 XEN_NETIF_GSO_TYPE_NONE,
						 0,
						 false,
						 0,
						 0,
						 0,
						 static_cast<uint16_t>(nb_segs),
						 static_cast<uint16_t>(page == nullptr),
						 len,
						 req.id};
			nb_segs += page == nullptr;
		}
		cons++;
		b.done[nb_done++] = m;
		nb_tx++;
	}
	b.cons = cons;
	b.nb_done = nb_done;
	b.mapped += mapped;
	b.packets += packets;
	b.bytes += bytes;
	b.nb_tx = nb_tx;
	b.nb_sent = nb_sent;
	b.nb_segs = nb_segs;
}

/* One packet of the general path: `orig` is the application's; `m`, what
 * is sent, may be a private copy whose headers we may change; `parts`,
 * segments of it made here (else parts[0] is m). */
struct Outgoing {
	rte_mbuf *orig;
	rte_mbuf *m;
	Prepared prep;
	unsigned nb_parts = 1;
	bool segmented = false;
	bool refused = false; /* offloads that cannot be done */
	rte_mbuf *parts[max_soft_segments];
};

/* Receive segment coalescing: the run of segments at pkts[b.nb_tx] merged
 * into its first, if the ring and the burst's budgets take the result (once
 * merged there is no going back; the others ride in its chain). Returns the
 * packets it stands for. */
unsigned coalesce(TxQueue &q, const Burst &b, rte_mbuf **pkts) noexcept
{
	rte_mbuf **run_start = pkts + b.nb_tx;
	if (!q.rsc || !q.guest_sg || (run_start[0]->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK))
		return 1;
	uint32_t len;
	const unsigned run = rsc_run_length(run_start, b.limit - b.nb_tx, q.guest_gso_v4,
					    q.guest_gso_v6, len, q.stats.rsc);
	const unsigned slots = (len + xen::page_size - 1) / xen::page_size + 2;
	unsigned copies = slots;
	for (unsigned k = 0; k < run; k++)
		copies += run_start[k]->nb_segs;
	if (run > 1 && slots <= b.prod - b.cons && b.nb_segs + copies <= max_copy_segs &&
	    b.nb_done + 2 <= max_done && rsc_merge(run_start, run, q.stats.rsc))
		return run;
	return 1;
}

/* TSO the guest cannot take, segmented here into o.parts. False: not in
 * this burst (no room in its budgets, or no mbufs). */
bool segment_here(const Burst &b, Outgoing &o, const xen::NetHeaders &h) noexcept
{
	rte_mbuf *m = o.m;
	const uint32_t hdr = h.l2_len + h.l3_len + h.l4_len;
	const unsigned count =
		m->pkt_len > hdr ? (m->pkt_len - hdr + m->tso_segsz - 1) / m->tso_segsz : 0;
	if (count == 0 || count > max_soft_segments) {
		o.refused = true;
		return true;
	}
	if (count > max_sent - b.nb_sent || b.nb_done + count + 2 > max_done)
		return false;
	const int n = segment_tcp(m, h, m->tso_segsz, m->pool, o.parts, count);
	if (n < 0)
		return false;
	o.nb_parts = static_cast<unsigned>(n);
	o.segmented = n > 0;
	return true;
}

/* The offloads o.orig asks for, done on o.m (a private copy when its
 * headers are not writable). False: stop the burst before this packet
 * (no mbufs, or no room for its segments). */
bool prepare(TxQueue &q, const Burst &b, Outgoing &o) noexcept
{
	const uint64_t ol = o.orig->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK;
	if (!ol)
		return true;
	xen::NetHeaders h;
	o.refused = (ol & ~handled_offloads) || !xen::parse_net_headers(o.orig, h);
	if (!o.refused && !xen::headers_writable(o.orig, h)) {
		rte_mbuf *copy = rte_pktmbuf_copy(o.orig, o.orig->pool, 0, UINT32_MAX);
		if (copy == nullptr)
			return false;
		o.m = copy;
	}
	o.refused = o.refused || !prepare_offloads(q, o.m, h, o.prep);
	if (o.refused || !o.prep.segment)
		return true;
	return segment_here(b, o, h);
}

/* Slots and copy segments o's parts take (a part's copy: at most one
 * segment per slot plus one per mbuf segment); false if the guest cannot
 * take one at all (empty, too large, several slots without feature-sg). */
bool measure(const TxQueue &q, const Outgoing &o, bool hash, unsigned &need,
	     unsigned &copies) noexcept
{
	need = 0;
	copies = 0;
	for (unsigned k = 0; k < o.nb_parts; k++) {
		const uint32_t len = o.parts[k]->pkt_len;
		const unsigned slots = (len + xen::page_size - 1) / xen::page_size;
		need += slots + (o.prep.gso_type != XEN_NETIF_GSO_TYPE_NONE) + hash;
		copies += slots + o.parts[k]->nb_segs;
		if (len == 0 || len > xen::max_packet_size || (slots > 1 && !q.guest_sg))
			return false;
	}
	return true;
}

/* Takes the requests of each part of `o`, data and extras, and plans its
 * copy. */
void plan_parts(TxQueue &q, Burst &b, const Outgoing &o, const HashInfo *hash) noexcept
{
	const bool gso = o.prep.gso_type != XEN_NETIF_GSO_TYPE_NONE;
	const bool hashed = hash != nullptr && hash->valid;
	for (unsigned k = 0; k < o.nb_parts; k++) {
		const rte_mbuf *part = o.parts[k];
		Sent &s = b.sent[b.nb_sent++];
		const unsigned data = (part->pkt_len + xen::page_size - 1) / xen::page_size;
		s = Sent{b.cons,
			 static_cast<uint16_t>(data),
			 static_cast<uint8_t>(gso + hashed),
			 o.prep.gso_type,
			 o.prep.gso_size,
			 hashed,
			 hashed ? hash->type : uint8_t(0),
			 hashed ? hash->value : 0,
			 o.segmented ? uint16_t(0) : o.prep.rsp_flags,
			 static_cast<uint16_t>(b.nb_segs),
			 0,
			 part->pkt_len,
			 0};
		plan_copy(q, b, part, s);
		for (unsigned e = 1; e <= s.nb_extras; e++)
			take(q, b, s.first + e);
		s.nb_segs = static_cast<uint16_t>(b.nb_segs - s.first_seg);
		b.cons += data + s.nb_extras;
	}
	q.stats.gso_packets += gso;
	q.stats.segmented += o.segmented ? o.nb_parts : 0;
}

/* Our own copies of a packet left to the application (it keeps orig). */
void release(const Outgoing &o) noexcept
{
	if (o.segmented)
		rte_pktmbuf_free_bulk(const_cast<rte_mbuf **>(o.parts), o.nb_parts);
	if (o.m != o.orig)
		rte_pktmbuf_free(o.m);
}

/* A consumed packet and our copies of it, freed once the grant copy has
 * read them. */
void retire(Burst &b, const Outgoing &o) noexcept
{
	if (o.segmented)
		for (unsigned k = 0; k < o.nb_parts; k++)
			b.done[b.nb_done++] = o.parts[k];
	if (o.m != o.orig)
		b.done[b.nb_done++] = o.m;
	b.done[b.nb_done++] = o.orig;
}

/* The general path, one packet (or coalesced run) at pkts[b.nb_tx]:
 * offloads, room, then its requests taken, or a counted drop. False: the
 * burst stops before it (budgets, ring or mbufs exhausted) and the
 * application keeps it as it came. */
bool send_one(TxQueue &q, Burst &b, rte_mbuf **pkts) noexcept
{
	if (b.nb_done + 2 > max_done || b.nb_sent == max_sent)
		return false;
	const unsigned merged = coalesce(q, b, pkts);
	Outgoing o;
	o.orig = o.m = pkts[b.nb_tx];
	if (!prepare(q, b, o)) {
		release(o);
		return false;
	}
	if (!o.segmented)
		o.parts[0] = o.m;
	const HashInfo *hash = b.hashes != nullptr ? &b.hashes[b.nb_tx] : nullptr;
	unsigned need = 0;
	unsigned copies = 0;
	const bool fits = !o.refused && measure(q, o, hash != nullptr && hash->valid, need, copies);
	if (fits && (need > b.prod - b.cons || b.nb_segs + copies > max_copy_segs)) {
		q.stats.ring_full++;
		b.arm_for = need;
		release(o);
		return false;
	}
	if (fits)
		plan_parts(q, b, o, hash);
	else if (o.refused)
		q.stats.offload_refused++;
	else
		q.stats.dropped++;
	retire(b, o);
	b.nb_tx = static_cast<uint16_t>(b.nb_tx + merged);
	return true;
}

/* The response of a one-slot packet with at most one copy segment; true
 * if its copy succeeded. */
bool answer_simple(TxQueue &q, const Sent &s) noexcept
{
	const bool ok = s.nb_segs == 0 || q.segs[s.first_seg].status == GNTST_okay;
	netif_rx_response *rsp = q.ring.next_response();
	rsp->id = s.first_id;
	rsp->offset = 0;
	rsp->flags = ok ? s.rsp_flags : 0;
	rsp->status = ok ? static_cast<int16_t>(s.len) : NETIF_RSP_ERROR;
	q.stats.copy_errors += !ok;
	return ok;
}

/* The responses of any other packet: each data slot's in its request's
 * position with the bytes it holds, the extras after the first; true if
 * its copy succeeded. */
bool answer_slots(TxQueue &q, const Burst &b, const Sent &s) noexcept
{
	bool ok = true;
	for (unsigned g = s.first_seg; g < s.first_seg + s.nb_segs; g++)
		if (unlikely(q.segs[g].status != GNTST_okay)) {
			ok = false;
			q.stats.copy_errors++;
		}
	uint32_t left = s.len;
	for (unsigned d = 0; d < s.nb_data; d++) {
		const uint32_t chunk = RTE_MIN(left, static_cast<uint32_t>(xen::page_size));
		left -= chunk;
		netif_rx_response *rsp = q.ring.next_response();
		rsp->id = b.ids[data_slot(s, d) - b.start];
		rsp->offset = 0;
		uint16_t flags = ok && left > 0 ? NETRXF_more_data : 0;
		if (d == 0 && ok)
			flags |= s.rsp_flags | (s.nb_extras ? NETRXF_extra_info : 0);
		rsp->flags = flags;
		rsp->status = ok ? static_cast<int16_t>(chunk) : NETIF_RSP_ERROR;
		if (d == 0 && s.nb_extras)
			write_extras(q, b, s, ok);
	}
	return ok;
}

/* The grant copy of the whole burst, then every planned packet's
 * responses in request order. */
void answer(TxQueue &q, Burst &b) noexcept
{
	if (b.nb_segs > 0 && xengnttab_grant_copy(q.gnttab, b.nb_segs, q.segs) != 0)
		for (unsigned k = 0; k < b.nb_segs; k++)
			q.segs[k].status = GNTST_general_error;
	unsigned packets = 0;
	uint64_t bytes = 0;
	for (unsigned k = 0; k < b.nb_sent; k++) {
		const Sent &s = b.sent[k];
		const bool ok = likely(s.nb_data == 1 && s.nb_extras == 0 && s.nb_segs <= 1)
					? answer_simple(q, s)
					: answer_slots(q, b, s);
		packets += ok;
		bytes += ok ? s.len : 0;
	}
	b.packets += packets;
	b.bytes += bytes;
}

/* Consumes the requests taken, publishes the responses (kicking the
 * frontend if it asked, netif.h RING_PUSH_RESPONSES_AND_CHECK_NOTIFY) and
 * counts the burst. */
void publish(TxQueue &q, const Burst &b, RING_IDX rsp_first) noexcept
{
	q.ring.set_req_cons(b.cons);
	if constexpr (hostile_hooks)
		if (unlikely(q.hostile.behaviour != HostileBehaviour::none))
			hostile_guest_rx(q, rsp_first);
	if (q.ring.push_responses()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
	q.stats.bursts += b.packets > 0;
	q.stats.mapped_copies += b.mapped;
	q.stats.packets += b.packets;
	q.stats.bytes += b.bytes;
}

/* Sends what it can of `pkts` on guest queue `q` (its lock held); returns
 * how many it consumed, from the front. */
uint16_t send_on(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts, const HashInfo *hashes) noexcept
{
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	Burst b;
	b.prod = q.ring.req_prod();
	if (unlikely(q.ring.req_prod_overflow(b.prod))) {
		fatal(q, "rx request producer index ran past the ring", b.prod);
		return 0;
	}
	b.start = b.cons = q.ring.req_cons();
	b.limit = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	b.hashes = hashes;
	const RING_IDX rsp_first = q.ring.rsp_prod_pvt();
	if (hashes == nullptr && !q.rsc)
		send_simple(q, b, pkts);
	while (b.nb_tx < b.limit && send_one(q, b, pkts)) {
	}
	if (b.nb_sent > 0 || b.packets > 0) {
		answer(q, b);
		publish(q, b, rsp_first);
	}
	if (b.arm_for > 0 && q.interrupt_style)
		q.ring.request_event_after(b.arm_for);
	xen::free_mbufs(b.done, b.nb_done);
	return b.nb_tx;
}

/* Several guest queues and no hashing set: netback's xenvif_select_queue
 * then takes netdev_pick_tx, which spreads flows by the kernel's flow hash
 * (skb_tx_hash: skb_get_hash scaled to the queue count). Each packet goes
 * to the queue its flow hash picks, each target's packets in one send in
 * their order; what a full guest ring did not take is handed back at the
 * end of `pkts`, in order, for the application to retry, as the bonding
 * PMD's balance mode does (so a flow stays in order). */
uint16_t send_by_flow(TxQueue &q, const Steering &st, uint32_t nb_queues, rte_mbuf **pkts,
		      uint16_t nb_pkts) noexcept
{
	const uint16_t n = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	uint8_t target[max_batch];
	uint32_t targets = 0; /* bit t: some packet goes to queue t */
	for (uint16_t i = 0; i < n; i++) {
		/* reciprocal_scale(), as skb_tx_hash */
		const uint64_t h = xen::flow_hash(pkts[i], st.flow_seed);
		target[i] = static_cast<uint8_t>((h * nb_queues) >> 32);
		targets |= 1u << target[i];
	}
	rte_mbuf *group[max_batch];
	uint16_t index[max_batch];
	bool sent[max_batch];
	uint16_t nb_sent = 0;
	for (uint32_t t = 0; t < nb_queues; t++) {
		if (!(targets & (1u << t)))
			continue;
		uint16_t g = 0;
		for (uint16_t i = 0; i < n; i++)
			if (target[i] == t) {
				index[g] = i;
				group[g++] = pkts[i];
			}
		TxQueue &tq = *st.queues[t];
		rte_spinlock_lock(&tq.lock);
		const uint16_t done = send_on(tq, group, g, nullptr);
		rte_spinlock_unlock(&tq.lock);
		for (uint16_t k = 0; k < g; k++)
			sent[index[k]] = k < done;
		nb_sent += done;
		if (t != q.queue_id)
			q.stats.steered += done;
	}
	q.stats.flow_hashed += nb_sent;
	if (nb_sent == n)
		return n;
	/* Consumed first (their order no longer matters), then the rest. */
	rte_mbuf *rest[max_batch];
	uint16_t w = 0, r = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (sent[i])
			pkts[w++] = pkts[i];
		else
			rest[r++] = pkts[i];
	}
	std::memcpy(pkts + w, rest, r * sizeof(rest[0]));
	return w;
}

/* Filtering on (the guest asked, xenback_mcast.h): drops the multicast
 * frames among the first max_batch of `pkts` whose address the guest did
 * not list, as netback's xenvif_start_xmit; broadcast passes. The dropped
 * go to the front of `pkts` (consumed, freed), the others keep their order
 * after them; returns how many were dropped. */
uint16_t filter_multicast(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	const uint16_t n = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	rte_mbuf *kept[max_batch];
	uint16_t nb_kept = 0;
	uint16_t nb_dropped = 0;
	for (uint16_t i = 0; i < n; i++) {
		rte_mbuf *m = pkts[i];
		bool drop = false;
		if (m->data_len >= RTE_ETHER_ADDR_LEN) {
			const auto *dst = rte_pktmbuf_mtod(m, const rte_ether_addr *);
			drop = rte_is_multicast_ether_addr(dst) &&
			       !rte_is_broadcast_ether_addr(dst) &&
			       !mcast_match(*q.mcast, mcast_key(dst->addr_bytes));
		}
		if (drop)
			pkts[nb_dropped++] = m; /* nb_dropped <= i: not read again */
		else
			kept[nb_kept++] = m;
	}
	if (nb_dropped == 0)
		return 0;
	std::memcpy(pkts + nb_dropped, kept, nb_kept * sizeof(kept[0]));
	rte_pktmbuf_free_bulk(pkts, nb_dropped);
	q.stats.multicast_filtered += nb_dropped;
	return nb_dropped;
}

uint16_t send_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept;

} // namespace

/* The application's transmit: multicast the guest did not ask for is
 * dropped first (one flag read when it asked for no filtering), then
 * send_burst. */
extern "C" uint16_t xenback_tx_burst(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	TxQueue &q = *static_cast<TxQueue *>(queue);
	if (likely(!__atomic_load_n(&q.mcast->enabled, __ATOMIC_RELAXED)))
		return send_burst(q, pkts, nb_pkts);
	const uint16_t dropped = filter_multicast(q, pkts, nb_pkts);
	return static_cast<uint16_t>(
		dropped + send_burst(q, pkts + dropped, static_cast<uint16_t>(nb_pkts - dropped)));
}

namespace
{

/* Sends on this queue's guest ring, or on the guest
 * queue netback's xenvif_select_queue would pick: with the guest's Toeplitz
 * hashing on, the one each packet's hash maps to, with a hash extra for it
 * (steered packets are all consumed; those a full guest ring cannot take
 * are dropped and counted, as netback drops when a guest queue stalls);
 * with several guest queues and no hashing, the one its flow hash picks
 * (send_by_flow). */
uint16_t send_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	xen::ReadGuard reading(q.steer_epoch); /* the hash copy read below */
	Steering *st = q.steering;
	uint32_t nb_queues = st ? __atomic_load_n(&st->nb_queues, __ATOMIC_ACQUIRE) : 0;
	const HashConfig *cfg = nb_queues ? &published(st->hash) : nullptr;
	/* One guest queue: nobody else writes its ring, no lock. With several,
	 * another lcore may steer into this ring at any time (the guest can
	 * turn hashing on while we run), so its writers take its lock, as
	 * netdev's queue lock orders netback's transmitters. */
	const bool hashing =
		cfg != nullptr && cfg->algorithm == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	if (likely(nb_queues <= 1 && !hashing))
		return send_on(q, pkts, nb_pkts, nullptr);
	if (!hashing)
		return send_by_flow(q, *st, nb_queues, pkts, nb_pkts);
	if (q.queue_id >= nb_queues) {
		rte_spinlock_lock(&q.lock);
		uint16_t n = send_on(q, pkts, nb_pkts, nullptr);
		rte_spinlock_unlock(&q.lock);
		return n;
	}
	const uint16_t n = RTE_MIN(nb_pkts, static_cast<uint16_t>(max_batch));
	HashInfo hashes[max_batch];
	uint8_t target[max_batch];
	for (uint16_t i = 0; i < n; i++) {
		uint8_t buf[xen::toeplitz_max_input];
		uint8_t type = 0;
		size_t len = xen::hash_input(pkts[i], cfg->types, buf, type);
		hashes[i] = HashInfo{0, type, len > 0};
		if (len > 0)
			hashes[i].value = cfg->table.hash(buf, len);
		/* netback's xenvif_select_queue: a packet no hash type applies
		 * to has its hash cleared (0), so mapping[0] names its queue. */
		target[i] = static_cast<uint8_t>(
			nb_queues > 1 ? steer(*cfg, hashes[i].value, nb_queues) : q.queue_id);
	}
	/* Each target's packets in their order, one locked send per target. */
	rte_mbuf *group[max_batch];
	HashInfo group_hashes[max_batch];
	for (uint32_t t = 0; t < nb_queues; t++) {
		uint16_t g = 0;
		for (uint16_t i = 0; i < n; i++)
			if (target[i] == t) {
				group[g] = pkts[i];
				group_hashes[g++] = hashes[i];
			}
		if (g == 0)
			continue;
		TxQueue &tq = *st->queues[t];
		rte_spinlock_lock(&tq.lock);
		uint16_t sent = send_on(tq, group, g, group_hashes);
		rte_spinlock_unlock(&tq.lock);
		if (t != q.queue_id)
			q.stats.steered += sent;
		if (sent < g) {
			q.stats.steer_dropped += g - sent;
			rte_pktmbuf_free_bulk(group + sent, g - sent);
		}
	}
	return n;
}

} // namespace
} // namespace xenback
