/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

#include <cstdint>
#include <string>

namespace xenfront
{

/* Xen device ids are small integers; netfront's vif handle is one. */
constexpr uint32_t max_vif_index = 65535;

/* What the devargs ask for (see xenfront_devargs.h). */
struct Config {
	uint32_t vif = 0;
};

/* Parses net_xenfront devargs strictly; false with a message naming the key. */
bool parse_config(const char *args, Config &config, std::string &error);

} // namespace xenfront
