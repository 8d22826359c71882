/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* net_xenback's multicast list (xenback_mcast.h), as Linux netback's
 * xenvif_mcast_add/del/match: 64 addresses, ADD beyond them refused, DEL of
 * an address not listed harmless, an address added twice listed twice. */

#include <gtest/gtest.h>

#include <cstdint>

#include "xenback_mcast.h"

namespace
{

using xenback::max_mcast_addrs;
using xenback::mcast_add;
using xenback::mcast_del;
using xenback::mcast_init;
using xenback::mcast_key;
using xenback::mcast_match;
using xenback::mcast_reset;
using xenback::McastFilter;

struct Addr {
	uint8_t b[6];
};

Addr group(unsigned n)
{
	return Addr{
		{0x01, 0x00, 0x5e, 0x00, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)}};
}

bool listed(const McastFilter &f, const Addr &a)
{
	return mcast_match(f, mcast_key(a.b));
}

TEST(McastFilter, AddDelMatch)
{
	McastFilter f;
	mcast_init(f);
	EXPECT_FALSE(listed(f, group(1)));
	EXPECT_TRUE(mcast_add(f, group(1).b));
	EXPECT_TRUE(listed(f, group(1)));
	EXPECT_FALSE(listed(f, group(2)));
	mcast_del(f, group(2).b); /* not listed: nothing happens */
	EXPECT_TRUE(listed(f, group(1)));
	mcast_del(f, group(1).b);
	EXPECT_FALSE(listed(f, group(1)));
	EXPECT_EQ(f.count, 0u);
}

TEST(McastFilter, AllZeroAddressIsNotAnEmptySlot)
{
	McastFilter f;
	mcast_init(f);
	const Addr zero{};
	EXPECT_FALSE(listed(f, zero));
	EXPECT_TRUE(mcast_add(f, zero.b));
	EXPECT_TRUE(listed(f, zero));
}

TEST(McastFilter, SixtyFifthRefusedUntilOneGoes)
{
	McastFilter f;
	mcast_init(f);
	for (unsigned i = 0; i < max_mcast_addrs; i++)
		EXPECT_TRUE(mcast_add(f, group(i).b)) << i;
	EXPECT_FALSE(mcast_add(f, group(max_mcast_addrs).b));
	EXPECT_FALSE(listed(f, group(max_mcast_addrs)));
	mcast_del(f, group(7).b);
	EXPECT_TRUE(mcast_add(f, group(max_mcast_addrs).b));
	EXPECT_TRUE(listed(f, group(max_mcast_addrs)));
	EXPECT_FALSE(listed(f, group(7)));
	for (unsigned i = 0; i <= max_mcast_addrs; i++)
		EXPECT_EQ(listed(f, group(i)), i != 7) << i;
}

TEST(McastFilter, TwiceAddedTwiceDeleted)
{
	McastFilter f;
	mcast_init(f);
	EXPECT_TRUE(mcast_add(f, group(3).b));
	EXPECT_TRUE(mcast_add(f, group(3).b));
	mcast_del(f, group(3).b);
	EXPECT_TRUE(listed(f, group(3)));
	mcast_del(f, group(3).b);
	EXPECT_FALSE(listed(f, group(3)));
}

TEST(McastFilter, ResetForgetsEverything)
{
	McastFilter f;
	mcast_init(f);
	f.enabled = 1;
	for (unsigned i = 0; i < 10; i++)
		mcast_add(f, group(i).b);
	mcast_reset(f);
	EXPECT_EQ(f.enabled, 0u);
	EXPECT_EQ(f.count, 0u);
	for (unsigned i = 0; i < 10; i++)
		EXPECT_FALSE(listed(f, group(i)));
}

} // namespace
