/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* net_xenfront's control ring and multicast control, the part of Control
 * the application's RSS, RETA and multicast calls reach (under ctrl_mutex_,
 * which the control thread holds too while it connects or takes the rings
 * back): RSS and steering over the control ring (netif.h "Control ring"),
 * static grants, and the multicast list over queue 0 (netif.h
 * XEN_NETIF_EXTRA_TYPE_MCAST_ADD/DEL). The handshake is xenfront_xenbus.cc. */

#include "xenfront_xenbus.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include <ethdev_driver.h>
#include <rte_ethdev.h>

#include "xenfront_logs.h"

namespace xenfront
{

using xen::XenbusState;
using namespace std::chrono_literals;

void Control::set_rss(bool enabled, RssConfig rss) noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	rss_enabled_ = enabled;
	rss_ = std::move(rss);
}

void Control::set_rss_in_software(bool in_software) noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	rss_in_software_ = in_software;
}

RssConfig Control::rss() const noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	return rss_;
}

bool Control::apply_rss_locked(const RssConfig &rss, std::string &error) noexcept
{
	if (!ctrl_) {
		error = "RSS needs the backend's control ring, and " + xenbus_.back_dir() +
			"/feature-ctrl-ring is not 1";
		return false;
	}
	uint32_t max = 0;
	bool ok = ctrl_->max_mapping_size(max, error);
	if (ok && max < rss.mapping.size()) {
		error = "the backend's hash mapping table holds " + std::to_string(max) +
			" entries (GET_HASH_MAPPING_SIZE), fewer than the " +
			std::to_string(rss.mapping.size()) + " of the redirection table";
		ok = false;
	}
	/* Under software fan-out the table names application queues and the
	 * backend has fewer: send each entry's ring, the fan-out takes it on
	 * from there (xenfront_fanout.h). */
	RssConfig sent = rss;
	for (uint32_t &queue : sent.mapping)
		queue %= static_cast<uint32_t>(resources_.size());
	ok = ok && ctrl_->apply(sent, error);
	if (unsigned late = ctrl_->take_stale())
		XF_DRV_LOG(NOTICE, name_.c_str(),
			   "dropped %u late answer(s) to control requests that had timed out",
			   late);
	if (!ok) {
		if (ctrl_errors_ != nullptr)
			__atomic_fetch_add(ctrl_errors_, 1, __ATOMIC_RELAXED);
		error = "RSS over the control ring of " + xenbus_.back_dir() + ": " + error;
		return false;
	}
	XF_INIT_LOG(INFO, name_.c_str(),
		    "RSS set through the control ring: hash types 0x%x, %zu entries",
		    rss.hash_types, rss.mapping.size());
	return true;
}

void Control::steer_to_polled_locked() noexcept
{
	const unsigned first = nb_polled_rx_;
	const unsigned last = static_cast<unsigned>(resources_.size()) - 1;
	if (!ctrl_) {
		XF_INIT_LOG(
			NOTICE, name_.c_str(),
			"netif queues %u-%u have no rx queue and %s/feature-ctrl-ring is not 1: "
			"rx queues 0-%u also read those rings (rx_q<N>_unpolled_packets)",
			first, last, xenbus_.back_dir().c_str(), first - 1);
		return;
	}
	std::string error;
	uint32_t max = 0;
	bool ok = ctrl_->max_mapping_size(max, error);
	if (ok && max == 0) {
		error = "the backend's hash mapping table holds 0 entries (GET_HASH_MAPPING_SIZE)";
		ok = false;
	}
	if (ok) {
		RssConfig steer = default_rss(nb_polled_rx_, std::min<size_t>(max, reta_size));
		ok = ctrl_->apply(steer, error);
	}
	if (!ok) {
		if (ctrl_errors_ != nullptr)
			__atomic_fetch_add(ctrl_errors_, 1, __ATOMIC_RELAXED);
		XF_DRV_LOG(NOTICE, name_.c_str(),
			   "netif queues %u-%u have no rx queue; steering away from them over the "
			   "control ring of %s failed: %s; rx queues 0-%u also read those rings "
			   "(rx_q<N>_unpolled_packets)",
			   first, last, xenbus_.back_dir().c_str(), error.c_str(), first - 1);
		return;
	}
	XF_INIT_LOG(NOTICE, name_.c_str(),
		    "netif queues %u-%u have no rx queue: the backend's hash mapping table sends "
		    "every packet to rx queues 0-%u (control ring); rx queues also read those "
		    "rings (rx_q<N>_unpolled_packets)",
		    first, last, first - 1);
}

std::vector<xen_netif_gref> Control::static_grant_list(size_t qid, size_t limit) const noexcept
{
	/* Transmit buffers read-only, as they are granted. */
	std::vector<xen_netif_gref> list;
	const TxQueue *txq = txqs_[qid];
	const RxQueue *rxq = rxqs_[qid];
	const uint16_t ids_per_page = xen::page_size / txq->slot_size;
	for (uint16_t p = 0; p < txq->nb_pages; p++)
		list.push_back(xen_netif_gref{txq->grefs[p * ids_per_page],
					      XEN_NETIF_CTRLF_GREF_readonly, 0});
	for (uint16_t p = 0; p < rxq->nb_pages; p++)
		list.push_back(xen_netif_gref{rxq->grefs[p], 0, 0});
	/* rx_copybreak's spare pages beyond what the backend maps: it copies
	 * into those by grant copy (netback looks each gref up). */
	if (list.size() > limit && limit >= size_t(txq->nb_pages) + rxq->nb_desc)
		list.resize(limit);
	return list;
}

void Control::unmap_static_grants() noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	std::vector<uint16_t> queues = std::exchange(static_mapped_, {});
	if (!ctrl_)
		return;
	for (uint16_t qid : queues) {
		if (qid >= rxqs_.size() || qid >= txqs_.size() || rxqs_[qid] == nullptr ||
		    txqs_[qid] == nullptr)
			continue;
		std::string error;
		if (!ctrl_->del_gref_mapping(qid, static_grant_list(qid, static_grant_size_),
					     error)) {
			/* The backend lets go of them when it disconnects. */
			if (ctrl_errors_ != nullptr)
				__atomic_fetch_add(ctrl_errors_, 1, __ATOMIC_RELAXED);
			XF_DRV_LOG(NOTICE, name_.c_str(),
				   "static grants of queue %u over the control ring of %s: %s", qid,
				   xenbus_.back_dir().c_str(), error.c_str());
			return;
		}
	}
}

void Control::map_static_grants_locked() noexcept
{
	static_mapped_.clear();
	if (!ctrl_) {
		XF_INIT_LOG(INFO, name_.c_str(),
			    "static_grants=1: %s/feature-ctrl-ring is not 1; the backend copies "
			    "by grant copy",
			    xenbus_.back_dir().c_str());
		return;
	}
	for (size_t qid = 0; qid < resources_.size(); qid++) {
		const RxQueue *rxq = qid < rxqs_.size() ? rxqs_[qid] : nullptr;
		const TxQueue *txq = qid < txqs_.size() ? txqs_[qid] : nullptr;
		if (rxq == nullptr || txq == nullptr)
			continue;
		std::string error;
		uint32_t size = 0;
		bool supported = true;
		const auto q = static_cast<uint32_t>(qid);
		if (!ctrl_->gref_mapping_size(q, size, supported, error)) {
			if (!supported) {
				XF_INIT_LOG(INFO, name_.c_str(),
					    "static_grants=1: the backend does not map grants "
					    "(GET_GREF_MAPPING_SIZE: NOT_SUPPORTED); it copies by "
					    "grant copy");
				return;
			}
		} else {
			std::vector<xen_netif_gref> list = static_grant_list(qid, size);
			static_grant_size_ = size;
			if (list.size() > size)
				error = "the backend maps " + std::to_string(size) +
					" grants per queue (GET_GREF_MAPPING_SIZE), fewer than "
					"the " +
					std::to_string(list.size()) + " buffers of queue " +
					std::to_string(qid);
			else if (ctrl_->add_gref_mapping(q, list, error)) {
				XF_INIT_LOG(INFO, name_.c_str(),
					    "queue %zu: the backend maps its %zu buffers", qid,
					    list.size());
				static_mapped_.push_back(static_cast<uint16_t>(qid));
				continue;
			}
		}
		if (ctrl_errors_ != nullptr)
			__atomic_fetch_add(ctrl_errors_, 1, __ATOMIC_RELAXED);
		XF_DRV_LOG(NOTICE, name_.c_str(),
			   "static grants of queue %zu over the control ring of %s: %s; the "
			   "backend copies by grant copy",
			   qid, xenbus_.back_dir().c_str(), error.c_str());
		return; /* one failure is enough: no wait per queue on a silent backend */
	}
}

bool Control::update_rss(RssConfig rss, std::string &error) noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	if (connected_ && rss_enabled_ && !rss_in_software_ && !apply_rss_locked(rss, error)) {
		error += "; the previous RSS configuration stays (the backend may hold part of "
			 "the new one)";
		return false;
	}
	rss_enabled_ = true;
	rss_ = std::move(rss);
	return true;
}

bool Control::send_mcast_locked(const std::vector<rte_ether_addr> &addrs, bool add, bool retract,
				std::string &error) noexcept
{
	TxQueue *q = txqs_.empty() ? nullptr : txqs_[0];
	if (q == nullptr) {
		error = "netif queue 0 has no tx queue set up";
		return false;
	}
	/* The ring is the data path's while connected: taken back as for a
	 * disconnection (queue 0 only), then handed back unchanged in its
	 * generation. The watcher thread's quiesce_queues() holds ctrl_mutex_
	 * too, so it cannot interleave. */
	const uint32_t gen = generation_;
	const auto deadline = Clock::now() + 1s;
	size_t done = 0;
	for (;;) {
		if (retract) {
			xen::queue_retract(q->sync, gen | 1);
			xen::queue_retract_barrier();
			if (!xen::queue_wait_idle(q->sync, xen::Grace::start()))
				XF_DRV_LOG(ERR, name_.c_str(),
					   "tx queue 0: a burst did not finish within a second; "
					   "writing the multicast requests anyway");
		}
		done += tx_queue_send_mcast(*q, addrs.data() + done,
					    static_cast<unsigned>(addrs.size() - done), add);
		const bool broken = q->broken;
		if (retract)
			xen::queue_publish(q->sync, gen);
		if (done == addrs.size())
			return true;
		if (broken) {
			error = "netif queue 0 is stopped (the backend broke the protocol)";
			return false;
		}
		if (Clock::now() >= deadline) {
			error = "netif queue 0 had no room for " +
				std::to_string(addrs.size() - done) +
				" multicast request(s) within a second (backend " +
				xenbus_.back_dir() + " not answering)";
			return false;
		}
		std::this_thread::sleep_for(1ms);
	}
}

int Control::set_mcast_list(const rte_ether_addr *addrs, uint32_t n, std::string &error) noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	std::vector<rte_ether_addr> next(addrs, addrs + n);
	if (connected_) {
		/* Only the difference: DEL what went, then ADD what came. */
		auto listed = [](const std::vector<rte_ether_addr> &list, const rte_ether_addr &a) {
			return std::any_of(list.begin(), list.end(), [&](const rte_ether_addr &b) {
				return rte_is_same_ether_addr(&a, &b);
			});
		};
		std::vector<rte_ether_addr> gone, added;
		for (const rte_ether_addr &a : mcast_list_)
			if (!listed(next, a))
				gone.push_back(a);
		for (const rte_ether_addr &a : next)
			if (!listed(mcast_list_, a) && !listed(added, a))
				added.push_back(a);
		if (!send_mcast_locked(gone, false, true, error) ||
		    !send_mcast_locked(added, true, true, error)) {
			error = "multicast list not sent: " + error;
			return -EIO;
		}
	}
	mcast_list_ = std::move(next);
	return 0;
}

int Control::set_allmulticast(bool all, std::string &error) noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	if (connected_ && !features().dynamic_multicast_control) {
		error = "backend " + xenbus_.back_dir() +
			" reads request-multicast-control only when the frontend connects (no "
			"feature-dynamic-multicast-control): stop the port, change all-multicast, "
			"start it again";
		return -ENOTSUP;
	}
	if (connected_) {
		/* netif.h: the backend follows the key while connected. */
		const std::string node = xenbus_.front_dir() + "/request-multicast-control";
		if (!store_.write(node, all ? "0" : "1")) {
			error = "cannot write " + node + ": " + std::strerror(errno);
			return -EIO;
		}
		mcast_filter_sent_ = !all;
	}
	mcast_filter_ = !all;
	return 0;
}

void Control::release_ctrl_port() noexcept
{
	std::lock_guard lock(ctrl_mutex_);
	if (ctrl_)
		ctrl_->release_port();
}

} // namespace xenfront
