/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Grant sharing, mapping and copy through the libxengnttab stand-in, with
 * the sharer and the mapper in different processes and domains.
 */

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <sys/mman.h>

#include "hv_harness.h"

extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
}

using namespace xensim::test;

namespace
{

constexpr std::size_t kPage = 4096;

xengnttab_grant_copy_segment_t from_gref(std::uint16_t dom, std::uint32_t ref, std::uint16_t off,
					 void *dst, std::uint16_t len)
{
	xengnttab_grant_copy_segment_t s{};
	s.source.foreign.domid = dom;
	s.source.foreign.ref = ref;
	s.source.foreign.offset = off;
	s.dest.virt = dst;
	s.len = len;
	s.flags = GNTCOPY_source_gref;
	return s;
}

xengnttab_grant_copy_segment_t to_gref(const void *src, std::uint16_t dom, std::uint32_t ref,
				       std::uint16_t off, std::uint16_t len)
{
	xengnttab_grant_copy_segment_t s{};
	s.source.virt = const_cast<void *>(src);
	s.dest.foreign.domid = dom;
	s.dest.foreign.ref = ref;
	s.dest.foreign.offset = off;
	s.len = len;
	s.flags = GNTCOPY_dest_gref;
	return s;
}

/* Domain 1 shares `pages` with domain `to`, fills page i with 'a'+i, sends
 * the refs, then waits for the parent's word before unsharing. */
pid_t sharer(Channel &ch, int pages, unsigned to, bool writable)
{
	return spawn(1, [&ch, pages, to, writable] {
		xengntshr_handle *s = xengntshr_open(nullptr, 0);
		if (s == nullptr)
			return 10;
		std::vector<std::uint32_t> refs(pages);
		auto *p = static_cast<std::uint8_t *>(
			xengntshr_share_pages(s, to, pages, refs.data(), writable));
		if (p == nullptr)
			return 11;
		for (int i = 0; i < pages; i++) {
			for (std::size_t b = 0; b < kPage; b++)
				if (p[i * kPage + b] != 0)
					return 12; /* shared pages start zeroed */
			std::memset(p + i * kPage, 'a' + i, kPage);
			ch.put(refs[i]);
		}
		/* The parent writes through its mapping, then asks us to check. */
		if (ch.take() == 1 && p[100] != 'W')
			return 13;
		ch.put(0);
		ch.take(); /* unshare when told */
		if (xengntshr_unshare(s, p, pages) != 0)
			return 14;
		ch.put(0);
		ch.take(); /* exit when told */
		xengntshr_close(s);
		return 0;
	});
}

} // namespace

TEST(XensimGrants, OpenWithoutInstanceFailsLikeNoDevice)
{
	::unsetenv("XENSIM_DIR");
	errno = 0;
	EXPECT_EQ(xengnttab_open(nullptr, 0), nullptr);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(xengntshr_open(nullptr, 0), nullptr);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(xenevtchn_open(nullptr, 0), nullptr);
	EXPECT_EQ(errno, ENOENT);
}

TEST(XensimGrants, ShareMapCopyAndRevokeAcrossProcesses)
{
	Hvd hv;
	Channel ch;
	const pid_t child = sharer(ch, 2, 2, true);
	const std::uint32_t refs[2] = {static_cast<std::uint32_t>(ch.recv()),
				       static_cast<std::uint32_t>(ch.recv())};
	EXPECT_GE(refs[0], 8u) << "refs 0-7 are reserved";
	EXPECT_EQ(hv.domain(1, "grants_shared"), 2);

	as_domain(2);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	std::uint32_t doms[2] = {1, 1};
	auto *m = static_cast<std::uint8_t *>(xengnttab_map_grant_refs(
		t, 2, doms, const_cast<std::uint32_t *>(refs), PROT_READ | PROT_WRITE));
	ASSERT_NE(m, nullptr);
	EXPECT_EQ(m[0], 'a');
	EXPECT_EQ(m[kPage + 4095], 'b');
	m[100] = 'W';
	EXPECT_EQ(hv.domain(1, "grants_mapped_by_others"), 2);
	EXPECT_EQ(hv.domain(2, "mappings_held"), 2);

	/* Grant copy both ways. */
	char buf[64] = {};
	xengnttab_grant_copy_segment_t seg[2] = {from_gref(1, refs[1], 4000, buf, 64),
						 to_gref("hello", 1, refs[1], 10, 5)};
	ASSERT_EQ(xengnttab_grant_copy(t, 2, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_okay);
	EXPECT_EQ(seg[1].status, GNTST_okay);
	EXPECT_EQ(buf[0], 'b');
	EXPECT_EQ(std::memcmp(m + kPage + 10, "hello", 5), 0);
	EXPECT_EQ(hv.counter(2, "grant_copy_segments"), 2);

	ch.send(1);
	ch.recv();
	/* Wrong count or address: EINVAL, as gntdev. */
	EXPECT_EQ(xengnttab_unmap(t, m, 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(xengnttab_unmap(t, m + kPage, 1), -1);
	EXPECT_EQ(xengnttab_unmap(t, m, 2), 0);
	EXPECT_EQ(hv.domain(2, "mappings_held"), 0);

	ch.send(0); /* unshare */
	ch.recv();
	EXPECT_EQ(hv.domain(1, "grants_shared"), 0);
	EXPECT_EQ(hv.domain(1, "frames_allocated"), 0);
	/* A revoked grant can no longer be copied or mapped. */
	seg[0] = from_gref(1, refs[0], 0, buf, 8);
	ASSERT_EQ(xengnttab_grant_copy(t, 1, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_general_error);
	EXPECT_EQ(xengnttab_map_grant_ref(t, 1, refs[0], PROT_READ), nullptr);
	EXPECT_EQ(errno, EINVAL);
	ch.send(0);
	EXPECT_EQ(join(child), 0);
	xengnttab_close(t);
}

TEST(XensimGrants, OnlyTheGrantedDomainMayMapOrCopy)
{
	Hvd hv;
	Channel ch;
	const pid_t child = sharer(ch, 1, 2, true);
	const auto ref = static_cast<std::uint32_t>(ch.recv());

	as_domain(3);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	errno = 0;
	EXPECT_EQ(xengnttab_map_grant_ref(t, 1, ref, PROT_READ), nullptr);
	EXPECT_EQ(errno, EINVAL);
	char buf[16];
	xengnttab_grant_copy_segment_t seg[3] = {
		from_gref(1, ref, 0, buf, 16),   /* granted to domain 2, not 3 */
		from_gref(1, 40000, 0, buf, 16), /* past the grant table */
		from_gref(77, ref, 0, buf, 16),  /* no such domain */
	};
	ASSERT_EQ(xengnttab_grant_copy(t, 3, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_general_error);
	EXPECT_EQ(seg[1].status, GNTST_bad_gntref);
	EXPECT_EQ(seg[2].status, GNTST_bad_domain);
	xengnttab_close(t);

	as_domain(2);
	t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	void *m = xengnttab_map_grant_ref(t, 1, ref, PROT_READ);
	EXPECT_NE(m, nullptr);
	EXPECT_EQ(xengnttab_unmap(t, m, 1), 0);
	xengnttab_close(t);
	ch.send(0);
	ch.recv();
	ch.send(0);
	ch.recv();
	ch.send(0);
	EXPECT_EQ(join(child), 0);
}

TEST(XensimGrants, ReadOnlyGrantRefusesWritableMapAndCopyInto)
{
	Hvd hv;
	Channel ch;
	const pid_t child = sharer(ch, 1, 2, false);
	const auto ref = static_cast<std::uint32_t>(ch.recv());

	as_domain(2);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	EXPECT_EQ(xengnttab_map_grant_ref(t, 1, ref, PROT_READ | PROT_WRITE), nullptr);
	EXPECT_EQ(errno, EINVAL);
	auto *m = static_cast<const char *>(xengnttab_map_grant_ref(t, 1, ref, PROT_READ));
	ASSERT_NE(m, nullptr);
	EXPECT_EQ(m[5], 'a');
	char buf[8];
	xengnttab_grant_copy_segment_t seg[2] = {to_gref("x", 1, ref, 0, 1),
						 from_gref(1, ref, 0, buf, 8)};
	ASSERT_EQ(xengnttab_grant_copy(t, 2, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_general_error);
	EXPECT_EQ(seg[1].status, GNTST_okay);
	EXPECT_EQ(m[0], 'a');
	EXPECT_EQ(xengnttab_unmap(t, const_cast<char *>(m), 1), 0);
	xengnttab_close(t);
	ch.send(0);
	ch.recv();
	ch.send(0);
	ch.recv();
	ch.send(0);
	EXPECT_EQ(join(child), 0);
}

TEST(XensimGrants, GrantCopyShapeErrorsFailTheWholeCall)
{
	Hvd hv;
	Channel ch;
	const pid_t child = sharer(ch, 1, 2, true);
	const auto ref = static_cast<std::uint32_t>(ch.recv());

	as_domain(2);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	std::vector<char> buf(3 * kPage, 'z');
	/* offset + len past the page on the grant side: EINVAL, nothing copied. */
	xengnttab_grant_copy_segment_t seg[2] = {to_gref(buf.data(), 1, ref, 0, 16),
						 to_gref(buf.data(), 1, ref, 4090, 7)};
	errno = 0;
	EXPECT_EQ(xengnttab_grant_copy(t, 2, seg), -1);
	EXPECT_EQ(errno, EINVAL);
	seg[0] = from_gref(1, ref, 4000, buf.data(), 97);
	EXPECT_EQ(xengnttab_grant_copy(t, 1, seg), -1);
	/* Neither side a grant: EINVAL (gntdev refuses local to local). */
	seg[0] = from_gref(1, ref, 0, buf.data(), 1);
	seg[0].flags = 0;
	EXPECT_EQ(xengnttab_grant_copy(t, 1, seg), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Exactly to the end of the page is fine; the local side may cross pages. */
	seg[0] = from_gref(1, ref, 0, buf.data() + kPage - 100, kPage);
	ASSERT_EQ(xengnttab_grant_copy(t, 1, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_okay);
	EXPECT_EQ(buf[kPage - 100], 'a');
	EXPECT_EQ(buf[2 * kPage - 101], 'a');
	EXPECT_EQ(buf[2 * kPage - 100], 'z');
	/* Both sides grants (backend copying between two frontends' pages). */
	seg[0] = from_gref(1, ref, 0, nullptr, 8);
	seg[0].dest.foreign = {ref, 8, 1};
	seg[0].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	ASSERT_EQ(xengnttab_grant_copy(t, 1, seg), 0);
	EXPECT_EQ(seg[0].status, GNTST_okay);
	xengnttab_close(t);
	ch.send(0);
	ch.recv();
	ch.send(0);
	ch.recv();
	ch.send(0);
	EXPECT_EQ(join(child), 0);
}

TEST(XensimGrants, RevokeWhileMappedKeepsThePageUntilUnmap)
{
	Hvd hv;
	Channel ch;
	const pid_t child = sharer(ch, 1, 2, true);
	const auto ref = static_cast<std::uint32_t>(ch.recv());

	as_domain(2);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	auto *m = static_cast<char *>(xengnttab_map_grant_ref(t, 1, ref, PROT_READ | PROT_WRITE));
	ASSERT_NE(m, nullptr);
	ch.send(0);
	ch.recv();
	ch.send(0); /* the owner unshares while we still map it */
	ch.recv();
	EXPECT_EQ(hv.domain(1, "grants_shared"), 0);
	EXPECT_EQ(hv.domain(1, "grants_revoked_mapped"), 1);
	EXPECT_EQ(hv.domain(1, "frames_allocated"), 1);
	EXPECT_EQ(m[0], 'a');
	m[1] = 'Q';
	EXPECT_EQ(m[1], 'Q');
	ch.send(0);
	EXPECT_EQ(join(child), 0);
	EXPECT_EQ(m[0], 'a');
	EXPECT_EQ(xengnttab_unmap(t, m, 1), 0);
	EXPECT_EQ(hv.domain(1, "grants_revoked_mapped"), 0);
	EXPECT_EQ(hv.domain(1, "frames_allocated"), 0);
	char buf[4];
	auto seg = from_gref(1, ref, 0, buf, 4);
	ASSERT_EQ(xengnttab_grant_copy(t, 1, &seg), 0);
	EXPECT_EQ(seg.status, GNTST_general_error);
	xengnttab_close(t);
}

TEST(XensimGrants, GntallocLimitGivesEnospc)
{
	Hvd hv(4);
	as_domain(1);
	xengntshr_handle *s = xengntshr_open(nullptr, 0);
	ASSERT_NE(s, nullptr);
	std::uint32_t refs[5];
	void *a = xengntshr_share_pages(s, 2, 3, refs, 1);
	ASSERT_NE(a, nullptr);
	void *b = xengntshr_share_pages(s, 2, 1, refs + 3, 1);
	ASSERT_NE(b, nullptr);
	errno = 0;
	EXPECT_EQ(xengntshr_share_pages(s, 2, 1, refs + 4, 1), nullptr);
	EXPECT_EQ(errno, ENOSPC);
	EXPECT_EQ(hv.domain(1, "gntalloc_limit"), 4);
	/* Unsharing part of a share returns its grants to the budget. */
	EXPECT_EQ(xengntshr_unshare(s, static_cast<char *>(a) + kPage, 1), 0);
	EXPECT_EQ(hv.domain(1, "grants_shared"), 3);
	void *c = xengntshr_share_pages(s, 2, 1, refs + 4, 1);
	EXPECT_NE(c, nullptr);
	xengntshr_close(s);
	EXPECT_EQ(hv.domain(1, "grants_shared"), 0);
	EXPECT_EQ(hv.domain(1, "frames_allocated"), 0);
}

TEST(XensimGrants, UnmapNotifyClearsTheByteAndSignals)
{
	Hvd hv;
	as_domain(2);
	xenevtchn_handle *be = xenevtchn_open(nullptr, 0);
	ASSERT_NE(be, nullptr);
	const int bport = xenevtchn_bind_unbound_port(be, 1);
	ASSERT_GT(bport, 0);

	Channel ch;
	const pid_t child = spawn(1, [&ch, bport] {
		xenevtchn_handle *e = xenevtchn_open(nullptr, 0);
		xengntshr_handle *s = xengntshr_open(nullptr, 0);
		if (e == nullptr || s == nullptr)
			return 10;
		const int port = xenevtchn_bind_interdomain(e, 2, bport);
		if (port <= 0)
			return 11;
		std::uint32_t ref;
		auto *p = static_cast<char *>(xengntshr_share_page_notify(s, 2, &ref, 1, 17, port));
		if (p == nullptr)
			return 12;
		p[17] = 1; /* "alive" */
		ch.put(ref);
		ch.take();
		return 0; /* exits without unsharing: the hvd does the notification */
	});
	const auto ref = static_cast<std::uint32_t>(ch.recv());
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	auto *m = static_cast<volatile char *>(
		xengnttab_map_grant_ref(t, 1, ref, PROT_READ | PROT_WRITE));
	ASSERT_NE(m, nullptr);
	EXPECT_EQ(m[17], 1);
	/* The frontend's bind_interdomain signals the frontend, not us. */
	EXPECT_FALSE(readable(xenevtchn_fd(be), 0));
	ch.send(0);
	EXPECT_EQ(join(child), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(be), 2000));
	EXPECT_EQ(xenevtchn_pending(be), bport);
	EXPECT_EQ(m[17], 0);
	xengnttab_unmap(t, const_cast<char *>(m), 1);
	xengnttab_close(t);
	xenevtchn_close(be);
}

TEST(XensimGrants, DyingProcessReleasesSharesAndMappings)
{
	Hvd hv;
	Channel ch;
	/* Domain 1 shares 3 pages to domain 2 and is killed. */
	const pid_t owner = spawn(1, [&ch] {
		xengntshr_handle *s = xengntshr_open(nullptr, 0);
		std::uint32_t refs[3];
		if (s == nullptr || xengntshr_share_pages(s, 2, 3, refs, 1) == nullptr)
			return 10;
		ch.put(refs[0]);
		ch.take();
		return 0;
	});
	const auto ref = static_cast<std::uint32_t>(ch.recv());
	/* Domain 2 maps one of them in another process and is killed too. */
	Channel ch2;
	const pid_t mapper = spawn(2, [&ch2, ref] {
		xengnttab_handle *t = xengnttab_open(nullptr, 0);
		if (t == nullptr || xengnttab_map_grant_ref(t, 1, ref, PROT_READ) == nullptr)
			return 10;
		ch2.put(0);
		ch2.take();
		return 0;
	});
	ch2.recv();
	EXPECT_EQ(hv.domain(1, "grants_shared"), 3);
	EXPECT_EQ(hv.domain(2, "mappings_held"), 1);
	EXPECT_EQ(hv.processes(), 2);
	::kill(owner, SIGKILL);
	EXPECT_EQ(join(owner), 128 + SIGKILL);
	EXPECT_TRUE(eventually([&] { return hv.domain(1, "grants_shared") == 0; }));
	/* Still mapped by domain 2: the frame stays until that goes. */
	EXPECT_EQ(hv.domain(1, "grants_revoked_mapped"), 1);
	EXPECT_EQ(hv.domain(1, "frames_allocated"), 1);
	::kill(mapper, SIGKILL);
	EXPECT_EQ(join(mapper), 128 + SIGKILL);
	EXPECT_TRUE(eventually([&] { return hv.domain(2, "mappings_held") == 0; }));
	EXPECT_TRUE(eventually([&] { return hv.domain(1, "frames_allocated") == 0; }));
	EXPECT_EQ(hv.domain(1, "grants_revoked_mapped"), 0);
	EXPECT_EQ(hv.processes(), 0);
}

TEST(XensimGrants, HvdExitsCleanlyOnSigterm)
{
	Hvd hv;
	EXPECT_TRUE(hv.ready());
	EXPECT_NE(hv.status().find("\"processes\": 0"), std::string::npos) << hv.status();
	EXPECT_EQ(hv.stop(), 0);
	EXPECT_FALSE(hv.ready());
}

TEST(XensimGrants, ClosingAnInheritedHandleInAForkedChildLeavesTheParentAlone)
{
	Hvd hv;
	as_domain(1);
	xengntshr_handle *s = xengntshr_open(nullptr, 0);
	ASSERT_NE(s, nullptr);
	std::uint32_t ref;
	auto *p = static_cast<char *>(xengntshr_share_pages(s, 1, 1, &ref, 1));
	ASSERT_NE(p, nullptr);
	xengnttab_handle *t = xengnttab_open(nullptr, 0);
	ASSERT_NE(t, nullptr);
	auto *m = static_cast<char *>(xengnttab_map_grant_ref(t, 1, ref, PROT_READ));
	ASSERT_NE(m, nullptr);
	/* The only safe operation on an inherited handle is close. */
	const pid_t child = spawn(1, [s, t] {
		xengnttab_close(t);
		xengntshr_close(s);
		return 0;
	});
	EXPECT_EQ(join(child), 0);
	EXPECT_EQ(hv.domain(1, "grants_shared"), 1);
	EXPECT_EQ(hv.domain(1, "mappings_held"), 1);
	p[0] = 'x';
	EXPECT_EQ(m[0], 'x');
	xengnttab_close(t);
	xengntshr_close(s);
	EXPECT_EQ(hv.domain(1, "grants_shared"), 0);
}

TEST(XensimGrants, MapNotifyClearsTheByteAndSignalsOnUnmap)
{
	Hvd hv;
	/* Domain 1 shares a ring page and offers a port; domain 2 maps it with
	 * an unmap notification, as a backend does for a frontend's ring. */
	as_domain(1);
	xengntshr_handle *s = xengntshr_open(nullptr, 0);
	xenevtchn_handle *fe = xenevtchn_open(nullptr, 0);
	ASSERT_TRUE(s && fe);
	std::uint32_t ref;
	auto *ring = static_cast<volatile char *>(xengntshr_share_pages(s, 2, 1, &ref, 1));
	ASSERT_NE(ring, nullptr);
	const int fport = xenevtchn_bind_unbound_port(fe, 2);

	Channel ch;
	const pid_t backend = spawn(2, [&ch, ref, fport] {
		xengnttab_handle *t = xengnttab_open(nullptr, 0);
		xenevtchn_handle *e = xenevtchn_open(nullptr, 0);
		if (t == nullptr || e == nullptr)
			return 10;
		const int port = xenevtchn_bind_interdomain(e, 1, fport);
		/* A read-only mapping cannot clear a byte; a foreign port cannot notify. */
		if (xengnttab_map_grant_ref_notify(t, 1, ref, PROT_READ, 5, port) != nullptr ||
		    xengnttab_map_grant_ref_notify(t, 1, ref, PROT_READ | PROT_WRITE, 5,
						   port + 7) != nullptr)
			return 11;
		auto *m = static_cast<char *>(
			xengnttab_map_grant_ref_notify(t, 1, ref, PROT_READ | PROT_WRITE, 5, port));
		if (m == nullptr)
			return 12;
		m[5] = 1; /* "connected" */
		ch.put(0);
		if (ch.take() == 1)
			return xengnttab_unmap(t, m, 1) == 0 ? 0 : 13;
		return 0; /* or just die: the hvd unmaps and notifies */
	});
	ch.recv();
	EXPECT_EQ(ring[5], 1);
	EXPECT_FALSE(readable(xenevtchn_fd(fe), 0));
	ch.send(1);
	EXPECT_EQ(join(backend), 0);
	ASSERT_TRUE(readable(xenevtchn_fd(fe), 2000));
	EXPECT_EQ(xenevtchn_pending(fe), fport);
	EXPECT_EQ(ring[5], 0);
	/* The backend's handle closed when it exited: the channel is unbound. */
	EXPECT_TRUE(eventually([&] { return hv.domain(2, "evtchn_ports") == 0; }));
	xenevtchn_close(fe);
	xengntshr_close(s);
}
