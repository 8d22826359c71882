/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
/* The xenbus moves xen::XenbusDevice writes, and those it refuses. */
#include "xenbus_device.h"

#include <gtest/gtest.h>

using xen::state_move_allowed;
using S = xen::XenbusState;

TEST(XenbusStates, HandshakeForward)
{
	/* netfront: Initialising -> Connected; netback: InitWait -> Connected. */
	EXPECT_TRUE(state_move_allowed(S::Initialising, S::Connected));
	EXPECT_TRUE(state_move_allowed(S::Initialising, S::InitWait));
	EXPECT_TRUE(state_move_allowed(S::InitWait, S::Connected));
	EXPECT_TRUE(state_move_allowed(S::Initialised, S::Connected));
	EXPECT_TRUE(state_move_allowed(S::Initialising, S::Initialised));
}

TEST(XenbusStates, CloseFromAnywhereAndRestartOnlyFromClosed)
{
	for (int i = 1; i <= 8; i++) {
		EXPECT_TRUE(state_move_allowed(static_cast<S>(i), S::Closing)) << i;
		EXPECT_TRUE(state_move_allowed(static_cast<S>(i), S::Closed)) << i;
	}
	EXPECT_TRUE(state_move_allowed(S::Closed, S::Initialising));
	EXPECT_TRUE(state_move_allowed(S::Closed, S::InitWait));
	/* A restart that skips the close: the other end never sees us leave. */
	EXPECT_FALSE(state_move_allowed(S::Connected, S::Initialising));
	EXPECT_FALSE(state_move_allowed(S::Connected, S::InitWait));
	EXPECT_FALSE(state_move_allowed(S::Closing, S::Initialising));
	EXPECT_FALSE(state_move_allowed(S::Closing, S::InitWait));
	EXPECT_FALSE(state_move_allowed(S::Closing, S::Connected));
	EXPECT_FALSE(state_move_allowed(S::Closed, S::Connected));
	EXPECT_FALSE(state_move_allowed(S::InitWait, S::Initialising));
	EXPECT_FALSE(state_move_allowed(S::Connected, S::Initialised));
}

TEST(XenbusStates, SameStateUnknownAndReconfigure)
{
	for (int i = 1; i <= 8; i++) {
		EXPECT_TRUE(state_move_allowed(static_cast<S>(i), static_cast<S>(i))) << i;
		/* Our state not known (never written nor read): anything. */
		EXPECT_TRUE(state_move_allowed(S::Unknown, static_cast<S>(i))) << i;
		/* Unknown means absent: never written. */
		EXPECT_FALSE(state_move_allowed(static_cast<S>(i), S::Unknown)) << i;
	}
	EXPECT_FALSE(state_move_allowed(S::Connected, static_cast<S>(9)));
	EXPECT_TRUE(state_move_allowed(S::Connected, S::Reconfiguring));
	EXPECT_TRUE(state_move_allowed(S::Reconfiguring, S::Reconfigured));
	EXPECT_TRUE(state_move_allowed(S::Reconfigured, S::Connected));
	EXPECT_FALSE(state_move_allowed(S::InitWait, S::Reconfiguring));
	EXPECT_FALSE(state_move_allowed(S::Connected, S::Reconfigured));
}

TEST(XenbusStates, DirectoriesBySide)
{
	xen::XenbusDevice front(xen::XenbusDevice::Side::Frontend);
	front.bind("/local/domain/1/device/vif/0", "/local/domain/0/backend/vif/1/0");
	EXPECT_EQ(front.our_dir(), "/local/domain/1/device/vif/0");
	EXPECT_EQ(front.other_state_node(), "/local/domain/0/backend/vif/1/0/state");
	xen::XenbusDevice back(xen::XenbusDevice::Side::Backend);
	back.bind("/local/domain/1/device/vif/0", "/local/domain/0/backend/vif/1/0");
	EXPECT_EQ(back.our_dir(), "/local/domain/0/backend/vif/1/0");
	EXPECT_EQ(back.other_dir(), "/local/domain/1/device/vif/0");
	EXPECT_EQ(back.state(), S::Unknown);
	back.unbind();
	EXPECT_TRUE(back.our_dir().empty());
}

/* The watch each driver sets on the other end, and the events of it that
 * count as the other end writing its state (each but the watch's first). */
TEST(XenbusStates, WatchOnTheOtherEnd)
{
	xen::XenbusDevice front(xen::XenbusDevice::Side::Frontend, "xenfront-backend", true);
	front.bind("/local/domain/1/device/vif/0", "/local/domain/0/backend/vif/1/0");
	EXPECT_EQ(front.other_watch_path(), "/local/domain/0/backend/vif/1/0");
	xen::XenbusDevice back(xen::XenbusDevice::Side::Backend, "xenback-frontend", false);
	back.bind("/local/domain/1/device/vif/0", "/local/domain/0/backend/vif/1/0");
	EXPECT_EQ(back.other_watch_path(), "/local/domain/1/device/vif/0/state");
	const std::vector<std::string> fired = {
		"/local/domain/1/device/vif/0/state",
		"/local/domain/1/device/vif/0/request-multicast-control",
		"/local/domain/1/device/vif/0/state",
		"/local/domain/0/backend/vif/1/0/state",
	};
	EXPECT_EQ(back.other_state_events(fired), 2u);
	EXPECT_EQ(front.other_state_events(fired), 1u);
	EXPECT_EQ(back.other_state_events({}), 0u);
}
