/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* net_xenback's static-grant table (xenback_gref.h): what the bursts look
 * grants up in. */

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "xenback_gref.h"

namespace
{

using xenback::gref_insert;
using xenback::gref_lookup;
using xenback::GrefTable;
using xenback::max_static_grants;

TEST(GrefTable, FindsWhatWasInsertedAndNothingElse)
{
	auto t = std::make_unique<GrefTable>();
	std::vector<uint8_t> pages(max_static_grants);
	/* Grant references as a frontend hands them out: a run, and strays
	 * whose hash homes collide with it. */
	for (uint32_t i = 0; i < max_static_grants; i++) {
		uint32_t ref = i < 400 ? 8 + i : 0x10000u * i + 3;
		gref_insert(*t, ref, &pages[i], i % 2 == 0);
	}
	EXPECT_EQ(t->count, max_static_grants);
	for (uint32_t i = 0; i < max_static_grants; i++) {
		uint32_t ref = i < 400 ? 8 + i : 0x10000u * i + 3;
		EXPECT_EQ(gref_lookup(*t, ref, false), &pages[i]) << ref;
		/* Read-only mappings are never handed out for writing. */
		EXPECT_EQ(gref_lookup(*t, ref, true), i % 2 == 0 ? &pages[i] : nullptr) << ref;
	}
	for (uint32_t ref : {0u, 7u, 408u, 0xffffffffu, 0xfffffffeu, 0x10000u * 401 + 4})
		EXPECT_EQ(gref_lookup(*t, ref, false), nullptr) << ref;
}

TEST(GrefTable, EmptyTableIsNotPublished)
{
	auto s = std::make_unique<xenback::SharedGrefs>();
	EXPECT_EQ(xenback::published_grefs(nullptr), nullptr);
	EXPECT_EQ(xenback::published_grefs(s.get()), nullptr);
	uint8_t page = 0;
	gref_insert(s->copies[1], 42, &page, true);
	EXPECT_EQ(xenback::published_grefs(s.get()), nullptr);
	s->current = 1;
	ASSERT_NE(xenback::published_grefs(s.get()), nullptr);
	EXPECT_EQ(gref_lookup(*xenback::published_grefs(s.get()), 42, true), &page);
	/* A reference whose key would wrap to "empty" finds nothing. */
	EXPECT_EQ(gref_lookup(*xenback::published_grefs(s.get()), 0xffffffffu, false), nullptr);
}

} // namespace
