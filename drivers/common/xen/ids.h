/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Strong types for Xen identifiers, so that a grant reference can never be
 * passed where an event-channel port or a domain id is expected. */

#include <compare>
#include <cstdint>
#include <string>

namespace xen
{

template <typename Tag, typename Rep>
class StrongId
{
public:
	using rep = Rep;
	constexpr StrongId() = default;
	constexpr explicit StrongId(Rep value) : value_(value) {}
	constexpr Rep value() const { return value_; }
	friend constexpr auto operator<=>(StrongId, StrongId) = default;
	std::string str() const { return std::to_string(value_); }

private:
	Rep value_{};
};

using DomId = StrongId<struct DomIdTag, uint16_t>;       /* domid_t */
using GrantRef = StrongId<struct GrantRefTag, uint32_t>; /* grant_ref_t */
using EvtchnPort = StrongId<struct PortTag, uint32_t>;   /* evtchn_port_t */

} // namespace xen
