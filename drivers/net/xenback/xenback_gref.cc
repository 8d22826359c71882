/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Static grants, backend side (xenback_gref.h): the control ring's
 * GET_GREF_MAPPING_SIZE, ADD_GREF_MAPPING and DEL_GREF_MAPPING requests,
 * the grant maps they create and the tables the bursts look them up in. */

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "xenback_logs.h"
#include "xenback_xenbus.h"

namespace xenback
{

/* Reads (or, `to_guest`, writes back) a list of `n` xen_netif_gref from the
 * start of the guest's page `ref`, by grant copy. */
bool Control::gref_list(uint32_t ref, xen_netif_gref *list, uint32_t n, bool to_guest) noexcept
{
	xengnttab_grant_copy_segment_t seg{};
	if (to_guest) {
		seg.source.virt = list;
		seg.dest.foreign.ref = ref;
		seg.dest.foreign.domid = guest_.value();
		seg.flags = GNTCOPY_dest_gref;
	} else {
		seg.source.foreign.ref = ref;
		seg.source.foreign.domid = guest_.value();
		seg.dest.virt = list;
		seg.flags = GNTCOPY_source_gref;
	}
	seg.len = static_cast<uint16_t>(n * sizeof(xen_netif_gref));
	return xengnttab_grant_copy(gnttab_.get(), 1, &seg) == 0 && seg.status == GNTST_okay;
}

/* Publishes the edited copy of queue `qid`'s table, then waits for a grace
 * period (queue_sync.h) on the queue's rx and tx bursts, so that the other
 * copy may be edited and what only it named unmapped. */
void Control::publish_grefs(uint16_t qid) noexcept
{
	QueueLink &l = links_[qid];
	SharedGrefs &g = *l.grefs;
	__atomic_store_n(&g.current, g.current ^ 1, __ATOMIC_RELEASE);
	xen::queue_retract_barrier();
	const auto grace = xen::Grace::start();
	if (!xen::queue_wait_idle(l.rxq->sync, grace) || !xen::queue_wait_idle(l.txq->sync, grace))
		XB_DRV_LOG(ERR, name_.c_str(),
			   "queue %u: a burst did not finish within a second after a static "
			   "grant change (a wedged lcore)",
			   qid);
	g.copies[g.current ^ 1] = g.copies[g.current];
}

void Control::handle_gref_request(const xen_netif_ctrl_request &req,
				  xen_netif_ctrl_response &rsp) noexcept
{
	rsp.id = req.id;
	rsp.type = req.type;
	rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	rsp.data = 0;
	sweep_parked();
	const uint32_t qid = req.data[0];
	if (qid >= nb_connected_ || !links_[qid].grefs)
		return;
	if (req.type == XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE) {
		rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		rsp.data = max_static_grants;
		return;
	}
	const uint32_t n = req.data[2];
	static_assert(max_static_grants * sizeof(xen_netif_gref) <= xen::page_size);
	xen_netif_gref list[max_static_grants];
	if (n == 0 || n > max_static_grants || !gref_list(req.data[1], list, n, false))
		return;
	if (req.type == XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING) {
		if (add_grefs(static_cast<uint16_t>(qid), list, n))
			rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		return;
	}
	rsp.data = del_grefs(static_cast<uint16_t>(qid), list, n);
	if (gref_list(req.data[1], list, n, true))
		rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
}

/* ADD's checks, all or nothing: room in the table, known flags, each grant
 * once and not mapped yet. Sorts the grants by access mode. */
bool Control::check_gref_add(const GrefTable &next, const xen_netif_gref *list, uint32_t n,
			     std::vector<xen::GrantRef> (&by_mode)[2]) noexcept
{
	if (n > max_static_grants - next.count)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const xen_netif_gref &e = list[i];
		bool dup = e.ref == UINT32_MAX || (e.flags & ~XEN_NETIF_CTRLF_GREF_readonly) ||
			   gref_lookup(next, e.ref, false) != nullptr;
		for (uint32_t k = 0; !dup && k < i; k++)
			dup = list[k].ref == e.ref;
		if (dup)
			return false;
		const bool writable = !(e.flags & XEN_NETIF_CTRLF_GREF_readonly);
		by_mode[writable].push_back(xen::GrantRef{e.ref});
	}
	return true;
}

/* One mapping per access mode; on a failure, what was mapped is unmapped
 * (`added` goes) and the table is unchanged. */
bool Control::add_grefs(uint16_t qid, const xen_netif_gref *list, uint32_t n) noexcept
{
	QueueLink &l = links_[qid];
	GrefTable &next = l.grefs->copies[l.grefs->current ^ 1]; /* == the published */
	std::vector<xen::GrantRef> by_mode[2];
	if (!check_gref_add(next, list, n, by_mode))
		return false;
	std::vector<QueueLink::GrefRegion> added;
	for (int writable = 0; writable < 2; writable++) {
		if (by_mode[writable].empty())
			continue;
		std::string error;
		auto map = xen::MappedGrants::map(gnttab_, guest_, by_mode[writable], writable != 0,
						  error);
		if (!map) {
			XB_DRV_LOG(NOTICE, name_.c_str(), "queue %u: static grants not mapped: %s",
				   qid, error.c_str());
			return false;
		}
		QueueLink::GrefRegion r{std::move(*map), {}, 0, writable != 0};
		for (const xen::GrantRef &ref : by_mode[writable])
			r.refs.push_back(ref.value());
		r.live = static_cast<uint32_t>(r.refs.size());
		added.push_back(std::move(r));
	}
	for (QueueLink::GrefRegion &r : added) {
		auto *base = static_cast<uint8_t *>(r.map.data());
		for (size_t i = 0; i < r.refs.size(); i++)
			gref_insert(next, r.refs[i], base + i * xen::page_size, r.writable);
		l.gref_regions.push_back(std::move(r));
	}
	publish_grefs(qid);
	XB_INIT_LOG(INFO, name_.c_str(), "queue %u: %u static grants mapped (%u in all)", qid, n,
		    next.count);
	return true;
}

/* DEL: each entry's status says whether it was mapped here; the table is
 * rebuilt without them, and a mapping is unmapped once none of its grants
 * is left. Returns how many were removed. */
uint32_t Control::del_grefs(uint16_t qid, xen_netif_gref *list, uint32_t n) noexcept
{
	QueueLink &l = links_[qid];
	GrefTable &next = l.grefs->copies[l.grefs->current ^ 1];
	for (uint32_t i = 0; i < n; i++) {
		list[i].status = gref_lookup(next, list[i].ref, false) != nullptr
					 ? XEN_NETIF_CTRL_STATUS_SUCCESS
					 : XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		for (uint32_t k = 0; k < i; k++)
			if (list[k].ref == list[i].ref)
				list[i].status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	}
	auto removed_ref = [&](uint32_t ref) {
		for (uint32_t i = 0; i < n; i++)
			if (list[i].status == XEN_NETIF_CTRL_STATUS_SUCCESS && list[i].ref == ref)
				return true;
		return false;
	};
	GrefTable rebuilt{};
	for (const GrefEntry &e : next.slots)
		if (e.key != 0 && !removed_ref(e.key - 1))
			gref_insert(rebuilt, e.key - 1, e.addr, e.writable != 0);
	next = rebuilt;
	publish_grefs(qid); /* no burst reads the old entries now: unmap */
	uint32_t removed = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (list[i].status != XEN_NETIF_CTRL_STATUS_SUCCESS)
			continue;
		removed++;
		for (QueueLink::GrefRegion &r : l.gref_regions)
			r.live -= static_cast<uint32_t>(
				std::count(r.refs.begin(), r.refs.end(), list[i].ref));
	}
	std::vector<QueueLink::GrefRegion> dead;
	for (QueueLink::GrefRegion &r : l.gref_regions)
		if (r.live == 0)
			dead.push_back(std::move(r));
	std::erase_if(l.gref_regions, [](const QueueLink::GrefRegion &r) { return r.live == 0; });
	retire_regions(l, std::move(dead));
	return removed;
}

/* No burst looks these mappings up any more (published away, or the rings
 * taken back): each is unmapped now, unless a page of it is still lent to
 * the application (zerocopy=1), then parked until it comes back. */
void Control::retire_regions(QueueLink &l, std::vector<QueueLink::GrefRegion> &&dead) noexcept
{
	ZeroCopy *zc = l.rxq != nullptr ? l.rxq->zc : nullptr;
	for (QueueLink::GrefRegion &r : dead) {
		if (zc == nullptr || !zc_lent_in(*zc, static_cast<const uint8_t *>(r.map.data()),
						 r.map.count() * xen::page_size))
			continue; /* unmapped as `dead` goes */
		__atomic_fetch_add(&zc->refs, 1, __ATOMIC_RELAXED);
		parked_.push_back(Parked{std::move(r), zc});
	}
	dead.clear();
	sweep_parked();
}

/* Unmaps the parked mappings the application no longer has a page of. */
void Control::sweep_parked() noexcept
{
	std::erase_if(parked_, [](Parked &p) {
		if (zc_lent_in(*p.zc, static_cast<const uint8_t *>(p.region.map.data()),
			       p.region.map.count() * xen::page_size))
			return false;
		zc_unref(p.zc);
		return true; /* unmapped */
	});
}

/* Close: the application has a second to free what it holds; what it
 * still holds then stays mapped for the life of the process (leaked, and
 * said so) rather than unmapped under it. */
void Control::settle_parked() noexcept
{
	for (int i = 0; i < 100 && !parked_.empty(); i++) {
		sweep_parked();
		if (!parked_.empty())
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	if (parked_.empty())
		return;
	XB_DRV_LOG(ERR, name_.c_str(),
		   "closed while the application holds mbufs on %zu static grant mappings of "
		   "the guest; left mapped until the process ends",
		   parked_.size());
	/* Each keeps its reference on its queue's ZeroCopy too: the
	 * application's frees still land there. */
	for (Parked &p : parked_)
		p.region.map.leak();
	parked_.clear();
}

} // namespace xenback
