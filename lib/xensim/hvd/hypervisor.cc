/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

#include "hypervisor.h"

#include <cerrno>
#include <cstdio>
#include <sstream>

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xensim::hvd
{

namespace
{

using Clock = std::chrono::steady_clock;

/*
 * A freed frame is not reused for this long, so that a grant copy that
 * checked the grant entry just before it was revoked never writes into a
 * page that already belongs to someone else.
 */
constexpr auto kQuarantine = std::chrono::milliseconds(250);
/* Under memory pressure, frames quarantined at least this long are reused. */
constexpr auto kQuarantineMin = std::chrono::milliseconds(10);

constexpr std::uint16_t kDomidSelf = 0x7ff0;

bool same_file(int a, int b)
{
	const pid_t self = ::getpid();
	return ::syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

} // namespace

std::unique_ptr<Hypervisor> Hypervisor::create(std::uint32_t gntalloc_limit)
{
	std::unique_ptr<Hypervisor> hv(new Hypervisor());
	hv->gntalloc_limit_ = gntalloc_limit;
	hv->state_fd_ = UniqueFd(::memfd_create("xensim-state", MFD_CLOEXEC));
	if (!hv->state_fd_ || ::ftruncate(hv->state_fd_.get(), sizeof(StateShm)) != 0)
		return nullptr;
	auto m = Mapping::of_fd(hv->state_fd_.get(), sizeof(StateShm));
	if (!m)
		return nullptr;
	hv->state_ = std::move(*m);
	hv->shm().magic = kMagic;
	hv->shm().version = kLayoutVersion;
	return hv;
}

Hypervisor::Domain *Hypervisor::domain_for(DomId d, bool create)
{
	if (d.v == kDomidSelf || d.v >= kDomidSelf)
		return nullptr;
	for (auto &dom : domains_)
		if (dom && dom->id == d)
			return dom.get();
	if (!create)
		return nullptr;
	for (unsigned i = 0; i < kMaxDomains; i++) {
		if (domains_[i])
			continue;
		auto dom = std::make_unique<Domain>();
		dom->id = d;
		dom->slot = DomSlot{static_cast<std::uint8_t>(i)};
		char name[32];
		std::snprintf(name, sizeof(name), "xensim-mem-%u", unsigned{d.v});
		dom->mem_fd = UniqueFd(::memfd_create(name, MFD_CLOEXEC));
		const std::size_t len = std::size_t{kFramesPerDomain} * kPageSize;
		if (!dom->mem_fd || ::ftruncate(dom->mem_fd.get(), static_cast<off_t>(len)) != 0)
			return nullptr;
		auto m = Mapping::of_fd(dom->mem_fd.get(), len);
		if (!m)
			return nullptr;
		dom->mem = std::move(*m);
		dom->frame_used.assign(kFramesPerDomain, false);
		dom->grants.resize(kGrantEntries);
		dom->ports.resize(kPorts);
		dom->ports[0].state = evtchn::State::Free; /* port 0 is never handed out */
		domains_[i] = std::move(dom);
		/* release: the domain's tables are initialised before clients find it. */
		shm().slot_domid[i].store(std::uint32_t{d.v} + 1, std::memory_order_release);
		return domains_[i].get();
	}
	errno = ENOSPC;
	return nullptr;
}

std::optional<DomSlot> Hypervisor::find_domain(DomId d) const
{
	for (const auto &dom : domains_)
		if (dom && dom->id == d)
			return dom->slot;
	return std::nullopt;
}

int Hypervisor::memory_fd(DomSlot s) const
{
	return domains_[s.v] ? domains_[s.v]->mem_fd.get() : -1;
}

Hypervisor::Client *Hypervisor::client(ClientId c)
{
	const auto it = clients_.find(c);
	return it == clients_.end() ? nullptr : &it->second;
}

std::uint8_t Hypervisor::handle_slot(ClientId c) const
{
	const auto it = clients_.find(c);
	return it == clients_.end() ? kNoHandle : it->second.handle;
}

Result<DomSlot> Hypervisor::hello(ClientId c, DomId d, proto::Kind kind, std::uint64_t pid,
				  int event_fd, bool adopt)
{
	errno = 0;
	Domain *dom = domain_for(d, true);
	if (dom == nullptr)
		return Result<DomSlot>::fail(errno != 0 ? errno : EINVAL);
	Client cl;
	cl.slot = dom->slot;
	cl.kind = kind;
	cl.pid = pid;
	if (kind == proto::Kind::Evtchn) {
		if (event_fd < 0)
			return Result<DomSlot>::fail(EINVAL);
		if (adopt) {
			/* xenevtchn_fdopen(): take over the handle whose eventfd this is. */
			for (unsigned h = 0; h < kEvtchnHandles; h++) {
				Handle &hd = dom->handles[h];
				if (!hd.used || !same_file(hd.event_fd.get(), event_fd))
					continue;
				Client *old = client(hd.owner);
				if (old != nullptr) {
					cl.ports = std::move(old->ports);
					cl.restricted = old->restricted;
					old->ports.clear();
					old->handle = kNoHandle;
				}
				for (std::uint32_t p : cl.ports)
					dom->ports[p].owner = c;
				hd.owner = c;
				cl.handle = static_cast<std::uint8_t>(h);
				break;
			}
			if (cl.handle == kNoHandle)
				return Result<DomSlot>::fail(EBADF);
		} else {
			for (unsigned h = 0; h < kEvtchnHandles; h++) {
				Handle &hd = dom->handles[h];
				if (hd.used)
					continue;
				const int fd = ::fcntl(event_fd, F_DUPFD_CLOEXEC, 3);
				if (fd < 0)
					return Result<DomSlot>::fail(errno);
				hd.used = true;
				hd.owner = c;
				hd.event_fd = UniqueFd(fd);
				hd.gen++;
				HandleShm &hs = shm(*dom).handles[h];
				for (auto &w : hs.bits)
					w.store(0, std::memory_order_relaxed);
				hs.gen.store(hd.gen, std::memory_order_release);
				cl.handle = static_cast<std::uint8_t>(h);
				break;
			}
			if (cl.handle == kNoHandle)
				return Result<DomSlot>::fail(EMFILE);
		}
	}
	clients_[c] = std::move(cl);
	return Result<DomSlot>{0, dom->slot};
}

void Hypervisor::release(ClientId c)
{
	Client *cl = client(c);
	if (cl == nullptr)
		return;
	Domain &d = *domains_[cl->slot.v];
	/* gntalloc release: the grants of the handle end (notifications first). */
	for (std::uint32_t ref : std::set<std::uint32_t>(cl->shares))
		end_share(d, ref);
	/* gntdev release: mappings go, with their unmap notifications. */
	while (!cl->maps.empty())
		unmap(c, cl->maps.begin()->first);
	/* evtchn release: every port of the handle is closed. */
	for (std::uint32_t p : std::set<std::uint32_t>(cl->ports))
		unbind(c, p);
	if (cl->handle != kNoHandle) {
		Handle &h = d.handles[cl->handle];
		h.used = false;
		h.owner = ClientId{0};
		h.event_fd.reset();
	}
	clients_.erase(c);
}

/* ---- memory ---- */

void Hypervisor::zero_frame(Domain &d, Frame f)
{
	/* Gives the page back to the system; the frame then reads as zeroes. */
	::fallocate(d.mem_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    static_cast<off_t>(f.v) * kPageSize, kPageSize);
}

std::optional<std::vector<Frame>> Hypervisor::alloc_frames(Domain &d, std::uint32_t count)
{
	const auto reclaim = [&](Clock::duration age) {
		const auto now = Clock::now();
		while (!d.quarantine.empty() && now - d.quarantine.front().second >= age) {
			d.frame_used[d.quarantine.front().first.v] = false;
			d.quarantine.pop_front();
		}
	};
	reclaim(kQuarantine);
	std::vector<Frame> out;
	for (int attempt = 0; attempt < 2; attempt++) {
		out.clear();
		/* Prefer one contiguous run (one mmap for the sharer), next fit. */
		std::uint32_t run = 0;
		for (std::uint32_t k = 0; k < kFramesPerDomain && run < count; k++) {
			const std::uint32_t f = (d.frame_cursor + k) % kFramesPerDomain;
			if (f == 0 && k != 0)
				run = 0; /* a run may not wrap around */
			run = d.frame_used[f] ? 0 : run + 1;
			if (run == count)
				for (std::uint32_t i = 0; i < count; i++)
					out.push_back(Frame{f + 1 - count + i});
		}
		if (out.empty()) {
			for (std::uint32_t f = 0; f < kFramesPerDomain && out.size() < count; f++)
				if (!d.frame_used[f])
					out.push_back(Frame{f});
		}
		if (out.size() == count)
			break;
		reclaim(kQuarantineMin);
	}
	if (out.size() != count)
		return std::nullopt;
	for (Frame f : out) {
		d.frame_used[f.v] = true;
		zero_frame(d, f);
	}
	d.frame_cursor = (out.back().v + 1) % kFramesPerDomain;
	d.frames_allocated += count;
	return out;
}

void Hypervisor::free_frame(Domain &d, Frame f)
{
	zero_frame(d, f);
	d.quarantine.emplace_back(f, Clock::now());
	d.frames_allocated--;
}

/* ---- grants ---- */

std::optional<std::uint32_t> Hypervisor::alloc_ref(Domain &d)
{
	const std::uint32_t n = kGrantEntries - kReservedGrants;
	for (std::uint32_t k = 0; k < n; k++) {
		const std::uint32_t r =
			kReservedGrants + (d.grant_cursor - kReservedGrants + k) % n;
		if (!d.grants[r].in_use) {
			d.grant_cursor = r + 1 < kGrantEntries ? r + 1 : kReservedGrants;
			return r;
		}
	}
	return std::nullopt;
}

bool Hypervisor::port_usable_for_notify(const Domain &d, std::uint32_t port) const
{
	/* Linux evtchn_get(): a port bound through /dev/xen/evtchn in this domain. */
	return port > 0 && port < kPorts && d.ports[port].state != evtchn::State::Free &&
	       !d.ports[port].orphan;
}

Result<std::vector<std::uint64_t>> Hypervisor::share(ClientId c, DomId to, std::uint32_t count,
						     bool writable, UnmapNotify notify)
{
	using R = Result<std::vector<std::uint64_t>>;
	Client *cl = client(c);
	if (cl == nullptr || cl->kind != proto::Kind::Gntshr)
		return R::fail(EBADF);
	Domain &d = *domains_[cl->slot.v];
	if (count == 0)
		return R::fail(EINVAL);
	if (notify.port != proto::kNone && !port_usable_for_notify(d, notify.port))
		return R::fail(EINVAL);
	if (d.shares_held + count > gntalloc_limit_)
		return R::fail(ENOSPC); /* gntalloc: over its `limit` */
	std::vector<std::uint32_t> refs;
	for (std::uint32_t i = 0; i < count; i++) {
		const auto r = alloc_ref(d);
		if (!r)
			break;
		d.grants[*r].in_use = true; /* reserved while we collect */
		refs.push_back(*r);
	}
	const auto frames = refs.size() == count ? alloc_frames(d, count) : std::nullopt;
	if (!frames) {
		for (std::uint32_t r : refs)
			d.grants[r] = Grant{};
		return R::fail(refs.size() == count ? ENOMEM : ENOSPC);
	}
	std::vector<std::uint64_t> out(count);
	for (std::uint32_t i = 0; i < count; i++) {
		Grant &g = d.grants[refs[i]];
		g = Grant{};
		g.in_use = true;
		g.owner = c;
		g.to = to;
		g.readonly = !writable;
		g.frame = (*frames)[i];
		/* release: the frame is zeroed before a mapper can find it. */
		shm(d).grants[refs[i]].store(grant::pack(to, !writable, g.frame),
					     std::memory_order_release);
		cl->shares.insert(refs[i]);
		out[i] = std::uint64_t{refs[i]} | (std::uint64_t{g.frame.v} << 32);
	}
	if (notify.offset != proto::kNone || notify.port != proto::kNone) {
		/* Only single-page shares carry a notification (share_page_notify). */
		Grant &g = d.grants[refs[notify.offset != proto::kNone ? notify.offset / kPageSize
								       : 0]];
		g.notify = notify;
		if (notify.offset != proto::kNone)
			g.notify.offset = notify.offset % kPageSize;
		if (notify.port != proto::kNone)
			d.ports[notify.port].refs++;
	}
	d.shares_held += count;
	xensim::count(shm(d).counters.share_ops, count);
	return R{0, std::move(out)};
}

void Hypervisor::unshare(ClientId c, const std::vector<std::uint64_t> &refs)
{
	Client *cl = client(c);
	if (cl == nullptr)
		return;
	Domain &d = *domains_[cl->slot.v];
	for (std::uint64_t r : refs)
		if (cl->shares.count(static_cast<std::uint32_t>(r)))
			end_share(d, static_cast<std::uint32_t>(r));
}

void Hypervisor::run_notify(Domain &d, std::uint8_t *page_base, const UnmapNotify &n)
{
	if (n.offset != proto::kNone && page_base != nullptr)
		page_base[n.offset] = 0;
	if (n.port != proto::kNone) {
		send_via(d, n.port);
		put_port(d, n.port);
	}
}

void Hypervisor::end_share(Domain &d, std::uint32_t ref)
{
	Grant &g = d.grants[ref];
	Client *cl = client(g.owner);
	if (cl != nullptr)
		cl->shares.erase(ref);
	if (!g.in_use || g.revoked)
		return;
	/* gntalloc __del_gref(): notify first, then end foreign access. */
	run_notify(d, d.mem.bytes() + std::size_t{g.frame.v} * kPageSize, g.notify);
	g.notify = UnmapNotify{};
	g.revoked = true;
	g.owner = ClientId{0};
	d.shares_held--;
	xensim::count(shm(d).counters.unshare_ops);
	/* Xen cannot end access to a mapped grant: the frame lives on until unmapped. */
	if (g.map_count == 0)
		end_grant(d, ref);
}

void Hypervisor::end_grant(Domain &d, std::uint32_t ref)
{
	Grant &g = d.grants[ref];
	shm(d).grants[ref].store(0, std::memory_order_release);
	free_frame(d, g.frame);
	g = Grant{};
}

Result<std::vector<std::uint64_t>> Hypervisor::map(ClientId c,
						   const std::vector<std::uint64_t> &items,
						   bool writable, UnmapNotify notify)
{
	using R = Result<std::vector<std::uint64_t>>;
	Client *cl = client(c);
	if (cl == nullptr || cl->kind != proto::Kind::Gnttab)
		return R::fail(EBADF);
	Domain &me = *domains_[cl->slot.v];
	if (items.empty())
		return R::fail(EINVAL);
	GrantMapping m;
	m.writable = writable;
	std::vector<std::uint64_t> out;
	out.reserve(items.size() + 1);
	out.push_back(0);
	for (std::uint64_t it : items) {
		/* rcu_lock_domain_by_id(): DOMID_SELF is no domain to map from. */
		const DomId from{static_cast<std::uint16_t>(it)};
		const auto ref = static_cast<std::uint32_t>(it >> 32);
		/*
		 * Xen map_grant_ref(): GNTST_bad_domain, GNTST_bad_gntref, or
		 * GNTST_general_error for a grant not for us or a write map of
		 * a read-only grant. gntdev turns any failed op into EINVAL.
		 */
		Domain *rd = domain_for(from, false);
		if (rd == nullptr || ref >= kGrantEntries)
			return R::fail(EINVAL);
		const Grant &g = rd->grants[ref];
		if (!g.in_use || !(g.to == me.id) || (writable && g.readonly))
			return R::fail(EINVAL);
		m.items.push_back(MapItem{rd->slot, ref});
		out.push_back(std::uint64_t{rd->slot.v} | (std::uint64_t{g.frame.v} << 32));
	}
	if (notify.offset != proto::kNone && !writable)
		return R::fail(EINVAL); /* gntdev: clearing a byte needs a writable map */
	if (notify.port != proto::kNone && !port_usable_for_notify(me, notify.port))
		return R::fail(EINVAL);
	for (const MapItem &i : m.items)
		domains_[i.slot.v]->grants[i.ref].map_count++;
	if (notify.port != proto::kNone)
		me.ports[notify.port].refs++;
	m.notify = notify;
	const std::uint64_t id = next_map_id_++;
	xensim::count(shm(me).counters.grant_map_ops, m.items.size());
	cl->maps[id] = std::move(m);
	out[0] = id;
	return R{0, std::move(out)};
}

void Hypervisor::unmap(ClientId c, std::uint64_t map_id)
{
	Client *cl = client(c);
	if (cl == nullptr)
		return;
	const auto it = cl->maps.find(map_id);
	if (it == cl->maps.end())
		return;
	GrantMapping m = std::move(it->second);
	cl->maps.erase(it);
	Domain &me = *domains_[cl->slot.v];
	/* gntdev: the notification happens as the pages are unmapped. */
	std::uint8_t *page = nullptr;
	if (m.notify.offset != proto::kNone) {
		const MapItem &i = m.items[m.notify.offset / kPageSize];
		const Domain &rd = *domains_[i.slot.v];
		page = rd.mem.bytes() + std::size_t{rd.grants[i.ref].frame.v} * kPageSize;
	}
	UnmapNotify n = m.notify;
	if (n.offset != proto::kNone)
		n.offset %= kPageSize;
	run_notify(me, page, n);
	for (const MapItem &i : m.items) {
		Domain &rd = *domains_[i.slot.v];
		Grant &g = rd.grants[i.ref];
		if (g.map_count > 0 && --g.map_count == 0 && g.revoked)
			end_grant(rd, i.ref);
	}
	xensim::count(shm(me).counters.grant_unmap_ops, m.items.size());
}

/* ---- event channels ---- */

std::optional<std::uint32_t> Hypervisor::alloc_port(Domain &d)
{
	for (std::uint32_t p = 1; p < kPorts; p++)
		if (d.ports[p].state == evtchn::State::Free)
			return p;
	return std::nullopt;
}

void Hypervisor::publish(Domain &d, std::uint32_t port)
{
	const PortInfo &pi = d.ports[port];
	evtchn::Link l;
	l.state = pi.state;
	l.handle = pi.handle;
	l.remote_dom = pi.remote_dom;
	l.remote_port = Port{pi.remote_port};
	if (pi.state == evtchn::State::Interdomain) {
		const Domain *rd = domain_for(pi.remote_dom, false);
		l.remote_slot = rd->slot;
		l.remote_gen = rd->ports[pi.remote_port].gen;
	}
	/* release: pairs with the notifier's acquire load of the link. */
	shm(d).ports[port].link.store(l.pack(), std::memory_order_release);
}

void Hypervisor::bind_port(Domain &d, std::uint32_t port, ClientId c, std::uint8_t handle)
{
	PortInfo &pi = d.ports[port];
	pi.owner = c;
	pi.handle = handle;
	pi.gen = (pi.gen + 1) & evtchn::kGenMask;
	pi.refs = 0;
	pi.orphan = false;
	/* A fresh binding starts unmasked with nothing pending. */
	shm(d).ports[port].word.store(evtchn::make_word(pi.gen), std::memory_order_release);
	clients_[c].ports.insert(port);
}

void Hypervisor::wake(Domain &d, std::uint8_t handle)
{
	if (handle >= kEvtchnHandles || !d.handles[handle].used)
		return;
	const std::uint64_t one = 1;
	if (::write(d.handles[handle].event_fd.get(), &one, sizeof(one)) < 0) {
		/* Cannot overflow: one token per queued port. */
	}
}

void Hypervisor::send_via(Domain &d, std::uint32_t port)
{
	const PortInfo &pi = d.ports[port];
	if (pi.state != evtchn::State::Interdomain)
		return;
	Domain *rd = domain_for(pi.remote_dom, false);
	if (rd == nullptr)
		return;
	xensim::count(shm(d).counters.notify_sent);
	const std::uint8_t h =
		raise_event(shm(*rd), Port{pi.remote_port}, rd->ports[pi.remote_port].gen);
	wake(*rd, h);
}

Result<std::uint32_t> Hypervisor::bind_unbound(ClientId c, DomId remote)
{
	Client *cl = client(c);
	if (cl == nullptr || cl->handle == kNoHandle)
		return Result<std::uint32_t>::fail(EBADF);
	if (cl->restricted)
		return Result<std::uint32_t>::fail(EACCES);
	Domain &d = *domains_[cl->slot.v];
	const auto port = alloc_port(d);
	if (!port)
		return Result<std::uint32_t>::fail(ENOSPC);
	bind_port(d, *port, c, cl->handle);
	PortInfo &pi = d.ports[*port];
	pi.state = evtchn::State::Unbound;
	/* Xen does not check that the remote domain exists yet. */
	pi.remote_dom = remote.v == kDomidSelf ? d.id : remote;
	pi.remote_port = 0;
	publish(d, *port);
	return Result<std::uint32_t>{0, *port};
}

Result<std::uint32_t> Hypervisor::bind_interdomain(ClientId c, DomId remote, std::uint32_t rport)
{
	using R = Result<std::uint32_t>;
	Client *cl = client(c);
	if (cl == nullptr || cl->handle == kNoHandle)
		return R::fail(EBADF);
	if (cl->restricted && !(*cl->restricted == remote))
		return R::fail(EACCES);
	Domain &ld = *domains_[cl->slot.v];
	Domain *rd = domain_for(remote.v == kDomidSelf ? ld.id : remote, false);
	if (rd == nullptr)
		return R::fail(ESRCH);
	if (rport == 0 || rport >= kPorts || rd->ports[rport].state != evtchn::State::Unbound ||
	    !(rd->ports[rport].remote_dom == ld.id))
		return R::fail(EINVAL);
	const auto lport = alloc_port(ld);
	if (!lport)
		return R::fail(ENOSPC);
	bind_port(ld, *lport, c, cl->handle);
	PortInfo &l = ld.ports[*lport];
	l.state = evtchn::State::Interdomain;
	l.remote_dom = rd->id;
	l.remote_port = rport;
	PortInfo &r = rd->ports[rport];
	r.state = evtchn::State::Interdomain;
	r.remote_dom = ld.id;
	r.remote_port = *lport;
	publish(ld, *lport);
	publish(*rd, rport);
	/*
	 * Xen "may have lost notifications on the remote unbound port" and
	 * always sets the new local port pending: the binder sees one event.
	 */
	wake(ld, raise_event(shm(ld), Port{*lport}, l.gen));
	return R{0, *lport};
}

Result<std::uint32_t> Hypervisor::bind_virq(ClientId c, std::uint32_t virq)
{
	using R = Result<std::uint32_t>;
	Client *cl = client(c);
	if (cl == nullptr || cl->handle == kNoHandle)
		return R::fail(EBADF);
	if (cl->restricted)
		return R::fail(EACCES);
	if (virq >= kNrVirqs)
		return R::fail(EINVAL);
	Domain &d = *domains_[cl->slot.v];
	if (d.virq_port[virq] != 0)
		return R::fail(EEXIST);
	const auto port = alloc_port(d);
	if (!port)
		return R::fail(ENOSPC);
	bind_port(d, *port, c, cl->handle);
	d.ports[*port].state = evtchn::State::Virq;
	d.ports[*port].virq = virq;
	d.virq_port[virq] = *port;
	publish(d, *port);
	return R{0, *port};
}

void Hypervisor::close_port(Domain &d, std::uint32_t port)
{
	PortInfo &pi = d.ports[port];
	if (pi.state == evtchn::State::Interdomain) {
		/* Xen __evtchn_close(): the remote end goes back to unbound. */
		if (Domain *rd = domain_for(pi.remote_dom, false)) {
			PortInfo &r = rd->ports[pi.remote_port];
			r.state = evtchn::State::Unbound;
			r.remote_dom = d.id;
			r.remote_port = 0;
			publish(*rd, pi.remote_port);
		}
	} else if (pi.state == evtchn::State::Virq) {
		d.virq_port[pi.virq] = 0;
	}
	const std::uint32_t gen = (pi.gen + 1) & evtchn::kGenMask;
	pi = PortInfo{};
	pi.gen = gen;
	/* Clears pending, and stale notifiers see a new generation. */
	shm(d).ports[port].word.store(evtchn::make_word(gen), std::memory_order_release);
	publish(d, port);
}

void Hypervisor::put_port(Domain &d, std::uint32_t port)
{
	PortInfo &pi = d.ports[port];
	if (pi.refs > 0 && --pi.refs == 0 && pi.orphan)
		close_port(d, port);
}

int Hypervisor::unbind(ClientId c, std::uint32_t port)
{
	Client *cl = client(c);
	if (cl == nullptr || port == 0 || port >= kPorts)
		return EINVAL;
	Domain &d = *domains_[cl->slot.v];
	if (!cl->ports.count(port) || !(d.ports[port].owner == c))
		return ENOTCONN;
	cl->ports.erase(port);
	PortInfo &pi = d.ports[port];
	if (pi.refs > 0) {
		/* Linux evtchn_get(): an unmap notification still holds the port. */
		pi.orphan = true;
		pi.owner = ClientId{0};
		pi.handle = kNoHandle;
		publish(d, port);
		return 0;
	}
	close_port(d, port);
	return 0;
}

int Hypervisor::restrict_to(ClientId c, DomId dom)
{
	Client *cl = client(c);
	if (cl == nullptr || cl->handle == kNoHandle)
		return EBADF;
	if (cl->restricted)
		return EACCES;
	if (dom.v == 0 || dom.v >= kDomidSelf)
		return EINVAL;
	cl->restricted = dom;
	return 0;
}

Result<std::pair<int, std::uint32_t>> Hypervisor::peer_fd(DomSlot s, std::uint8_t h) const
{
	using R = Result<std::pair<int, std::uint32_t>>;
	if (s.v >= kMaxDomains || !domains_[s.v] || h >= kEvtchnHandles ||
	    !domains_[s.v]->handles[h].used)
		return R::fail(ENOENT);
	const Handle &hd = domains_[s.v]->handles[h];
	return R{0, {hd.event_fd.get(), hd.gen}};
}

/* ---- status ---- */

std::string Hypervisor::status_json() const
{
	std::ostringstream o;
	std::set<std::uint64_t> pids;
	for (const auto &[id, cl] : clients_)
		pids.insert(cl.pid);
	o << "{\"domains\": {";
	bool first = true;
	for (const auto &dp : domains_) {
		if (!dp)
			continue;
		const Domain &d = *dp;
		std::uint32_t mapped_by_others = 0, revoked = 0, ports = 0, mappings = 0;
		for (const Grant &g : d.grants) {
			mapped_by_others += g.map_count > 0;
			revoked += g.in_use && g.revoked;
		}
		for (std::uint32_t p = 1; p < kPorts; p++)
			ports += d.ports[p].state != evtchn::State::Free;
		for (const auto &[id, cl] : clients_)
			if (cl.slot.v == d.slot.v)
				for (const auto &[mid, m] : cl.maps)
					mappings += static_cast<std::uint32_t>(m.items.size());
		o << (first ? "" : ", ") << "\"" << d.id.v << "\": {"
		  << "\"grants_shared\": " << d.shares_held
		  << ", \"grants_revoked_mapped\": " << revoked
		  << ", \"grants_mapped_by_others\": " << mapped_by_others
		  << ", \"mappings_held\": " << mappings
		  << ", \"frames_allocated\": " << d.frames_allocated
		  << ", \"evtchn_ports\": " << ports << ", \"gntalloc_limit\": " << gntalloc_limit_
		  << "}";
		first = false;
	}
	o << "}, \"counters\": {";
	first = true;
	for (const auto &dp : domains_) {
		if (!dp)
			continue;
		const DomainCounters &k = shm(*dp).counters;
		const auto v = [](const std::atomic<std::uint64_t> &a) {
			return a.load(std::memory_order_relaxed);
		};
		o << (first ? "" : ", ") << "\"" << dp->id.v << "\": {"
		  << "\"grant_copy_segments\": " << v(k.grant_copy_segments)
		  << ", \"grant_map_ops\": " << v(k.grant_map_ops)
		  << ", \"grant_unmap_ops\": " << v(k.grant_unmap_ops)
		  << ", \"share_ops\": " << v(k.share_ops)
		  << ", \"unshare_ops\": " << v(k.unshare_ops)
		  << ", \"notify_sent\": " << v(k.notify_sent)
		  << ", \"notify_delivered\": " << v(k.notify_delivered) << "}";
		first = false;
	}
	o << "}, \"processes\": " << pids.size() << "}";
	return o.str();
}

} // namespace xensim::hvd
