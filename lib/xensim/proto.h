/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Control RPCs between the stand-in libraries and xensim-hvd, over the
 * SOCK_SEQPACKET socket $XENSIM_DIR/hv/hv.sock. One connection per library
 * handle; the hvd releases what a handle held when its connection closes.
 * Every message is a Msg header followed by `count` 64-bit items (or, for
 * Status replies, `count` bytes of JSON). File descriptors travel as
 * SCM_RIGHTS. Only control operations use this; the data path (grant copy,
 * notify, pending, unmask) works on shared memory.
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <cstdint>

namespace xensim::proto
{

enum class Op : std::uint32_t {
	Hello = 1,         /* a0 domid, a1 Kind, a2 pid, a3 adopt; fd: eventfd (evtchn) */
	GetMem,            /* a0 domid -> a0 slot; fd: the domain's memory */
	Share,             /* a0 domid, a1 writable, a2 notify offset, a3 notify port;
			      count pages -> items ref | frame << 32 */
	Unshare,           /* items: refs */
	Map,               /* a0 writable, a1 notify offset, a2 notify port;
			      items domid | ref << 32 -> a0 map id, items slot | frame << 32 */
	Unmap,             /* a0 map id */
	EvBindUnbound,     /* a0 remote domid -> a0 port */
	EvBindInterdomain, /* a0 remote domid, a1 remote port -> a0 port */
	EvBindVirq,        /* a0 virq -> a0 port */
	EvUnbind,          /* a0 port */
	EvPeerFd,          /* a0 domain slot, a1 handle slot -> a0 handle generation; fd */
	EvRestrict,        /* a0 domid */
	Status,            /* -> count bytes of JSON */
};

enum class Kind : std::uint32_t { Gntshr = 1, Gnttab = 2, Evtchn = 3 };

inline constexpr std::uint32_t kNone = 0xffffffffu;

struct Msg {
	Op op;
	std::int32_t err; /* reply: 0 or an errno value */
	std::uint32_t count;
	std::uint32_t reserved;
	std::uint64_t a[6];
};
static_assert(sizeof(Msg) == 64);

} // namespace xensim::proto

#endif
