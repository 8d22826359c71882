/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The one control thread of a xenbus device (a port of net_xenfront or
 * net_xenback): started and stopped by the application's thread, woken
 * through an eventfd that every wait of the thread polls too (a store
 * request, a watch, a control-ring call), so that stop() returns within
 * one such wait. doc/guides/nics/xen_control_path.rst has what the thread
 * owns in each driver. */

#include <atomic>
#include <functional>
#include <pthread.h>
#include <string>

namespace xen
{

class ControlThread
{
public:
	ControlThread() = default;
	~ControlThread();
	ControlThread(const ControlThread &) = delete;
	ControlThread &operator=(const ControlThread &) = delete;

	/* Runs `body` on a new DPDK control thread named `name`; true if it
	 * runs already. `body` returns when stopping() turns true (or on its
	 * own). Fails with `error` set if no eventfd or thread. */
	bool start(const char *name, std::function<void()> body, std::string &error) noexcept;
	/* Asks the thread to end, wakes it and joins it; then clears the
	 * request, so that start() may run it again. */
	void stop() noexcept;
	/* Wakes the thread's wait once (it then looks at everything again). */
	bool kick() noexcept;
	/* Drains the wake-ups (the thread, after waking). */
	void drain() noexcept;

	bool running() const noexcept { return running_; }
	bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
	/* Readable when kicked or asked to stop; -1 before the first start(). */
	int fd() const noexcept { return fd_; }
	/* Makes the eventfd without a thread (for waits before start()). */
	bool open_fd(std::string &error) noexcept;

private:
	int fd_ = -1;
	pthread_t thread_{};
	bool running_ = false; /* the application's thread only */
	std::atomic<bool> stopping_{false};
	std::function<void()> body_;
};

} // namespace xen
