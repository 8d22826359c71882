/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* netif.h's Toeplitz hash against Microsoft's published RSS verification
 * vectors and against DPDK's rte_softrss, and the hash input built from a
 * packet for each netif hash type. */

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include <rte_byteorder.h>
#include <rte_thash.h>

#include "net_headers.h"
#include "toeplitz.h"
#include "xen_protocol.h"

namespace
{

/* The key of Microsoft's "Verifying the RSS Hash Calculation". */
const uint8_t ms_key[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
			    0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
			    0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
			    0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

TEST(Toeplitz, MicrosoftVectorsIpv4)
{
	struct Case {
		uint8_t src[4], dst[4];
		uint16_t sport, dport;
		uint32_t with_ports, without;
	} cases[] = {
		{{66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 0x51ccc178, 0x323e8fc2},
		{{199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 0xc626b0ea, 0xd718262a},
		{{24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 0x5c2b394a, 0xd2d0a5de},
	};
	for (const auto &c : cases) {
		uint8_t buf[12];
		std::memcpy(buf, c.src, 4);
		std::memcpy(buf + 4, c.dst, 4);
		buf[8] = static_cast<uint8_t>(c.sport >> 8);
		buf[9] = static_cast<uint8_t>(c.sport);
		buf[10] = static_cast<uint8_t>(c.dport >> 8);
		buf[11] = static_cast<uint8_t>(c.dport);
		EXPECT_EQ(xen::toeplitz_hash(ms_key, 40, buf, 12), c.with_ports);
		EXPECT_EQ(xen::toeplitz_hash(ms_key, 40, buf, 8), c.without);
		/* DPDK's software RSS takes the tuple as host-order words. */
		uint32_t tuple[3];
		for (int i = 0; i < 3; i++) {
			uint32_t be;
			std::memcpy(&be, buf + 4 * i, 4);
			tuple[i] = rte_be_to_cpu_32(be);
		}
		EXPECT_EQ(rte_softrss(tuple, 3, ms_key), c.with_ports);
	}
}

std::vector<uint8_t> frame(bool ipv6, uint8_t proto)
{
	std::vector<uint8_t> p(12, 0);
	p.push_back(ipv6 ? 0x86 : 0x08);
	p.push_back(ipv6 ? 0xdd : 0x00);
	size_t l3 = p.size();
	if (ipv6) {
		p.resize(l3 + 40, 0);
		p[l3] = 0x60;
		p[l3 + 6] = proto;
		for (int i = 0; i < 32; i++)
			p[l3 + 8 + i] = static_cast<uint8_t>(i + 1);
	} else {
		p.resize(l3 + 20, 0);
		p[l3] = 0x45;
		p[l3 + 9] = proto;
		for (int i = 0; i < 8; i++)
			p[l3 + 12 + i] = static_cast<uint8_t>(i + 1);
	}
	for (uint8_t b : {0x12, 0x34, 0x56, 0x78})
		p.push_back(b);
	p.resize(p.size() + 40, 0);
	return p;
}

struct Mbuf {
	explicit Mbuf(std::vector<uint8_t> data) : bytes(std::move(data))
	{
		std::memset(&m, 0, sizeof(m));
		m.buf_addr = bytes.data();
		m.data_len = static_cast<uint16_t>(bytes.size());
		m.pkt_len = static_cast<uint32_t>(bytes.size());
		m.nb_segs = 1;
	}
	std::vector<uint8_t> bytes;
	rte_mbuf m;
};

TEST(Toeplitz, HashInputPerType)
{
	uint8_t buf[36];
	uint8_t type = 0xff;
	const uint32_t all = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			     XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

	Mbuf tcp4(frame(false, 6));
	ASSERT_EQ(xen::hash_input(&tcp4.m, all, buf, type), 12u);
	EXPECT_EQ(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	EXPECT_EQ(buf[0], 1);
	EXPECT_EQ(buf[7], 8);
	EXPECT_EQ(buf[8], 0x12);
	EXPECT_EQ(buf[11], 0x78);
	/* The maximal enabled type: without IPV4_TCP, addresses only. */
	ASSERT_EQ(xen::hash_input(&tcp4.m, XEN_NETIF_CTRL_HASH_TYPE_IPV4, buf, type), 8u);
	EXPECT_EQ(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4);

	Mbuf udp4(frame(false, 17));
	ASSERT_EQ(xen::hash_input(&udp4.m, all, buf, type), 8u) << "UDP hashes as IPv4";
	EXPECT_EQ(xen::hash_input(&udp4.m, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, buf, type), 0u);

	Mbuf tcp6(frame(true, 6));
	ASSERT_EQ(xen::hash_input(&tcp6.m, all, buf, type), 36u);
	EXPECT_EQ(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
	EXPECT_EQ(buf[0], 1);
	EXPECT_EQ(buf[31], 32);
	EXPECT_EQ(buf[32], 0x12);
	ASSERT_EQ(xen::hash_input(&tcp6.m, XEN_NETIF_CTRL_HASH_TYPE_IPV6, buf, type), 32u);
	EXPECT_EQ(xen::hash_input(&tcp6.m, XEN_NETIF_CTRL_HASH_TYPE_IPV4, buf, type), 0u);
}

/* net_xenback's flow hash (a guest with several queues and no hashing
 * set): one value per flow, the ports counted for TCP and UDP alike. */
TEST(FlowHash, OneValuePerFlow)
{
	auto hash = [](const std::vector<uint8_t> &bytes, uint32_t s = 0x5eed) {
		Mbuf m(bytes);
		return xen::flow_hash(&m.m, s);
	};
	for (bool ipv6 : {false, true})
		for (uint8_t proto : {6, 17}) {
			const std::vector<uint8_t> f = frame(ipv6, proto);
			const size_t l4 = 14 + (ipv6 ? 40 : 20);
			std::vector<uint8_t> payload = f;
			payload.back() ^= 0xff; /* the same flow, other data */
			EXPECT_EQ(hash(f), hash(payload));
			std::vector<uint8_t> port = f;
			port[l4 + 1] ^= 1; /* another source port: another flow */
			EXPECT_NE(hash(f), hash(port)) << "proto " << int(proto);
			std::vector<uint8_t> addr = f;
			addr[14 + (ipv6 ? 8 : 12)] ^= 1;
			EXPECT_NE(hash(f), hash(addr));
			EXPECT_NE(hash(f), hash(f, 0x5eee));
			/* A VLAN tag does not make another flow. */
			std::vector<uint8_t> tagged(f.begin(), f.begin() + 12);
			for (uint8_t b : {0x81, 0x00, 0x00, 0x05})
				tagged.push_back(b);
			tagged.insert(tagged.end(), f.begin() + 12, f.end());
			EXPECT_EQ(hash(f), hash(tagged));
		}
	/* IPv4 fragments: addresses and protocol only, so the first (with
	 * the ports) and the later ones (without) go the same way. */
	std::vector<uint8_t> first = frame(false, 17);
	first[14 + 6] = 0x20; /* MF */
	std::vector<uint8_t> later = first;
	later[14 + 7] = 0xb9; /* an offset */
	for (size_t i = 34; i < 38; i++)
		later[i] = static_cast<uint8_t>(i); /* data where the ports were */
	EXPECT_EQ(hash(first), hash(later));
	/* Not IP: by EtherType. */
	std::vector<uint8_t> arp(60, 0), arp2(60, 0x11);
	arp[12] = arp2[12] = 0x08;
	arp[13] = arp2[13] = 0x06;
	EXPECT_EQ(hash(arp), hash(arp2));
	std::vector<uint8_t> runt(10, 0);
	EXPECT_EQ(hash(runt), hash(std::vector<uint8_t>(12, 0)));
}

} // namespace

TEST(Toeplitz, TableEqualsTheBitSerialHash)
{
	/* Random keys (short ones too: missing key bytes count as zero) and
	 * inputs of every length the hash types use. */
	uint32_t seed = 12345;
	auto next = [&seed] {
		seed = seed * 1103515245u + 12345u;
		return static_cast<uint8_t>(seed >> 16);
	};
	auto table = std::make_unique<xen::ToeplitzTable>();
	for (size_t key_len : {40u, 40u, 16u, 0u}) {
		uint8_t key[40];
		for (auto &k : key)
			k = next();
		table->set_key(key, key_len);
		for (int round = 0; round < 200; round++) {
			uint8_t buf[xen::toeplitz_max_input];
			for (auto &b : buf)
				b = next();
			for (size_t len : {8u, 12u, 32u, 36u})
				ASSERT_EQ(table->hash(buf, len),
					  xen::toeplitz_hash(key, key_len, buf, len))
					<< "key_len " << key_len << " len " << len;
		}
	}
	table->set_key(ms_key, sizeof(ms_key));
	const uint8_t v4[12] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
	EXPECT_EQ(table->hash(v4, 12), 0x51ccc178u);
}
