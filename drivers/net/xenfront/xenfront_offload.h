/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Transmit offloads: what an mbuf's ol_flags ask for, mapped onto what netif
 * can say (netif.h "Guest transmit": NETTXF_csum_blank, NETTXF_data_validated
 * and a XEN_NETIF_EXTRA_TYPE_GSO extra slot) and onto what the driver does
 * itself in its copy of the packet (the IPv4 header checksum, lengths of a
 * segmentation-offloaded packet, an L4 checksum the backend cannot complete).
 *
 * The blank checksum follows Linux's CHECKSUM_PARTIAL, which netback turns
 * a csum_blank packet into: the L4 checksum field holds the folded
 * pseudo-header sum over the packet's real L4 length, and the backend
 * completes it (skb_checksum_setup). Netback can parse only untagged IPv4
 * and IPv6 (with hop-by-hop/destination options) headers; anything else
 * gets its checksum computed here instead. */

#include <cstdint>

#include <rte_mbuf.h>

namespace xenfront
{

/* What the backend accepts (its feature-* keys). */
struct TxOffloadCaps {
	bool ipv4_csum = false; /* no feature-no-csum-offload=1 */
	bool ipv6_csum = false; /* feature-ipv6-csum-offload=1 */
	bool gso_tcpv4 = false; /* feature-gso-tcpv4=1 */
	bool gso_tcpv6 = false; /* feature-gso-tcpv6=1 */
};

enum class L4Csum : uint8_t {
	none,  /* leave the L4 checksum as the application wrote it */
	blank, /* pseudo-header sum in the field, NETTXF_csum_blank: the backend completes */
	full,  /* computed here */
};

struct TxOffloadPlan {
	uint16_t netif_flags = 0; /* NETTXF_* for the first request */
	uint8_t gso_type = 0;     /* XEN_NETIF_GSO_TYPE_*; NONE: no GSO extra slot */
	uint16_t gso_size = 0;
	bool ipv6 = false;
	bool ipv4_header_csum = false;
	bool set_ip_length = false; /* segmentation: lengths of the whole packet */
	L4Csum l4 = L4Csum::none;
	uint8_t l4_proto = 0; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t l3_off = 0;  /* = l2_len */
	uint16_t l4_off = 0;  /* = l2_len + l3_len */
};

/* The ol_flags this driver acts on; anything else in RTE_MBUF_F_TX_OFFLOAD_MASK
 * is refused. */
constexpr uint64_t tx_offload_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 |
				      RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK |
				      RTE_MBUF_F_TX_TCP_SEG;

/* Checks what `m` asks for against its headers and the backend's
 * capabilities; 0 with `plan` filled, or -EINVAL (inconsistent request) /
 * -ENOTSUP (something netif or this driver cannot do). Reads headers only. */
int plan_tx_offload(const rte_mbuf *m, const TxOffloadCaps &caps, TxOffloadPlan &plan) noexcept;

/* Applies `plan` to `frame`, the first bytes of this driver's own copy of
 * `m` (at least l2+l3+l4 of them); reads the L4 payload from `m` when the
 * checksum is computed here. */
void apply_tx_offload(uint8_t *frame, const rte_mbuf *m, const TxOffloadPlan &plan) noexcept;

} // namespace xenfront
