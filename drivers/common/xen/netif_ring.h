/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A thin typed wrapper over xen/io/ring.h's FRONT_RING_* and BACK_RING_*
 * macros, for the netif tx, rx and control rings. Index publication and
 * event-index checks are the header's macros (with the barriers of
 * xen_protocol.h); the other end's producer index is read once per burst
 * with acquire, pairing with the xen_wmb() the other end issues before
 * publishing it. Slots are addressed with a compile-time mask. */

#include <bit>
#include <cstddef>
#include <type_traits>

#include "xen_protocol.h"

namespace xen
{

/* RING_SIZE for a one-page ring of `Sring`, as __CONST_RING_SIZE does. */
template <typename Sring>
constexpr unsigned one_page_ring_size()
{
	return std::bit_floor(static_cast<unsigned>((page_size - offsetof(Sring, ring)) /
						    sizeof(Sring::ring[0])));
}

template <typename Raw> /* netif_tx_front_ring_t, netif_rx_front_ring_t, ... */
class FrontRing
{
public:
	using Sring = std::remove_pointer_t<decltype(Raw::sring)>;
	using Request = decltype(Sring::ring[0].req);
	using Response = decltype(Sring::ring[0].rsp);
	static constexpr unsigned size = one_page_ring_size<Sring>();
	static constexpr unsigned mask = size - 1;

	/* Formats `page` (one page this domain shares) as an empty ring. */
	void init(void *page) noexcept
	{
		auto *sring = static_cast<Sring *>(page);
		SHARED_RING_INIT(sring);
		FRONT_RING_INIT(&raw_, sring, page_size);
	}
	void detach() noexcept { raw_ = Raw{}; }
	bool attached() const noexcept { return raw_.sring != nullptr; }

	RING_IDX req_prod_pvt() const noexcept { return raw_.req_prod_pvt; }
	RING_IDX rsp_cons() const noexcept { return raw_.rsp_cons; }
	void set_rsp_cons(RING_IDX i) noexcept { raw_.rsp_cons = i; }

	/* Request slots not yet answered may not exceed the ring. */
	unsigned free_requests() const noexcept
	{
		return size - (raw_.req_prod_pvt - raw_.rsp_cons);
	}
	Request *request(RING_IDX i) noexcept { return &raw_.sring->ring[i & mask].req; }
	Request *next_request() noexcept { return request(raw_.req_prod_pvt++); }

	/* The backend's response producer index. */
	RING_IDX rsp_prod() const noexcept
	{
		return __atomic_load_n(&raw_.sring->rsp_prod, __ATOMIC_ACQUIRE);
	}
	/* A backend can never have produced more responses than the ring holds
	 * beyond what we consumed; a larger index is a protocol violation. */
	bool rsp_prod_overflow(RING_IDX prod) const noexcept
	{
		return RING_RESPONSE_PROD_OVERFLOW(&raw_, prod);
	}
	/* The backend answers each request slot once, so it can never have
	 * produced responses past the requests we wrote (req_prod_pvt); a larger
	 * index (jumping ahead, backwards, or past the ring) is a protocol
	 * violation. Stricter than RING_RESPONSE_PROD_OVERFLOW, which only
	 * bounds the index by the ring size. */
	bool rsp_prod_past_requests(RING_IDX prod) const noexcept
	{
		return prod - raw_.rsp_cons > raw_.req_prod_pvt - raw_.rsp_cons;
	}
	/* Copies a response out of shared memory before it is checked, so the
	 * backend cannot change it between check and use. */
	Response copy_response(RING_IDX i) const noexcept
	{
		Response rsp;
		RING_COPY_RESPONSE(&raw_, i, &rsp);
		return rsp;
	}
	const Response *response_slot(RING_IDX i) const noexcept
	{
		return &raw_.sring->ring[i & mask].rsp;
	}

	/* Publishes the requests written since the last push; true when the
	 * backend asked (req_event) to be notified of them. */
	bool push_requests() noexcept
	{
		bool notify;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&raw_, notify);
		return notify;
	}
	/* Asks for a notification at the next response and re-checks, so no
	 * response that raced the re-arm waits for an event that never comes. */
	bool final_check_for_responses() noexcept
	{
		int more;
		RING_FINAL_CHECK_FOR_RESPONSES(&raw_, more);
		return more != 0;
	}
	/* Leaves rsp_event behind the consumer, so the backend never notifies
	 * (a polling frontend). */
	void disarm_response_events() noexcept
	{
		__atomic_store_n(&raw_.sring->rsp_event, raw_.rsp_cons - size / 2,
				 __ATOMIC_RELAXED);
	}

private:
	Raw raw_{};
};

template <typename Raw> /* netif_tx_back_ring_t, netif_rx_back_ring_t, ... */
class BackRing
{
public:
	using Sring = std::remove_pointer_t<decltype(Raw::sring)>;
	using Request = decltype(Sring::ring[0].req);
	using Response = decltype(Sring::ring[0].rsp);
	static constexpr unsigned size = one_page_ring_size<Sring>();
	static constexpr unsigned mask = size - 1;

	/* Attaches to a ring the frontend formatted and we mapped. */
	void attach(void *page) noexcept
	{
		BACK_RING_INIT(&raw_, static_cast<Sring *>(page), page_size);
	}
	void detach() noexcept { raw_ = Raw{}; }
	bool attached() const noexcept { return raw_.sring != nullptr; }

	RING_IDX req_cons() const noexcept { return raw_.req_cons; }
	void set_req_cons(RING_IDX i) noexcept { raw_.req_cons = i; }
	RING_IDX rsp_prod_pvt() const noexcept { return raw_.rsp_prod_pvt; }

	/* The frontend's request producer index. */
	RING_IDX req_prod() const noexcept
	{
		return __atomic_load_n(&raw_.sring->req_prod, __ATOMIC_ACQUIRE);
	}
	/* A frontend can never have more requests outstanding than the ring. */
	bool req_prod_overflow(RING_IDX prod) const noexcept
	{
		return RING_REQUEST_PROD_OVERFLOW(&raw_, prod);
	}
	Request copy_request(RING_IDX i) const noexcept
	{
		Request req;
		RING_COPY_REQUEST(&raw_, i, &req);
		return req;
	}
	Response *response(RING_IDX i) noexcept { return &raw_.sring->ring[i & mask].rsp; }
	Response *next_response() noexcept { return response(raw_.rsp_prod_pvt++); }

	bool push_responses() noexcept
	{
		bool notify;
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&raw_, notify);
		return notify;
	}
	/* Asks for a notification at the next request and re-checks. */
	bool final_check_for_requests() noexcept
	{
		int more;
		RING_FINAL_CHECK_FOR_REQUESTS(&raw_, more);
		return more != 0;
	}
	/* Asks for a notification once `count` more requests are posted (as
	 * Linux netback does when it waits for rx buffers). */
	void request_event_after(unsigned count) noexcept
	{
		__atomic_store_n(&raw_.sring->req_event, raw_.req_cons + count, __ATOMIC_RELAXED);
		xen_mb();
	}

private:
	Raw raw_{};
};

using TxFrontRing = FrontRing<netif_tx_front_ring_t>;
using RxFrontRing = FrontRing<netif_rx_front_ring_t>;
using CtrlFrontRing = FrontRing<xen_netif_ctrl_front_ring_t>;
using TxBackRing = BackRing<netif_tx_back_ring_t>;
using RxBackRing = BackRing<netif_rx_back_ring_t>;
using CtrlBackRing = BackRing<xen_netif_ctrl_back_ring_t>;

static_assert(TxFrontRing::size == tx_ring_size && RxFrontRing::size == rx_ring_size);

} // namespace xen
