/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "evtchn.h"

#include <cerrno>
#include <cstring>

namespace xen
{

std::optional<Evtchn> Evtchn::open(std::string &error) noexcept
{
	xenevtchn_handle *h = xenevtchn_open(nullptr, 0);
	if (h == nullptr) {
		error = std::string("cannot open the event-channel device (/dev/xen/evtchn): ") +
			std::strerror(errno);
		return std::nullopt;
	}
	return Evtchn(h);
}

Evtchn &Evtchn::operator=(Evtchn &&other) noexcept
{
	if (this != &other) {
		if (handle_ != nullptr)
			xenevtchn_close(handle_);
		handle_ = std::exchange(other.handle_, nullptr);
	}
	return *this;
}

Evtchn::~Evtchn()
{
	if (handle_ != nullptr)
		xenevtchn_close(handle_);
}

std::optional<BoundPort> BoundPort::alloc_unbound(const Evtchn &evtchn, DomId peer,
						  std::string &error) noexcept
{
	xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(evtchn.get(), peer.value());
	if (port < 0) {
		error = "cannot allocate an event channel for domain " + peer.str() + ": " +
			std::strerror(errno);
		return std::nullopt;
	}
	return BoundPort(evtchn.get(), EvtchnPort(static_cast<uint32_t>(port)));
}

std::optional<BoundPort> BoundPort::bind_interdomain(const Evtchn &evtchn, DomId peer,
						     EvtchnPort remote, std::string &error) noexcept
{
	xenevtchn_port_or_error_t port =
		xenevtchn_bind_interdomain(evtchn.get(), peer.value(), remote.value());
	if (port < 0) {
		error = "cannot bind to event channel " + remote.str() + " of domain " +
			peer.str() + ": " + std::strerror(errno);
		return std::nullopt;
	}
	return BoundPort(evtchn.get(), EvtchnPort(static_cast<uint32_t>(port)));
}

BoundPort &BoundPort::operator=(BoundPort &&other) noexcept
{
	if (this != &other) {
		release();
		handle_ = other.handle_;
		port_ = other.port_;
		bound_ = std::exchange(other.bound_, false);
	}
	return *this;
}

void BoundPort::release() noexcept
{
	if (bound_)
		xenevtchn_unbind(handle_, port_.value());
	bound_ = false;
}

BoundPort::~BoundPort()
{
	release();
}

} // namespace xen
