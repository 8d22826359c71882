/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront_fanout.h"

#include <cstdio>
#include <cstring>

#include <ethdev_driver.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "xenfront_logs.h"

namespace xenfront
{
namespace
{

/* Packets read from a netif ring per step of a drain: the buckets below
 * live on the stack. */
constexpr unsigned drain_step = 64;
/* Packets a drain moves at most: one ring's worth. */
constexpr unsigned drain_max = ring_size;

/* The application queue a packet goes to: the backend's hash if it sent
 * one, else netif's Toeplitz over the enabled hash types (hash 0 when none
 * applies, as netback maps unhashed packets with mapping[0]). */
inline uint16_t steer(const FanoutState &f, rte_mbuf *m) noexcept
{
	uint32_t hash = 0;
	if (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) {
		hash = m->hash.rss;
	} else {
		uint8_t input[xen::toeplitz_max_input];
		uint8_t type = 0;
		size_t len = xen::hash_input(m, f.hash_types, input, type);
		if (len > 0)
			hash = f.table.hash(input, len);
		if (f.report_hash && len > 0) {
			m->hash.rss = hash;
			m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
		}
	}
	return f.reta[hash % reta_size];
}

/* Room left in the fullest application rte_ring: what a drain may move
 * without overflowing any. */
unsigned drain_budget(const FanoutState &f) noexcept
{
	unsigned budget = drain_max;
	for (uint16_t q = 0; q < f.nb_queues; q++)
		budget = RTE_MIN(budget, rte_ring_free_count(f.queues[q]));
	return budget;
}

/* Reads ring `r` and hands each packet to its queue's rte_ring (caller
 * holds the drain lock). */
void drain(FanoutState &f, FanoutRing &r) noexcept
{
	unsigned budget = drain_budget(f);
	while (budget > 0) {
		rte_mbuf *pkts[drain_step];
		uint16_t want = static_cast<uint16_t>(RTE_MIN(budget, drain_step));
		uint16_t got = ring_rx_burst(*r.rxq, pkts, want);
		if (got == 0)
			return;
		budget -= got;
		rte_mbuf *bucket[max_queue_pairs][drain_step];
		uint16_t count[max_queue_pairs] = {};
		for (uint16_t i = 0; i < got; i++) {
			uint16_t q = steer(f, pkts[i]);
			bucket[q][count[q]++] = pkts[i];
		}
		for (uint16_t q = 0; q < f.nb_queues; q++) {
			if (count[q] == 0)
				continue;
			unsigned put = rte_ring_mp_enqueue_burst(
				f.queues[q], reinterpret_cast<void **>(bucket[q]), count[q],
				nullptr);
			/* Only another group's drain, racing for the same rte_ring,
			 * can leave it short of the room counted above. */
			if (unlikely(put < count[q])) {
				rte_pktmbuf_free_bulk(bucket[q] + put, count[q] - put);
				r.rxq->stats.fanout_dropped += count[q] - put;
			}
		}
		if (got < want)
			return;
	}
}

/* Records the lcore serving a queue, with one log line when it changes. */
inline void note_lcore(xen::Counter &seen, const char *dir, uint16_t port, uint16_t qid,
		       uint16_t ring) noexcept
{
	unsigned lcore = rte_lcore_id();
	if (likely(seen.load() == lcore))
		return;
	seen.store(lcore);
	XF_DRV_LOG(NOTICE, "xenfront", "port %u %s queue %u (netif queue %u) served by lcore %u",
		   port, dir, qid, ring, lcore);
}

} // namespace

FanoutState *fanout_create(uint16_t port_id, uint16_t nb_queues, uint16_t nb_tx_queues,
			   uint16_t nb_rings, int socket, std::string &error) noexcept
{
	auto *f = static_cast<FanoutState *>(rte_zmalloc_socket(
		"xenfront_fanout", sizeof(FanoutState), RTE_CACHE_LINE_SIZE, socket));
	if (f == nullptr) {
		error = "no memory for the fan-out state";
		return nullptr;
	}
	f->nb_queues = nb_queues;
	f->nb_tx_queues = nb_tx_queues;
	f->nb_rings = nb_rings;
	for (auto &r : f->rings) {
		rte_spinlock_init(&r.drain_lock);
		rte_spinlock_init(&r.tx_lock);
	}
	for (uint16_t q = 0; q < nb_queues; q++) {
		char name[RTE_RING_NAMESIZE];
		std::snprintf(name, sizeof(name), "xf%u_fanout%u", port_id, q);
		/* Any group's drain may produce into it (steering crosses
		 * groups when the backend does not hash); its lcore consumes. */
		f->queues[q] = rte_ring_create(name, fanout_ring_size, socket, RING_F_SC_DEQ);
		if (f->queues[q] == nullptr) {
			error = std::string("cannot create rte_ring ") + name + ": " +
				rte_strerror(rte_errno);
			fanout_destroy(f);
			return nullptr;
		}
	}
	return f;
}

void fanout_flush(FanoutState &f) noexcept
{
	for (uint16_t q = 0; q < f.nb_queues; q++) {
		if (f.queues[q] == nullptr)
			continue;
		void *m = nullptr;
		while (rte_ring_sc_dequeue(f.queues[q], &m) == 0)
			rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
	}
}

void fanout_destroy(FanoutState *f) noexcept
{
	if (f == nullptr)
		return;
	fanout_flush(*f);
	for (uint16_t q = 0; q < f->nb_queues; q++)
		rte_ring_free(f->queues[q]);
	rte_free(f);
}

void fanout_set_steering(FanoutState &f, uint32_t hash_types,
			 std::span<const uint8_t, xen::toeplitz_key_size> key,
			 std::span<const uint32_t> mapping) noexcept
{
	f.hash_types = hash_types;
	f.table.set_key(key.data(), key.size());
	for (size_t i = 0; i < reta_size; i++) {
		uint32_t q = i < mapping.size() ? mapping[i] : 0;
		__atomic_store_n(&f.reta[i], static_cast<uint16_t>(q < f.nb_queues ? q : 0),
				 __ATOMIC_RELAXED);
	}
}

void fanout_attach(FanoutState &f, rte_eth_dev *dev, RxQueue *const *ring_rxq,
		   TxQueue *const *ring_txq) noexcept
{
	f.report_hash = dev->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_RSS_HASH;
	for (uint16_t r = 0; r < f.nb_rings; r++) {
		f.rings[r].rxq = ring_rxq[r];
		f.rings[r].txq = ring_txq[r];
	}
	for (uint16_t q = 0; q < f.nb_queues; q++) {
		auto *rxq = static_cast<RxQueue *>(dev->data->rx_queues[q]);
		rxq->fanout = &f;
		rxq->stats.lcore.store(LCORE_ID_ANY);
	}
	for (uint16_t q = 0; q < f.nb_tx_queues; q++) {
		auto *txq = static_cast<TxQueue *>(dev->data->tx_queues[q]);
		const TxQueue &ring_txq_of_q = *f.rings[q % f.nb_rings].txq;
		txq->fanout = &f;
		txq->stats.lcore.store(LCORE_ID_ANY);
		/* tx_prepare on any queue judges by its ring's backend. */
		txq->caps = ring_txq_of_q.caps;
		txq->sg = ring_txq_of_q.sg;
	}
}

void fanout_log_layout(const FanoutState &f, const char *name, bool backend_hashes) noexcept
{
	std::string layout;
	for (uint16_t r = 0; r < f.nb_rings; r++) {
		layout += (r ? "; netif queue " : "netif queue ") + std::to_string(r) + " serves";
		for (uint16_t q = r; q < f.nb_queues; q += f.nb_rings)
			layout += " " + std::to_string(q);
	}
	std::string queues = f.nb_tx_queues == f.nb_queues
				     ? std::to_string(f.nb_queues) + " queue pairs"
				     : std::to_string(f.nb_queues) + " rx and " +
					       std::to_string(f.nb_tx_queues) + " tx queues";
	XF_INIT_LOG(NOTICE, name, "software fan-out: %s over the backend's %u (%s); steering by %s",
		    queues.c_str(), f.nb_rings, layout.c_str(),
		    backend_hashes ? "the backend's hash (control ring)"
				   : "Toeplitz computed here");
}

uint16_t fanout_rx_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	FanoutState &f = *q.fanout;
	uint16_t ring = static_cast<uint16_t>(q.queue_id % f.nb_rings);
	note_lcore(q.stats.lcore, "rx", q.port_id, q.queue_id, ring);
	rte_ring *mine = f.queues[q.queue_id];
	auto **objs = reinterpret_cast<void **>(pkts);
	unsigned got = rte_ring_sc_dequeue_burst(mine, objs, nb_pkts, nullptr);
	if (got < nb_pkts) {
		FanoutRing &r = f.rings[ring];
		/* Another lcore of the group is draining: its packets for us
		 * arrive next time. */
		if (rte_spinlock_trylock(&r.drain_lock)) {
			drain(f, r);
			rte_spinlock_unlock(&r.drain_lock);
			got += rte_ring_sc_dequeue_burst(mine, objs + got, nb_pkts - got, nullptr);
		}
	}
	uint64_t bytes = 0;
	for (unsigned i = 0; i < got; i++)
		bytes += pkts[i]->pkt_len;
	q.stats.fanout_packets += got;
	q.stats.fanout_bytes += bytes;
	return static_cast<uint16_t>(got);
}

uint16_t fanout_tx_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept
{
	FanoutState &f = *q.fanout;
	uint16_t ring = static_cast<uint16_t>(q.queue_id % f.nb_rings);
	note_lcore(q.stats.lcore, "tx", q.port_id, q.queue_id, ring);
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < nb_pkts; i++)
		bytes += pkts[i]->pkt_len;
	FanoutRing &r = f.rings[ring];
	rte_spinlock_lock(&r.tx_lock);
	uint16_t sent = ring_tx_burst(*r.txq, pkts, nb_pkts);
	rte_spinlock_unlock(&r.tx_lock);
	/* Sent mbufs are gone (copied and freed): count from the front. */
	if (unlikely(sent < nb_pkts))
		for (uint16_t i = sent; i < nb_pkts; i++)
			bytes -= pkts[i]->pkt_len;
	q.stats.fanout_packets += sent;
	q.stats.fanout_bytes += bytes;
	return sent;
}

} // namespace xenfront
