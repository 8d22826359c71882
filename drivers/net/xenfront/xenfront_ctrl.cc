/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront_ctrl.h"

#include <cstring>
#include <cstdio>
#include <poll.h>

#include <rte_ethdev.h>

extern "C" {
#include <xenevtchn.h>
}

namespace xenfront
{
namespace
{

/* Microsoft's RSS verification key, DPDK drivers' usual default. */
constexpr uint8_t default_key[xen::toeplitz_key_size] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

} // namespace

const char *ctrl_type_name(uint16_t type) noexcept
{
	switch (type) {
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		return "GET_HASH_FLAGS";
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		return "SET_HASH_FLAGS";
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		return "SET_HASH_KEY";
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		return "GET_HASH_MAPPING_SIZE";
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		return "SET_HASH_MAPPING_SIZE";
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		return "SET_HASH_MAPPING";
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		return "SET_HASH_ALGORITHM";
	case XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE:
		return "GET_GREF_MAPPING_SIZE";
	case XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING:
		return "ADD_GREF_MAPPING";
	case XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING:
		return "DEL_GREF_MAPPING";
	default:
		return "unknown";
	}
}

std::string ctrl_status_name(uint32_t status)
{
	switch (status) {
	case XEN_NETIF_CTRL_STATUS_SUCCESS:
		return "SUCCESS";
	case XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED:
		return "NOT_SUPPORTED";
	case XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER:
		return "INVALID_PARAMETER";
	case XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW:
		return "BUFFER_OVERFLOW";
	default:
		return "unknown status " + std::to_string(status);
	}
}

namespace
{

std::string request_name(uint16_t type, uint16_t id)
{
	return std::string("control request ") + ctrl_type_name(type) + " (id " +
	       std::to_string(id) + ")";
}

} // namespace

void CtrlRing::init(void *page) noexcept
{
	std::memset(page, 0, xen::page_size);
	ring_.init(page);
	next_id_ = 0;
	stale_window_ = 0;
	stale_ = 0;
	broken_.clear();
}

bool CtrlRing::check_prod(RING_IDX prod, uint16_t type, uint16_t id, std::string &error) noexcept
{
	/* Responses past the requests posted: the ring's indices are out of
	 * step for good, and reading on would only yield garbage. (Slots are
	 * read through the ring mask, so nothing is read outside the page.) */
	if (!ring_.rsp_prod_past_requests(prod))
		return true;
	broken_ = "the backend's response producer index " + std::to_string(prod) +
		  " ran past the " + std::to_string(outstanding()) +
		  " outstanding request(s) (response consumer " + std::to_string(ring_.rsp_cons()) +
		  ") at " + request_name(type, id);
	error = broken_ + "; the control ring is unusable until the next connection";
	return false;
}

bool CtrlRing::post(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2, uint16_t &id,
		    bool &notify, std::string &error) noexcept
{
	id = next_id_;
	if (unusable()) {
		error = "cannot send " + request_name(type, id) + ": " + broken_ +
			"; the control ring is unusable until the next connection";
		return false;
	}
	/* Nothing is awaited: whatever the backend produced answers requests
	 * that timed out. */
	RING_IDX prod = ring_.rsp_prod();
	if (!check_prod(prod, type, id, error))
		return false;
	stale_ += prod - ring_.rsp_cons();
	ring_.set_rsp_cons(prod);
	if (ring_.free_requests() == 0) {
		error = "cannot send " + request_name(type, id) + ": the backend left all " +
			std::to_string(outstanding()) + " requests on the control ring unanswered";
		return false;
	}
	stale_window_ = outstanding();
	next_id_++;
	xen_netif_ctrl_request *req = ring_.next_request();
	req->id = id;
	req->type = type;
	req->data[0] = d0;
	req->data[1] = d1;
	req->data[2] = d2;
	notify = ring_.push_requests();
	return true;
}

CtrlRing::Take CtrlRing::take(uint16_t id, uint16_t type, xen_netif_ctrl_response &rsp,
			      std::string &error) noexcept
{
	if (unusable()) {
		error = broken_ + "; the control ring is unusable until the next connection";
		return Take::bad;
	}
	RING_IDX prod = ring_.rsp_prod();
	if (!check_prod(prod, type, id, error))
		return Take::bad;
	while (ring_.rsp_cons() != prod) {
		/* Copied out of the shared page before it is looked at. */
		xen_netif_ctrl_response r = ring_.copy_response(ring_.rsp_cons());
		ring_.set_rsp_cons(ring_.rsp_cons() + 1);
		if (r.id == id) {
			if (r.type != type) {
				error = "the backend answered " + request_name(type, id) +
					" with type " + std::to_string(r.type) + " (" +
					ctrl_type_name(r.type) + ")";
				return Take::bad;
			}
			rsp = r;
			return Take::answered;
		}
		/* The answer to a request posted before, which timed out. */
		uint16_t behind = static_cast<uint16_t>(id - r.id);
		if (behind >= 1 && behind <= stale_window_) {
			stale_++;
			continue;
		}
		error = "the backend answered " + request_name(type, id) + " with id " +
			std::to_string(r.id) + ", not one awaited";
		return Take::bad;
	}
	return Take::waiting;
}

std::optional<CtrlChannel> CtrlChannel::create(const xen::Gntshr &gntshr, xen::DomId backend,
					       std::string &error) noexcept
{
	auto evtchn = xen::Evtchn::open(error);
	if (!evtchn)
		return std::nullopt;
	auto ring = xen::SharedPages::share(gntshr, backend, 1, true, error);
	if (!ring)
		return std::nullopt;
	/* The backend reads keys, tables and static-grant lists, and writes
	 * the statuses of DEL_GREF_MAPPING back (netif.h: "r/w"). Nothing
	 * is read back from it but those statuses, checked. */
	auto data = xen::SharedPages::share(gntshr, backend, 1, true, error);
	if (!data)
		return std::nullopt;
	return CtrlChannel(std::move(*evtchn), std::move(*ring), std::move(*data));
}

bool CtrlChannel::reset(xen::DomId backend, std::string &error) noexcept
{
	port_.reset();
	port_ = xen::BoundPort::alloc_unbound(evtchn_, backend, error);
	if (!port_)
		return false;
	ring_.init(ring_page_.page(0));
	return true;
}

bool CtrlChannel::call(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t *out,
		       std::string &error, uint32_t *status,
		       std::chrono::milliseconds timeout) noexcept
{
	uint16_t id;
	bool notify;
	if (!ring_.post(type, d0, d1, d2, id, notify, error))
		return false;
	if (notify)
		xenevtchn_notify(evtchn_.get(), port_->port().value());
	const auto deadline = Clock::now() + timeout;
	xen_netif_ctrl_response rsp;
	for (;;) {
		CtrlRing::Take got = ring_.take(id, type, rsp, error);
		if (got == CtrlRing::Take::answered)
			break;
		if (got == CtrlRing::Take::bad)
			return false;
		if (Clock::now() > deadline) {
			error = std::string("the backend did not answer control request ") +
				ctrl_type_name(type) + " (id " + std::to_string(id) + ") within " +
				std::to_string(timeout.count()) + " ms";
			return false;
		}
		pollfd pfd{evtchn_.fd(), POLLIN, 0};
		if (poll(&pfd, 1, 1) > 0) {
			xenevtchn_port_or_error_t p = xenevtchn_pending(evtchn_.get());
			if (p >= 0)
				xenevtchn_unmask(evtchn_.get(), static_cast<evtchn_port_t>(p));
		}
	}
	if (status != nullptr)
		*status = rsp.status;
	if (rsp.status != XEN_NETIF_CTRL_STATUS_SUCCESS) {
		error = std::string("the backend refused control request ") + ctrl_type_name(type) +
			" (id " + std::to_string(id) + "): " + ctrl_status_name(rsp.status);
		return false;
	}
	if (out != nullptr)
		*out = rsp.data;
	return true;
}

bool CtrlChannel::gref_mapping_size(uint32_t queue, uint32_t &size, bool &supported,
				    std::string &error) noexcept
{
	uint32_t status = XEN_NETIF_CTRL_STATUS_SUCCESS;
	bool ok =
		call(XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, queue, 0, 0, &size, error, &status);
	supported = ok || status != XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	return ok;
}

bool CtrlChannel::add_gref_mapping(uint32_t queue, const std::vector<xen_netif_gref> &list,
				   std::string &error) noexcept
{
	if (list.empty() || list.size() * sizeof(xen_netif_gref) > xen::page_size) {
		error = "a static grant list of " + std::to_string(list.size()) +
			" entries does not fit one page";
		return false;
	}
	std::memcpy(data_page_.page(0), list.data(), list.size() * sizeof(xen_netif_gref));
	return call(XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, queue, data_page_.ref(0).value(),
		    static_cast<uint32_t>(list.size()), nullptr, error, nullptr, gref_call_timeout);
}

bool CtrlChannel::del_gref_mapping(uint32_t queue, const std::vector<xen_netif_gref> &list,
				   std::string &error) noexcept
{
	if (list.empty() || list.size() * sizeof(xen_netif_gref) > xen::page_size) {
		error = "a static grant list of " + std::to_string(list.size()) +
			" entries does not fit one page";
		return false;
	}
	const size_t len = list.size() * sizeof(xen_netif_gref);
	std::memcpy(data_page_.page(0), list.data(), len);
	uint32_t removed = 0;
	if (!call(XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING, queue, data_page_.ref(0).value(),
		  static_cast<uint32_t>(list.size()), &removed, error, nullptr, gref_call_timeout))
		return false;
	/* Copied out of the shared page before it is looked at. */
	std::vector<xen_netif_gref> back(list.size());
	std::memcpy(back.data(), data_page_.page(0), len);
	uint32_t ok = 0;
	for (const xen_netif_gref &e : back)
		ok += e.status == XEN_NETIF_CTRL_STATUS_SUCCESS;
	if (removed != list.size() || ok != list.size()) {
		error = "the backend unmapped " + std::to_string(removed) +
			" (statuses: " + std::to_string(ok) + ") of " +
			std::to_string(list.size()) + " static grants (DEL_GREF_MAPPING)";
		return false;
	}
	return true;
}

bool CtrlChannel::max_mapping_size(uint32_t &size, std::string &error) noexcept
{
	return call(XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &size, error);
}

bool CtrlChannel::apply(const RssConfig &rss, std::string &error) noexcept
{
	uint32_t supported = 0;
	if (!call(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0,
		  0, nullptr, error) ||
	    !call(XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &supported, error))
		return false;
	if (rss.hash_types & ~supported) {
		char msg[128];
		std::snprintf(msg, sizeof(msg),
			      "the backend hashes types 0x%x (GET_HASH_FLAGS), not all of 0x%x",
			      supported, rss.hash_types);
		error = msg;
		return false;
	}
	uint8_t *data = data_page_.page(0);
	std::memcpy(data, rss.key.data(), rss.key.size());
	if (!call(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, data_page_.ref(0).value(),
		  static_cast<uint32_t>(rss.key.size()), 0, nullptr, error) ||
	    !call(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, rss.hash_types, 0, 0, nullptr, error) ||
	    !call(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
		  static_cast<uint32_t>(rss.mapping.size()), 0, 0, nullptr, error))
		return false;
	/* netif.h: the table is u32 entries; one page holds 1024 of them. */
	std::memcpy(data, rss.mapping.data(), rss.mapping.size() * sizeof(uint32_t));
	return call(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, data_page_.ref(0).value(),
		    static_cast<uint32_t>(rss.mapping.size()), 0, nullptr, error);
}

RssConfig default_rss(unsigned nb_queues, size_t table_size) noexcept
{
	RssConfig rss;
	std::memcpy(rss.key.data(), default_key, sizeof(default_key));
	rss.hash_types = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	rss.mapping.resize(table_size);
	for (size_t i = 0; i < table_size; i++)
		rss.mapping[i] = static_cast<uint32_t>(i % (nb_queues ? nb_queues : 1));
	return rss;
}

uint32_t hash_types_from_rss_hf(uint64_t rss_hf) noexcept
{
	uint32_t t = 0;
	if (rss_hf & RTE_ETH_RSS_IPV4)
		t |= XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	if (rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP)
		t |= XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	if (rss_hf & RTE_ETH_RSS_IPV6)
		t |= XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	if (rss_hf & RTE_ETH_RSS_NONFRAG_IPV6_TCP)
		t |= XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	return t;
}

uint64_t rss_hf_from_hash_types(uint32_t types) noexcept
{
	uint64_t hf = 0;
	if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV4)
		hf |= RTE_ETH_RSS_IPV4;
	if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)
		hf |= RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV6)
		hf |= RTE_ETH_RSS_IPV6;
	if (types & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)
		hf |= RTE_ETH_RSS_NONFRAG_IPV6_TCP;
	return hf;
}

} // namespace xenfront
