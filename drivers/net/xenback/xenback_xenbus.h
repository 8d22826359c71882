/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The control path of net_xenback: the backend half of the xenbus
 * handshake, as Linux xen-netback's xenbus.c does it, and the
 * process-private owners of the store, grant mappings and event channels. */

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <vector>

#include "control_thread.h"
#include "evtchn.h"
#include "grant.h"
#include "store.h"
#include "xenbus_device.h"
#include "xenback.h"

struct rte_eth_dev;

namespace xenback
{

/* One queue's keys (flat, or under queue-N/). */
struct QueueRequest {
	xen::GrantRef tx_ring_ref;
	xen::GrantRef rx_ring_ref;
	xen::EvtchnPort port_tx;
	xen::EvtchnPort port_rx; /* == port_tx without split event channels */
};

/* What the frontend asked for in its keys (read when it connects). */
struct FrontendRequest {
	std::vector<QueueRequest> queues;
	std::optional<xen::GrantRef> ctrl_ring_ref; /* with event-channel-ctrl */
	xen::EvtchnPort ctrl_port;
	bool split = false;
	bool sg = false;
	bool csum_v4 = false; /* accepts blank checksums (receive side) */
	bool csum_v6 = false;
	bool gso_v4 = false; /* accepts GSO packets */
	bool gso_v6 = false;
};

class Control
{
public:
	using Clock = std::chrono::steady_clock;

	/* Watches for backend/vif/<domid>/<vif> (domid=) or for a vif of the
	 * domain named so (domain=); takes the vif as netback_probe does
	 * (features written, InitWait) now if it exists, else the control
	 * thread does once it appears, and again each time the toolstack
	 * re-creates it after removing it. Fails only on bad input or when the
	 * store, grants or event channels cannot be opened. */
	static std::unique_ptr<Control> probe(const char *name, const Config &config,
					      rte_eth_dev *dev, std::string &error) noexcept;
	~Control();

	void attach_rx_queue(uint16_t qid, RxQueue *q) noexcept;
	void attach_tx_queue(uint16_t qid, TxQueue *q) noexcept;
	void detach_queues() noexcept;
	/* Queues exist and are polled: the frontend may be connected. */
	void set_port_started(bool started) noexcept;
	/* Disconnects and goes Closed (dev_close). */
	void shutdown() noexcept;

private:
	Control(std::string name, const Config &config, rte_eth_dev *dev, xen::Store store,
		xen::Gnttab gnttab, xen::Evtchn evtchn);
	/* The vif, looked for (probe, the control thread) and taken. */
	enum class Found { taken, absent, refused };
	Found look_for_vif(std::string &why) noexcept;
	std::optional<xen::DomId> find_named_guest() noexcept;
	Found take_vif(xen::DomId guest, std::string &why) noexcept;
	std::string vif_dir(xen::DomId guest) const;
	std::string awaited() const;
	/* The toolstack removed the backend directory: let go of the guest. */
	void vif_removed() noexcept;
	/* One pass of the control thread over the store: the vif removed or
	 * appeared, then the frontend's state. */
	void refresh() noexcept;
	bool write_features(std::string &error, bool &gone) noexcept;
	bool write_state(xen::XenbusState state) noexcept; /* one write, no checks */
	void set_state(xen::XenbusState target) noexcept;
	void frontend_changed() noexcept;
	/* The watch events just read: which of them were the frontend
	 * writing its state (see frontend_fresh_). */
	void note_frontend_writes(const std::vector<std::string> &fired) noexcept;
	bool connect(std::string &error) noexcept;
	bool read_frontend(FrontendRequest &req, std::string &error) noexcept;
	bool read_queue(const std::string &dir, bool split, QueueRequest &q,
			std::string &error) noexcept;
	bool connect_queue(uint16_t qid, const QueueRequest &qr, const FrontendRequest &req,
			   std::string &error) noexcept;
	void disconnect() noexcept;
	void release_links() noexcept;
	bool connect_ctrl(const FrontendRequest &req, std::string &error) noexcept;
	void serve_ctrl() noexcept;
	/* Static grants (xenback_gref.h): the GREF_MAPPING requests. */
	void handle_gref_request(const xen_netif_ctrl_request &req,
				 xen_netif_ctrl_response &rsp) noexcept;
	bool gref_list(uint32_t ref, struct xen_netif_gref *list, uint32_t n,
		       bool to_guest) noexcept;
	static bool check_gref_add(const GrefTable &next, const xen_netif_gref *list, uint32_t n,
				   std::vector<xen::GrantRef> (&by_mode)[2]) noexcept;
	bool add_grefs(uint16_t qid, const xen_netif_gref *list, uint32_t n) noexcept;
	uint32_t del_grefs(uint16_t qid, xen_netif_gref *list, uint32_t n) noexcept;
	void publish_grefs(uint16_t qid) noexcept;
	void publish_steering(uint32_t nb_queues) noexcept;
	void steering_grace() noexcept;
	void fatal(const std::string &message) noexcept;
	void update_link(bool up) noexcept;
	/* Multicast control: the frontend's request-multicast-control, read
	 * into the port's filter. */
	std::string mcast_request_node() const;
	void follow_mcast_request() noexcept;
	bool start_thread(std::string &error) noexcept;
	void stop_thread() noexcept;
	/* The store connection broke: reopens it (with backoff, without
	 * holding the mutex) while the data path runs on; false if asked to stop
	 * meanwhile. */
	bool recover_store() noexcept;
	void kick() noexcept;
	/* hostile=unmap|flap, from the control thread (xenback_hostile.cc). */
	void hostile_step() noexcept;
	/* hostile=ctrl_*: true to leave the next request unanswered for now;
	 * true if `rsp` was falsified (then nothing is applied). */
	bool hostile_ctrl_hold() noexcept;
	bool hostile_ctrl_answer(const xen_netif_ctrl_request &req,
				 xen_netif_ctrl_response &rsp) noexcept;

	std::string name_;
	Config config_;
	rte_eth_dev *dev_;
	xen::Store store_;
	xen::Gnttab gnttab_;
	xen::Evtchn evtchn_;
	std::string home_; /* /local/domain/<self> */
	/* Watched for the vif to appear and go: its backend directory
	 * (domid=), or <home>/backend/vif (domain=: any guest's). */
	std::string device_watch_;
	/* A vif taken (found, features written): the three below are its. */
	bool bound_ = false;
	/* <home>/backend/vif/<domid>/<vif>, the frontend's, our state. And
	 * the port's control thread (kick() wakes it) with the one mutex
	 * over the control state (the thread and the ethdev ops), and the
	 * watch on the frontend's state node. */
	xen::XenbusDevice xenbus_{xen::XenbusDevice::Side::Backend, "xenback-frontend", false};
	xen::DomId guest_;
	std::string refused_; /* why the vif found was last refused (logged once) */
	xen::XenbusState frontend_state_ = xen::XenbusState::Unknown;
	/* Only a frontend that wrote its state after our InitWait (seen
	 * leaving Connected, or its watch fired) connects: a stale Connected
	 * left by a dead frontend or backend never does. */
	bool frontend_fresh_ = false;
	/* Watch events on the frontend's state still due to the watch being
	 * set (xenstored fires one), not to a write. */
	unsigned front_watch_registrations_ = 0;
	/* frontend_changed() found the store connection broken. */
	bool store_lost_ = false;

	/* One netif queue: our ethdev queues of the same index, the guest's
	 * rings mapped and its event channels bound on a handle of its own
	 * (its receive path takes that handle's events). */
	struct QueueLink {
		RxQueue *rxq = nullptr;
		TxQueue *txq = nullptr;
		std::optional<xen::Evtchn> evtchn;
		std::optional<xen::MappedGrants> tx_ring;
		std::optional<xen::MappedGrants> rx_ring;
		std::optional<xen::BoundPort> port_tx;
		std::optional<xen::BoundPort> port_rx;
		/* Static grants: the tables the bursts look them up in, and
		 * the mappings (one per ADD_GREF_MAPPING and access mode), each
		 * unmapped when its last grant is deleted. */
		std::unique_ptr<SharedGrefs> grefs;
		struct GrefRegion {
			xen::MappedGrants map;
			std::vector<uint32_t> refs;
			uint32_t live;
			bool writable;
		};
		std::vector<GrefRegion> gref_regions;
	};
	std::vector<QueueLink> links_;
	/* Zero-copy (zerocopy=1, xenback_gref.cc): a static grant mapping that
	 * goes (DEL_GREF_MAPPING, disconnect) while the application still holds
	 * an mbuf on one of its pages stays mapped here, with a reference on the
	 * queue's ZeroCopy block, until no lent slot points into it: swept at
	 * each control request and disconnect; at close waited for a second,
	 * then left mapped for good (complained about), never unmapped under
	 * the application. Declared after gnttab_: unmapped before it closes. */
	struct Parked {
		QueueLink::GrefRegion region;
		ZeroCopy *zc;
	};
	std::vector<Parked> parked_;
	void retire_regions(QueueLink &l, std::vector<QueueLink::GrefRegion> &&dead) noexcept;
	void sweep_parked() noexcept;
	void settle_parked() noexcept;
	uint16_t nb_connected_ = 0;
	/* The control ring, if the guest set one up. */
	std::optional<xen::Evtchn> ctrl_evtchn_;
	std::optional<xen::MappedGrants> ctrl_map_;
	std::optional<xen::BoundPort> ctrl_port_;
	xen::CtrlBackRing ctrl_ring_;
	Steering *steering_ = nullptr; /* in dev_private */
	McastFilter *mcast_ = nullptr; /* in dev_private */
	uint32_t generation_ = 1;
	bool connected_ = false;
	std::atomic<bool> port_started_{false};

	bool hostile_done_ = false;
	uint32_t hostile_flaps_ = 0;
	uint32_t hostile_ctrl_requests_ = 0; /* control requests answered */
	Clock::time_point hostile_ctrl_hold_until_{};
};

} // namespace xenback
