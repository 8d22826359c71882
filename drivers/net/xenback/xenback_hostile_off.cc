/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* net_xenback built without hostile mode (meson -Dhostile_hooks=false, the
 * default): what the control path calls of xenback_hostile.h, doing
 * nothing, and a parser that refuses hostile= naming the option to build
 * with. The bursts call nothing here: their hooks are compiled out. */

#include "xenback_hostile.h"

#include "xenback.h"
#include "xenback_xenbus.h"

namespace xenback
{

static_assert(!hostile_hooks, "xenback_hostile.cc is the hostile build's");

bool parse_hostile_config(std::string_view, HostileConfig &, std::string &why)
{
	why = "this net_xenback was built without hostile mode (testing only); rebuild with "
	      "meson option -Dhostile_hooks=true";
	return false;
}

const char *hostile_name(HostileBehaviour) noexcept
{
	return "none";
}

bool hostile_is_control(HostileBehaviour) noexcept
{
	return false;
}

bool hostile_is_ctrl_ring(HostileBehaviour) noexcept
{
	return false;
}

uint32_t hostile_rate(const HostileConfig &) noexcept
{
	return 0;
}

void hostile_init_queues(RxQueue &rxq, TxQueue &txq, const HostileConfig &) noexcept
{
	rxq.hostile = Hostile{};
	txq.hostile = Hostile{};
}

void Control::hostile_step() noexcept {}

bool Control::hostile_ctrl_hold() noexcept
{
	return false;
}

bool Control::hostile_ctrl_answer(const xen_netif_ctrl_request &,
				  xen_netif_ctrl_response &) noexcept
{
	return false;
}

} // namespace xenback
