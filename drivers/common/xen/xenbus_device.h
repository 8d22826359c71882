/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* One end of a xenbus device, shared by net_xenfront and net_xenback: our
 * directory and the other end's, and our state node, written only along
 * the moves xen/io/xenbus.h describes (a write that skips the close, e.g.
 * Connected straight to Initialising, is refused: the other end would
 * never see us leave). It owns the device's one control thread and one
 * mutex, and the watch on the other end: the thread waits for a watch
 * event, a wake-up or a period, and runs the driver's pass under the
 * mutex; the protocol (handshake keys, queues, control ring) stays in the
 * driver. Control path only; the mutex guards it.
 * doc/guides/nics/xen_control_path.rst has where it sits in each driver. */

#include "control_thread.h"
#include "store.h"

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

/* What one pass of the control thread asks for next. */
enum class Pass {
	Wait,      /* the next event, wake-up or period */
	StoreLost, /* our store connection broke: recover_store, then wait */
	Stop,      /* end the thread (it was asked to stop meanwhile) */
};

/* The driver's side of the control thread's loop. */
struct XenbusHooks {
	/* Under the mutex, before each wait: one more fd to wake on (a
	 * control ring's event channel; -1 for none) and the period of the
	 * look no event asked for, so that a missed watch event cannot wedge
	 * the device. Unset: no fd, one second. */
	std::function<void(int &fd, int &period_ms)> before_wait;
	/* Under the mutex: one pass, with the watch paths fired since the
	 * last one (xenstored fires each watch once when it is set). */
	std::function<Pass(const std::vector<std::string> &fired)> pass;
	/* Without the mutex, so that the application's calls go on while
	 * the store is away: reopen it (reopen_store()); false if asked to
	 * stop meanwhile. */
	std::function<bool()> recover_store;
};

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

	/* `watch_token` names our watch on the other end: its whole directory
	 * with `watch_other_dir` (a frontend follows the backend's keys too),
	 * else its state node. */
	XenbusDevice(Side side, std::string watch_token, bool watch_other_dir) noexcept
		: side_(side), watch_token_(std::move(watch_token)),
		  watch_other_dir_(watch_other_dir)
	{
	}
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
	/* The other end's state when its watch fired: Unknown if the node is
	 * absent (the other end gone); nullopt if our store connection broke,
	 * which is not the other end's doing (nothing is torn down for it;
	 * the pass returns Pass::StoreLost). */
	std::optional<XenbusState> follow_other_state(const Store &store) const noexcept;
	/* How many of `fired` are the other end's state node: each one but
	 * the watch's first event is a write of it. */
	unsigned other_state_events(const std::vector<std::string> &fired) const;

	/* Writes our state if xenbus allows the move from state(). With
	 * `only_if_present`, a removed node is not written back (Linux's
	 * xenbus_switch_state: that would bring back a directory the
	 * toolstack removed). `error` says why when not Written. */
	Write switch_state(Store &store, XenbusState to, std::string &error,
			   bool only_if_present = false) noexcept;

	/* The watch on the other end (see the constructor); `error` names
	 * the path when the store refuses it. */
	std::string other_watch_path() const;
	bool watch_other(Store &store, std::string &error) noexcept;
	void unwatch_other(Store &store) noexcept;

	/* Runs the loop on the control thread named `name`: poll the
	 * thread's eventfd, `store`'s watch fd and the hooks' fd; on any of
	 * them or the period, drain the wake-ups and the watch events and
	 * run the pass under the mutex. `store` is read again each turn
	 * (recover_store replaces it). True if the thread runs already. */
	bool start_thread(Store &store, const char *name, XenbusHooks hooks,
			  std::string &error) noexcept;
	/* Asks the thread to stop and joins it: every wait of the thread
	 * polls its eventfd, so this returns within one store request or
	 * control-ring call. Not under the mutex. */
	void stop_thread() noexcept { thread_.stop(); }
	ControlThread &thread() noexcept { return thread_; }
	bool stopping() const noexcept { return thread_.stopping(); }
	/* Control state: the thread's passes and the driver's ethdev calls. */
	std::mutex &mutex() noexcept { return mutex_; }

	/* The store connection broke: a new one, with backoff
	 * (xen::reopen_store), on which `rewatch` registered our watches
	 * again (else, with `error` set, the next connection is tried);
	 * nullopt if the thread is asked to stop meanwhile. From the control
	 * thread, without the mutex. */
	std::optional<Store>
	reopen_store(const std::function<bool(Store &, std::string &)> &rewatch,
		     unsigned &attempts) noexcept;

private:
	void run(Store &store) noexcept;

	Side side_;
	std::string watch_token_;
	bool watch_other_dir_ = false;
	std::string front_dir_;
	std::string back_dir_;
	XenbusState state_ = XenbusState::Unknown;
	XenbusHooks hooks_;
	std::mutex mutex_;
	/* Last: stopped (joined) before the rest goes. */
	ControlThread thread_;
};

} // namespace xen
