/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The frontend's transmit-offload mapping (ol_flags → netif flags, GSO
 * extra and fix-ups in its copy) and the shared checksum helpers, on
 * hand-built packets, including the ugly cases: IPv6 extension headers,
 * VLAN tags, fragments, tunnels, UDP's zero checksum. Checksums are
 * verified independently with DPDK's rte_ipv4/6_udptcp_cksum_verify. */

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <vector>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net_headers.h"
#include "xen_protocol.h"
#include "rte_pmd_xenfront.h"
#include "xenfront_offload.h"

namespace
{

using xenfront::L4Csum;
using xenfront::TxOffloadCaps;
using xenfront::TxOffloadPlan;

/* A packet in one or more hand-made mbufs (no EAL needed). */
class Packet
{
public:
	explicit Packet(std::vector<uint8_t> bytes, size_t split = 0) : bytes_(std::move(bytes))
	{
		size_t first = split ? split : bytes_.size();
		add_segment(0, first);
		if (split)
			add_segment(split, bytes_.size() - split);
		segs_[0]->pkt_len = static_cast<uint32_t>(bytes_.size());
		segs_[0]->nb_segs = static_cast<uint16_t>(segs_.size());
	}
	rte_mbuf *m() { return segs_[0].get(); }
	/* The bytes as the mbufs hold them now. */
	std::vector<uint8_t> data()
	{
		std::vector<uint8_t> out;
		for (rte_mbuf *s = m(); s != nullptr; s = s->next) {
			auto *p = rte_pktmbuf_mtod(s, uint8_t *);
			out.insert(out.end(), p, p + s->data_len);
		}
		return out;
	}

private:
	void add_segment(size_t off, size_t len)
	{
		auto seg = std::make_unique<rte_mbuf>();
		std::memset(seg.get(), 0, sizeof(rte_mbuf));
		bufs_.emplace_back(new uint8_t[len + 64]);
		seg->buf_addr = bufs_.back().get();
		seg->data_off = 64;
		seg->buf_len = static_cast<uint16_t>(len + 64);
		std::memcpy(static_cast<uint8_t *>(seg->buf_addr) + 64, bytes_.data() + off, len);
		seg->data_len = static_cast<uint16_t>(len);
		rte_mbuf_refcnt_set(seg.get(), 1);
		seg->nb_segs = 1;
		if (!segs_.empty())
			segs_.back()->next = seg.get();
		segs_.push_back(std::move(seg));
	}
	std::vector<uint8_t> bytes_;
	std::vector<std::unique_ptr<uint8_t[]>> bufs_;
	std::vector<std::unique_ptr<rte_mbuf>> segs_;
};

void put16(std::vector<uint8_t> &p, size_t off, uint16_t v)
{
	p[off] = static_cast<uint8_t>(v >> 8);
	p[off + 1] = static_cast<uint8_t>(v);
}

/* Ethernet [+ VLAN] + IPv4/IPv6 [+ extension headers] + TCP/UDP + payload. */
std::vector<uint8_t> make_packet(bool ipv6, uint8_t proto, size_t payload, bool vlan = false,
				 std::vector<uint8_t> ext = {}, uint8_t ext_type = 0)
{
	std::vector<uint8_t> p(12, 0x02);
	if (vlan) {
		p.insert(p.end(), {0x81, 0x00, 0x00, 0x05});
	}
	p.insert(p.end(), {static_cast<uint8_t>(ipv6 ? 0x86 : 0x08),
			   static_cast<uint8_t>(ipv6 ? 0xdd : 0x00)});
	size_t l3 = p.size();
	size_t l4_len = proto == IPPROTO_TCP ? 20 : 8;
	if (ipv6) {
		p.resize(l3 + 40 + ext.size(), 0);
		p[l3] = 0x60;
		put16(p, l3 + 4, static_cast<uint16_t>(ext.size() + l4_len + payload));
		p[l3 + 6] = ext.empty() ? proto : ext_type;
		p[l3 + 7] = 64;
		for (int i = 0; i < 16; i++) {
			p[l3 + 8 + i] = static_cast<uint8_t>(0x20 + i);
			p[l3 + 24 + i] = static_cast<uint8_t>(0x40 + i);
		}
		if (!ext.empty()) /* an empty vector's data() may be null */
			std::memcpy(p.data() + l3 + 40, ext.data(), ext.size());
	} else {
		p.resize(l3 + 20, 0);
		p[l3] = 0x45;
		put16(p, l3 + 2, static_cast<uint16_t>(20 + l4_len + payload));
		p[l3 + 8] = 64;
		p[l3 + 9] = proto;
		uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
		std::memcpy(p.data() + l3 + 12, addrs, 8);
	}
	size_t l4 = p.size();
	p.resize(l4 + l4_len, 0);
	put16(p, l4, 1234);
	put16(p, l4 + 2, 80);
	if (proto == IPPROTO_TCP)
		p[l4 + 12] = 0x50;
	else
		put16(p, l4 + 4, static_cast<uint16_t>(8 + payload));
	for (size_t i = 0; i < payload; i++)
		p.push_back(static_cast<uint8_t>(i * 7 + 3));
	return p;
}

void set_lengths(rte_mbuf *m, uint16_t l2, uint16_t l3, uint16_t l4)
{
	m->l2_len = l2;
	m->l3_len = l3;
	m->l4_len = l4;
}

/* Verifies the packet's L4 checksum independently of the code under test:
 * DPDK's verifier for IPv4; for IPv6 (whose DPDK verifier ignores extension
 * headers) the RFC 8200 sum over the real L4 bytes must fold to 0xffff. */
bool l4_csum_valid(std::vector<uint8_t> p, size_t l2, size_t l3, bool ipv6, uint8_t proto = 0)
{
	if (ipv6) {
		if (proto == 0)
			proto = reinterpret_cast<const rte_ipv6_hdr *>(p.data() + l2)->proto;
		uint32_t len = static_cast<uint32_t>(p.size() - l2 - l3);
		uint32_t sum = xen::pseudo_header_sum(p.data() + l2, true, proto, len);
		sum += rte_raw_cksum(p.data() + l2 + l3, len);
		return xen::fold_csum(sum) == 0xffff;
	}
	const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(p.data() + l2);
	return rte_ipv4_udptcp_cksum_verify(ip, p.data() + l2 + l3) == 0;
}

uint16_t csum_field(const std::vector<uint8_t> &p, size_t off)
{
	uint16_t v;
	std::memcpy(&v, p.data() + off, 2);
	return v;
}

constexpr TxOffloadCaps all_caps{true, true, true, true};
constexpr TxOffloadCaps no_caps{false, false, false, false};

TEST(TxOffload, NoFlagsNoPlan)
{
	Packet pkt(make_packet(false, IPPROTO_TCP, 100));
	TxOffloadPlan plan;
	EXPECT_EQ(plan_tx_offload(pkt.m(), all_caps, plan), 0);
	EXPECT_EQ(plan.netif_flags, 0);
	EXPECT_EQ(plan.l4, L4Csum::none);
}

TEST(TxOffload, Ipv4TcpBlankWhenBackendCompletes)
{
	auto bytes = make_packet(false, IPPROTO_TCP, 300);
	Packet pkt(bytes);
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
	set_lengths(m, 14, 20, 20);
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, all_caps, plan), 0);
	EXPECT_EQ(plan.netif_flags, NETTXF_csum_blank | NETTXF_data_validated);
	EXPECT_EQ(plan.l4, L4Csum::blank);
	EXPECT_EQ(plan.gso_type, XEN_NETIF_GSO_TYPE_NONE);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	EXPECT_EQ(rte_raw_cksum(copy.data() + 14, 20), 0xffff) << "IPv4 header checksum";
	/* The field holds the pseudo-header sum; completing it as a backend
	 * would (Linux CHECKSUM_PARTIAL) gives a valid checksum. */
	Packet sent(copy);
	xen::NetHeaders h;
	ASSERT_TRUE(xen::parse_net_headers(sent.m(), h));
	xen::complete_blank_csum(sent.m(), h);
	EXPECT_TRUE(l4_csum_valid(sent.data(), 14, 20, false));
}

TEST(TxOffload, Ipv4TcpFullWhenBackendCannot)
{
	Packet pkt(make_packet(false, IPPROTO_TCP, 301), 40); /* payload in a 2nd segment */
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
	set_lengths(m, 14, 20, 20);
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, no_caps, plan), 0);
	EXPECT_EQ(plan.l4, L4Csum::full);
	EXPECT_EQ(plan.netif_flags, 0);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	EXPECT_TRUE(l4_csum_valid(copy, 14, 20, false));
}

TEST(TxOffload, Ipv6UdpBlankOrFull)
{
	for (bool backend_v6 : {true, false}) {
		Packet pkt(make_packet(true, IPPROTO_UDP, 257));
		rte_mbuf *m = pkt.m();
		m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
		set_lengths(m, 14, 40, 8);
		TxOffloadCaps caps{true, backend_v6, false, false};
		TxOffloadPlan plan;
		ASSERT_EQ(plan_tx_offload(m, caps, plan), 0);
		EXPECT_EQ(plan.l4, backend_v6 ? L4Csum::blank : L4Csum::full);
		std::vector<uint8_t> copy = pkt.data();
		apply_tx_offload(copy.data(), m, plan);
		if (backend_v6) {
			Packet sent(copy);
			xen::NetHeaders h;
			ASSERT_TRUE(xen::parse_net_headers(sent.m(), h));
			xen::complete_blank_csum(sent.m(), h);
			copy = sent.data();
		}
		EXPECT_TRUE(l4_csum_valid(copy, 14, 40, true)) << backend_v6;
	}
}

TEST(TxOffload, Ipv6ExtensionHeaders)
{
	/* Hop-by-hop options (8 bytes) then TCP: computed here (netback would
	 * parse it, but we keep blank checksums to the plain case). */
	std::vector<uint8_t> hop = {IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0};
	Packet pkt(make_packet(true, IPPROTO_TCP, 99, false, hop, 0));
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
	set_lengths(m, 14, 48, 20);
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, all_caps, plan), 0);
	EXPECT_EQ(plan.l4, L4Csum::full);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	EXPECT_TRUE(l4_csum_valid(copy, 14, 48, true, IPPROTO_TCP));

	/* A routing header (43) or fragment header (44): refused. */
	for (uint8_t type : {uint8_t(43), uint8_t(44)}) {
		std::vector<uint8_t> ext = {IPPROTO_TCP, 0, 0, 0, 0, 0, 0, 0};
		Packet bad(make_packet(true, IPPROTO_TCP, 10, false, ext, type));
		bad.m()->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
		set_lengths(bad.m(), 14, 48, 20);
		EXPECT_EQ(plan_tx_offload(bad.m(), all_caps, plan), -ENOTSUP) << int(type);
	}
}

TEST(TxOffload, VlanTaggedComputedHere)
{
	Packet pkt(make_packet(false, IPPROTO_UDP, 50, true));
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
	set_lengths(m, 18, 20, 8);
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, all_caps, plan), 0);
	/* Netback's skb_checksum_setup cannot parse a tagged frame. */
	EXPECT_EQ(plan.l4, L4Csum::full);
	EXPECT_EQ(plan.netif_flags, 0);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	EXPECT_TRUE(l4_csum_valid(copy, 18, 20, false));
	EXPECT_EQ(rte_raw_cksum(copy.data() + 18, 20), 0xffff);

	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG;
	m->tso_segsz = 1000;
	EXPECT_EQ(plan_tx_offload(m, all_caps, plan), -EINVAL) << "UDP cannot be TSO";
}

TEST(TxOffload, TsoMapsToGsoExtra)
{
	auto bytes = make_packet(false, IPPROTO_TCP, 5000);
	put16(bytes, 14 + 2, 0); /* as DPDK apps leave it for TSO */
	Packet pkt(bytes);
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
	set_lengths(m, 14, 20, 20);
	m->tso_segsz = 1448;
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, all_caps, plan), 0);
	EXPECT_EQ(plan.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	EXPECT_EQ(plan.gso_size, 1448);
	EXPECT_EQ(plan.netif_flags, NETTXF_csum_blank | NETTXF_data_validated);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	/* Whole-packet IP length and header checksum; blank TCP checksum over
	 * the whole L4 length, as Linux GSO expects. */
	EXPECT_EQ(copy[16] << 8 | copy[17], static_cast<int>(bytes.size() - 14));
	EXPECT_EQ(rte_raw_cksum(copy.data() + 14, 20), 0xffff);
	uint16_t expect = xen::fold_csum(xen::pseudo_header_sum(
		copy.data() + 14, false, IPPROTO_TCP, static_cast<uint32_t>(bytes.size() - 34)));
	EXPECT_EQ(csum_field(copy, 34 + 16), expect);

	/* Without the backend's feature-gso-tcpv4: refused, not mangled. */
	EXPECT_EQ(plan_tx_offload(m, TxOffloadCaps{true, true, false, true}, plan), -ENOTSUP);
	m->tso_segsz = 0;
	EXPECT_EQ(plan_tx_offload(m, all_caps, plan), -EINVAL) << "netback: GSO size 0 is fatal";
}

TEST(TxOffload, Ipv6TsoAndItsLimits)
{
	Packet pkt(make_packet(true, IPPROTO_TCP, 3000));
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_SEG;
	set_lengths(m, 14, 40, 20);
	m->tso_segsz = 1400;
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, all_caps, plan), 0);
	EXPECT_EQ(plan.gso_type, XEN_NETIF_GSO_TYPE_TCPV6);
	EXPECT_EQ(plan_tx_offload(m, TxOffloadCaps{true, true, true, false}, plan), -ENOTSUP);
}

TEST(TxOffload, RefusedRequests)
{
	Packet pkt(make_packet(false, IPPROTO_TCP, 100));
	rte_mbuf *m = pkt.m();
	set_lengths(m, 14, 20, 20);
	TxOffloadPlan plan;
	const struct {
		uint64_t flags;
		int err;
	} cases[] = {
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM, -EINVAL},
		{RTE_MBUF_F_TX_TCP_CKSUM, -EINVAL},                      /* no L3 type */
		{RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM, -EINVAL},  /* IPv6 has none */
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM, -EINVAL}, /* it is TCP */
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_SCTP_CKSUM, -ENOTSUP},
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_VLAN, -ENOTSUP},
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TUNNEL_VXLAN,
		 -ENOTSUP},
		{RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM, -ENOTSUP},
		{RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_SEG, -ENOTSUP},
	};
	for (const auto &c : cases) {
		m->ol_flags = c.flags;
		EXPECT_EQ(plan_tx_offload(m, all_caps, plan), c.err) << std::hex << c.flags;
	}
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
	set_lengths(m, 14, 24, 20); /* l3_len disagrees with the IHL */
	EXPECT_EQ(plan_tx_offload(m, all_caps, plan), -EINVAL);
}

TEST(TxOffload, Ipv4FragmentRefused)
{
	auto bytes = make_packet(false, IPPROTO_UDP, 64);
	bytes[14 + 6] = 0x20; /* MF */
	Packet pkt(bytes);
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	set_lengths(m, 14, 20, 8);
	TxOffloadPlan plan;
	EXPECT_EQ(plan_tx_offload(m, all_caps, plan), -ENOTSUP);
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM; /* header only: fine */
	EXPECT_EQ(plan_tx_offload(m, all_caps, plan), 0);
}

TEST(TxOffload, TunnelWithoutInnerFlagsIsPlainUdp)
{
	/* VXLAN: the application asks only for the outer UDP checksum, with
	 * l2/l3/l4 describing the outer headers; inner bytes are payload. */
	auto bytes = make_packet(false, IPPROTO_UDP, 8 + 60);
	put16(bytes, 34 + 2, 4789);
	Packet pkt(bytes);
	rte_mbuf *m = pkt.m();
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	set_lengths(m, 14, 20, 8);
	TxOffloadPlan plan;
	ASSERT_EQ(plan_tx_offload(m, no_caps, plan), 0);
	std::vector<uint8_t> copy = pkt.data();
	apply_tx_offload(copy.data(), m, plan);
	EXPECT_TRUE(l4_csum_valid(copy, 14, 20, false));
}

TEST(TxOffload, UdpZeroChecksumBecomesAllOnes)
{
	/* Find a payload whose UDP checksum computes to 0: it must go out as
	 * 0xffff (RFC 768: 0 means "no checksum"). */
	for (uint32_t v = 0; v < 65536; v++) {
		auto bytes = make_packet(false, IPPROTO_UDP, 2);
		put16(bytes, 42, static_cast<uint16_t>(v));
		Packet pkt(bytes);
		rte_mbuf *m = pkt.m();
		m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
		set_lengths(m, 14, 20, 8);
		TxOffloadPlan plan;
		ASSERT_EQ(plan_tx_offload(m, no_caps, plan), 0);
		std::vector<uint8_t> copy = pkt.data();
		apply_tx_offload(copy.data(), m, plan);
		if (csum_field(copy, 40) == 0xffff) {
			EXPECT_TRUE(l4_csum_valid(copy, 14, 20, false));
			return;
		}
		ASSERT_NE(csum_field(copy, 40), 0) << "a computed UDP checksum of 0 was sent";
	}
	FAIL() << "no payload gave a checksum of 0xffff";
}

TEST(NetHeaders, ParseAndHelpers)
{
	Packet pkt(make_packet(false, IPPROTO_TCP, 40, true));
	xen::NetHeaders h;
	ASSERT_TRUE(xen::parse_net_headers(pkt.m(), h));
	EXPECT_EQ(h.l2_len, 18);
	EXPECT_EQ(h.l3_len, 20);
	EXPECT_EQ(h.l4_len, 20);
	EXPECT_TRUE(h.vlan);
	EXPECT_TRUE(xen::headers_writable(pkt.m(), h));
	xen::write_full_csum(pkt.m(), h);
	EXPECT_TRUE(l4_csum_valid(pkt.data(), 18, 20, false));
	xen::write_blank_csum(pkt.m(), h, false);
	xen::complete_blank_csum(pkt.m(), h);
	EXPECT_TRUE(l4_csum_valid(pkt.data(), 18, 20, false));

	auto arp = std::vector<uint8_t>(60, 0);
	arp[12] = 0x08;
	arp[13] = 0x06;
	Packet other(arp);
	EXPECT_FALSE(xen::parse_net_headers(other.m(), h));
}

} // namespace

namespace
{

TEST(PublicApi, CompleteCksumOfABlankChecksum)
{
	auto bytes = make_packet(false, IPPROTO_UDP, 77);
	Packet pkt(bytes);
	xen::NetHeaders h;
	ASSERT_TRUE(xen::parse_net_headers(pkt.m(), h));
	xen::write_blank_csum(pkt.m(), h, false);
	ASSERT_FALSE(l4_csum_valid(pkt.data(), 14, 20, false));

	pkt.m()->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD; /* nothing to do */
	EXPECT_EQ(rte_pmd_xenfront_complete_cksum(pkt.m()), 0);
	EXPECT_FALSE(l4_csum_valid(pkt.data(), 14, 20, false));

	pkt.m()->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	EXPECT_EQ(rte_pmd_xenfront_complete_cksum(pkt.m()), 0);
	EXPECT_TRUE(l4_csum_valid(pkt.data(), 14, 20, false));
	EXPECT_EQ(pkt.m()->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);

	rte_mbuf_refcnt_set(pkt.m(), 2);
	pkt.m()->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	EXPECT_EQ(rte_pmd_xenfront_complete_cksum(pkt.m()), -EPERM);
	rte_mbuf_refcnt_set(pkt.m(), 1);
}

} // namespace
