/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace xenback
{

/* DOMID_FIRST_RESERVED in xen.h is 0x7ff0; guests are below it. */
constexpr uint32_t max_guest_domid = 0x7fef;
constexpr uint32_t max_vif_index = 65535;

struct Config {
	std::optional<uint32_t> domid; /* required */
	uint32_t vif = 0;
};

/* Parses net_xenback devargs strictly, including the required keys. */
bool parse_config(const char *args, Config &config, std::string &error);

} // namespace xenback
