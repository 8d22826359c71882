/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The one place that includes Xen's netif protocol headers. The structs,
 * flags and ring macros all come from xen/io/netif.h and xen/io/ring.h;
 * nothing here redeclares them. */

#include <cstddef>
#include <cstdint>
#include <cstring>

/* The build defines __XEN_TOOLS__ (meson.build): at the tools interface
 * version ring.h leaves the barriers to us. */
#ifndef __XEN_TOOLS__
#error "build with -D__XEN_TOOLS__=1"
#endif

/* ring.h's barriers. xen_mb orders the producer-index store before the
 * event-index load in RING_PUSH_*_AND_CHECK_NOTIFY and RING_FINAL_CHECK_*;
 * a release (acquire) fence is enough for wmb (rmb). */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

extern "C" {
#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>
}

namespace xen
{

constexpr size_t page_size = 4096; /* XEN_PAGE_SIZE: grants are 4 KiB frames */

/* One page per ring, so 256 slots: netif has no multi-page rings. */
constexpr unsigned tx_ring_size = __CONST_RING_SIZE(netif_tx, page_size);
constexpr unsigned rx_ring_size = __CONST_RING_SIZE(netif_rx, page_size);
constexpr unsigned ctrl_ring_size = __CONST_RING_SIZE(xen_netif_ctrl, page_size);

/* Linux netback drops a packet of more slots than XEN_NETIF_NR_SLOTS_MIN
 * (18) and treats 20 or more as a fatal frontend error
 * (xen-netback/netback.c, fatal_skb_slots). A frontend never sends more. */
constexpr unsigned max_tx_slots_per_packet = XEN_NETIF_NR_SLOTS_MIN;
constexpr unsigned fatal_tx_slots_per_packet = 20;

/* netif_tx_request.size is 16 bits: a packet is at most 64 KiB - 1. */
constexpr unsigned max_packet_size = XEN_NETIF_MAX_TX_SIZE;

static_assert(sizeof(netif_tx_request) == 12, "netif tx request is 12 octets");
static_assert(sizeof(netif_tx_response) == 4, "netif tx response");
static_assert(sizeof(netif_rx_request) == 8, "netif rx request");
static_assert(sizeof(netif_rx_response) == 8, "netif rx response is 8 octets");
static_assert(sizeof(netif_extra_info) == 8, "extra info fits an rx slot");
static_assert(sizeof(netif_tx_sring) <= page_size && sizeof(netif_rx_sring) <= page_size);
static_assert(tx_ring_size == 256 && rx_ring_size == 256, "one-page netif rings");

} // namespace xen
