/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "control_thread.h"

#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dpdk_compat.h"

namespace xen
{

ControlThread::~ControlThread()
{
	stop();
	if (fd_ >= 0)
		close(fd_);
}

bool ControlThread::open_fd(std::string &error) noexcept
{
	if (fd_ < 0)
		fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd_ < 0) {
		error = std::string("eventfd: ") + std::strerror(errno);
		return false;
	}
	return true;
}

bool ControlThread::start(const char *name, std::function<void()> body, std::string &error) noexcept
{
	if (running_)
		return true;
	if (!open_fd(error))
		return false;
	stopping_.store(false, std::memory_order_release);
	body_ = std::move(body);
	int rc = ctrl_thread_create(
		&thread_, name, nullptr,
		[](void *arg) -> void * {
			static_cast<ControlThread *>(arg)->body_();
			return nullptr;
		},
		this);
	if (rc != 0) {
		error = std::string("cannot start the control thread: ") + std::strerror(-rc);
		return false;
	}
	running_ = true;
	return true;
}

bool ControlThread::kick() noexcept
{
	uint64_t one = 1;
	return fd_ < 0 || write(fd_, &one, sizeof(one)) == sizeof(one);
}

void ControlThread::drain() noexcept
{
	uint64_t drained;
	while (read(fd_, &drained, sizeof(drained)) > 0) {
	}
}

void ControlThread::stop() noexcept
{
	if (!running_)
		return;
	stopping_.store(true, std::memory_order_release);
	kick(); /* cannot fail on an eventfd short of 2^64 - 1 wake-ups */
	pthread_join(thread_, nullptr);
	running_ = false;
	drain();
	stopping_.store(false, std::memory_order_release);
}

} // namespace xen
