/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Devargs of both drivers: good values land in the config, every bad one is
 * refused with a message that names the key and value. */

#include <gtest/gtest.h>

#include "devargs.h"
#include "xenback.h"
#include "xenfront.h"

namespace
{

TEST(ParseUint, AcceptsDecimalAndHexInRange)
{
	uint64_t v = 0;
	std::string why;
	EXPECT_TRUE(xen::parse_uint("0", 0, 10, v, why));
	EXPECT_EQ(v, 0u);
	EXPECT_TRUE(xen::parse_uint("10", 0, 10, v, why));
	EXPECT_EQ(v, 10u);
	EXPECT_TRUE(xen::parse_uint("0x1f", 0, 100, v, why));
	EXPECT_EQ(v, 31u);
}

TEST(ParseUint, RefusesJunkSignsAndRange)
{
	uint64_t v = 7;
	std::string why;
	for (const char *bad :
	     {"", "-1", "+1", "1x", "x1", " 1", "1 ", "0x", "11", "99999999999999999999999"}) {
		EXPECT_FALSE(xen::parse_uint(bad, 0, 10, v, why)) << bad;
		EXPECT_EQ(why, "expected an integer from 0 to 10") << bad;
		EXPECT_EQ(v, 7u) << "value written on failure for " << bad;
	}
	EXPECT_FALSE(xen::parse_uint("1", 2, 10, v, why));
}

TEST(ParseBool, OnlyZeroOrOne)
{
	bool b = false;
	std::string why;
	EXPECT_TRUE(xen::parse_bool("1", b, why));
	EXPECT_TRUE(b);
	EXPECT_TRUE(xen::parse_bool("0", b, why));
	EXPECT_FALSE(b);
	for (const char *bad : {"", "2", "yes", "true", "01"})
		EXPECT_FALSE(xen::parse_bool(bad, b, why)) << bad;
}

TEST(XenfrontDevargs, DefaultsWithoutArgs)
{
	xenfront::Config config;
	std::string error;
	EXPECT_TRUE(xenfront::parse_config(nullptr, config, error));
	EXPECT_TRUE(xenfront::parse_config("", config, error));
	EXPECT_EQ(config.vif, 0u);
}

TEST(XenfrontDevargs, Vif)
{
	xenfront::Config config;
	std::string error;
	ASSERT_TRUE(xenfront::parse_config("vif=3", config, error)) << error;
	EXPECT_EQ(config.vif, 3u);
	ASSERT_TRUE(xenfront::parse_config("vif=65535", config, error)) << error;
	EXPECT_EQ(config.vif, 65535u);
}

struct BadCase {
	const char *args;
	const char *message;
};

TEST(XenfrontDevargs, RefusedByName)
{
	const BadCase cases[] = {
		{"bogus=1",
		 "unknown devarg 'bogus' (valid: vif, connect_timeout, close_timeout, fanout, "
		 "static_grants, trusted, rx_copybreak)"},
		{"vif=0,bogus=1",
		 "unknown devarg 'bogus' (valid: vif, connect_timeout, close_timeout, fanout, "
		 "static_grants, trusted, rx_copybreak)"},
		{"vif=abc", "devarg vif='abc' is invalid: expected an integer from 0 to 65535"},
		{"vif=65536", "devarg vif='65536' is invalid: expected an integer from 0 to 65535"},
		{"vif=-1", "devarg vif='-1' is invalid: expected an integer from 0 to 65535"},
		{"vif=1,vif=2", "devarg 'vif' given more than once"},
		{"vif=", "devarg 'vif' needs a value (vif=<uint>)"},
		{"vif", "devarg 'vif' needs a value (vif=<uint>)"},
	};
	for (const auto &c : cases) {
		xenfront::Config config;
		std::string error;
		EXPECT_FALSE(xenfront::parse_config(c.args, config, error)) << c.args;
		EXPECT_EQ(error, c.message) << c.args;
	}
}

TEST(XenfrontDevargs, ConnectTimeout)
{
	xenfront::Config config;
	std::string error;
	EXPECT_EQ(config.connect_timeout_ms, 10000u);
	ASSERT_TRUE(xenfront::parse_config("connect_timeout=250", config, error)) << error;
	EXPECT_EQ(config.connect_timeout_ms, 250u);
	EXPECT_FALSE(xenfront::parse_config("connect_timeout=0", config, error));
	EXPECT_EQ(error, "devarg connect_timeout='0' is invalid: expected an integer from 1 to "
			 "600000");
}

TEST(XenfrontDevargs, CloseTimeout)
{
	xenfront::Config config;
	std::string error;
	EXPECT_EQ(config.close_timeout_ms, 500u);
	ASSERT_TRUE(xenfront::parse_config("close_timeout=0", config, error)) << error;
	EXPECT_EQ(config.close_timeout_ms, 0u);
	ASSERT_TRUE(xenfront::parse_config("close_timeout=5000", config, error)) << error;
	EXPECT_EQ(config.close_timeout_ms, 5000u);
	EXPECT_FALSE(xenfront::parse_config("close_timeout=60001", config, error));
	EXPECT_EQ(error, "devarg close_timeout='60001' is invalid: expected an integer from 0 to "
			 "60000");
}

TEST(XenfrontDevargs, Trusted)
{
	xenfront::Config config;
	std::string error;
	EXPECT_FALSE(config.trusted.has_value()); /* the vif's node decides */
	ASSERT_TRUE(xenfront::parse_config("trusted=0", config, error)) << error;
	EXPECT_EQ(config.trusted, std::optional<bool>(false));
	xenfront::Config again;
	ASSERT_TRUE(xenfront::parse_config("trusted=1", again, error)) << error;
	EXPECT_EQ(again.trusted, std::optional<bool>(true));
	EXPECT_FALSE(xenfront::parse_config("trusted=maybe", again, error));
}

TEST(XenfrontDevargs, Fanout)
{
	xenfront::Config config;
	std::string error;
	EXPECT_FALSE(config.fanout);
	ASSERT_TRUE(xenfront::parse_config("fanout=1", config, error)) << error;
	EXPECT_TRUE(config.fanout);
	EXPECT_FALSE(xenfront::parse_config("fanout=yes", config, error));
	EXPECT_NE(error.find("devarg fanout='yes' is invalid"), std::string::npos) << error;
}

TEST(XenbackDevargs, DomidOrDomainRequiredVifOptional)
{
	xenback::Config config;
	std::string error;
	EXPECT_FALSE(xenback::parse_config("", config, error));
	EXPECT_EQ(error, "devarg 'domid' or 'domain' is required (domid=<uint>: the guest's domain "
			 "id; domain=<name>: its name, followed across restarts)");
	EXPECT_FALSE(xenback::parse_config("vif=1", config, error));

	ASSERT_TRUE(xenback::parse_config("domid=5,vif=2", config, error)) << error;
	EXPECT_EQ(config.domid, 5u);
	EXPECT_EQ(config.vif, 2u);
	EXPECT_STREQ(config.domain, "");

	xenback::Config named;
	ASSERT_TRUE(xenback::parse_config("domain=web server-1,vif=1", named, error)) << error;
	EXPECT_FALSE(named.domid);
	EXPECT_STREQ(named.domain, "web server-1");
	EXPECT_EQ(named.vif, 1u);

	xenback::Config longest;
	const std::string name(xenback::max_domain_name, 'n');
	ASSERT_TRUE(xenback::parse_config(("domain=" + name).c_str(), longest, error)) << error;
	EXPECT_EQ(longest.domain, name);
	xenback::Config too_long;
	EXPECT_FALSE(xenback::parse_config(("domain=n" + name).c_str(), too_long, error));
	EXPECT_EQ(error, "devarg domain='n" + name +
				 "' is invalid: expected the guest's name as "
				 "/local/domain/<domid>/name holds it: 1 to 127 characters, no "
				 "control characters");
}

TEST(XenbackDevargs, RefusedByName)
{
	const BadCase cases[] = {
		{"domid=1,bogus=1", "unknown devarg 'bogus' (valid: domid, domain, vif, style, sg, "
				    "rx_copy, split_event_channels, csum, ipv6_csum, gso_tcpv4, "
				    "gso_tcpv6, max_queues, ctrl_ring, multicast_control, "
				    "dynamic_multicast_control, rsc, zerocopy, hostile)"},
		{"domid=0", "devarg domid='0' is invalid: expected an integer from 1 to 32751"},
		{"domid=32752",
		 "devarg domid='32752' is invalid: expected an integer from 1 to 32751"},
		{"domid=1,vif=x", "devarg vif='x' is invalid: expected an integer from 0 to 65535"},
		{"domid=1,domid=2", "devarg 'domid' given more than once"},
		{"domid=1,domain=web", "devargs 'domid' and 'domain' exclude each other: give the "
				       "guest's domain id (domid=1) or its name (domain=web), not "
				       "both"},
		{"domain=web,domain=db", "devarg 'domain' given more than once"},
		{"domain=", "devarg 'domain' needs a value (domain=<name>)"},
		{"domain=bad\tname", "devarg domain='bad\tname' is invalid: expected the guest's "
				     "name as /local/domain/<domid>/name holds it: 1 to 127 "
				     "characters, no control characters"},
	};
	for (const auto &c : cases) {
		xenback::Config config;
		std::string error;
		EXPECT_FALSE(xenback::parse_config(c.args, config, error)) << c.args;
		EXPECT_EQ(error, c.message) << c.args;
	}
}

/* hostile= exists only in a build with -Dhostile_hooks=true (devtools/run.sh's
 * builds); a default build refuses it naming the option (test_hostile_off
 * shows that in a hostile build too). */
TEST(XenbackDevargs, Hostile)
{
	xenback::Config c;
	std::string error;
	if constexpr (!xenback::hostile_hooks) {
		EXPECT_FALSE(xenback::parse_config("domid=1,hostile=rx_bad_id", c, error));
		EXPECT_EQ(error,
			  "devarg hostile='rx_bad_id' is invalid: this net_xenback was built "
			  "without hostile mode (testing only); rebuild with meson option "
			  "-Dhostile_hooks=true");
		return;
	}
	EXPECT_TRUE(xenback::parse_config("domid=1,hostile=rx_dup_id:7", c, error)) << error;
	EXPECT_EQ(c.hostile.behaviour, xenback::HostileBehaviour::rx_dup_id);
	EXPECT_EQ(c.hostile.rate, 7u);
	const std::pair<const char *, const char *> cases[] = {
		{"domid=1,hostile=nasty",
		 "devarg hostile='nasty' is invalid: expected "
		 "<behaviour>[:<rate>] with a behaviour among rx_bad_id "
		 "rx_dup_id rx_oversize rx_bad_offset rx_bad_status "
		 "rx_too_many_slots rx_extra rx_prod_race tx_bad_id "
		 "tx_dup_id tx_bad_status tx_null tx_prod_race tx_mcast_full unmap flap "
		 "ctrl_error ctrl_bad_id ctrl_bad_type ctrl_garbage ctrl_prod_race "
		 "ctrl_silent ctrl_late ctrl_small_table snoop"},
		{"domid=1,hostile=rx_bad_id:0",
		 "devarg hostile='rx_bad_id:0' is invalid: the rate after ':' must be a positive "
		 "integer"},
	};
	for (const auto &[args, want] : cases) {
		xenback::Config bad;
		EXPECT_FALSE(xenback::parse_config(args, bad, error)) << args;
		EXPECT_EQ(error, want) << args;
	}
}

} // namespace

TEST(XenfrontDevargs, RxCopybreak)
{
	xenfront::Config config;
	std::string error;
	EXPECT_EQ(config.rx_copybreak, xenfront::copybreak_off);
	ASSERT_TRUE(xenfront::parse_config("rx_copybreak=0", config, error)) << error;
	EXPECT_EQ(config.rx_copybreak, 0u);
	ASSERT_TRUE(xenfront::parse_config("rx_copybreak=65535", config, error)) << error;
	EXPECT_EQ(config.rx_copybreak, 65535u);
	EXPECT_FALSE(xenfront::parse_config("rx_copybreak=65536", config, error));
	EXPECT_NE(error.find("devarg rx_copybreak='65536' is invalid"), std::string::npos) << error;
	EXPECT_FALSE(xenfront::parse_config("rx_copybreak=", config, error));
}
