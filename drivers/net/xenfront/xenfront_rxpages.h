/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A receive queue's page block when rx_copybreak lends pages to the
 * application (xenfront_rx.cc).
 *
 * netif's receive buffers are whole granted pages. Above the copy-break the
 * data path attaches a page to an mbuf as an external buffer
 * (rte_pktmbuf_attach_extbuf) instead of copying it, and posts a spare
 * page of the same block under the request's id. When the application
 * frees the mbuf, DPDK calls the page's free callback, on whatever lcore
 * freed it; the callback queues the page's address on a multi-producer,
 * single-consumer rte_ring that the rx burst drains in bulk.
 *
 * The block outlives its queue while the application holds lent pages: it
 * is reference counted (one for the queue, one per lent page), and the last
 * reference revokes the grants and unmaps the pages, whether that is the
 * queue's release (control path) or the callback of the last page (then on
 * the lcore that freed it: the only time a data path does a grant call, and
 * only after the queue is gone). It keeps its own gntalloc handle so that
 * it may outlive the port's.
 *
 * The shinfo of each page (refcount, free callback, its argument) is kept
 * here, in private memory, never in the granted page: the backend can write
 * the page at any time, and a free callback it could rewrite would be a
 * code pointer in its hands. Primary process only: the callback and the
 * shinfo are this process's (secondary processes have no data path). */

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <rte_mbuf.h>

#include "grant.h"
#include "xenfront.h"

namespace xenfront
{

class RxPages
{
public:
	/* Over the `count` pages at `base`: shinfos and the return ring. The
	 * grants are handed over with adopt(). Null with `error` if memory is
	 * short. */
	static RxPages *create(uint8_t *base, uint32_t count, std::string &error) noexcept;
	/* The grants of the block, released with it. */
	void adopt(xen::Gntshr gntshr, xen::SharedPages pages) noexcept;
	/* Points the queue's lending fields at this block. */
	void attach_queue(RxQueue &q, uint32_t copybreak) noexcept;
	/* The queue lets go: freed now, or when the last lent page comes back. */
	void release() noexcept;

	RxPages(const RxPages &) = delete;
	RxPages &operator=(const RxPages &) = delete;

private:
	RxPages() = default;
	~RxPages();
	static void page_freed(void *addr, void *opaque) noexcept;
	void unref(uint32_t n) noexcept;

	/* Declared first: outlives the pages shared through it. */
	std::optional<xen::Gntshr> gntshr_;
	std::optional<xen::SharedPages> pages_;
	std::unique_ptr<rte_mbuf_ext_shared_info[]> shinfo_;
	struct rte_ring *returned_ = nullptr; /* rte_malloc'd */
	uint8_t *base_ = nullptr;
	uint32_t count_ = 0;
	uint32_t refs_ = 1; /* __atomic: the queue's, and one per lent page */
};

/* Releases the queue's reference (for std::unique_ptr). */
struct RxPagesRelease {
	void operator()(RxPages *p) const noexcept { p->release(); }
};

} // namespace xenfront
