/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront.h"

#include <array>

#include "devargs.h"
#include "xenfront_devargs.h"

namespace xenfront
{
namespace
{

bool parse_vif(std::string_view value, Config &config, std::string &why)
{
	uint64_t vif = 0;
	if (!xen::parse_uint(value, 0, max_vif_index, vif, why))
		return false;
	config.vif = static_cast<uint32_t>(vif);
	return true;
}

bool parse_connect_timeout(std::string_view value, Config &config, std::string &why)
{
	uint64_t ms = 0;
	if (!xen::parse_uint(value, 1, 600000, ms, why))
		return false;
	config.connect_timeout_ms = static_cast<uint32_t>(ms);
	return true;
}

bool parse_close_timeout(std::string_view value, Config &config, std::string &why)
{
	uint64_t ms = 0;
	if (!xen::parse_uint(value, 0, 60000, ms, why))
		return false;
	config.close_timeout_ms = static_cast<uint32_t>(ms);
	return true;
}

bool parse_fanout(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.fanout, why);
}

bool parse_static_grants(std::string_view value, Config &config, std::string &why)
{
	return xen::parse_bool(value, config.static_grants, why);
}

bool parse_trusted(std::string_view value, Config &config, std::string &why)
{
	bool trusted = true;
	if (!xen::parse_bool(value, trusted, why))
		return false;
	config.trusted = trusted;
	return true;
}

bool parse_rx_copybreak(std::string_view value, Config &config, std::string &why)
{
	uint64_t bytes = 0;
	if (!xen::parse_uint(value, 0, UINT16_MAX, bytes, why))
		return false;
	config.rx_copybreak = static_cast<uint32_t>(bytes);
	return true;
}

#define XENFRONT_SPEC(key, syntax, help) xen::DevargSpec<Config>{#key, syntax, parse_##key},
constexpr std::array devarg_specs{XENFRONT_DEVARGS(XENFRONT_SPEC)};
#undef XENFRONT_SPEC

} // namespace

bool parse_config(const char *args, Config &config, std::string &error)
{
	return xen::parse_devargs<Config>(args, devarg_specs, config, error);
}

} // namespace xenfront
