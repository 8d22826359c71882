/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Fuzzes net_xenfront's transmit path (xenfront_tx_burst): mbuf chains of
 * any shape go out, and responses come back from a backend that is honest
 * (every request answered once, in any order, as Linux netback completes)
 * or hostile (ids never issued, answered twice, NULL for a real request,
 * statuses out of range, a producer index that jumps). After every burst:
 * every mbuf is back in the pool, the requests written describe exactly the
 * bytes of the packets accepted, and each id is free or in flight, exactly
 * once.
 *
 * Half the inputs register the pool's memory as granted (xenfront_granted.h,
 * fake grant references), so that packets of zero_copy_break bytes or more
 * go without a copy: their requests then name that memory, and the mbufs
 * held for them are the only ones out of the pool between bursts. */

#include <cstdlib>
#include <deque>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_common.h"
#include "xenfront.h"

using xenfront::TxQueue;

/* Fake grant references of the pool's memory: region r, page i has
 * granted_gref0 + r * granted_stride + i. */
constexpr uint32_t granted_gref0 = 1000000;
constexpr uint32_t granted_stride = 1000000;

namespace
{

constexpr unsigned pool_size = 4096;
constexpr uint16_t data_room = 2048;
rte_mempool *pool;

/* The pool's memory chunks as page-aligned granted regions. */
struct Region {
	uintptr_t base;
	uint32_t nb_pages;
	std::vector<uint32_t> grefs;
};
std::vector<Region> pool_regions;

void find_pool_regions()
{
	rte_mempool_memhdr *hdr;
	STAILQ_FOREACH(hdr, &pool->mem_list, next)
	{
		if (pool_regions.size() == xenfront::max_granted_regions)
			break;
		uintptr_t start =
			reinterpret_cast<uintptr_t>(hdr->addr) & ~uintptr_t(xen::page_size - 1);
		uintptr_t end = RTE_ALIGN_CEIL(reinterpret_cast<uintptr_t>(hdr->addr) + hdr->len,
					       uintptr_t(xen::page_size));
		Region r{start, static_cast<uint32_t>((end - start) / xen::page_size), {}};
		for (uint32_t i = 0; i < r.nb_pages; i++)
			r.grefs.push_back(
				granted_gref0 +
				static_cast<uint32_t>(pool_regions.size()) * granted_stride + i);
		pool_regions.push_back(std::move(r));
	}
}

/* Where a request's data is: its id's slot (copied: the grant of the slot's
 * page, the slot's offset in it) or granted memory. */
const uint8_t *request_data(const TxQueue &q, const uint8_t *pages, const netif_tx_request &r)
{
	if (r.gref < granted_gref0) {
		const size_t at = size_t(r.id) * q.slot_size;
		FUZZ_CHECK(r.gref == 2000u + at / xen::page_size);
		FUZZ_CHECK(r.offset == at % xen::page_size);
		return pages + at;
	}
	FUZZ_CHECK(r.gref >= granted_gref0);
	uint32_t ri = (r.gref - granted_gref0) / granted_stride;
	uint32_t page = (r.gref - granted_gref0) % granted_stride;
	FUZZ_CHECK(ri < pool_regions.size() && page < pool_regions[ri].nb_pages);
	return reinterpret_cast<const uint8_t *>(pool_regions[ri].base) +
	       size_t(page) * xen::page_size + r.offset;
}

/* Mbufs (segments) the queue holds for zero-copy requests. */
unsigned held_mbufs(const TxQueue &q)
{
	unsigned n = 0;
	for (const rte_mbuf *m : q.held)
		for (; m != nullptr; m = m->next)
			n++;
	return n;
}

struct Harness {
	TxQueue *q = nullptr;
	netif_tx_sring *sring = nullptr;
	uint8_t *pages = nullptr;
	RING_IDX back_cons = 0;       /* requests the backend has read */
	std::deque<uint16_t> pending; /* ids read and not yet answered */
	xenfront::Adapter adapter{};

	Harness(uint16_t nb_desc, uint32_t max_frame, bool sg, uint16_t slot_size, bool granted)
	{
		q = static_cast<TxQueue *>(std::aligned_alloc(64, sizeof(TxQueue)));
		std::memset(static_cast<void *>(q), 0, sizeof(TxQueue));
		sring = static_cast<netif_tx_sring *>(std::aligned_alloc(4096, 4096));
		std::memset(sring, 0, 4096);
		pages = static_cast<uint8_t *>(
			std::aligned_alloc(4096, size_t(nb_desc) * xen::page_size));
		q->pages = pages;
		q->nb_desc = nb_desc;
		q->slot_size = slot_size;
		q->max_frame = max_frame;
		q->sg = sg;
		rte_spinlock_init(&adapter.granted.lock);
		q->granted = &adapter.granted;
		if (granted)
			for (const Region &r : pool_regions)
				FUZZ_CHECK(xenfront::register_granted_region(
						   adapter, reinterpret_cast<const void *>(r.base),
						   r.nb_pages, r.grefs.data()) == 0);
		/* As setup_tx_queue: one grant per page, shared by its ids. */
		for (uint16_t i = 0; i < nb_desc; i++)
			q->grefs[i] = 2000u + uint32_t(i) * slot_size / xen::page_size;
		q->ring.init(sring);
		xenfront::tx_queue_reset(*q);
		xen::queue_sync_init(q->sync, 1);
		xen::queue_publish(q->sync, 2);
	}
	~Harness()
	{
		/* As the port's stop does once the backend has closed. */
		xenfront::tx_queue_release_held(*q);
		FUZZ_CHECK(rte_mempool_in_use_count(pool) == 0);
		std::free(pages);
		std::free(sring);
		std::free(q);
	}
	RING_IDX rsp_prod() const { return __atomic_load_n(&sring->rsp_prod, __ATOMIC_RELAXED); }
	void set_rsp_prod(RING_IDX v) { __atomic_store_n(&sring->rsp_prod, v, __ATOMIC_RELEASE); }
	netif_tx_response &rsp(RING_IDX i) { return sring->ring[i & 255].rsp; }
	const netif_tx_request &req(RING_IDX i) { return sring->ring[i & 255].req; }
};

void check_bookkeeping(const TxQueue &q)
{
	FUZZ_CHECK(q.nb_free <= q.nb_desc);
	std::vector<uint8_t> seen(q.nb_desc, 0);
	for (unsigned k = 0; k < q.nb_free; k++) {
		uint16_t id = q.free_ids[k];
		FUZZ_CHECK(id < q.nb_desc && !seen[id] && !q.inflight[id]);
		seen[id] = 1;
	}
	unsigned inflight = 0;
	for (unsigned id = 0; id < q.nb_desc; id++)
		inflight += q.inflight[id];
	FUZZ_CHECK(inflight + q.nb_free == q.nb_desc);
	if (!q.broken)
		FUZZ_CHECK(q.ring.req_prod_pvt() - q.ring.rsp_cons() <= xen::tx_ring_size);
}

rte_mbuf *make_packet(FuzzedDataProvider &in, std::vector<uint8_t> &bytes)
{
	unsigned nb_segs = in.ConsumeIntegralInRange<unsigned>(1, 40);
	rte_mbuf *head = nullptr;
	rte_mbuf *tail = nullptr;
	bytes.clear();
	for (unsigned s = 0; s < nb_segs; s++) {
		rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == nullptr)
			break;
		uint16_t len = in.ConsumeIntegralInRange<uint16_t>(0, data_room);
		uint8_t fill = in.ConsumeIntegral<uint8_t>();
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		for (uint16_t k = 0; k < len; k++)
			d[k] = static_cast<uint8_t>(fill + k);
		bytes.insert(bytes.end(), d, d + len);
		m->data_len = len;
		if (head == nullptr) {
			head = m;
			head->pkt_len = 0;
			head->nb_segs = 0;
		} else {
			tail->next = m;
		}
		tail = m;
		head->pkt_len += len;
		head->nb_segs++;
	}
	return head;
}

/* The requests written since `from` describe the accepted packets: the
 * first slot's size is the packet, each later slot its chunk, and the
 * pages hold the packet's bytes. */
void check_requests(Harness &h, RING_IDX from, const std::vector<std::vector<uint8_t>> &sent)
{
	RING_IDX i = from;
	for (const auto &bytes : sent) {
		FUZZ_CHECK(i != h.q->ring.req_prod_pvt());
		/* The packet's slots; the first's own data is what the others
		 * leave of its size. */
		std::vector<netif_tx_request> slots;
		bool more = true;
		while (more) {
			FUZZ_CHECK(i != h.q->ring.req_prod_pvt());
			netif_tx_request r = h.req(i++);
			FUZZ_CHECK(r.id < h.q->nb_desc && h.q->inflight[r.id]);
			FUZZ_CHECK(!(r.flags & NETTXF_extra_info));
			FUZZ_CHECK(slots.size() < xen::max_tx_slots_per_packet);
			slots.push_back(r);
			more = r.flags & NETTXF_more_data;
		}
		FUZZ_CHECK(slots[0].size == bytes.size());
		size_t rest = 0;
		for (size_t s = 1; s < slots.size(); s++)
			rest += slots[s].size;
		FUZZ_CHECK(rest < bytes.size());
		size_t off = 0;
		for (size_t s = 0; s < slots.size(); s++) {
			const netif_tx_request &r = slots[s];
			size_t chunk = s == 0 ? bytes.size() - rest : r.size;
			FUZZ_CHECK(chunk > 0 || bytes.size() == 0);
			FUZZ_CHECK(r.offset + chunk <= xen::page_size);
			FUZZ_CHECK(std::memcmp(request_data(*h.q, h.pages, r), bytes.data() + off,
					       chunk) == 0);
			off += chunk;
		}
		FUZZ_CHECK(off == bytes.size());
	}
	FUZZ_CHECK(i == h.q->ring.req_prod_pvt());
}

void burst(Harness &h, FuzzedDataProvider &in)
{
	unsigned n = in.ConsumeIntegralInRange<unsigned>(1, 40);
	rte_mbuf *pkts[40];
	std::vector<std::vector<uint8_t>> bytes(n);
	unsigned made = 0;
	for (; made < n && in.remaining_bytes() > 0; made++) {
		pkts[made] = make_packet(in, bytes[made]);
		if (pkts[made] == nullptr)
			break;
	}
	if (made == 0)
		return;
	RING_IDX from = h.q->ring.req_prod_pvt();
	bool was_broken = h.q->broken;
	uint16_t sent = xenfront::xenfront_tx_burst(h.q, pkts, static_cast<uint16_t>(made));
	FUZZ_CHECK(sent <= made);
	rte_pktmbuf_free_bulk(pkts + sent, made - sent);
	FUZZ_CHECK(rte_mempool_in_use_count(pool) == held_mbufs(*h.q));
	check_bookkeeping(*h.q);
	if (was_broken) {
		FUZZ_CHECK(sent == 0 && h.q->ring.req_prod_pvt() == from);
		return;
	}
	/* What the queue accepted and did not refuse (runts, oversize,
	 * multi-slot without feature-sg) went on the ring, in order. */
	std::vector<std::vector<uint8_t>> on_ring;
	for (unsigned k = 0; k < sent; k++) {
		size_t len = bytes[k].size();
		size_t slots = (len + h.q->slot_size - 1) / h.q->slot_size;
		if (len < RTE_ETHER_HDR_LEN || len > h.q->max_frame || len > xen::max_packet_size ||
		    (slots > 1 && !h.q->sg) || slots > xen::max_tx_slots_per_packet)
			continue;
		on_ring.push_back(bytes[k]);
	}
	check_requests(h, from, on_ring);
}

/* Reads the requests published since the last look. */
void read_requests(Harness &h)
{
	RING_IDX prod = __atomic_load_n(&h.sring->req_prod, __ATOMIC_ACQUIRE);
	if (prod - h.back_cons > xen::tx_ring_size)
		h.back_cons = prod - xen::tx_ring_size;
	for (; h.back_cons != prod; h.back_cons++)
		h.pending.push_back(h.req(h.back_cons).id);
}

void honest(Harness &h, FuzzedDataProvider &in)
{
	read_requests(h);
	unsigned n =
		in.ConsumeIntegralInRange<unsigned>(0, static_cast<unsigned>(h.pending.size()));
	RING_IDX prod = h.rsp_prod();
	for (unsigned k = 0; k < n && !h.pending.empty(); k++) {
		/* Any order: pick one of the first few pending. */
		size_t pick = in.ConsumeIntegralInRange<size_t>(
			0, std::min<size_t>(h.pending.size() - 1, 7));
		netif_tx_response &o = h.rsp(prod++);
		o.id = h.pending[pick];
		o.status = in.ConsumeBool() ? NETIF_RSP_OKAY : NETIF_RSP_ERROR;
		h.pending.erase(h.pending.begin() + static_cast<long>(pick));
	}
	h.set_rsp_prod(prod);
}

void hostile(Harness &h, FuzzedDataProvider &in)
{
	read_requests(h);
	RING_IDX at = h.rsp_prod() + in.ConsumeIntegralInRange<int>(-4, 4);
	unsigned n = in.ConsumeIntegralInRange<unsigned>(1, 16);
	for (unsigned k = 0; k < n; k++) {
		netif_tx_response &o = h.rsp(at + k);
		switch (in.ConsumeIntegralInRange<int>(0, 3)) {
		case 0: /* an id answered again, or never issued */
			o.id = in.ConsumeIntegralInRange<uint16_t>(0, 300);
			o.status = NETIF_RSP_OKAY;
			break;
		case 1: /* NULL for a real request */
			if (!h.pending.empty()) {
				h.pending.pop_front();
			}
			o.id = in.ConsumeIntegral<uint16_t>();
			o.status = NETIF_RSP_NULL;
			break;
		case 2: /* a real request, a status out of range */
			if (!h.pending.empty()) {
				o.id = h.pending.front();
				h.pending.pop_front();
			}
			o.status = in.ConsumeIntegral<int16_t>();
			break;
		default:
			o.id = in.ConsumeIntegral<uint16_t>();
			o.status = in.ConsumeIntegral<int16_t>();
			break;
		}
	}
	if (in.ConsumeBool())
		h.set_rsp_prod(at + n);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	pool = fuzz::init_eal_and_pool("fuzz_tx", pool_size, data_room);
	find_pool_regions();
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	uint16_t nb_desc = in.ConsumeIntegralInRange<uint16_t>(1, 256);
	uint32_t max_frame = in.ConsumeIntegralInRange<uint32_t>(60, 70000);
	const bool sg = in.ConsumeBool();
	/* Half-page slots, or a page each (a backend known to lack
	 * feature-sg); half pages without feature-sg too (features not yet
	 * known at queue set-up). */
	const uint16_t slot_size =
		sg || in.ConsumeBool() ? xenfront::tx_slot_size : uint16_t(xen::page_size);
	Harness h(nb_desc, max_frame, sg, slot_size, in.ConsumeBool());
	while (in.remaining_bytes() > 0) {
		switch (in.ConsumeIntegralInRange<int>(0, 4)) {
		case 0:
		case 1:
			burst(h, in);
			break;
		case 2:
			honest(h, in);
			break;
		case 3:
			hostile(h, in);
			break;
		default:
			h.set_rsp_prod(h.rsp_prod() + in.ConsumeIntegral<int16_t>());
			break;
		}
	}
	check_bookkeeping(*h.q);
	/* Liveness: once an honest backend answers what it has read and the
	 * queue reclaims, every id is free again, or the queue has stopped
	 * (an answer was lost); never a silent leak of ids. */
	if (!h.q->broken && !h.pending.empty()) {
		RING_IDX prod = h.rsp_prod();
		if (prod - h.q->ring.rsp_cons() <= xen::tx_ring_size) {
			read_requests(h);
			while (!h.pending.empty()) {
				netif_tx_response &o = h.rsp(prod++);
				o.id = h.pending.front();
				o.status = NETIF_RSP_OKAY;
				h.pending.pop_front();
			}
			h.set_rsp_prod(prod);
		}
	}
	xenfront::xenfront_tx_burst(h.q, nullptr, 0);
	check_bookkeeping(*h.q);
	if (!h.q->broken && h.q->ring.rsp_cons() == h.q->ring.req_prod_pvt()) {
		FUZZ_CHECK(h.q->nb_free == h.q->nb_desc);
		FUZZ_CHECK(held_mbufs(*h.q) == 0);
	}
	return 0;
}
