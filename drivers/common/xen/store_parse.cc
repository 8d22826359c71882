/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "store_parse.h"

#include <charconv>

#include "store.h"

namespace xen
{

std::optional<uint64_t> parse_store_uint(std::string_view text, uint64_t max) noexcept
{
	uint64_t v = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
	if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max)
		return std::nullopt;
	return v;
}

std::optional<bool> parse_store_flag(std::string_view text) noexcept
{
	if (text == "0" || text == "1")
		return text == "1";
	return std::nullopt;
}

std::optional<XenbusState> parse_store_state(std::string_view text) noexcept
{
	auto v = parse_store_uint(text, static_cast<uint64_t>(XenbusState::Reconfigured));
	if (!v)
		return std::nullopt;
	return static_cast<XenbusState>(*v);
}

} // namespace xen
