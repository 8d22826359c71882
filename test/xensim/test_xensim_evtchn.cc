/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Event channels through the libxenevtchn stand-in: binding across
 * domains, ping-pong between processes, /dev/xen/evtchn pending/unmask
 * semantics, closed remote ends and dying processes.
 */

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/eventfd.h>

#include "hv_harness.h"

extern "C" {
#include <xenevtchn.h>
}

using namespace xensim::test;

namespace
{

/* Domain `a` offers a port to domain `b`, which binds it: returns both. */
struct Pair {
	xenevtchn_handle *a = nullptr, *b = nullptr;
	int aport = -1, bport = -1;
	~Pair()
	{
		xenevtchn_close(a);
		xenevtchn_close(b);
	}
};

void connect(Pair &p, unsigned a, unsigned b)
{
	as_domain(a);
	p.a = xenevtchn_open(nullptr, 0);
	ASSERT_NE(p.a, nullptr);
	p.aport = xenevtchn_bind_unbound_port(p.a, b);
	ASSERT_GT(p.aport, 0);
	as_domain(b);
	p.b = xenevtchn_open(nullptr, 0);
	ASSERT_NE(p.b, nullptr);
	p.bport = xenevtchn_bind_interdomain(p.b, a, p.aport);
	ASSERT_GT(p.bport, 0);
	/* Xen sets the binder's new port pending; consume that event. */
	ASSERT_TRUE(readable(xenevtchn_fd(p.b), 1000));
	ASSERT_EQ(xenevtchn_pending(p.b), p.bport);
	ASSERT_EQ(xenevtchn_unmask(p.b, p.bport), 0);
	ASSERT_FALSE(readable(xenevtchn_fd(p.a), 0));
}

} // namespace

TEST(XensimEvtchn, PingPongBetweenProcesses)
{
	Hvd hv;
	as_domain(1);
	xenevtchn_handle *fe = xenevtchn_open(nullptr, 0);
	ASSERT_NE(fe, nullptr);
	const int fport = xenevtchn_bind_unbound_port(fe, 2);
	ASSERT_GT(fport, 0);
	constexpr int kRounds = 1000;
	const pid_t backend = spawn(2, [fport] {
		xenevtchn_handle *be = xenevtchn_open(nullptr, 0);
		if (be == nullptr)
			return 10;
		const int port = xenevtchn_bind_interdomain(be, 1, fport);
		if (port <= 0)
			return 11;
		for (int i = 0; i <= kRounds; i++) {
			if (!readable(xenevtchn_fd(be), 5000))
				return 12;
			if (xenevtchn_pending(be) != port)
				return 13;
			if (xenevtchn_unmask(be, port) != 0)
				return 14;
			if (i > 0 && xenevtchn_notify(be, port) != 0) /* pong */
				return 15;
		}
		xenevtchn_close(be);
		return 0;
	});
	ASSERT_TRUE(eventually([&] {
		return hv.domain(1, "evtchn_ports") == 1 && hv.domain(2, "evtchn_ports") == 1;
	}));
	for (int i = 0; i < kRounds; i++) {
		ASSERT_EQ(xenevtchn_notify(fe, fport), 0); /* ping */
		ASSERT_TRUE(readable(xenevtchn_fd(fe), 5000)) << "round " << i;
		ASSERT_EQ(xenevtchn_pending(fe), fport);
		ASSERT_EQ(xenevtchn_unmask(fe, fport), 0);
	}
	EXPECT_EQ(join(backend), 0);
	EXPECT_EQ(hv.counter(1, "notify_sent"), kRounds);
	EXPECT_EQ(hv.counter(2, "notify_sent"), kRounds);
	xenevtchn_close(fe);
}

TEST(XensimEvtchn, EventWhileDeliveredIsLatchedAndRedeliveredOnUnmask)
{
	Hvd hv;
	Pair p;
	connect(p, 1, 2);
	ASSERT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(p.a), 1000));
	/* Delivered, not yet unmasked: further notifies latch and do not queue. */
	ASSERT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	ASSERT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	EXPECT_EQ(xenevtchn_pending(p.a), p.aport);
	EXPECT_FALSE(readable(xenevtchn_fd(p.a), 50));
	EXPECT_EQ(hv.counter(1, "notify_delivered"), 1);
	/* Unmask re-delivers the latched event, once. */
	EXPECT_EQ(xenevtchn_unmask(p.a, p.aport), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(p.a), 1000));
	EXPECT_EQ(xenevtchn_pending(p.a), p.aport);
	EXPECT_EQ(xenevtchn_unmask(p.a, p.aport), 0);
	EXPECT_FALSE(readable(xenevtchn_fd(p.a), 50));
	/* Unmasked and idle: the next notify is delivered again. */
	ASSERT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(p.a), 1000));
	EXPECT_EQ(xenevtchn_pending(p.a), p.aport);
	EXPECT_EQ(hv.counter(1, "notify_delivered"), 3);
}

TEST(XensimEvtchn, PendingOnNonBlockingFdWithNothingPendingIsEagain)
{
	Hvd hv;
	Pair p;
	connect(p, 1, 2);
	const int fd = xenevtchn_fd(p.a);
	ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	errno = 0;
	EXPECT_EQ(xenevtchn_pending(p.a), -1);
	EXPECT_EQ(errno, EAGAIN);
}

TEST(XensimEvtchn, ManyPortsOnOneHandleLoseNothing)
{
	Hvd hv;
	as_domain(1);
	xenevtchn_handle *a = xenevtchn_open(nullptr, 0);
	as_domain(2);
	xenevtchn_handle *b = xenevtchn_open(nullptr, 0);
	ASSERT_TRUE(a && b);
	constexpr int kPorts = 300;
	std::vector<int> aports, bports;
	for (int i = 0; i < kPorts; i++) {
		aports.push_back(xenevtchn_bind_unbound_port(a, 2));
		bports.push_back(xenevtchn_bind_interdomain(b, 1, aports.back()));
		ASSERT_GT(bports.back(), 0);
	}
	for (int i = 0; i < kPorts; i++)
		ASSERT_EQ(xenevtchn_notify(b, bports[i]), 0);
	std::set<int> seen;
	while (readable(xenevtchn_fd(a), 100))
		seen.insert(xenevtchn_pending(a));
	EXPECT_EQ(seen.size(), std::size_t{kPorts});
	EXPECT_EQ(*seen.begin(), aports.front());
	EXPECT_EQ(hv.domain(1, "evtchn_ports"), kPorts);
	xenevtchn_close(a);
	xenevtchn_close(b);
}

TEST(XensimEvtchn, NotifyOnAClosedRemoteEndIsHarmless)
{
	Hvd hv;
	Pair p;
	connect(p, 1, 2);
	ASSERT_EQ(xenevtchn_unbind(p.a, p.aport), 0);
	EXPECT_EQ(hv.domain(1, "evtchn_ports"), 0);
	/* Our port is back to unbound: notifies are dropped, as Xen does. */
	EXPECT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	EXPECT_EQ(xenevtchn_notify(p.b, p.bport), 0);
	/* Ports of others or never bound: ENOTCONN / EINVAL as the evtchn driver. */
	EXPECT_EQ(xenevtchn_notify(p.a, p.aport), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(xenevtchn_notify(p.a, 99999), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(xenevtchn_unbind(p.a, p.aport), -1);
	EXPECT_EQ(errno, ENOTCONN);
	/* The same domain can connect to the unbound end again. */
	as_domain(1);
	xenevtchn_handle *again = xenevtchn_open(nullptr, 0);
	ASSERT_NE(again, nullptr);
	const int port = xenevtchn_bind_interdomain(again, 2, p.bport);
	EXPECT_GT(port, 0);
	xenevtchn_close(again);
}

TEST(XensimEvtchn, BindErrorsAreXens)
{
	Hvd hv;
	as_domain(1);
	xenevtchn_handle *a = xenevtchn_open(nullptr, 0);
	ASSERT_NE(a, nullptr);
	const int port = xenevtchn_bind_unbound_port(a, 2);
	ASSERT_GT(port, 0);
	as_domain(3);
	xenevtchn_handle *c = xenevtchn_open(nullptr, 0);
	ASSERT_NE(c, nullptr);
	/* Offered to domain 2, not 3. */
	EXPECT_EQ(xenevtchn_bind_interdomain(c, 1, port), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(xenevtchn_bind_interdomain(c, 1, 4000), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(xenevtchn_bind_interdomain(c, 55, 1), -1);
	EXPECT_EQ(errno, ESRCH);
	/* VIRQs bind once per domain; none is ever raised by xensim. */
	const int v = xenevtchn_bind_virq(c, VIRQ_DOM_EXC);
	EXPECT_GT(v, 0);
	EXPECT_EQ(xenevtchn_bind_virq(c, VIRQ_DOM_EXC), -1);
	EXPECT_EQ(errno, EEXIST);
	EXPECT_EQ(xenevtchn_notify(c, v), -1);
	EXPECT_EQ(errno, EINVAL);
	/* restrict: bind_interdomain only to that domain, unbound/virq refused. */
	EXPECT_EQ(xenevtchn_restrict(c, 2), 0);
	EXPECT_EQ(xenevtchn_restrict(c, 2), -1);
	EXPECT_EQ(errno, EACCES);
	EXPECT_EQ(xenevtchn_bind_unbound_port(c, 2), -1);
	EXPECT_EQ(errno, EACCES);
	EXPECT_EQ(xenevtchn_bind_interdomain(c, 1, port), -1);
	EXPECT_EQ(errno, EACCES);
	xenevtchn_close(a);
	xenevtchn_close(c);
}

TEST(XensimEvtchn, DyingProcessClosesItsPorts)
{
	Hvd hv;
	as_domain(2);
	xenevtchn_handle *be = xenevtchn_open(nullptr, 0);
	ASSERT_NE(be, nullptr);
	const int bport = xenevtchn_bind_unbound_port(be, 1);
	Channel ch;
	const pid_t fe = spawn(1, [&ch, bport] {
		xenevtchn_handle *e = xenevtchn_open(nullptr, 0);
		if (e == nullptr)
			return 10;
		const int port = xenevtchn_bind_interdomain(e, 2, bport);
		const int extra = xenevtchn_bind_unbound_port(e, 2);
		if (port <= 0 || extra <= 0)
			return 11;
		ch.put(static_cast<std::uint64_t>(port));
		ch.take();
		return 0;
	});
	const auto fport = static_cast<int>(ch.recv());
	EXPECT_EQ(hv.domain(1, "evtchn_ports"), 2);
	EXPECT_EQ(hv.processes(), 2);
	ASSERT_EQ(xenevtchn_notify(be, bport), 0);
	::kill(fe, SIGKILL);
	EXPECT_EQ(join(fe), 128 + SIGKILL);
	EXPECT_TRUE(eventually([&] { return hv.domain(1, "evtchn_ports") == 0; }));
	/* Our end went back to unbound: notify is harmless. */
	EXPECT_EQ(xenevtchn_notify(be, bport), 0);
	/* A restarted frontend (domain 1 again) can reconnect to it. */
	as_domain(1);
	xenevtchn_handle *fe2 = xenevtchn_open(nullptr, 0);
	ASSERT_NE(fe2, nullptr);
	const int port = xenevtchn_bind_interdomain(fe2, 2, bport);
	EXPECT_GT(port, 0);
	(void)fport;
	ASSERT_TRUE(readable(xenevtchn_fd(fe2), 1000));
	EXPECT_EQ(xenevtchn_pending(fe2), port);
	xenevtchn_unmask(fe2, port);
	ASSERT_EQ(xenevtchn_notify(be, bport), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(fe2), 1000));
	EXPECT_EQ(xenevtchn_pending(fe2), port);
	xenevtchn_close(fe2);
	xenevtchn_close(be);
}

TEST(XensimEvtchn, FdopenTakesOverAHandleOpenedWithoutCloexec)
{
	Hvd hv;
	Pair p;
	connect(p, 1, 2);
	/* What a daemon that re-executes itself does: keep the fd, fdopen it. */
	as_domain(1);
	xenevtchn_handle *keep = xenevtchn_open(nullptr, XENEVTCHN_NO_CLOEXEC);
	ASSERT_NE(keep, nullptr);
	EXPECT_EQ(::fcntl(xenevtchn_fd(keep), F_GETFD) & FD_CLOEXEC, 0);
	const int port = xenevtchn_bind_unbound_port(keep, 2);
	ASSERT_GT(port, 0);
	EXPECT_EQ(xenevtchn_fdopen(nullptr, xenevtchn_fd(keep), XENEVTCHN_NO_CLOEXEC), nullptr);
	EXPECT_EQ(errno, EINVAL);
	xenevtchn_handle *adopted = xenevtchn_fdopen(nullptr, ::dup(xenevtchn_fd(keep)), 0);
	ASSERT_NE(adopted, nullptr);
	/* The old handle going away no longer closes the port. */
	xenevtchn_close(keep);
	EXPECT_EQ(hv.domain(1, "evtchn_ports"), 2);
	as_domain(2);
	xenevtchn_handle *peer = xenevtchn_open(nullptr, 0);
	const int pport = xenevtchn_bind_interdomain(peer, 1, port);
	ASSERT_GT(pport, 0);
	ASSERT_EQ(xenevtchn_notify(peer, pport), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(adopted), 1000));
	EXPECT_EQ(xenevtchn_pending(adopted), port);
	EXPECT_EQ(xenevtchn_unmask(adopted, port), 0);
	EXPECT_EQ(xenevtchn_notify(adopted, port), 0);
	xenevtchn_close(adopted);
	EXPECT_EQ(hv.domain(1, "evtchn_ports"), 1);
	/* An fd that is no handle's eventfd. */
	const int stranger = ::eventfd(0, 0);
	EXPECT_EQ(xenevtchn_fdopen(nullptr, stranger, 0), nullptr);
	EXPECT_EQ(errno, EBADF);
	::close(stranger);
	xenevtchn_close(peer);
}

TEST(XensimEvtchn, InstanceDirectoryLongerThanASocketPath)
{
	char tmpl[] = "/tmp/xensim-long-XXXXXX";
	ASSERT_NE(::mkdtemp(tmpl), nullptr);
	std::string dir = tmpl;
	dir += "/" + std::string(90, 'd');
	ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
	const pid_t hvd = ::fork();
	if (hvd == 0) {
		::execl(XENSIM_HVD_PATH, "xensim-hvd", "--dir", dir.c_str(), nullptr);
		::_exit(127);
	}
	ASSERT_TRUE(eventually([&] { return ::access((dir + "/hv/ready").c_str(), F_OK) == 0; }));
	::setenv("XENSIM_DIR", dir.c_str(), 1);
	as_domain(1);
	xenevtchn_handle *h = xenevtchn_open(nullptr, 0);
	EXPECT_NE(h, nullptr) << std::strerror(errno);
	EXPECT_GT(xenevtchn_bind_unbound_port(h, 0), 0);
	xenevtchn_close(h);
	::kill(hvd, SIGTERM);
	EXPECT_EQ(join(hvd), 0);
	std::error_code ignored; /* a leftover temporary directory is harmless */
	std::filesystem::remove_all(tmpl, ignored);
}

TEST(XensimEvtchn, NoLostWakeupsUnderConcurrentNotifies)
{
	Hvd hv;
	constexpr int kSenders = 4, kPortsEach = 16, kNotifies = 20000;
	as_domain(1);
	xenevtchn_handle *rx = xenevtchn_open(nullptr, 0);
	ASSERT_NE(rx, nullptr);
	std::vector<int> rports;
	for (int i = 0; i < kSenders * kPortsEach; i++)
		rports.push_back(xenevtchn_bind_unbound_port(rx, 2));
	/* seq[port]: bumped by a sender before each notify; seen: by the receiver. */
	std::vector<std::atomic<long>> seq(4096), seen(4096);
	std::atomic<bool> done{false};
	std::vector<std::thread> senders;
	as_domain(2);
	for (int s = 0; s < kSenders; s++) {
		xenevtchn_handle *tx = xenevtchn_open(nullptr, 0);
		ASSERT_NE(tx, nullptr);
		std::vector<std::pair<int, int>> ports; /* (tx port, rx port) */
		for (int i = 0; i < kPortsEach; i++) {
			const int r = rports[s * kPortsEach + i];
			ports.emplace_back(xenevtchn_bind_interdomain(tx, 1, r), r);
		}
		senders.emplace_back([tx, ports, &seq] {
			for (int n = 0; n < kNotifies; n++) {
				const auto &[t, r] = ports[n % ports.size()];
				seq[r].fetch_add(1);
				xenevtchn_notify(tx, t);
			}
			xenevtchn_close(tx);
		});
	}
	std::thread receiver([rx, &seq, &seen, &done] {
		while (!done || readable(xenevtchn_fd(rx), 200)) {
			if (!readable(xenevtchn_fd(rx), 10))
				continue;
			const int p = xenevtchn_pending(rx);
			seen[p] = seq[p].load(); /* before unmask: later notifies re-deliver */
			xenevtchn_unmask(rx, p);
		}
	});
	for (auto &t : senders)
		t.join();
	done = true;
	receiver.join();
	for (int r : rports)
		EXPECT_EQ(seen[r].load(), seq[r].load()) << "port " << r;
	xenevtchn_close(rx);
}
