/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Hostile mode of net_xenback (see xenback_hostile.h): the data-path
 * corruptions, applied to the responses a burst wrote before it pushes
 * them, and the devarg's parser; then the control-path behaviours, members
 * of the control thread's Control (xenback_xenbus.h): hostile_step for
 * unmap and flap, hostile_ctrl_hold and hostile_ctrl_answer for the control
 * ring. */

#include "xenback_hostile.h"

#include <charconv>
#include <cstring>

#include <rte_random.h>

#include "xenback.h"
#include "xenback_logs.h"
#include "xenback_xenbus.h"

namespace xenback
{

static_assert(hostile_hooks, "built only with meson -Dhostile_hooks=true");

namespace
{

struct Named {
	const char *name;
	HostileBehaviour behaviour;
};
constexpr Named behaviours[] = {
#define XENBACK_HOSTILE_NAMED(name, help) {#name, HostileBehaviour::name},
	XENBACK_HOSTILE_BEHAVIOURS(XENBACK_HOSTILE_NAMED)
#undef XENBACK_HOSTILE_NAMED
};

/* An id no frontend issues: ids index at most 256 buffers. */
constexpr uint16_t never_issued = 0xfff0;

/* True when the countdown says this packet (or response) is the one. */
bool due(Hostile &h) noexcept
{
	if (h.countdown > 1) {
		h.countdown--;
		return false;
	}
	h.countdown = h.rate;
	return true;
}

/* Writes garbage responses up to more than a ring past the requests the
 * other end has published, so that the producer index the burst pushes is
 * past any request it can have written since. */
template <typename Ring>
unsigned race_ahead(Ring &ring) noexcept
{
	constexpr unsigned beyond = xen::tx_ring_size + 44;
	unsigned extra = ring.req_prod() - ring.rsp_prod_pvt() + beyond;
	if (extra > 2 * xen::tx_ring_size + beyond)
		extra = beyond;
	for (unsigned k = 0; k < extra; k++) {
		auto *rsp = ring.next_response();
		std::memset(static_cast<void *>(rsp), 0xee, sizeof(*rsp));
	}
	return extra;
}

} // namespace

bool parse_hostile_config(std::string_view value, HostileConfig &config, std::string &why)
{
	std::string_view name = value.substr(0, value.find(':'));
	HostileConfig c;
	for (const Named &n : behaviours)
		if (name == n.name)
			c.behaviour = n.behaviour;
	if (c.behaviour == HostileBehaviour::none) {
		why = "expected <behaviour>[:<rate>] with a behaviour among";
		for (const Named &n : behaviours)
			why += std::string(" ") + n.name;
		return false;
	}
	if (name.size() < value.size()) {
		std::string_view rate = value.substr(name.size() + 1);
		auto [end, ec] = std::from_chars(rate.data(), rate.data() + rate.size(), c.rate);
		if (rate.empty() || ec != std::errc() || end != rate.data() + rate.size() ||
		    c.rate == 0) {
			why = "the rate after ':' must be a positive integer";
			return false;
		}
	}
	config = c;
	return true;
}

const char *hostile_name(HostileBehaviour b) noexcept
{
	for (const Named &n : behaviours)
		if (n.behaviour == b)
			return n.name;
	return "none";
}

bool hostile_is_control(HostileBehaviour b) noexcept
{
	return b == HostileBehaviour::unmap || b == HostileBehaviour::flap;
}

bool hostile_is_ctrl_ring(HostileBehaviour b) noexcept
{
	return static_cast<uint8_t>(b) >= static_cast<uint8_t>(HostileBehaviour::ctrl_error) &&
	       static_cast<uint8_t>(b) <= static_cast<uint8_t>(HostileBehaviour::ctrl_small_table);
}

uint32_t hostile_rate(const HostileConfig &config) noexcept
{
	if (config.rate != 0 || hostile_is_ctrl_ring(config.behaviour))
		return config.rate;
	return config.behaviour == HostileBehaviour::flap ? 20 : 1000;
}

void hostile_init_queues(RxQueue &rxq, TxQueue &txq, const HostileConfig &config) noexcept
{
	auto arm = [&](Hostile &h, bool applies) {
		h.behaviour = applies ? config.behaviour : HostileBehaviour::none;
		h.rate = hostile_rate(config);
		h.countdown = h.rate;
		h.last_id = never_issued;
	};
	uint8_t b = static_cast<uint8_t>(config.behaviour);
	bool guest_rx = b >= static_cast<uint8_t>(HostileBehaviour::rx_bad_id) &&
			b <= static_cast<uint8_t>(HostileBehaviour::rx_prod_race);
	bool guest_tx = (b >= static_cast<uint8_t>(HostileBehaviour::tx_bad_id) &&
			 b <= static_cast<uint8_t>(HostileBehaviour::tx_mcast_full)) ||
			config.behaviour == HostileBehaviour::snoop;
	arm(txq.hostile, guest_rx);
	arm(rxq.hostile, guest_tx);
}

void hostile_guest_rx(TxQueue &q, RING_IDX first) noexcept
{
	Hostile &h = q.hostile;
	RING_IDX end = q.ring.rsp_prod_pvt();
	bool head = true;
	for (RING_IDX i = first; i != end; i++) {
		netif_rx_response *rsp = q.ring.response(i);
		bool is_head = head;
		head = !(rsp->flags & NETRXF_more_data);
		if (!is_head || !due(h))
			continue;
		switch (h.behaviour) {
		case HostileBehaviour::rx_bad_id:
			rsp->id = never_issued;
			break;
		case HostileBehaviour::rx_dup_id:
			rsp->id = i != first ? q.ring.response(i - 1)->id : h.last_id;
			break;
		case HostileBehaviour::rx_oversize:
			rsp->offset = 0;
			rsp->status = 5000;
			break;
		case HostileBehaviour::rx_bad_offset:
			rsp->offset = 5000;
			break;
		case HostileBehaviour::rx_bad_status:
			rsp->status = -7;
			break;
		case HostileBehaviour::rx_too_many_slots:
			if (end - i < 20) {
				h.countdown = 1; /* try again at the next burst */
				continue;
			}
			for (unsigned k = 0; k < 19; k++)
				q.ring.response(i + k)->flags |= NETRXF_more_data;
			i += 19;
			head = !(q.ring.response(i)->flags & NETRXF_more_data);
			break;
		case HostileBehaviour::rx_extra: {
			/* This packet and the next are one slot each: the next
			 * one's slot becomes a GSO extra-info slot of this one. */
			if (end - i < 2 || (rsp->flags & NETRXF_more_data) ||
			    (q.ring.response(i + 1)->flags & NETRXF_more_data)) {
				h.countdown = 1;
				continue;
			}
			rsp->flags |= NETRXF_extra_info;
			netif_extra_info extra{};
			extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
			extra.u.gso.size = 1448;
			extra.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
			std::memcpy(static_cast<void *>(q.ring.response(i + 1)), &extra,
				    sizeof(extra));
			i++;
			head = true;
			break;
		}
		case HostileBehaviour::rx_prod_race:
			q.stats.hostile_injected += race_ahead(q.ring);
			h.last_id = never_issued;
			return;
		default:
			return;
		}
		q.stats.hostile_injected++;
	}
	if (end != first)
		h.last_id = q.ring.response(end - 1)->id;
}

void hostile_snoop(RxQueue &q, RING_IDX cons, RING_IDX prod) noexcept
{
	alignas(64) static thread_local uint8_t page[xen::page_size];
	constexpr size_t marker_len = sizeof(snoop_marker) - 1;
	unsigned extras = 0;
	for (RING_IDX i = cons; i != prod; i++) {
		const netif_tx_request req = q.ring.copy_request(i);
		if (extras > 0) { /* an extra-info slot: no gref */
			netif_extra_info extra;
			std::memcpy(&extra, &req, sizeof(extra));
			extras = (extra.flags & XEN_NETIF_EXTRA_FLAG_MORE) ? 1 : 0;
			continue;
		}
		extras = (req.flags & NETTXF_extra_info) ? 1 : 0;
		xengnttab_grant_copy_segment_t g{};
		g.source.foreign.ref = req.gref;
		g.source.foreign.offset = 0;
		g.source.foreign.domid = q.guest;
		g.dest.virt = page;
		g.len = xen::page_size;
		g.flags = GNTCOPY_source_gref;
		if (xengnttab_grant_copy(q.gnttab, 1, &g) != 0 || g.status != GNTST_okay)
			continue;
		for (size_t at = 0; at + marker_len <= sizeof(page);) {
			auto *hit = static_cast<uint8_t *>(
				memmem(page + at, sizeof(page) - at, snoop_marker, marker_len));
			if (hit == nullptr)
				break;
			q.stats.snooped_markers++;
			at = static_cast<size_t>(hit - page) + marker_len;
		}
	}
}

void hostile_guest_tx(RxQueue &q, RING_IDX first) noexcept
{
	Hostile &h = q.hostile;
	if (h.behaviour == HostileBehaviour::tx_mcast_full ||
	    h.behaviour == HostileBehaviour::snoop)
		return; /* mcast_full: answered so in the burst; snoop: reads only */
	RING_IDX end = q.ring.rsp_prod_pvt();
	for (RING_IDX i = first; i != end; i++) {
		netif_tx_response *rsp = q.ring.response(i);
		if (rsp->status == NETIF_RSP_NULL || !due(h))
			continue;
		switch (h.behaviour) {
		case HostileBehaviour::tx_bad_id:
			rsp->id = never_issued;
			break;
		case HostileBehaviour::tx_dup_id:
			rsp->id = i != first ? q.ring.response(i - 1)->id : h.last_id;
			break;
		case HostileBehaviour::tx_bad_status:
			rsp->status = 7;
			break;
		case HostileBehaviour::tx_null:
			rsp->status = NETIF_RSP_NULL;
			break;
		case HostileBehaviour::tx_prod_race:
			q.stats.hostile_injected += race_ahead(q.ring);
			h.last_id = never_issued;
			return;
		default:
			return;
		}
		q.stats.hostile_injected++;
	}
	if (end != first)
		h.last_id = q.ring.response(end - 1)->id;
}

} // namespace xenback

namespace xenback
{

/* The control-path behaviours; the control thread calls this every 50 ms
 * (with the control mutex held) until it is done. */
void Control::hostile_step() noexcept
{
	/* Start once traffic flows; a flap, once started, runs to its end. */
	if ((!connected_ || links_.empty() || links_[0].rxq == nullptr ||
	     links_[0].txq == nullptr) &&
	    hostile_flaps_ == 0)
		return;
	/* Queue 0 carries the tests' traffic. */
	const RxQueue &rxq = *links_[0].rxq;
	const TxQueue &txq = *links_[0].txq;
	const uint32_t rate = hostile_rate(config_.hostile);
	if (config_.hostile.behaviour == HostileBehaviour::unmap) {
		uint64_t packets = rxq.stats.packets.load() + txq.stats.packets.load();
		if (packets < rate)
			return;
		/* The rings and ports go; xenstore still says Connected. */
		XB_DRV_LOG(WARNING, name_.c_str(),
			   "hostile: unmapping the rings and unbinding the event channels of %s "
			   "after %lu packets, state left %s",
			   xenbus_.front_dir().c_str(), static_cast<unsigned long>(packets),
			   xen::state_name(xenbus_.state()));
		disconnect();
		hostile_done_ = true;
		return;
	}
	/* flap: once traffic flows (both ends connected), one random value
	 * per step, then the real state again. */
	if (hostile_flaps_ == 0 && rxq.stats.packets.load() + txq.stats.packets.load() < 1000)
		return;
	static const char *const values[] = {"1", "2", "3",  "5",  "6",       "7",
					     "8", "0", "99", "-1", "garbage", ""};
	if (hostile_flaps_ == 0)
		XB_DRV_LOG(WARNING, name_.c_str(), "hostile: flapping %s/state %u times",
			   xenbus_.back_dir().c_str(), rate);
	if (hostile_flaps_ < rate) {
		store_.write(xenbus_.back_dir() + "/state",
			     values[rte_rand_max(sizeof(values) / sizeof(values[0]))]);
		hostile_flaps_++;
		return;
	}
	store_.switch_state(xenbus_.back_dir(), xenbus_.state());
	XB_DRV_LOG(WARNING, name_.c_str(), "hostile: done flapping, state %s again",
		   xen::state_name(xenbus_.state()));
	hostile_done_ = true;
}

} // namespace xenback

namespace xenback
{

/* ctrl_silent and ctrl_late: asked before each control request is
 * answered (control thread, mutex held). */
bool Control::hostile_ctrl_hold() noexcept
{
	const HostileBehaviour b = config_.hostile.behaviour;
	if ((b != HostileBehaviour::ctrl_silent && b != HostileBehaviour::ctrl_late) ||
	    hostile_ctrl_requests_ != hostile_rate(config_.hostile))
		return false;
	if (b == HostileBehaviour::ctrl_silent) {
		if (hostile_ctrl_hold_until_ == Clock::time_point{}) {
			XB_DRV_LOG(WARNING, name_.c_str(),
				   "hostile: leaving control requests unanswered from request %u",
				   hostile_ctrl_requests_ + 1);
			hostile_ctrl_hold_until_ = Clock::time_point::max();
		}
		return true;
	}
	/* ctrl_late: longer than net_xenfront waits (1 s); the control thread
	 * looks again at least every second. */
	if (hostile_ctrl_hold_until_ == Clock::time_point{}) {
		hostile_ctrl_hold_until_ = Clock::now() + std::chrono::milliseconds(1500);
		XB_DRV_LOG(WARNING, name_.c_str(), "hostile: holding control request %u for 1.5 s",
			   hostile_ctrl_requests_ + 1);
	}
	return Clock::now() < hostile_ctrl_hold_until_;
}

bool Control::hostile_ctrl_answer(const xen_netif_ctrl_request &req,
				  xen_netif_ctrl_response &rsp) noexcept
{
	const HostileBehaviour b = config_.hostile.behaviour;
	if (!hostile_is_ctrl_ring(b) || ++hostile_ctrl_requests_ <= hostile_rate(config_.hostile))
		return false;
	/* How many requests this behaviour has answered so far, from 0. */
	const uint32_t n = hostile_ctrl_requests_ - hostile_rate(config_.hostile) - 1;
	switch (b) {
	case HostileBehaviour::ctrl_error: {
		static constexpr uint32_t statuses[] = {XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED,
							XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
							XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW};
		rsp.status = statuses[n % RTE_DIM(statuses)];
		rsp.data = 0;
		break;
	}
	case HostileBehaviour::ctrl_bad_id:
		rsp.id = static_cast<uint16_t>(req.id + 0x8000);
		break;
	case HostileBehaviour::ctrl_bad_type: {
		/* The next of netif.h's seven hash request types (1 to 7). */
		constexpr unsigned hash_types = XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM;
		rsp.type = static_cast<uint16_t>(req.type % hash_types + 1);
		break;
	}
	case HostileBehaviour::ctrl_garbage:
		rsp.id = static_cast<uint16_t>(rte_rand());
		rsp.type = static_cast<uint16_t>(rte_rand());
		rsp.status = static_cast<uint32_t>(rte_rand());
		rsp.data = static_cast<uint32_t>(rte_rand());
		break;
	case HostileBehaviour::ctrl_prod_race:
		/* Garbage slots ahead of the real answer. */
		race_ahead(ctrl_ring_);
		break;
	case HostileBehaviour::ctrl_small_table: {
		if (req.type != XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE)
			return false;
		static constexpr uint32_t sizes[] = {0, 64, 127, 1};
		rsp.data = sizes[n % RTE_DIM(sizes)];
		break;
	}
	default: /* ctrl_silent, ctrl_late: held, then answered well */
		return false;
	}
	XB_DRV_LOG(WARNING, name_.c_str(),
		   "hostile (%s): control request type %u id %u answered with id %u type %u status "
		   "%u data %u",
		   hostile_name(b), req.type, req.id, rsp.id, rsp.type, rsp.status, rsp.data);
	return true;
}

} // namespace xenback
