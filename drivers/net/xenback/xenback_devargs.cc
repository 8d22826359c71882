/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenback.h"

#include <array>

#include "devargs.h"
#include "xenback_devargs.h"

namespace xenback
{
namespace
{

bool parse_domid(std::string_view value, Config &config, std::string &why)
{
	uint64_t domid = 0;
	/* Domain 0 cannot be the guest of a dom0 backend. */
	if (!xen::parse_uint(value, 1, max_guest_domid, domid, why))
		return false;
	config.domid = static_cast<uint32_t>(domid);
	return true;
}

bool parse_vif(std::string_view value, Config &config, std::string &why)
{
	uint64_t vif = 0;
	if (!xen::parse_uint(value, 0, max_vif_index, vif, why))
		return false;
	config.vif = static_cast<uint32_t>(vif);
	return true;
}

bool parse_style(std::string_view value, Config &config, std::string &why)
{
	if (value == "interrupt" || value == "poll") {
		config.style = value == "poll" ? NotifyStyle::poll : NotifyStyle::interrupt;
		return true;
	}
	why = "expected interrupt or poll";
	return false;
}

bool parse_sg(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.sg, why);
}

bool parse_rx_copy(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.rx_copy, why);
}

bool parse_split_event_channels(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.split_event_channels, why);
}

bool parse_csum(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.csum, why);
}

bool parse_ipv6_csum(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.ipv6_csum, why);
}

bool parse_gso_tcpv4(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.gso_tcpv4, why);
}

bool parse_gso_tcpv6(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.gso_tcpv6, why);
}

bool parse_max_queues(std::string_view value, Config &config, std::string &why)
{
	uint64_t n = 0;
	if (!xen::parse_uint(value, 1, max_queue_pairs, n, why))
		return false;
	config.max_queues = static_cast<uint16_t>(n);
	return true;
}

bool parse_ctrl_ring(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.ctrl_ring, why);
}

bool parse_rsc(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.rsc, why);
}

bool parse_hostile(std::string_view value, Config &config, std::string &why)
{
	return parse_hostile_config(value, config.hostile, why);
}

#define XENBACK_SPEC(key, syntax, help) xen::DevargSpec<Config>{#key, syntax, parse_##key},
constexpr std::array devarg_specs{XENBACK_DEVARGS(XENBACK_SPEC)};
#undef XENBACK_SPEC

} // namespace

bool parse_config(const char *args, Config &config, std::string &error)
{
	if (!xen::parse_devargs<Config>(args, devarg_specs, config, error))
		return false;
	if (!config.domid) {
		error = "devarg 'domid' is required (domid=<uint>: the guest's domain id)";
		return false;
	}
	return true;
}

} // namespace xenback
