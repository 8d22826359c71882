/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* xf-offload-fwd: forwards between port 0 and port 1 the way a virtual
 * switch's datapath uses offloads, so that a TCP stream between two kernels
 * crosses the Xen rings as large packets:
 *
 *  - received TCP/IPv4 segments of one burst are merged (rte_gro) into large
 *    packets; packets a port delivered with RTE_MBUF_F_RX_LRO already are;
 *  - a packet larger than the output port's MTU is sent with TSO when the
 *    port offers it (and segmented in software with rte_gso when it does
 *    not); checksums are left to the output port's offloads when it has
 *    them and computed here otherwise; a blank checksum received
 *    (RTE_MBUF_F_RX_L4_CKSUM_NONE) is completed first when the output port
 *    cannot do it.
 *
 * With --offloads=off it forwards packets as they come, offloads disabled.
 *
 *   xf-offload-fwd EAL_ARGS -- [--offloads=on|off] [--mss=N] [--idle-sleep-us=N]
 *
 * It prints "forwarding" once both links are up and its counters when it
 * gets SIGINT/SIGTERM, then closes both ports. */

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_gro.h>
#include <rte_gso.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_net.h>

namespace
{

constexpr uint16_t burst = 32;
constexpr uint16_t ring = 256;
volatile std::sig_atomic_t quit = 0;

struct Port {
	uint16_t id;
	uint64_t tx_offloads = 0; /* what we may ask of it */
	uint16_t mtu = RTE_ETHER_MTU;
	uint64_t rx = 0, tx = 0, dropped = 0, refused = 0, merged = 0, tso = 0, soft_segmented = 0;
	int last_refusal = 0;
};

struct Options {
	bool offloads = true;
	uint16_t mss = 1448;
	unsigned idle_sleep_us = 20;
};

/* Printed by EAL's --help (before EAL's options) and by -- --help. */
void usage(const char *prgname)
{
	std::printf("usage: %s EAL_ARGS -- [--offloads=on|off] [--mss=N] [--idle-sleep-us=N]\n"
		    "Forwards between ports 0 and 1 as a virtual switch's datapath uses\n"
		    "offloads (GRO, TSO, checksums; --offloads=off: as they come).\n"
		    "  --mss=N            segment size for merged TCP (default 1448)\n"
		    "  --idle-sleep-us=N  nap after 64 empty polls (default 20, 0: never)\n"
		    "Prints \"forwarding\" once both links are up, its counters on SIGINT.\n",
		    prgname);
}

bool parse_options(int argc, char **argv, Options &o)
{
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--help" || a == "-h") {
			usage("xf-offload-fwd");
			std::exit(0);
		}
		if (a == "--offloads=on")
			o.offloads = true;
		else if (a == "--offloads=off")
			o.offloads = false;
		else if (a.rfind("--mss=", 0) == 0)
			o.mss = static_cast<uint16_t>(std::atoi(a.c_str() + 6));
		else if (a.rfind("--idle-sleep-us=", 0) == 0)
			o.idle_sleep_us = static_cast<unsigned>(std::atoi(a.c_str() + 16));
		else {
			std::fprintf(stderr, "xf-offload-fwd: unknown option %s\n", a.c_str());
			return false;
		}
	}
	return o.mss >= 64;
}

bool setup_port(Port &p, rte_mempool *mp, bool offloads)
{
	rte_eth_dev_info info;
	if (rte_eth_dev_info_get(p.id, &info) != 0)
		return false;
	rte_eth_conf conf{};
	if (offloads) {
		uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
				   RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
		uint64_t want_rx = RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
				   RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_SCATTER;
		conf.txmode.offloads = want_tx & info.tx_offload_capa;
		conf.rxmode.offloads = want_rx & info.rx_offload_capa;
		if (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_LRO)
			conf.rxmode.max_lro_pkt_size = info.max_lro_pkt_size;
	}
	conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS & info.tx_offload_capa;
	p.tx_offloads = conf.txmode.offloads;
	int rc = rte_eth_dev_configure(p.id, 1, 1, &conf);
	/* The tx queue first: since DPDK 24.03 net_tap opens one file for a
	 * queue pair and sets up its software TSO (rte_gso) only when the tx
	 * queue is the one that opens it; after the rx queue its tx_burst
	 * refuses every TSO packet (rte_gso_segment: -EINVAL, no context).
	 * Either order is valid ethdev use. */
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(p.id, 0, ring, rte_socket_id(), nullptr);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(p.id, 0, ring, rte_socket_id(), nullptr, mp);
	if (rc == 0)
		rc = rte_eth_promiscuous_enable(p.id) == -ENOTSUP ? 0 : 0;
	if (rc == 0)
		rc = rte_eth_dev_start(p.id);
	if (rc != 0) {
		std::fprintf(stderr, "xf-offload-fwd: port %u: %s\n", p.id, rte_strerror(-rc));
		return false;
	}
	rte_eth_dev_get_mtu(p.id, &p.mtu);
	return true;
}

/* Sets l2/l3/l4 lengths and the packet type; true for TCP/UDP over IP. */
bool classify(rte_mbuf *m)
{
	rte_net_hdr_lens lens{};
	m->packet_type = rte_net_get_ptype(m, &lens, RTE_PTYPE_ALL_MASK);
	m->l2_len = lens.l2_len;
	m->l3_len = lens.l3_len;
	m->l4_len = lens.l4_len;
	uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;
	return (m->packet_type & RTE_PTYPE_L3_MASK) != 0 &&
	       (l4 == RTE_PTYPE_L4_TCP || l4 == RTE_PTYPE_L4_UDP);
}

/* Output-side offload flags for one packet; false if it must be segmented in
 * software. Computes in software what the port cannot. */
bool prepare(rte_mbuf *m, const Port &out, uint16_t mss, bool merged)
{
	bool ipv4 = RTE_ETH_IS_IPV4_HDR(m->packet_type);
	bool tcp = (m->packet_type & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP;
	uint64_t rx_l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	bool lro = m->ol_flags & RTE_MBUF_F_RX_LRO;
	uint16_t seg = lro && m->tso_segsz ? m->tso_segsz : mss;
	bool oversize = m->pkt_len > static_cast<uint32_t>(m->l2_len + out.mtu);
	m->ol_flags = ipv4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
	if (tcp && oversize) {
		/* Segments within the output MTU counting every header: net_tap
		 * checks l2+l3+l4+tso_segsz against its MTU. */
		int room = out.mtu - m->l2_len - m->l3_len - m->l4_len;
		m->tso_segsz =
			static_cast<uint16_t>(RTE_MAX(64, RTE_MIN(static_cast<int>(seg), room)));
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | (ipv4 ? RTE_MBUF_F_TX_IP_CKSUM : 0);
		return out.tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO;
	}
	/* A merged packet's checksums are stale; a blank one is incomplete. */
	if (merged || lro || rx_l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE) {
		uint64_t l4_flag = tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
		uint64_t capa = tcp ? RTE_ETH_TX_OFFLOAD_TCP_CKSUM : RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		if (out.tx_offloads & capa) {
			m->ol_flags |= l4_flag;
		} else {
			void *l3 = rte_pktmbuf_mtod_offset(m, void *, m->l2_len);
			uint16_t off = m->l2_len + m->l3_len + (tcp ? 16 : 6);
			auto *field = rte_pktmbuf_mtod_offset(m, uint16_t *, off);
			*field = 0;
			*field = ipv4 ? rte_ipv4_udptcp_cksum_mbuf(m,
								   static_cast<rte_ipv4_hdr *>(l3),
								   m->l2_len + m->l3_len)
				      : rte_ipv6_udptcp_cksum_mbuf(m,
								   static_cast<rte_ipv6_hdr *>(l3),
								   m->l2_len + m->l3_len);
		}
	}
	return true;
}

/* Returns how many packets it received. */
uint16_t forward(Port &in, Port &out, const Options &opt, rte_gso_ctx *gso)
{
	rte_mbuf *pkts[burst];
	uint16_t n = rte_eth_rx_burst(in.id, 0, pkts, burst);
	if (n == 0)
		return 0;
	const uint16_t received = n;
	in.rx += n;
	if (opt.offloads) {
		for (uint16_t i = 0; i < n; i++)
			classify(pkts[i]);
		rte_gro_param param{};
		param.gro_types = RTE_GRO_TCP_IPV4;
		param.max_flow_num = 4;
		param.max_item_per_flow = burst;
		uint16_t before = n;
		n = rte_gro_reassemble_burst(pkts, n, &param);
		in.merged += before - n;
	}
	rte_mbuf *tx[burst * 48];
	uint16_t nb_tx = 0;
	for (uint16_t i = 0; i < n; i++) {
		rte_mbuf *m = pkts[i];
		if (!opt.offloads || !classify(m)) {
			m->ol_flags = 0;
			tx[nb_tx++] = m;
			continue;
		}
		bool merged = m->nb_segs > 1 && !(m->ol_flags & RTE_MBUF_F_RX_LRO);
		if (prepare(m, out, opt.mss, merged)) {
			out.tso += (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
			tx[nb_tx++] = m;
			continue;
		}
		/* No TSO on the output port: segment here. */
		int segs = rte_gso_segment(m, gso, &tx[nb_tx], RTE_DIM(tx) - nb_tx);
		if (segs <= 0) {
			out.dropped++;
			rte_pktmbuf_free(m);
			continue;
		}
		for (int k = 0; k < segs; k++) {
			rte_mbuf *s = tx[nb_tx + k];
			classify(s);
			prepare(s, out, opt.mss, true);
		}
		out.soft_segmented += static_cast<unsigned>(segs);
		nb_tx = static_cast<uint16_t>(nb_tx + segs);
	}
	uint16_t ok = rte_eth_tx_prepare(out.id, 0, tx, nb_tx);
	if (ok < nb_tx) {
		/* Refused offloads: say why once, count them all. */
		if (out.last_refusal != rte_errno)
			std::fprintf(stderr, "xf-offload-fwd: port %u refused a packet: %s\n",
				     out.id, rte_strerror(rte_errno));
		out.last_refusal = rte_errno;
		out.refused += nb_tx - ok;
	}
	uint16_t sent = 0;
	for (int tries = 0; sent < ok && tries < 100000 && !quit; tries++)
		sent = static_cast<uint16_t>(sent +
					     rte_eth_tx_burst(out.id, 0, tx + sent, ok - sent));
	out.tx += sent;
	out.dropped += ok - sent;
	if (sent < nb_tx)
		rte_pktmbuf_free_bulk(tx + sent, nb_tx - sent);
	return received;
}

void on_signal(int)
{
	quit = 1;
}

} // namespace

int main(int argc, char **argv)
{
	rte_set_application_usage_hook(usage);
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		std::fprintf(stderr, "xf-offload-fwd: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	Options opt;
	if (!parse_options(argc - used, argv + used, opt))
		return 2;
	if (rte_eth_dev_count_avail() != 2) {
		std::fprintf(stderr, "xf-offload-fwd: needs exactly two ports, found %u\n",
			     rte_eth_dev_count_avail());
		return 1;
	}
	rte_mempool *mp = rte_pktmbuf_pool_create("fwd", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						  rte_socket_id());
	rte_mempool *indirect =
		rte_pktmbuf_pool_create("fwd_indirect", 8191, 256, 0, 0, rte_socket_id());
	if (mp == nullptr || indirect == nullptr) {
		std::fprintf(stderr, "xf-offload-fwd: mempool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	Port ports[2];
	uint16_t pid;
	int k = 0;
	RTE_ETH_FOREACH_DEV(pid) ports[k++].id = pid;
	for (Port &p : ports)
		if (!setup_port(p, mp, opt.offloads))
			return 1;
	rte_gso_ctx gso{};
	gso.direct_pool = mp;
	gso.indirect_pool = indirect;
	gso.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
	gso.gso_size = static_cast<uint16_t>(opt.mss + 14 + 20 + 32);
	std::signal(SIGINT, on_signal);
	std::signal(SIGTERM, on_signal);
	for (Port &p : ports) {
		rte_eth_link link{};
		for (int i = 0; i < 100 && !quit; i++) {
			if (rte_eth_link_get_nowait(p.id, &link) == 0 && link.link_status)
				break;
			rte_delay_ms(100);
		}
	}
	std::printf("forwarding (offloads %s)\n", opt.offloads ? "on" : "off");
	std::fflush(stdout);
	/* Poll; after a while without packets, nap briefly so the kernels this
	 * shares the CPUs with (the TCP endpoints) get to run. */
	unsigned idle = 0;
	while (!quit) {
		uint16_t got = forward(ports[0], ports[1], opt, &gso);
		got = static_cast<uint16_t>(got + forward(ports[1], ports[0], opt, &gso));
		idle = got ? 0 : idle + 1;
		if (idle > 64 && opt.idle_sleep_us)
			rte_delay_us_sleep(opt.idle_sleep_us);
	}
	for (const Port &p : ports)
		std::printf("port %u: rx %lu tx %lu dropped %lu refused %lu merged %lu tso %lu "
			    "soft_segmented %lu\n",
			    p.id, p.rx, p.tx, p.dropped, p.refused, p.merged, p.tso,
			    p.soft_segmented);
	for (Port &p : ports) {
		rte_eth_dev_stop(p.id);
		rte_eth_dev_close(p.id);
	}
	rte_eal_cleanup();
	return 0;
}
