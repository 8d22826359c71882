/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * libxengnttab.so.1 stand-in: grant sharing (xengntshr_*, Linux gntalloc
 * semantics), grant mapping and grant copy (xengnttab_*, Linux gntdev and
 * Xen grant_table.c semantics) over xensim-hvd.
 *
 * Sharing and mapping are RPCs to the hvd, which owns the grant tables and
 * frame pools; the pages themselves are frames of per-domain memfds that the
 * sharer and mapper mmap. Grant copy is plain memory copies after checking
 * the grant entry in shared memory: no RPC, no system call once a foreign
 * domain's memory has been mapped.
 */

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <vector>

#include <sys/mman.h>

#include "client.h"

extern "C" {
#include <xengnttab.h>
}

using namespace xensim;

namespace
{

constexpr std::uint16_t kDomidSelf = 0x7ff0;  /* DOMID_SELF */
constexpr std::uint16_t kDomidLimit = 0x7ff0; /* DOMID_FIRST_RESERVED */

struct MapRegion {
	std::uint64_t id;
	std::uint32_t count;
};

/* Maps `frames` (slot, frame) contiguously at `base` with `prot`. */
bool map_frames(std::uint8_t *base, const std::vector<std::pair<int, Frame>> &frames, int prot)
{
	std::size_t i = 0;
	while (i < frames.size()) {
		/* One mmap per run of consecutive frames of the same domain. */
		std::size_t j = i + 1;
		while (j < frames.size() && frames[j].first == frames[i].first &&
		       frames[j].second.v == frames[j - 1].second.v + 1)
			j++;
		void *p = ::mmap(base + i * kPageSize, (j - i) * kPageSize, prot,
				 MAP_SHARED | MAP_FIXED, frames[i].first,
				 static_cast<off_t>(frames[i].second.v) * kPageSize);
		if (p == MAP_FAILED)
			return false;
		i = j;
	}
	return true;
}

std::uint8_t *reserve(std::size_t pages)
{
	void *p = ::mmap(nullptr, pages * kPageSize, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? nullptr : static_cast<std::uint8_t *>(p);
}

} // namespace

/* Both xengnttab_handle and xengntshr_handle are this struct (xengnttab.h). */
struct xengntdev_handle {
	xengntdev_handle(xentoollog_logger *logger, const char *ctx) : log(logger, ctx) {}

	Logger log;
	std::unique_ptr<Session> session;
	std::mutex mutex;
	/* gntshr: page address -> grant ref of each page this handle shares. */
	std::map<std::uintptr_t, std::uint32_t> shared;
	/* gnttab: start address -> mapping. */
	std::map<std::uintptr_t, MapRegion> maps;
	/* gnttab: domid -> slot + 1 (0: not looked up yet), for grant copy. */
	std::unique_ptr<std::atomic<std::uint8_t>[]> slots {
		new std::atomic<std::uint8_t>[ kDomidLimit ]()
	};

	std::optional<DomSlot> slot_of(std::uint16_t domid)
	{
		if (domid == kDomidSelf)
			domid = session->domid().v;
		if (domid >= kDomidLimit)
			return std::nullopt;
		const std::uint8_t cached = slots[domid].load(std::memory_order_relaxed);
		if (cached != 0)
			return DomSlot{static_cast<std::uint8_t>(cached - 1)};
		const auto s = session->slot_of(DomId{domid});
		if (s)
			slots[domid].store(static_cast<std::uint8_t>(s->v + 1),
					   std::memory_order_relaxed);
		return s;
	}

	void unmap_all() noexcept;
	void unshare_all() noexcept;
};

namespace
{

xengntdev_handle *open_handle(xentoollog_logger *logger, proto::Kind kind, const char *ctx)
{
	try {
		auto h = std::make_unique<xengntdev_handle>(logger, ctx);
		h->session = Session::open(kind, true);
		if (!h->session)
			return nullptr; /* the real library does not log this */
		return h.release();
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return nullptr;
	}
}

void *grant_map(xengnttab_handle *xgt, std::uint32_t count, const std::uint32_t *domids,
		std::size_t domid_stride, const std::uint32_t *refs, int prot,
		std::uint32_t notify_offset, evtchn_port_t notify_port) noexcept
{
	try {
		if (count == 0 || count > kMaxRpcItems) {
			errno = EINVAL;
			xgt->log.error("ioctl MAP_GRANT_REF failed");
			return nullptr;
		}
		std::vector<std::uint64_t> items(count);
		for (std::uint32_t i = 0; i < count; i++)
			items[i] = std::uint64_t{domids[i * domid_stride]} |
				   (std::uint64_t{refs[i]} << 32);
		const bool writable = (prot & PROT_WRITE) != 0;
		proto::Msg req{};
		req.op = proto::Op::Map;
		req.a[0] = writable;
		req.a[1] = notify_offset < kPageSize * count ? notify_offset : proto::kNone;
		req.a[2] = notify_port;
		auto r = xgt->session->conn().call(req, items);
		if (!r || r->items.size() != count) {
			if (r)
				errno = EPROTO;
			xgt->log.error("mmap failed");
			return nullptr;
		}
		const std::uint64_t id = r->msg.a[0];
		auto undo = [&](std::uint8_t *base) {
			const int saved = errno;
			if (base != nullptr)
				::munmap(base, std::size_t{count} * kPageSize);
			proto::Msg un{};
			un.op = proto::Op::Unmap;
			un.a[0] = id;
			xgt->session->conn().call(un);
			errno = saved;
		};
		std::vector<std::pair<int, Frame>> frames(count);
		for (std::uint32_t i = 0; i < count; i++) {
			const DomSlot s{static_cast<std::uint8_t>(r->items[i])};
			const DomId d{static_cast<std::uint16_t>(domids[i * domid_stride])};
			if (xgt->session->memory(s, d) == nullptr) {
				xgt->log.error("mmap failed");
				undo(nullptr);
				return nullptr;
			}
			frames[i] = {xgt->session->memory_fd(s),
				     Frame{static_cast<std::uint32_t>(r->items[i] >> 32)}};
		}
		std::uint8_t *base = reserve(count);
		if (base == nullptr || !map_frames(base, frames, prot)) {
			xgt->log.error("mmap failed");
			undo(base);
			return nullptr;
		}
		std::lock_guard lock(xgt->mutex);
		xgt->maps[reinterpret_cast<std::uintptr_t>(base)] = MapRegion{id, count};
		return base;
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return nullptr;
	}
}

/*
 * Resolves one grant-reference side of a copy segment to memory, with the
 * checks of Xen's acquire_grant_for_copy(). Returns a GNTST_* status.
 */
std::int16_t resolve(xengntdev_handle *h, const xengnttab_grant_copy_segment::xengnttab_copy_ptr &p,
		     bool write, std::uint8_t **out) noexcept
{
	const auto slot = h->slot_of(p.foreign.domid);
	if (!slot)
		return GNTST_bad_domain;
	if (p.foreign.ref >= kGrantEntries)
		return GNTST_bad_gntref;
	const std::uint64_t e = h->session->state().domains[slot->v].grants[p.foreign.ref].load(
		std::memory_order_acquire);
	if (!grant::valid(e) || !(grant::granted_to(e) == h->session->domid()))
		return GNTST_general_error;
	if (write && grant::readonly(e))
		return GNTST_general_error;
	const std::uint16_t domid =
		p.foreign.domid == kDomidSelf ? h->session->domid().v : p.foreign.domid;
	std::uint8_t *mem = h->session->memory(*slot, DomId{domid});
	if (mem == nullptr)
		return GNTST_general_error;
	*out = mem + std::size_t{grant::frame(e).v} * kPageSize + p.foreign.offset;
	return GNTST_okay;
}

} // namespace

void xengntdev_handle::unmap_all() noexcept
{
	std::lock_guard lock(mutex);
	for (const auto &[addr, m] : maps) {
		::munmap(reinterpret_cast<void *>(addr), std::size_t{m.count} * kPageSize);
		proto::Msg un{};
		un.op = proto::Op::Unmap;
		un.a[0] = m.id;
		session->conn().call(un);
	}
	maps.clear();
}

void xengntdev_handle::unshare_all() noexcept
{
	std::lock_guard lock(mutex);
	try {
		std::vector<std::uint64_t> refs;
		for (const auto &[addr, ref] : shared) {
			::munmap(reinterpret_cast<void *>(addr), kPageSize);
			refs.push_back(ref);
		}
		shared.clear();
		if (!refs.empty()) {
			proto::Msg req{};
			req.op = proto::Op::Unshare;
			session->conn().call(req, refs);
		}
	} catch (const std::bad_alloc &) {
		/* The hvd revokes them when the connection closes. */
	}
}

extern "C" {

/* ---- xengnttab: using other domains' grants ---- */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags) noexcept
{
	(void)open_flags;
	return open_handle(logger, proto::Kind::Gnttab, "gnttab");
}

int xengnttab_close(xengnttab_handle *xgt) noexcept
{
	if (xgt == nullptr)
		return 0;
	/* Unmaps what is still mapped, before the hvd drops the grants. */
	xgt->unmap_all();
	delete xgt;
	return 0;
}

int xengnttab_fd(xengnttab_handle *xgt) noexcept
{
	return xgt->session->conn().fd();
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
			      int prot) noexcept
{
	return grant_map(xgt, 1, &domid, 0, &ref, prot, proto::kNone, proto::kNone);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
			       uint32_t *refs, int prot) noexcept
{
	return grant_map(xgt, count, domids, 1, refs, prot, proto::kNone, proto::kNone);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
				      uint32_t *refs, int prot) noexcept
{
	return grant_map(xgt, count, &domid, 0, refs, prot, proto::kNone, proto::kNone);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot,
				     uint32_t notify_offset, evtchn_port_t notify_port) noexcept
{
	return grant_map(xgt, 1, &domid, 0, &ref, prot, notify_offset, notify_port);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count) noexcept
{
	if (start_address == nullptr) {
		errno = EINVAL;
		return -1;
	}
	MapRegion m;
	{
		std::lock_guard lock(xgt->mutex);
		const auto it = xgt->maps.find(reinterpret_cast<std::uintptr_t>(start_address));
		/* As gntdev: the address must start a mapping of exactly count pages. */
		if (it == xgt->maps.end() || it->second.count != count) {
			errno = EINVAL;
			return -1;
		}
		m = it->second;
		xgt->maps.erase(it);
	}
	if (::munmap(start_address, std::size_t{count} * kPageSize) != 0)
		return -1;
	proto::Msg un{};
	un.op = proto::Op::Unmap;
	un.a[0] = m.id;
	return xgt->session->conn().call(un) ? 0 : -1;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants) noexcept
{
	/* Linux gntdev dropped IOCTL_GNTDEV_SET_MAX_GRANTS; the library returns 0. */
	(void)xgt;
	(void)nr_grants;
	return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs) noexcept
{
	/*
	 * Shape errors fail the whole call with EINVAL before anything is
	 * copied, as gntdev_grant_copy_seg() does (it may have copied earlier
	 * batches of 16; we copy none): neither side a grant ref, or a grant
	 * side crossing the end of its page.
	 */
	for (uint32_t i = 0; i < count; i++) {
		const auto &s = segs[i];
		if (!(s.flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)) ||
		    ((s.flags & GNTCOPY_source_gref) &&
		     s.source.foreign.offset + std::size_t{s.len} > kPageSize) ||
		    ((s.flags & GNTCOPY_dest_gref) &&
		     s.dest.foreign.offset + std::size_t{s.len} > kPageSize)) {
			errno = EINVAL;
			return -1;
		}
	}
	for (uint32_t i = 0; i < count; i++) {
		auto &s = segs[i];
		std::uint8_t *src = static_cast<std::uint8_t *>(s.source.virt);
		std::uint8_t *dst = static_cast<std::uint8_t *>(s.dest.virt);
		std::int16_t st = GNTST_okay;
		if (s.flags & GNTCOPY_source_gref)
			st = resolve(xgt, s.source, false, &src);
		if (st == GNTST_okay && (s.flags & GNTCOPY_dest_gref))
			st = resolve(xgt, s.dest, true, &dst);
		if (st == GNTST_okay)
			std::memmove(dst, src, s.len);
		s.status = st;
	}
	xensim::count(xgt->session->self().counters.grant_copy_segments, count);
	return 0;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
				   uint32_t count, const uint32_t *refs, uint32_t *fd) noexcept
{
	(void)xgt, (void)domid, (void)flags, (void)count, (void)refs, (void)fd;
	errno = ENOSYS;
	return -1;
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
				       uint32_t wait_to_ms) noexcept
{
	(void)xgt, (void)fd, (void)wait_to_ms;
	errno = ENOSYS;
	return -1;
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd, uint32_t count,
				 uint32_t *refs) noexcept
{
	(void)xgt, (void)domid, (void)fd, (void)count, (void)refs;
	errno = ENOSYS;
	return -1;
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd) noexcept
{
	(void)xgt, (void)fd;
	errno = ENOSYS;
	return -1;
}

/* ---- xengntshr: sharing pages with other domains ---- */

xengntshr_handle *xengntshr_open(xentoollog_logger *logger, unsigned open_flags) noexcept
{
	(void)open_flags;
	return open_handle(logger, proto::Kind::Gntshr, "gntshr");
}

int xengntshr_close(xengntshr_handle *xgs) noexcept
{
	if (xgs == nullptr)
		return 0;
	xgs->unshare_all();
	delete xgs;
	return 0;
}

int xengntshr_fd(xengntshr_handle *xgs) noexcept
{
	return xgs->session->conn().fd();
}

namespace
{

void *share(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs, int writable,
	    uint32_t notify_offset, evtchn_port_t notify_port) noexcept
{
	try {
		if (count <= 0 || static_cast<std::uint32_t>(count) > kMaxRpcItems) {
			errno = EINVAL;
			xgs->log.error("ioctl failed");
			return nullptr;
		}
		const auto n = static_cast<std::uint32_t>(count);
		proto::Msg req{};
		req.op = proto::Op::Share;
		req.a[0] = domid;
		req.a[1] = writable != 0;
		req.a[2] = notify_offset < kPageSize * n ? notify_offset : proto::kNone;
		req.a[3] = notify_port;
		std::vector<std::uint64_t> pages(n, 0);
		auto r = xgs->session->conn().call(req, pages);
		if (!r || r->items.size() != n) {
			if (r)
				errno = EPROTO;
			xgs->log.error("ioctl failed");
			return nullptr;
		}
		std::vector<std::uint64_t> granted(n);
		std::vector<std::pair<int, Frame>> frames(n);
		const int fd = xgs->session->memory_fd(xgs->session->slot());
		for (std::uint32_t i = 0; i < n; i++) {
			granted[i] = static_cast<std::uint32_t>(r->items[i]);
			frames[i] = {fd, Frame{static_cast<std::uint32_t>(r->items[i] >> 32)}};
		}
		std::uint8_t *base = reserve(n);
		if (base == nullptr || !map_frames(base, frames, PROT_READ | PROT_WRITE)) {
			const int saved = errno;
			xgs->log.error("mmap failed");
			if (base != nullptr)
				::munmap(base, std::size_t{n} * kPageSize);
			proto::Msg un{};
			un.op = proto::Op::Unshare;
			xgs->session->conn().call(un, granted);
			errno = saved;
			return nullptr;
		}
		std::lock_guard lock(xgs->mutex);
		for (std::uint32_t i = 0; i < n; i++) {
			refs[i] = static_cast<std::uint32_t>(granted[i]);
			xgs->shared[reinterpret_cast<std::uintptr_t>(base) + i * kPageSize] =
				refs[i];
		}
		return base;
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return nullptr;
	}
}

} // namespace

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
			    int writable) noexcept
{
	return share(xgs, domid, count, refs, writable, proto::kNone, proto::kNone);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
				  int writable, uint32_t notify_offset,
				  evtchn_port_t notify_port) noexcept
{
	return share(xgs, domid, 1, ref, writable, notify_offset, notify_port);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count) noexcept
{
	/* Linux: munmap(), which ends the grants of the pages it covered. */
	try {
		std::vector<std::uint64_t> refs;
		{
			std::lock_guard lock(xgs->mutex);
			const auto lo = reinterpret_cast<std::uintptr_t>(start_address);
			const auto hi = lo + std::size_t{count} * kPageSize;
			for (auto it = xgs->shared.lower_bound(lo);
			     it != xgs->shared.end() && it->first < hi;) {
				refs.push_back(it->second);
				it = xgs->shared.erase(it);
			}
		}
		const int rc = ::munmap(start_address, std::size_t{count} * kPageSize);
		if (!refs.empty()) {
			const int saved = errno;
			proto::Msg req{};
			req.op = proto::Op::Unshare;
			xgs->session->conn().call(req, refs);
			errno = saved;
		}
		return rc;
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return -1;
	}
}

} /* extern "C" */
