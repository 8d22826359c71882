/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Hostile mode (devarg hostile=<behaviour>[:<rate>]): a backend that breaks
 * netif.h on purpose, so that system tests can show what a frontend does
 * with a backend it must not trust. For testing only; never set it in
 * production.
 *
 * Data-path behaviours corrupt the responses a burst has just written,
 * before they are published, in one packet of every `rate` (default 1000):
 * the burst functions call hostile_guest_rx()/hostile_guest_tx() at that
 * one point. Control-path behaviours (unmap, flap) run in the control
 * thread, once, after `rate` packets (unmap, default 1000) or for `rate`
 * state writes (flap, default 20). Control-ring behaviours (ctrl_*) answer
 * the first `rate` control requests well (default 0) and every later one
 * badly (ctrl_late: only the next one); Control::serve_ctrl asks
 * Control::hostile_ctrl_hold() before answering a request and lets
 * Control::hostile_ctrl_answer() falsify the answer; a falsified answer
 * applies nothing. snoop breaks nothing: it reads the whole granted page
 * of every guest transmit request (as a backend may) and counts the
 * occurrences of snoop_marker there (xstat rx_qN_snooped_markers), so
 * that a test can show which memory a frontend lets the backend see.
 *
 * Compiled in only with meson -Dhostile_hooks=true (devtools/run.sh's
 * builds, for the tests). Without it xenback_hostile_off.cc stands in:
 * hostile= is refused at probe, naming the option, and the bursts' hooks,
 * behind `if constexpr (hostile_hooks)`, compile to nothing. */

#include <cstdint>
#include <string>
#include <string_view>

#include "netif_ring.h"

namespace xenback
{

#ifdef XENBACK_HOSTILE_HOOKS
inline constexpr bool hostile_hooks = true;
#else
inline constexpr bool hostile_hooks = false;
#endif

#define XENBACK_HOSTILE_BEHAVIOURS(X)                                                              \
	/* guest receive (responses on the rx ring) */                                             \
	X(rx_bad_id, "an id never issued")                                                         \
	X(rx_dup_id, "the id of the previous response again")                                      \
	X(rx_oversize, "a size larger than the page")                                              \
	X(rx_bad_offset, "an offset that puts the data past the page")                             \
	X(rx_bad_status, "a status below NETIF_RSP_DROPPED")                                       \
	X(rx_too_many_slots, "20 responses chained into one packet")                               \
	X(rx_extra, "a GSO extra-info slot the frontend did not ask for")                          \
	X(rx_prod_race, "the producer index published a ring past the buffers posted")             \
	/* guest transmit (responses on the tx ring) */                                            \
	X(tx_bad_id, "an id never issued")                                                         \
	X(tx_dup_id, "the id of the previous response again")                                      \
	X(tx_bad_status, "a status out of range")                                                  \
	X(tx_null, "NETIF_RSP_NULL for a real request")                                            \
	X(tx_prod_race, "the producer index published a ring past the requests")                   \
	X(tx_mcast_full, "every MCAST_ADD answered ERROR, as by a netback whose list is full")     \
	/* control path */                                                                         \
	X(unmap, "rings unmapped and event channels unbound mid-traffic, state left Connected")    \
	X(flap, "the backend's xenbus state rewritten with random values")                         \
	/* control ring (answers to the guest's control requests) */                               \
	X(ctrl_error, "refusals: NOT_SUPPORTED, INVALID_PARAMETER, BUFFER_OVERFLOW in turn")       \
	X(ctrl_bad_id, "the id of a request never sent")                                           \
	X(ctrl_bad_type, "the type of another request")                                            \
	X(ctrl_garbage, "random bytes for id, type, status and data")                              \
	X(ctrl_prod_race, "the response producer index published a ring past the requests")        \
	X(ctrl_silent, "no answer at all")                                                         \
	X(ctrl_late, "one answer 1.5 s late, the others on time")                                  \
	X(ctrl_small_table, "GET_HASH_MAPPING_SIZE answered 0, 64, 127 or 1")                      \
	/* reading what it may read (an untrusted backend, XSA-403) */                             \
	X(snoop, "the whole page of every guest transmit request read, the marker counted")

enum class HostileBehaviour : uint8_t {
	none,
#define XENBACK_HOSTILE_ENUM(name, help) name,
	XENBACK_HOSTILE_BEHAVIOURS(XENBACK_HOSTILE_ENUM)
#undef XENBACK_HOSTILE_ENUM
};

/* What the devarg asked for. */
struct HostileConfig {
	HostileBehaviour behaviour = HostileBehaviour::none;
	uint32_t rate = 0; /* 0: the behaviour's default */
};

/* Per-queue state (plain, in the queue). */
struct Hostile {
	HostileBehaviour behaviour;
	uint32_t rate;      /* one packet in `rate` */
	uint32_t countdown; /* packets until the next injection */
	uint16_t last_id;   /* previous response's id (dup_id) */
};

/* What a test's application writes into memory that must stay its own. */
inline constexpr char snoop_marker[] = "XF-SECRET-MARKER";

/* Parses "<behaviour>[:<rate>]"; false with `why` listing the behaviours. */
bool parse_hostile_config(std::string_view value, HostileConfig &config, std::string &why);
const char *hostile_name(HostileBehaviour b) noexcept;
bool hostile_is_control(HostileBehaviour b) noexcept;   /* unmap, flap */
bool hostile_is_ctrl_ring(HostileBehaviour b) noexcept; /* ctrl_* */
uint32_t hostile_rate(const HostileConfig &config) noexcept;

struct RxQueue;
struct TxQueue;

/* Arms the queue the behaviour applies to (guest receive: the TxQueue;
 * guest transmit: the RxQueue) and disarms the other. */
void hostile_init_queues(RxQueue &rxq, TxQueue &txq, const HostileConfig &config) noexcept;

/* Corrupts the guest-receive responses written since `first`, before the
 * burst pushes them. */
void hostile_guest_rx(TxQueue &q, RING_IDX first) noexcept;
/* Corrupts the guest-transmit responses written since `first`. */
void hostile_guest_tx(RxQueue &q, RING_IDX first) noexcept;
/* snoop: reads the page of each request in [cons, prod). */
void hostile_snoop(RxQueue &q, RING_IDX cons, RING_IDX prod) noexcept;

} // namespace xenback
