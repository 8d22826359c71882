/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Rx interrupt mode of net_xenfront: rte_eth_dev_rx_intr_enable/disable
 * backed by each rx queue's event channel.
 *
 * Each rx queue's event channel is bound on an event-channel handle of its
 * own (RxInterrupt::evtchn), so that the handle's fd fires for that queue
 * only (with one channel per queue pair, its tx completions share it; a
 * spurious wake-up finds nothing and sleeps again). The fd ethdev gives the
 * application (rte_eth_dev_rx_intr_ctl_q) is an epoll fd holding that
 * event-channel fd and an eventfd the driver writes itself: enabling the
 * interrupt when responses are already waiting must wake the application
 * at once, and nothing else can make an event-channel fd readable from
 * this side.
 *
 * rsp_event is armed only while the interrupt is enabled: enable re-arms it
 * with RING_FINAL_CHECK_FOR_RESPONSES; disable moves it behind the consumer
 * so the backend stops notifying. Events are consumed (xenevtchn_pending,
 * then xenevtchn_unmask, as /dev/xen/evtchn masks a port once it fired) on
 * enable and disable, never in the data path. */

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "evtchn.h"
#include "xenfront.h"

struct rte_eth_dev;

namespace xenfront
{

class RxInterrupt
{
public:
	static std::unique_ptr<RxInterrupt> create(std::string &error) noexcept;
	~RxInterrupt();
	RxInterrupt(const RxInterrupt &) = delete;
	RxInterrupt &operator=(const RxInterrupt &) = delete;

	/* The handle the queue's rx event channel is bound on. */
	const xen::Evtchn &evtchn() const noexcept { return *evtchn_; }
	/* What the application epolls (ethdev's efds[] entry for the queue). */
	int fd() const noexcept { return epoll_fd_; }

	/* From the application's lcore (rx_queue_intr_enable/disable). */
	void enable(RxQueue &q) noexcept;
	void disable(RxQueue &q) noexcept;
	/* From the control path, after it formatted the queue's ring afresh
	 * (the data path is off it): arms or disarms rsp_event to match. */
	void ring_reset(RxQueue &q) noexcept;

private:
	RxInterrupt() = default;
	/* Takes every delivered event off the handle and unmasks its port,
	 * and drains the driver's own wake-ups. */
	void consume() noexcept;
	void kick() noexcept;

	std::optional<xen::Evtchn> evtchn_;
	int kick_fd_ = -1;
	int epoll_fd_ = -1;
	std::atomic<bool> enabled_{false};
};

/* ethdev glue (xenfront_ethdev.cc). */
int rx_queue_intr_enable(rte_eth_dev *dev, uint16_t qid) noexcept;
int rx_queue_intr_disable(rte_eth_dev *dev, uint16_t qid) noexcept;
/* At dev_start: with intr_conf.rxq, gives ethdev one fd per rx queue;
 * otherwise withdraws them. */
int rx_intr_install(rte_eth_dev *dev) noexcept;
/* At dev_close. */
void rx_intr_free(rte_eth_dev *dev) noexcept;

} // namespace xenfront
