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
#include <rte_mempool.h>

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

/**
 * Creates an mbuf pool whose memory is granted to a xenfront port's backend,
 * so that the port transmits its mbufs without copying them.
 *
 * Like rte_pktmbuf_pool_create(), but the pool's memory is gntalloc pages
 * (xengntshr_share_pages) granted read-only to the domain of the backend of
 * @p port_id, once, here. The port's transmit path recognises mbufs whose
 * data (every segment, also through indirect mbufs) lies in this memory and
 * names the granted pages in its netif requests instead of copying the
 * data; it holds each such mbuf until the backend has answered its requests,
 * then frees it. Packets shorter than the driver's copy-break (256 bytes)
 * and packets with transmit offloads (checksum, TSO) are still copied; the
 * per-queue xstat tx_qN_zero_copy_packets counts those that were not.
 * Mbufs of this pool may be sent on other ports too: there they are
 * ordinary mbufs.
 *
 * Free the pool with rte_mempool_free() once the port no longer holds any
 * of its mbufs (after rte_eth_dev_stop(), which gives back the mbufs the
 * backend has not answered, or once every packet has been answered); that
 * revokes the grants and unmaps the memory. The pool may outlive the port.
 *
 * Budget: the pool takes one grant per 4 KiB of its memory (about
 * n * (data_room_size + priv_size + 192) / 4096). Linux gntalloc allows
 * 1024 grants per domain by default (its "limit" module parameter,
 * /sys/module/xen_gntalloc/parameters/limit), and each queue pair of a
 * started xenfront port already holds 514 of them; under xensim the limit
 * is xensim start --gntalloc-limit. The hypervisor's grant table
 * (gnttab_max_frames) bounds the total as well.
 *
 * Security: while the pool exists the backend domain can read all of its
 * memory, including mbufs that are free or used for other traffic. Do not
 * put data in it that the backend must not see.
 *
 * Only the primary process may create such a pool; its memory is mapped in
 * that process only. Its mbufs have IOVA addresses only when the EAL runs in
 * IOVA-as-VA mode (not for devices that DMA).
 *
 * @param name
 *   The mempool's name.
 * @param port_id
 *   A probed net_xenfront port (its backend's domain receives the grants).
 * @param n, cache_size, priv_size, data_room_size, socket_id
 *   As for rte_pktmbuf_pool_create().
 * @return
 *   The pool, or NULL with rte_errno set: EINVAL (bad argument),
 *   ENODEV (not a probed net_xenfront port), E_RTE_SECONDARY (not the
 *   primary process), ENOSPC (the grants could not be made, e.g. the
 *   gntalloc limit, or the port has 8 granted pools already), ENOMEM,
 *   EEXIST (a mempool of that name exists). A log line says which.
 */
__rte_experimental struct rte_mempool *
rte_pmd_xenfront_pktmbuf_pool_create(const char *name, uint16_t port_id, unsigned int n,
				     unsigned int cache_size, uint16_t priv_size,
				     uint16_t data_room_size, int socket_id);

#ifdef __cplusplus
}
#endif

#endif /* RTE_PMD_XENFRONT_H */
