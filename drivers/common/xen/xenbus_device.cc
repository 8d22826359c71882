/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenbus_device.h"

#include <cerrno>
#include <cstring>
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
