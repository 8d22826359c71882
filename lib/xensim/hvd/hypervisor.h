/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * The model behind xensim-hvd: domains, their memory (frame pools in
 * memfds), grant tables and event-channel port tables. The shared parts
 * live in StateShm (shm.h) for the libraries' data paths; bookkeeping that
 * only the hvd needs (who holds what, map counts, unmap notifications,
 * frame quarantine) lives here. Single-threaded: the hvd's event loop calls
 * it one RPC at a time.
 */
#ifndef XENSIM_HVD_HYPERVISOR_H
#define XENSIM_HVD_HYPERVISOR_H

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../client.h"
#include "../proto.h"
#include "../shm.h"

namespace xensim::hvd
{

struct ClientId {
	std::uint64_t v;
	friend auto operator<=>(ClientId, ClientId) = default;
};

inline constexpr std::uint32_t kDefaultGntallocLimit = 1024; /* Linux gntalloc `limit` */
inline constexpr unsigned kNrVirqs = 24;                     /* NR_VIRQS */

/* The unmap notification of a share or mapping (xengnt*_notify). */
struct UnmapNotify {
	std::uint32_t offset = proto::kNone; /* byte to clear, within the pages */
	std::uint32_t port = proto::kNone;   /* local port to notify through */
};

/* An errno value or a result. */
template <typename T>
struct Result {
	int err = 0;
	T value{};
	static Result fail(int e) { return Result{e, T{}}; }
};

class Hypervisor
{
public:
	/* Sets errno on failure. */
	static std::unique_ptr<Hypervisor> create(std::uint32_t gntalloc_limit);

	int state_fd() const { return state_fd_.get(); }

	/* A client (one library handle) introduces itself. */
	Result<DomSlot> hello(ClientId c, DomId d, proto::Kind kind, std::uint64_t pid,
			      int event_fd, bool adopt);
	/* A client went away: release everything it held, as Linux does on close. */
	void release(ClientId c);

	std::optional<DomSlot> find_domain(DomId d) const;
	int memory_fd(DomSlot s) const;
	std::uint8_t handle_slot(ClientId c) const;

	Result<std::vector<std::uint64_t>> share(ClientId c, DomId to, std::uint32_t count,
						 bool writable, UnmapNotify notify);
	void unshare(ClientId c, const std::vector<std::uint64_t> &refs);
	/* Returns the map id in value[0], then slot | frame << 32 per item. */
	Result<std::vector<std::uint64_t>> map(ClientId c, const std::vector<std::uint64_t> &items,
					       bool writable, UnmapNotify notify);
	void unmap(ClientId c, std::uint64_t map_id);

	Result<std::uint32_t> bind_unbound(ClientId c, DomId remote);
	Result<std::uint32_t> bind_interdomain(ClientId c, DomId remote, std::uint32_t rport);
	Result<std::uint32_t> bind_virq(ClientId c, std::uint32_t virq);
	int unbind(ClientId c, std::uint32_t port);
	int restrict_to(ClientId c, DomId d);
	/* The eventfd of handle `h` of domain slot `s`, and its generation. */
	Result<std::pair<int, std::uint32_t>> peer_fd(DomSlot s, std::uint8_t h) const;

	std::string status_json() const;

private:
	struct Grant {
		bool in_use = false;
		bool revoked = false; /* unshared, kept until the last mapping goes */
		ClientId owner{0};
		DomId to{0};
		bool readonly = false;
		Frame frame{0};
		std::uint32_t map_count = 0;
		UnmapNotify notify;
	};
	struct PortInfo {
		evtchn::State state = evtchn::State::Free;
		ClientId owner{0};
		std::uint8_t handle = kNoHandle;
		std::uint32_t gen = 0;
		DomId remote_dom{0};
		std::uint32_t remote_port = 0;
		std::uint32_t virq = 0;
		std::uint32_t refs = 0; /* unmap notifications that will use it */
		bool orphan = false;    /* unbound by its handle, closed when refs drop */
	};
	struct Handle {
		bool used = false;
		ClientId owner{0};
		UniqueFd event_fd;
		std::uint32_t gen = 0;
	};
	struct Domain {
		DomId id{0};
		DomSlot slot{0};
		UniqueFd mem_fd;
		Mapping mem;
		std::vector<bool> frame_used;
		std::uint32_t frame_cursor = 0;
		std::uint32_t frames_allocated = 0;
		std::deque<std::pair<Frame, std::chrono::steady_clock::time_point>> quarantine;
		std::vector<Grant> grants;
		std::uint32_t grant_cursor = kReservedGrants;
		std::uint32_t shares_held = 0;
		std::vector<PortInfo> ports;
		std::array<std::uint32_t, kNrVirqs> virq_port{};
		std::array<Handle, kEvtchnHandles> handles;
	};
	struct MapItem {
		DomSlot slot;
		std::uint32_t ref;
	};
	struct GrantMapping {
		std::vector<MapItem> items;
		bool writable = false;
		UnmapNotify notify;
	};
	struct Client {
		DomSlot slot{0};
		proto::Kind kind = proto::Kind::Gnttab;
		std::uint64_t pid = 0;
		std::set<std::uint32_t> shares;
		std::map<std::uint64_t, GrantMapping> maps;
		std::uint8_t handle = kNoHandle;
		std::set<std::uint32_t> ports;
		std::optional<DomId> restricted;
	};

	Hypervisor() = default;
	StateShm &shm() const { return *reinterpret_cast<StateShm *>(state_.bytes()); }
	DomainShm &shm(const Domain &d) const { return shm().domains[d.slot.v]; }
	Domain *domain_for(DomId d, bool create);
	Client *client(ClientId c);

	std::optional<std::vector<Frame>> alloc_frames(Domain &d, std::uint32_t count);
	void free_frame(Domain &d, Frame f);
	void zero_frame(Domain &d, Frame f);
	std::optional<std::uint32_t> alloc_ref(Domain &d);
	void end_share(Domain &d, std::uint32_t ref);
	void end_grant(Domain &d, std::uint32_t ref);
	void run_notify(Domain &d, std::uint8_t *page_base, const UnmapNotify &n);

	std::optional<std::uint32_t> alloc_port(Domain &d);
	void publish(Domain &d, std::uint32_t port);
	void bind_port(Domain &d, std::uint32_t port, ClientId c, std::uint8_t handle);
	void close_port(Domain &d, std::uint32_t port);
	void put_port(Domain &d, std::uint32_t port);
	bool port_usable_for_notify(const Domain &d, std::uint32_t port) const;
	void send_via(Domain &d, std::uint32_t port);
	void wake(Domain &d, std::uint8_t handle);

	std::uint32_t gntalloc_limit_ = kDefaultGntallocLimit;
	UniqueFd state_fd_;
	Mapping state_;
	std::array<std::unique_ptr<Domain>, kMaxDomains> domains_;
	std::map<ClientId, Client> clients_;
	std::uint64_t next_map_id_ = 1;
};

} // namespace xensim::hvd

#endif
