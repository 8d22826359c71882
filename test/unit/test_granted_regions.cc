/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The table of granted regions the transmit path looks packets up in
 * (xenfront_granted.h). */

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

#include "xenfront.h"
#include "xenfront_granted.h"

namespace
{

using namespace xenfront;

alignas(4096) uint8_t memory[8 * 4096];
alignas(4096) uint8_t more[4096];
const uint32_t grefs_a[4] = {100, 101, 102, 103};
const uint32_t grefs_b[2] = {200, 201};

class GrantedRegionsTest : public ::testing::Test
{
protected:
	void SetUp() override
	{
		a = Adapter{};
		rte_spinlock_init(&a.granted.lock);
	}
	const GrantedRegion *find(const void *p, uint32_t len)
	{
		return find_granted_region(a.granted, granted_regions_in_use(a.granted),
					   reinterpret_cast<uintptr_t>(p), len);
	}
	Adapter a;
};

TEST_F(GrantedRegionsTest, FindsAddressesInsideOnly)
{
	EXPECT_EQ(find(memory, 1), nullptr);
	ASSERT_EQ(register_granted_region(a, memory, 4, grefs_a), 0);
	const GrantedRegion *r = find(memory + 4096 + 10, 100);
	ASSERT_NE(r, nullptr);
	EXPECT_EQ(granted_gref(*r, reinterpret_cast<uintptr_t>(memory + 4096 + 10)), 101u);
	EXPECT_EQ(granted_gref(*r, reinterpret_cast<uintptr_t>(memory + 4 * 4096 - 1)), 103u);
	/* The whole range must be inside. */
	EXPECT_EQ(find(memory + 4 * 4096 - 10, 11), nullptr);
	EXPECT_NE(find(memory + 4 * 4096 - 10, 10), nullptr);
	EXPECT_EQ(find(memory + 4 * 4096, 1), nullptr);
	EXPECT_EQ(find_granted_region(a.granted, 1, reinterpret_cast<uintptr_t>(memory) - 1, 1),
		  nullptr);
}

TEST_F(GrantedRegionsTest, RefusesBadAndOverlappingRegions)
{
	EXPECT_EQ(register_granted_region(a, memory + 1, 1, grefs_a), -EINVAL);
	EXPECT_EQ(register_granted_region(a, memory, 0, grefs_a), -EINVAL);
	ASSERT_EQ(register_granted_region(a, memory, 4, grefs_a), 0);
	EXPECT_EQ(register_granted_region(a, memory + 3 * 4096, 2, grefs_b), -EEXIST);
	EXPECT_EQ(register_granted_region(a, memory + 4 * 4096, 2, grefs_b), 0);
	EXPECT_EQ(granted_gref(*find(memory + 5 * 4096, 1),
			       reinterpret_cast<uintptr_t>(memory + 5 * 4096)),
		  201u);
}

TEST_F(GrantedRegionsTest, UnregisterFreesTheSlot)
{
	for (unsigned i = 0; i < max_granted_regions; i++)
		ASSERT_EQ(register_granted_region(a, memory + i * 4096, 1, grefs_a), 0);
	EXPECT_EQ(register_granted_region(a, more, 1, grefs_b), -ENOSPC);
	EXPECT_TRUE(unregister_granted_region(a, memory + 2 * 4096));
	EXPECT_FALSE(unregister_granted_region(a, memory + 2 * 4096));
	EXPECT_EQ(find(memory + 2 * 4096, 1), nullptr);
	ASSERT_EQ(register_granted_region(a, more, 1, grefs_b), 0);
	EXPECT_NE(find(more, 4096), nullptr);
	EXPECT_NE(find(memory + 3 * 4096, 1), nullptr);
}

} // namespace
