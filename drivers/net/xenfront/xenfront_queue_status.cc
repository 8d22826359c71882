/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* A queue's status between its bursts: rte_eth_rx_queue_count and the
 * descriptor status calls, read from the netif ring's indexes.
 *
 * They run on the queue's lcore, as its bursts do, and under the same
 * guard (queue_sync.h), so a reconnection never finds them on a ring it is
 * resetting; a queue off its ring reports nothing ready. Counts are in
 * ring slots, as a NIC counts descriptors: a frame of several slots
 * (feature-sg) counts each, an extra-info slot too. The backend's index is
 * checked as the bursts check it; an impossible one reports nothing ready
 * (the next burst stops the queue and counts it). */

#include "xenfront.h"

#include <cerrno>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "xenfront_fanout.h"

namespace xenfront
{
namespace
{

/* Where the ring stands, read once: responses [cons, prod) wait for a
 * burst, requests [cons, req_prod) are the backend's. */
struct RingView {
	RING_IDX cons;
	RING_IDX prod;
	RING_IDX req_prod;
};

template <typename Queue>
bool view_ring(Queue &q, RingView &v) noexcept
{
	v.prod = q.ring.rsp_prod();
	if (unlikely(q.broken || q.ring.rsp_prod_past_requests(v.prod)))
		return false;
	v.cons = q.ring.rsp_cons();
	v.req_prod = q.ring.req_prod_pvt();
	return true;
}

uint32_t answered_unread(RxQueue &q) noexcept
{
	xen::BurstGuard guard(q.sync);
	RingView v;
	if (unlikely(!guard.usable() || !view_ring(q, v)))
		return 0;
	return v.prod - v.cons;
}

} // namespace

extern "C" uint32_t xenfront_rx_queue_count(void *queue)
{
	RxQueue &q = *static_cast<RxQueue *>(queue);
	/* Under fan-out the queue's packets wait in its own rte_ring. */
	if (unlikely(q.fanout != nullptr))
		return rte_ring_count(q.fanout->queues[q.queue_id]);
	uint32_t n = answered_unread(q);
	for (unsigned r = 0; r < q.nb_unpolled; r++)
		n += answered_unread(*q.unpolled[r]);
	return n;
}

extern "C" int xenfront_rx_descriptor_status(void *queue, uint16_t offset)
{
	RxQueue &q = *static_cast<RxQueue *>(queue);
	if (offset >= q.nb_desc)
		return -EINVAL;
	if (unlikely(q.fanout != nullptr))
		return -ENOTSUP; /* its descriptors are an rte_ring's */
	xen::BurstGuard guard(q.sync);
	RingView v;
	if (unlikely(!guard.usable() || !view_ring(q, v)))
		return RTE_ETH_RX_DESC_UNAVAIL;
	/* From the next slot a burst reads: filled by the backend, then
	 * posted and waiting for a frame, then buffers not yet reposted. */
	if (offset < v.prod - v.cons)
		return RTE_ETH_RX_DESC_DONE;
	if (offset < v.req_prod - v.cons)
		return RTE_ETH_RX_DESC_AVAIL;
	return RTE_ETH_RX_DESC_UNAVAIL;
}

extern "C" int xenfront_tx_descriptor_status(void *queue, uint16_t offset)
{
	TxQueue &q = *static_cast<TxQueue *>(queue);
	if (offset >= q.nb_desc)
		return -EINVAL;
	if (unlikely(q.fanout != nullptr))
		return -ENOTSUP; /* the ring is shared with other queues */
	xen::BurstGuard guard(q.sync);
	RingView v;
	if (unlikely(!guard.usable() || !view_ring(q, v)))
		return RTE_ETH_TX_DESC_UNAVAIL;
	/* As on a NIC's ring, counted from the next descriptor written: the
	 * requests the backend has not answered are the oldest, so the
	 * furthest ahead. Answered ones are done, taken back or not. */
	const uint32_t unanswered = v.req_prod - v.prod;
	return offset + unanswered >= q.nb_desc ? RTE_ETH_TX_DESC_FULL : RTE_ETH_TX_DESC_DONE;
}

} // namespace xenfront
