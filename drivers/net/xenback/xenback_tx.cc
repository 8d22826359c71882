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

/* The request slot that carries data slot `k` of packet `s`. */
RING_IDX data_slot(const Sent &s, unsigned k)
{
	return s.first + k + (k > 0 ? s.nb_extras : 0);
}

/* Segments copying `m` into the buffers of its data slots. */
void plan_copy(TxQueue &q, const rte_mbuf *m, Sent &s, unsigned &nb_segs) noexcept
{
	const rte_mbuf *seg = m;
	const uint8_t *src = rte_pktmbuf_mtod(seg, const uint8_t *);
	uint32_t seg_left = seg->data_len;
	uint32_t left = m->pkt_len;
	for (unsigned k = 0; left > 0; k++) {
		netif_rx_request req = q.ring.copy_request(data_slot(s, k));
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

/* The extras after a packet's first response, in the slots of the requests
 * they consumed (netif.h "Extra Info"): GSO, then hash, as netback orders
 * them. A failed packet answers those slots as errors of their own. */
void write_extras(TxQueue &q, const Sent &s, bool ok) noexcept
{
	unsigned left = s.nb_extras;
	RING_IDX slot = s.first + 1;
	auto put = [&](const netif_extra_info &extra) {
		left--;
		if (!ok) {
			netif_rx_request req = q.ring.copy_request(slot++);
			*q.ring.next_response() = netif_rx_response{req.id, 0, 0, NETIF_RSP_ERROR};
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

/* A packet's hash for the guest (XEN_NETIF_EXTRA_TYPE_HASH), if any. */
struct HashInfo {
	uint32_t value;
	uint8_t type;
	bool valid;
};

/* Sends what it can of `pkts` on guest queue `q` (its lock held); returns
 * how many it consumed, from the front. */
uint16_t send_on(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts, const HashInfo *hashes) noexcept
{
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
	/* The common packet first: one mbuf segment that fits one page, no
	 * offload to do, no hash to hand over, no coalescing. One request,
	 * one copy segment, one response; anything else, or a full ring,
	 * goes to the general loop below. The budgets (sent, done, segs) of a
	 * batch cover max_batch such packets. */
	unsigned mapped = 0;
	uint64_t bytes = 0;
	unsigned packets = 0;
	const RING_IDX rsp_first = q.ring.rsp_prod_pvt();
	if (hashes == nullptr && !q.rsc) {
		static_assert(max_batch <= RTE_DIM(sent) && max_batch <= max_copy_segs);
		const GrefTable *grefs = published_grefs(q.grefs);
		while (nb_tx < limit && cons != prod) {
			rte_mbuf *m = pkts[nb_tx];
			const uint32_t len = m->pkt_len;
			if (unlikely((m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) ||
				     m->nb_segs != 1 || len == 0 || len > xen::page_size))
				break;
			const netif_rx_request req = q.ring.copy_request(cons);
			uint8_t *page =
				grefs != nullptr ? gref_lookup(*grefs, req.gref, true) : nullptr;
			if (page != nullptr && nb_sent == 0) {
				/* A static grant, and every response before it
				 * written: copy and answer now (responses go in
				 * request order, netif.h "Guest receive"). */
				rte_memcpy(page, rte_pktmbuf_mtod(m, const uint8_t *), len);
				netif_rx_response *rsp = q.ring.next_response();
				rsp->id = req.id;
				rsp->offset = 0;
				rsp->flags = 0;
				rsp->status = static_cast<int16_t>(len);
				mapped++;
				packets++;
				bytes += len;
				cons++;
				done[nb_done++] = m;
				nb_tx++;
				continue;
			}
			if (page != nullptr) {
				/* A static grant after a grant copy: copy now,
				 * answer in turn. */
				rte_memcpy(page, rte_pktmbuf_mtod(m, const uint8_t *), len);
				mapped++;
			} else {
				xengnttab_grant_copy_segment_t &g = q.segs[nb_segs];
				g.source.virt = rte_pktmbuf_mtod(m, uint8_t *);
				g.dest.foreign.ref = req.gref;
				g.dest.foreign.offset = 0;
				g.dest.foreign.domid = q.guest;
				g.len = static_cast<uint16_t>(len);
				g.flags = GNTCOPY_dest_gref;
				g.status = GNTST_okay;
			}
			sent[nb_sent++] = Sent{cons,
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
			cons++;
			done[nb_done++] = m;
			nb_tx++;
		}
	}
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
			unsigned slots = (len + xen::page_size - 1) / xen::page_size + 2;
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
			need += slots + (prep.gso_type != XEN_NETIF_GSO_TYPE_NONE) +
				(hashes != nullptr && hashes[nb_tx].valid);
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
				bool hash = hashes != nullptr && hashes[nb_tx].valid;
				unsigned data =
					(part->pkt_len + xen::page_size - 1) / xen::page_size;
				s = Sent{cons,
					 static_cast<uint16_t>(data),
					 static_cast<uint8_t>(gso + hash),
					 prep.gso_type,
					 prep.gso_size,
					 hash,
					 hash ? hashes[nb_tx].type : uint8_t(0),
					 hash ? hashes[nb_tx].value : 0,
					 segmented ? uint16_t(0) : prep.rsp_flags,
					 static_cast<uint16_t>(nb_segs),
					 0,
					 part->pkt_len,
					 0};
				plan_copy(q, part, s, nb_segs);
				s.nb_segs = static_cast<uint16_t>(nb_segs - s.first_seg);
				cons += data + s.nb_extras;
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
	if (nb_sent > 0 || packets > 0) {
		if (nb_segs > 0 && xengnttab_grant_copy(q.gnttab, nb_segs, q.segs) != 0)
			for (unsigned k = 0; k < nb_segs; k++)
				q.segs[k].status = GNTST_general_error;
		for (unsigned k = 0; k < nb_sent; k++) {
			const Sent &s = sent[k];
			if (likely(s.nb_data == 1 && s.nb_extras == 0 && s.nb_segs <= 1)) {
				/* One slot, one copy (none: a static grant): its
				 * response. */
				const bool ok =
					s.nb_segs == 0 || q.segs[s.first_seg].status == GNTST_okay;
				netif_rx_response *rsp = q.ring.next_response();
				rsp->id = s.first_id;
				rsp->offset = 0;
				rsp->flags = ok ? s.rsp_flags : 0;
				rsp->status = ok ? static_cast<int16_t>(s.len) : NETIF_RSP_ERROR;
				q.stats.copy_errors += !ok;
				packets += ok;
				bytes += ok ? s.len : 0;
				continue;
			}
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
					flags |=
						s.rsp_flags | (s.nb_extras ? NETRXF_extra_info : 0);
				rsp->flags = flags;
				rsp->status = ok ? static_cast<int16_t>(chunk) : NETIF_RSP_ERROR;
				if (d == 0 && s.nb_extras)
					write_extras(q, s, ok);
			}
			if (ok) {
				packets++;
				bytes += s.len;
			}
		}
		q.ring.set_req_cons(cons);
		if constexpr (hostile_hooks)
			if (unlikely(q.hostile.behaviour != HostileBehaviour::none))
				hostile_guest_rx(q, rsp_first);
		if (q.ring.push_responses()) {
			xenevtchn_notify(q.notify.handle, q.notify.port);
			q.stats.notifications++;
		}
		q.stats.bursts += packets > 0;
		q.stats.mapped_copies += mapped;
		q.stats.packets += packets;
		q.stats.bytes += bytes;
	}
	if (arm_for > 0 && q.interrupt_style)
		q.ring.request_event_after(arm_for);
	xen::free_mbufs(done, nb_done);
	return nb_tx;
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
