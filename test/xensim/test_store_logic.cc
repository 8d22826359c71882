/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Unit tests of the xensim store's pure logic (app/xensim/store_*.cc):
 * node names, permissions, and the database with xenstored's semantics,
 * driven directly without sockets.
 */

#include <cerrno>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store_db.h"
#include "store_path.h"
#include "store_perms.h"

using namespace xensim::store;

namespace
{

constexpr unsigned int kRel = XENSTORE_REL_PATH_MAX;

Caller as(uint32_t dom, Transaction *t = nullptr)
{
	return Caller{DomId{dom}, std::nullopt, t};
}

std::vector<std::string> split(const std::string &s)
{
	std::vector<std::string> out;
	std::size_t off = 0;
	while (off < s.size()) {
		std::size_t nul = s.find('\0', off);
		out.push_back(s.substr(off, nul - off));
		off = nul + 1;
	}
	return out;
}

} // namespace

TEST(StorePath, Canonicalize)
{
	EXPECT_EQ(canonicalize(DomId{5}, "device/vif/0"), "/local/domain/5/device/vif/0");
	EXPECT_EQ(canonicalize(DomId{5}, "/abs"), "/abs");
	EXPECT_EQ(canonicalize(DomId{5}, "@releaseDomain"), "@releaseDomain");
	EXPECT_EQ(canonicalize(DomId{0}, "x"), "/local/domain/0/x");
	EXPECT_EQ(domain_path(DomId{12}), "/local/domain/12");
}

TEST(StorePath, ValidNames)
{
	EXPECT_TRUE(is_valid_nodename("/", kRel));
	EXPECT_TRUE(is_valid_nodename("/a-b_c@d/0", kRel));
	EXPECT_FALSE(is_valid_nodename("", kRel));
	EXPECT_FALSE(is_valid_nodename("relative", kRel));
	EXPECT_FALSE(is_valid_nodename("/a/", kRel));
	EXPECT_FALSE(is_valid_nodename("/a//b", kRel));
	EXPECT_FALSE(is_valid_nodename("/a b", kRel));
	EXPECT_FALSE(is_valid_nodename("/a.b", kRel));
	EXPECT_FALSE(is_valid_nodename("/a:b", kRel));
}

TEST(StorePath, LengthCountsBelowTheDomainPath)
{
	/* xenstored: at most quota_max_path_len characters below
	 * /local/domain/<N>/, or in total elsewhere. */
	const std::string tail(kRel, 'x');
	EXPECT_TRUE(is_valid_nodename("/local/domain/7/" + tail, kRel));
	EXPECT_FALSE(is_valid_nodename("/local/domain/7/" + tail + "y", kRel));
	EXPECT_FALSE(is_valid_nodename("/" + tail, kRel));
	EXPECT_TRUE(is_valid_nodename("/" + tail.substr(1), kRel));
	/* Six digits are not a domain id for xenstored's "%5u". */
	EXPECT_FALSE(is_valid_nodename("/local/domain/123456/" + tail.substr(20), kRel));
}

TEST(StorePath, ParentsAndChildren)
{
	EXPECT_EQ(parent_of("/a"), "/");
	EXPECT_EQ(parent_of("/a/b/c"), "/a/b");
	EXPECT_EQ(basename_of("/a/b/c"), "c");
	EXPECT_EQ(child_path("/", "a"), "/a");
	EXPECT_EQ(child_path("/a", "b"), "/a/b");
	EXPECT_TRUE(is_child_or_self("/a/b", "/a"));
	EXPECT_TRUE(is_child_or_self("/a", "/a"));
	EXPECT_TRUE(is_child_or_self("/anything", "/"));
	EXPECT_FALSE(is_child_or_self("/ab", "/a"));
	EXPECT_FALSE(is_child_or_self("/a", "/a/b"));
}

TEST(StorePerms, ParseAndFormat)
{
	auto p = parse_perm("r5");
	ASSERT_TRUE(p);
	EXPECT_EQ(raw(p->id), 5u);
	EXPECT_EQ(p->bits, unsigned(XS_PERM_READ));
	EXPECT_EQ(parse_perm("b0x10")->bits, unsigned(XS_PERM_READ | XS_PERM_WRITE));
	EXPECT_EQ(raw(parse_perm("b0x10")->id), 16u);
	EXPECT_EQ(parse_perm("w010")->id, DomId{8}); /* strtol base 0: octal */
	EXPECT_FALSE(parse_perm("n"));
	EXPECT_FALSE(parse_perm("x1"));
	EXPECT_FALSE(parse_perm("r1x"));
	EXPECT_FALSE(parse_perm(""));
	EXPECT_EQ(format_perm(Perm{DomId{3}, XS_PERM_WRITE}), "w3");
	EXPECT_EQ(format_perm(Perm{DomId{3}, XS_PERM_READ | XS_PERM_IGNORE}), "r3");
	EXPECT_EQ(format_perm(Perm{DomId{0}, XS_PERM_NONE}), "n0");
}

TEST(StorePerms, Rules)
{
	const Perms perms{{DomId{1}, XS_PERM_NONE},
			  {DomId{2}, XS_PERM_READ},
			  {DomId{3}, XS_PERM_READ | XS_PERM_WRITE}};
	const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
	EXPECT_EQ(perm_for(perms, DomId{0}, std::nullopt), all); /* dom0 */
	EXPECT_EQ(perm_for(perms, DomId{1}, std::nullopt), all); /* owner */
	EXPECT_EQ(perm_for(perms, DomId{2}, std::nullopt), unsigned(XS_PERM_READ));
	EXPECT_EQ(perm_for(perms, DomId{3}, std::nullopt), unsigned(XS_PERM_READ | XS_PERM_WRITE));
	EXPECT_EQ(perm_for(perms, DomId{4}, std::nullopt), 0u); /* default: first entry */
	/* Acting for a target counts as the target. */
	EXPECT_EQ(perm_for(perms, DomId{9}, DomId{1}), all);
	Perms ignored = perms;
	ignored[1].bits |= XS_PERM_IGNORE;
	EXPECT_EQ(perm_for(ignored, DomId{2}, std::nullopt), 0u);
	const Perms open{{DomId{1}, XS_PERM_READ}};
	EXPECT_EQ(perm_for(open, DomId{7}, std::nullopt), unsigned(XS_PERM_READ));
}

class StoreTest : public ::testing::Test
{
protected:
	StoreTest() : store(Limits{})
	{
		store.set_fire_handler([this](const FireRequest &r) {
			fired.push_back(r.name + (r.exact ? " exact" : ""));
		});
	}

	std::string read(uint32_t dom, const std::string &path, int *err = nullptr)
	{
		std::string out;
		int e = store.read(as(dom), path, out);
		if (err)
			*err = e;
		return out;
	}
	std::vector<std::string> perms(const std::string &path)
	{
		std::string out;
		EXPECT_EQ(store.get_perms(as(0), path, out), 0);
		return split(out);
	}
	int set_perms(uint32_t dom, const std::string &path, std::vector<std::string_view> p)
	{
		return store.set_perms(as(dom), path, p);
	}

	Store store;
	std::vector<std::string> fired;
};

TEST_F(StoreTest, InitialTree)
{
	std::string out;
	ASSERT_EQ(store.directory(as(0), "/", out), 0);
	EXPECT_EQ(split(out), std::vector<std::string>{"tool"});
	EXPECT_EQ(store.node_count(), 3u);
	EXPECT_TRUE(store.is_introduced(kDom0));
}

TEST_F(StoreTest, WriteCreatesParentsInheritingPermissions)
{
	ASSERT_EQ(store.write(as(0), "/a", ""), 0);
	ASSERT_EQ(set_perms(0, "/a", {"n5", "r6"}), 0);
	ASSERT_EQ(store.write(as(0), "/a/b/c", "v"), 0);
	/* dom0 keeps the parent's owner ... */
	EXPECT_EQ(perms("/a/b"), (std::vector<std::string>{"n5", "r6"}));
	EXPECT_EQ(perms("/a/b/c"), (std::vector<std::string>{"n5", "r6"}));
	/* ... an unprivileged domain owns what it creates. */
	ASSERT_EQ(store.write(as(5), "/a/x/y", "w"), 0);
	EXPECT_EQ(perms("/a/x"), (std::vector<std::string>{"n5", "r6"}));
	ASSERT_EQ(set_perms(0, "/a", {"n0", "w5"}), 0);
	ASSERT_EQ(store.write(as(5), "/a/z", "w"), 0);
	EXPECT_EQ(perms("/a/z"), (std::vector<std::string>{"n5", "w5"}));
	/* Only the node written fires, not the parents created on the way. */
	fired.clear();
	ASSERT_EQ(store.write(as(0), "/q/r/s", "1"), 0);
	EXPECT_EQ(fired, std::vector<std::string>{"/q/r/s"});
}

TEST_F(StoreTest, AccessErrorsHideExistence)
{
	ASSERT_EQ(store.write(as(0), "/open/secret", "s"), 0);
	ASSERT_EQ(set_perms(0, "/open", {"n0", "r1"}), 0);
	int err;
	read(1, "/open/secret", &err);
	EXPECT_EQ(err, EACCES);
	read(1, "/open/missing", &err);
	EXPECT_EQ(err, ENOENT); /* parent readable */
	read(1, "/closed/missing", &err);
	EXPECT_EQ(err, EACCES); /* nearest existing ancestor "/" is not */
	read(1, "not//valid", &err);
	EXPECT_EQ(err, EINVAL);
	EXPECT_EQ(store.write(as(1), "/open/new", "x"), EACCES); /* read-only parent */
	EXPECT_EQ(store.rm(as(0), "/"), EINVAL);
	EXPECT_EQ(store.rm(as(0), "/open/not-there"), 0);
	EXPECT_EQ(store.rm(as(0), "/nope/not-there"), ENOENT);
}

TEST_F(StoreTest, SetPermsRules)
{
	ASSERT_EQ(store.write(as(0), "/d", ""), 0);
	ASSERT_EQ(set_perms(0, "/d", {"n0", "w4"}), 0);
	ASSERT_EQ(store.write(as(4), "/d/mine", "1"), 0);
	EXPECT_EQ(set_perms(4, "/d/mine", {"n4", "r1"}), 0);
	EXPECT_EQ(set_perms(4, "/d/mine", {"n1"}), EPERM);
	EXPECT_EQ(set_perms(4, "/d", {"n0"}), EACCES);
	EXPECT_EQ(set_perms(4, "/d/mine", {"n4", "r1", "r2", "r3", "r5", "r6"}), ENOSPC);
	EXPECT_EQ(set_perms(0, "/d/mine", {"n4", "r1", "r2", "r3", "r5", "r6"}), 0);
	EXPECT_EQ(set_perms(0, "/d/mine", {"n32752"}), ENOENT); /* DOMID_FIRST_RESERVED+ */
	EXPECT_EQ(set_perms(0, "@bogus", {"n0"}), EINVAL);
	EXPECT_EQ(set_perms(0, "/d/mine", {}), EINVAL);
}

TEST_F(StoreTest, TransactionConflictAndIsolation)
{
	ASSERT_EQ(store.write(as(0), "/n", "0"), 0);
	Transaction a = store.start_transaction();
	Transaction b = store.start_transaction();
	std::string out;
	ASSERT_EQ(store.read(as(0, &a), "/n", out), 0);
	ASSERT_EQ(store.read(as(0, &b), "/n", out), 0);
	ASSERT_EQ(store.write(as(0, &a), "/n", "a"), 0);
	ASSERT_EQ(store.write(as(0, &b), "/n", "b"), 0);
	EXPECT_EQ(read(0, "/n"), "0"); /* invisible until commit */
	fired.clear();
	EXPECT_EQ(store.commit(as(0), a), 0);
	EXPECT_EQ(fired, std::vector<std::string>{"/n"}); /* events at commit */
	EXPECT_EQ(store.commit(as(0), b), EAGAIN);
	EXPECT_EQ(read(0, "/n"), "a");

	/* Creating the same missing node in two transactions conflicts. */
	Transaction c = store.start_transaction();
	Transaction d = store.start_transaction();
	ASSERT_EQ(store.write(as(0, &c), "/fresh", "c"), 0);
	ASSERT_EQ(store.write(as(0, &d), "/fresh", "d"), 0);
	EXPECT_EQ(store.commit(as(0), d), 0);
	EXPECT_EQ(store.commit(as(0), c), EAGAIN);
}

TEST_F(StoreTest, RemoveInTransactionAndWatchesOnSubtree)
{
	ASSERT_EQ(store.write(as(0), "/t/a/b", "1"), 0);
	Transaction t = store.start_transaction();
	ASSERT_EQ(store.rm(as(0, &t), "/t/a"), 0);
	int err;
	std::string out;
	EXPECT_EQ(store.read(as(0, &t), "/t/a/b", out), ENOENT);
	EXPECT_EQ(read(0, "/t/a/b"), "1");
	fired.clear();
	ASSERT_EQ(store.commit(as(0), t), 0);
	read(0, "/t/a", &err);
	EXPECT_EQ(err, ENOENT);
	/* Below the removed node only exact watches fire. */
	/* In the order the transaction first touched the nodes. */
	EXPECT_EQ(fired, (std::vector<std::string>{"/t/a", "/t/a/b exact"}));
}

TEST_F(StoreTest, NodeQuotaForUnprivilegedDomains)
{
	Limits l;
	l.nodes_per_domain = 5;
	Store s(l);
	std::string out;
	ASSERT_EQ(s.write(as(0), "/q", ""), 0);
	Perms p;
	ASSERT_EQ(s.set_perms(as(0), "/q", {"n0", "w9"}), 0);
	ASSERT_EQ(s.write(as(9), "/q/a/b/c", ""), 0); /* three nodes */
	ASSERT_EQ(s.write(as(9), "/q/d", ""), 0);
	ASSERT_EQ(s.write(as(9), "/q/e", ""), 0);
	EXPECT_EQ(s.write(as(9), "/q/f", ""), ENOSPC);
	EXPECT_EQ(s.find_domain(DomId{9})->nodes, 5u);
	ASSERT_EQ(s.rm(as(9), "/q/a"), 0);
	EXPECT_EQ(s.find_domain(DomId{9})->nodes, 2u);
	EXPECT_EQ(s.write(as(9), "/q/f", ""), 0);
	EXPECT_EQ(s.write(as(0), "/q/g/h/i/j", ""), 0); /* dom0: none */
}

TEST_F(StoreTest, EntrySizeQuota)
{
	ASSERT_EQ(store.write(as(0), "/e", ""), 0);
	ASSERT_EQ(set_perms(0, "/e", {"n0", "w3"}), 0);
	EXPECT_EQ(store.write(as(3), "/e/big", std::string(2100, 'x')), ENOSPC);
	EXPECT_EQ(store.write(as(3), "/e/ok", std::string(2000, 'x')), 0);
	EXPECT_EQ(store.write(as(0), "/e/big", std::string(4000, 'x')), 0);
}

TEST_F(StoreTest, DirectoryPartPagesAndEnds)
{
	for (int i = 0; i < 400; i++)
		ASSERT_EQ(store.write(as(0), "/many/child" + std::to_string(1000 + i), ""), 0);
	std::string all, part;
	ASSERT_EQ(store.directory(as(0), "/many", all), 0);
	std::string collected;
	std::size_t off = 0;
	std::string gen0;
	for (int pages = 0; pages < 10; pages++) {
		ASSERT_EQ(store.directory_part(as(0), "/many", std::to_string(off), part), 0);
		ASSERT_LE(part.size(), std::size_t(XENSTORE_PAYLOAD_MAX));
		std::string gen = part.substr(0, part.find('\0'));
		if (gen0.empty())
			gen0 = gen;
		EXPECT_EQ(gen, gen0);
		std::string body = part.substr(gen.size() + 1);
		if (body.size() >= 2 && body[body.size() - 2] == '\0') {
			collected += body.substr(0, body.size() - 1);
			break;
		}
		collected += body;
		off += body.size();
	}
	EXPECT_EQ(collected, all);
}

TEST_F(StoreTest, ReleaseRemovesOwnedNodesAndFires)
{
	store.introduce(DomId{7});
	EXPECT_EQ(fired, std::vector<std::string>{"@introduceDomain exact"});
	ASSERT_EQ(store.write(as(0), "/local/domain/7", ""), 0);
	ASSERT_EQ(set_perms(0, "/local/domain/7", {"n0", "r7"}), 0);
	ASSERT_EQ(store.write(as(0), "/local/domain/7/data", ""), 0);
	ASSERT_EQ(set_perms(0, "/local/domain/7/data", {"n7"}), 0);
	ASSERT_EQ(store.write(as(7), "/local/domain/7/data/x/y", "1"), 0);
	fired.clear();
	store.release(DomId{7});
	EXPECT_FALSE(store.is_introduced(DomId{7}));
	int err;
	read(0, "/local/domain/7/data", &err);
	EXPECT_EQ(err, ENOENT);
	EXPECT_EQ(read(0, "/local/domain/7"), "");
	EXPECT_EQ(fired.back(), "@releaseDomain exact");
	/* The dead domain's entries in other nodes' ACLs no longer count,
	 * even for a new domain reusing the id (created after more writes,
	 * so it is younger than the node). */
	ASSERT_EQ(store.write(as(0), "/elsewhere", ""), 0);
	store.introduce(DomId{7});
	read(7, "/local/domain/7", &err);
	EXPECT_EQ(err, EACCES);
}

TEST_F(StoreTest, SpecialWatchPermissions)
{
	EXPECT_TRUE(store.special_permitted("@releaseDomain", kDom0, std::nullopt));
	EXPECT_FALSE(store.special_permitted("@releaseDomain", DomId{3}, std::nullopt));
	EXPECT_FALSE(store.special_permitted("@other", kDom0, std::nullopt));
	ASSERT_EQ(set_perms(0, "@releaseDomain", {"n0", "r3"}), 0);
	EXPECT_TRUE(store.special_permitted("@releaseDomain", DomId{3}, std::nullopt));
	EXPECT_EQ(set_perms(3, "@releaseDomain", {"n3"}), EACCES);
}

/* ---- state streams (store_state.h): live update and snapshot ---- */

TEST_F(StoreTest, StateRoundTripKeepsTreePermsAndAccounting)
{
	store.introduce(DomId{3});
	ASSERT_EQ(store.write(as(0), "/local/domain/3", ""), 0);
	ASSERT_EQ(set_perms(0, "/local/domain/3", {"n3"}), 0);
	ASSERT_EQ(store.write(as(3), "/local/domain/3/a/b", std::string("v\0w", 3)), 0);
	ASSERT_EQ(set_perms(3, "/local/domain/3/a", {"n3", "r0"}), 0);
	store.domain(DomId{3}).watches = 2;
	StateWriter w;
	store.save(w);

	Store copy(Limits{});
	StateReader r(w.data());
	ASSERT_TRUE(copy.load(r));
	EXPECT_TRUE(r.at_end());
	EXPECT_EQ(copy.node_count(), store.node_count());
	std::string out;
	ASSERT_EQ(copy.read(as(3), "/local/domain/3/a/b", out), 0);
	EXPECT_EQ(out, std::string("v\0w", 3));
	ASSERT_EQ(copy.get_perms(as(0), "/local/domain/3/a", out), 0);
	EXPECT_EQ(split(out), (std::vector<std::string>{"n3", "r0"}));
	ASSERT_EQ(copy.directory(as(0), "/local/domain/3", out), 0);
	EXPECT_EQ(split(out), std::vector<std::string>{"a"});
	EXPECT_TRUE(copy.is_introduced(DomId{3}));
	EXPECT_EQ(copy.find_domain(DomId{3})->nodes, store.find_domain(DomId{3})->nodes);
	EXPECT_EQ(copy.find_domain(DomId{3})->watches, 2u);
	/* Everything carries over, node generations included: the copy
	 * saves to the same bytes. */
	StateWriter again;
	copy.save(again);
	EXPECT_EQ(again.data(), w.data());
	copy.forget_watches();
	EXPECT_EQ(copy.find_domain(DomId{3})->watches, 0u);
}

TEST_F(StoreTest, StateTruncatedOrCorruptIsRefusedWhole)
{
	ASSERT_EQ(store.write(as(0), "/x", "1"), 0);
	StateWriter w;
	store.save(w);
	const std::string good = w.data();

	Store target(Limits{});
	ASSERT_EQ(target.write(as(0), "/kept", "yes"), 0);
	const std::size_t nodes = target.node_count();
	for (std::size_t len = 0; len < good.size(); len++) {
		StateReader r(std::string_view(good).substr(0, len));
		ASSERT_FALSE(target.load(r)) << "accepted " << len << " of " << good.size();
	}
	/* A count far beyond what the stream holds is caught before any
	 * allocation or long loop. */
	std::string huge = good;
	const std::size_t domains_count = 8 + 4 + 8 + 4 + 8;
	huge[domains_count + 3] = '\x7f';
	StateReader r(huge);
	EXPECT_FALSE(target.load(r));
	std::string out;
	EXPECT_EQ(target.node_count(), nodes);
	EXPECT_EQ(target.read(as(0), "/kept", out), 0);
	EXPECT_EQ(out, "yes");
}
