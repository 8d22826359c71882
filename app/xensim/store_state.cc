/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Saving and loading the node database (store_db.h) in the stream of
 * store_state.h. */

#include "store_db.h"

namespace xensim::store
{

namespace
{

void save_perms(StateWriter &w, const Perms &perms)
{
	w.u32(static_cast<uint32_t>(perms.size()));
	for (const Perm &p : perms) {
		w.u32(raw(p.id));
		w.u32(p.bits);
	}
}

/* Every list in the store has its owner first: an empty one is refused. */
bool load_perms(StateReader &r, Perms &perms)
{
	uint32_t n = r.count(8);
	perms.clear();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		DomId id{r.u32()};
		perms.push_back(Perm{id, r.u32()});
	}
	return r.ok() && !perms.empty();
}

} // namespace

void Store::save(StateWriter &w) const
{
	w.u64(generation_);
	save_perms(w, introduce_perms_);
	save_perms(w, release_perms_);
	w.u32(static_cast<uint32_t>(domains_.size()));
	for (const auto &[id, d] : domains_) {
		w.u32(id);
		w.u64(d.generation);
		w.flag(d.introduced);
		w.u32(d.nodes);
		w.u32(d.watches);
		w.flag(d.target.has_value());
		w.u32(d.target ? raw(*d.target) : 0);
	}
	w.u32(static_cast<uint32_t>(nodes_.size()));
	for (const auto &[name, n] : nodes_) {
		w.bytes(name);
		w.bytes(n.data);
		w.u64(n.generation);
		save_perms(w, n.perms);
		w.u32(static_cast<uint32_t>(n.children.size()));
		for (const auto &c : n.children)
			w.bytes(c);
	}
}

bool Store::load(StateReader &r)
{
	uint64_t generation = r.u64();
	Perms introduce, release;
	if (!load_perms(r, introduce) || !load_perms(r, release))
		return false;
	std::map<uint32_t, Domain> domains;
	for (uint32_t i = 0, n = r.count(26); i < n && r.ok(); i++) {
		uint32_t id = r.u32();
		Domain d;
		d.generation = r.u64();
		d.introduced = r.flag();
		d.nodes = r.u32();
		d.watches = r.u32();
		bool has_target = r.flag();
		uint32_t target = r.u32();
		if (has_target)
			d.target = DomId{target};
		domains[id] = d;
	}
	std::map<std::string, Node> nodes;
	for (uint32_t i = 0, n = r.count(28); i < n && r.ok(); i++) {
		std::string name = r.bytes();
		Node node;
		node.data = r.bytes();
		node.generation = r.u64();
		if (!load_perms(r, node.perms))
			return false;
		for (uint32_t c = 0, nc = r.count(4); c < nc && r.ok(); c++)
			node.children.push_back(r.bytes());
		nodes.emplace(std::move(name), std::move(node));
	}
	if (!r.ok() || !nodes.count("/") || !domains.count(raw(kDom0)))
		return false;
	generation_ = generation;
	introduce_perms_ = std::move(introduce);
	release_perms_ = std::move(release);
	domains_ = std::move(domains);
	nodes_ = std::move(nodes);
	return true;
}

void Store::forget_watches()
{
	for (auto &[id, d] : domains_)
		d.watches = 0;
}

} // namespace xensim::store
