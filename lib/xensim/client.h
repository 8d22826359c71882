/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * What the libxengnttab and libxenevtchn stand-ins share: the connection of
 * one library handle to xensim-hvd, the shared hypervisor state it maps, and
 * lazily mapped domain memory. Nothing here is global: every handle owns
 * its Session.
 */
#ifndef XENSIM_CLIENT_H
#define XENSIM_CLIENT_H

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <sys/un.h>

#include "proto.h"
#include "shm.h"

struct xentoollog_logger;

namespace xensim
{

class UniqueFd
{
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	UniqueFd(UniqueFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	UniqueFd &operator=(UniqueFd &&o) noexcept
	{
		reset(std::exchange(o.fd_, -1));
		return *this;
	}
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;
	~UniqueFd() { reset(); }

	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept;

private:
	int fd_ = -1;
};

/* A MAP_SHARED view of a whole file, unmapped on destruction. */
class Mapping
{
public:
	Mapping() = default;
	Mapping(void *addr, std::size_t len) : addr_(addr), len_(len) {}
	Mapping(Mapping &&o) noexcept
		: addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0))
	{
	}
	Mapping &operator=(Mapping &&o) noexcept;
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	~Mapping() { reset(); }

	static std::optional<Mapping> of_fd(int fd, std::size_t len);
	std::uint8_t *bytes() const { return static_cast<std::uint8_t *>(addr_); }
	explicit operator bool() const { return addr_ != nullptr; }
	void reset() noexcept;

private:
	void *addr_ = nullptr;
	std::size_t len_ = 0;
};

/* Instance and domain of this process, from XENSIM_DIR and XENSIM_DOMID. */
struct Env {
	std::string dir;
	DomId domid{0};
	/* Sets errno (ENOENT without XENSIM_DIR, EINVAL for a bad domid). */
	static std::optional<Env> from_environment();
	std::string socket_path() const { return dir + "/hv/hv.sock"; }
};

/*
 * The address of the unix socket at `path`. A path longer than sun_path
 * is reached through /proc/self/fd/<dir fd>/<name>, with the directory fd
 * kept open in `dir_holder` until connect() or bind() is done. Sets errno.
 */
bool unix_address(const std::string &path, ::sockaddr_un &addr, UniqueFd &dir_holder);

/* A reply: header, items (or JSON bytes for Status) and received fds. */
struct Reply {
	proto::Msg msg{};
	std::vector<std::uint64_t> items;
	std::string text;
	std::vector<UniqueFd> fds;
};

/* One SOCK_SEQPACKET connection to the hvd. */
class Connection
{
public:
	/* Sets errno on failure. */
	static std::unique_ptr<Connection> open(const std::string &path, bool cloexec);
	int fd() const { return fd_.get(); }
	/*
	 * Sends `req` with `items` (and `send_fd` if >= 0) and waits for the
	 * reply. Returns nullopt with errno set on a transport error or on an
	 * error reply (errno = the hvd's error).
	 */
	std::optional<Reply> call(proto::Msg req, std::span<const std::uint64_t> items = {},
				  int send_fd = -1);

	explicit Connection(UniqueFd fd);

private:
	UniqueFd fd_;
	/*
	 * After fork() the child shares this socket with its parent: its RPCs
	 * would act on the parent's grants and ports. Only the process that
	 * opened the handle may call (the child may only close, which then
	 * releases nothing of the parent's).
	 */
	int pid_;
	std::mutex mutex_; /* one RPC at a time on this connection */
};

/*
 * Everything a library handle needs: its hvd connection, the shared state
 * and the memory of domains it copies to or from (mapped on first use).
 */
class Session
{
public:
	/* Sets errno on failure. */
	static std::unique_ptr<Session> open(proto::Kind kind, bool cloexec, int event_fd = -1,
					     bool adopt = false);

	Connection &conn() { return *conn_; }
	StateShm &state() const { return *reinterpret_cast<StateShm *>(state_.bytes()); }
	DomId domid() const { return domid_; }
	DomSlot slot() const { return slot_; }
	DomainShm &self() const { return state().domains[slot_.v]; }
	/* From the Hello reply: the evtchn handle slot. */
	std::uint8_t handle_slot() const { return handle_slot_; }

	/* The slot of domain `d`, or nullopt if the instance has no such domain. */
	std::optional<DomSlot> slot_of(DomId d);
	/* Base of domain `slot`'s memory (mapped on first use); nullptr on error. */
	std::uint8_t *memory(DomSlot s, DomId d);
	std::uint8_t *own_memory() const { return own_mem_; }
	int memory_fd(DomSlot s);

	Session() = default;
	Session(const Session &) = delete;
	Session &operator=(const Session &) = delete;

private:
	std::unique_ptr<Connection> conn_;
	Mapping state_;
	DomId domid_{0};
	DomSlot slot_{0};
	std::uint8_t handle_slot_ = kNoHandle;
	std::uint8_t *own_mem_ = nullptr;
	std::mutex mem_mutex_;
	std::array<std::atomic<std::uint8_t *>, kMaxDomains> mem_{};
	std::array<Mapping, kMaxDomains> mem_maps_;
	std::array<UniqueFd, kMaxDomains> mem_fds_;
};

/* Error logging as the real libraries do (xentoollog; stderr by default). */
class Logger
{
public:
	Logger(xentoollog_logger *given, const char *context) noexcept;
	~Logger();
	Logger(const Logger &) = delete;
	Logger &operator=(const Logger &) = delete;
	/* Logs at XTL_ERROR with the current errno; preserves errno. */
	void error(const char *fmt, ...) const noexcept __attribute__((format(printf, 2, 3)));

private:
	xentoollog_logger *logger_;
	xentoollog_logger *owned_ = nullptr;
	const char *context_;
};

} // namespace xensim

#endif
