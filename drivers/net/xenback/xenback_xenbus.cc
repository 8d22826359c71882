/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The backend half of the xenbus handshake, following Linux xen-netback's
 * xenbus.c: netback_probe writes the features and goes InitWait;
 * frontend_changed reacts to the frontend's state (Initialising → InitWait,
 * Connected → map the rings and bind the event channels, then Connected,
 * Closing/Closed → disconnect); set_backend_state walks through the
 * intermediate states; xenbus_dev_fatal writes error/<nodename>/error and
 * goes Closing. */

#include "xenback_xenbus.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

#include <ethdev_driver.h>
#include <rte_lcore.h>

#include "xenback_logs.h"
#include "xstats.h"

namespace xenback
{

using xen::XenbusState;
using namespace std::chrono_literals;

namespace
{
constexpr auto quiesce_timeout = 2s;
const std::string watch_token = "xenback-frontend";
} // namespace

Control::Control(std::string name, const Config &config, rte_eth_dev *dev, xen::Store store,
		 xen::Gnttab gnttab, xen::Evtchn evtchn)
	: name_(std::move(name)), config_(config), dev_(dev), store_(std::move(store)),
	  gnttab_(std::move(gnttab)), evtchn_(std::move(evtchn))
{
}

Control::~Control()
{
	stop_thread();
	if (wake_fd_ >= 0)
		close(wake_fd_);
}

std::unique_ptr<Control> Control::probe(const char *name, const Config &config, rte_eth_dev *dev,
					std::string &error) noexcept
{
	auto store = xen::Store::open(error);
	if (!store)
		return nullptr;
	auto gnttab = xen::Gnttab::open(error);
	if (!gnttab)
		return nullptr;
	auto evtchn = xen::Evtchn::open(error);
	if (!evtchn)
		return nullptr;
	std::unique_ptr<Control> c(new (std::nothrow) Control(
		name, config, dev, std::move(*store), std::move(*gnttab), std::move(*evtchn)));
	if (c == nullptr) {
		error = "out of memory";
		return nullptr;
	}
	if (!c->read_vif(error) || !c->write_features(error))
		return nullptr;
	/* netback_probe: InitWait once the features are written. */
	c->state_ = c->store_.read_state(c->back_dir_).value_or(XenbusState::Unknown);
	c->set_state(XenbusState::InitWait);
	if (!c->start_thread(error))
		return nullptr;
	return c;
}

bool Control::read_vif(std::string &error) noexcept
{
	bool malformed = false;
	auto self = store_.read_uint("domid", 0x7fef, malformed);
	home_ = self ? "/local/domain/" + std::to_string(*self) : "/local/domain/0";
	guest_ = xen::DomId(static_cast<uint16_t>(*config_.domid));
	back_dir_ = home_ + "/backend/vif/" + guest_.str() + "/" + std::to_string(config_.vif);
	auto frontend = store_.read(back_dir_ + "/frontend");
	if (!frontend) {
		error = "no vif " + std::to_string(config_.vif) + " of domain " + guest_.str() +
			": cannot read " + back_dir_ + "/frontend (" + std::strerror(errno) +
			"); create the vif first (xl network-attach, or xensim vif-add)";
		return false;
	}
	front_dir_ = *frontend;
	auto fid = store_.read_uint(back_dir_ + "/frontend-id", 0x7fef, malformed);
	if (!fid || *fid != guest_.value()) {
		error = back_dir_ + "/frontend-id is '" +
			store_.read(back_dir_ + "/frontend-id").value_or("") + "', expected " +
			guest_.str();
		return false;
	}
	return true;
}

bool Control::write_features(std::string &error) noexcept
{
	/* What Linux netback's netback_probe advertises, minus what this
	 * backend does not implement yet (GSO, checksum offload, multicast
	 * control, the control ring, several queues): those keys are absent or
	 * say 0, which netif.h defines as "not supported". */
	auto body = [&](xen::Transaction &tx) {
		auto key = [&](const char *k) { return back_dir_ + "/" + k; };
		return tx.write(key("feature-sg"), config_.sg ? "1" : "0") &&
		       tx.write(key("feature-rx-copy"), config_.rx_copy ? "1" : "0") &&
		       tx.write(key("feature-rx-flip"), "0") &&
		       tx.write(key("feature-split-event-channels"),
				config_.split_event_channels ? "1" : "0") &&
		       tx.write(key("feature-no-csum-offload"), "1") &&
		       tx.write(key("feature-ipv6-csum-offload"), "0") &&
		       tx.write(key("feature-gso-tcpv4"), "0") &&
		       tx.write(key("feature-gso-tcpv6"), "0") &&
		       tx.write(key("multi-queue-max-queues"), "1");
	};
	if (!store_.transact(body, error)) {
		error = "cannot write the features under " + back_dir_ + ": " + error;
		return false;
	}
	return true;
}

namespace
{

/* One step of Linux netback's set_backend_state() from `from` towards `to`. */
XenbusState next_step(XenbusState from, XenbusState to) noexcept
{
	bool open = from == XenbusState::InitWait || from == XenbusState::Connected;
	switch (to) {
	case XenbusState::InitWait:
		if (from == XenbusState::Connected)
			return XenbusState::Closing;
		return from == XenbusState::Closing ? XenbusState::Closed : XenbusState::InitWait;
	case XenbusState::Connected:
		if (from == XenbusState::InitWait)
			return XenbusState::Connected;
		return from == XenbusState::Closing ? XenbusState::Closed : XenbusState::InitWait;
	case XenbusState::Closed:
		return open ? XenbusState::Closing : XenbusState::Closed;
	default:
		return to;
	}
}

} // namespace

void Control::set_state(XenbusState target) noexcept
{
	/* Only adjacent moves (e.g. Connected → Closing → Closed → InitWait),
	 * so a frontend sees every step. */
	while (state_ != target) {
		XenbusState next = next_step(state_, target);
		if (!store_.switch_state(back_dir_, next)) {
			XB_INIT_LOG(ERR, name_.c_str(), "cannot write %s/state: %s",
				    back_dir_.c_str(), std::strerror(errno));
			return;
		}
		state_ = next;
	}
}

void Control::fatal(const std::string &message) noexcept
{
	/* xenbus_dev_fatal: error/<nodename>/error under our home, then Closing. */
	XB_INIT_LOG(ERR, name_.c_str(), "%s", message.c_str());
	std::string rel = back_dir_.substr(home_.size() + 1);
	store_.write(home_ + "/error/" + rel + "/error", message);
	disconnect();
	set_state(XenbusState::Closing);
}

bool Control::read_frontend(FrontendRequest &req, std::string &error) noexcept
{
	bool malformed = false;
	auto key = [&](const char *k) { return front_dir_ + "/" + k; };
	auto number = [&](const char *k, uint64_t max) -> std::optional<uint64_t> {
		auto v = store_.read_uint(key(k), max, malformed);
		if (!v && error.empty())
			error = key(k) + " is " +
				(store_.read(key(k))
					 ? "'" + *store_.read(key(k)) + "', not a number"
					 : std::string("missing"));
		return v;
	};
	auto nq = store_.read_uint(key("multi-queue-num-queues"), 65535, malformed);
	if (nq && *nq != 1) {
		error = "guest requested " + std::to_string(*nq) +
			" queues, exceeding the maximum of 1";
		return false;
	}
	auto tx = number("tx-ring-ref", UINT32_MAX);
	auto rx = number("rx-ring-ref", UINT32_MAX);
	if (!tx || !rx)
		return false;
	req.tx_ring_ref = xen::GrantRef(static_cast<uint32_t>(*tx));
	req.rx_ring_ref = xen::GrantRef(static_cast<uint32_t>(*rx));
	if (store_.read(key("event-channel-tx")) && config_.split_event_channels) {
		auto ptx = number("event-channel-tx", UINT32_MAX);
		auto prx = number("event-channel-rx", UINT32_MAX);
		if (!ptx || !prx)
			return false;
		req.port_tx = xen::EvtchnPort(static_cast<uint32_t>(*ptx));
		req.port_rx = xen::EvtchnPort(static_cast<uint32_t>(*prx));
		req.split = true;
	} else {
		auto p = number("event-channel", UINT32_MAX);
		if (!p)
			return false;
		req.port_tx = req.port_rx = xen::EvtchnPort(static_cast<uint32_t>(*p));
	}
	/* Linux netback refuses frontends without these two. */
	if (!store_.read_flag(key("request-rx-copy"), false, malformed)) {
		error = "frontend " + front_dir_ + " does not set request-rx-copy=1";
		return false;
	}
	if (!store_.read_flag(key("feature-rx-notify"), false, malformed)) {
		error = "feature-rx-notify is mandatory (" + front_dir_ + ")";
		return false;
	}
	req.sg = store_.read_flag(key("feature-sg"), false, malformed);
	return true;
}

bool Control::connect(std::string &error) noexcept
{
	FrontendRequest req;
	if (!read_frontend(req, error))
		return false;
	tx_ring_ = xen::MappedGrants::map(gnttab_, guest_, std::span(&req.tx_ring_ref, 1), true,
					  error);
	if (!tx_ring_)
		return false;
	rx_ring_ = xen::MappedGrants::map(gnttab_, guest_, std::span(&req.rx_ring_ref, 1), true,
					  error);
	if (!rx_ring_) {
		tx_ring_.reset();
		return false;
	}
	port_tx_ = xen::BoundPort::bind_interdomain(evtchn_, guest_, req.port_tx, error);
	if (port_tx_ && req.split)
		port_rx_ = xen::BoundPort::bind_interdomain(evtchn_, guest_, req.port_rx, error);
	if (!port_tx_ || (req.split && !port_rx_)) {
		port_tx_.reset();
		port_rx_.reset();
		tx_ring_.reset();
		rx_ring_.reset();
		return false;
	}
	const xen::BoundPort &rx_port = req.split ? *port_rx_ : *port_tx_;
	bool interrupt = config_.style == NotifyStyle::interrupt;

	RxQueue &rq = *rxq_;
	rq.ring.attach(tx_ring_->data());
	rq.gnttab = gnttab_.get();
	rq.guest = guest_.value();
	rq.interrupt_style = interrupt;
	rq.armed = false;
	rq.broken = false;
	rq.notify = xen::Notifier{evtchn_.get(), port_tx_->port().value()};
	rq.wake_fd = evtchn_.fd();

	TxQueue &tq = *txq_;
	tq.ring.attach(rx_ring_->data());
	tq.gnttab = gnttab_.get();
	tq.guest = guest_.value();
	tq.guest_sg = req.sg;
	tq.interrupt_style = interrupt;
	tq.broken = false;
	tq.notify = xen::Notifier{evtchn_.get(), rx_port.port().value()};

	hostile_init_queues(rq, tq, config_.hostile);
	connected_ = true;
	generation_ = (generation_ | 1) + 1;
	xen::queue_publish(rq.sync, generation_);
	xen::queue_publish(tq.sync, generation_);
	XB_INIT_LOG(INFO, name_.c_str(),
		    "frontend %s connected: tx ring %u, rx ring %u, event channel%s %u%s%s, sg %s",
		    front_dir_.c_str(), req.tx_ring_ref.value(), req.rx_ring_ref.value(),
		    req.split ? "s" : "", req.port_tx.value(), req.split ? "/" : "",
		    req.split ? req.port_rx.str().c_str() : "", req.sg ? "on" : "off");
	return true;
}

void Control::disconnect() noexcept
{
	if (!connected_)
		return;
	update_link(false);
	generation_ |= 1;
	if ((generation_ & 1) == 0)
		generation_++;
	/* A burst lasts microseconds; a queue busy for ~1 s is a wedged lcore. */
	constexpr uint64_t spins = 100'000'000;
	bool idle = xen::queue_take_back(rxq_->sync, generation_, spins);
	idle &= xen::queue_take_back(txq_->sync, generation_, spins);
	if (!idle)
		XB_DRV_LOG(WARNING, name_.c_str(),
			   "a burst did not finish within a second; unmapping the rings anyway");
	rxq_->ring.detach();
	txq_->ring.detach();
	port_tx_.reset();
	port_rx_.reset();
	tx_ring_.reset();
	rx_ring_.reset();
	connected_ = false;
	XB_INIT_LOG(INFO, name_.c_str(), "frontend %s disconnected", front_dir_.c_str());
}

void Control::update_link(bool up) noexcept
{
	if (xen::set_link(dev_, up))
		XB_DRV_LOG(NOTICE, name_.c_str(), "link %s", up ? "up" : "down");
}

void Control::frontend_changed() noexcept
{
	auto front = store_.read_state(front_dir_).value_or(XenbusState::Unknown);
	if (front != frontend_state_)
		XB_INIT_LOG(DEBUG, name_.c_str(), "frontend %s: %s -> %s (backend %s)",
			    front_dir_.c_str(), xen::state_name(frontend_state_),
			    xen::state_name(front), xen::state_name(state_));
	frontend_state_ = front;
	switch (front) {
	case XenbusState::Initialising:
		frontend_fresh_ = true;
		disconnect();
		set_state(XenbusState::InitWait);
		break;
	case XenbusState::InitWait:
	case XenbusState::Initialised:
		frontend_fresh_ = true;
		break;
	case XenbusState::Connected: {
		if (state_ == XenbusState::Connected || state_ != XenbusState::InitWait)
			break;
		if (!frontend_fresh_ || !port_started_.load() || rxq_ == nullptr || txq_ == nullptr)
			break; /* a stale Connected, or the port is not started yet */
		std::string error;
		if (!connect(error)) {
			fatal("cannot connect to " + front_dir_ + ": " + error);
			break;
		}
		set_state(XenbusState::Connected);
		update_link(true);
		break;
	}
	case XenbusState::Closing:
		frontend_fresh_ = true;
		disconnect();
		set_state(XenbusState::Closing);
		break;
	case XenbusState::Closed:
	case XenbusState::Unknown:
	default:
		frontend_fresh_ = true;
		disconnect();
		set_state(XenbusState::Closed);
		break;
	}
}

void Control::kick() noexcept
{
	uint64_t one = 1;
	if (write(wake_fd_, &one, sizeof(one)) < 0)
		XB_DRV_LOG(WARNING, name_.c_str(), "cannot wake the control thread: %s",
			   std::strerror(errno));
}

bool Control::start_thread(std::string &error) noexcept
{
	wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd_ < 0) {
		error = std::string("eventfd: ") + std::strerror(errno);
		return false;
	}
	if (!store_.watch(front_dir_ + "/state", watch_token)) {
		error = "cannot watch " + front_dir_ + "/state: " + std::strerror(errno);
		return false;
	}
	char thread_name[RTE_MAX_THREAD_NAME_LEN];
	std::snprintf(thread_name, sizeof(thread_name), "xb-ctl-%u", dev_->data->port_id);
	int rc = rte_ctrl_thread_create(
		&thread_, thread_name, nullptr,
		[](void *arg) -> void * {
			static_cast<Control *>(arg)->run();
			return nullptr;
		},
		this);
	if (rc != 0) {
		error = std::string("cannot start the control thread: ") + std::strerror(-rc);
		return false;
	}
	thread_running_ = true;
	return true;
}

void Control::stop_thread() noexcept
{
	if (!thread_running_)
		return;
	stop_ = true;
	kick();
	pthread_join(thread_, nullptr);
	thread_running_ = false;
	store_.unwatch(front_dir_ + "/state", watch_token);
}

void Control::run() noexcept
{
	pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {store_.watch_fd(), POLLIN, 0}};
	const bool hostile = hostile_is_control(config_.hostile.behaviour);
	for (;;) {
		/* A periodic look too, so a lost watch event cannot wedge us. */
		poll(fds, 2, hostile && !hostile_done_ ? 50 : 1000);
		if (stop_.load())
			return;
		uint64_t drain;
		while (read(wake_fd_, &drain, sizeof(drain)) > 0) {
		}
		store_.pending_watch_paths();
		std::lock_guard lock(mutex_);
		frontend_changed();
		if (hostile && !hostile_done_)
			hostile_step();
	}
}

void Control::attach_rx_queue(RxQueue *q) noexcept
{
	std::lock_guard lock(mutex_);
	if (connected_) {
		disconnect();
		set_state(XenbusState::InitWait);
	}
	xen::queue_sync_init(q->sync, generation_);
	rxq_ = q;
}

void Control::attach_tx_queue(TxQueue *q) noexcept
{
	std::lock_guard lock(mutex_);
	if (connected_) {
		disconnect();
		set_state(XenbusState::InitWait);
	}
	xen::queue_sync_init(q->sync, generation_);
	txq_ = q;
}

void Control::detach_queues() noexcept
{
	std::lock_guard lock(mutex_);
	disconnect();
	rxq_ = nullptr;
	txq_ = nullptr;
}

void Control::set_port_started(bool started) noexcept
{
	port_started_.store(started);
	kick();
}

void Control::shutdown() noexcept
{
	stop_thread();
	std::lock_guard lock(mutex_);
	disconnect();
	set_state(XenbusState::Closed);
}

} // namespace xenback
