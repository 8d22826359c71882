/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* How xenstore values are parsed: pure functions over the text another
 * domain wrote, so that they can be tested and fuzzed without a store.
 * Nothing here trusts the text: anything but the exact syntax is refused. */

#include <cstdint>
#include <optional>
#include <string_view>

namespace xen
{

enum class XenbusState : int;

/* An unsigned decimal number (digits only, no sign, no spaces) no larger
 * than `max`. */
std::optional<uint64_t> parse_store_uint(std::string_view text, uint64_t max) noexcept;

/* A feature flag: exactly "0" or "1". */
std::optional<bool> parse_store_flag(std::string_view text) noexcept;

/* A xenbus state number (xen/io/xenbus.h), Unknown to Reconfigured. */
std::optional<XenbusState> parse_store_state(std::string_view text) noexcept;

} // namespace xen
