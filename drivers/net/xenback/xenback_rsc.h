/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Receive segment coalescing toward the guest (devarg rsc=1), after QEMU's
 * virtio-net RSC and Linux's tcp_gro_receive(): consecutive TCP segments of
 * one flow in a burst are sent to the guest as one GSO packet. A segment
 * joins the one before it only if it continues its data in order, carries
 * the same acknowledgement, options, IP TTL/TOS/DF and only ACK (and, last,
 * PSH) flags; SYN bypasses; FIN, RST, URG, out-of-order data, a change of
 * any of the above, or the 64 KiB limit end the run first. Segments wait
 * for nothing: only what one burst brings is merged, so no timer is needed
 * to bound their delay (it is zero). */

#include <cstdint>

#include <rte_mbuf.h>

#include "counter.h"
#include "net_headers.h"

namespace xenback
{

struct RscStats {
	xen::Counter packets;    /* GSO packets made */
	xen::Counter segments;   /* segments merged into them */
	xen::Counter bypass_syn; /* SYN segments, never merged */
	xen::Counter flush_fin_rst_urg;
	xen::Counter flush_out_of_order;
	xen::Counter flush_mismatch; /* ack, options, flags or IP fields changed */
	xen::Counter flush_size;     /* 64 KiB or the mbuf chain limit reached */
};

/* How many of `pkts[0..n)`, starting at the first, form one run that can be
 * merged (at least 1), and the length of the merged packet. IPv4 (IPv6)
 * runs only if `v4` (`v6`): the guest must accept that GSO type. Counts why
 * a run ended in `stats`. */
unsigned rsc_run_length(rte_mbuf *const *pkts, unsigned n, bool v4, bool v6, uint32_t &merged_len,
			RscStats &stats) noexcept;

/* Merges `pkts[0..count)` (a run, count >= 2) into pkts[0], a TSO packet
 * whose segment size is the first segment's payload; the others become
 * part of its chain. False (nothing changed) if it cannot be done. */
bool rsc_merge(rte_mbuf *const *pkts, unsigned count, RscStats &stats) noexcept;

} // namespace xenback
