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

bool parse_domain(std::string_view value, Config &config, std::string &why)
{
	/* Compared whole with the xenstore value; no control characters (a
	 * log line shows it). */
	bool printable = true;
	for (char c : value)
		printable &= static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
	if (value.size() > max_domain_name || !printable) {
		why = "expected the guest's name as /local/domain/<domid>/name holds it: 1 to " +
		      std::to_string(max_domain_name) + " characters, no control characters";
		return false;
	}
	value.copy(config.domain, value.size());
	config.domain[value.size()] = '\0';
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

bool parse_multicast_control(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.multicast_control, why);
}

bool parse_dynamic_multicast_control(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.dynamic_multicast_control, why);
}

bool parse_rsc(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.rsc, why);
}

bool parse_zerocopy(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.zerocopy, why);
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
	if (!config.domid && config.domain[0] == '\0') {
		error = "devarg 'domid' or 'domain' is required (domid=<uint>: the guest's domain "
			"id; domain=<name>: its name, followed across restarts)";
		return false;
	}
	if (config.domid && config.domain[0] != '\0') {
		error = "devargs 'domid' and 'domain' exclude each other: give the guest's domain "
			"id (domid=" +
			std::to_string(*config.domid) + ") or its name (domain=" + config.domain +
			"), not both";
		return false;
	}
	return true;
}

} // namespace xenback
