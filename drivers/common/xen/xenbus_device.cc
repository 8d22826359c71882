/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenbus_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <utility>

namespace xen
{

bool state_move_allowed(XenbusState from, XenbusState to) noexcept
{
	using S = XenbusState;
	if (to == S::Unknown || static_cast<int>(to) > static_cast<int>(S::Reconfigured))
		return false;
	if (from == to || from == S::Unknown || to == S::Closed)
		return true;
	switch (to) {
	case S::Initialising:
		return from == S::Closed;
	case S::InitWait:
		return from == S::Initialising || from == S::Closed;
	case S::Initialised:
		return from == S::Initialising || from == S::InitWait;
	case S::Connected:
		return from == S::Initialising || from == S::InitWait || from == S::Initialised ||
		       from == S::Reconfigured;
	case S::Closing:
		/* From Closed too: Linux netback follows a frontend's Closing so. */
		return true;
	case S::Reconfiguring:
		return from == S::Connected;
	case S::Reconfigured:
		return from == S::Reconfiguring;
	default:
		return false;
	}
}

void XenbusDevice::bind(std::string front_dir, std::string back_dir)
{
	front_dir_ = std::move(front_dir);
	back_dir_ = std::move(back_dir);
	state_ = XenbusState::Unknown;
}

void XenbusDevice::unbind() noexcept
{
	front_dir_.clear();
	back_dir_.clear();
	state_ = XenbusState::Unknown;
}

XenbusState XenbusDevice::read_state(const Store &store) noexcept
{
	state_ = store.read_state(our_dir()).value_or(XenbusState::Unknown);
	return state_;
}

XenbusState XenbusDevice::read_other_state(const Store &store) const noexcept
{
	return store.read_state(other_dir()).value_or(XenbusState::Unknown);
}

std::optional<XenbusState> XenbusDevice::follow_other_state(const Store &store) const noexcept
{
	auto read = store.read_state(other_dir());
	if (!read && !store.alive())
		return std::nullopt;
	return read.value_or(XenbusState::Unknown);
}

unsigned XenbusDevice::other_state_events(const std::vector<std::string> &fired) const
{
	const std::string node = other_state_node();
	return static_cast<unsigned>(std::count(fired.begin(), fired.end(), node));
}

std::string XenbusDevice::other_watch_path() const
{
	return watch_other_dir_ ? other_dir() : other_state_node();
}

bool XenbusDevice::watch_other(Store &store, std::string &error) noexcept
{
	const std::string path = other_watch_path();
	if (store.watch(path, watch_token_))
		return true;
	error = "cannot watch " + path + ": " + std::strerror(errno);
	return false;
}

void XenbusDevice::unwatch_other(Store &store) noexcept
{
	store.unwatch(other_watch_path(), watch_token_);
}

bool XenbusDevice::start_thread(Store &store, const char *name, XenbusHooks hooks,
				std::string &error) noexcept
{
	if (thread_.running())
		return true;
	hooks_ = std::move(hooks);
	return thread_.start(
		name, [this, &store] { run(store); }, error);
}

void XenbusDevice::run(Store &store) noexcept
{
	for (;;) {
		pollfd fds[3] = {
			{thread_.fd(), POLLIN, 0}, {store.watch_fd(), POLLIN, 0}, {-1, 0, 0}};
		int period_ms = 1000;
		if (hooks_.before_wait) {
			std::lock_guard lock(mutex_);
			hooks_.before_wait(fds[2].fd, period_ms);
		}
		if (fds[2].fd >= 0)
			fds[2].events = POLLIN;
		poll(fds, fds[2].fd >= 0 ? 3 : 2, period_ms);
		if (thread_.stopping())
			return;
		thread_.drain();
		const auto fired = store.pending_watch_paths();
		std::unique_lock lock(mutex_);
		const Pass next = hooks_.pass(fired);
		lock.unlock();
		if (next == Pass::Stop)
			return;
		if (next == Pass::StoreLost && !hooks_.recover_store())
			return;
	}
}

std::optional<Store>
XenbusDevice::reopen_store(const std::function<bool(Store &, std::string &)> &rewatch,
			   unsigned &attempts) noexcept
{
	std::string error;
	for (;;) {
		auto store = xen::reopen_store(
			thread_.fd(), [this] { return thread_.stopping(); }, attempts, error);
		if (!store || rewatch(*store, error))
			return store;
	}
}

XenbusDevice::Write XenbusDevice::switch_state(Store &store, XenbusState to, std::string &error,
					       bool only_if_present) noexcept
{
	const std::string node = our_dir() + "/state";
	const std::string value = std::to_string(static_cast<int>(to));
	if (!state_move_allowed(state_, to)) {
		error = "refused to write " + node + " = " + value + " (" + state_name(to) +
			"): not a xenbus move from " + state_name(state_);
		return Write::Refused;
	}
	if (!only_if_present) {
		if (!store.write(node, value)) {
			error = "cannot write " + node + " = " + value + " (" + state_name(to) +
				"): " + std::strerror(errno);
			return Write::Failed;
		}
		state_ = to;
		return Write::Written;
	}
	bool gone = false;
	auto body = [&](Transaction &tx) {
		if (!tx.read(node)) {
			gone = errno == ENOENT;
			return false;
		}
		return tx.write(node, value);
	};
	std::string why;
	if (store.transact(body, why)) {
		state_ = to;
		return Write::Written;
	}
	if (gone) {
		error = node + " is gone: not written";
		return Write::Gone;
	}
	error = "cannot write " + node + ": " + why;
	return Write::Failed;
}

} // namespace xen
