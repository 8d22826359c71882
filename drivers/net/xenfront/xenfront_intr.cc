/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Rx interrupt mode (see xenfront_intr.h). */

#include "xenfront_intr.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ethdev_driver.h>
#include <rte_interrupts.h>

extern "C" {
#include <xenevtchn.h>
}

#include "xenfront_logs.h"
#include "xenfront_xenbus.h"

namespace xenfront
{

std::unique_ptr<RxInterrupt> RxInterrupt::create(std::string &error) noexcept
{
	std::unique_ptr<RxInterrupt> r(new (std::nothrow) RxInterrupt());
	if (r == nullptr) {
		error = "out of memory";
		return nullptr;
	}
	r->evtchn_ = xen::Evtchn::open(error);
	if (!r->evtchn_)
		return nullptr;
	/* Consuming events must never block the application's lcore. */
	int efd = r->evtchn_->fd();
	int flags = fcntl(efd, F_GETFL);
	if (flags < 0 || fcntl(efd, F_SETFL, flags | O_NONBLOCK) < 0) {
		error = std::string("cannot make the event-channel fd non-blocking: ") +
			std::strerror(errno);
		return nullptr;
	}
	r->kick_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
	if (r->kick_fd_ < 0 || r->epoll_fd_ < 0) {
		error = std::string("cannot create the rx interrupt fds: ") + std::strerror(errno);
		return nullptr;
	}
	for (int fd : {efd, r->kick_fd_}) {
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(r->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
			error = std::string("cannot set up the rx interrupt fd: ") +
				std::strerror(errno);
			return nullptr;
		}
	}
	return r;
}

RxInterrupt::~RxInterrupt()
{
	if (epoll_fd_ >= 0)
		close(epoll_fd_);
	if (kick_fd_ >= 0)
		close(kick_fd_);
}

void RxInterrupt::consume() noexcept
{
	xenevtchn_handle *h = evtchn_->get();
	for (;;) {
		xenevtchn_port_or_error_t port = xenevtchn_pending(h);
		if (port < 0)
			break; /* EAGAIN: nothing (more) delivered */
		xenevtchn_unmask(h, static_cast<evtchn_port_t>(port));
	}
	uint64_t count;
	while (read(kick_fd_, &count, sizeof(count)) > 0) {
	}
}

void RxInterrupt::kick() noexcept
{
	uint64_t one = 1;
	if (write(kick_fd_, &one, sizeof(one)) < 0)
		XF_DRV_LOG(WARNING, "xenfront", "cannot wake the rx interrupt fd: %s",
			   std::strerror(errno));
}

void RxInterrupt::enable(RxQueue &q) noexcept
{
	enabled_.store(true, std::memory_order_release);
	/* Events that came while polling are stale: the application polls
	 * after enabling only if woken. */
	consume();
	xen::BurstGuard guard(q.sync);
	/* Disconnected: the next connection arms the new ring (ring_reset). */
	if (!guard.usable() || q.broken)
		return;
	/* Arms rsp_event, then looks again: a response that came before the
	 * backend could see the new rsp_event raised no event, so wake the
	 * application ourselves. */
	if (q.ring.final_check_for_responses())
		kick();
}

void RxInterrupt::disable(RxQueue &q) noexcept
{
	enabled_.store(false, std::memory_order_release);
	{
		xen::BurstGuard guard(q.sync);
		if (guard.usable())
			q.ring.disarm_response_events();
	}
	consume();
}

void RxInterrupt::ring_reset(RxQueue &q) noexcept
{
	if (enabled_.load(std::memory_order_acquire))
		q.ring.final_check_for_responses();
	else
		q.ring.disarm_response_events();
}

namespace
{

Control &control(rte_eth_dev *dev)
{
	return *static_cast<Control *>(dev->process_private);
}

RxInterrupt *queue_interrupt(rte_eth_dev *dev, uint16_t qid, RxQueue *&q)
{
	q = qid < dev->data->nb_rx_queues ? static_cast<RxQueue *>(dev->data->rx_queues[qid])
					  : nullptr;
	return q != nullptr ? control(dev).rx_interrupt(qid) : nullptr;
}

} // namespace

int rx_queue_intr_enable(rte_eth_dev *dev, uint16_t qid) noexcept
{
	RxQueue *q;
	RxInterrupt *intr = queue_interrupt(dev, qid, q);
	if (intr == nullptr)
		return -EINVAL;
	intr->enable(*q);
	return 0;
}

int rx_queue_intr_disable(rte_eth_dev *dev, uint16_t qid) noexcept
{
	RxQueue *q;
	RxInterrupt *intr = queue_interrupt(dev, qid, q);
	if (intr == nullptr)
		return -EINVAL;
	intr->disable(*q);
	return 0;
}

int rx_intr_install(rte_eth_dev *dev) noexcept
{
	rte_intr_handle *h = dev->intr_handle;
	const char *name = dev->data->name;
	rte_intr_vec_list_free(h);
	rte_intr_nb_efd_set(h, 0);
	if (!dev->data->dev_conf.intr_conf.rxq)
		return 0;
	uint16_t n = dev->data->nb_rx_queues;
	for (uint16_t i = 0; i < n; i++) {
		RxQueue *q;
		RxInterrupt *intr = queue_interrupt(dev, i, q);
		if (intr == nullptr || rte_intr_efds_index_set(h, i, intr->fd()) != 0) {
			XF_INIT_LOG(ERR, name, "rx queue %u: cannot set up its interrupt", i);
			return -EINVAL;
		}
	}
	if (rte_intr_nb_efd_set(h, n) != 0 || rte_intr_max_intr_set(h, n + 1) != 0 ||
	    rte_intr_efd_counter_size_set(h, 0) != 0 ||
	    rte_intr_vec_list_alloc(h, nullptr, n) != 0) {
		XF_INIT_LOG(ERR, name, "cannot set up rx interrupts for %u queues: %s", n,
			    rte_strerror(rte_errno));
		rte_intr_nb_efd_set(h, 0);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < n; i++)
		rte_intr_vec_list_index_set(h, i, RTE_INTR_VEC_RXTX_OFFSET + i);
	return 0;
}

void rx_intr_free(rte_eth_dev *dev) noexcept
{
	if (dev->intr_handle == nullptr)
		return;
	rte_intr_vec_list_free(dev->intr_handle);
	rte_intr_instance_free(dev->intr_handle);
	dev->intr_handle = nullptr;
}

} // namespace xenfront
