/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A connection to xenstore through the real libxenstore: the guest's
 * /dev/xen/xenbus on Xen, or a xenstored-protocol socket named by
 * XENSTORED_PATH (xensim). Move-only; the destructor closes it.
 * Control path only. */

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct xs_handle;

namespace xen
{

/* xenbus states, from xen/io/xenbus.h. */
enum class XenbusState : int {
	Unknown = 0,
	Initialising = 1,
	InitWait = 2,
	Initialised = 3,
	Connected = 4,
	Closing = 5,
	Closed = 6,
	Reconfiguring = 7,
	Reconfigured = 8,
};
const char *state_name(XenbusState state) noexcept;

class Store;

/* Writes inside one xenstore transaction (see Store::transact). */
class Transaction
{
public:
	/* A refused write or remove is remembered with its node (and value),
	 * and Store::transact reports it: the store's permissions or quota are
	 * the toolstack's to fix, so a user must see which node. */
	bool write(const std::string &path, std::string_view value) noexcept;
	bool remove(const std::string &path) noexcept;
	std::optional<std::string> read(const std::string &path) const noexcept;

private:
	friend class Store;
	Transaction(xs_handle *h, uint32_t id) noexcept : handle_(h), id_(id) {}
	xs_handle *handle_;
	uint32_t id_;
	std::string refused_; /* the first refused operation, or empty */
};

class Store
{
public:
	using Clock = std::chrono::steady_clock;

	/* Opens the default connection. On failure returns nullopt and puts
	 * in `error` what a user can do about it. */
	static std::optional<Store> open(std::string &error) noexcept;

	Store(Store &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
	Store &operator=(Store &&other) noexcept;
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;
	~Store();

	xs_handle *handle() const noexcept { return handle_; }

	/* True while the store answers (a request every store answers); false
	 * once the connection broke (the store daemon was killed or restarted
	 * without a live update). libxenstore never reconnects a handle: open
	 * a new one (reopen_store) and register the watches again. */
	bool alive() const noexcept;

	/* Value of `path` (absolute, or relative to this domain's home),
	 * nullopt if absent or unreadable (errno set). */
	std::optional<std::string> read(const std::string &path) const noexcept;
	/* An unsigned decimal value no larger than `max`; nullopt if absent.
	 * A present but malformed value sets `malformed`. */
	std::optional<uint64_t> read_uint(const std::string &path, uint64_t max,
					  bool &malformed) const noexcept;
	/* A feature flag: absent means `absent`; "0"/"1" otherwise (anything
	 * else sets `malformed` and reads as `absent`). */
	bool read_flag(const std::string &path, bool absent, bool &malformed) const noexcept;
	std::optional<XenbusState> read_state(const std::string &dir) const noexcept;

	bool write(const std::string &path, std::string_view value) noexcept;
	bool remove(const std::string &path) noexcept;
	/* Children of `path`; nullopt if it does not exist. */
	std::optional<std::vector<std::string>> directory(const std::string &path) const noexcept;
	/* Writes `dir`/state. */
	bool switch_state(const std::string &dir, XenbusState state) noexcept;

	/* Runs `body` in a transaction, retrying on EAGAIN (a conflicting
	 * writer) up to a bound. False with `error` set if it never commits or
	 * `body` returns false. */
	bool transact(const std::function<bool(Transaction &)> &body, std::string &error) noexcept;

	/* Watches: the fd is readable when an event may be pending. */
	bool watch(const std::string &path, const std::string &token) noexcept;
	bool unwatch(const std::string &path, const std::string &token) noexcept;
	int watch_fd() const noexcept;
	/* Drains pending watch events without blocking; returns fired paths. */
	std::vector<std::string> pending_watch_paths() noexcept;
	/* Waits until a watch fires or `deadline`; false on timeout, or when
	 * `wake_fd` (if not -1) becomes readable first. */
	bool wait_watch(Clock::time_point deadline, int wake_fd = -1) noexcept;

private:
	explicit Store(xs_handle *handle) noexcept : handle_(handle) {}
	xs_handle *handle_;
};

/* Opens a new connection to the store after the old one broke, trying at
 * growing intervals (100 ms doubling up to 2 s) until one answers. Waiting
 * ends early when `wake_fd` becomes readable and `stop()` says so (nullopt
 * then); a wake-up that is not a stop is drained (an eventfd) and waiting
 * goes on. `attempts` counts the connections tried; `error` says why the
 * last one failed. Control path only. */
std::optional<Store> reopen_store(int wake_fd, const std::function<bool()> &stop,
				  unsigned &attempts, std::string &error) noexcept;

} // namespace xen
