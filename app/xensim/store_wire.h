/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Payload helpers for xs_wire.h messages, with xenstored's rules
 * (get_string(), get_strings(), onearg(), xs_count_strings()): arguments
 * are nul-terminated strings; bytes after the last nul are not a string.
 */

#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace xensim::store
{

/* Every nul-terminated string of the payload, in order. */
inline std::vector<std::string_view> split_strings(std::string_view payload)
{
	std::vector<std::string_view> out;
	std::size_t off = 0;
	for (;;) {
		std::size_t nul = payload.find('\0', off);
		if (nul == std::string_view::npos)
			break;
		out.push_back(payload.substr(off, nul - off));
		off = nul + 1;
	}
	return out;
}

/* xenstored onearg(): the payload is exactly one string with its nul. */
inline std::optional<std::string_view> onearg(std::string_view payload)
{
	if (payload.empty() || payload.find('\0') != payload.size() - 1)
		return std::nullopt;
	return payload.substr(0, payload.size() - 1);
}

} // namespace xensim::store
