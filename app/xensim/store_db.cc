/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

#include "store_db.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store_path.h"
#include "store_perms.h"

namespace xensim::store
{

namespace
{

bool propagates(int err)
{
	/* xenstored read_node_can_propagate_errno(): these say nothing about
	 * whether a node exists, so a caller may always learn them. */
	return err == ENOMEM || err == ENOSPC;
}

std::string join_children(const std::vector<std::string> &children)
{
	std::string out;
	for (const auto &c : children) {
		out += c;
		out += '\0';
	}
	return out;
}

} // namespace

Transaction::Access *Transaction::find(const std::string &name)
{
	auto it = index_.find(name);
	return it == index_.end() ? nullptr : &order_[it->second].second;
}

Transaction::Access &Transaction::add(const std::string &name, Access a)
{
	index_.emplace(name, order_.size());
	order_.emplace_back(name, std::move(a));
	return order_.back().second;
}

Store::Store(const Limits &limits) : limits_(limits)
{
	domain(kDom0).introduced = true;
	/* xenstored setup_structure(): the root, /tool and /tool/xenstored,
	 * owned by dom0 and closed to everybody else. */
	const Perms closed{{kDom0, XS_PERM_NONE}};
	global_put("/", Node{"", {"tool"}, closed, ++generation_});
	global_put("/tool", Node{"", {"xenstored"}, closed, ++generation_});
	global_put("/tool/xenstored", Node{"", {}, closed, ++generation_});
	/* xenstored set_dom_perms_default(): only dom0 sees the special
	 * @introduceDomain/@releaseDomain events until it grants more. */
	introduce_perms_ = closed;
	release_perms_ = closed;
}

/* ---- domains ---- */

Domain &Store::domain(DomId d)
{
	/* A domain's generation is the global count when xenstored first
	 * heard of it, not incremented: nodes written afterwards are younger
	 * (xenstored_transaction.c, "Some notes regarding ..."). */
	Domain fresh;
	fresh.generation = generation_;
	return domains_.try_emplace(raw(d), fresh).first->second;
}

const Domain *Store::find_domain(DomId d) const
{
	auto it = domains_.find(raw(d));
	return it == domains_.end() ? nullptr : &it->second;
}

Domain *Store::find_domain(DomId d)
{
	auto it = domains_.find(raw(d));
	return it == domains_.end() ? nullptr : &it->second;
}

bool Store::is_introduced(DomId d) const
{
	const Domain *dom = find_domain(d);
	return dom && dom->introduced;
}

std::vector<DomId> Store::introduced_domains() const
{
	std::vector<DomId> out;
	for (const auto &[id, d] : domains_)
		if (d.introduced)
			out.push_back(DomId{id});
	return out;
}

void Store::introduce(DomId d)
{
	Domain &dom = domain(d);
	if (dom.introduced)
		return;
	dom.introduced = true;
	if (d != kDom0 && fire_)
		fire_(FireRequest{"@introduceDomain", nullptr, true, nullptr});
}

void Store::release(DomId d)
{
	remove_owned_by(d);
	/* xenstored remove_domid_from_perm(): a dead domain loses its entries
	 * in the special perms; if it owned them, dom0 takes over. */
	for (Perms *p : {&introduce_perms_, &release_perms_}) {
		if (p->front().id == d)
			p->front().id = kDom0;
		Perms kept{p->front()};
		for (std::size_t i = 1; i < p->size(); i++)
			if ((*p)[i].id != d)
				kept.push_back((*p)[i]);
		*p = kept;
	}
	domains_.erase(raw(d));
	if (fire_)
		fire_(FireRequest{"@releaseDomain", nullptr, true, nullptr});
}

void Store::remove_owned_by(DomId d)
{
	/* xenstored domain_tree_remove(): nodes a dead domain owned are
	 * deleted with their subtrees (it keeps them only with
	 * --keep-orphans). Collect the top-most ones first, then delete. */
	std::vector<std::string> doomed;
	std::string skip_below;
	for (const auto &[name, node] : nodes_) {
		if (!skip_below.empty() && is_child_or_self(name, skip_below))
			continue;
		if (name != "/" && node.perms.front().id == d) {
			doomed.push_back(name);
			skip_below = name;
		}
	}
	const Caller dom0{kDom0, std::nullopt, nullptr};
	for (const auto &name : doomed)
		if (global_find(name))
			rm_node(dom0, name);
}

bool Store::special_permitted(std::string_view name, DomId d, std::optional<DomId> target) const
{
	const Perms *p = nullptr;
	if (name == "@releaseDomain")
		p = &release_perms_;
	else if (name == "@introduceDomain")
		p = &introduce_perms_;
	return p && (perm_for(*p, d, target) & XS_PERM_READ);
}

bool Store::watch_permitted(const FireRequest &r, DomId d, std::optional<DomId> target) const
{
	/* xenstored watch_permitted(): the node or its parent must be
	 * readable; a domain that just lost access still hears of it. */
	if (r.old_perms && (perm_for(*r.old_perms, d, target) & XS_PERM_READ))
		return true;
	const Node *n = r.node ? r.node : global_find(r.name);
	if (!n)
		return false;
	Node copy{"", {}, n->perms, n->generation};
	adjust_perms(copy);
	if (perm_for(copy.perms, d, target) & XS_PERM_READ)
		return true;
	if (r.name == "/")
		return false;
	const Node *p = global_find(parent_of(r.name));
	if (!p)
		return false;
	Node pcopy{"", {}, p->perms, p->generation};
	adjust_perms(pcopy);
	return perm_for(pcopy.perms, d, target) & XS_PERM_READ;
}

/* ---- the tree ---- */

const Node *Store::global_find(const std::string &name) const
{
	auto it = nodes_.find(name);
	return it == nodes_.end() ? nullptr : &it->second;
}

void Store::global_put(const std::string &name, Node n)
{
	DomId owner = n.perms.front().id;
	auto it = nodes_.find(name);
	if (it != nodes_.end()) {
		auto old = domains_.find(raw(it->second.perms.front().id));
		if (old != domains_.end() && old->second.nodes)
			old->second.nodes--;
		it->second = std::move(n);
	} else {
		nodes_.emplace(name, std::move(n));
	}
	domain(owner).nodes++;
}

void Store::global_erase(const std::string &name)
{
	auto it = nodes_.find(name);
	if (it == nodes_.end())
		return;
	auto d = domains_.find(raw(it->second.perms.front().id));
	if (d != domains_.end() && d->second.nodes)
		d->second.nodes--;
	nodes_.erase(it);
}

void Store::adjust_perms(Node &n) const
{
	/* xenstored domain_adjust_node_perms(): an entry for a domain that is
	 * gone, or younger than the node, is ignored so that a new domain
	 * reusing the id inherits nothing. */
	for (std::size_t i = 1; i < n.perms.size(); i++) {
		Perm &p = n.perms[i];
		if (p.bits & XS_PERM_IGNORE)
			continue;
		const Domain *d = find_domain(p.id);
		if (!d || d->generation > n.generation)
			p.bits |= XS_PERM_IGNORE;
	}
}

bool Store::entry_too_big(const Caller &c, const Node &n) const
{
	if (is_privileged(c.dom))
		return false;
	std::size_t size =
		kRecordHeaderSize + n.perms.size() * sizeof(struct xs_permissions) + n.data.size();
	for (const auto &child : n.children)
		size += child.size() + 1;
	return size >= limits_.entry_size;
}

int Store::track(const Caller &c, const std::string &name, Access type, const Node *current)
{
	/* xenstored access_node(): a transaction remembers every node it
	 * touches, with the generation it saw first. */
	Transaction *t = c.trans;
	if (!t)
		return 0;
	if (Transaction::Access *a = t->find(name)) {
		if (type != Access::read)
			a->modified = true;
		return 0;
	}
	if (!is_privileged(c.dom) && t->size() >= limits_.nodes_per_transaction) {
		t->fail_ = true;
		return ENOSPC;
	}
	Transaction::Access a;
	a.generation = current ? current->generation : kNoGeneration;
	if (current)
		a.old_perms = current->perms;
	if (type == Access::read) {
		a.check_gen = true;
		if (current)
			a.node = *current;
	} else {
		a.modified = true;
	}
	t->add(name, std::move(a));
	return 0;
}

int Store::read_node(const Caller &c, const std::string &name, Node &out)
{
	if (c.trans) {
		if (Transaction::Access *a = c.trans->find(name)) {
			if (!a->node)
				return ENOENT;
			out = *a->node;
			adjust_perms(out);
			return 0;
		}
	}
	const Node *g = global_find(name);
	if (int err = track(c, name, Access::read, g))
		return err;
	if (!g)
		return ENOENT;
	out = *g;
	adjust_perms(out);
	return 0;
}

int Store::errno_from_parents(const Caller &c, const std::string &name, int err, unsigned int perm)
{
	/* xenstored errno_from_parents(): a domain that may not see a node
	 * must not learn whether it exists. */
	unsigned int parent_perm = XS_PERM_NONE;
	std::string p = name;
	do {
		p = parent_of(p);
		Node parent;
		int e = read_node(c, p, parent);
		if (!e) {
			parent_perm = perm_for(parent.perms, c.dom, c.target);
			break;
		}
		if (propagates(e))
			return e;
	} while (p != "/");
	return (parent_perm & perm) ? err : EACCES;
}

int Store::get_node(const Caller &c, const std::string &name, unsigned int perm, Node &out)
{
	if (!is_valid_nodename(name, limits_.path_len))
		return EINVAL;
	int err = read_node(c, name, out);
	if (!err) {
		if ((perm_for(out.perms, c.dom, c.target) & perm) == perm)
			return 0;
		err = EACCES;
	}
	if (propagates(err))
		return err;
	return errno_from_parents(c, name, err, perm);
}

int Store::write_node(const Caller &c, const std::string &name, Node node, bool no_quota_check)
{
	node.generation = ++generation_;
	adjust_perms(node);
	if (!no_quota_check && entry_too_big(c, node))
		return ENOSPC;
	if (!c.trans) {
		global_put(name, std::move(node));
		return 0;
	}
	if (int err = track(c, name, Access::write, global_find(name)))
		return err;
	Transaction::Access *a = c.trans->find(name);
	a->node = std::move(node);
	a->modified = true;
	return 0;
}

int Store::delete_node(const Caller &c, const std::string &name)
{
	if (!c.trans) {
		global_erase(name);
		return 0;
	}
	if (int err = track(c, name, Access::remove, global_find(name)))
		return err;
	Transaction::Access *a = c.trans->find(name);
	a->node.reset();
	a->modified = true;
	return 0;
}

int Store::create_node(const Caller &c, const std::string &name, std::string_view data)
{
	/* xenstored construct_node(): walk up to the first existing node,
	 * then create the missing ones downwards. Each inherits its parent's
	 * permissions; an unprivileged domain owns what it creates. */
	std::vector<std::string> missing{name};
	std::string pname = name;
	Node parent;
	for (;;) {
		pname = parent_of(pname);
		int err = read_node(c, pname, parent);
		if (!err)
			break;
		if (err != ENOENT || pname == "/")
			return err;
		missing.push_back(pname);
	}

	const bool unprivileged = !is_privileged(c.dom);
	if (unprivileged) {
		/* xenstored create_node(): quota_nb_entry_per_domain checked
		 * before each new node; in a transaction the count only
		 * changes at commit. */
		unsigned int have = domain(c.dom).nodes;
		std::size_t added = c.trans ? 0 : missing.size() - 1;
		if (have + added >= limits_.nodes_per_domain)
			return ENOSPC;
	}

	std::vector<std::pair<std::string, Node>> writes;
	parent.children.emplace_back(basename_of(missing.back()));
	Perms inherited = parent.perms;
	writes.emplace_back(pname, std::move(parent));
	for (std::size_t i = missing.size(); i-- > 0;) {
		Node n;
		n.perms = inherited;
		if (unprivileged)
			n.perms.front().id = c.dom;
		if (i > 0)
			n.children.emplace_back(basename_of(missing[i - 1]));
		else
			n.data = data;
		inherited = n.perms;
		writes.emplace_back(missing[i], std::move(n));
	}
	for (const auto &w : writes)
		if (entry_too_big(c, w.second))
			return ENOSPC;
	for (auto &w : writes) {
		if (int err = write_node(c, w.first, std::move(w.second), true)) {
			if (c.trans)
				c.trans->fail_ = true;
			return err;
		}
	}
	if (c.trans)
		c.trans->node_created_ = true;
	return 0;
}

void Store::fire(const Caller &c, const std::string &name, const Node *node, bool exact,
		 const Perms *old_perms)
{
	if (c.trans) {
		/* xenstored queue_watches(): events of a transaction wait for
		 * its commit; a subtree event replaces an exact one. */
		Transaction::Access *a = c.trans->find(name);
		if (!a) {
			c.trans->fail_ = true;
			return;
		}
		if (!a->fire_watch) {
			a->fire_watch = true;
			a->watch_exact = exact;
		} else if (!exact) {
			a->watch_exact = false;
		}
		return;
	}
	if (fire_)
		fire_(FireRequest{name, node, exact, old_perms});
}

/* ---- operations ---- */

int Store::read(const Caller &c, std::string_view name, std::string &out)
{
	Node node;
	if (int err = get_node(c, canonicalize(c.dom, name), XS_PERM_READ, node))
		return err;
	out = std::move(node.data);
	return 0;
}

int Store::write(const Caller &c, std::string_view name, std::string_view data)
{
	const std::string n = canonicalize(c.dom, name);
	Node node;
	int err = get_node(c, n, XS_PERM_WRITE, node);
	if (err) {
		if (err != ENOENT)
			return err;
		if ((err = create_node(c, n, data)))
			return err;
	} else {
		node.data = data;
		if ((err = write_node(c, n, std::move(node), false)))
			return err;
	}
	fire(c, n, c.trans ? nullptr : global_find(n), false, nullptr);
	return 0;
}

int Store::mkdir(const Caller &c, std::string_view name)
{
	const std::string n = canonicalize(c.dom, name);
	Node node;
	int err = get_node(c, n, XS_PERM_WRITE, node);
	if (!err)
		return 0; /* xs_wire: success if it already exists */
	if (err != ENOENT)
		return err;
	if ((err = create_node(c, n, "")))
		return err;
	fire(c, n, c.trans ? nullptr : global_find(n), false, nullptr);
	return 0;
}

int Store::rm_subtree(const Caller &c, const std::string &name, const std::string &root)
{
	Node node;
	if (int err = read_node(c, name, node))
		return err == ENOENT ? EIO : err;
	for (const auto &child : node.children)
		if (int err = rm_subtree(c, child_path(name, child), root))
			return err;
	/* xenstored delnode_sub(): fire while the node's permissions can
	 * still be seen; below the removed node only exact watches fire. */
	fire(c, name, &node, name != root, nullptr);
	return delete_node(c, name);
}

int Store::rm_node(const Caller &c, const std::string &name)
{
	const std::string pname = parent_of(name);
	Node parent;
	if (int err = read_node(c, pname, parent))
		return propagates(err) ? err : EINVAL;
	if (int err = rm_subtree(c, name, name))
		return err;
	auto &ch = parent.children;
	auto it = std::find(ch.begin(), ch.end(), basename_of(name));
	if (it == ch.end())
		return EIO;
	ch.erase(it);
	return write_node(c, pname, std::move(parent), true);
}

int Store::rm(const Caller &c, std::string_view name)
{
	const std::string n = canonicalize(c.dom, name);
	Node node;
	int err = get_node(c, n, XS_PERM_WRITE, node);
	if (err) {
		if (err != ENOENT)
			return err;
		/* xenstored do_rm(): removing what is not there is fine if its
		 * parent is. */
		Node parent;
		int perr = read_node(c, parent_of(n), parent);
		if (!perr)
			return 0;
		return propagates(perr) ? perr : ENOENT;
	}
	if (n == "/")
		return EINVAL;
	return rm_node(c, n);
}

int Store::directory(const Caller &c, std::string_view name, std::string &out)
{
	Node node;
	if (int err = get_node(c, canonicalize(c.dom, name), XS_PERM_READ, node))
		return err;
	out = join_children(node.children);
	return 0;
}

int Store::directory_part(const Caller &c, std::string_view name, std::string_view offset,
			  std::string &out)
{
	Node node;
	if (int err = get_node(c, canonicalize(c.dom, name), XS_PERM_READ, node))
		return err;
	/* xenstored send_directory_part(): "<generation>\0" then as many
	 * children from byte `offset` of the child list as fit, and an
	 * empty string once the list is complete. */
	const std::string flat = join_children(node.children);
	const std::size_t off = static_cast<std::size_t>(std::atoi(std::string(offset).c_str()));
	std::string gen = std::to_string(node.generation);
	gen += '\0';
	if (off >= flat.size()) {
		out = gen + std::string(1, '\0');
		return 0;
	}
	const std::size_t maxlen = XENSTORE_PAYLOAD_MAX - gen.size() - 1;
	std::size_t len = 0;
	const char *child = flat.data() + off;
	while (len + std::strlen(child) < maxlen) {
		len += std::strlen(child) + 1;
		child += std::strlen(child) + 1;
		if (off + len == flat.size())
			break;
	}
	out = gen + flat.substr(off, len);
	if (off + len == flat.size())
		out += '\0';
	return 0;
}

int Store::get_perms(const Caller &c, std::string_view name, std::string &out)
{
	Node node;
	if (int err = get_node(c, canonicalize(c.dom, name), XS_PERM_READ, node))
		return err;
	out.clear();
	for (const Perm &p : node.perms) {
		out += format_perm(p);
		out += '\0';
	}
	return 0;
}

int Store::set_perms(const Caller &c, std::string_view name,
		     const std::vector<std::string_view> &perm_strings)
{
	if (perm_strings.empty())
		return EINVAL;
	const bool unprivileged = !is_privileged(c.dom);
	if (unprivileged && perm_strings.size() > limits_.perms_per_node)
		return ENOSPC;
	Perms perms;
	for (std::string_view s : perm_strings) {
		std::optional<Perm> p = parse_perm(s);
		if (!p)
			return EINVAL;
		perms.push_back(*p);
	}
	/* xenstored domain_alloc_permrefs(): entries for domains that do not
	 * exist are ignored; an owner that does not exist is ENOENT. Without
	 * a hypervisor to ask, every id below DOMID_FIRST_RESERVED exists. */
	for (Perm &p : perms) {
		if (is_real_domid(raw(p.id)))
			domain(p.id);
		else
			p.bits |= XS_PERM_IGNORE;
	}
	if (perms.front().bits & XS_PERM_IGNORE)
		return ENOENT;

	if (is_special(name)) {
		Perms *sp = name == "@releaseDomain"     ? &release_perms_
			    : name == "@introduceDomain" ? &introduce_perms_
							 : nullptr;
		if (!sp)
			return EINVAL;
		constexpr unsigned int need = XS_PERM_WRITE | XS_PERM_OWNER;
		if ((perm_for(*sp, c.dom, c.target) & need) != need)
			return EACCES;
		*sp = perms;
		return 0;
	}

	const std::string n = canonicalize(c.dom, name);
	Node node;
	if (int err = get_node(c, n, XS_PERM_WRITE | XS_PERM_OWNER, node))
		return err;
	/* Unprivileged domains may not give their nodes away. */
	if (unprivileged && perms.front().id != node.perms.front().id)
		return EPERM;
	const Perms old = node.perms;
	node.perms = perms;
	if (int err = write_node(c, n, std::move(node), false))
		return err;
	fire(c, n, c.trans ? nullptr : global_find(n), false, &old);
	return 0;
}

int Store::commit(const Caller &c, Transaction &t)
{
	/* xenstored do_transaction_end() "T", in its order: a failed
	 * transaction, then node quotas, then conflicts. */
	if (t.fail_)
		return ENOMEM;

	std::map<uint32_t, long> delta;
	for (const auto &[name, a] : t.order_) {
		if (!a.modified)
			continue;
		if (const Node *g = global_find(name))
			delta[raw(g->perms.front().id)]--;
		if (a.node)
			delta[raw(a.node->perms.front().id)]++;
	}
	if (t.node_created_ && !is_privileged(c.dom)) {
		for (const auto &[id, d] : delta) {
			if (is_privileged(DomId{id}))
				continue;
			const Domain *dom = find_domain(DomId{id});
			long cnt = (dom ? dom->nodes : 0) + d;
			if (cnt >= static_cast<long>(limits_.nodes_per_domain))
				return ENOSPC;
		}
	}

	for (const auto &[name, a] : t.order_) {
		if (!a.check_gen)
			continue;
		const Node *g = global_find(name);
		if ((g ? g->generation : kNoGeneration) != a.generation)
			return EAGAIN;
	}

	for (auto &[name, a] : t.order_) {
		if (!a.modified)
			continue;
		if (a.node) {
			Node n = *a.node;
			n.generation = ++generation_;
			global_put(name, std::move(n));
		} else {
			global_erase(name);
		}
		if (a.fire_watch && fire_)
			fire_(FireRequest{name, global_find(name), a.watch_exact,
					  a.old_perms ? &*a.old_perms : nullptr});
	}
	return 0;
}

} // namespace xensim::store
