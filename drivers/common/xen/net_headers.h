/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Just enough packet parsing for netif's offloads, in the shape Linux's
 * skb_checksum_setup() accepts: Ethernet (one VLAN tag at most), IPv4 with
 * options or IPv6 with hop-by-hop/destination-options headers, then TCP or
 * UDP. Control of what is parsed stays in one place, shared by both drivers.
 *
 * Checksum helpers write into the packet: the headers must lie in the
 * mbuf's first segment and the mbuf must be writable (direct, refcnt 1). */

#include <cstdint>

#include <rte_mbuf.h>

namespace xen
{

struct NetHeaders {
	uint16_t l2_len = 0;
	uint16_t l3_len = 0;
	uint16_t l4_len = 0;  /* TCP header with options, or 8 for UDP */
	uint8_t l4_proto = 0; /* IPPROTO_TCP or IPPROTO_UDP */
	bool ipv6 = false;
	bool vlan = false;
	bool fragment = false; /* IPv4 MF/offset: no L4 checksum of its own */
};

/* One's-complement sum folded to 16 bits. */
inline uint16_t fold_csum(uint32_t sum) noexcept
{
	sum = (sum >> 16) + (sum & 0xffff);
	sum = (sum >> 16) + (sum & 0xffff);
	return static_cast<uint16_t>(sum);
}

/* Unfolded pseudo-header sum for `l4_len` bytes of protocol `proto` after
 * the IPv4 or IPv6 header at `l3` (RFC 793, RFC 8200 section 8.1). */
uint32_t pseudo_header_sum(const uint8_t *l3, bool ipv6, uint8_t proto, uint32_t l4_len) noexcept;

/* Parses `m`; false if it is not TCP or UDP over IPv4/IPv6 as above, or
 * its headers are truncated. */
bool parse_net_headers(const rte_mbuf *m, NetHeaders &h) noexcept;

/* True if the headers sit in the first segment and it may be written. */
bool headers_writable(const rte_mbuf *m, const NetHeaders &h) noexcept;

/* The L4 checksum field holds the folded pseudo-header sum (a blank
 * checksum, Linux CHECKSUM_PARTIAL): replace it with the real checksum. */
void complete_blank_csum(rte_mbuf *m, const NetHeaders &h) noexcept;

/* Computes the L4 checksum from scratch, whatever the field holds. */
void write_full_csum(rte_mbuf *m, const NetHeaders &h) noexcept;

/* Makes the L4 checksum blank: the folded pseudo-header sum over the real
 * L4 length. With `whole_length`, first sets the IP length fields from the
 * packet length (a segmentation-offloaded packet) and the IPv4 header
 * checksum. */
void write_blank_csum(rte_mbuf *m, const NetHeaders &h, bool whole_length) noexcept;

/* The IPv4 header checksum, in place. */
void write_ipv4_header_csum(rte_mbuf *m, const NetHeaders &h) noexcept;

/* A flow's hash, the same for every packet of the flow, as Linux's
 * skb_get_hash() (the flow dissector's keys, jhash with a seed): the
 * addresses, the protocol and, for TCP, UDP, UDP-Lite and SCTP outside IP
 * fragments, the ports, over IPv4 and IPv6 (one VLAN tag skipped; IPv6
 * extension headers not walked: the next header as found). Fragments of
 * IPv4 hash without ports, all of them alike; a frame that is not IP
 * hashes by its EtherType. Reads the headers through rte_pktmbuf_read. */
uint32_t flow_hash(const rte_mbuf *m, uint32_t seed) noexcept;

} // namespace xen
