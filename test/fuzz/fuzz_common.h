/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* What the data-path fuzzers share: DPDK's EAL without hugepages or PCI, a
 * mempool whose in-use count must come back to zero, and stand-ins for the
 * two things the data path reaches outside itself (the event-channel
 * notify, and the log types its registration file would define). */

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

extern "C" {
#include <xenevtchn.h>
}

#include "fuzz_check.h"

/* The data path notifies the backend through xenevtchn_notify; here the
 * notification goes nowhere and is counted. */
extern uint64_t fuzz_notifications;

namespace fuzz
{

/* Starts the EAL once (from LLVMFuzzerInitialize) and creates `name`: mbufs
 * of `data_room` bytes after the headroom, no per-lcore cache, so that
 * rte_mempool_in_use_count() is exact. Exits on failure: the harness, not
 * the code under test, is broken then. */
rte_mempool *init_eal_and_pool(const char *name, unsigned count, uint16_t data_room);

} // namespace fuzz
