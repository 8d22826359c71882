/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Receive path: netif rx responses → mbufs.
 *
 * Every rx buffer is a whole granted page (netback fills it from offset 0),
 * granted once at queue set-up and reposted with the same grant reference.
 * A response's data is copied into the application's mbufs and its page is
 * reposted at once, so the data path makes no grant calls and holds no mbuf
 * across bursts. With rx_copybreak, a frame longer than the copy-break is
 * not copied: its pages are lent to the application as external buffers
 * and spare pages (granted with the others) are posted under the same ids
 * (xenfront_rxpages.h); lent pages come back when the application frees
 * the mbufs. Request ids map to pages through page_of[]. The backend
 * answers each request in its ring slot, in
 * order (Linux netback does, and Linux netfront finds its buffer by ring
 * position, xennet_get_rx_skb): every response slot, data or extra-info,
 * releases the buffer posted at its position, and a data response must
 * carry that buffer's id. So however a backend lies, each buffer comes back
 * exactly once and none is used while the backend still owns it. */

#include "xenfront.h"

#include <cstring>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

extern "C" {
#include <xenevtchn.h>
}

#include "xenfront_fanout.h"
#include "xenfront_logs.h"

namespace xenfront
{
namespace
{

constexpr unsigned rx_batch = 64; /* packets per bulk mbuf allocation */

/* One packet's slots, copied once out of the shared ring into the queue's
 * private `slots` array and checked there: nothing is read twice from
 * memory the backend can still write. */
struct RxPacket {
	RING_IDX first;  /* ring index of the first slot */
	RING_IDX end;    /* one past the last slot */
	uint32_t length; /* sum of the fragment sizes */
	uint16_t nb_frags;
	uint16_t nb_extras; /* extra-info slots right after the first fragment */
	bool error;         /* a fragment reported NETIF_RSP_ERROR/DROPPED */
	bool too_many;      /* more fragments than XEN_NETIF_NR_SLOTS_MIN */
	uint16_t flags;     /* NETRXF_* of the first fragment */
	uint16_t gso_size;  /* from a XEN_NETIF_EXTRA_TYPE_GSO extra, 0 if none */
	bool has_hash;      /* a XEN_NETIF_EXTRA_TYPE_HASH extra came */
	uint32_t hash;
	uint8_t fault; /* the first way the packet breaks netif.h, if any */
};

/* How a packet breaks netif.h; each has its RxStats counter. */
enum Fault : uint8_t { fault_none, fault_id, fault_status, fault_size, fault_extra, fault_chain };

inline void set_fault(RxPacket &pkt, Fault f) noexcept
{
	if (pkt.fault == fault_none)
		pkt.fault = f;
}

enum class Scan { complete, incomplete };

inline uint16_t posted_id(const RxQueue &q, RING_IDX i) noexcept
{
	return q.posted_at[i & xen::RxFrontRing::mask];
}

/* The page request id `id` posts now. */
inline uint8_t *id_page(const RxQueue &q, uint16_t id) noexcept
{
	return q.pages + size_t(q.page_of[id]) * xen::page_size;
}

inline void release_buffer(RxQueue &q, uint16_t id) noexcept
{
	q.outstanding[id] = 0;
	q.to_post[q.nb_to_post++] = id;
}

inline bool is_extra_slot(const RxPacket &pkt, unsigned k) noexcept
{
	return k >= 1 && k <= pkt.nb_extras;
}

/* Walks the packet starting at `cons`: the first fragment, its extra-info
 * slots, then fragments while NETRXF_more_data is set (netif.h "Guest
 * receive"). Incomplete when the backend has not produced all of it yet
 * (pkt.end is then prod). The packet can never outgrow the ring: i stays
 * below prod, and prod - cons is bounded by the requests posted (checked at
 * the start of the burst). */
Scan scan_packet(RxQueue &q, RING_IDX cons, RING_IDX prod, RxPacket &pkt) noexcept
{
	pkt = RxPacket{cons, cons, 0, 0, 0, false, false, 0, 0, false, 0, fault_none};
	RING_IDX i = cons;
	for (;;) {
		netif_rx_response &rsp = q.slots[i - cons];
		rsp = q.ring.copy_response(i);
		if (unlikely(rsp.id != posted_id(q, i)))
			set_fault(pkt, fault_id);
		else if (unlikely(rsp.status < 0)) {
			if (rsp.status == NETIF_RSP_ERROR || rsp.status == NETIF_RSP_DROPPED)
				pkt.error = true;
			else
				set_fault(pkt, fault_status);
		} else if (unlikely(rsp.offset + static_cast<uint32_t>(rsp.status) >
				    xen::page_size))
			set_fault(pkt, fault_size);
		else
			pkt.length += static_cast<uint32_t>(rsp.status);
		/* Linux netfront drops a packet of more than XEN_NETIF_NR_SLOTS_MIN
		 * fragments; consume the chain to its end and drop it. */
		if (unlikely(++pkt.nb_frags > XEN_NETIF_NR_SLOTS_MIN))
			pkt.too_many = true;
		uint16_t flags = rsp.flags;
		i++;
		if (i - cons == 1)
			pkt.flags = flags;
		if (i - cons == 1 && (flags & NETRXF_extra_info)) {
			bool more = true;
			while (more) {
				if (i == prod) {
					pkt.end = i;
					return Scan::incomplete;
				}
				netif_rx_response &slot = q.slots[i - cons];
				slot = q.ring.copy_response(i);
				netif_extra_info extra;
				static_assert(sizeof(extra) == sizeof(slot));
				std::memcpy(&extra, &slot, sizeof(extra));
				more = extra.flags & XEN_NETIF_EXTRA_FLAG_MORE;
				pkt.nb_extras++;
				i++;
				/* Only types our features allow, each at most once
				 * (Linux xennet_get_extras refuses unknown types), and
				 * netback never sends a GSO size of 0. */
				if (unlikely(extra.type >= 8 ||
					     !(q.rx_extras & (1u << extra.type)) ||
					     pkt.nb_extras >= XEN_NETIF_EXTRA_TYPE_MAX))
					set_fault(pkt, fault_extra);
				else if (extra.type == XEN_NETIF_EXTRA_TYPE_GSO) {
					if (unlikely(
						    extra.u.gso.size == 0 ||
						    (extra.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
						     extra.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)))
						set_fault(pkt, fault_extra);
					else
						pkt.gso_size = extra.u.gso.size;
				} else if (extra.type == XEN_NETIF_EXTRA_TYPE_HASH) {
					/* netif.h: the value's least significant byte first. */
					const uint8_t *v = extra.u.hash.value;
					pkt.hash = uint32_t(v[0]) | uint32_t(v[1]) << 8 |
						   uint32_t(v[2]) << 16 | uint32_t(v[3]) << 24;
					pkt.has_hash = true;
				}
			}
		}
		if (!(flags & NETRXF_more_data))
			break;
		if (i == prod) {
			pkt.end = i;
			return Scan::incomplete;
		}
	}
	pkt.end = i;
	return Scan::complete;
}

/* Releases every buffer of a scanned packet: the one posted at each of its
 * ring positions (outstanding by construction: positions up to req_prod_pvt
 * each hold a distinct posted id). */
void release_packet(RxQueue &q, const RxPacket &pkt) noexcept
{
	for (RING_IDX i = pkt.first; i != pkt.end; i++) {
		uint16_t id = posted_id(q, i);
		if (likely(q.outstanding[id]))
			release_buffer(q, id);
	}
	q.stats.extra_info += pkt.nb_extras;
}

void count_fault(RxQueue &q, uint8_t fault) noexcept
{
	q.stats.bad_responses++;
	switch (fault) {
	case fault_id:
		q.stats.bad_id++;
		break;
	case fault_status:
		q.stats.bad_status++;
		break;
	case fault_size:
		q.stats.bad_size++;
		break;
	case fault_extra:
		q.stats.bad_extra++;
		break;
	default:
		q.stats.bad_chain++;
		break;
	}
}

/* Copies a scanned, valid packet into `head` (chaining more mbufs when it
 * does not fit one). False if an mbuf could not be allocated. */
bool copy_packet(RxQueue &q, const RxPacket &pkt, rte_mbuf *head) noexcept
{
	rte_mbuf *seg = head;
	uint32_t room = q.data_room;
	uint8_t *dst = rte_pktmbuf_mtod(seg, uint8_t *);
	for (unsigned k = 0; k < pkt.end - pkt.first; k++) {
		if (is_extra_slot(pkt, k))
			continue;
		const netif_rx_response &rsp = q.slots[k];
		const uint8_t *src = id_page(q, rsp.id) + rsp.offset;
		uint32_t left = static_cast<uint32_t>(rsp.status);
		while (left > 0) {
			if (room == 0) {
				rte_mbuf *next = rte_pktmbuf_alloc(q.mp);
				if (unlikely(next == nullptr))
					return false;
				seg->next = next;
				head->nb_segs++;
				seg = next;
				room = q.data_room;
				dst = rte_pktmbuf_mtod(seg, uint8_t *);
			}
			uint32_t n = RTE_MIN(left, room);
			rte_memcpy(dst, src, n);
			dst += n;
			src += n;
			left -= n;
			room -= n;
			seg->data_len = static_cast<uint16_t>(seg->data_len + n);
		}
	}
	head->pkt_len = pkt.length;
	head->port = q.port_id;
	return true;
}

/* Posts the first `n` ids of to_post[] with their grant references and
 * keeps the rest at the front of the list. */
void post_buffers(RxQueue &q, uint16_t n) noexcept
{
	for (uint16_t k = 0; k < n; k++) {
		uint16_t id = q.to_post[k];
		if (unlikely(q.page_of[id] >= q.nb_desc) && q.nb_home > 0) {
			/* A spare page (rx_copybreak) taken when no home page was
			 * there: back to its stack, and a home page posted in its
			 * place, so that the ring returns to the home pages. */
			q.spare_extra[q.nb_extra++] = q.page_of[id];
			q.page_of[id] = q.spare_home[--q.nb_home];
		}
		RING_IDX pos = q.ring.req_prod_pvt();
		netif_rx_request *req = q.ring.next_request();
		req->id = id;
		req->gref = q.grefs[q.page_of[id]];
		q.posted_at[pos & xen::RxFrontRing::mask] = id;
		q.outstanding[id] = 1;
	}
	q.nb_to_post = static_cast<uint16_t>(q.nb_to_post - n);
	for (uint16_t k = 0; k < q.nb_to_post; k++)
		q.to_post[k] = q.to_post[n + k];
}

/* IPv4 header checksum, verified in software (netif says nothing of it). */
uint64_t ipv4_header_check(const rte_mbuf *m) noexcept
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t l2 = RTE_ETHER_HDR_LEN;
	uint16_t type = static_cast<uint16_t>(p[12] << 8 | p[13]);
	if (type == RTE_ETHER_TYPE_VLAN && m->data_len >= l2 + 4) {
		type = static_cast<uint16_t>(p[16] << 8 | p[17]);
		l2 += 4;
	}
	if (type != RTE_ETHER_TYPE_IPV4 || m->data_len < l2 + sizeof(rte_ipv4_hdr))
		return RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
	const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(p + l2);
	uint32_t hlen = rte_ipv4_hdr_len(ip);
	if (hlen < sizeof(rte_ipv4_hdr) || m->data_len < l2 + hlen)
		return RTE_MBUF_F_RX_IP_CKSUM_BAD;
	return rte_raw_cksum(ip, hlen) == 0xffff ? RTE_MBUF_F_RX_IP_CKSUM_GOOD
						 : RTE_MBUF_F_RX_IP_CKSUM_BAD;
}

/* netif's receive flags as DPDK's: data_validated means the backend (or
 * whoever handed it the packet) verified the L4 checksum: GOOD; csum_blank
 * means the L4 checksum field holds only the pseudo-header sum of a packet
 * whose integrity is known (Linux CHECKSUM_PARTIAL): NONE, never GOOD, as
 * DPDK's virtio PMD reports VIRTIO_NET_HDR_F_NEEDS_CSUM. A GSO extra marks a
 * coalesced packet: LRO with its segment size. */
void set_rx_offload_flags(const RxQueue &q, const RxPacket &pkt, rte_mbuf *m) noexcept
{
	uint64_t ol = 0;
	if (q.l4_csum) {
		if (pkt.flags & NETRXF_csum_blank)
			ol |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		else if (pkt.flags & NETRXF_data_validated)
			ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	}
	if (q.ipv4_csum)
		ol |= ipv4_header_check(m);
	if (pkt.gso_size) {
		ol |= RTE_MBUF_F_RX_LRO;
		m->tso_segsz = pkt.gso_size;
	}
	if (pkt.has_hash && q.rss_hash) {
		m->hash.rss = pkt.hash;
		ol |= RTE_MBUF_F_RX_RSS_HASH;
	}
	m->ol_flags |= ol;
}

/* Reposts the released buffers (as many as the ring has room for: a backend
 * that answered more than it was given leaves the rest for later). */
void repost(RxQueue &q) noexcept
{
	uint16_t n = RTE_MIN(q.nb_to_post, static_cast<uint16_t>(q.ring.free_requests()));
	post_buffers(q, n);
	if (n > 0 && q.ring.push_requests()) {
		xenevtchn_notify(q.notify.handle, q.notify.port);
		q.stats.notifications++;
	}
}

void mark_broken(RxQueue &q, const char *why, RING_IDX value) noexcept
{
	q.stats.bad_responses++;
	q.stats.ring_overrun++;
	if (!q.broken)
		XF_DRV_LOG(ERR, "xenfront", "port %u rx queue %u: %s (%u); queue stopped",
			   q.port_id, q.queue_id, why, value);
	q.broken = true;
}

/* The page of the buffer posted at ring position `i`, for a prefetch: the
 * backend fills it from offset 0, and it is ours whatever the response says. */
inline const uint8_t *posted_page(const RxQueue &q, RING_IDX i) noexcept
{
	return id_page(q, posted_id(q, i));
}

inline unsigned nb_spares(const RxQueue &q) noexcept
{
	return unsigned(q.nb_home) + q.nb_extra;
}

inline void put_spare(RxQueue &q, uint16_t page) noexcept
{
	if (page < q.nb_desc)
		q.spare_home[q.nb_home++] = page;
	else
		q.spare_extra[q.nb_extra++] = page;
}

/* A spare page, a home page if there is one (the caller made sure there
 * is a spare). */
inline uint16_t take_spare(RxQueue &q) noexcept
{
	return likely(q.nb_home > 0) ? q.spare_home[--q.nb_home] : q.spare_extra[--q.nb_extra];
}

/* Takes back the pages the application freed: the shinfo free callback
 * (xenfront_rxpages.cc) queued their addresses, from whatever lcore freed
 * the mbuf. Returns the spare pages there are now. */
uint16_t take_returned(RxQueue &q) noexcept
{
	void *addrs[rx_batch];
	unsigned n;
	do {
		n = rte_ring_sc_dequeue_burst(q.returned, addrs, rx_batch, nullptr);
		for (unsigned k = 0; k < n; k++) {
			/* Only our callback queues, with the address we lent;
			 * checked all the same, so that nothing but a page of the
			 * block is ever posted, and none twice over. */
			const uintptr_t off = reinterpret_cast<uintptr_t>(addrs[k]) -
					      reinterpret_cast<uintptr_t>(q.pages);
			const uintptr_t page = off / xen::page_size;
			if (likely(off % xen::page_size == 0 && page < q.nb_pages &&
				   nb_spares(q) < unsigned(q.nb_pages - q.nb_desc)))
				put_spare(q, static_cast<uint16_t>(page));
		}
	} while (n == rx_batch);
	return static_cast<uint16_t>(nb_spares(q));
}

/* Lends the page of a checked data response (id posted at its position,
 * offset + size within the page) to `m` as an external buffer, and gives
 * the id a spare page for its next posting. The shinfo is the page's own,
 * in private memory. The caller made sure a spare is there. */
inline void lend_page(RxQueue &q, const netif_rx_response &rsp, rte_mbuf *m) noexcept
{
	const uint16_t page = q.page_of[rsp.id];
	uint8_t *addr = q.pages + size_t(page) * xen::page_size;
	rte_mbuf_ext_shared_info *shinfo = &q.shinfo[page];
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(
		m, addr,
		q.iova_va ? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(addr))
			  : RTE_BAD_IOVA,
		xen::page_size, shinfo);
	m->data_off = rsp.offset;
	m->data_len = static_cast<uint16_t>(rsp.status);
	q.page_of[rsp.id] = take_spare(q);
	q.lent++;
}

/* Lends every page of a scanned, valid packet, one external-buffer segment
 * per data fragment (extra-info slots and empty fragments have none): a
 * jumbo frame over feature-sg, or an LRO packet, is not copied either.
 * False with nothing changed if spare pages or mbufs are short; the caller
 * then copies the packet. */
bool lend_packet(RxQueue &q, const RxPacket &pkt, rte_mbuf *head) noexcept
{
	unsigned nb_data = 0;
	for (unsigned k = 0; k < pkt.end - pkt.first; k++)
		nb_data += !is_extra_slot(pkt, k) && q.slots[k].status > 0;
	/* scan_packet let through at most XEN_NETIF_NR_SLOTS_MIN fragments. */
	rte_mbuf *segs[XEN_NETIF_NR_SLOTS_MIN];
	if (unlikely(nb_data == 0 || nb_data > RTE_DIM(segs)))
		return false;
	if (nb_spares(q) < nb_data && take_returned(q) < nb_data) {
		q.stats.copybreak_fallback++;
		return false;
	}
	segs[0] = head;
	if (nb_data > 1 && rte_pktmbuf_alloc_bulk(q.mp, segs + 1, nb_data - 1) != 0)
		return false;
	unsigned s = 0;
	for (unsigned k = 0; k < pkt.end - pkt.first; k++) {
		if (is_extra_slot(pkt, k) || q.slots[k].status <= 0)
			continue;
		lend_page(q, q.slots[k], segs[s]);
		if (s > 0)
			segs[s - 1]->next = segs[s];
		s++;
	}
	head->nb_segs = static_cast<uint16_t>(nb_data);
	head->pkt_len = pkt.length;
	head->port = q.port_id;
	q.stats.attached++;
	return true;
}

/* Prefetches the page of the buffer posted at ring position `i`, unless its
 * response (a hint, read again when used) says it will be lent, not read. */
inline void prefetch_posted(const RxQueue &q, RING_IDX i) noexcept
{
	if (q.copybreak != copybreak_off &&
	    static_cast<uint32_t>(q.ring.copy_response(i).status) > q.copybreak)
		return;
	rte_prefetch0(posted_page(q, i));
}

/* The common packet: one slot, no extra info, no error, fits one mbuf (or
 * is lent in its page). The response is copied out of the ring once and
 * checked as scan_packet checks it (id posted at that position, offset +
 * size within the page, length within the frame); anything else takes the
 * general path. */
inline bool rx_single_slot(RxQueue &q, RING_IDX cons, RING_IDX prod, rte_mbuf *m,
			   uint32_t max_frame) noexcept
{
	const netif_rx_response rsp = q.ring.copy_response(cons);
	const uint16_t id = posted_id(q, cons);
	if (unlikely(rsp.id != id || rsp.status <= 0 ||
		     (rsp.flags & (NETRXF_more_data | NETRXF_extra_info)) ||
		     rsp.offset + static_cast<uint32_t>(rsp.status) > xen::page_size ||
		     static_cast<uint32_t>(rsp.status) > max_frame))
		return false;
	const uint16_t len = static_cast<uint16_t>(rsp.status);
	const bool lend = len > q.copybreak && (nb_spares(q) > 0 || take_returned(q) > 0);
	/* Longer than an mbuf: chained by the general path (which counts a
	 * copy-break fallback). */
	if (!lend && len > q.data_room)
		return false;
	if (cons + 1 != prod)
		prefetch_posted(q, cons + 1);
	if (lend) {
		lend_page(q, rsp, m);
		q.stats.attached++;
	} else {
		q.stats.copybreak_fallback += len > q.copybreak;
		rte_memcpy(rte_pktmbuf_mtod(m, uint8_t *), id_page(q, id) + rsp.offset, len);
		m->data_len = len;
	}
	m->pkt_len = len;
	m->port = q.port_id;
	if (unlikely((rsp.flags & (NETRXF_csum_blank | NETRXF_data_validated)) || q.ipv4_csum)) {
		RxPacket pkt{};
		pkt.flags = rsp.flags;
		set_rx_offload_flags(q, pkt, m);
		q.stats.csum_blank += (rsp.flags & NETRXF_csum_blank) != 0;
	}
	release_buffer(q, id);
	return true;
}

uint16_t rx_batch_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts, RING_IDX prod) noexcept
{
	RING_IDX cons = q.ring.rsp_cons();
	unsigned avail = prod - cons;
	uint16_t want = static_cast<uint16_t>(RTE_MIN(static_cast<unsigned>(nb_pkts), avail));
	rte_mbuf *heads[rx_batch];
	if (unlikely(rte_pktmbuf_alloc_bulk(q.mp, heads, want) != 0)) {
		q.stats.mbuf_alloc_failed += want;
		return 0;
	}
	uint16_t nb_rx = 0;
	uint16_t used = 0;
	uint64_t bytes = 0;
	const uint32_t max_frame = queue_max_frame(q);
	prefetch_posted(q, cons);
	while (cons != prod && used < want) {
		if (likely(rx_single_slot(q, cons, prod, heads[used], max_frame))) {
			bytes += heads[used]->pkt_len;
			pkts[nb_rx++] = heads[used++];
			cons++;
			continue;
		}
		RxPacket pkt;
		if (scan_packet(q, cons, prod, pkt) == Scan::incomplete) {
			/* Wait for the rest, unless the backend has answered every
			 * buffer we posted: then it never can (Linux netfront: "Need
			 * more slots"). Drop what there is. */
			if (prod != q.ring.req_prod_pvt())
				break;
			set_fault(pkt, fault_chain);
		}
		/* A coalesced (GSO) packet may exceed the MTU when LRO is on. */
		uint32_t max_len = pkt.gso_size && q.lro ? xen::max_packet_size : max_frame;
		if (likely(pkt.fault == fault_none && !pkt.error && !pkt.too_many &&
			   pkt.length <= max_len && pkt.length > 0)) {
			if (pkt.end != prod) {
				/* The next packet's data, while we copy this one. */
				netif_rx_response next = q.ring.copy_response(pkt.end);
				rte_prefetch0(posted_page(q, pkt.end) +
					      (next.offset & (xen::page_size - 1)));
			}
			rte_mbuf *m = heads[used];
			const bool lent = pkt.length > q.copybreak && lend_packet(q, pkt, m);
			if (unlikely(!lent && !copy_packet(q, pkt, m))) {
				/* Keep the head for reuse, free the chained segments. */
				if (m->next != nullptr)
					rte_pktmbuf_free(m->next);
				rte_pktmbuf_reset(m);
				q.stats.mbuf_alloc_failed++;
				break;
			}
			if (pkt.flags & (NETRXF_csum_blank | NETRXF_data_validated) ||
			    pkt.gso_size || pkt.has_hash || q.ipv4_csum) {
				set_rx_offload_flags(q, pkt, m);
				q.stats.gso_packets += pkt.gso_size != 0;
				q.stats.csum_blank += (pkt.flags & NETRXF_csum_blank) != 0;
			}
			used++;
			pkts[nb_rx++] = m;
			bytes += pkt.length;
		} else if (pkt.fault != fault_none) {
			count_fault(q, pkt.fault);
		} else if (pkt.too_many) {
			q.stats.too_many_slots++;
		} else if (pkt.error || pkt.length == 0) {
			q.stats.errors++;
		} else {
			q.stats.oversize++;
		}
		release_packet(q, pkt);
		cons = pkt.end;
	}
	q.ring.set_rsp_cons(cons);
	if (q.lent > 0) {
		/* One reference on the page block per lent page, taken before the
		 * application can free any of them (the callback drops it).
		 * Relaxed: the mbufs reach whoever frees them through this
		 * thread's later release (a ring, a return). */
		__atomic_fetch_add(q.lent_refs, q.lent, __ATOMIC_RELAXED);
		q.lent = 0;
	}
	if (used < want)
		rte_pktmbuf_free_bulk(heads + used, want - used);
	q.stats.packets += nb_rx;
	q.stats.bytes += bytes;
	return nb_rx;
}

} // namespace

void rx_queue_reset(RxQueue &q) noexcept
{
	/* The caller formatted the shared ring; post every buffer. */
	q.nb_to_post = 0;
	for (uint16_t id = 0; id < q.nb_desc; id++) {
		q.outstanding[id] = 0;
		q.to_post[q.nb_to_post++] = id;
	}
	q.broken = false;
	post_buffers(q, q.nb_to_post);
	q.ring.push_requests();
}

void rx_pages_init(RxQueue &q, uint16_t nb_pages) noexcept
{
	q.nb_pages = nb_pages;
	for (uint16_t id = 0; id < q.nb_desc; id++)
		q.page_of[id] = id;
	q.nb_home = 0;
	q.nb_extra = 0;
	for (uint16_t p = q.nb_desc; p < nb_pages; p++)
		put_spare(q, p);
	q.copybreak = copybreak_off;
	q.lent = 0;
	q.lent_refs = nullptr;
	q.returned = nullptr;
	q.shinfo = nullptr;
}

uint16_t ring_rx_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	xen::BurstGuard guard(q.sync);
	if (unlikely(!guard.usable() || q.broken))
		return 0;
	RING_IDX prod = q.ring.rsp_prod();
	if (prod == q.ring.rsp_cons())
		return 0;
	if (unlikely(q.ring.rsp_prod_past_requests(prod))) {
		mark_broken(q, "backend's response producer index is past the buffers posted",
			    prod);
		return 0;
	}
	/* Pages freed since the last burst back among the spares, so that home
	 * pages are there to post first (with static_grants, the backend maps
	 * only those). */
	if (q.returned != nullptr)
		take_returned(q);
	uint16_t nb_rx = 0;
	while (nb_rx < nb_pkts && q.ring.rsp_cons() != prod) {
		uint16_t n = static_cast<uint16_t>(RTE_MIN(nb_pkts - nb_rx, rx_batch));
		uint16_t got = rx_batch_burst(q, pkts + nb_rx, n, prod);
		nb_rx += got;
		if (got < n)
			break;
	}
	repost(q);
	q.stats.bursts += nb_rx > 0;
	return nb_rx;
}

namespace
{

/* A queue that also receives the rings no application queue polls: each
 * burst reads its own ring and theirs, starting one ring further each
 * time, so that a busy ring never starves another. Only this queue's lcore
 * reads those rings. */
uint16_t rx_burst_with_unpolled(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	const unsigned nb_rings = q.nb_unpolled + 1u;
	const unsigned first = q.unpolled_turn;
	q.unpolled_turn = static_cast<uint8_t>(first + 1 == nb_rings ? 0 : first + 1);
	uint16_t nb_rx = 0;
	for (unsigned k = 0; k < nb_rings && nb_rx < nb_pkts; k++) {
		unsigned r = first + k;
		if (r >= nb_rings)
			r -= nb_rings;
		if (r == 0) {
			nb_rx += ring_rx_burst(q, pkts + nb_rx, nb_pkts - nb_rx);
			continue;
		}
		uint16_t got = ring_rx_burst(*q.unpolled[r - 1], pkts + nb_rx, nb_pkts - nb_rx);
		q.stats.unpolled_packets += got;
		nb_rx += got;
	}
	return nb_rx;
}

} // namespace

extern "C" uint16_t xenfront_rx_burst(void *queue, rte_mbuf **pkts, uint16_t nb_pkts)
{
	RxQueue &q = *static_cast<RxQueue *>(queue);
	if (unlikely(q.fanout != nullptr))
		return fanout_rx_burst(q, pkts, nb_pkts);
	if (unlikely(q.nb_unpolled != 0))
		return rx_burst_with_unpolled(q, pkts, nb_pkts);
	return ring_rx_burst(q, pkts, nb_pkts);
}

} // namespace xenfront
