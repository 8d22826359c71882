/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

#include "client.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern "C" {
#include <xentoollog.h>
}

namespace xensim
{

namespace
{

/* Errno-preserving close, for destructors. */
void close_quietly(int fd) noexcept
{
	const int saved = errno;
	::close(fd);
	errno = saved;
}

std::optional<unsigned long> parse_ulong(const char *s)
{
	if (s == nullptr || *s == '\0')
		return std::nullopt;
	char *end = nullptr;
	errno = 0;
	const unsigned long v = std::strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '-')
		return std::nullopt;
	return v;
}

constexpr std::size_t kMaxMessage = sizeof(proto::Msg) + kMaxRpcItems * sizeof(std::uint64_t);

} // namespace

void UniqueFd::reset(int fd) noexcept
{
	if (fd_ >= 0)
		close_quietly(fd_);
	fd_ = fd;
}

Mapping &Mapping::operator=(Mapping &&o) noexcept
{
	reset();
	addr_ = std::exchange(o.addr_, nullptr);
	len_ = std::exchange(o.len_, 0);
	return *this;
}

void Mapping::reset() noexcept
{
	if (addr_ != nullptr) {
		const int saved = errno;
		::munmap(addr_, len_);
		errno = saved;
	}
	addr_ = nullptr;
	len_ = 0;
}

std::optional<Mapping> Mapping::of_fd(int fd, std::size_t len)
{
	void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return std::nullopt;
	return Mapping(p, len);
}

std::optional<Env> Env::from_environment()
{
	const char *dir = std::getenv("XENSIM_DIR");
	if (dir == nullptr || *dir == '\0') {
		/* As the real library without /dev/xen/{gntdev,gntalloc,evtchn}. */
		errno = ENOENT;
		return std::nullopt;
	}
	Env env;
	env.dir = dir;
	const char *domid = std::getenv("XENSIM_DOMID");
	if (domid != nullptr) {
		const auto v = parse_ulong(domid);
		if (!v || *v >= 0x7ff0 /* DOMID_FIRST_RESERVED */) {
			errno = EINVAL;
			return std::nullopt;
		}
		env.domid = DomId{static_cast<std::uint16_t>(*v)};
	}
	return env;
}

bool unix_address(const std::string &path, sockaddr_un &addr, UniqueFd &dir_holder)
{
	addr = sockaddr_un{};
	addr.sun_family = AF_UNIX;
	std::string p = path;
	if (p.size() >= sizeof(addr.sun_path)) {
		const std::size_t slash = p.rfind('/');
		if (slash == std::string::npos) {
			errno = ENAMETOOLONG;
			return false;
		}
		dir_holder = UniqueFd(
			::open(p.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
		if (!dir_holder)
			return false;
		p = "/proc/self/fd/" + std::to_string(dir_holder.get()) + p.substr(slash);
		if (p.size() >= sizeof(addr.sun_path)) {
			errno = ENAMETOOLONG;
			return false;
		}
	}
	std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
	return true;
}

std::unique_ptr<Connection> Connection::open(const std::string &path, bool cloexec)
{
	sockaddr_un addr{};
	UniqueFd dir;
	if (!unix_address(path, addr, dir))
		return nullptr;
	UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0));
	if (!fd)
		return nullptr;
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0)
		return nullptr;
	return std::make_unique<Connection>(std::move(fd));
}

Connection::Connection(UniqueFd fd) : fd_(std::move(fd)), pid_(::getpid()) {}

std::optional<Reply> Connection::call(proto::Msg req, std::span<const std::uint64_t> items,
				      int send_fd)
{
	if (::getpid() != pid_) {
		errno = EBADF; /* a handle inherited across fork() */
		return std::nullopt;
	}
	std::lock_guard lock(mutex_);
	req.count = static_cast<std::uint32_t>(items.size());
	iovec iov[2] = {{&req, sizeof(req)},
			{const_cast<std::uint64_t *>(items.data()), items.size_bytes()}};
	msghdr mh{};
	mh.msg_iov = iov;
	mh.msg_iovlen = items.empty() ? 1 : 2;
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 2)] = {};
	if (send_fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	ssize_t n;
	do
		n = ::sendmsg(fd_.get(), &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return std::nullopt;

	Reply r;
	std::vector<std::uint8_t> buf(kMaxMessage);
	iovec riov{buf.data(), buf.size()};
	msghdr rh{};
	rh.msg_iov = &riov;
	rh.msg_iovlen = 1;
	rh.msg_control = cbuf;
	rh.msg_controllen = sizeof(cbuf);
	do
		n = ::recvmsg(fd_.get(), &rh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return std::nullopt;
	for (cmsghdr *c = CMSG_FIRSTHDR(&rh); c != nullptr; c = CMSG_NXTHDR(&rh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		const std::size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (std::size_t i = 0; i < nfds; i++) {
			int f;
			std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			r.fds.emplace_back(f);
		}
	}
	if (n == 0) {
		errno = ECONNRESET; /* the hvd went away */
		return std::nullopt;
	}
	if (static_cast<std::size_t>(n) < sizeof(proto::Msg)) {
		errno = EPROTO;
		return std::nullopt;
	}
	std::memcpy(&r.msg, buf.data(), sizeof(proto::Msg));
	const std::size_t payload = static_cast<std::size_t>(n) - sizeof(proto::Msg);
	if (r.msg.op == proto::Op::Status) {
		r.text.assign(reinterpret_cast<const char *>(buf.data() + sizeof(proto::Msg)),
			      payload);
	} else {
		if (payload != r.msg.count * sizeof(std::uint64_t)) {
			errno = EPROTO;
			return std::nullopt;
		}
		r.items.resize(r.msg.count);
		if (payload > 0)
			std::memcpy(r.items.data(), buf.data() + sizeof(proto::Msg), payload);
	}
	if (r.msg.err != 0) {
		errno = r.msg.err;
		return std::nullopt;
	}
	return r;
}

std::unique_ptr<Session> Session::open(proto::Kind kind, bool cloexec, int event_fd, bool adopt)
{
	const auto env = Env::from_environment();
	if (!env)
		return nullptr;
	auto s = std::make_unique<Session>();
	s->conn_ = Connection::open(env->socket_path(), cloexec);
	if (!s->conn_)
		return nullptr;
	proto::Msg hello{};
	hello.op = proto::Op::Hello;
	hello.a[0] = env->domid.v;
	hello.a[1] = static_cast<std::uint64_t>(kind);
	hello.a[2] = static_cast<std::uint64_t>(::getpid());
	hello.a[3] = adopt ? 1 : 0;
	auto r = s->conn_->call(hello, {}, event_fd);
	if (!r)
		return nullptr;
	if (r->fds.size() != 2 || r->msg.a[0] >= kMaxDomains || r->msg.a[2] != sizeof(StateShm)) {
		errno = EPROTO;
		return nullptr;
	}
	auto state = Mapping::of_fd(r->fds[0].get(), sizeof(StateShm));
	if (!state)
		return nullptr;
	s->state_ = std::move(*state);
	if (s->state().magic != kMagic || s->state().version != kLayoutVersion) {
		errno = EPROTO;
		return nullptr;
	}
	s->domid_ = env->domid;
	s->slot_ = DomSlot{static_cast<std::uint8_t>(r->msg.a[0])};
	s->handle_slot_ = static_cast<std::uint8_t>(r->msg.a[1]);
	auto mem = Mapping::of_fd(r->fds[1].get(), std::size_t{kFramesPerDomain} * kPageSize);
	if (!mem)
		return nullptr;
	s->own_mem_ = mem->bytes();
	s->mem_[s->slot_.v].store(mem->bytes(), std::memory_order_release);
	s->mem_maps_[s->slot_.v] = std::move(*mem);
	s->mem_fds_[s->slot_.v] = std::move(r->fds[1]);
	return s;
}

std::optional<DomSlot> Session::slot_of(DomId d)
{
	/* Slots are assigned once by the hvd and never change owner. */
	for (unsigned i = 0; i < kMaxDomains; i++) {
		if (state().slot_domid[i].load(std::memory_order_acquire) == std::uint32_t{d.v} + 1)
			return DomSlot{static_cast<std::uint8_t>(i)};
	}
	return std::nullopt;
}

std::uint8_t *Session::memory(DomSlot s, DomId d)
{
	if (std::uint8_t *p = mem_[s.v].load(std::memory_order_acquire))
		return p;
	std::lock_guard lock(mem_mutex_);
	if (std::uint8_t *p = mem_[s.v].load(std::memory_order_acquire))
		return p;
	proto::Msg req{};
	req.op = proto::Op::GetMem;
	req.a[0] = d.v;
	auto r = conn_->call(req);
	if (!r)
		return nullptr;
	if (r->fds.size() != 1 || r->msg.a[0] != s.v) {
		errno = EPROTO;
		return nullptr;
	}
	auto mem = Mapping::of_fd(r->fds[0].get(), std::size_t{kFramesPerDomain} * kPageSize);
	if (!mem)
		return nullptr;
	std::uint8_t *p = mem->bytes();
	mem_maps_[s.v] = std::move(*mem);
	mem_fds_[s.v] = std::move(r->fds[0]);
	mem_[s.v].store(p, std::memory_order_release);
	return p;
}

int Session::memory_fd(DomSlot s)
{
	std::lock_guard lock(mem_mutex_);
	return mem_fds_[s.v].get();
}

Logger::Logger(xentoollog_logger *given, const char *context) noexcept
	: logger_(given), context_(context)
{
	if (logger_ == nullptr) {
		/* What the real libraries do with a NULL logger. */
		owned_ = reinterpret_cast<xentoollog_logger *>(
			xtl_createlogger_stdiostream(stderr, XTL_PROGRESS, 0));
		logger_ = owned_;
	}
}

Logger::~Logger()
{
	if (owned_ != nullptr)
		xtl_logger_destroy(owned_);
}

void Logger::error(const char *fmt, ...) const noexcept
{
	if (logger_ == nullptr)
		return;
	const int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	xtl_logv(logger_, XTL_ERROR, saved, context_, fmt, ap);
	va_end(ap);
	errno = saved;
}

} // namespace xensim
