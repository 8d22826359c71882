/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* xenfront-rx-intr: receives on port 0 in interrupt mode and sleeps while
 * nothing arrives, as a power-aware application (l3fwd-power) does:
 *
 *   poll rx queue 0; after --idle-polls empty polls in a row, enable its
 *   interrupt (rte_eth_dev_rx_intr_enable), sleep in rte_epoll_wait on the
 *   per-thread epoll instance, disable the interrupt when woken, poll again.
 *
 *   xenfront-rx-intr [EAL options] -- [--idle-polls N] [--hold N]
 *
 * --poll polls without sleeping (no rx interrupt: net_xenback has none);
 * --scatter enables RTE_ETH_RX_OFFLOAD_SCATTER (net_xenback's zerocopy=1
 * hands chains only to an application that takes them). SIGUSR2 frees the
 * packets held so far (holding no more). SIGUSR1 also prints port 0's
 * non-zero xstats, "rx_intr: xstat <name>=<value>".
 *
 * --hold N keeps the first N packets received instead of freeing them,
 * across the port's stop and close at exit: it prints "rx_intr: closed,
 * holding <n>", waits a second, frees them, prints "rx_intr: freed" and
 * waits another second before leaving (test/system/test_rx_copybreak.py
 * looks at the grants in between: lent pages outlive the port).
 *
 * Prints one line before each sleep that follows received packets, on
 * SIGUSR1, and at exit (SIGINT/SIGTERM):
 *
 *   rx_intr: rx=<packets> wakeups=<epoll wake-ups> sleeps=<sleeps>
 *
 * The system test (test/system/test_rx_intr.py) reads these lines and the
 * process's CPU time. */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_mbuf.h>

#define BURST 32
#define NB_DESC 256
#define NB_MBUFS 4095

static volatile sig_atomic_t quit;
static volatile sig_atomic_t report;
static volatile sig_atomic_t release_held;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else if (sig == SIGUSR2)
		release_held = 1;
	else
		quit = 1;
}

struct counters {
	uint64_t rx;
	uint64_t wakeups;
	uint64_t sleeps;
};

static void print_counters(const struct counters *c)
{
	printf("rx_intr: rx=%" PRIu64 " wakeups=%" PRIu64 " sleeps=%" PRIu64 "\n", c->rx,
	       c->wakeups, c->sleeps);
	fflush(stdout);
}

static void print_xstats(uint16_t port)
{
	int n = rte_eth_xstats_get(port, NULL, 0);
	if (n <= 0)
		return;
	struct rte_eth_xstat *v = calloc((size_t)n, sizeof(*v));
	struct rte_eth_xstat_name *names = calloc((size_t)n, sizeof(*names));
	if (v != NULL && names != NULL && rte_eth_xstats_get(port, v, (unsigned int)n) == n &&
	    rte_eth_xstats_get_names(port, names, (unsigned int)n) == n)
		for (int i = 0; i < n; i++)
			if (v[i].value != 0)
				printf("rx_intr: xstat %s=%" PRIu64 "\n", names[v[i].id].name,
				       v[i].value);
	free(v);
	free(names);
	fflush(stdout);
}

static int setup_port(uint16_t port, int poll, int scatter)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.intr_conf.rxq = !poll;
	if (scatter)
		conf.rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER;
	struct rte_mempool *mp = rte_pktmbuf_pool_create(
		"rx_intr_pool", NB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "rx_intr: cannot create the mbuf pool: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	/* netif queues come in pairs: one rx and one tx queue. */
	int rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL,
					    mp);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, NB_DESC, rte_eth_dev_socket_id(port), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	if (rc == 0 && !poll)
		rc = rte_eth_dev_rx_intr_ctl_q(port, 0, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD,
					       NULL);
	if (rc != 0) {
		fprintf(stderr, "rx_intr: setting up port %u failed: %s\n", port, strerror(-rc));
		return -1;
	}
	return 0;
}

/* Printed by EAL's --help (before EAL's options) and by -- --help. */
static void usage(const char *prgname)
{
	printf("usage: %s [EAL options] -- [--idle-polls N] [--hold N] [--poll] [--scatter]\n"
	       "Receives on port 0 in rx interrupt mode: sleeps on the queue's event\n"
	       "channel once N polls (--idle-polls, default 100) found nothing.\n"
	       "  --hold N   keep the first N mbufs received until exit (or SIGUSR2)\n"
	       "  --poll     never sleep (no rx interrupt)\n"
	       "  --scatter  enable RTE_ETH_RX_OFFLOAD_SCATTER\n",
	       prgname);
}

int main(int argc, char **argv)
{
	rte_set_application_usage_hook(usage);
	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "rx_intr: cannot initialise the EAL: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	unsigned long idle_polls = 100;
	unsigned long hold = 0;
	int poll = 0;
	int scatter = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage("xenfront-rx-intr");
			return 0;
		}
		if (strcmp(argv[i], "--idle-polls") == 0 && i + 1 < argc) {
			idle_polls = strtoul(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc && hold == 0) {
			hold = strtoul(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--poll") == 0) {
			poll = 1;
		} else if (strcmp(argv[i], "--scatter") == 0) {
			scatter = 1;
		} else {
			fprintf(stderr, "usage: xenfront-rx-intr [EAL options] -- "
					"[--idle-polls N] [--hold N]\n");
			return 2;
		}
	}
	struct rte_mbuf **held = hold > 0 ? calloc(hold, sizeof(*held)) : NULL;
	unsigned long nb_held = 0;
	if (hold > 0 && held == NULL) {
		fprintf(stderr, "rx_intr: no memory to hold %lu packets\n", hold);
		return 1;
	}
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "rx_intr: no ethdev port\n");
		return 1;
	}
	const uint16_t port = 0;
	if (setup_port(port, poll, scatter) != 0)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	/* The fd ethdev epolls for queue 0 (an application may epoll it itself). */
	printf("rx_intr: port %u ready, queue 0 fd %d\n", port,
	       poll ? -1 : rte_eth_dev_rx_intr_ctl_q_get_fd(port, 0));
	fflush(stdout);

	struct counters c = {0, 0, 0};
	uint64_t printed_rx = 0;
	unsigned long idle = 0;
	struct rte_mbuf *pkts[BURST];
	while (!quit) {
		if (report) {
			report = 0;
			print_xstats(port);
			print_counters(&c);
		}
		if (release_held) {
			release_held = 0;
			rte_pktmbuf_free_bulk(held, (unsigned int)nb_held);
			printf("rx_intr: released %lu\n", nb_held);
			fflush(stdout);
			nb_held = 0;
			hold = 0;
		}
		uint16_t got = rte_eth_rx_burst(port, 0, pkts, BURST);
		if (got > 0) {
			c.rx += got;
			uint16_t kept = 0;
			while (nb_held < hold && kept < got)
				held[nb_held++] = pkts[kept++];
			rte_pktmbuf_free_bulk(pkts + kept, got - kept);
			idle = 0;
			continue;
		}
		if (++idle < idle_polls || poll)
			continue;
		idle = 0;
		if (c.rx != printed_rx) {
			printed_rx = c.rx;
			print_counters(&c);
		}
		/* Sleep until the queue's event channel fires (or a signal). */
		rte_eth_dev_rx_intr_enable(port, 0);
		struct rte_epoll_event ev;
		c.sleeps++;
		int woke = rte_epoll_wait_interruptible(RTE_EPOLL_PER_THREAD, &ev, 1, -1);
		if (woke > 0)
			c.wakeups++;
		rte_eth_dev_rx_intr_disable(port, 0);
	}
	print_counters(&c);
	if (!poll)
		rte_eth_dev_rx_intr_ctl_q(port, 0, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_DEL, NULL);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	if (hold > 0) {
		printf("rx_intr: closed, holding %lu\n", nb_held);
		fflush(stdout);
		sleep(1);
		rte_pktmbuf_free_bulk(held, (unsigned int)nb_held);
		free(held);
		printf("rx_intr: freed\n");
		fflush(stdout);
		sleep(1);
	}
	rte_eal_cleanup();
	return 0;
}
