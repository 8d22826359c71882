/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* net_xenback's devargs compiled as a default build (-Dhostile_hooks=false)
 * compiles them, inside a hostile build: hostile= is refused at parse time,
 * before any port exists, with a message naming the option; the other
 * devargs are untouched. */

#include <gtest/gtest.h>

#include "xenback.h"

namespace
{

static_assert(!xenback::hostile_hooks, "compiled without XENBACK_HOSTILE_HOOKS");

TEST(HostileOff, RefusedNamingTheOption)
{
	for (const char *value : {"rx_bad_id", "snoop", "unmap:5", "nasty"}) {
		xenback::Config c;
		std::string error;
		const std::string args = std::string("domid=1,hostile=") + value;
		EXPECT_FALSE(xenback::parse_config(args.c_str(), c, error)) << args;
		EXPECT_EQ(error, std::string("devarg hostile='") + value +
					 "' is invalid: this net_xenback was built without hostile "
					 "mode (testing only); rebuild with meson option "
					 "-Dhostile_hooks=true");
	}
}

TEST(HostileOff, OtherDevargsStillParse)
{
	xenback::Config c;
	std::string error;
	EXPECT_TRUE(xenback::parse_config("domid=3,max_queues=2", c, error)) << error;
	EXPECT_EQ(c.hostile.behaviour, xenback::HostileBehaviour::none);
	EXPECT_EQ(c.max_queues, 2u);
}

} // namespace
