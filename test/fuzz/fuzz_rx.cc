/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Fuzzes net_xenfront's receive path (xenfront_rx_burst) as a hostile
 * backend would drive it: an RxQueue in ordinary memory, its ring formatted
 * on a page we allocate, its "granted" buffer pages in one heap block (so
 * that ASan sees any access past them), and responses, extra-info chains
 * and producer indices chosen by the input, interleaved with honest
 * responses and bursts. After every burst: the packets returned are sane,
 * every mbuf is back in the pool, and each buffer id is either posted
 * exactly once or waiting to be, never both. Inputs with an odd number of
 * descriptors also lend pages (rx_copybreak, at max_frame % 2048), with as
 * many spares: then every page is posted, spare or given back, once. */

#include <cstdlib>
#include <new>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include <rte_ring.h>

#include "fuzz_common.h"
#include "xenfront.h"

using xenfront::RxQueue;

namespace
{

constexpr unsigned pool_size = 2048;
rte_mempool *pool;

/* What RxPages (xenfront_rxpages.cc) does when the application frees a
 * lent page: queue it for the queue, drop its reference. */
void page_freed(void *addr, void *opaque)
{
	auto *q = static_cast<RxQueue *>(opaque);
	FUZZ_CHECK(rte_ring_mp_enqueue(q->returned, addr) == 0);
	__atomic_fetch_sub(q->lent_refs, 1, __ATOMIC_ACQ_REL);
}

struct Harness {
	RxQueue *q = nullptr;
	netif_rx_sring *sring = nullptr;
	uint8_t *pages = nullptr;
	uint16_t nb_pages = 0;
	rte_mbuf_ext_shared_info *shinfo = nullptr;
	rte_ring *returned = nullptr;
	uint32_t refs = 1;

	Harness(uint16_t nb_desc, uint32_t max_frame, uint16_t data_room, uint8_t extras)
	{
		const bool lend = nb_desc % 2 == 1;
		nb_pages = static_cast<uint16_t>(lend ? 2 * nb_desc : nb_desc);
		q = static_cast<RxQueue *>(std::aligned_alloc(64, sizeof(RxQueue)));
		std::memset(static_cast<void *>(q), 0, sizeof(RxQueue));
		sring = static_cast<netif_rx_sring *>(std::aligned_alloc(4096, 4096));
		std::memset(sring, 0, 4096);
		pages = static_cast<uint8_t *>(
			std::aligned_alloc(4096, size_t(nb_pages) * xen::page_size));
		std::memset(pages, 0xa5, size_t(nb_pages) * xen::page_size);
		q->pages = pages;
		q->mp = pool;
		q->nb_desc = nb_desc;
		q->data_room = data_room;
		q->max_frame = max_frame;
		q->rx_extras = extras;
		q->port_id = 3;
		for (uint16_t i = 0; i < nb_pages; i++)
			q->grefs[i] = 1000u + i;
		xenfront::rx_pages_init(*q, nb_pages);
		if (lend) {
			shinfo = new rte_mbuf_ext_shared_info[nb_pages];
			for (uint16_t i = 0; i < nb_pages; i++)
				shinfo[i] = {page_freed, q, 0};
			unsigned size = rte_align32pow2(nb_pages + 1u);
			returned = static_cast<rte_ring *>(
				std::aligned_alloc(64, RTE_ALIGN(rte_ring_get_memsize(size), 64)));
			rte_ring_init(returned, "fuzz_returned", size, RING_F_SC_DEQ);
			q->copybreak = max_frame % 2048;
			q->shinfo = shinfo;
			q->returned = returned;
			q->lent_refs = &refs;
		}
		q->ring.init(sring);
		xenfront::rx_queue_reset(*q);
		xen::queue_sync_init(q->sync, 1);
		xen::queue_publish(q->sync, 2);
	}
	~Harness()
	{
		delete[] shinfo;
		std::free(returned);
		std::free(pages);
		std::free(sring);
		std::free(q);
	}

	RING_IDX rsp_prod() const { return __atomic_load_n(&sring->rsp_prod, __ATOMIC_RELAXED); }
	void set_rsp_prod(RING_IDX v) { __atomic_store_n(&sring->rsp_prod, v, __ATOMIC_RELEASE); }
	netif_rx_response &rsp(RING_IDX i) { return sring->ring[i & 255].rsp; }
	const netif_rx_request &req(RING_IDX i) { return sring->ring[i & 255].req; }
};

constexpr unsigned max_rx_pages_in_check = xenfront::max_rx_pages;

/* Each id is posted (outstanding) or waiting in to_post, exactly once. */
void check_bookkeeping(const RxQueue &q)
{
	FUZZ_CHECK(q.nb_to_post <= q.nb_desc);
	std::vector<uint8_t> seen(q.nb_desc, 0);
	for (unsigned k = 0; k < q.nb_to_post; k++) {
		uint16_t id = q.to_post[k];
		FUZZ_CHECK(id < q.nb_desc);
		FUZZ_CHECK(!seen[id]);
		FUZZ_CHECK(!q.outstanding[id]);
		seen[id] = 1;
	}
	unsigned outstanding = 0;
	for (unsigned id = 0; id < q.nb_desc; id++)
		outstanding += q.outstanding[id];
	FUZZ_CHECK(outstanding + q.nb_to_post == q.nb_desc);
	RING_IDX in_flight = q.ring.req_prod_pvt() - q.ring.rsp_cons();
	FUZZ_CHECK(in_flight <= xen::rx_ring_size);
	if (!q.broken) {
		/* The ring positions not yet consumed hold the posted ids. */
		FUZZ_CHECK(in_flight == outstanding);
		std::vector<uint8_t> at(q.nb_desc, 0);
		for (RING_IDX i = q.ring.rsp_cons(); i != q.ring.req_prod_pvt(); i++) {
			uint16_t id = q.posted_at[i & 255];
			FUZZ_CHECK(id < q.nb_desc && q.outstanding[id] && !at[id]);
			at[id] = 1;
		}
	}
	/* Every page is an id's, a spare or given back, once; none is lent
	 * (the packets were freed), so only the queue's reference is left. */
	std::vector<uint8_t> page(q.nb_pages, 0);
	for (unsigned id = 0; id < q.nb_desc; id++) {
		FUZZ_CHECK(q.page_of[id] < q.nb_pages && !page[q.page_of[id]]);
		page[q.page_of[id]] = 1;
	}
	for (unsigned k = 0; k < q.nb_home; k++) {
		FUZZ_CHECK(q.spare_home[k] < q.nb_desc && !page[q.spare_home[k]]);
		page[q.spare_home[k]] = 1;
	}
	for (unsigned k = 0; k < q.nb_extra; k++) {
		FUZZ_CHECK(q.spare_extra[k] >= q.nb_desc && q.spare_extra[k] < q.nb_pages &&
			   !page[q.spare_extra[k]]);
		page[q.spare_extra[k]] = 1;
	}
	if (q.returned != nullptr) {
		FUZZ_CHECK(q.lent == 0 && *q.lent_refs == 1);
		void *addrs[max_rx_pages_in_check];
		unsigned n = rte_ring_sc_dequeue_burst(q.returned, addrs, RTE_DIM(addrs), nullptr);
		for (unsigned k = 0; k < n; k++) {
			size_t p =
				size_t(static_cast<uint8_t *>(addrs[k]) - q.pages) / xen::page_size;
			FUZZ_CHECK(p < q.nb_pages && !page[p]);
			page[p] = 1;
		}
		FUZZ_CHECK(rte_ring_enqueue_bulk(q.returned, addrs, n, nullptr) == n);
	}
	for (unsigned p = 0; p < q.nb_pages; p++)
		FUZZ_CHECK(page[p]);
}

void check_packets(const RxQueue &q, rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t k = 0; k < n; k++) {
		rte_mbuf *m = pkts[k];
		FUZZ_CHECK(m->pkt_len > 0 && m->pkt_len <= q.max_frame);
		FUZZ_CHECK(m->port == q.port_id);
		uint32_t sum = 0;
		uint16_t segs = 0;
		for (rte_mbuf *s = m; s != nullptr; s = s->next) {
			if (RTE_MBUF_HAS_EXTBUF(s)) {
				/* A lent page of the block, the data within it. */
				FUZZ_CHECK(q.copybreak != xenfront::copybreak_off);
				const auto *b = static_cast<const uint8_t *>(s->buf_addr);
				FUZZ_CHECK(b >= q.pages &&
					   b < q.pages + size_t(q.nb_pages) * xen::page_size &&
					   size_t(b - q.pages) % xen::page_size == 0);
				FUZZ_CHECK(s->buf_len == xen::page_size &&
					   s->data_off + s->data_len <= xen::page_size);
			} else {
				FUZZ_CHECK(s->data_len <= q.data_room);
			}
			sum += s->data_len;
			segs++;
		}
		FUZZ_CHECK(sum == m->pkt_len && segs == m->nb_segs);
	}
	rte_pktmbuf_free_bulk(pkts, n);
}

/* An honest backend: answers posted requests in order with packets of one
 * to a few slots, filling each page from offset 0. */
void honest(Harness &h, FuzzedDataProvider &in)
{
	RING_IDX prod = h.rsp_prod();
	RING_IDX req_prod = __atomic_load_n(&h.sring->req_prod, __ATOMIC_ACQUIRE);
	unsigned packets = in.ConsumeIntegralInRange<unsigned>(1, 40);
	for (unsigned p = 0; p < packets; p++) {
		unsigned slots = in.ConsumeIntegralInRange<unsigned>(1, 4);
		if (req_prod - prod < slots || req_prod - prod > xen::rx_ring_size)
			break;
		for (unsigned s = 0; s < slots; s++) {
			netif_rx_request r = h.req(prod);
			netif_rx_response &o = h.rsp(prod);
			o.id = r.id;
			o.offset = 0;
			o.flags = s + 1 < slots ? NETRXF_more_data : 0;
			o.status = static_cast<int16_t>(
				in.ConsumeIntegralInRange<unsigned>(s == 0 ? 14 : 1, 4096));
			prod++;
		}
	}
	h.set_rsp_prod(prod);
}

/* A hostile backend: any response fields at any position near the
 * producer, and extra-info chains. */
void hostile(Harness &h, FuzzedDataProvider &in)
{
	RING_IDX at = h.rsp_prod() + in.ConsumeIntegralInRange<int>(-4, 8);
	unsigned n = in.ConsumeIntegralInRange<unsigned>(1, 24);
	for (unsigned k = 0; k < n; k++) {
		netif_rx_response &o = h.rsp(at + k);
		switch (in.ConsumeIntegralInRange<int>(0, 3)) {
		case 0: /* plausible, from the posted request */
			o.id = h.req(at + k).id;
			o.offset = in.ConsumeIntegral<uint16_t>() & 0xfff;
			o.flags = in.ConsumeIntegral<uint16_t>();
			o.status = in.ConsumeIntegral<int16_t>();
			break;
		case 1: { /* an extra-info slot */
			netif_extra_info e{};
			e.type = in.ConsumeIntegral<uint8_t>() & 7;
			e.flags = in.ConsumeBool() ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
			e.u.gso.size = in.ConsumeIntegral<uint16_t>();
			e.u.gso.type = in.ConsumeIntegral<uint8_t>();
			std::memcpy(&o, &e, sizeof(o));
			break;
		}
		case 2: /* the posted id, at a fuzzed size */
			o.id = h.q->posted_at[(at + k) & 255];
			o.offset = 0;
			o.flags = in.ConsumeBool() ? NETRXF_more_data : 0;
			o.flags |= in.ConsumeBool() ? NETRXF_extra_info : 0;
			o.status = static_cast<int16_t>(in.ConsumeIntegralInRange<int>(-3, 4200));
			break;
		default: /* anything */
			o.id = in.ConsumeIntegral<uint16_t>();
			o.offset = in.ConsumeIntegral<uint16_t>();
			o.flags = in.ConsumeIntegral<uint16_t>();
			o.status = in.ConsumeIntegral<int16_t>();
			break;
		}
	}
	if (in.ConsumeBool())
		h.set_rsp_prod(at + n);
}

void burst(Harness &h, FuzzedDataProvider &in)
{
	rte_mbuf *pkts[128];
	uint16_t want = in.ConsumeIntegralInRange<uint16_t>(1, 128);
	uint16_t n = xenfront::xenfront_rx_burst(h.q, pkts, want);
	FUZZ_CHECK(n <= want);
	check_packets(*h.q, pkts, n);
	FUZZ_CHECK(rte_mempool_in_use_count(pool) == 0);
	check_bookkeeping(*h.q);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	/* Small mbufs, so that packets chain. */
	pool = fuzz::init_eal_and_pool("fuzz_rx", pool_size, 1024);
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	uint16_t nb_desc = in.ConsumeIntegralInRange<uint16_t>(1, 256);
	uint32_t max_frame = in.ConsumeIntegralInRange<uint32_t>(60, 70000);
	uint8_t extras = in.ConsumeBool() ? in.ConsumeIntegral<uint8_t>() : 0;
	Harness h(nb_desc, max_frame, 1024, extras);
	check_bookkeeping(*h.q);
	while (in.remaining_bytes() > 0) {
		switch (in.ConsumeIntegralInRange<int>(0, 5)) {
		case 0:
			honest(h, in);
			break;
		case 1:
			hostile(h, in);
			break;
		case 2: /* the producer index jumps anywhere */
			h.set_rsp_prod(h.rsp_prod() + in.ConsumeIntegral<int16_t>());
			break;
		case 3: /* the backend claims the whole ring, or wraps */
			h.set_rsp_prod(h.q->ring.rsp_cons() +
				       in.ConsumeIntegralInRange<int>(0, 512));
			break;
		case 4: /* mempool pressure: the application holds mbufs */
		{
			unsigned hold = in.ConsumeIntegralInRange<unsigned>(0, pool_size);
			std::vector<rte_mbuf *> held(hold);
			if (hold > 0 && rte_pktmbuf_alloc_bulk(pool, held.data(), hold) == 0) {
				rte_mbuf *pkts[64];
				uint16_t n = xenfront::xenfront_rx_burst(h.q, pkts, 64);
				check_packets(*h.q, pkts, n);
				rte_pktmbuf_free_bulk(held.data(), hold);
				FUZZ_CHECK(rte_mempool_in_use_count(pool) == 0);
				check_bookkeeping(*h.q);
			}
			break;
		}
		default:
			burst(h, in);
			break;
		}
	}
	burst(h, in);
	return 0;
}
