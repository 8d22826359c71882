/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * The node database of the xensim store daemon: nodes, permissions,
 * transactions and per-domain accounting, with xenstored's semantics
 * (tools/xenstore/xenstored_core.c, xenstored_transaction.c and
 * xenstored_domain.c of Xen 4.17). No sockets here: the daemon
 * (stored_main.cc) parses messages and calls these operations, which return
 * 0 or the errno that goes into an XS_ERROR reply.
 */

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store_state.h"
#include "store_types.h"

namespace xensim::store
{

struct Node {
	std::string data;
	std::vector<std::string> children; /* in creation order, as xenstored */
	Perms perms;
	uint64_t generation = 0;
};

/*
 * A transaction as xenstored 4.17 runs it: no snapshot; each node is read
 * from the live tree on first access and remembered with its generation;
 * writes stay private until the end; at the end every node read must still
 * have the generation it had, or the commit fails with EAGAIN.
 */
class Transaction
{
public:
	explicit Transaction(uint64_t generation) : generation_(generation) {}

	struct Access {
		std::optional<Node> node; /* the transaction's view */
		uint64_t generation;      /* at first access, or kNoGeneration */
		bool check_gen = false;   /* first access was a read */
		bool modified = false;
		bool fire_watch = false; /* a watch event is due at commit */
		bool watch_exact = false;
		std::optional<Perms> old_perms; /* perms at first access */
	};

	std::size_t size() const { return order_.size(); }

private:
	friend class Store;
	Access *find(const std::string &name);
	Access &add(const std::string &name, Access a);

	uint64_t generation_;
	std::map<std::string, std::size_t> index_;
	std::vector<std::pair<std::string, Access>> order_;
	bool fail_ = false;
	bool node_created_ = false;
};

/* Who asks: the connection's domain, the domain it acts for (set by
 * XS_SET_TARGET) and the transaction of the request, if any. */
struct Caller {
	DomId dom;
	std::optional<DomId> target;
	Transaction *trans = nullptr;
};

/* What the store knows about a domain (xenstored struct domain). */
struct Domain {
	uint64_t generation = 0; /* when xenstored first heard of it */
	bool introduced = false;
	unsigned int nodes = 0;   /* nodes it owns (nbentry) */
	unsigned int watches = 0; /* over all its connections (nbwatch) */
	std::optional<DomId> target;
};

/* A watch event to deliver: xenstored fire_watches() arguments. */
struct FireRequest {
	std::string name;
	const Node *node;       /* the node if it still exists (may be null) */
	bool exact;             /* only watches on exactly this node */
	const Perms *old_perms; /* perms before the change, may be null */
};

class Store
{
public:
	explicit Store(const Limits &limits);

	const Limits &limits() const { return limits_; }

	/* Called for every watch event that is due now (outside transactions,
	 * or at commit). */
	void set_fire_handler(std::function<void(const FireRequest &)> fn)
	{
		fire_ = std::move(fn);
	}

	/* Operations of xs_wire.h. `name` is what the client sent (relative or
	 * absolute); out gets the reply payload. */
	int read(const Caller &c, std::string_view name, std::string &out);
	int write(const Caller &c, std::string_view name, std::string_view data);
	int mkdir(const Caller &c, std::string_view name);
	int rm(const Caller &c, std::string_view name);
	int directory(const Caller &c, std::string_view name, std::string &out);
	int directory_part(const Caller &c, std::string_view name, std::string_view offset,
			   std::string &out);
	int get_perms(const Caller &c, std::string_view name, std::string &out);
	int set_perms(const Caller &c, std::string_view name,
		      const std::vector<std::string_view> &perm_strings);

	Transaction start_transaction() { return Transaction(++generation_); }
	/* XS_TRANSACTION_END "T": 0, EAGAIN on conflict, ENOSPC over quota. */
	int commit(const Caller &c, Transaction &t);

	/* Domains. */
	Domain &domain(DomId d);
	const Domain *find_domain(DomId d) const;
	Domain *find_domain(DomId d);
	bool is_introduced(DomId d) const;
	/* xenstored introduce_domain(): marks it introduced, fires
	 * @introduceDomain (not for dom0). */
	void introduce(DomId d);
	/* xenstored destroy_domain(): deletes the nodes it owns, forgets it,
	 * drops it from the special perms and fires @releaseDomain. */
	void release(DomId d);
	std::vector<DomId> introduced_domains() const;

	/* Special watch names and whether domain `d` may see their events
	 * (xenstored check_perms_special()). */
	bool special_permitted(std::string_view name, DomId d, std::optional<DomId> target) const;
	/* xenstored watch_permitted(). */
	bool watch_permitted(const FireRequest &r, DomId d, std::optional<DomId> target) const;

	std::size_t node_count() const { return nodes_.size(); }

	/* The tree (with node generations), the domains with their
	 * accounting, the special permissions and the generation counter:
	 * what a live update carries over and a snapshot keeps
	 * (store_state.cc). */
	void save(StateWriter &w) const;
	/* Replaces all of that with what `r` holds. False, and the store
	 * unchanged, if the stream is malformed. */
	bool load(StateReader &r);
	/* After a restart that lost every connection, no domain has watches. */
	void forget_watches();

private:
	enum class Access { read, write, remove };

	int read_node(const Caller &c, const std::string &name, Node &out);
	int get_node(const Caller &c, const std::string &name, unsigned int perm, Node &out);
	int errno_from_parents(const Caller &c, const std::string &name, int err,
			       unsigned int perm);
	int write_node(const Caller &c, const std::string &name, Node node, bool no_quota_check);
	int delete_node(const Caller &c, const std::string &name);
	int create_node(const Caller &c, const std::string &name, std::string_view data);
	int rm_node(const Caller &c, const std::string &name);
	int rm_subtree(const Caller &c, const std::string &name, const std::string &root);
	void fire(const Caller &c, const std::string &name, const Node *node, bool exact,
		  const Perms *old_perms);

	int track(const Caller &c, const std::string &name, Access type, const Node *current);
	void adjust_perms(Node &n) const;
	bool entry_too_big(const Caller &c, const Node &n) const;
	void global_put(const std::string &name, Node n);
	void global_erase(const std::string &name);
	const Node *global_find(const std::string &name) const;
	void remove_owned_by(DomId d);

	Limits limits_;
	std::map<std::string, Node> nodes_;
	std::map<uint32_t, Domain> domains_;
	uint64_t generation_ = 0;
	Perms introduce_perms_;
	Perms release_perms_;
	std::function<void(const FireRequest &)> fire_;
};

} // namespace xensim::store
