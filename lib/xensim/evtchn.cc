/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * libxenevtchn.so.1 stand-in with Linux /dev/xen/evtchn semantics.
 *
 * Each handle owns an eventfd (EFD_SEMAPHORE, this is xenevtchn_fd) and a
 * bitmap in shared memory of the ports delivered to it and not yet returned
 * by xenevtchn_pending(). A port's delivery word moves idle -> masked
 * (delivered) -> masked+pending (an event latched while delivered) ->
 * unmask re-delivers. Only the idle -> delivered edge that sets a clear
 * bit writes one token into the owner's eventfd, so:
 *   - notify is at most one system call (a write to the peer's eventfd),
 *     none when the peer already has an undelivered event;
 *   - the eventfd holds exactly one token per queued port, so a readable
 *     fd always has a port for pending(), and nothing grows without bound.
 * Binding and unbinding are RPCs to xensim-hvd.
 */

#include <bit>
#include <cerrno>
#include <memory>
#include <new>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include "client.h"

extern "C" {
#include <xenevtchn.h>
}

using namespace xensim;

namespace
{

/*
 * Per local port: the eventfd of the handle owning the remote end, as
 * (remote slot, handle slot, handle generation, fd + 1) in one word.
 */
constexpr std::uint64_t pack_peer(DomSlot s, std::uint8_t h, std::uint32_t gen, int fd)
{
	return std::uint64_t{s.v} | (std::uint64_t{h} << 8) | (std::uint64_t{gen & 0xffff} << 16) |
	       (std::uint64_t(static_cast<std::uint32_t>(fd + 1)) << 32);
}

bool write_token(int fd) noexcept
{
	const std::uint64_t one = 1;
	ssize_t n;
	do
		n = ::write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	return n == sizeof(one);
}

} // namespace

struct xenevtchn_handle {
	std::unique_ptr<Session> session;
	UniqueFd efd;
	std::atomic<std::uint8_t> bound[kPorts] = {};
	std::atomic<std::uint64_t> peer[kPorts] = {};
	std::mutex peer_mutex;
	/* Peer fds replaced while another thread might still write to them. */
	std::vector<UniqueFd> retired;
	unsigned cursor = 0;

	HandleShm &shm() const { return session->self().handles[session->handle_slot()]; }

	/* Writes a token to handle `h` of domain `s`, the owner of our port's peer. */
	int wake_peer(Port local, DomSlot s, std::uint8_t h) noexcept;
	void forget_peer(Port local) noexcept;
};

int xenevtchn_handle::wake_peer(Port local, DomSlot s, std::uint8_t h) noexcept
{
	const std::uint32_t gen =
		session->state().domains[s.v].handles[h].gen.load(std::memory_order_acquire);
	std::uint64_t c = peer[local.v].load(std::memory_order_acquire);
	if ((c & 0xffffffffu) != (pack_peer(s, h, gen, 0) & 0xffffffffu) || (c >> 32) == 0) {
		/* First notify on this binding, or the peer handle changed. */
		std::lock_guard lock(peer_mutex);
		proto::Msg req{};
		req.op = proto::Op::EvPeerFd;
		req.a[0] = s.v;
		req.a[1] = h;
		auto r = session->conn().call(req);
		if (!r)
			return 0; /* the peer handle is gone: as a notify to a closed port */
		if (r->fds.size() != 1) {
			errno = EPROTO;
			return -1;
		}
		c = pack_peer(s, h, static_cast<std::uint32_t>(r->msg.a[0]), r->fds[0].release());
		const std::uint64_t old = peer[local.v].exchange(c, std::memory_order_acq_rel);
		if ((old >> 32) != 0) {
			try {
				retired.emplace_back(static_cast<int>((old >> 32) - 1));
			} catch (const std::bad_alloc &) {
				/* leak the fd rather than close it under a writer */
			}
		}
	}
	if (!write_token(static_cast<int>((c >> 32) - 1)))
		return -1;
	return 0;
}

void xenevtchn_handle::forget_peer(Port local) noexcept
{
	const std::uint64_t old = peer[local.v].exchange(0, std::memory_order_acq_rel);
	if ((old >> 32) != 0)
		::close(static_cast<int>((old >> 32) - 1));
}

namespace
{

xenevtchn_handle *open_handle(unsigned flags, bool adopt, int fd) noexcept
{
	try {
		auto h = std::make_unique<xenevtchn_handle>();
		const bool cloexec = !(flags & XENEVTCHN_NO_CLOEXEC);
		if (adopt) {
			h->efd = UniqueFd(fd);
		} else {
			h->efd =
				UniqueFd(::eventfd(0, EFD_SEMAPHORE | (cloexec ? EFD_CLOEXEC : 0)));
			if (!h->efd)
				return nullptr;
		}
		h->session = Session::open(proto::Kind::Evtchn, cloexec, h->efd.get(), adopt);
		if (!h->session) {
			if (adopt)
				h->efd.release(); /* the caller keeps its fd on failure */
			return nullptr;
		}
		if (h->session->handle_slot() >= kEvtchnHandles) {
			errno = EPROTO;
			return nullptr;
		}
		if (adopt) {
			/* Ports the previous program bound stay bound to this handle. */
			for (std::uint32_t p = 1; p < kPorts; p++) {
				const auto l =
					evtchn::Link::unpack(h->session->self().ports[p].link.load(
						std::memory_order_acquire));
				if (l.state != evtchn::State::Free &&
				    l.handle == h->session->handle_slot())
					h->bound[p].store(1, std::memory_order_relaxed);
			}
		}
		return h.release();
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return nullptr;
	}
}

xenevtchn_port_or_error_t bind_port(xenevtchn_handle *xce, proto::Op op, std::uint64_t a0,
				    std::uint64_t a1 = 0) noexcept
{
	proto::Msg req{};
	req.op = op;
	req.a[0] = a0;
	req.a[1] = a1;
	auto r = xce->session->conn().call(req);
	if (!r)
		return -1;
	const auto port = static_cast<std::uint32_t>(r->msg.a[0]);
	if (port == 0 || port >= kPorts) {
		errno = EPROTO;
		return -1;
	}
	xce->forget_peer(Port{port});
	xce->bound[port].store(1, std::memory_order_release);
	return static_cast<xenevtchn_port_or_error_t>(port);
}

} // namespace

extern "C" {

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned int flags) noexcept
{
	(void)logger; /* "None of these do any logging." */
	return open_handle(flags, false, -1);
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd, unsigned open_flags) noexcept
{
	(void)logger;
	if (open_flags & XENEVTCHN_NO_CLOEXEC) {
		errno = EINVAL;
		return nullptr;
	}
	/*
	 * fd is the eventfd of a handle opened with XENEVTCHN_NO_CLOEXEC by a
	 * program that then exec()ed us: the hvd finds that handle (its
	 * connection survived the exec too) and gives it to this one.
	 */
	return open_handle(0, true, fd);
}

int xenevtchn_close(xenevtchn_handle *xce) noexcept
{
	if (xce == nullptr)
		return 0;
	for (std::uint32_t p = 0; p < kPorts; p++)
		xce->forget_peer(Port{p});
	delete xce; /* the hvd closes our ports when the connection goes */
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce) noexcept
{
	return xce->efd.get();
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port) noexcept
{
	if (port >= kPorts) {
		errno = EINVAL;
		return -1;
	}
	if (!xce->bound[port].load(std::memory_order_acquire)) {
		errno = ENOTCONN;
		return -1;
	}
	DomainShm &self = xce->session->self();
	const auto link =
		evtchn::Link::unpack(self.ports[port].link.load(std::memory_order_acquire));
	switch (link.state) {
	case evtchn::State::Unbound:
		return 0; /* Xen silently drops it */
	case evtchn::State::Interdomain:
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	count(self.counters.notify_sent);
	DomainShm &remote = xce->session->state().domains[link.remote_slot.v];
	const std::uint8_t h = raise_event(remote, link.remote_port, link.remote_gen);
	if (h == kNoHandle)
		return 0;
	return xce->wake_peer(Port{port}, link.remote_slot, h);
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
						      uint32_t domid) noexcept
{
	return bind_port(xce, proto::Op::EvBindUnbound, domid);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port) noexcept
{
	return bind_port(xce, proto::Op::EvBindInterdomain, domid, remote_port);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq) noexcept
{
	return bind_port(xce, proto::Op::EvBindVirq, virq);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port) noexcept
{
	if (port >= kPorts) {
		errno = EINVAL;
		return -1;
	}
	if (!xce->bound[port].load(std::memory_order_acquire)) {
		errno = ENOTCONN;
		return -1;
	}
	proto::Msg req{};
	req.op = proto::Op::EvUnbind;
	req.a[0] = port;
	if (!xce->session->conn().call(req))
		return -1;
	xce->bound[port].store(0, std::memory_order_release);
	xce->forget_peer(Port{port});
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce) noexcept
{
	HandleShm &hs = xce->shm();
	for (;;) {
		/* Blocks like read() on /dev/xen/evtchn; EAGAIN if O_NONBLOCK. */
		std::uint64_t token;
		ssize_t n;
		do
			n = ::read(xce->efd.get(), &token, sizeof(token));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(token))
			return -1;
		/* Every token stands for one set bit (see queue_for_handle()). */
		for (unsigned k = 0; k < kBitmapWords; k++) {
			const unsigned i = (xce->cursor + k) % kBitmapWords;
			std::uint64_t w = hs.bits[i].load(std::memory_order_relaxed);
			while (w != 0) {
				const std::uint64_t bit = w & -w;
				const std::uint64_t old =
					hs.bits[i].fetch_and(~bit, std::memory_order_acquire);
				if (old & bit) {
					/* Round robin between words for fairness. */
					xce->cursor = i + 1;
					return static_cast<xenevtchn_port_or_error_t>(
						i * 64 + std::countr_zero(bit));
				}
				w &= ~bit;
			}
		}
		/* Only reachable if a notifier died between its bit and token. */
	}
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port) noexcept
{
	/* As the evtchn driver's write(): ports not ours or not masked are ignored. */
	if (port >= kPorts || !xce->bound[port].load(std::memory_order_acquire))
		return 0;
	DomainShm &self = xce->session->self();
	PortShm &p = self.ports[port];
	std::uint32_t w = p.word.load(std::memory_order_acquire);
	for (;;) {
		if (!(w & evtchn::kMasked))
			return 0;
		/* A latched event stays delivered (masked) and is queued again. */
		const std::uint32_t next =
			(w & evtchn::kPending) ? (w & ~evtchn::kPending) : (w & ~evtchn::kMasked);
		if (p.word.compare_exchange_weak(w, next, std::memory_order_acq_rel,
						 std::memory_order_acquire))
			break;
	}
	if (!(w & evtchn::kPending))
		return 0;
	count(self.counters.notify_delivered);
	if (queue_for_handle(self, xce->session->handle_slot(), Port{port}) == kNoHandle)
		return 0;
	return write_token(xce->efd.get()) ? 0 : -1;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid) noexcept
{
	proto::Msg req{};
	req.op = proto::Op::EvRestrict;
	req.a[0] = domid;
	return xce->session->conn().call(req) ? 0 : -1;
}

} /* extern "C" */
