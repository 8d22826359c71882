/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* xenfront-zero-copy: sends frames of a known pattern through a
 * net_xenfront port, from an mbuf pool granted to the backend
 * (rte_pmd_xenfront_pktmbuf_pool_create: sent without a copy) or from an
 * ordinary pool (copied into the queue's pages), and prints the rate. From
 * an ordinary pool it also drives the first port of any other PMD (when
 * there is no net_xenfront port), as the same generator for comparison.
 *
 *   xenfront-zero-copy [EAL options] -- [--pool granted|ordinary]
 *       [--size BYTES] [--seg-size BYTES] [--count N] [--seconds S]
 *       [--mbufs N] [--secret] [--pause]
 *
 * Every frame is --size bytes long, chained from segments of --seg-size
 * bytes (default: one segment). Each segment's data is the same block: an
 * Ethernet header (to 02:00:00:00:00:02 from the port's MAC, EtherType
 * 0x88b5, local experimental) followed by byte j = (j * 7 + 1) & 0xff at
 * offset j. The block is written into every mbuf of the pool once, at the
 * start; per frame only the header is written again, as a generator that
 * keeps its payloads in place would (test/system/test_zero_copy.py
 * rebuilds the frames from this description).
 *
 * It sends --count frames (0: no limit) for at most --seconds (default 60),
 * retrying what the port does not take, and prints
 *
 *   zero_copy: pool=<kind> size=<bytes> sent=<frames> seconds=<s> pps=<rate>
 *              zero_copy_packets=<xstat> pool_back=<free mbufs>/<mbufs>
 *
 * where pool_back counts the pool's mbufs back in the pool after the port
 * was stopped (all of them: the port holds none once stopped). With
 * --pause it prints "zero_copy: paused <stage>" and waits for a line on
 * stdin at three stages: probed (nothing granted yet), ready (pool made,
 * port started), closed (port stopped and closed, pool freed).
 *
 * --secret writes the 16 bytes "XF-SECRET-MARKER" over and over into every
 * mbuf's headroom, memory of the application's that is in no frame: a
 * backend that finds it (net_xenback hostile=snoop counts it) has seen
 * more than the vif's frames (test/system/test_untrusted.py). */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <rte_pmd_xenfront.h>

#define BURST 32
#define NB_DESC 256
#define ETHERTYPE_LOCAL 0x88b5

struct options {
	int granted;
	uint32_t size;
	uint32_t seg_size;
	uint64_t count;
	double seconds;
	unsigned int mbufs;
	int secret;
	int pause;
};

static void pause_at(const struct options *o, const char *stage)
{
	char line[64];
	if (!o->pause)
		return;
	printf("zero_copy: paused %s\n", stage);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return;
}

/* Printed by EAL's --help (before EAL's options) and by -- --help. */
static void usage(const char *prgname)
{
	printf("usage: %s [EAL options] -- [--pool granted|ordinary] [--size BYTES]\n"
	       "         [--seg-size BYTES] [--count N] [--seconds S] [--mbufs N] [--secret]\n"
	       "         [--pause]\n"
	       "Sends frames of a known pattern through the first net_xenfront port (else\n"
	       "the first port) from a pool granted to the backend (default: no copy)\n"
	       "or an ordinary one, and prints the rate.\n"
	       "  --size BYTES      frame length (default 1500)\n"
	       "  --seg-size BYTES  mbuf segment length (default: the frame in one)\n"
	       "  --count N         frames to send (default 0: for --seconds)\n"
	       "  --seconds S       how long to send (default 60)\n"
	       "  --mbufs N         pool size (default 1024)\n"
	       "  --secret          write a marker into every mbuf's headroom (no frame has it)\n"
	       "  --pause           wait for a line on stdin before and after sending\n",
	       prgname);
}

static int parse(int argc, char **argv, struct options *o)
{
	o->granted = 1;
	o->size = 1500;
	o->seg_size = 0;
	o->count = 0;
	o->seconds = 60;
	o->mbufs = 1024;
	o->secret = 0;
	o->pause = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage("xenfront-zero-copy");
			exit(0);
		}
		if (strcmp(a, "--pause") == 0) {
			o->pause = 1;
			continue;
		}
		if (strcmp(a, "--secret") == 0) {
			o->secret = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "zero_copy: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--pool") == 0 && strcmp(v, "granted") == 0)
			o->granted = 1;
		else if (strcmp(a, "--pool") == 0 && strcmp(v, "ordinary") == 0)
			o->granted = 0;
		else if (strcmp(a, "--size") == 0)
			o->size = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--seg-size") == 0)
			o->seg_size = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(a, "--count") == 0)
			o->count = strtoull(v, NULL, 0);
		else if (strcmp(a, "--seconds") == 0)
			o->seconds = strtod(v, NULL);
		else if (strcmp(a, "--mbufs") == 0)
			o->mbufs = (unsigned int)strtoul(v, NULL, 0);
		else {
			fprintf(stderr, "zero_copy: unknown option %s %s\n", a, v);
			return -1;
		}
	}
	if (o->size < RTE_ETHER_HDR_LEN || o->size > 65535) {
		fprintf(stderr, "zero_copy: --size must be 14 to 65535\n");
		return -1;
	}
	if (o->seg_size == 0 || o->seg_size > o->size)
		o->seg_size = o->size;
	if (o->seg_size < RTE_ETHER_HDR_LEN) {
		fprintf(stderr, "zero_copy: --seg-size must be at least 14\n");
		return -1;
	}
	return 0;
}

/* The block every segment starts with: header, then the byte pattern. */
static void fill_block(uint8_t *p, uint32_t len, const struct rte_ether_addr *src)
{
	for (uint32_t j = 0; j < len; j++)
		p[j] = (uint8_t)(j * 7 + 1);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	const struct rte_ether_addr dst = {{0x02, 0, 0, 0, 0, 0x02}};
	rte_ether_addr_copy(&dst, &eth->dst_addr);
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(ETHERTYPE_LOCAL);
}

/* The marker, over and over, in the headroom: before the frame, in none. */
static void fill_secret(struct rte_mbuf *m)
{
	static const char marker[] = "XF-SECRET-MARKER";
	uint8_t *p = (uint8_t *)m->buf_addr;
	for (uint16_t j = 0; j < m->data_off; j++)
		p[j] = (uint8_t)marker[j % (sizeof(marker) - 1)];
}

/* Writes the block into every mbuf of the pool once (and the secret). */
static int prefill(struct rte_mempool *mp, uint32_t seg_size, const struct rte_ether_addr *src,
		   int secret)
{
	unsigned int n = mp->size;
	struct rte_mbuf **all = calloc(n, sizeof(*all));
	if (all == NULL)
		return -1;
	unsigned int got = 0;
	while (got < n && (all[got] = rte_pktmbuf_alloc(mp)) != NULL)
		got++;
	for (unsigned int i = 0; i < got; i++) {
		if (secret)
			fill_secret(all[i]);
		fill_block(rte_pktmbuf_mtod(all[i], uint8_t *), seg_size, src);
	}
	rte_pktmbuf_free_bulk(all, got);
	free(all);
	return 0;
}

/* One frame: --size bytes in segments of --seg-size. */
static struct rte_mbuf *make_frame(struct rte_mempool *mp, const struct options *o,
				   const struct rte_ether_addr *src)
{
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t left = o->size;
	while (left > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint32_t n = left < o->seg_size ? left : o->seg_size;
		m->data_len = (uint16_t)n;
		if (head == NULL) {
			head = m;
			head->pkt_len = 0;
		} else {
			last->next = m;
			head->nb_segs++;
		}
		head->pkt_len += n;
		last = m;
		left -= n;
	}
	/* The header again, as a generator writes its frames' headers. */
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(head, struct rte_ether_hdr *);
	rte_ether_addr_copy(src, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(ETHERTYPE_LOCAL);
	return head;
}

static uint64_t xstat(uint16_t port, const char *name)
{
	uint64_t id, value = 0;
	if (rte_eth_xstats_get_id_by_name(port, name, &id) == 0)
		rte_eth_xstats_get_by_id(port, &id, &value, 1);
	return value;
}

static int setup_port(uint16_t port, const struct options *o)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_info_get(port, &info) != 0)
		return -1;
	/* Frames longer than the default MTU's need a larger MTU (the vif's
	 * mtu node bounds it); received frames are chained. */
	if (o->size > RTE_ETHER_MAX_LEN - RTE_ETHER_CRC_LEN)
		conf.rxmode.mtu = o->size - RTE_ETHER_HDR_LEN;
	conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	struct rte_mempool *rx = rte_pktmbuf_pool_create(
		"zc_rx", 1023, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (rx == NULL)
		return -1;
	int rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL,
					    rx);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL);
	if (rc != 0)
		fprintf(stderr, "zero_copy: port %u setup failed: %s\n", port, rte_strerror(-rc));
	return rc;
}

/* Every mbuf back in the pool and no request the backend has not answered
 * (the oldest descriptor of the ring done). A PMD without descriptor status
 * answers -ENOTSUP: then the pool is all there is to go by. */
static int all_answered(uint16_t port, struct rte_mempool *mp)
{
	if (rte_mempool_avail_count(mp) < mp->size)
		return 0;
	struct rte_eth_txq_info qinfo;
	if (rte_eth_tx_queue_info_get(port, 0, &qinfo) != 0 || qinfo.nb_desc == 0)
		return 1;
	return rte_eth_tx_descriptor_status(port, 0, (uint16_t)(qinfo.nb_desc - 1)) !=
	       RTE_ETH_TX_DESC_FULL;
}

int main(int argc, char **argv)
{
	struct options o;
	rte_set_application_usage_hook(usage);
	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "zero_copy: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (parse(argc - n, argv + n, &o) != 0) {
		rte_eal_cleanup();
		return 2;
	}
	uint16_t port = RTE_MAX_ETHPORTS;
	uint16_t p;
	RTE_ETH_FOREACH_DEV(p)
	{
		struct rte_eth_dev_info info;
		if (rte_eth_dev_info_get(p, &info) == 0 &&
		    strcmp(info.driver_name, "net_xenfront") == 0) {
			port = p;
			break;
		}
	}
	/* From an ordinary pool the generator runs over any PMD's first port,
	 * so that its rate can be compared with theirs (test/perf/
	 * zero_copy_ab.py --peers). */
	if (port == RTE_MAX_ETHPORTS && !o.granted && rte_eth_dev_count_avail() > 0)
		port = rte_eth_find_next(0);
	int status = 1;
	if (port == RTE_MAX_ETHPORTS) {
		fprintf(stderr, "zero_copy: no net_xenfront port\n");
		goto out;
	}
	pause_at(&o, "probed");

	const uint16_t room = (uint16_t)(RTE_PKTMBUF_HEADROOM + o.seg_size);
	struct rte_mempool *mp =
		o.granted ? rte_pmd_xenfront_pktmbuf_pool_create("zc_tx", port, o.mbufs, 64, 0,
								 room, rte_socket_id())
			  : rte_pktmbuf_pool_create("zc_tx", o.mbufs, 64, 0, room, rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "zero_copy: cannot create the %s pool: %s\n",
			o.granted ? "granted" : "ordinary", rte_strerror(rte_errno));
		goto out;
	}
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port, &mac);
	if (setup_port(port, &o) != 0 || prefill(mp, o.seg_size, &mac, o.secret) != 0 ||
	    rte_eth_dev_start(port) != 0) {
		fprintf(stderr, "zero_copy: cannot start port %u\n", port);
		rte_mempool_free(mp);
		goto out;
	}
	struct rte_eth_link link;
	for (int i = 0; i < 100; i++) {
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			break;
		rte_delay_ms(100);
	}
	pause_at(&o, "ready");

	struct rte_mbuf *pending[BURST];
	unsigned int nb_pending = 0;
	uint64_t sent = 0;
	const uint64_t hz = rte_get_timer_hz();
	const uint64_t start = rte_get_timer_cycles();
	const uint64_t end = start + (uint64_t)(o.seconds * (double)hz);
	uint64_t now = start;
	while ((o.count == 0 || sent < o.count) && now < end) {
		while (nb_pending < BURST && (o.count == 0 || sent + nb_pending < o.count)) {
			struct rte_mbuf *m = make_frame(mp, &o, &mac);
			if (m == NULL)
				break;
			pending[nb_pending++] = m;
		}
		uint16_t done = rte_eth_tx_burst(port, 0, pending, (uint16_t)nb_pending);
		sent += done;
		memmove(pending, pending + done, (nb_pending - done) * sizeof(pending[0]));
		nb_pending -= done;
		now = rte_get_timer_cycles();
	}
	const double seconds = (double)(now - start) / (double)hz;
	rte_pktmbuf_free_bulk(pending, nb_pending);
	/* Give the backend a moment to answer every request; a burst of nothing
	 * still takes the answers in. A copied frame's mbuf is back in the pool
	 * as soon as it is in the ring, so the pool alone does not say the
	 * backend has read it: stopping the port earlier would drop it. */
	for (int i = 0; i < 200 && !all_answered(port, mp); i++) {
		rte_eth_tx_burst(port, 0, NULL, 0);
		rte_delay_ms(5);
	}
	const uint64_t zc = xstat(port, "tx_q0_zero_copy_packets");
	rte_eth_dev_stop(port);
	const unsigned int back = rte_mempool_avail_count(mp);
	printf("zero_copy: pool=%s size=%u sent=%" PRIu64 " seconds=%.3f pps=%.0f "
	       "zero_copy_packets=%" PRIu64 " pool_back=%u/%u\n",
	       o.granted ? "granted" : "ordinary", o.size, sent, seconds,
	       seconds > 0 ? (double)sent / seconds : 0.0, zc, back, mp->size);
	fflush(stdout);
	status = back == mp->size ? 0 : 3;
	rte_eth_dev_close(port);
	rte_mempool_free(mp);
	pause_at(&o, "closed");
out:
	rte_eal_cleanup();
	return status;
}
