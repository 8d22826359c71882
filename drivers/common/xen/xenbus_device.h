/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* One end of a xenbus device, shared by net_xenfront and net_xenback: our
 * directory and the other end's, and our state node, written only along
 * the moves xen/io/xenbus.h describes (a write that skips the close, e.g.
 * Connected straight to Initialising, is refused: the other end would
 * never see us leave). Control path only; the caller's mutex guards it.
 * doc/guides/nics/xen_control_path.rst has where it sits in each driver. */

#include "store.h"

#include <string>

namespace xen
{

/* Whether xenbus lets a device go from `from` to `to`: forward through
 * Initialising, InitWait, Initialised and Connected; Closing and Closed
 * from any; a fresh start only from Closed (Linux's
 * xenbus_probe and netback both restart a device that way); Reconfiguring
 * and Reconfigured only around Connected. Rewriting the same state is
 * allowed; Unknown as `from` means not known, so anything goes; Unknown is
 * never written (it means the node is absent). */
bool state_move_allowed(XenbusState from, XenbusState to) noexcept;

class XenbusDevice
{
public:
	enum class Side { Frontend, Backend };
	enum class Write {
		Written,
		Refused, /* not a xenbus move: nothing written */
		Gone,    /* only_if_present and the node was removed */
		Failed,  /* the store refused or is down */
	};

	explicit XenbusDevice(Side side) noexcept : side_(side) {}

	/* Names both directories (absolute paths); forgets our state. */
	void bind(std::string front_dir, std::string back_dir);
	void unbind() noexcept;

	const std::string &front_dir() const noexcept { return front_dir_; }
	const std::string &back_dir() const noexcept { return back_dir_; }
	const std::string &our_dir() const noexcept
	{
		return side_ == Side::Frontend ? front_dir_ : back_dir_;
	}
	const std::string &other_dir() const noexcept
	{
		return side_ == Side::Frontend ? back_dir_ : front_dir_;
	}
	std::string other_state_node() const { return other_dir() + "/state"; }

	/* Our state as last written or read back; Unknown if neither. */
	XenbusState state() const noexcept { return state_; }
	/* Reads our node back (another writer, e.g. a previous frontend, may
	 * have left it) and remembers it; Unknown if absent. */
	XenbusState read_state(const Store &store) noexcept;
	/* Forgets our state (the store's copy is no longer ours to trust). */
	void forget_state() noexcept { state_ = XenbusState::Unknown; }
	XenbusState read_other_state(const Store &store) const noexcept;

	/* Writes our state if xenbus allows the move from state(). With
	 * `only_if_present`, a removed node is not written back (Linux's
	 * xenbus_switch_state: that would bring back a directory the
	 * toolstack removed). `error` says why when not Written. */
	Write switch_state(Store &store, XenbusState to, std::string &error,
			   bool only_if_present = false) noexcept;

private:
	Side side_;
	std::string front_dir_;
	std::string back_dir_;
	XenbusState state_ = XenbusState::Unknown;
};

} // namespace xen
