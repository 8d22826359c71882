/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Freeing a burst's mbufs once the data path has copied them.
 *
 * rte_pktmbuf_free_bulk walks each mbuf through rte_pktmbuf_prefree_seg
 * out of line. In a forwarding loop nearly every mbuf is direct, of one
 * segment, not shared and from one pool: such mbufs are already in the
 * state a pool holds them in (refcnt 1, next NULL, nb_segs 1), so they go
 * back with one rte_mempool_put_bulk, as DPDK's
 * RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE does. Any other mbuf sends the whole
 * batch the general way. */

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace xen
{

inline void free_mbufs(rte_mbuf **mbufs, unsigned n) noexcept
{
	if (n == 0)
		return;
	rte_mempool *mp = mbufs[0]->pool;
	for (unsigned i = 0; i < n; i++) {
		const rte_mbuf *m = mbufs[i];
		if (unlikely(m->pool != mp || m->nb_segs != 1 || !RTE_MBUF_DIRECT(m) ||
			     rte_mbuf_refcnt_read(m) != 1)) {
			rte_pktmbuf_free_bulk(mbufs, n);
			return;
		}
	}
	rte_mempool_put_bulk(mp, reinterpret_cast<void *const *>(mbufs), n);
}

} // namespace xen
