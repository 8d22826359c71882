/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The xenbus side of net_xenfront, in the order Linux xen-netfront follows
 * (netfront_probe, talk_to_netback, xennet_connect, xennet_remove):
 *   probe:   read backend/backend-id/mac/mtu from device/vif/N; read the
 *            backend's features if it is there (InitWait). Nothing waits
 *            for the backend: as Linux netfront's device exists before
 *            its backend, the port exists at once, link down. (A backend
 *            in Closed, left by the previous frontend, is given up to
 *            close_timeout to answer our Initialising with InitWait.)
 *   watcher: a control thread from probe to close. It takes the vif over
 *            if another frontend left it connected (Closing → Closed →
 *            Initialising), reads the backend's features at its InitWait,
 *            and, once the port is started, connects: format the rings,
 *            post rx buffers, allocate event channels, write the ring
 *            refs, channels and our features in one transaction, switch
 *            to Connected, wait for the backend's Connected, link up (LSC).
 *   start:   when the backend already waits in InitWait, our half of that
 *            handshake (up to Connected) runs in dev_start, so that what
 *            is wrong on our side fails dev_start; the wait for the
 *            backend is always the watcher's.
 *   watcher: follows the backend's state and carrier; when the backend
 *            leaves Connected (restarted), stops the data path, goes
 *            Closing → Closed → Initialising and connects again. When the
 *            store itself goes away (its daemon killed and restarted), the
 *            rings and event channels do not depend on it: the data path
 *            runs on while the watcher reopens the store and watches again.
 *   close:   Closing, wait, Closed, wait (both within close_timeout,
 *            500 ms unless told), delete the keys we wrote. */

#include "xenfront_xenbus.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

#include <ethdev_driver.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dpdk_compat.h"
#include "xenfront_logs.h"
#include "xstats.h"

namespace xenfront
{

using xen::XenbusState;
using namespace std::chrono_literals;

namespace
{

/* Linux netfront waits XENNET_TIMEOUT (5 s) for each step of a teardown; so
 * do we where no application call waits on it (a failed handshake, a
 * backend that left, another frontend's state taken over). */
constexpr auto teardown_step_timeout = 5s;

/* queue-N directories a frontend may have written (Linux netfront makes one
 * per vCPU); we clear this many. */
constexpr unsigned max_stale_queue_dirs = 64;

/* Keys a netif frontend writes (netif.h); ours are deleted on close. */
constexpr const char *frontend_keys[] = {
	"tx-ring-ref",
	"rx-ring-ref",
	"event-channel",
	"event-channel-tx",
	"event-channel-rx",
	"request-rx-copy",
	"feature-rx-notify",
	"feature-sg",
	"feature-gso-tcpv4",
	"feature-gso-tcpv6",
	"feature-ipv6-csum-offload",
	"feature-no-csum-offload",
	"multi-queue-num-queues",
	"ctrl-ring-ref",
	"event-channel-ctrl",
	"request-multicast-control",
};

} // namespace

bool Control::switch_state(XenbusState state, std::string &error) noexcept
{
	const auto written = xenbus_.switch_state(store_, state, error);
	if (written == xen::XenbusDevice::Write::Refused)
		XF_DRV_LOG(ERR, name_.c_str(), "%s", error.c_str());
	return written == xen::XenbusDevice::Write::Written;
}

void Control::write_state(XenbusState state) noexcept
{
	/* The teardown goes on without the write (a store down is recovered
	 * later); only a refused move, a driver bug, is said. */
	std::string error;
	switch_state(state, error);
}

Control::Control(std::string name, const Config &config, xen::Store store, xen::Gntshr gntshr,
		 xen::Evtchn evtchn)
	: name_(std::move(name)), config_(config), store_(std::move(store)),
	  gntshr_(std::move(gntshr)), evtchn_(std::move(evtchn))
{
}

Control::~Control()
{
	stop_watcher();
}

std::unique_ptr<Control> Control::probe(const char *name, const Config &config,
					std::string &error) noexcept
{
	auto store = xen::Store::open(error);
	if (!store)
		return nullptr;
	auto gntshr = xen::Gntshr::open(error);
	if (!gntshr)
		return nullptr;
	auto evtchn = xen::Evtchn::open(error);
	if (!evtchn)
		return nullptr;
	std::unique_ptr<Control> c(new (std::nothrow) Control(
		name, config, std::move(*store), std::move(*gntshr), std::move(*evtchn)));
	if (c == nullptr) {
		error = "out of memory";
		return nullptr;
	}
	if (!c->read_vif(error))
		return nullptr;
	/* netback_probe writes the features before it goes InitWait; a
	 * backend connected to another frontend has them too. Read before our
	 * state is touched, so that a bad one leaves the vif as it was. */
	auto theirs = c->xenbus_.read_other_state(c->store_);
	c->last_backend_state_ = theirs;
	if (theirs == XenbusState::InitWait || theirs == XenbusState::Connected) {
		if (!c->read_backend_features(error))
			return nullptr;
	}
	bool written = false;
	if (!c->own_state(error, written)) {
		if (!error.empty())
			return nullptr;
		c->take_over_pending_ = true; /* the control thread's, it waits */
	}
	if (written && theirs == XenbusState::Closed) {
		/* A backend a previous frontend closed (as every application's
		 * exit leaves it) answers our Initialising with InitWait at once
		 * (Linux netback's frontend_changed: "prepare for reconnect").
		 * Wait for that, bounded as close is: ethdev reads max_rx_queues
		 * before configure, so a port probed a moment too early would
		 * offer one queue pair where the backend has more. */
		XenbusState seen;
		const auto deadline =
			Clock::now() + std::chrono::milliseconds(c->config_.close_timeout_ms);
		if (c->wait_backend(deadline, {XenbusState::InitWait, XenbusState::Connected},
				    seen)) {
			c->last_backend_state_ = seen;
			theirs = seen;
			if (!c->read_backend_features(error))
				return nullptr;
		}
	}
	if (!c->features_known())
		XF_INIT_LOG(NOTICE, name,
			    "backend %s is %s, not ready: the port starts with link down and "
			    "connects once the backend reaches InitWait; until then it offers one "
			    "queue pair, no transmit offloads and frames up to a page",
			    c->xenbus_.back_dir().c_str(), xen::state_name(theirs));
	return c;
}

bool Control::read_vif(std::string &error) noexcept
{
	std::string rel = "device/vif/" + std::to_string(config_.vif);
	bool malformed = false;
	auto domid = store_.read_uint("domid", 0x7fef, malformed);
	const std::string front_dir =
		domid ? "/local/domain/" + std::to_string(*domid) + "/" + rel : rel;
	VifNodes vif;
	if (!read_vif_nodes(reader(), front_dir, config_.vif, vif, error))
		return false;
	xenbus_.bind(front_dir, vif.back_dir);
	/* Another frontend may have left our node (take_over() follows). */
	xenbus_.read_state(store_);
	backend_domid_ = vif.backend_domid;
	mac_ = vif.mac;
	mtu_ = vif.mtu;
	trusted_ = config_.trusted.value_or(vif.trusted);
	if (trusted_)
		return true;
	const char *why = config_.trusted ? "trusted=0" : "its trusted node is 0";
	if (config_.rx_copybreak != copybreak_off) {
		/* Lent pages come back to the ring with whatever the
		 * application wrote into them. */
		error = std::string("rx_copybreak lends receive pages to the application and "
				    "gives them back to the backend with what it wrote there; the "
				    "backend of ") +
			xenbus_.front_dir() + " is not trusted (" + why + "): unset rx_copybreak";
		return false;
	}
	XF_INIT_LOG(NOTICE, name_.c_str(),
		    "backend %s is not trusted (%s): it sees nothing but this vif's frames "
		    "(every frame copied, no granted mempool)",
		    xenbus_.back_dir().c_str(), why);
	return true;
}

NodeReader Control::reader() const
{
	return [this](const std::string &path) { return store_.read(path); };
}

bool Control::read_backend_features(std::string &error) noexcept
{
	BackendFeatures f;
	if (!xenfront::read_backend_features(reader(), xenbus_.back_dir(), f, error))
		return false;
	std::lock_guard lock(features_mutex_);
	features_ = f;
	features_known_ = true;
	return true;
}

BackendFeatures Control::features() const noexcept
{
	std::lock_guard lock(features_mutex_);
	return features_;
}

bool Control::features_known() const noexcept
{
	std::lock_guard lock(features_mutex_);
	return features_known_;
}

void Control::learn_features(rte_eth_dev *dev) noexcept
{
	const bool known = features_known();
	std::string error;
	if (!read_backend_features(error)) {
		XF_INIT_LOG(ERR, name_.c_str(), "%s", error.c_str());
		return;
	}
	const BackendFeatures f = features();
	publish_features(*static_cast<Adapter *>(dev->data->dev_private), f, tx_offload_caps());
	if (!known)
		XF_INIT_LOG(NOTICE, name_.c_str(),
			    "backend %s is ready (InitWait): %u queue pair(s), sg %s, control ring "
			    "%s",
			    xenbus_.back_dir().c_str(), f.max_queues, f.sg ? "on" : "off",
			    f.ctrl_ring ? "yes" : "no");
}

std::string Control::backend_error() const noexcept
{
	/* xenbus_dev_fatal() in a Linux backend writes error/<nodename>/error
	 * under the backend domain's home, where nodename is the backend path
	 * relative to that home (backend/vif/<domid>/<vif>). */
	std::string home = "/local/domain/" + backend_domid_.str() + "/";
	std::string rel = xenbus_.back_dir().rfind(home, 0) == 0
				  ? xenbus_.back_dir().substr(home.size())
				  : xenbus_.back_dir();
	auto err = store_.read(home + "error/" + rel + "/error");
	return err ? " (backend error: " + *err + ")" : "";
}

bool Control::wait_backend(Clock::time_point deadline, std::initializer_list<XenbusState> states,
			   XenbusState &seen) noexcept
{
	const std::string token = "xenfront-wait";
	store_.watch(xenbus_.back_dir() + "/state", token);
	bool reached = false;
	for (;;) {
		store_.pending_watch_paths();
		auto s = store_.read_state(xenbus_.back_dir());
		seen = s.value_or(XenbusState::Unknown);
		for (XenbusState want : states)
			if (seen == want)
				reached = true;
		if (reached || stopping() || !store_.wait_watch(deadline, xenbus_.thread().fd()))
			break;
	}
	store_.unwatch(xenbus_.back_dir() + "/state", token);
	store_.pending_watch_paths();
	return reached;
}

bool Control::close_step(XenbusState ours, Clock::time_point deadline) noexcept
{
	const auto started = Clock::now();
	write_state(ours);
	XenbusState seen;
	const bool followed =
		ours == XenbusState::Closing
			? wait_backend(deadline,
				       {XenbusState::Closing, XenbusState::Closed,
					XenbusState::Unknown, XenbusState::InitWait,
					XenbusState::Initialising},
				       seen)
			: wait_backend(deadline,
				       {XenbusState::Closed, XenbusState::Unknown,
					XenbusState::InitWait, XenbusState::Initialising},
				       seen);
	if (!followed && !stopping())
		XF_DRV_LOG(
			NOTICE, name_.c_str(),
			"backend %s did not follow our %s in %lld ms (still %s: dead or stuck?); "
			"going on without it",
			xenbus_.back_dir().c_str(), xen::state_name(ours),
			static_cast<long long>(
				std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
										      started)
					.count()),
			xen::state_name(seen));
	return followed;
}

bool Control::own_state(std::string &error, bool &written) noexcept
{
	written = false;
	error.clear();
	auto ours = xenbus_.read_state(store_);
	if (ours == XenbusState::Initialising)
		return true;
	if (ours != XenbusState::Closed && ours != XenbusState::Unknown)
		return false;
	written = true;
	return switch_state(XenbusState::Initialising, error);
}

bool Control::take_over(Clock::time_point deadline, std::string &error) noexcept
{
	bool written;
	if (own_state(error, written))
		return true;
	if (!error.empty())
		return false;
	auto ours = xenbus_.read_state(store_);
	XF_INIT_LOG(NOTICE, name_.c_str(),
		    "%s is in state %s (another frontend's?); taking it over: "
		    "Closing, Closed, Initialising",
		    xenbus_.front_dir().c_str(), xen::state_name(ours));
	if (ours != XenbusState::Closing)
		close_step(XenbusState::Closing,
			   std::min(deadline, Clock::now() + teardown_step_timeout));
	close_step(XenbusState::Closed, std::min(deadline, Clock::now() + teardown_step_timeout));
	if (stopping()) {
		error = "stopped";
		return false;
	}
	return switch_state(XenbusState::Initialising, error);
}

bool Control::share_queue_pages(std::optional<xen::SharedPages> &ring,
				std::optional<xen::SharedPages> &buffers, uint16_t nb_desc,
				bool backend_writes, uint32_t *grefs, std::string &error) noexcept
{
	ring.reset();
	buffers.reset();
	ring = xen::SharedPages::share(gntshr_, backend_domid_, 1, true, error);
	if (!ring)
		return false;
	buffers = xen::SharedPages::share(gntshr_, backend_domid_, nb_desc, backend_writes, error);
	if (!buffers) {
		ring.reset();
		return false;
	}
	for (uint16_t i = 0; i < nb_desc; i++)
		grefs[i] = buffers->ref(i).value();
	return true;
}

bool Control::share_lent_rx_pages(uint16_t qid, QueueResources &r, RxQueue &q,
				  std::string &error) noexcept
{
	/* As many spares as descriptors: the application may hold a ring's
	 * worth of lent pages (forwarding them to a port that keeps them
	 * until sent) and the ring stays full. A queue pair already needs
	 * 2 + nb_desc / 2 + nb_desc grants (tx_slot_size), 386 of gntalloc's
	 * default limit of 1024
	 * per domain; near the limit, fewer spares, down to one burst's worth,
	 * with a line saying so. */
	constexpr uint16_t min_spares = default_burst;
	r.rx_ring.reset();
	r.rx_buffers.reset();
	r.rx_ring = xen::SharedPages::share(gntshr_, backend_domid_, 1, true, error);
	if (!r.rx_ring)
		return false;
	/* Its own gntalloc handle: the block may outlive the port's. */
	std::optional<xen::Gntshr> gntshr = xen::Gntshr::open(error);
	if (!gntshr) {
		r.rx_ring.reset();
		return false;
	}
	uint16_t spares = q.nb_desc;
	std::optional<xen::SharedPages> pages;
	for (;;) {
		pages = xen::SharedPages::share(*gntshr, backend_domid_, q.nb_desc + spares, true,
						error);
		if (pages || spares <= min_spares)
			break;
		spares = static_cast<uint16_t>(std::max<unsigned>(spares / 2u, min_spares));
	}
	if (!pages) {
		error = "rx_copybreak needs " + std::to_string(q.nb_desc + spares) +
			" receive pages (descriptors and at least " + std::to_string(min_spares) +
			" spares): " + error + "; unset rx_copybreak or raise the limit";
		r.rx_ring.reset();
		return false;
	}
	if (spares < q.nb_desc)
		XF_INIT_LOG(NOTICE, name_.c_str(),
			    "rx queue %u: rx_copybreak: %u spare pages granted, not %u (gntalloc "
			    "limit); frames over the copy-break are copied while the application "
			    "holds more lent pages than that (rx_q%u_copybreak_fallback)",
			    qid, spares, q.nb_desc, qid);
	const auto count = static_cast<uint16_t>(q.nb_desc + spares);
	RxPages *block = RxPages::create(pages->page(0), count, error);
	if (block == nullptr) {
		r.rx_ring.reset();
		return false;
	}
	for (uint16_t p = 0; p < count; p++)
		q.grefs[p] = pages->ref(p).value();
	q.pages = pages->page(0);
	rx_pages_init(q, count);
	block->adopt(std::move(*gntshr), std::move(*pages));
	block->attach_queue(q, config_.rx_copybreak);
	r.rx_pages.reset(block);
	XF_INIT_LOG(INFO, name_.c_str(),
		    "rx queue %u: frames over %u bytes lent in their pages (%u spare pages)", qid,
		    config_.rx_copybreak, spares);
	return true;
}

bool Control::setup_rx_queue(uint16_t qid, RxQueue &q, std::string &error) noexcept
{
	if (qid >= resources_.size())
		resources_.resize(qid + 1);
	if (qid >= rxqs_.size())
		rxqs_.resize(qid + 1, nullptr);
	QueueResources &r = resources_[qid];
	if (r.rx_intr == nullptr) {
		r.rx_intr = RxInterrupt::create(error);
		if (r.rx_intr == nullptr)
			return false;
	}
	/* The backend copies received packets into these (grant copy). */
	r.rx_pages.reset();
	if (config_.rx_copybreak != copybreak_off) {
		if (!share_lent_rx_pages(qid, r, q, error))
			return false;
	} else {
		if (!share_queue_pages(r.rx_ring, r.rx_buffers, q.nb_desc, true, q.grefs, error))
			return false;
		q.pages = r.rx_buffers->page(0);
		rx_pages_init(q, q.nb_desc);
	}
	xen::queue_sync_init(q.sync, generation_);
	rxqs_[qid] = &q;
	return true;
}

bool Control::setup_tx_queue(uint16_t qid, TxQueue &q, std::string &error) noexcept
{
	if (qid >= resources_.size())
		resources_.resize(qid + 1);
	if (qid >= txqs_.size())
		txqs_.resize(qid + 1, nullptr);
	QueueResources &r = resources_[qid];
	/* Two ids per page (tx_slot_size, unless tx_queue_setup chose a page
	 * for TSO or jumbo frames): a frame over a slot chains slots, which
	 * needs feature-sg; a backend known to lack it gets a page per id, as
	 * a frame up to max_mtu must then fit one slot. Not known yet (no
	 * backend at InitWait): half pages, and without feature-sg frames over
	 * a slot are dropped (tx_q<N>_dropped). Linux netback and net_xenback
	 * always offer feature-sg. */
	if (features_known() && !features().sg)
		q.slot_size = xen::page_size;
	const uint16_t ids_per_page = xen::page_size / q.slot_size;
	q.nb_pages = static_cast<uint16_t>((q.nb_desc + ids_per_page - 1) / ids_per_page);
	uint32_t page_grefs[ring_size];
	/* The backend only reads transmitted packets. */
	if (!share_queue_pages(r.tx_ring, r.tx_buffers, q.nb_pages, false, page_grefs, error))
		return false;
	for (uint16_t id = 0; id < q.nb_desc; id++)
		q.grefs[id] = page_grefs[id / ids_per_page];
	q.pages = r.tx_buffers->page(0);
	xen::queue_sync_init(q.sync, generation_);
	txqs_[qid] = &q;
	return true;
}

void Control::release_rx_queue(uint16_t qid) noexcept
{
	if (qid < rxqs_.size())
		rxqs_[qid] = nullptr;
	if (qid < resources_.size()) {
		QueueResources &r = resources_[qid];
		r.rx_ring.reset();
		r.rx_buffers.reset();
		/* Freed now, or when the application frees its last lent page. */
		r.rx_pages.reset();
		/* Ports live only while connected; none may outlive its handle. */
		r.port_tx.reset();
		r.port_rx.reset();
		r.rx_intr.reset();
	}
}

void Control::release_tx_queue(uint16_t qid) noexcept
{
	if (qid < txqs_.size()) {
		/* Disconnected (the port is stopped): the backend reads no more. */
		if (txqs_[qid] != nullptr)
			tx_queue_release_held(*txqs_[qid]);
		txqs_[qid] = nullptr;
	}
	if (qid < resources_.size()) {
		resources_[qid].tx_ring.reset();
		resources_[qid].tx_buffers.reset();
	}
}

void Control::quiesce_queues() noexcept
{
	generation_ |= 1;
	if ((generation_ & 1) == 0)
		generation_++;
	for (RxQueue *q : rxqs_)
		if (q != nullptr)
			xen::queue_retract(q->sync, generation_);
	for (TxQueue *q : txqs_)
		if (q != nullptr)
			xen::queue_retract(q->sync, generation_);
	xen::queue_retract_barrier();
	const auto grace = xen::Grace::start();
	unsigned wedged = 0;
	for (RxQueue *q : rxqs_)
		if (q != nullptr && !xen::queue_wait_idle(q->sync, grace)) {
			wedged++;
			XF_DRV_LOG(ERR, name_.c_str(),
				   "rx queue %u: its burst still ran %lld ms after the rings were "
				   "taken back (a wedged lcore)",
				   q->queue_id,
				   static_cast<long long>(xen::Grace::default_budget.count()));
		}
	for (TxQueue *q : txqs_)
		if (q != nullptr && !xen::queue_wait_idle(q->sync, grace)) {
			wedged++;
			XF_DRV_LOG(ERR, name_.c_str(),
				   "tx queue %u: its burst still ran %lld ms after the rings were "
				   "taken back (a wedged lcore)",
				   q->queue_id,
				   static_cast<long long>(xen::Grace::default_budget.count()));
		}
	if (wedged != 0)
		XF_DRV_LOG(ERR, name_.c_str(), "resetting the rings of %u busy queue(s) anyway",
			   wedged);
}

void Control::publish_queues() noexcept
{
	generation_++;
	for (RxQueue *q : rxqs_)
		if (q != nullptr)
			xen::queue_publish(q->sync, generation_);
	for (TxQueue *q : txqs_)
		if (q != nullptr)
			xen::queue_publish(q->sync, generation_);
}

bool Control::write_keys(std::string &error) noexcept
{
	const bool split = features().split_event_channels;
	const size_t nb_queues = resources_.size();
	auto body = [&](xen::Transaction &tx) {
		auto key = [&](const std::string &k) { return xenbus_.front_dir() + "/" + k; };
		auto remove = [&](const std::string &k) { return tx.remove(key(k)); };
		auto write = [&](const std::string &k, const std::string &v) {
			return tx.write(key(k), v);
		};
		/* Keys a previous frontend may have left that would contradict ours. */
		for (const char *k : frontend_keys)
			if (!remove(k))
				return false;
		for (unsigned q = 0; q < max_stale_queue_dirs; q++)
			if (!remove("queue-" + std::to_string(q)))
				return false;
		bool ok = true;
		/* netif.h "Multiple transmit and receive queues": one queue keeps
		 * the flat layout; several go under queue-N/. */
		for (size_t q = 0; ok && q < nb_queues; q++) {
			const QueueResources &r = resources_[q];
			std::string dir = nb_queues == 1 ? "" : "queue-" + std::to_string(q) + "/";
			ok = write(dir + "tx-ring-ref", r.tx_ring->ref(0).str()) &&
			     write(dir + "rx-ring-ref", r.rx_ring->ref(0).str());
			if (split)
				ok = ok &&
				     write(dir + "event-channel-tx", r.port_tx->port().str()) &&
				     write(dir + "event-channel-rx", r.port_rx->port().str());
			else
				ok = ok && write(dir + "event-channel", r.port_tx->port().str());
		}
		/* Linux netback requires both (netif.h "feature-rx-notify"). */
		ok = ok && write("request-rx-copy", "1") && write("feature-rx-notify", "1") &&
		     write("feature-sg", features().sg ? "1" : "0");
		/* What we accept on receive follows the application's receive
		 * offloads: blank checksums only if it can take
		 * RTE_MBUF_F_RX_L4_CKSUM_NONE, GSO packets only with LRO. */
		const bool csum = rx_offloads_ &
				  (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
		const bool lro = rx_offloads_ & RTE_ETH_RX_OFFLOAD_TCP_LRO;
		/* netif.h: the control ring's keys before Connected. */
		if (ctrl_)
			ok = ok && write("ctrl-ring-ref", ctrl_->ring_ref().str()) &&
			     write("event-channel-ctrl", ctrl_->port().str());
		ok = ok && write("feature-no-csum-offload", csum ? "0" : "1") &&
		     write("feature-ipv6-csum-offload", csum ? "1" : "0") &&
		     write("feature-gso-tcpv4", lro ? "1" : "0") &&
		     write("feature-gso-tcpv6", lro ? "1" : "0") &&
		     write("multi-queue-num-queues", std::to_string(nb_queues));
		/* netif.h "Multicast control": filtering asked for, or not. */
		if (features().multicast_control) {
			ok = ok && write("request-multicast-control", mcast_filter_ ? "1" : "0");
			mcast_filter_sent_ = mcast_filter_;
		}
		return ok;
	};
	if (!store_.transact(body, error)) {
		error = "cannot write the connection keys under " + xenbus_.front_dir() + ": " +
			error;
		return false;
	}
	return true;
}

void Control::remove_keys() noexcept
{
	for (const char *k : frontend_keys)
		store_.remove(xenbus_.front_dir() + "/" + k);
	for (unsigned q = 0; q < max_stale_queue_dirs; q++)
		store_.remove(xenbus_.front_dir() + "/queue-" + std::to_string(q));
}

TxOffloadCaps Control::tx_offload_caps() const noexcept
{
	const BackendFeatures f = features();
	TxOffloadCaps caps;
	caps.ipv4_csum = !f.no_csum_offload;
	caps.ipv6_csum = f.ipv6_csum_offload;
	caps.gso_tcpv4 = f.gso_tcpv4 && f.sg;
	caps.gso_tcpv6 = f.gso_tcpv6 && f.sg;
	return caps;
}

bool Control::carrier() const noexcept
{
	/* netif.h "Link state": absent means up. */
	bool malformed = false;
	return store_.read_flag(xenbus_.back_dir() + "/carrier", true, malformed);
}

bool Control::queues_broken() const noexcept
{
	/* Written by the data path; a stale read only delays the link change
	 * to the next look (at most a second). */
	for (RxQueue *q : rxqs_)
		if (q != nullptr && __atomic_load_n(&q->broken, __ATOMIC_RELAXED))
			return true;
	for (TxQueue *q : txqs_)
		if (q != nullptr && __atomic_load_n(&q->broken, __ATOMIC_RELAXED))
			return true;
	return false;
}

void Control::update_link(rte_eth_dev *dev, bool up) noexcept
{
	if (xen::set_link(dev, up))
		XF_DRV_LOG(NOTICE, name_.c_str(), "link %s", up ? "up" : "down");
}

/* The port's queue pairs against what the backend offers. */
bool Control::check_queues_fit(const BackendFeatures &f, std::string &error) const noexcept
{
	if (resources_.empty() || !resources_[0].tx_ring || !resources_[0].rx_ring) {
		error = "no queue pair set up";
		return false;
	}
	if (resources_.size() > f.max_queues) {
		/* A backend restarted with fewer queues than the port was
		 * configured for (Linux netback would refuse the connection). */
		error = "backend " + xenbus_.back_dir() + " offers " +
			std::to_string(f.max_queues) +
			" queue pair(s) (multi-queue-max-queues), the port is configured for " +
			std::to_string(resources_.size()) +
			": stop the port and configure fewer queues, or use fanout=1";
		return false;
	}
	for (size_t i = 0; i < resources_.size(); i++)
		if (i >= rxqs_.size() || rxqs_[i] == nullptr || i >= txqs_.size() ||
		    txqs_[i] == nullptr) {
			error = "queue pair " + std::to_string(i) + " is not fully set up";
			return false;
		}
	return true;
}

/* Queue pair `i`, off the data path (odd generation): fresh event channels,
 * empty rings, its queues reset to them. */
bool Control::format_queue(size_t i, const BackendFeatures &f, std::string &error) noexcept
{
	QueueResources &r = resources_[i];
	RxQueue *rxq = rxqs_[i];
	TxQueue *txq = txqs_[i];
	r.port_rx.reset();
	r.port_tx.reset();
	/* The rx channel (or the only one) on the queue's own handle, which
	 * rx interrupt mode waits on (xenfront_intr.h). */
	const bool split = f.split_event_channels;
	const xen::Evtchn &rx_evtchn = r.rx_intr->evtchn();
	const xen::Evtchn &tx_evtchn = split ? evtchn_ : rx_evtchn;
	r.port_tx = xen::BoundPort::alloc_unbound(tx_evtchn, backend_domid_, error);
	if (!r.port_tx)
		return false;
	if (split) {
		r.port_rx = xen::BoundPort::alloc_unbound(rx_evtchn, backend_domid_, error);
		if (!r.port_rx)
			return false;
	}
	std::memset(r.rx_ring->page(0), 0, xen::page_size);
	std::memset(r.tx_ring->page(0), 0, xen::page_size);
	rxq->ring.init(r.rx_ring->page(0));
	txq->ring.init(r.tx_ring->page(0));
	rx_queue_reset(*rxq);
	tx_queue_reset(*txq);
	txq->sg = f.sg;
	txq->caps = tx_offload_caps();
	txq->notify = xen::Notifier{tx_evtchn.get(), r.port_tx->port().value()};
	rxq->notify =
		xen::Notifier{rx_evtchn.get(), (r.port_rx ? r.port_rx : r.port_tx)->port().value()};
	r.rx_intr->ring_reset(*rxq);
	return true;
}

/* The control ring only when RSS or static grants ask for it: a port
 * without them spends no grants or event channel on it. */
bool Control::prepare_ctrl_ring_locked(const BackendFeatures &f, std::string &error) noexcept
{
	const bool backend_rss = rss_enabled_ && !rss_in_software_;
	if (!f.ctrl_ring || !(backend_rss || config_.static_grants || steering_wanted())) {
		ctrl_.reset();
		return true;
	}
	if (!ctrl_) {
		ctrl_ = CtrlChannel::create(gntshr_, backend_domid_, error);
		if (!ctrl_)
			return false;
	}
	return ctrl_->reset(backend_domid_, error);
}

bool Control::begin_handshake(Clock::time_point deadline, std::string &error) noexcept
{
	failure_retryable_ = false;
	if (!take_over(deadline, error))
		return false;
	XenbusState seen;
	if (!wait_backend(deadline, {XenbusState::InitWait}, seen)) {
		error = "backend " + xenbus_.back_dir() + " did not reach InitWait (state " +
			xen::state_name(seen) + ")" + backend_error();
		failure_retryable_ = true;
		return false;
	}
	if (!read_backend_features(error))
		return false;
	const BackendFeatures f = features();
	if (!check_queues_fit(f, error))
		return false;
	for (size_t i = 0; i < resources_.size(); i++)
		if (!format_queue(i, f, error))
			return false;
	std::lock_guard ctrl_lock(ctrl_mutex_);
	if (!prepare_ctrl_ring_locked(f, error) || !write_keys(error))
		return false;
	keys_written_ = true;
	return switch_state(XenbusState::Connected, error);
}

void Control::handshake_sent() noexcept
{
	/* Events up to here are for writes we have read (xenstored sends a
	 * watch event before the answer to any later request): from now on a
	 * write of the backend's state is one made after our Connected. */
	store_.pending_watch_paths();
	handshake_pending_ = true;
	handshake_sent_at_ = Clock::now();
	slow_backend_reported_ = false;
}

void Control::await_backend_connected(rte_eth_dev *dev, XenbusState state,
				      bool state_written) noexcept
{
	std::string error;
	if (state == XenbusState::Connected) {
		handshake_pending_ = false;
		if (!complete_connection(dev, error))
			connection_failed(error);
		return;
	}
	if (state_written &&
	    (state == XenbusState::InitWait || state == XenbusState::Initialising)) {
		/* Written again, not moved on: xenbus never rewrites a state it
		 * is in, so this is a new backend (the one we wrote Connected for
		 * died before answering; net_xenback restarted). It takes our
		 * Connected for a stale one: announce ourselves again. */
		handshake_pending_ = false;
		failure_retryable_ = true;
		last_backend_state_ = XenbusState::Unknown; /* its features anew */
		connection_failed("backend " + xenbus_.back_dir() + " wrote " +
				  xen::state_name(state) +
				  " again before answering our Connected: a new backend; "
				  "connecting again");
		return;
	}
	std::string refused = backend_error();
	if (state == XenbusState::Closing || state == XenbusState::Closed ||
	    state == XenbusState::Unknown || !refused.empty()) {
		/* It closed (it may have died or restarted): try again when it
		 * is back in InitWait. Unless it refused us: then its error
		 * says why, and a retry would too. */
		handshake_pending_ = false;
		failure_retryable_ = refused.empty();
		connection_failed("backend " + xenbus_.back_dir() + " did not connect (state " +
				  xen::state_name(state) + ")" + refused);
		return;
	}
	auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
									    handshake_sent_at_);
	if (!slow_backend_reported_ && waited.count() >= config_.connect_timeout_ms) {
		slow_backend_reported_ = true;
		XF_DRV_LOG(NOTICE, name_.c_str(),
			   "backend %s has not answered our Connected in %lld ms (state %s); "
			   "waiting for it, link down",
			   xenbus_.back_dir().c_str(), static_cast<long long>(waited.count()),
			   xen::state_name(state));
	}
}

bool Control::complete_connection(rte_eth_dev *dev, std::string &error) noexcept
{
	failure_retryable_ = false;
	std::lock_guard ctrl_lock(ctrl_mutex_);
	if (rss_enabled_ && !rss_in_software_) {
		if (!apply_rss_locked(rss_, error))
			return false;
	} else if (steering_wanted()) {
		steer_to_polled_locked();
	}
	if (config_.static_grants)
		map_static_grants_locked();
	/* All-multicast changed between our keys and the backend's answer
	 * (set_allmulticast() saw no connection yet). */
	if (features().multicast_control && mcast_filter_ != mcast_filter_sent_) {
		const std::string node = xenbus_.front_dir() + "/request-multicast-control";
		if (!features().dynamic_multicast_control)
			XF_DRV_LOG(WARNING, name_.c_str(),
				   "all-multicast mode changed while connecting to %s, which reads "
				   "%s only then: in effect from the next connection",
				   xenbus_.back_dir().c_str(), node.c_str());
		else if (store_.write(node, mcast_filter_ ? "1" : "0"))
			mcast_filter_sent_ = mcast_filter_;
		else
			XF_DRV_LOG(ERR, name_.c_str(), "cannot write %s: %s", node.c_str(),
				   std::strerror(errno));
	}
	/* The backend starts each connection with an empty list: ours again,
	 * while the data path is still off the rings. */
	if (features().multicast_control && !mcast_list_.empty() &&
	    !send_mcast_locked(mcast_list_, true, false, error)) {
		error = "cannot send the multicast list to " + xenbus_.back_dir() + ": " + error;
		return false;
	}
	connected_ = true;
	broken_reported_ = false;
	publish_queues();
	XF_INIT_LOG(INFO, name_.c_str(), "connected to %s (%s event channels, sg %s)",
		    xenbus_.back_dir().c_str(), features().split_event_channels ? "split" : "one",
		    features().sg ? "on" : "off");
	update_link(dev, carrier());
	return true;
}

void Control::abandon_connection() noexcept
{
	/* Leave nothing half-configured, in Linux netfront's order: the
	 * backend follows Closing and Closed (bounded) before our keys go, so
	 * that a backend still catching up on our Connected does not look
	 * for rings that are no longer described (Linux netback then fails
	 * the vif: "reading .../ring-ref", seen on Xen under load). */
	if (keys_written_) {
		close_step(XenbusState::Closing, Clock::now() + teardown_step_timeout);
		close_step(XenbusState::Closed, Clock::now() + teardown_step_timeout);
	} else {
		write_state(XenbusState::Closed);
	}
	remove_keys();
	keys_written_ = false;
	for (QueueResources &r : resources_) {
		r.port_tx.reset();
		r.port_rx.reset();
	}
	release_ctrl_port();
	write_state(XenbusState::Initialising);
}

void Control::connection_failed(const std::string &error) noexcept
{
	{
		std::lock_guard ctrl_lock(ctrl_mutex_); /* against a multicast op */
		connected_ = false;
	}
	abandon_connection();
	if (stopping())
		return; /* the port is stopping or closing: not a failure */
	/* The line alone, as dev_start would have logged it. */
	XF_INIT_LOG(ERR, name_.c_str(), "%s", error.c_str());
	if (failure_retryable_) {
		XF_DRV_LOG(NOTICE, name_.c_str(), "connecting again when %s is back in InitWait",
			   xenbus_.back_dir().c_str());
		return;
	}
	/* Trying again would fail the same way (and, with a backend that
	 * refuses RSS, endlessly): as Linux netfront after xenbus_dev_fatal,
	 * the vif stays down until told otherwise. */
	gave_up_ = true;
	XF_DRV_LOG(ERR, name_.c_str(),
		   "not connected to %s: the link stays down until the port is stopped and "
		   "started again",
		   xenbus_.back_dir().c_str());
}

bool Control::follow(rte_eth_dev *dev, std::string &error) noexcept
{
	return start_watcher(dev, error);
}

bool Control::start(rte_eth_dev *dev, std::string &error) noexcept
{
	stop_watcher();
	started_ = true;
	gave_up_ = false;
	handshake_pending_ = false;
	bool written = false;
	bool ready = false;
	if (!take_over_pending_) {
		if (!own_state(error, written)) {
			if (!error.empty()) {
				started_ = false;
				std::string ignored;
				start_watcher(dev, ignored);
				return false;
			}
			take_over_pending_ = true;
		}
	}
	if (!take_over_pending_)
		ready = xenbus_.read_other_state(store_) == XenbusState::InitWait;
	if (ready) {
		/* Our half now, so that what is wrong on our side fails here. */
		auto deadline =
			Clock::now() + std::chrono::milliseconds(config_.connect_timeout_ms);
		if (!begin_handshake(deadline, error)) {
			abandon_connection();
			started_ = false;
			std::string ignored;
			start_watcher(dev, ignored);
			return false;
		}
		handshake_sent();
	} else {
		XF_INIT_LOG(INFO, name_.c_str(),
			    "connecting to %s once it is in InitWait (link down until then)",
			    xenbus_.back_dir().c_str());
	}
	if (!start_watcher(dev, error)) {
		abandon_connection();
		started_ = false;
		handshake_pending_ = false;
		return false;
	}
	return true;
}

void Control::stop(rte_eth_dev *dev) noexcept
{
	shutdown();
	std::string error;
	if (!start_watcher(dev, error))
		XF_DRV_LOG(WARNING, name_.c_str(),
			   "%s; the backend is not followed until the next start", error.c_str());
}

void Control::shutdown() noexcept
{
	stop_watcher();
	started_ = false;
	handshake_pending_ = false;
	disconnect();
}

void Control::disconnect() noexcept
{
	quiesce_queues();
	if (connected_ || keys_written_) {
		/* Stop, close and Ctrl-C wait for the backend within one budget
		 * (close_timeout): a dead backend costs that, not 5 s a step. */
		unmap_static_grants();
		const auto began = Clock::now();
		const auto deadline = began + std::chrono::milliseconds(config_.close_timeout_ms);
		bool followed = close_step(XenbusState::Closing, deadline);
		if (followed)
			followed = close_step(XenbusState::Closed, deadline);
		else
			write_state(XenbusState::Closed);
		XF_DRV_LOG(INFO, name_.c_str(), "closed %s in %lld ms (the backend %s)",
			   xenbus_.back_dir().c_str(),
			   static_cast<long long>(
				   std::chrono::duration_cast<std::chrono::milliseconds>(
					   Clock::now() - began)
					   .count()),
			   followed ? "followed" : "did not follow");
	} else if (!take_over_pending_) {
		write_state(XenbusState::Closed);
	}
	remove_keys();
	keys_written_ = false;
	connected_ = false;
	/* The backend has closed (or its wait timed out: it is gone) and the
	 * data path is off the rings: mbufs sent without a copy and still
	 * unanswered go back to their pool now, not at the next connection. */
	for (TxQueue *q : txqs_)
		if (q != nullptr)
			tx_queue_release_held(*q);
	for (QueueResources &r : resources_) {
		r.port_tx.reset();
		r.port_rx.reset();
	}
	release_ctrl_port();
}

bool Control::start_watcher(rte_eth_dev *dev, std::string &error) noexcept
{
	if (xenbus_.thread().running())
		return true;
	if (!xenbus_.watch_other(store_, error))
		return false;
	char thread_name[RTE_MAX_THREAD_NAME_LEN];
	std::snprintf(thread_name, sizeof(thread_name), "xf-ctl-%u", dev->data->port_id);
	xen::XenbusHooks hooks;
	hooks.pass = [this, dev](const std::vector<std::string> &fired) {
		return watch_pass(dev, fired);
	};
	hooks.recover_store = [this, dev] { return recover_store(dev); };
	if (!xenbus_.start_thread(store_, thread_name, std::move(hooks), error)) {
		xenbus_.unwatch_other(store_);
		return false;
	}
	return true;
}

void Control::stop_watcher() noexcept
{
	if (!xenbus_.thread().running())
		return;
	xenbus_.stop_thread();
	xenbus_.unwatch_other(store_);
}

bool Control::recover_store(rte_eth_dev *dev) noexcept
{
	XF_DRV_LOG(WARNING, name_.c_str(),
		   "lost the connection to xenstore (store daemon restarted?); the data path "
		   "keeps running (link %s); reopening the store",
		   dev->data->dev_link.link_status ? "up" : "down");
	const auto start = Clock::now();
	unsigned attempts = 0;
	/* The new connection has none of our watches. */
	auto store = xenbus_.reopen_store(
		[this](xen::Store &s, std::string &error) { return xenbus_.watch_other(s, error); },
		attempts);
	if (!store)
		return false;
	{
		/* set_allmulticast() writes through it from the application's
		 * thread. */
		std::lock_guard ctrl_lock(ctrl_mutex_);
		store_ = std::move(*store);
	}
	if (store_reconnects_ != nullptr)
		__atomic_fetch_add(store_reconnects_, 1, __ATOMIC_RELAXED);
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
	auto state = xenbus_.read_other_state(store_);
	XF_DRV_LOG(NOTICE, name_.c_str(),
		   "xenstore reopened after %u attempt(s) in %lld ms; watching %s again "
		   "(backend %s)",
		   attempts, static_cast<long long>(ms.count()), xenbus_.back_dir().c_str(),
		   xen::state_name(state));
	return true;
}

/* Another frontend's state on the vif: Closing, Closed, Initialising,
 * each step waiting (bounded) for the backend. False if asked to stop. */
bool Control::follow_take_over(XenbusState &state) noexcept
{
	std::string error;
	auto deadline = Clock::now() + 2 * teardown_step_timeout;
	if (!take_over(deadline, error)) {
		if (stopping())
			return false;
		XF_INIT_LOG(ERR, name_.c_str(), "%s", error.c_str());
		gave_up_ = true;
	}
	take_over_pending_ = false;
	state = xenbus_.read_other_state(store_);
	return true;
}

/* Connected on both sides: the link follows the carrier. A queue stopped by
 * a protocol violation stays stopped until the backend reconnects (or the
 * port restarts): the link goes down, as Linux netfront's "Disabled for
 * further use". */
void Control::follow_carrier(rte_eth_dev *dev) noexcept
{
	bool broken = queues_broken();
	if (broken && !broken_reported_) {
		broken_reported_ = true;
		XF_DRV_LOG(ERR, name_.c_str(),
			   "backend %s broke the netif protocol; link down until it reconnects or "
			   "the port is restarted",
			   xenbus_.back_dir().c_str());
	}
	update_link(dev, carrier() && !broken);
}

/* The backend left Connected (it closed or restarted): the rings back from
 * the data path, our side back to Initialising. False if asked to stop
 * meanwhile (stop() or shutdown() finishes the teardown). */
bool Control::backend_left(rte_eth_dev *dev, XenbusState &state) noexcept
{
	XF_DRV_LOG(NOTICE, name_.c_str(), "backend %s went %s; reconnecting when it returns",
		   xenbus_.back_dir().c_str(), xen::state_name(state));
	update_link(dev, false);
	{
		/* Against a multicast change taking ring 0. */
		std::lock_guard ctrl_lock(ctrl_mutex_);
		quiesce_queues();
		connected_ = false;
	}
	close_step(XenbusState::Closing, Clock::now() + teardown_step_timeout);
	if (stopping())
		return false;
	write_state(XenbusState::Closed);
	for (QueueResources &r : resources_) {
		r.port_tx.reset();
		r.port_rx.reset();
	}
	keys_written_ = false;
	write_state(XenbusState::Initialising);
	state = xenbus_.read_other_state(store_);
	last_backend_state_ = state;
	return true;
}

/* One look at the backend's state (after a watch event or a second): what
 * the state machine of netif.h asks of us next. False to end the thread. */
bool Control::follow_backend(rte_eth_dev *dev, XenbusState state, bool state_written) noexcept
{
	if (take_over_pending_ && !follow_take_over(state))
		return false;
	/* The backend (re)started: its features may have changed. */
	if (state == XenbusState::InitWait && last_backend_state_ != XenbusState::InitWait &&
	    !connected_ && !handshake_pending_)
		learn_features(dev);
	last_backend_state_ = state;
	if (!started_ || gave_up_)
		return true;
	if (handshake_pending_) {
		/* Our half is out: the backend's answer, however long it takes
		 * (every watch event and each second). */
		await_backend_connected(dev, state, state_written);
		return true;
	}
	if (connected_ && state == XenbusState::Connected) {
		follow_carrier(dev);
		return true;
	}
	if (connected_ && !backend_left(dev, state))
		return false;
	if (state == XenbusState::InitWait) {
		std::string error;
		auto deadline =
			Clock::now() + std::chrono::milliseconds(config_.connect_timeout_ms);
		if (begin_handshake(deadline, error))
			handshake_sent();
		else
			connection_failed(error);
	}
	return true;
}

/* One pass of the control thread (xen::XenbusDevice runs it on a watch
 * event, and each second: a missed watch must not wedge us; the watch
 * fires once when set, so the first pass comes at once). */
xen::Pass Control::watch_pass(rte_eth_dev *dev, const std::vector<std::string> &fired) noexcept
{
	const auto state = xenbus_.follow_other_state(store_);
	if (!state)
		return xen::Pass::StoreLost; /* the store, not the backend: nothing torn down */
	const bool state_written = xenbus_.other_state_events(fired) > 0;
	return follow_backend(dev, *state, state_written) ? xen::Pass::Wait : xen::Pass::Stop;
}

} // namespace xenfront
