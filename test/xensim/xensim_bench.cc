/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Micro-benchmark of the xensim data path (figures only, no assertions):
 *   - xenevtchn_notify when the peer already has an undelivered event
 *     (latched: no system call),
 *   - notify + pending + unmask when every notify is delivered
 *     (one eventfd write and one read),
 *   - cross-process ping-pong round trip,
 *   - xengnttab_grant_copy per 64-byte segment, in batches of 64.
 * Starts its own xensim-hvd.
 */

#include <chrono>
#include <cstdio>
#include <vector>

#include <sys/mman.h>

#include "hv_harness.h"

extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
}

using namespace xensim::test;
using Clock = std::chrono::steady_clock;

namespace
{

double ns_per(Clock::time_point t0, long n)
{
	return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
	       static_cast<double>(n);
}

int fail(const char *what)
{
	std::fprintf(stderr, "xensim_bench: %s failed\n", what);
	return 1;
}

} // namespace

int main(int argc, char **argv)
{
	const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
	Hvd hv;

	as_domain(1);
	xenevtchn_handle *a = xenevtchn_open(nullptr, 0);
	as_domain(2);
	xenevtchn_handle *b = xenevtchn_open(nullptr, 0);
	if (a == nullptr || b == nullptr)
		return fail("xenevtchn_open");
	const int aport = xenevtchn_bind_unbound_port(a, 2);
	const int bport = xenevtchn_bind_interdomain(b, 1, aport);
	if (aport <= 0 || bport <= 0)
		return fail("bind");

	/* Latched: a has an undelivered event, so notifies only set a bit. */
	xenevtchn_notify(b, bport);
	auto t0 = Clock::now();
	for (long i = 0; i < n; i++)
		xenevtchn_notify(b, bport);
	std::printf("notify (peer already notified, latched):  %8.1f ns\n", ns_per(t0, n));
	xenevtchn_pending(a);
	xenevtchn_unmask(a, aport);
	xenevtchn_pending(a);
	xenevtchn_unmask(a, aport);

	const long m = n / 10;
	t0 = Clock::now();
	for (long i = 0; i < m; i++) {
		xenevtchn_notify(b, bport);
		xenevtchn_pending(a);
		xenevtchn_unmask(a, aport);
	}
	std::printf("notify + pending + unmask (delivered):    %8.1f ns\n", ns_per(t0, m));
	t0 = Clock::now();
	for (long i = 0; i < m; i++) {
		xenevtchn_notify(b, bport);
		xenevtchn_notify(b, bport); /* latched */
		xenevtchn_pending(a);
		xenevtchn_unmask(a, aport); /* re-delivers the latched one */
		xenevtchn_pending(a);
		xenevtchn_unmask(a, aport);
	}
	std::printf("2 notifies, latch, unmask redelivery:     %8.1f ns\n", ns_per(t0, m));

	/* Ping-pong with a child process (domain 3). */
	as_domain(1);
	const int cport = xenevtchn_bind_unbound_port(a, 3);
	const long rounds = n / 50;
	const pid_t child = spawn(3, [cport, rounds] {
		xenevtchn_handle *e = xenevtchn_open(nullptr, 0);
		const int p = xenevtchn_bind_interdomain(e, 1, cport);
		xenevtchn_pending(e);
		xenevtchn_unmask(e, p);
		xenevtchn_notify(e, p); /* ready */
		for (long i = 0; i < rounds; i++) {
			xenevtchn_pending(e);
			xenevtchn_unmask(e, p);
			xenevtchn_notify(e, p);
		}
		return 0;
	});
	xenevtchn_pending(a);
	xenevtchn_unmask(a, cport);
	t0 = Clock::now();
	for (long i = 0; i < rounds; i++) {
		xenevtchn_notify(a, cport);
		xenevtchn_pending(a);
		xenevtchn_unmask(a, cport);
	}
	std::printf("cross-process ping-pong round trip:       %8.1f ns\n", ns_per(t0, rounds));
	join(child);

	/* Grant copy: domain 2 copies 64-byte pieces of a page domain 1 shares. */
	as_domain(1);
	xengntshr_handle *s = xengntshr_open(nullptr, 0);
	as_domain(2);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	if (s == nullptr || t == nullptr)
		return fail("xengnt*_open");
	std::uint32_t ref;
	if (xengntshr_share_pages(s, 2, 1, &ref, 1) == nullptr)
		return fail("share");
	constexpr int kBatch = 64;
	std::vector<char> buf(4096);
	std::vector<xengnttab_grant_copy_segment_t> segs(kBatch);
	for (int i = 0; i < kBatch; i++) {
		auto &g = segs[i];
		g.source.foreign.domid = 1;
		g.source.foreign.ref = ref;
		g.source.foreign.offset = static_cast<std::uint16_t>(i * 64);
		g.dest.virt = buf.data() + i * 64;
		g.len = 64;
		g.flags = GNTCOPY_source_gref;
	}
	const long batches = n / kBatch;
	xengnttab_grant_copy(t, kBatch, segs.data()); /* maps domain 1's memory */
	t0 = Clock::now();
	for (long i = 0; i < batches; i++)
		xengnttab_grant_copy(t, kBatch, segs.data());
	std::printf("grant copy, per 64-byte segment:          %8.1f ns\n",
		    ns_per(t0, batches * kBatch));
	for (int i = 0; i < kBatch; i++) {
		segs[i].flags = GNTCOPY_dest_gref;
		segs[i].dest.foreign = segs[i].source.foreign;
		segs[i].source.virt = buf.data() + i * 64;
	}
	t0 = Clock::now();
	for (long i = 0; i < batches; i++)
		xengnttab_grant_copy(t, kBatch, segs.data());
	std::printf("grant copy into a grant, per 64-byte seg: %8.1f ns\n",
		    ns_per(t0, batches * kBatch));

	xengnttab_close(t);
	xengntshr_close(s);
	xenevtchn_close(a);
	xenevtchn_close(b);
	return 0;
}
