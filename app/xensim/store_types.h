/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Vocabulary of the xensim store daemon: domain ids, node permissions and
 * the limits xenstored enforces. Everything here mirrors C xenstored
 * (tools/xenstore/xenstored_core.c of Xen 4.17); names of the quotas follow
 * its -N/-W/-S/-t/-A/-M/-Q options so a reader can compare them.
 */

#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xen/xen.h>
#include <xenstore_lib.h>

namespace xensim::store
{

/* A domain id. Strong so that it cannot be mixed with a count or a port. */
enum class DomId : uint32_t {};

constexpr uint32_t raw(DomId d) noexcept
{
	return static_cast<uint32_t>(d);
}
constexpr DomId kDom0{0};

/* Domain ids from DOMID_FIRST_RESERVED up never name a real domain
 * (xen/xen.h); xenstored learns that from the hypervisor. */
constexpr bool is_real_domid(uint32_t d) noexcept
{
	return d < DOMID_FIRST_RESERVED;
}

/* xenstored's domain_is_unprivileged(): only dom0 (the priv_domid) bypasses
 * permissions and quotas. */
constexpr bool is_privileged(DomId d) noexcept
{
	return raw(d) == 0;
}

/* One entry of a node's permission list; bits are XS_PERM_* of
 * xenstore_lib.h, XS_PERM_IGNORE marks an entry for a domain that no longer
 * exists (xenstored's domain_adjust_node_perms()). */
struct Perm {
	DomId id;
	unsigned int bits;

	bool operator==(const Perm &) const = default;
};
using Perms = std::vector<Perm>;

/* Generation of a node that does not exist (xenstored NO_GENERATION). */
constexpr uint64_t kNoGeneration = ~uint64_t{0};

/*
 * Quotas, defaults of xenstored 4.17 (xenstored_core.c, "quota_*").
 * They apply to unprivileged domains only, as in xenstored.
 */
struct Limits {
	unsigned int nodes_per_domain = 1000;          /* -N quota_nb_entry_per_domain */
	unsigned int watches_per_domain = 128;         /* -W quota_nb_watch_per_domain */
	unsigned int entry_size = 2048;                /* -S quota_max_entry_size */
	unsigned int transactions_per_conn = 10;       /* -t quota_max_transaction */
	unsigned int perms_per_node = 5;               /* -A quota_nb_perms_per_node */
	unsigned int nodes_per_transaction = 1024;     /* -Q transaction-nodes */
	unsigned int path_len = XENSTORE_REL_PATH_MAX; /* -M quota_max_path_len */
	unsigned int outstanding = 20;                 /* -Q outstanding */
	/* quota_memory_per_domain_hard: xenstored drops watch events for a
	 * domain over it; here it bounds each connection's queued output. */
	std::size_t output_bytes = 2 * 1024 * 1024 + 512 * 1024;
	/* Not in xenstored (one ring per domain there): how many socket
	 * connections one unprivileged domain may hold open. */
	unsigned int conns_per_domain = 64;
	/* Not in xenstored (which trusts dom0): a dom0 connection that lets
	 * this much output pile up unread is closed. */
	std::size_t dom0_output_bytes = 64 * 1024 * 1024;
};

/* The node record size xenstored compares with quota_max_entry_size:
 * struct xs_tdb_record_hdr (u64 generation, u32 num_perms, datalen,
 * childlen, padded to 24 bytes) plus the permissions, data and children. */
constexpr std::size_t kRecordHeaderSize = 24;

} // namespace xensim::store
