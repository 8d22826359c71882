/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * The xensim "hypervisor" state that every process of an instance maps:
 * grant tables, event-channel port tables, per-handle pending bitmaps and
 * per-domain counters. The hvd (xensim-hvd) creates it as a memfd and is the
 * only writer of grant entries and port links; the stand-in libraries read
 * them, and move event-channel ports through their delivery states with
 * atomic read-modify-writes. Every field is a lock-free std::atomic (address
 * free, so usable across processes).
 */
#ifndef XENSIM_SHM_H
#define XENSIM_SHM_H

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace xensim
{

inline constexpr std::size_t kPageSize = 4096;
inline constexpr unsigned kMaxDomains = 64;
/* Xen's default gnttab_max_frames (64) of v1 entries (512 per 4 KiB frame). */
inline constexpr std::uint32_t kGrantEntries = 64 * 512;
/* Linux keeps refs 0..7 for the toolstack (GNTTAB_NR_RESERVED_ENTRIES). */
inline constexpr std::uint32_t kReservedGrants = 8;
/* Frames a domain may have allocated at once: every grant plus quarantine. */
inline constexpr std::uint32_t kFramesPerDomain = kGrantEntries + 8192;
/* 2-level event channel ABI on 64-bit: 64 * 64 ports; port 0 is reserved. */
inline constexpr std::uint32_t kPorts = 4096;
inline constexpr unsigned kEvtchnHandles = 128;
inline constexpr unsigned kBitmapWords = kPorts / 64;
inline constexpr std::uint8_t kNoHandle = 0xff;
/* Largest item count of one RPC (pages shared or grants mapped at once). */
inline constexpr std::uint32_t kMaxRpcItems = 16384;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/* Strong types for the things that must never be mixed up. */
struct DomId {
	std::uint16_t v;
	friend bool operator==(DomId, DomId) = default;
};
struct GrantRef {
	std::uint32_t v;
};
struct Port {
	std::uint32_t v;
};
struct Frame {
	std::uint32_t v;
};
/* Index of a domain in StateShm::domains (not a domid). */
struct DomSlot {
	std::uint8_t v;
};

/*
 * Grant entry, packed in one 64-bit word so that a reader sees a consistent
 * entry with one acquire load: bits 0-15 granted-to domid, bit 16 valid
 * (GTF_permit_access), bit 17 read-only (GTF_readonly), bits 32-63 frame.
 */
namespace grant
{
inline constexpr std::uint64_t kValid = 1ull << 16;
inline constexpr std::uint64_t kReadonly = 1ull << 17;
constexpr std::uint64_t pack(DomId to, bool readonly, Frame f)
{
	return std::uint64_t{to.v} | kValid | (readonly ? kReadonly : 0) |
	       (std::uint64_t{f.v} << 32);
}
constexpr bool valid(std::uint64_t e)
{
	return (e & kValid) != 0;
}
constexpr bool readonly(std::uint64_t e)
{
	return (e & kReadonly) != 0;
}
constexpr DomId granted_to(std::uint64_t e)
{
	return DomId{static_cast<std::uint16_t>(e)};
}
constexpr Frame frame(std::uint64_t e)
{
	return Frame{static_cast<std::uint32_t>(e >> 32)};
}
} // namespace grant

/*
 * Event-channel port: a delivery word and a link word.
 *
 * word (written by notifiers, the owner's pending/unmask and the hvd):
 *   bit 0 kMasked  - delivered to the owning handle and not yet unmasked
 *   bit 1 kPending - an event arrived while masked (latched)
 *   bits 16-27     - generation of this port's current binding
 * link (written by the hvd only):
 *   bits 0-3 state, bits 8-15 owning handle slot, bits 16-31 remote domid,
 *   bits 32-43 remote port, bits 44-51 remote domain slot,
 *   bits 52-63 generation of the remote port's binding.
 */
namespace evtchn
{
inline constexpr std::uint32_t kMasked = 1u << 0;
inline constexpr std::uint32_t kPending = 1u << 1;
inline constexpr std::uint32_t kGenMask = 0xfff;
constexpr std::uint32_t word_gen(std::uint32_t w)
{
	return (w >> 16) & kGenMask;
}
constexpr std::uint32_t make_word(std::uint32_t gen)
{
	return (gen & kGenMask) << 16;
}

enum class State : std::uint8_t { Free = 0, Unbound = 1, Interdomain = 2, Virq = 3 };

struct Link {
	State state = State::Free;
	std::uint8_t handle = kNoHandle;
	DomId remote_dom{0};
	Port remote_port{0};
	DomSlot remote_slot{0};
	std::uint32_t remote_gen = 0;

	constexpr std::uint64_t pack() const
	{
		return std::uint64_t{static_cast<std::uint8_t>(state)} |
		       (std::uint64_t{handle} << 8) | (std::uint64_t{remote_dom.v} << 16) |
		       (std::uint64_t{remote_port.v & 0xfff} << 32) |
		       (std::uint64_t{remote_slot.v} << 44) |
		       (std::uint64_t{remote_gen & kGenMask} << 52);
	}
	static constexpr Link unpack(std::uint64_t x)
	{
		Link l;
		l.state = static_cast<State>(x & 0xf);
		l.handle = static_cast<std::uint8_t>(x >> 8);
		l.remote_dom = DomId{static_cast<std::uint16_t>(x >> 16)};
		l.remote_port = Port{static_cast<std::uint32_t>((x >> 32) & 0xfff)};
		l.remote_slot = DomSlot{static_cast<std::uint8_t>(x >> 44)};
		l.remote_gen = static_cast<std::uint32_t>(x >> 52) & kGenMask;
		return l;
	}
};
} // namespace evtchn

struct PortShm {
	std::atomic<std::uint32_t> word;
	std::uint32_t reserved;
	std::atomic<std::uint64_t> link;
};
static_assert(sizeof(PortShm) == 16);

/* Ports delivered to a handle and not yet returned by xenevtchn_pending(). */
struct alignas(64) HandleShm {
	std::atomic<std::uint64_t> bits[kBitmapWords];
	std::atomic<std::uint32_t> gen;
	std::uint32_t reserved[15];
};

/* Per-domain counters (relaxed atomics; for status and benchmarks only). */
struct alignas(64) DomainCounters {
	std::atomic<std::uint64_t> grant_copy_segments;
	std::atomic<std::uint64_t> grant_map_ops;
	std::atomic<std::uint64_t> grant_unmap_ops;
	std::atomic<std::uint64_t> share_ops;
	std::atomic<std::uint64_t> unshare_ops;
	std::atomic<std::uint64_t> notify_sent;
	std::atomic<std::uint64_t> notify_delivered;
};

struct DomainShm {
	DomainCounters counters;
	std::atomic<std::uint64_t> grants[kGrantEntries];
	PortShm ports[kPorts];
	HandleShm handles[kEvtchnHandles];
};

inline constexpr std::uint32_t kMagic = 0x58534856; /* "XSHV" */
inline constexpr std::uint32_t kLayoutVersion = 1;

struct StateShm {
	std::uint32_t magic;
	std::uint32_t version;
	/* domid + 1 of the domain in each slot, 0 if the slot is free. */
	std::atomic<std::uint32_t> slot_domid[kMaxDomains];
	alignas(64) DomainShm domains[kMaxDomains];
};

inline void count(std::atomic<std::uint64_t> &c, std::uint64_t n = 1)
{
	c.fetch_add(n, std::memory_order_relaxed);
}

/*
 * Queues `port` for xenevtchn_pending() of handle `h`. Returns `h` if the
 * caller must add one token to that handle's eventfd (the port's bit went
 * from clear to set), kNoHandle otherwise. Keeping one token per set bit
 * means a readable fd always has a port for pending() to return.
 */
inline std::uint8_t queue_for_handle(DomainShm &d, std::uint8_t h, Port port)
{
	if (h >= kEvtchnHandles)
		return kNoHandle;
	const std::uint64_t bit = 1ull << (port.v % 64);
	/* release: pairs with the acquire fetch_and in pending(). */
	const std::uint64_t old =
		d.handles[h].bits[port.v / 64].fetch_or(bit, std::memory_order_release);
	return (old & bit) ? kNoHandle : h;
}

/*
 * Raises an event on (slot, port) if that port's binding still has
 * generation `gen`: the shared half of Xen's evtchn_set_pending plus the
 * Linux evtchn driver's upcall (mask, queue for the owning handle, wake it).
 * Returns the handle slot whose eventfd needs a token, or kNoHandle when
 * nothing needs waking: the port was already delivered (the event is
 * latched), is no longer the binding the caller meant, or has no handle.
 */
inline std::uint8_t raise_event(DomainShm &d, Port port, std::uint32_t gen)
{
	PortShm &p = d.ports[port.v];
	std::uint32_t w = p.word.load(std::memory_order_acquire);
	for (;;) {
		if (evtchn::word_gen(w) != (gen & evtchn::kGenMask) || (w & evtchn::kPending))
			return kNoHandle;
		const std::uint32_t next =
			w | ((w & evtchn::kMasked) ? evtchn::kPending : evtchn::kMasked);
		/* acq_rel: pairs with the owner's unmask and the hvd's rebinding. */
		if (p.word.compare_exchange_weak(w, next, std::memory_order_acq_rel,
						 std::memory_order_acquire)) {
			if (w & evtchn::kMasked)
				return kNoHandle; /* latched, re-delivered on unmask */
			break;
		}
	}
	count(d.counters.notify_delivered);
	const auto link = evtchn::Link::unpack(p.link.load(std::memory_order_acquire));
	return queue_for_handle(d, link.handle, port);
}

} // namespace xensim

#endif
