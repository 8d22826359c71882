/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "fuzz_common.h"

#include <filesystem>
#include <string>

#include <unistd.h>

uint64_t fuzz_notifications;

extern "C" {
/* Defined by xenfront_register.c in the driver; the fuzzers log to a type
 * of their own, quiet below CRIT so that expected errors do not flood. */
int xenfront_logtype_init;
int xenfront_logtype_driver;

int xenevtchn_notify(xenevtchn_handle *, evtchn_port_t)
{
	fuzz_notifications++;
	return 0;
}
}

namespace fuzz
{

rte_mempool *init_eal_and_pool(const char *name, unsigned count, uint16_t data_room)
{
	char prefix[64];
	std::snprintf(prefix, sizeof(prefix), "--file-prefix=xf-fuzz-%d", getpid());
	const char *argv[] = {"xenfront-fuzz",  "--no-huge",          "-m",  "256",
			      "--no-pci",       "--no-shconf",        "-l",  "0",
			      "--no-telemetry", "--log-level=*:crit", prefix};
	int argc = static_cast<int>(sizeof(argv) / sizeof(argv[0]));
	if (rte_eal_init(argc, const_cast<char **>(argv)) < 0) {
		std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		std::exit(1);
	}
	/* DPDK leaves its runtime directory (13 MB of memory map without
	 * hugepages) behind; --in-memory would not, but --no-huge refuses it. */
	static std::string runtime_dir = rte_eal_get_runtime_dir();
	std::atexit([] { std::filesystem::remove_all(runtime_dir); });
	int type = rte_log_register_type_and_pick_level("xenfront.fuzz", RTE_LOG_CRIT);
	xenfront_logtype_init = type;
	xenfront_logtype_driver = type;
	rte_mempool *mp = rte_pktmbuf_pool_create(name, count, 0, 0,
						  RTE_PKTMBUF_HEADROOM + data_room, SOCKET_ID_ANY);
	if (mp == nullptr) {
		std::fprintf(stderr, "rte_pktmbuf_pool_create: %s\n", rte_strerror(rte_errno));
		std::exit(1);
	}
	return mp;
}

} // namespace fuzz
