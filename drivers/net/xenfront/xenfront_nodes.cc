/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenfront_nodes.h"

#include <cerrno>
#include <cstring>

#include "store_parse.h"

namespace xenfront
{
namespace
{

int hex_digit(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace

bool parse_mac(std::string_view text, rte_ether_addr &mac) noexcept
{
	/* Strict: sscanf("%2x") would also take signs and blanks ("-1", " a"). */
	if (text.size() != 17)
		return false;
	rte_ether_addr parsed;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hex_digit(text[3 * i]);
		int lo = hex_digit(text[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
			return false;
		parsed.addr_bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
	}
	if (!rte_is_valid_assigned_ether_addr(&parsed))
		return false;
	mac = parsed;
	return true;
}

bool read_vif_nodes(const NodeReader &read, const std::string &front_dir, uint32_t vif,
		    VifNodes &out, std::string &error) noexcept
{
	auto backend = read(front_dir + "/backend");
	if (!backend) {
		error = "vif " + std::to_string(vif) + " not found: cannot read " + front_dir +
			"/backend (" + std::strerror(errno) + "); is there a vif " +
			std::to_string(vif) + " for this domain?";
		return false;
	}
	if (backend->empty() || (*backend)[0] != '/') {
		error = front_dir + "/backend is '" + *backend + "', not an absolute path";
		return false;
	}
	out.back_dir = *backend;
	auto raw_id = read(front_dir + "/backend-id");
	auto backend_id = raw_id ? xen::parse_store_uint(*raw_id, 0x7fef) : std::nullopt;
	if (!backend_id) {
		error = front_dir + "/backend-id is " +
			(raw_id ? "'" + *raw_id + "', not a domain id" : std::string("missing"));
		return false;
	}
	out.backend_domid = xen::DomId(static_cast<uint16_t>(*backend_id));

	auto mac = read(front_dir + "/mac");
	if (!mac || !parse_mac(*mac, out.mac)) {
		error = front_dir + "/mac is " +
			(mac ? "'" + *mac + "', not a unicast MAC address"
			     : std::string("missing"));
		return false;
	}
	/* netif.h "MTU": absent means 1500. */
	auto raw_mtu = read(front_dir + "/mtu");
	std::optional<uint64_t> mtu;
	if (raw_mtu)
		mtu = xen::parse_store_uint(*raw_mtu, 65535 - RTE_ETHER_HDR_LEN);
	if (raw_mtu && (!mtu || *mtu < RTE_ETHER_MIN_MTU)) {
		error = front_dir + "/mtu is '" + *raw_mtu + "', not an MTU from 68 to 65521";
		return false;
	}
	out.mtu = mtu ? static_cast<uint32_t>(*mtu) : RTE_ETHER_MTU;
	/* Linux netfront: xenbus_read_unsigned(nodename, "trusted", 1), 0 is
	 * untrusted. A value that is not a number is refused, not guessed. */
	auto raw_trusted = read(front_dir + "/trusted");
	if (raw_trusted) {
		auto trusted = xen::parse_store_uint(*raw_trusted, UINT32_MAX);
		if (!trusted) {
			error = front_dir + "/trusted is '" + *raw_trusted + "', not 0 or 1";
			return false;
		}
		out.trusted = *trusted != 0;
	}
	return true;
}

bool read_backend_features(const NodeReader &read, const std::string &back_dir,
			   BackendFeatures &out, std::string &error) noexcept
{
	std::string bad;
	auto flag = [&](const char *key) {
		auto text = read(back_dir + "/" + key);
		if (!text)
			return false; /* absent: not supported */
		auto v = xen::parse_store_flag(*text);
		if (!v && bad.empty())
			bad = back_dir + "/" + key + " is '" + *text + "', not 0 or 1";
		return v.value_or(false);
	};
	BackendFeatures f;
	f.sg = flag("feature-sg");
	f.rx_copy = flag("feature-rx-copy");
	f.split_event_channels = flag("feature-split-event-channels");
	f.gso_tcpv4 = flag("feature-gso-tcpv4");
	f.gso_tcpv6 = flag("feature-gso-tcpv6");
	f.ipv6_csum_offload = flag("feature-ipv6-csum-offload");
	f.no_csum_offload = flag("feature-no-csum-offload");
	f.multicast_control = flag("feature-multicast-control");
	f.dynamic_multicast_control = flag("feature-dynamic-multicast-control");
	f.ctrl_ring = flag("feature-ctrl-ring");
	auto raw_maxq = read(back_dir + "/multi-queue-max-queues");
	std::optional<uint64_t> maxq;
	if (raw_maxq) {
		maxq = xen::parse_store_uint(*raw_maxq, 65535);
		if (!maxq && bad.empty())
			bad = back_dir + "/multi-queue-max-queues is '" + *raw_maxq +
			      "', not a number";
	}
	f.max_queues = maxq && *maxq > 0 ? static_cast<uint32_t>(*maxq) : 1;
	if (!bad.empty()) {
		error = bad;
		return false;
	}
	/* Linux netfront: "backend does not support copying receive path". */
	if (!f.rx_copy) {
		auto raw = read(back_dir + "/feature-rx-copy");
		error = back_dir + "/feature-rx-copy is " + (raw ? "'" + *raw + "'" : "missing") +
			", not 1: xenfront needs the copying receive path (which Linux netback "
			"always offers)";
		return false;
	}
	out = f;
	return true;
}

} // namespace xenfront
