/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The netif control ring, backend side, as Linux netback's hash.c answers
 * it (netif.h "Control requests"): the Toeplitz algorithm, hash types, a key
 * of up to 40 bytes and a mapping table of up to 128 entries, each naming a
 * queue the guest set up. The grant-mapping requests (static grants) are
 * answered by Control::handle_gref_request (xenback_gref.h).
 *
 * The state the data path steers by lives in dev_private as two copies: the
 * control thread edits the one not in use and publishes it with release;
 * bursts read the published one (acquire), and check each mapping entry
 * against the queues connected before using it. */

#include <cstdint>

#include "toeplitz.h"
#include "xen_protocol.h"

extern "C" {
#include <xengnttab.h>
}

namespace xenback
{

/* netback's XEN_NETBK_MAX_HASH_MAPPING_SIZE. */
constexpr uint32_t max_mapping_size = 128;

struct HashConfig {
	uint32_t algorithm; /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t types;     /* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint32_t key_len;
	uint8_t key[xen::toeplitz_key_size];
	xen::ToeplitzTable table; /* of `key`, for the data path (all 0: key all 0) */
	uint32_t mapping_size;    /* 0: hash % queues */
	uint32_t mapping[max_mapping_size];
};

struct SharedHash {
	HashConfig copies[2];
	uint32_t current; /* index of the published copy */
};

inline const HashConfig &published(const SharedHash &s) noexcept
{
	return s.copies[__atomic_load_n(&s.current, __ATOMIC_ACQUIRE) & 1];
}

/* Answers one control request, editing `next` (a copy of the published
 * configuration); `copy_from_guest` reads `len` bytes of the guest's grant
 * `ref` into `dst`. Sets the response's status and data. */
struct CtrlContext {
	uint32_t nb_queues; /* multi-queue-num-queues */
	uint16_t guest;
	xengnttab_handle *gnttab;
};
void handle_ctrl_request(const xen_netif_ctrl_request &req, HashConfig &next,
			 const CtrlContext &ctx, xen_netif_ctrl_response &rsp) noexcept;

/* Which of `nb_queues` queues a packet with `hash` goes to. */
inline uint32_t steer(const HashConfig &cfg, uint32_t hash, uint32_t nb_queues) noexcept
{
	uint32_t q = cfg.mapping_size ? cfg.mapping[hash % cfg.mapping_size] : hash % nb_queues;
	return q < nb_queues ? q : 0;
}

} // namespace xenback
