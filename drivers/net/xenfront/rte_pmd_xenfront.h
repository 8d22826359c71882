/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#ifndef RTE_PMD_XENFRONT_H
#define RTE_PMD_XENFRONT_H

/**
 * @file
 * Public API of the xenfront PMD.
 */

#include <rte_compat.h>
#include <rte_mbuf.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Completes the L4 checksum of a received packet that carries only a blank
 * one.
 *
 * With RTE_ETH_RX_OFFLOAD_TCP_CKSUM/UDP_CKSUM enabled, xenfront accepts
 * packets whose TCP/UDP checksum field holds only the pseudo-header sum
 * (netif's NETRXF_csum_blank, Linux's CHECKSUM_PARTIAL) and reports them with
 * RTE_MBUF_F_RX_L4_CKSUM_NONE: their data is known to be intact, but their
 * checksum is not filled in. An application that forwards such a packet to a
 * port without transmit checksum offload calls this first.
 *
 * @param m
 *   A packet received from a xenfront port. It is changed only if its
 *   RX L4 checksum flags say NONE; its headers must be in its first segment
 *   and it must be writable (direct, reference count 1).
 * @return
 *   0 if the checksum was completed (the flags then say GOOD) or there was
 *   nothing to do; -EINVAL if the packet is not TCP or UDP over IPv4/IPv6
 *   as netif can describe it; -EPERM if it is not writable.
 */
__rte_experimental int rte_pmd_xenfront_complete_cksum(struct rte_mbuf *m);

#ifdef __cplusplus
}
#endif

#endif /* RTE_PMD_XENFRONT_H */
