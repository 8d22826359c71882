/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront_rxpages.h"

#include <new>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_ring.h>

namespace xenfront
{

RxPages *RxPages::create(uint8_t *base, uint32_t count, std::string &error) noexcept
{
	auto *p = new (std::nothrow) RxPages();
	if (p == nullptr) {
		error = "no memory for the receive page block";
		return nullptr;
	}
	p->base_ = base;
	p->count_ = count;
	p->shinfo_.reset(new (std::nothrow) rte_mbuf_ext_shared_info[count]);
	/* Room for every page, so that the callback's enqueue never fails
	 * (an rte_ring of size N holds N - 1). */
	const unsigned size = rte_align32pow2(count + 1);
	const ssize_t bytes = rte_ring_get_memsize(size);
	if (p->shinfo_ != nullptr && bytes > 0)
		p->returned_ = static_cast<rte_ring *>(
			rte_zmalloc("xenfront_rx_returned", size_t(bytes), RTE_CACHE_LINE_SIZE));
	if (p->returned_ == nullptr ||
	    rte_ring_init(p->returned_, "xenfront_rx_returned", size, RING_F_SC_DEQ) != 0) {
		error = "no memory for the receive page block's return ring";
		delete p;
		return nullptr;
	}
	for (uint32_t i = 0; i < count; i++) {
		rte_mbuf_ext_shared_info &s = p->shinfo_[i];
		s.free_cb = page_freed;
		s.fcb_opaque = p;
		rte_mbuf_ext_refcnt_set(&s, 0);
	}
	return p;
}

RxPages::~RxPages()
{
	rte_free(returned_);
	/* pages_ then gntshr_: the grants revoked, the pages unmapped (freed
	 * once the backend has unmapped them too). */
}

void RxPages::adopt(xen::Gntshr gntshr, xen::SharedPages pages) noexcept
{
	gntshr_.emplace(std::move(gntshr));
	pages_.emplace(std::move(pages));
}

void RxPages::attach_queue(RxQueue &q, uint32_t copybreak) noexcept
{
	q.copybreak = copybreak;
	q.shinfo = shinfo_.get();
	q.returned = returned_;
	q.lent_refs = &refs_;
	q.lent = 0;
	q.iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
}

void RxPages::page_freed(void *addr, void *opaque) noexcept
{
	auto *p = static_cast<RxPages *>(opaque);
	/* Never full: it has room for every page of the block. */
	rte_ring_mp_enqueue(p->returned_, addr);
	p->unref(1);
}

void RxPages::unref(uint32_t n) noexcept
{
	/* Acquire-release: whoever drops the last reference sees every other
	 * holder's use of the block done. */
	if (__atomic_sub_fetch(&refs_, n, __ATOMIC_ACQ_REL) == 0)
		delete this;
}

void RxPages::release() noexcept
{
	unref(1);
}

} // namespace xenfront
