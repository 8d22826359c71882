/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Move-only owners of event channels, over libxenevtchn (/dev/xen/evtchn).
 * A frontend allocates unbound ports for its backend; a backend binds to
 * them. Notifying is the only call the data path makes, and only when the
 * ring's event index asks for it. */

#include <optional>
#include <string>
#include <utility>

#include "ids.h"

extern "C" {
#include <xenevtchn.h>
}

namespace xen
{

class Evtchn
{
public:
	static std::optional<Evtchn> open(std::string &error) noexcept;
	Evtchn(Evtchn &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
	Evtchn &operator=(Evtchn &&other) noexcept;
	Evtchn(const Evtchn &) = delete;
	Evtchn &operator=(const Evtchn &) = delete;
	~Evtchn();
	xenevtchn_handle *get() const noexcept { return handle_; }
	/* Pollable; readable when one of this handle's ports has fired. */
	int fd() const noexcept { return xenevtchn_fd(handle_); }

private:
	explicit Evtchn(xenevtchn_handle *h) noexcept : handle_(h) {}
	xenevtchn_handle *handle_;
};

/* A local port bound on an Evtchn handle; unbound when destroyed. The
 * Evtchn must outlive it. */
class BoundPort
{
public:
	/* A fresh port that domain `peer` may bind to (frontend side). */
	static std::optional<BoundPort> alloc_unbound(const Evtchn &evtchn, DomId peer,
						      std::string &error) noexcept;
	/* Binds to `peer`'s unbound `remote` port (backend side). */
	static std::optional<BoundPort> bind_interdomain(const Evtchn &evtchn, DomId peer,
							 EvtchnPort remote,
							 std::string &error) noexcept;
	BoundPort(BoundPort &&other) noexcept
		: handle_(other.handle_), port_(other.port_),
		  bound_(std::exchange(other.bound_, false))
	{
	}
	BoundPort &operator=(BoundPort &&other) noexcept;
	BoundPort(const BoundPort &) = delete;
	BoundPort &operator=(const BoundPort &) = delete;
	~BoundPort();

	EvtchnPort port() const noexcept { return port_; }

private:
	BoundPort(xenevtchn_handle *h, EvtchnPort port) noexcept
		: handle_(h), port_(port), bound_(true)
	{
	}
	void release() noexcept;
	xenevtchn_handle *handle_;
	EvtchnPort port_;
	bool bound_;
};

} // namespace xen
