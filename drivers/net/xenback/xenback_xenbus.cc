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
#include <rte_random.h>

#include "dpdk_compat.h"
#include "store_parse.h"
#include "xenback_logs.h"
#include "xstats.h"

namespace xenback
{

using xen::XenbusState;
using namespace std::chrono_literals;

namespace
{
constexpr auto quiesce_timeout = 2s;
const std::string device_watch_token = "xenback-vif";
const std::string mcast_watch_token = "xenback-mcast";
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
	c->steering_ = &static_cast<Adapter *>(dev->data->dev_private)->steering;
	c->mcast_ = &static_cast<Adapter *>(dev->data->dev_private)->mcast;
	c->steering_->flow_seed = static_cast<uint32_t>(rte_rand());
	bool malformed = false;
	auto self = c->store_.read_uint("domid", max_guest_domid, malformed);
	c->home_ = "/local/domain/" + std::to_string(self.value_or(0));
	/* Linux probes netback when the device node appears: watch for it
	 * before looking, so that a vif created in between is not missed. */
	c->device_watch_ = config.domid
				   ? c->vif_dir(xen::DomId(static_cast<uint16_t>(*config.domid)))
				   : c->home_ + "/backend/vif";
	if (!c->store_.watch(c->device_watch_, device_watch_token)) {
		error = "cannot watch " + c->device_watch_ + ": " + std::strerror(errno);
		return nullptr;
	}
	/* A vif there but wrong is refused now, as before; one not there yet
	 * is waited for by the control thread. */
	if (c->look_for_vif(error) == Found::refused)
		return nullptr;
	if (!c->bound_)
		XB_INIT_LOG(NOTICE, name, "waiting for %s; link down until then",
			    c->awaited().c_str());
	if (!c->start_thread(error))
		return nullptr;
	return c;
}

std::string Control::vif_dir(xen::DomId guest) const
{
	return home_ + "/backend/vif/" + guest.str() + "/" + std::to_string(config_.vif);
}

/* What the port waits for, as the log lines say it. */
std::string Control::awaited() const
{
	if (config_.domid)
		return device_watch_ + " to appear (xl network-attach, or xensim vif-add)";
	return "a domain named '" + std::string(config_.domain) +
	       "' (its /local/domain/<domid>/name) " + "to get vif " + std::to_string(config_.vif) +
	       " under " + device_watch_ +
	       " (xl create or xl network-attach, or xensim vif-add --name)";
}

Control::Found Control::look_for_vif(std::string &why) noexcept
{
	if (config_.domid)
		return take_vif(xen::DomId(static_cast<uint16_t>(*config_.domid)), why);
	auto guest = find_named_guest();
	return guest ? take_vif(*guest, why) : Found::absent;
}

/* The domain named config_.domain that has our vif: libxl writes the name
 * (libxl__domain_make) before any of the domain's devices. Two of them (a
 * toolstack that let a name be reused while the old domain's vif is still
 * there) take the newer, that is the higher domain id. */
std::optional<xen::DomId> Control::find_named_guest() noexcept
{
	auto domids = store_.directory(home_ + "/backend/vif");
	if (!domids)
		return std::nullopt;
	std::optional<xen::DomId> found;
	for (const std::string &d : *domids) {
		if (d.empty() || d.size() > 5 ||
		    d.find_first_not_of("0123456789") != std::string::npos)
			continue;
		unsigned long id = std::stoul(d);
		if (id == 0 || id > max_guest_domid)
			continue;
		xen::DomId guest(static_cast<uint16_t>(id));
		if (!store_.read(vif_dir(guest) + "/frontend"))
			continue;
		auto named = store_.read("/local/domain/" + d + "/name");
		if (!named || *named != config_.domain)
			continue;
		if (found)
			XB_INIT_LOG(WARNING, name_.c_str(),
				    "domains %u and %u are both named '%s' and have vif %u; taking "
				    "the newer, %u",
				    found->value(), guest.value(), config_.domain, config_.vif,
				    std::max(found->value(), guest.value()));
		if (!found || guest > *found)
			found = guest;
	}
	return found;
}

Control::Found Control::take_vif(xen::DomId guest, std::string &why) noexcept
{
	const std::string dir = vif_dir(guest);
	auto frontend = store_.read(dir + "/frontend");
	if (!frontend)
		return Found::absent; /* not there yet */
	bool malformed = false;
	auto fid = store_.read_uint(dir + "/frontend-id", max_guest_domid, malformed);
	if (!fid || *fid != guest.value()) {
		why = dir + "/frontend-id is '" + store_.read(dir + "/frontend-id").value_or("") +
		      "', expected " + guest.str();
		return Found::refused;
	}
	guest_ = guest;
	xenbus_.bind(*frontend, dir);
	bool gone = false;
	if (!write_features(why, gone)) {
		if (!gone)
			return Found::refused;
		why.clear();
		return Found::absent; /* removed meanwhile */
	}
	/* The watch before our InitWait: every write of the frontend's
	 * state answering it then fires after the watch's first event. */
	if (!xenbus_.watch_other(store_, why))
		return Found::refused;
	front_watch_registrations_ = 1;
	/* netback_probe: InitWait once the features are written. */
	bound_ = true;
	frontend_state_ = XenbusState::Unknown;
	frontend_fresh_ = false;
	if (xenbus_.read_state(store_) == XenbusState::InitWait) {
		/* Left there by a backend that died (ours, killed): write it
		 * again all the same. A frontend whose Connected that backend
		 * never answered learns from this write that a new backend is
		 * here, and connects anew (its Connected is stale to us). */
		write_state(XenbusState::InitWait);
	}
	set_state(XenbusState::InitWait);
	auto *a = static_cast<Adapter *>(dev_->data->dev_private);
	__atomic_add_fetch(&a->vif_found, 1, __ATOMIC_RELAXED);
	if (config_.domid)
		XB_INIT_LOG(NOTICE, name_.c_str(), "serving %s for %s", xenbus_.back_dir().c_str(),
			    xenbus_.front_dir().c_str());
	else
		XB_INIT_LOG(NOTICE, name_.c_str(), "serving %s for %s (domain '%s' is domain %u)",
			    xenbus_.back_dir().c_str(), xenbus_.front_dir().c_str(), config_.domain,
			    guest_.value());
	return Found::taken;
}

void Control::vif_removed() noexcept
{
	/* As netback_remove when xenbus sees the device node go: nothing is
	 * written under the removed directory (that would bring it back). */
	XB_INIT_LOG(NOTICE, name_.c_str(),
		    "%s removed (the vif detached, or its guest destroyed): link down, rings "
		    "unmapped, event channels unbound",
		    xenbus_.back_dir().c_str());
	disconnect();
	xenbus_.unwatch_other(store_);
	bound_ = false;
	frontend_state_ = XenbusState::Unknown;
	frontend_fresh_ = false;
	front_watch_registrations_ = 0;
	xenbus_.unbind();
	auto *a = static_cast<Adapter *>(dev_->data->dev_private);
	__atomic_add_fetch(&a->vif_removed, 1, __ATOMIC_RELAXED);
	XB_INIT_LOG(NOTICE, name_.c_str(), "waiting for %s", awaited().c_str());
}

void Control::refresh() noexcept
{
	if (bound_ && !store_.read(xenbus_.back_dir())) {
		if (!store_.alive()) {
			store_lost_ = true;
			return;
		}
		vif_removed();
	}
	if (!bound_) {
		std::string why;
		Found f = look_for_vif(why);
		if (f == Found::refused && why != refused_)
			XB_INIT_LOG(ERR, name_.c_str(), "%s; not serving it", why.c_str());
		refused_ = f == Found::refused ? why : std::string();
		if (!bound_ && !store_.alive()) {
			store_lost_ = true;
			return;
		}
	}
	if (bound_)
		frontend_changed();
}

bool Control::write_features(std::string &error, bool &gone) noexcept
{
	/* What Linux netback's netback_probe advertises. Each feature can be
	 * switched off by its devarg (the key then says 0, which netif.h
	 * defines as "not supported"), so a frontend's fallbacks can be
	 * tested. GSO needs sg; dynamic multicast control needs multicast
	 * control. Written only while the vif is there. */
	auto body = [&](xen::Transaction &tx) {
		if (!tx.read(xenbus_.back_dir() + "/frontend")) {
			gone = true;
			return false;
		}
		auto key = [&](const char *k) { return xenbus_.back_dir() + "/" + k; };
		auto flag = [](bool on) { return on ? "1" : "0"; };
		return tx.write(key("feature-sg"), flag(config_.sg)) &&
		       tx.write(key("feature-rx-copy"), flag(config_.rx_copy)) &&
		       tx.write(key("feature-rx-flip"), "0") &&
		       tx.write(key("feature-split-event-channels"),
				flag(config_.split_event_channels)) &&
		       tx.write(key("feature-no-csum-offload"), flag(!config_.csum)) &&
		       tx.write(key("feature-ipv6-csum-offload"), flag(config_.ipv6_csum)) &&
		       tx.write(key("feature-gso-tcpv4"), flag(config_.gso_tcpv4 && config_.sg)) &&
		       tx.write(key("feature-gso-tcpv6"), flag(config_.gso_tcpv6 && config_.sg)) &&
		       tx.write(key("multi-queue-max-queues"),
				std::to_string(config_.max_queues)) &&
		       tx.write(key("feature-ctrl-ring"), flag(config_.ctrl_ring)) &&
		       tx.write(key("feature-multicast-control"),
				flag(config_.multicast_control)) &&
		       tx.write(key("feature-dynamic-multicast-control"),
				flag(config_.multicast_control &&
				     config_.dynamic_multicast_control));
	};
	if (!store_.transact(body, error)) {
		error = "cannot write the features under " + xenbus_.back_dir() + ": " + error;
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

bool Control::write_state(XenbusState state) noexcept
{
	/* As Linux's xenbus_switch_state, a state node gone is not written:
	 * that would bring back the directory the toolstack removed (the
	 * control thread then lets the vif go). */
	std::string error;
	const auto written = xenbus_.switch_state(store_, state, error, true);
	if (written == xen::XenbusDevice::Write::Gone)
		XB_INIT_LOG(DEBUG, name_.c_str(), "%s", error.c_str());
	else if (written != xen::XenbusDevice::Write::Written)
		XB_INIT_LOG(ERR, name_.c_str(), "%s", error.c_str());
	return written == xen::XenbusDevice::Write::Written;
}

void Control::set_state(XenbusState target) noexcept
{
	/* Only adjacent moves (e.g. Connected → Closing → Closed → InitWait),
	 * so a frontend sees every step. */
	if (!bound_)
		return;
	while (xenbus_.state() != target) {
		if (!write_state(next_step(xenbus_.state(), target)))
			return;
	}
}

void Control::fatal(const std::string &message) noexcept
{
	/* xenbus_dev_fatal: error/<nodename>/error under our home, then Closing. */
	XB_INIT_LOG(ERR, name_.c_str(), "%s", message.c_str());
	std::string rel = xenbus_.back_dir().substr(home_.size() + 1);
	store_.write(home_ + "/error/" + rel + "/error", message);
	disconnect();
	set_state(XenbusState::Closing);
}

bool Control::read_queue(const std::string &dir, bool split, QueueRequest &q,
			 std::string &error) noexcept
{
	bool malformed = false;
	auto number = [&](const char *k) -> std::optional<uint32_t> {
		std::string path = dir + "/" + k;
		auto v = store_.read_uint(path, UINT32_MAX, malformed);
		if (!v && error.empty()) {
			auto raw = store_.read(path);
			error = path + " is " + (raw ? "'" + *raw + "', not a number" : "missing");
		}
		return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
	};
	auto tx = number("tx-ring-ref");
	auto rx = number("rx-ring-ref");
	auto ptx = number(split ? "event-channel-tx" : "event-channel");
	auto prx = split ? number("event-channel-rx") : ptx;
	if (!tx || !rx || !ptx || !prx)
		return false;
	q.tx_ring_ref = xen::GrantRef(*tx);
	q.rx_ring_ref = xen::GrantRef(*rx);
	q.port_tx = xen::EvtchnPort(*ptx);
	q.port_rx = xen::EvtchnPort(*prx);
	return true;
}

bool Control::read_frontend(FrontendRequest &req, std::string &error) noexcept
{
	bool malformed = false;
	auto key = [&](const char *k) { return xenbus_.front_dir() + "/" + k; };
	/* netif.h "Multiple transmit and receive queues": absent means one,
	 * with the flat layout; more than we offered is refused. */
	auto nq = store_.read_uint(key("multi-queue-num-queues"), 65535, malformed);
	uint64_t nb_queues = nq.value_or(1);
	if (nb_queues == 0 || nb_queues > config_.max_queues) {
		error = "guest requested " + std::to_string(nb_queues) +
			" queues, exceeding the maximum of " + std::to_string(config_.max_queues);
		return false;
	}
	req.split =
		config_.split_event_channels &&
		store_.read(key(nb_queues == 1 ? "event-channel-tx" : "queue-0/event-channel-tx"));
	req.queues.resize(nb_queues);
	for (uint64_t q = 0; q < nb_queues; q++) {
		std::string dir = nb_queues == 1
					  ? xenbus_.front_dir()
					  : xenbus_.front_dir() + "/queue-" + std::to_string(q);
		if (!read_queue(dir, req.split, req.queues[q], error))
			return false;
	}
	/* netif.h "Control ring": both keys, or no control ring. */
	if (config_.ctrl_ring) {
		auto ref = store_.read_uint(key("ctrl-ring-ref"), UINT32_MAX, malformed);
		auto port = store_.read_uint(key("event-channel-ctrl"), UINT32_MAX, malformed);
		if (ref && port) {
			req.ctrl_ring_ref = xen::GrantRef(static_cast<uint32_t>(*ref));
			req.ctrl_port = xen::EvtchnPort(static_cast<uint32_t>(*port));
		}
	}
	/* Linux netback refuses frontends without these two. */
	for (const char *mandatory : {"request-rx-copy", "feature-rx-notify"}) {
		if (store_.read_flag(key(mandatory), false, malformed))
			continue;
		auto value = store_.read(key(mandatory));
		error = "frontend " + key(mandatory) + " is " +
			(value ? "'" + *value + "'" : std::string("absent")) +
			"; netback requires 1";
		return false;
	}
	req.sg = store_.read_flag(key("feature-sg"), false, malformed);
	/* What the guest accepts on receive (netback's read_xenbus_vif_flags):
	 * blank IPv4 checksums unless feature-no-csum-offload=1, blank IPv6
	 * ones with feature-ipv6-csum-offload=1, GSO with feature-gso-tcpv4/6. */
	req.csum_v4 = !store_.read_flag(key("feature-no-csum-offload"), false, malformed);
	req.csum_v6 = store_.read_flag(key("feature-ipv6-csum-offload"), false, malformed);
	/* A GSO packet's checksum is blank: without checksum offload a guest
	 * gets none (netback drops NETIF_F_TSO with NETIF_F_IP_CSUM). */
	req.gso_v4 = req.sg && req.csum_v4 &&
		     store_.read_flag(key("feature-gso-tcpv4"), false, malformed);
	req.gso_v6 = req.sg && req.csum_v6 &&
		     store_.read_flag(key("feature-gso-tcpv6"), false, malformed);
	return true;
}

bool Control::connect_queue(uint16_t qid, const QueueRequest &qr, const FrontendRequest &req,
			    std::string &error) noexcept
{
	QueueLink &l = links_[qid];
	l.tx_ring =
		xen::MappedGrants::map(gnttab_, guest_, std::span(&qr.tx_ring_ref, 1), true, error);
	if (!l.tx_ring)
		return false;
	l.rx_ring =
		xen::MappedGrants::map(gnttab_, guest_, std::span(&qr.rx_ring_ref, 1), true, error);
	if (!l.rx_ring)
		return false;
	if (!l.evtchn) {
		l.evtchn = xen::Evtchn::open(error);
		if (!l.evtchn)
			return false;
	}
	l.port_tx = xen::BoundPort::bind_interdomain(*l.evtchn, guest_, qr.port_tx, error);
	if (!l.port_tx)
		return false;
	if (req.split) {
		l.port_rx = xen::BoundPort::bind_interdomain(*l.evtchn, guest_, qr.port_rx, error);
		if (!l.port_rx)
			return false;
	}
	const xen::BoundPort &rx_port = req.split ? *l.port_rx : *l.port_tx;
	bool interrupt = config_.style == NotifyStyle::interrupt;

	RxQueue &rq = *l.rxq;
	rq.ring.attach(l.tx_ring->data());
	rq.gnttab = gnttab_.get();
	rq.guest = guest_.value();
	rq.interrupt_style = interrupt;
	rq.armed = false;
	rq.broken = false;
	rq.notify = xen::Notifier{l.evtchn->get(), l.port_tx->port().value()};
	rq.wake_fd = l.evtchn->fd();

	TxQueue &tq = *l.txq;
	tq.ring.attach(l.rx_ring->data());
	tq.gnttab = gnttab_.get();
	tq.guest = guest_.value();
	tq.guest_sg = req.sg;
	tq.guest_csum_v4 = req.csum_v4;
	tq.guest_csum_v6 = req.csum_v6;
	tq.guest_gso_v4 = req.gso_v4;
	tq.guest_gso_v6 = req.gso_v6;
	tq.rsc = config_.rsc;
	tq.interrupt_style = interrupt;
	tq.broken = false;
	tq.notify = xen::Notifier{l.evtchn->get(), rx_port.port().value()};
	l.grefs.reset(new SharedGrefs());
	l.gref_regions.clear();
	rq.grefs = l.grefs.get();
	tq.grefs = l.grefs.get();
	hostile_init_queues(rq, tq, config_.hostile);
	return true;
}

bool Control::connect(std::string &error) noexcept
{
	FrontendRequest req;
	if (!read_frontend(req, error))
		return false;
	for (size_t q = 0; q < req.queues.size(); q++)
		if (q >= links_.size() || links_[q].rxq == nullptr || links_[q].txq == nullptr) {
			error = "guest uses " + std::to_string(req.queues.size()) +
				" queues but this port has " + std::to_string(q) +
				" queue pairs set up; configure as many (or max_queues=" +
				std::to_string(q) + ")";
			return false;
		}
	for (size_t q = 0; q < req.queues.size(); q++) {
		if (!connect_queue(static_cast<uint16_t>(q), req.queues[q], req, error)) {
			nb_connected_ = static_cast<uint16_t>(q + 1);
			release_links();
			return false;
		}
	}
	nb_connected_ = static_cast<uint16_t>(req.queues.size());
	if (req.ctrl_ring_ref && !connect_ctrl(req, error)) {
		release_links();
		return false;
	}
	publish_steering(nb_connected_);
	connected_ = true;
	generation_ = (generation_ | 1) + 1;
	for (uint16_t q = 0; q < nb_connected_; q++) {
		xen::queue_publish(links_[q].rxq->sync, generation_);
		xen::queue_publish(links_[q].txq->sync, generation_);
	}
	follow_mcast_request();
	if (config_.multicast_control && config_.dynamic_multicast_control)
		store_.watch(mcast_request_node(), mcast_watch_token);
	const QueueRequest &q0 = req.queues[0];
	XB_INIT_LOG(INFO, name_.c_str(),
		    "frontend %s connected: %u queue(s), queue 0: tx ring %u, rx ring %u, event "
		    "channel%s %u%s%s, sg %s",
		    xenbus_.front_dir().c_str(), nb_connected_, q0.tx_ring_ref.value(),
		    q0.rx_ring_ref.value(), req.split ? "s" : "", q0.port_tx.value(),
		    req.split ? "/" : "", req.split ? q0.port_rx.str().c_str() : "",
		    req.sg ? "on" : "off");
	return true;
}

bool Control::connect_ctrl(const FrontendRequest &req, std::string &error) noexcept
{
	if (!ctrl_evtchn_) {
		ctrl_evtchn_ = xen::Evtchn::open(error);
		if (!ctrl_evtchn_)
			return false;
	}
	ctrl_map_ = xen::MappedGrants::map(gnttab_, guest_, std::span(&*req.ctrl_ring_ref, 1), true,
					   error);
	if (!ctrl_map_)
		return false;
	ctrl_port_ = xen::BoundPort::bind_interdomain(*ctrl_evtchn_, guest_, req.ctrl_port, error);
	if (!ctrl_port_) {
		ctrl_map_.reset();
		return false;
	}
	ctrl_ring_.attach(ctrl_map_->data());
	kick(); /* the control thread adds the channel to what it waits on */
	return true;
}

void Control::publish_steering(uint32_t nb_queues) noexcept
{
	/* A fresh connection starts with hashing off (netif.h: the frontend
	 * turns it on through the control ring). */
	Steering &st = *steering_;
	__atomic_store_n(&st.nb_queues, 0, __ATOMIC_RELEASE);
	steering_grace(); /* a burst may still steer by the last connection's */
	std::memset(&st.hash, 0, sizeof(st.hash));
	for (uint32_t q = 0; q < nb_queues; q++) {
		st.queues[q] = links_[q].txq;
		rte_spinlock_init(&links_[q].txq->lock);
	}
	__atomic_store_n(&st.nb_queues, nb_queues, __ATOMIC_RELEASE);
}

/* A grace period for the steering state (queue_sync.h): returns once no
 * send_burst that may have read what was published before the call is
 * still running, so the copy it replaced may be edited. */
void Control::steering_grace() noexcept
{
	xen::queue_retract_barrier();
	const auto grace = xen::Grace::start();
	for (size_t q = 0; q < links_.size(); q++) {
		const TxQueue *t = links_[q].txq;
		if (t != nullptr && !xen::read_epoch_wait(t->steer_epoch, grace))
			XB_DRV_LOG(ERR, name_.c_str(),
				   "tx queue %zu: a burst still ran a second after the steering "
				   "changed (a wedged lcore)",
				   q);
	}
}

void Control::serve_ctrl() noexcept
{
	if (!ctrl_map_ || !connected_)
		return;
	/* Take the channel's events, as an interrupt handler would. */
	pollfd pfd{ctrl_evtchn_->fd(), POLLIN, 0};
	while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		xenevtchn_port_or_error_t p = xenevtchn_pending(ctrl_evtchn_->get());
		if (p < 0)
			break;
		xenevtchn_unmask(ctrl_evtchn_->get(), static_cast<evtchn_port_t>(p));
	}
	Steering &st = *steering_;
	CtrlContext ctx{nb_connected_, guest_.value(), gnttab_.get()};
	bool answered = false;
	/* Until none is left after re-arming req_event (as netback's
	 * xenvif_ctrl_action), so the frontend's next request notifies us. */
	do {
		RING_IDX prod = ctrl_ring_.req_prod();
		if (ctrl_ring_.req_prod_overflow(prod)) {
			fatal("control ring: request producer index " + std::to_string(prod) +
			      " ran past the ring");
			return;
		}
		RING_IDX i = ctrl_ring_.req_cons();
		for (; i != prod && !hostile_ctrl_hold(); i++) {
			xen_netif_ctrl_request req = ctrl_ring_.copy_request(i);
			/* Edit the unpublished copy, then publish it. */
			uint32_t cur = __atomic_load_n(&st.hash.current, __ATOMIC_RELAXED) & 1;
			HashConfig &next = st.hash.copies[cur ^ 1];
			next = st.hash.copies[cur];
			xen_netif_ctrl_response rsp;
			if (req.type == XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE ||
			    req.type == XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING ||
			    req.type == XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING) {
				/* Applied as answered: a falsified answer only
				 * misleads the frontend, which may use either. */
				handle_gref_request(req, rsp);
				hostile_ctrl_answer(req, rsp);
			} else {
				handle_ctrl_request(req, next, ctx, rsp);
				if (!hostile_ctrl_answer(req, rsp)) {
					__atomic_store_n(&st.hash.current, cur ^ 1,
							 __ATOMIC_RELEASE);
					/* The old copy is edited by the next request. */
					steering_grace();
				}
			}
			*ctrl_ring_.next_response() = rsp;
			answered = true;
		}
		ctrl_ring_.set_req_cons(i);
		if (i != prod)
			break; /* hostile: held for later */
	} while (ctrl_ring_.final_check_for_requests());
	if (answered && ctrl_ring_.push_responses())
		xenevtchn_notify(ctrl_evtchn_->get(), ctrl_port_->port().value());
}

void Control::release_links() noexcept
{
	if (steering_ != nullptr)
		__atomic_store_n(&steering_->nb_queues, 0, __ATOMIC_RELEASE);
	ctrl_ring_.detach();
	ctrl_port_.reset();
	ctrl_map_.reset();
	for (uint16_t q = 0; q < nb_connected_ && q < links_.size(); q++) {
		QueueLink &l = links_[q];
		if (l.rxq != nullptr) {
			l.rxq->ring.detach();
			l.rxq->grefs = nullptr;
		}
		if (l.txq != nullptr) {
			l.txq->ring.detach();
			l.txq->grefs = nullptr;
		}
		retire_regions(l, std::move(l.gref_regions));
		l.gref_regions.clear();
		l.grefs.reset();
		l.port_tx.reset();
		l.port_rx.reset();
		l.tx_ring.reset();
		l.rx_ring.reset();
	}
	nb_connected_ = 0;
}

void Control::disconnect() noexcept
{
	if (!connected_)
		return;
	update_link(false);
	generation_ |= 1;
	if ((generation_ & 1) == 0)
		generation_++;
	for (uint16_t q = 0; q < nb_connected_; q++) {
		xen::queue_retract(links_[q].rxq->sync, generation_);
		xen::queue_retract(links_[q].txq->sync, generation_);
	}
	xen::queue_retract_barrier();
	const auto grace = xen::Grace::start();
	for (uint16_t q = 0; q < nb_connected_; q++) {
		const bool rx = xen::queue_wait_idle(links_[q].rxq->sync, grace);
		const bool tx = xen::queue_wait_idle(links_[q].txq->sync, grace);
		if (!rx || !tx)
			XB_DRV_LOG(ERR, name_.c_str(),
				   "queue %u: a%s%s burst still ran a second after the rings were "
				   "taken back (a wedged lcore); unmapping them anyway",
				   q, rx ? "" : "n rx",
				   !rx && !tx ? " and a tx" : (tx ? "" : " tx"));
	}
	release_links();
	connected_ = false;
	/* netback forgets the guest's multicast list with the vif's rings. */
	if (config_.multicast_control && config_.dynamic_multicast_control)
		store_.unwatch(mcast_request_node(), mcast_watch_token);
	mcast_reset(*mcast_);
	XB_INIT_LOG(INFO, name_.c_str(), "frontend %s disconnected", xenbus_.front_dir().c_str());
}

std::string Control::mcast_request_node() const
{
	return xenbus_.front_dir() + "/request-multicast-control";
}

void Control::follow_mcast_request() noexcept
{
	/* netif.h: 1 asks for filtering, 0 or absent for none. Read at each
	 * connection and, with feature-dynamic-multicast-control, each time
	 * it changes (netback's xen_mcast_ctrl_changed). A malformed value is
	 * no request. */
	if (!config_.multicast_control)
		return;
	const auto raw = store_.read(mcast_request_node());
	if (!raw && !store_.alive())
		return; /* our store connection broke: nothing changed */
	const auto flag = raw ? xen::parse_store_flag(*raw) : std::optional<bool>(false);
	const bool malformed = !flag;
	const bool on = flag.value_or(false);
	const uint32_t was = __atomic_load_n(&mcast_->enabled, __ATOMIC_RELAXED);
	if (was == uint32_t(on))
		return;
	if (malformed)
		XB_DRV_LOG(WARNING, name_.c_str(), "%s is not 0 or 1: no multicast filtering",
			   mcast_request_node().c_str());
	__atomic_store_n(&mcast_->enabled, uint32_t(on), __ATOMIC_RELAXED);
	XB_DRV_LOG(INFO, name_.c_str(),
		   "frontend %s: multicast filtering %s (%u address(es) listed)",
		   xenbus_.front_dir().c_str(), on ? "on" : "off", mcast_->count);
}

void Control::update_link(bool up) noexcept
{
	if (xen::set_link(dev_, up))
		XB_DRV_LOG(NOTICE, name_.c_str(), "link %s", up ? "up" : "down");
}

void Control::frontend_changed() noexcept
{
	auto read = xenbus_.follow_other_state(store_);
	if (!read) {
		/* Our connection to the store broke, the frontend did
		 * nothing: the rings stay as they are (recover_store()). */
		store_lost_ = true;
		return;
	}
	auto front = *read;
	if (front != frontend_state_)
		XB_INIT_LOG(DEBUG, name_.c_str(), "frontend %s: %s -> %s (backend %s)",
			    xenbus_.front_dir().c_str(), xen::state_name(frontend_state_),
			    xen::state_name(front), xen::state_name(xenbus_.state()));
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
		if (xenbus_.state() == XenbusState::Connected ||
		    xenbus_.state() != XenbusState::InitWait)
			break;
		if (!frontend_fresh_ || !port_started_.load())
			break; /* a stale Connected, or the port is not started yet */
		std::string error;
		if (!connect(error)) {
			fatal("cannot connect to " + xenbus_.front_dir() + ": " + error);
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

void Control::note_frontend_writes(const std::vector<std::string> &fired) noexcept
{
	/* The state we read is the latest only: a frontend that went Closing,
	 * Closed, Initialising and Connected again between two reads (one
	 * reconnecting after our restart, on a loaded host) shows Connected
	 * every time. Each event but the watch's first (xenstored fires one
	 * when it is set) is a write: a frontend that wrote its state after
	 * our InitWait is alive, whatever it wrote. */
	if (!bound_)
		return;
	for (unsigned n = xenbus_.other_state_events(fired); n > 0; n--) {
		if (front_watch_registrations_ > 0)
			front_watch_registrations_--;
		else
			frontend_fresh_ = true;
	}
}

void Control::kick() noexcept
{
	if (!xenbus_.thread().kick())
		XB_DRV_LOG(WARNING, name_.c_str(), "cannot wake the control thread: %s",
			   std::strerror(errno));
}

bool Control::start_thread(std::string &error) noexcept
{
	char thread_name[RTE_MAX_THREAD_NAME_LEN];
	std::snprintf(thread_name, sizeof(thread_name), "xb-ctl-%u", dev_->data->port_id);
	const bool hostile = hostile_is_control(config_.hostile.behaviour);
	xen::XenbusHooks hooks;
	hooks.before_wait = [this, hostile](int &fd, int &period_ms) {
		if (ctrl_map_)
			fd = ctrl_evtchn_->fd();
		/* hostile= steps come faster than the periodic look. */
		if (hostile && !hostile_done_)
			period_ms = 50;
	};
	hooks.pass = [this, hostile](const std::vector<std::string> &fired) {
		note_frontend_writes(fired);
		refresh();
		if (connected_ && config_.multicast_control && config_.dynamic_multicast_control)
			follow_mcast_request();
		serve_ctrl();
		if (hostile && !hostile_done_ && bound_)
			hostile_step();
		return store_lost_ ? xen::Pass::StoreLost : xen::Pass::Wait;
	};
	hooks.recover_store = [this] { return recover_store(); };
	return xenbus_.start_thread(store_, thread_name, std::move(hooks), error);
}

void Control::stop_thread() noexcept
{
	if (!xenbus_.thread().running())
		return;
	xenbus_.stop_thread();
	if (bound_)
		xenbus_.unwatch_other(store_);
	store_.unwatch(device_watch_, device_watch_token);
}

bool Control::recover_store() noexcept
{
	bool was_connected;
	{
		std::lock_guard lock(xenbus_.mutex());
		was_connected = connected_;
	}
	XB_DRV_LOG(WARNING, name_.c_str(),
		   "lost the connection to xenstore (store daemon restarted?); the data path "
		   "keeps running (frontend %s); reopening the store",
		   was_connected ? "connected" : "not connected");
	const auto start = Clock::now();
	unsigned attempts = 0;
	/* The new connection has none of our watches. */
	auto rewatch = [this](xen::Store &store, std::string &error) {
		if (!store.watch(device_watch_, device_watch_token)) {
			error = "cannot watch " + device_watch_ + ": " + std::strerror(errno);
			return false;
		}
		bool bound;
		{
			std::lock_guard lock(xenbus_.mutex());
			bound = bound_;
		}
		return !bound || xenbus_.watch_other(store, error);
	};
	auto store = xenbus_.reopen_store(rewatch, attempts);
	if (!store)
		return false;
	std::lock_guard lock(xenbus_.mutex());
	store_ = std::move(*store);
	store_lost_ = false;
	front_watch_registrations_ = bound_ ? 1 : 0; /* its first event comes again */
	if (connected_ && config_.multicast_control && config_.dynamic_multicast_control)
		store_.watch(mcast_request_node(), mcast_watch_token);
	auto *a = static_cast<Adapter *>(dev_->data->dev_private);
	uint64_t n = __atomic_add_fetch(&a->store_reconnects, 1, __ATOMIC_RELAXED);
	/* A state write that failed while the store was away left ours
	 * unknown: take it from the store again. */
	if (bound_)
		xenbus_.read_state(store_);
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
	XB_DRV_LOG(NOTICE, name_.c_str(),
		   "xenstore reopened after %u attempt(s) in %lld ms (reconnect %llu); watching "
		   "%s again (backend %s)",
		   attempts, static_cast<long long>(ms.count()), static_cast<unsigned long long>(n),
		   bound_ ? (xenbus_.front_dir() + "/state").c_str() : device_watch_.c_str(),
		   xen::state_name(xenbus_.state()));
	/* The vif may have gone, or come, meanwhile. */
	refresh();
	return true;
}

void Control::attach_rx_queue(uint16_t qid, RxQueue *q) noexcept
{
	std::lock_guard lock(xenbus_.mutex());
	if (connected_) {
		disconnect();
		set_state(XenbusState::InitWait);
	}
	if (qid >= links_.size())
		links_.resize(qid + 1);
	xen::queue_sync_init(q->sync, generation_);
	links_[qid].rxq = q;
}

void Control::attach_tx_queue(uint16_t qid, TxQueue *q) noexcept
{
	std::lock_guard lock(xenbus_.mutex());
	if (connected_) {
		disconnect();
		set_state(XenbusState::InitWait);
	}
	if (qid >= links_.size())
		links_.resize(qid + 1);
	xen::queue_sync_init(q->sync, generation_);
	xen::read_epoch_init(q->steer_epoch);
	q->steering = steering_;
	links_[qid].txq = q;
}

void Control::detach_queues() noexcept
{
	std::lock_guard lock(xenbus_.mutex());
	disconnect();
	for (QueueLink &l : links_) {
		l.rxq = nullptr;
		l.txq = nullptr;
	}
}

void Control::set_port_started(bool started) noexcept
{
	port_started_.store(started);
	kick();
}

void Control::shutdown() noexcept
{
	stop_thread();
	std::lock_guard lock(xenbus_.mutex());
	disconnect();
	settle_parked();
	set_state(XenbusState::Closed);
}

} // namespace xenback
