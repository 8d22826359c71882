/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * xensim-hvd: the hypervisor half of xensim for grant tables and event
 * channels.
 *
 *   xensim-hvd --dir DIR [--gntalloc-limit N]   serve DIR/hv/hv.sock
 *   xensim-hvd --status DIR                     print the state as JSON
 *
 * It creates DIR/hv/, serves control RPCs of the libxengnttab and
 * libxenevtchn stand-ins there, creates DIR/hv/ready once it serves, and
 * exits 0 on SIGTERM or SIGINT. When a client's connection closes (its
 * handle closed or its process died), everything that handle held is
 * released as Linux releases it on close.
 */

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hypervisor.h"

using namespace xensim;
using namespace xensim::hvd;

namespace
{

constexpr std::size_t kMaxMessage = sizeof(proto::Msg) + kMaxRpcItems * sizeof(std::uint64_t);

void usage(FILE *f)
{
	std::fprintf(f, "usage: xensim-hvd --dir DIR [--gntalloc-limit N]\n"
			"       xensim-hvd --status DIR\n");
}

bool send_reply(int fd, const proto::Msg &m, const void *payload, std::size_t len,
		const std::vector<int> &fds)
{
	iovec iov[2] = {{const_cast<proto::Msg *>(&m), sizeof(m)},
			{const_cast<void *>(payload), len}};
	msghdr mh{};
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 2)] = {};
	if (!fds.empty()) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
		std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
	}
	/* A client that does not read its replies is dropped, never waited for. */
	return ::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0;
}

class Server
{
public:
	Server(std::string dir, std::unique_ptr<Hypervisor> hv)
		: dir_(std::move(dir)), hv_(std::move(hv))
	{
	}
	int run();

private:
	bool setup();
	void accept_clients();
	/* Returns false if the connection must be closed. */
	bool serve(int fd);
	void drop(int fd);
	bool dispatch(int fd, ClientId id, const proto::Msg &req,
		      const std::vector<std::uint64_t> &items, std::vector<UniqueFd> &fds);

	std::string dir_;
	std::unique_ptr<Hypervisor> hv_;
	UniqueFd listen_, epoll_, signal_;
	std::map<int, ClientId> conns_;
	std::map<int, bool> hello_done_;
	std::uint64_t next_id_ = 1;
	std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(kMaxMessage);
};

bool Server::setup()
{
	const std::string hv = dir_ + "/hv";
	if (::mkdir(hv.c_str(), 0755) != 0 && errno != EEXIST) {
		std::fprintf(stderr, "xensim-hvd: cannot create %s: %s\n", hv.c_str(),
			     std::strerror(errno));
		return false;
	}
	const std::string sock = hv + "/hv.sock";
	sockaddr_un addr{};
	UniqueFd dir_holder;
	if (!unix_address(sock, addr, dir_holder)) {
		std::fprintf(stderr, "xensim-hvd: cannot address %s: %s\n", sock.c_str(),
			     std::strerror(errno));
		return false;
	}
	/* Refuse to steal the socket of an hvd that is still serving. */
	{
		UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
		if (::connect(probe.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) ==
		    0) {
			std::fprintf(stderr, "xensim-hvd: another xensim-hvd serves %s\n",
				     sock.c_str());
			return false;
		}
	}
	::unlink(sock.c_str());
	::unlink((hv + "/ready").c_str());
	listen_ = UniqueFd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!listen_ ||
	    ::bind(listen_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
	    ::listen(listen_.get(), 128) != 0) {
		std::fprintf(stderr, "xensim-hvd: cannot listen on %s: %s\n", sock.c_str(),
			     std::strerror(errno));
		return false;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	sigdelset(&mask, SIGPIPE);
	signal_ = UniqueFd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
	epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
	if (!signal_ || !epoll_)
		return false;
	for (int fd : {listen_.get(), signal_.get()}) {
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
			return false;
	}
	/* Serving from here on: tell the toolstack. */
	UniqueFd ready(::open((hv + "/ready").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	if (!ready) {
		std::fprintf(stderr, "xensim-hvd: cannot create %s/ready: %s\n", hv.c_str(),
			     std::strerror(errno));
		return false;
	}
	const std::string pid = std::to_string(::getpid()) + "\n";
	if (::write(ready.get(), pid.data(), pid.size()) < 0)
		return false;
	return true;
}

void Server::accept_clients()
{
	for (;;) {
		const int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
			::close(fd);
			continue;
		}
		conns_[fd] = ClientId{next_id_++};
		hello_done_[fd] = false;
	}
}

void Server::drop(int fd)
{
	const auto it = conns_.find(fd);
	if (it == conns_.end())
		return;
	hv_->release(it->second);
	::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
	::close(fd);
	conns_.erase(it);
	hello_done_.erase(fd);
}

bool Server::serve(int fd)
{
	iovec iov{buf_.data(), buf_.size()};
	msghdr mh{};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)] = {};
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	const ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	std::vector<UniqueFd> fds;
	for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		const std::size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (std::size_t i = 0; i < nfds; i++) {
			int f;
			std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			fds.emplace_back(f);
		}
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return false;
	proto::Msg req;
	if (static_cast<std::size_t>(n) < sizeof(req))
		return false; /* malformed: drop this client only */
	std::memcpy(&req, buf_.data(), sizeof(req));
	const std::size_t payload = static_cast<std::size_t>(n) - sizeof(req);
	if (payload != req.count * sizeof(std::uint64_t) || req.count > kMaxRpcItems)
		return false;
	std::vector<std::uint64_t> items(req.count);
	if (payload > 0)
		std::memcpy(items.data(), buf_.data() + sizeof(req), payload);
	return dispatch(fd, conns_[fd], req, items, fds);
}

bool Server::dispatch(int fd, ClientId id, const proto::Msg &req,
		      const std::vector<std::uint64_t> &items, std::vector<UniqueFd> &fds)
{
	proto::Msg rep{};
	rep.op = req.op;
	std::vector<std::uint64_t> out;
	std::vector<int> out_fds;
	const auto fail = [&](int err) {
		rep.err = err;
		return send_reply(fd, rep, nullptr, 0, {});
	};
	if (req.op == proto::Op::Status) {
		const std::string s = hv_->status_json();
		rep.count = static_cast<std::uint32_t>(s.size());
		return send_reply(fd, rep, s.data(), s.size(), {});
	}
	if (req.op == proto::Op::Hello) {
		if (hello_done_[fd] || req.a[0] >= 0x7ff0)
			return false;
		const auto kind = static_cast<proto::Kind>(req.a[1]);
		if (kind != proto::Kind::Gntshr && kind != proto::Kind::Gnttab &&
		    kind != proto::Kind::Evtchn)
			return false;
		const int efd = fds.empty() ? -1 : fds[0].get();
		auto r = hv_->hello(id, DomId{static_cast<std::uint16_t>(req.a[0])}, kind, req.a[2],
				    efd, req.a[3] != 0);
		if (r.err != 0)
			return fail(r.err);
		hello_done_[fd] = true;
		rep.a[0] = r.value.v;
		rep.a[1] = hv_->handle_slot(id);
		rep.a[2] = sizeof(StateShm);
		return send_reply(fd, rep, nullptr, 0, {hv_->state_fd(), hv_->memory_fd(r.value)});
	}
	if (!hello_done_[fd])
		return false;

	switch (req.op) {
	case proto::Op::GetMem: {
		const auto s = hv_->find_domain(DomId{static_cast<std::uint16_t>(req.a[0])});
		if (!s || req.a[0] >= 0x7ff0)
			return fail(ESRCH);
		rep.a[0] = s->v;
		out_fds.push_back(hv_->memory_fd(*s));
		break;
	}
	case proto::Op::Share: {
		if (req.a[0] >= 0x7ff0 || req.count == 0)
			return fail(EINVAL);
		UnmapNotify n{static_cast<std::uint32_t>(req.a[2]),
			      static_cast<std::uint32_t>(req.a[3])};
		auto r = hv_->share(id, DomId{static_cast<std::uint16_t>(req.a[0])}, req.count,
				    req.a[1] != 0, n);
		if (r.err != 0)
			return fail(r.err);
		out = std::move(r.value);
		break;
	}
	case proto::Op::Unshare:
		hv_->unshare(id, items);
		break;
	case proto::Op::Map: {
		UnmapNotify n{static_cast<std::uint32_t>(req.a[1]),
			      static_cast<std::uint32_t>(req.a[2])};
		auto r = hv_->map(id, items, req.a[0] != 0, n);
		if (r.err != 0)
			return fail(r.err);
		rep.a[0] = r.value[0];
		out.assign(r.value.begin() + 1, r.value.end());
		break;
	}
	case proto::Op::Unmap:
		hv_->unmap(id, req.a[0]);
		break;
	case proto::Op::EvBindUnbound:
	case proto::Op::EvBindInterdomain:
	case proto::Op::EvBindVirq: {
		if (req.op != proto::Op::EvBindVirq && req.a[0] > 0xffff)
			return fail(EINVAL);
		const DomId d{static_cast<std::uint16_t>(req.a[0])};
		Result<std::uint32_t> r;
		if (req.op == proto::Op::EvBindUnbound)
			r = hv_->bind_unbound(id, d);
		else if (req.op == proto::Op::EvBindInterdomain)
			r = hv_->bind_interdomain(id, d, static_cast<std::uint32_t>(req.a[1]));
		else
			r = hv_->bind_virq(id, static_cast<std::uint32_t>(std::min<std::uint64_t>(
						       req.a[0], 0xffffffff)));
		if (r.err != 0)
			return fail(r.err);
		rep.a[0] = r.value;
		break;
	}
	case proto::Op::EvUnbind: {
		const int err = hv_->unbind(id, static_cast<std::uint32_t>(req.a[0]));
		if (err != 0)
			return fail(err);
		break;
	}
	case proto::Op::EvPeerFd: {
		if (req.a[0] >= kMaxDomains || req.a[1] >= kEvtchnHandles)
			return fail(EINVAL);
		auto r = hv_->peer_fd(DomSlot{static_cast<std::uint8_t>(req.a[0])},
				      static_cast<std::uint8_t>(req.a[1]));
		if (r.err != 0)
			return fail(r.err);
		rep.a[0] = r.value.second;
		out_fds.push_back(r.value.first);
		break;
	}
	case proto::Op::EvRestrict: {
		if (req.a[0] > 0xffff)
			return fail(EINVAL);
		const int err = hv_->restrict_to(id, DomId{static_cast<std::uint16_t>(req.a[0])});
		if (err != 0)
			return fail(err);
		break;
	}
	default:
		return false; /* unknown operation: a broken client */
	}
	rep.count = static_cast<std::uint32_t>(out.size());
	return send_reply(fd, rep, out.data(), out.size() * sizeof(std::uint64_t), out_fds);
}

int Server::run()
{
	if (!setup())
		return 1;
	for (;;) {
		epoll_event evs[64];
		const int n = ::epoll_wait(epoll_.get(), evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			std::perror("xensim-hvd: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			const int fd = evs[i].data.fd;
			if (fd == signal_.get()) {
				::unlink((dir_ + "/hv/ready").c_str());
				::unlink((dir_ + "/hv/hv.sock").c_str());
				while (!conns_.empty())
					drop(conns_.begin()->first);
				return 0;
			}
			if (fd == listen_.get()) {
				accept_clients();
				continue;
			}
			if (!serve(fd))
				drop(fd);
		}
	}
}

int print_status(const std::string &dir)
{
	auto conn = Connection::open(dir + "/hv/hv.sock", true);
	if (!conn) {
		std::fprintf(stderr, "xensim-hvd: no xensim-hvd at %s/hv/hv.sock: %s\n",
			     dir.c_str(), std::strerror(errno));
		return 1;
	}
	proto::Msg req{};
	req.op = proto::Op::Status;
	auto r = conn->call(req);
	if (!r) {
		std::fprintf(stderr, "xensim-hvd: status failed: %s\n", std::strerror(errno));
		return 1;
	}
	std::printf("%s\n", r->text.c_str());
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	std::string dir, status_dir;
	std::uint32_t limit = kDefaultGntallocLimit;
	for (int i = 1; i < argc; i++) {
		const std::string a = argv[i];
		const bool has_value = i + 1 < argc;
		if (a == "--dir" && has_value) {
			dir = argv[++i];
		} else if (a == "--status" && has_value) {
			status_dir = argv[++i];
		} else if (a == "--gntalloc-limit" && has_value) {
			char *end = nullptr;
			const unsigned long v = std::strtoul(argv[++i], &end, 10);
			if (*end != '\0' || v == 0 || v > kGrantEntries - kReservedGrants) {
				std::fprintf(stderr,
					     "xensim-hvd: --gntalloc-limit wants 1..%u, not '%s'\n",
					     kGrantEntries - kReservedGrants, argv[i]);
				return 2;
			}
			limit = static_cast<std::uint32_t>(v);
		} else if (a == "--help" || a == "-h") {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!status_dir.empty())
		return print_status(status_dir);
	if (dir.empty()) {
		usage(stderr);
		return 2;
	}
	auto hv = Hypervisor::create(limit);
	if (!hv) {
		std::fprintf(stderr, "xensim-hvd: cannot create the shared state: %s\n",
			     std::strerror(errno));
		return 1;
	}
	return Server(dir, std::move(hv)).run();
}
