/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* The xenstore nodes net_xenfront reads (netif.h), parsed by pure
 * functions over a node reader, so that they can be fuzzed without a
 * store: everything under device/vif/N and the backend's feature-* keys
 * comes from other domains and is checked before use. */

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <rte_ether.h>

#include "ids.h"

namespace xenfront
{

/* Value of the node at `path`, nullopt if absent (errno says why). */
using NodeReader = std::function<std::optional<std::string>(const std::string &path)>;

/* The backend's feature-* keys (netif.h), as read at InitWait. */
struct BackendFeatures {
	bool sg = false;
	bool rx_copy = false;
	bool split_event_channels = false;
	bool gso_tcpv4 = false;
	bool gso_tcpv6 = false;
	bool ipv6_csum_offload = false;
	bool no_csum_offload = false;
	bool multicast_control = false;
	bool dynamic_multicast_control = false; /* request-multicast-control followed */
	bool ctrl_ring = false;
	uint32_t max_queues = 1;
};

/* What the toolstack wrote for the vif under device/vif/N. */
struct VifNodes {
	std::string back_dir;
	xen::DomId backend_domid;
	rte_ether_addr mac{};
	uint32_t mtu = RTE_ETHER_MTU;
	/* "trusted" (XSA-403; libxl writes it, 0 for a backend it does not
	 * trust): absent means trusted, as Linux netfront reads it. */
	bool trusted = true;
};

/* "xx:xx:xx:xx:xx:xx", two hex digits per byte, a unicast address. */
bool parse_mac(std::string_view text, rte_ether_addr &mac) noexcept;

/* backend, backend-id, mac, mtu and trusted under `front_dir`; false with `error`
 * naming the node and its value. */
bool read_vif_nodes(const NodeReader &read, const std::string &front_dir, uint32_t vif,
		    VifNodes &out, std::string &error) noexcept;

/* The backend's features under `back_dir`; false with `error` naming a
 * malformed key, or when the backend lacks feature-rx-copy. */
bool read_backend_features(const NodeReader &read, const std::string &back_dir,
			   BackendFeatures &out, std::string &error) noexcept;

} // namespace xenfront
