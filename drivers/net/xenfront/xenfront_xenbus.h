/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The control path of net_xenfront: the xenbus handshake with the backend,
 * as Linux xen-netfront does it, and the process-private owners of the
 * store connection, grants and event channels. */

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <vector>

#include "control_thread.h"
#include "xenbus_device.h"
#include "evtchn.h"
#include "grant.h"
#include "store.h"
#include "xenfront.h"
#include "xenfront_ctrl.h"
#include "xenfront_intr.h"
#include "xenfront_nodes.h"
#include "xenfront_rxpages.h"

namespace xenfront
{

/* Grants and ports of one queue pair. Shared pages are granted once, at
 * queue set-up; ports are allocated afresh at each connection. */
struct QueueResources {
	/* The rx event channel's own handle (xenfront_intr.h); declared first
	 * so that it outlives the ports bound on it. */
	std::unique_ptr<RxInterrupt> rx_intr;
	std::optional<xen::SharedPages> rx_ring;
	std::optional<xen::SharedPages> rx_buffers;
	/* Instead of rx_buffers with rx_copybreak: the block and its spares,
	 * which lives on while the application holds lent pages. */
	std::unique_ptr<RxPages, RxPagesRelease> rx_pages;
	std::optional<xen::SharedPages> tx_ring;
	std::optional<xen::SharedPages> tx_buffers;
	std::optional<xen::BoundPort> port_tx; /* or the only port */
	std::optional<xen::BoundPort> port_rx; /* split event channels */
};

/* Copies the backend's features into dev_private for secondary processes,
 * each field with one atomic store (they read them with atomic loads). */
inline void publish_features(Adapter &a, const BackendFeatures &f,
			     const TxOffloadCaps &caps) noexcept
{
	__atomic_store_n(&a.backend_sg, f.sg, __ATOMIC_RELAXED);
	__atomic_store_n(&a.backend_max_queues, f.max_queues, __ATOMIC_RELAXED);
	__atomic_store_n(&a.backend_ctrl_ring, f.ctrl_ring, __ATOMIC_RELAXED);
	TxOffloadCaps copy = caps;
	__atomic_store(&a.tx_caps, &copy, __ATOMIC_RELAXED);
}

class Control
{
public:
	using Clock = std::chrono::steady_clock;

	/* Finds the vif and reads the backend's features if it has written
	 * them (InitWait or Connected). Waits for nothing: a backend not
	 * there yet is followed by the control thread (follow()), and until
	 * it has been seen the port offers what every backend has (one queue
	 * pair, frames up to a page, no transmit offloads, no RSS). A vif left
	 * connected by another frontend is taken over by that thread too. */
	static std::unique_ptr<Control> probe(const char *name, const Config &config,
					      std::string &error) noexcept;
	~Control();

	const std::string &front_dir() const { return xenbus_.front_dir(); }
	const std::string &back_dir() const { return xenbus_.back_dir(); }
	/* The backend's features as last read (at probe, at its InitWait, at
	 * each connection), or what every backend has until then. */
	BackendFeatures features() const noexcept;
	bool features_known() const noexcept;
	xen::DomId backend_domid() const { return backend_domid_; }
	const rte_ether_addr &mac() const { return mac_; }
	uint32_t mtu() const { return mtu_; }
	/* XSA-403: false when the toolstack (device/vif/N/trusted = 0) or the
	 * trusted devarg says the backend must see nothing but this vif's
	 * frames: no granted mempool, no lent receive pages. */
	bool backend_trusted() const { return trusted_; }

	/* Grants the rings and buffers of a queue pair (rte_malloc'd queues). */
	bool setup_rx_queue(uint16_t qid, RxQueue &q, std::string &error) noexcept;
	bool setup_tx_queue(uint16_t qid, TxQueue &q, std::string &error) noexcept;
	void release_rx_queue(uint16_t qid) noexcept;
	void release_tx_queue(uint16_t qid) noexcept;
	void set_nb_queue_pairs(uint16_t n) noexcept { resources_.resize(n); }
	/* Application rx queues poll rings 0..n-1; with fewer than the queue
	 * pairs, the backend's hash mapping table (control ring) is set to
	 * send nothing to the others (steer_to_polled_locked). */
	void set_polled_rx_queues(uint16_t n) noexcept { nb_polled_rx_ = n; }
	/* The receive offloads the application enabled decide which packets we
	 * ask the backend for (feature-no-csum-offload, feature-gso-tcpv4/6). */
	void set_rx_offloads(uint64_t offloads) noexcept { rx_offloads_ = offloads; }
	/* What the backend completes or segments for us. */
	TxOffloadCaps tx_offload_caps() const noexcept;

	/* RSS through the control ring (netif.h "Control ring"): only with a
	 * backend that offers feature-ctrl-ring. The configuration is kept
	 * here, sent at each connection and at once when changed while
	 * connected. */
	bool rss_available() const noexcept { return features().ctrl_ring; }
	void set_rss(bool enabled, RssConfig rss) noexcept;
	RssConfig rss() const noexcept;
	bool rss_enabled() const noexcept { return rss_enabled_; }
	/* RSS done by the software fan-out, not the backend: nothing to send. */
	void set_rss_in_software(bool in_software) noexcept;
	/* Replaces the configuration (RSS enabled) and sends it now if
	 * connected; false with `error` if the backend refused it, did not
	 * answer or answered badly, and then the previous configuration stays. */
	bool update_rss(RssConfig rss, std::string &error) noexcept;
	/* Multicast control (netif.h "Multicast control"), only with a
	 * backend that offers feature-multicast-control. The list (at most
	 * max_mcast_addrs) and the filtering request are kept here: sent at
	 * each connection (request-multicast-control with our keys, the list
	 * as MCAST_ADD requests on netif queue 0 before the data path gets
	 * the rings), and at once when changed while connected. Each returns 0
	 * or a negative errno with `error`. */
	bool multicast_available() const noexcept { return features().multicast_control; }
	int set_mcast_list(const rte_ether_addr *addrs, uint32_t n, std::string &error) noexcept;
	/* all: every multicast frame (request-multicast-control=0); else only
	 * the listed groups. While connected this needs
	 * feature-dynamic-multicast-control (the backend reads the request
	 * only when connecting otherwise): refused without it. */
	int set_allmulticast(bool all, std::string &error) noexcept;
	/* Where to count failed control-ring requests (the ctrl_errors xstat,
	 * in dev_private). */
	void count_ctrl_errors_in(uint64_t *counter) noexcept { ctrl_errors_ = counter; }
	/* Where to count reopened store connections (store_reconnects xstat). */
	void count_store_reconnects_in(uint64_t *counter) noexcept { store_reconnects_ = counter; }
	RxInterrupt *rx_interrupt(uint16_t qid) noexcept
	{
		return qid < resources_.size() ? resources_[qid].rx_intr.get() : nullptr;
	}

	/* Starts the control thread, which follows the backend from probe to
	 * close: its features, and once the port is started, the connection. */
	bool follow(rte_eth_dev *dev, std::string &error) noexcept;
	/* From dev_start. If the backend waits for us (InitWait), writes our
	 * half of the handshake now (rings, keys, Connected) and fails with
	 * `error` if that fails; the control thread then waits for the
	 * backend's Connected and brings the link up. With no backend yet it
	 * only tells the thread to connect once one is there. Never waits for
	 * the backend. */
	bool start(rte_eth_dev *dev, std::string &error) noexcept;
	bool connected() const noexcept { return connected_; }
	/* From dev_stop: Closing → Closed, our keys deleted, ports unbound;
	 * the thread goes on following the backend; start() connects again. */
	void stop(rte_eth_dev *dev) noexcept;
	/* From dev_close: stop() without the thread. */
	void shutdown() noexcept;

private:
	Control(std::string name, const Config &config, xen::Store store, xen::Gntshr gntshr,
		xen::Evtchn evtchn);
	bool read_vif(std::string &error) noexcept;
	NodeReader reader() const;
	/* One ring page and `nb_desc` buffer pages, granted to the backend. */
	bool share_queue_pages(std::optional<xen::SharedPages> &ring,
			       std::optional<xen::SharedPages> &buffers, uint16_t nb_desc,
			       bool backend_writes, uint32_t *grefs, std::string &error) noexcept;
	/* rx_copybreak: the ring page, and the buffer pages with spares in a
	 * block that may outlive the queue (xenfront_rxpages.h). */
	bool share_lent_rx_pages(uint16_t qid, QueueResources &r, RxQueue &q,
				 std::string &error) noexcept;
	bool read_backend_features(std::string &error) noexcept;
	bool take_over(Clock::time_point deadline, std::string &error) noexcept;
	/* Our state as the handshake wants it: Initialising from Closed or
	 * Unknown (one write); false if another frontend's state is left
	 * (take_over() then, which waits). */
	bool own_state(std::string &error, bool &written) noexcept;
	/* Writes our state; on failure `error` names the node and the value. */
	bool switch_state(xen::XenbusState state, std::string &error) noexcept;
	/* The same where a failed write changes nothing (teardown). */
	void write_state(xen::XenbusState state) noexcept;
	/* Waits for one of `states`; false at `deadline`, or at once when the
	 * control thread is asked to stop (xenbus_.thread().fd()). */
	bool wait_backend(Clock::time_point deadline,
			  std::initializer_list<xen::XenbusState> states,
			  xen::XenbusState &seen) noexcept;
	/* One step of netif's close (Closing or Closed) as Linux netfront's
	 * xennet_remove: write it, wait until `deadline` for the backend to
	 * follow (a restarted backend, back in InitWait or Initialising, or
	 * one whose state is gone, counts). A backend that did not is said
	 * once, in a NOTICE; false then, or when the thread is stopping. */
	bool close_step(xen::XenbusState ours, Clock::time_point deadline) noexcept;
	/* The handshake in two halves. Ours, up to Connected (no wait for the
	 * backend once it is in InitWait); then, in the control thread, the
	 * backend's answer: awaited without a deadline, as Linux netfront
	 * does, since a loaded host's netback may take seconds to map the
	 * rings (see await_backend_connected()). A failure the backend may
	 * not repeat (it left in between) sets failure_retryable_. */
	bool begin_handshake(Clock::time_point deadline, std::string &error) noexcept;
	bool check_queues_fit(const BackendFeatures &f, std::string &error) const noexcept;
	bool format_queue(size_t i, const BackendFeatures &f, std::string &error) noexcept;
	bool prepare_ctrl_ring_locked(const BackendFeatures &f, std::string &error) noexcept;
	/* Our half is out: the thread waits for the backend's from now. */
	void handshake_sent() noexcept;
	/* One look at the backend while our Connected waits for its answer:
	 * finishes the connection when it is Connected, fails it when it
	 * closed, wrote an error or wrote InitWait anew (state_written: a new
	 * backend), says once (after connect_timeout) that it is slow. */
	void await_backend_connected(rte_eth_dev *dev, xen::XenbusState state,
				     bool state_written) noexcept;
	/* The backend is Connected: the control ring's set-up and the link. */
	bool complete_connection(rte_eth_dev *dev, std::string &error) noexcept;
	/* After a failed handshake: Closing, Closed (the backend following
	 * each, bounded), keys gone, ports unbound, Initialising. */
	void abandon_connection() noexcept;
	/* Closing → Closed (waiting for the backend to follow, bounded), our
	 * keys deleted, ports unbound; the control thread is stopped. */
	void disconnect() noexcept;
	/* The control thread's attempt to connect failed: says why, and gives
	 * up until the port is restarted unless the backend is to blame. */
	void connection_failed(const std::string &error) noexcept;
	/* Reads the backend's features (it reached InitWait) and publishes
	 * them to dev_private for secondary processes. */
	void learn_features(rte_eth_dev *dev) noexcept;
	bool stopping() const noexcept { return xenbus_.stopping(); }
	bool write_keys(std::string &error) noexcept;
	void remove_keys() noexcept;
	void quiesce_queues() noexcept;
	void publish_queues() noexcept;
	void update_link(rte_eth_dev *dev, bool up) noexcept;
	bool carrier() const noexcept;
	/* A queue the data path stopped because the backend broke netif.h. */
	bool queues_broken() const noexcept;
	std::string backend_error() const noexcept;

	/* The watcher thread follows the backend after the first connection:
	 * its state (reconnecting when it restarts) and carrier. */
	bool start_watcher(rte_eth_dev *dev, std::string &error) noexcept;
	void stop_watcher() noexcept;
	bool follow_take_over(xen::XenbusState &state) noexcept;
	void follow_carrier(rte_eth_dev *dev) noexcept;
	bool backend_left(rte_eth_dev *dev, xen::XenbusState &state) noexcept;
	bool follow_backend(rte_eth_dev *dev, xen::XenbusState state, bool state_written) noexcept;
	xen::Pass watch_pass(rte_eth_dev *dev, const std::vector<std::string> &fired) noexcept;
	/* The store connection broke: reopens it (with backoff) while the
	 * data path runs on; false if asked to stop meanwhile. */
	bool recover_store(rte_eth_dev *dev) noexcept;

	std::string name_;
	Config config_;
	xen::Store store_;
	xen::Gntshr gntshr_;
	xen::Evtchn evtchn_;
	/* Our and the backend's directories, our state node; the port's
	 * control thread (watch_pass), whose eventfd is the stop request every
	 * wait of the thread polls; the watch on the backend's directory. */
	xen::XenbusDevice xenbus_{xen::XenbusDevice::Side::Frontend, "xenfront-backend", true};
	xen::DomId backend_domid_;
	/* Read by the application's thread (dev_infos, configure), written by
	 * the control thread: every access through features() or
	 * read_backend_features(), under features_mutex_. */
	mutable std::mutex features_mutex_;
	BackendFeatures features_;
	bool features_known_ = false;
	rte_ether_addr mac_{};
	uint32_t mtu_ = RTE_ETHER_MTU;
	bool trusted_ = true;
	uint64_t rx_offloads_ = 0;

	/* Sends `rss` over the control ring; counts and explains a failure. */
	bool apply_rss_locked(const RssConfig &rss, std::string &error) noexcept;
	/* Rings no application rx queue polls, and no RSS to say where packets
	 * go: Toeplitz over every hash type with a table naming polled queues
	 * only. A failure only leaves the polled queues reading those rings. */
	bool steering_wanted() const noexcept { return nb_polled_rx_ < resources_.size(); }
	void steer_to_polled_locked() noexcept;
	uint16_t nb_polled_rx_ = 1;
	/* static_grants=1: asks the backend to map each queue's buffers; a
	 * failure only leaves the backend copying by grant copy. */
	void map_static_grants_locked() noexcept;
	/* Before disconnecting: asks the backend to unmap what it mapped. */
	void unmap_static_grants() noexcept;
	/* The list each queue's ADD_GREF_MAPPING sent, for its DEL. */
	std::vector<xen_netif_gref> static_grant_list(size_t qid, size_t limit) const noexcept;
	uint32_t static_grant_size_ = 0; /* grants the backend maps per queue */
	void release_ctrl_port() noexcept;
	/* Writes MCAST_ADD (or _DEL) requests for `addrs` on netif queue 0,
	 * taking its ring from the data path while connected (`retract`),
	 * retrying for up to a second while the ring is full. */
	bool send_mcast_locked(const std::vector<rte_ether_addr> &addrs, bool add, bool retract,
			       std::string &error) noexcept;
	std::vector<rte_ether_addr> mcast_list_; /* under ctrl_mutex_ */
	bool mcast_filter_ = false;              /* allmulticast off; under ctrl_mutex_ */
	bool mcast_filter_sent_ = false;         /* what our keys said; under ctrl_mutex_ */

	std::vector<QueueResources> resources_;
	/* The control ring and RSS state; ctrl_mutex_ orders the application's
	 * RSS calls and the watcher thread's reconnections. */
	mutable std::mutex ctrl_mutex_;
	std::optional<CtrlChannel> ctrl_;
	RssConfig rss_;
	bool rss_enabled_ = false;
	bool rss_in_software_ = false;
	uint64_t *ctrl_errors_ = nullptr;
	uint64_t *store_reconnects_ = nullptr;
	std::vector<RxQueue *> rxqs_;
	std::vector<TxQueue *> txqs_;
	uint32_t generation_ = 1; /* odd: disconnected (see QueueSync) */
	/* Written by the control thread (connect, reconnect) and by the
	 * application's (stop, close) with the other stopped; read under
	 * ctrl_mutex_ by the multicast and RSS ops while the control thread
	 * runs: atomic, and changed under ctrl_mutex_ where those ops could
	 * act on it. */
	std::atomic<bool> connected_{false};
	/* Set by the application's thread while the control thread is stopped
	 * (start/stop), read by the control thread. */
	bool started_ = false;                  /* connect whenever the backend is ready */
	bool handshake_pending_ = false;        /* our half is out; the thread finishes */
	Clock::time_point handshake_sent_at_{}; /* when it went out */
	bool slow_backend_reported_ = false;    /* the NOTICE after connect_timeout */
	bool take_over_pending_ = false;        /* another frontend's state left on the vif */
	bool gave_up_ = false;                  /* a connection failed; until the port restarts */
	bool keys_written_ = false;             /* our connection keys and Connected are out */
	bool failure_retryable_ = false;        /* see handshake() */
	xen::XenbusState last_backend_state_ = xen::XenbusState::Unknown;
	std::vector<uint16_t> static_mapped_; /* queues whose buffers the backend maps */
	bool broken_reported_ = false;
};

} // namespace xenfront
