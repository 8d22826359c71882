/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Software fan-out (devarg fanout=1): more queue pairs for the application
 * than the backend offers, or RSS from a backend without a control ring.
 *
 * The backend's netif queue pairs ("rings") are those of application queues
 * 0..nb_rings-1; application queue q belongs to the group of ring
 * q % nb_rings. Every application rx queue reads from its own lock-free
 * rte_ring. Whichever lcore of a group finds its rte_ring short takes the
 * group's drain lock (trylock: never waits), reads the ring's packets and
 * puts each on the rte_ring of the queue its hash maps to: the backend's
 * hash (XEN_NETIF_EXTRA_TYPE_HASH) when it steers for us over the control
 * ring, else netif's Toeplitz computed here. A flow maps to one queue and
 * passes through one ring and one rte_ring, so its order is kept. Draining
 * stops where any destination rte_ring would overflow: the backend's ring
 * then fills and the backend drops, as a NIC without descriptors does.
 *
 * Transmit: application tx queue q sends on ring q % nb_rings under that
 * ring's tx lock, so several lcores may share a ring. There are no more
 * rings than rx queues: with fewer tx queues, the rings beyond them have
 * a tx queue of the driver's own that sends nothing (Adapter::ring_txq).
 *
 * Lives in rte_malloc memory: the data path and secondary processes (stats)
 * read it. */

#include <cstdint>
#include <span>
#include <string>

#include <rte_ring.h>
#include <rte_spinlock.h>

#include "toeplitz.h"
#include "xenfront.h"

namespace xenfront
{

/* Per application rx queue; a power of two, a few rings' worth. */
constexpr unsigned fanout_ring_size = 1024;

struct alignas(RTE_CACHE_LINE_SIZE) FanoutRing {
	rte_spinlock_t drain_lock; /* held by the lcore reading the netif ring */
	rte_spinlock_t tx_lock;    /* held by the lcore writing the netif ring */
	RxQueue *rxq;              /* application queue r: owns netif ring r */
	TxQueue *txq;
};

struct FanoutState {
	uint16_t nb_queues;    /* application rx queues */
	uint16_t nb_tx_queues; /* application tx queues */
	uint16_t nb_rings;     /* netif queue pairs */
	bool report_hash;      /* RTE_ETH_RX_OFFLOAD_RSS_HASH: hash into the mbuf */
	FanoutRing rings[max_queue_pairs];
	rte_ring *queues[max_queue_pairs]; /* one per application rx queue */
	/* Software steering (when the backend does not hash): netif hash
	 * types, Toeplitz key and the application's redirection table. Written
	 * by the control path entry by entry while traffic flows, as a NIC's
	 * table is. */
	uint32_t hash_types;
	xen::ToeplitzTable table; /* of the key */
	uint16_t reta[reta_size];
};

/* Whether fan-out is needed: `nb_queues` asked (the larger of the rx and tx
 * counts), `backend_max` offered, RSS asked without a backend to hash. */
inline bool fanout_needed(uint16_t nb_queues, uint32_t backend_max, bool software_rss) noexcept
{
	return nb_queues > backend_max || software_rss;
}

/* Allocates the state and the application rx queues' rte_rings (named
 * after the port); nullptr with `error`. */
FanoutState *fanout_create(uint16_t port_id, uint16_t nb_rx_queues, uint16_t nb_tx_queues,
			   uint16_t nb_rings, int socket, std::string &error) noexcept;
/* Frees the mbufs still queued, the rte_rings and the state. */
void fanout_destroy(FanoutState *f) noexcept;
/* Frees the mbufs still queued (the port stops). */
void fanout_flush(FanoutState &f) noexcept;
/* The steering: netif hash types, Toeplitz key and the application's table
 * (entry -> queue 0..nb_queues-1). */
void fanout_set_steering(FanoutState &f, uint32_t hash_types,
			 std::span<const uint8_t, xen::toeplitz_key_size> key,
			 std::span<const uint32_t> mapping) noexcept;
/* Hooks the application queues to the state and to the rings' queues
 * (dev_start): `ring_rxq`/`ring_txq` hold nb_rings entries. */
void fanout_attach(FanoutState &f, rte_eth_dev *dev, RxQueue *const *ring_rxq,
		   TxQueue *const *ring_txq) noexcept;
/* One log line: which ring serves which queues, and how packets are steered. */
void fanout_log_layout(const FanoutState &f, const char *name, bool backend_hashes) noexcept;

/* The data path's entries (xenfront_rx_burst/xenfront_tx_burst call them
 * for a queue with `fanout` set). */
uint16_t fanout_rx_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept;
uint16_t fanout_tx_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept;

} // namespace xenfront
