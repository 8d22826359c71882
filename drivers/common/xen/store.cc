/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "store.h"
#include "store_parse.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <unistd.h>

/* libxenstore's header has no extern "C" of its own. */
extern "C" {
#include <xenstore.h>
}

namespace xen
{

const char *state_name(XenbusState state) noexcept
{
	switch (state) {
	case XenbusState::Unknown:
		return "Unknown";
	case XenbusState::Initialising:
		return "Initialising";
	case XenbusState::InitWait:
		return "InitWait";
	case XenbusState::Initialised:
		return "Initialised";
	case XenbusState::Connected:
		return "Connected";
	case XenbusState::Closing:
		return "Closing";
	case XenbusState::Closed:
		return "Closed";
	case XenbusState::Reconfiguring:
		return "Reconfiguring";
	case XenbusState::Reconfigured:
		return "Reconfigured";
	}
	return "invalid";
}

namespace
{

std::optional<std::string> read_raw(xs_handle *h, uint32_t tx, const std::string &path) noexcept
{
	unsigned int len = 0;
	void *value = xs_read(h, tx, path.c_str(), &len);
	if (value == nullptr)
		return std::nullopt;
	std::string result(static_cast<char *>(value), len);
	std::free(value);
	return result;
}

} // namespace

bool Transaction::write(const std::string &path, std::string_view value) noexcept
{
	if (xs_write(handle_, id_, path.c_str(), value.data(),
		     static_cast<unsigned int>(value.size())))
		return true;
	const int err = errno;
	if (refused_.empty())
		refused_ = "writing " + path + " = '" + std::string(value) +
			   "': " + std::strerror(err);
	errno = err;
	return false;
}

bool Transaction::remove(const std::string &path) noexcept
{
	if (xs_rm(handle_, id_, path.c_str()) || errno == ENOENT)
		return true;
	const int err = errno;
	if (refused_.empty())
		refused_ = "removing " + path + ": " + std::strerror(err);
	errno = err;
	return false;
}

std::optional<std::string> Transaction::read(const std::string &path) const noexcept
{
	return read_raw(handle_, id_, path);
}

std::optional<Store> Store::open(std::string &error) noexcept
{
	xs_handle *handle = xs_open(0);
	if (handle == nullptr) {
		const char *path = std::getenv("XENSTORED_PATH");
		if (path != nullptr && *path != '\0')
			error = std::string("no xenstore reachable at XENSTORED_PATH=") + path +
				" (" + std::strerror(errno) + ")";
		else
			error = "no xenstore reachable (set XENSTORED_PATH or run inside a Xen "
				"guest)";
		return std::nullopt;
	}
	return Store(handle);
}

Store &Store::operator=(Store &&other) noexcept
{
	if (this != &other) {
		xs_close(handle_);
		handle_ = std::exchange(other.handle_, nullptr);
	}
	return *this;
}

Store::~Store()
{
	xs_close(handle_);
}

bool Store::alive() const noexcept
{
	/* XS_GET_DOMAIN_PATH needs no node and no permission: only a broken
	 * connection fails it. */
	char *path = xs_get_domain_path(handle_, 0);
	if (path == nullptr)
		return false;
	std::free(path);
	return true;
}

std::optional<Store> reopen_store(int wake_fd, const std::function<bool()> &stop,
				  unsigned &attempts, std::string &error) noexcept
{
	constexpr std::chrono::milliseconds first_delay{100};
	constexpr std::chrono::milliseconds max_delay{2000};
	auto delay = first_delay;
	for (;;) {
		pollfd pfd{wake_fd, POLLIN, 0};
		if (poll(&pfd, 1, static_cast<int>(delay.count())) > 0 && (pfd.revents & POLLIN)) {
			if (stop())
				return std::nullopt;
			uint64_t drain;
			while (read(wake_fd, &drain, sizeof(drain)) > 0) {
			}
			continue;
		}
		attempts++;
		auto store = Store::open(error);
		if (store && store->alive())
			return store;
		if (store)
			error = std::string("the store does not answer: ") + std::strerror(errno);
		delay = std::min(delay * 2, max_delay);
	}
}

std::optional<std::string> Store::read(const std::string &path) const noexcept
{
	return read_raw(handle_, XBT_NULL, path);
}

std::optional<uint64_t> Store::read_uint(const std::string &path, uint64_t max,
					 bool &malformed) const noexcept
{
	auto text = read(path);
	if (!text)
		return std::nullopt;
	auto v = parse_store_uint(*text, max);
	if (!v)
		malformed = true;
	return v;
}

bool Store::read_flag(const std::string &path, bool absent, bool &malformed) const noexcept
{
	auto text = read(path);
	if (!text)
		return absent;
	auto v = parse_store_flag(*text);
	if (!v)
		malformed = true;
	return v.value_or(absent);
}

std::optional<XenbusState> Store::read_state(const std::string &dir) const noexcept
{
	auto text = read(dir + "/state");
	if (!text)
		return std::nullopt;
	return parse_store_state(*text);
}

bool Store::write(const std::string &path, std::string_view value) noexcept
{
	return xs_write(handle_, XBT_NULL, path.c_str(), value.data(),
			static_cast<unsigned int>(value.size()));
}

bool Store::remove(const std::string &path) noexcept
{
	return xs_rm(handle_, XBT_NULL, path.c_str()) || errno == ENOENT;
}

std::optional<std::vector<std::string>> Store::directory(const std::string &path) const noexcept
{
	unsigned int num = 0;
	char **entries = xs_directory(handle_, XBT_NULL, path.c_str(), &num);
	if (entries == nullptr)
		return std::nullopt;
	std::vector<std::string> result(entries, entries + num);
	std::free(entries);
	return result;
}

bool Store::switch_state(const std::string &dir, XenbusState state) noexcept
{
	return write(dir + "/state", std::to_string(static_cast<int>(state)));
}

bool Store::transact(const std::function<bool(Transaction &)> &body, std::string &error) noexcept
{
	/* xenstored answers EAGAIN when another writer touched what we read;
	 * Linux's xenbus drivers retry without bound, we give up after a while. */
	constexpr int max_attempts = 100;
	for (int attempt = 0; attempt < max_attempts; attempt++) {
		xs_transaction_t id = xs_transaction_start(handle_);
		if (id == XBT_NULL) {
			error = std::string("cannot start a xenstore transaction: ") +
				std::strerror(errno);
			return false;
		}
		Transaction tx(handle_, id);
		if (!body(tx)) {
			int err = errno;
			xs_transaction_end(handle_, id, true);
			if (error.empty())
				error = !tx.refused_.empty()
						? tx.refused_
						: std::string("xenstore transaction failed: ") +
							  std::strerror(err);
			return false;
		}
		if (xs_transaction_end(handle_, id, false))
			return true;
		if (errno != EAGAIN) {
			error = std::string("cannot commit a xenstore transaction: ") +
				std::strerror(errno);
			return false;
		}
	}
	error = "xenstore transaction kept conflicting (EAGAIN) after 100 attempts";
	return false;
}

bool Store::watch(const std::string &path, const std::string &token) noexcept
{
	return xs_watch(handle_, path.c_str(), token.c_str());
}

bool Store::unwatch(const std::string &path, const std::string &token) noexcept
{
	return xs_unwatch(handle_, path.c_str(), token.c_str());
}

int Store::watch_fd() const noexcept
{
	return xs_fileno(handle_);
}

std::vector<std::string> Store::pending_watch_paths() noexcept
{
	std::vector<std::string> paths;
	for (;;) {
		char **event = xs_check_watch(handle_);
		if (event == nullptr)
			break;
		paths.emplace_back(event[XS_WATCH_PATH]);
		std::free(event);
	}
	return paths;
}

bool Store::wait_watch(Clock::time_point deadline, int wake_fd) noexcept
{
	auto now = Clock::now();
	if (now >= deadline)
		return false;
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
	pollfd pfd[2] = {{watch_fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
	int n = poll(pfd, wake_fd >= 0 ? 2 : 1, static_cast<int>(ms) + 1);
	return n > 0 && !(pfd[1].revents & POLLIN);
}

} // namespace xen
