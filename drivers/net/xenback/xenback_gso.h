/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Software TCP segmentation, for a GSO packet that must go where nothing
 * segments it: a guest's GSO packet to a port without LRO enabled, or a TSO
 * mbuf to a guest without feature-gso-tcpv4/6. Linux does the same in
 * skb_gso_segment() when a device lacks the feature. */

#include <cstdint>

#include <rte_mbuf.h>

#include "net_headers.h"

namespace xenback
{

/* Splits `m` into segments of at most `mss` payload bytes, each a new mbuf
 * (chain) from `mp` with its own IP length/id and checksums, TCP sequence
 * number, flags (FIN and PSH on the last only, CWR on the first only) and
 * TCP checksum. Returns how many were written to `out` (at most `max`), or
 * -1 if `max` is too small or mbufs ran out (nothing is left allocated).
 * `m` is left as it was. */
int segment_tcp(const rte_mbuf *m, const xen::NetHeaders &h, uint16_t mss, rte_mempool *mp,
		rte_mbuf **out, unsigned max) noexcept;

} // namespace xenback
