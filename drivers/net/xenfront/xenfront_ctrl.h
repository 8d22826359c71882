/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The netif control ring, frontend side (netif.h "Control ring"), and what
 * RSS asks of it: the Toeplitz algorithm, the hash types, the key and the
 * hash-to-queue mapping table. Calls are synchronous: one request, wait
 * (bounded) for the response with its id, check it; a timeout or a
 * malformed response is an error naming the request and what the backend
 * did. Control path only. */

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rte_ethdev.h>

#include "evtchn.h"
#include "grant.h"
#include "netif_ring.h"
#include "toeplitz.h"

namespace xenfront
{

/* What RSS is set to; kept by the driver, sent at each connection. */
struct RssConfig {
	std::array<uint8_t, xen::toeplitz_key_size> key{};
	uint32_t hash_types = 0;       /* XEN_NETIF_CTRL_HASH_TYPE_* */
	std::vector<uint32_t> mapping; /* entry -> queue */
};

/* The frontend's end of the control ring, without its event channel:
 * posts requests and matches the backend's responses to them, checking all
 * it reads (contract 2). A request whose wait timed out stays outstanding;
 * its answer, if it comes at all, is dropped as stale by a later call. A
 * response producer index past the requests posted leaves the ring
 * unusable until it is formatted again (the next connection). */
class CtrlRing
{
public:
	enum class Take {
		waiting,  /* no answer yet */
		answered, /* `rsp` answers the request */
		bad,      /* `error` says what the backend did */
	};

	/* Formats `page` (one page we share) as an empty ring. */
	void init(void *page) noexcept;
	/* Writes and publishes one request, after dropping stale answers;
	 * false with `error` if the ring is unusable or full of unanswered
	 * requests. `notify`: the backend asked to be told. */
	bool post(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2, uint16_t &id, bool &notify,
		  std::string &error) noexcept;
	/* Consumes what the backend produced since, until the answer to the
	 * request `id` of `type` (the last posted). */
	Take take(uint16_t id, uint16_t type, xen_netif_ctrl_response &rsp,
		  std::string &error) noexcept;

	bool unusable() const noexcept { return !broken_.empty(); }
	/* Requests posted and not answered (or answered badly) yet. */
	unsigned outstanding() const noexcept { return ring_.req_prod_pvt() - ring_.rsp_cons(); }
	/* Late answers dropped since the last call of this. */
	unsigned take_stale() noexcept { return std::exchange(stale_, 0u); }

private:
	/* False (and unusable from then on) if the backend's response producer
	 * `prod` is past the requests posted. */
	bool check_prod(RING_IDX prod, uint16_t type, uint16_t id, std::string &error) noexcept;

	xen::CtrlFrontRing ring_;
	uint16_t next_id_ = 0;
	/* How many requests before the awaited one were still outstanding when
	 * it was posted: their ids (just below its own) are stale, not bad. */
	unsigned stale_window_ = 0;
	unsigned stale_ = 0;
	std::string broken_; /* why the ring is unusable */
};

class CtrlChannel
{
public:
	using Clock = std::chrono::steady_clock;
	/* Netback answers in microseconds; a second means it is not answering. */
	static constexpr std::chrono::milliseconds call_timeout{1000};
	/* Mapping or unmapping hundreds of grants takes a backend longer. */
	static constexpr std::chrono::milliseconds gref_call_timeout{5000};

	/* Grants the ring and a page for keys and tables to `backend`. */
	static std::optional<CtrlChannel> create(const xen::Gntshr &gntshr, xen::DomId backend,
						 std::string &error) noexcept;
	CtrlChannel(CtrlChannel &&) noexcept = default;
	CtrlChannel &operator=(CtrlChannel &&) noexcept = default;

	/* Formats the ring and binds a fresh event channel (each connection). */
	bool reset(xen::DomId backend, std::string &error) noexcept;
	/* Unbinds the event channel (disconnected); the grants stay. */
	void release_port() noexcept { port_.reset(); }
	xen::GrantRef ring_ref() const noexcept { return ring_page_.ref(0); }
	xen::EvtchnPort port() const noexcept { return port_->port(); }

	/* XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE. */
	bool max_mapping_size(uint32_t &size, std::string &error) noexcept;
	/* Sends `rss` whole: algorithm, types, key, table size and table. */
	bool apply(const RssConfig &rss, std::string &error) noexcept;
	/* Late answers to timed-out requests dropped since the last call. */
	unsigned take_stale() noexcept { return ring_.take_stale(); }
	/* Static grants of queue `queue` (netif.h "Static Grants"):
	 * XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, false with `supported`
	 * false if the backend answers NOT_SUPPORTED (Linux netback does); and
	 * XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING of `list` (at most a page). */
	bool gref_mapping_size(uint32_t queue, uint32_t &size, bool &supported,
			       std::string &error) noexcept;
	bool add_gref_mapping(uint32_t queue, const std::vector<xen_netif_gref> &list,
			      std::string &error) noexcept;
	/* XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING of `list`: false unless the
	 * backend unmapped every entry (its count and each status). */
	bool del_gref_mapping(uint32_t queue, const std::vector<xen_netif_gref> &list,
			      std::string &error) noexcept;

private:
	CtrlChannel(xen::Evtchn evtchn, xen::SharedPages ring, xen::SharedPages data) noexcept
		: evtchn_(std::move(evtchn)), ring_page_(std::move(ring)),
		  data_page_(std::move(data))
	{
	}
	/* One request and its response; false with `error` on a timeout, a bad
	 * response or a status other than SUCCESS. */
	bool call(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t *out,
		  std::string &error, uint32_t *status = nullptr,
		  std::chrono::milliseconds timeout = call_timeout) noexcept;

	xen::Evtchn evtchn_; /* its own handle: its events are drained here */
	xen::SharedPages ring_page_;
	xen::SharedPages data_page_; /* keys and mapping tables, read by the backend */
	std::optional<xen::BoundPort> port_;
	CtrlRing ring_;
};

/* netif.h's name of a control request type or status, for messages. */
const char *ctrl_type_name(uint16_t type) noexcept;
std::string ctrl_status_name(uint32_t status);

/* The frontend's default RSS: DPDK's usual Toeplitz key (Microsoft's), every
 * hash type netif has, queues round robin over the table. */
RssConfig default_rss(unsigned nb_queues, size_t table_size) noexcept;

/* DPDK's rss_hf <-> netif's hash types. */
uint32_t hash_types_from_rss_hf(uint64_t rss_hf) noexcept;
uint64_t rss_hf_from_hash_types(uint32_t types) noexcept;
constexpr uint64_t supported_rss_hf = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
				      RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP;

} // namespace xenfront
