/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Fuzzes the xenstore values net_xenfront parses, all written by other
 * domains: backend, backend-id, mac and mtu under device/vif/N, the
 * backend's feature-* keys and multi-queue-max-queues, xenbus states, and
 * the number and flag syntax under them. Each value is present or absent
 * and any bytes. Whatever is accepted must be exactly the documented
 * syntax, in range. */

#include <cctype>
#include <cstdio>
#include <map>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"

#include "store.h"
#include "store_parse.h"
#include "xenfront_nodes.h"

namespace
{

const std::string front = "/local/domain/1/device/vif/0";
const std::string back = "/local/domain/0/backend/vif/1/0";
const char *const vif_keys[] = {"backend", "backend-id", "mac", "mtu", "trusted"};
const char *const feature_keys[] = {
	"feature-sg",
	"feature-rx-copy",
	"feature-split-event-channels",
	"feature-gso-tcpv4",
	"feature-gso-tcpv6",
	"feature-ipv6-csum-offload",
	"feature-no-csum-offload",
	"feature-multicast-control",
	"feature-dynamic-multicast-control",
	"feature-ctrl-ring",
	"multi-queue-max-queues",
};

bool all_digits(const std::string &s)
{
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

void check_uint(const std::string &text, uint64_t max)
{
	auto v = xen::parse_store_uint(text, max);
	if (!v)
		return;
	FUZZ_CHECK(all_digits(text) && *v <= max);
	std::string stripped = text.substr(std::min(text.find_first_not_of('0'), text.size() - 1));
	FUZZ_CHECK(std::to_string(*v) == stripped);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	std::map<std::string, std::string> nodes;
	for (const char *k : vif_keys)
		if (in.ConsumeBool())
			nodes[front + "/" + k] = in.ConsumeRandomLengthString(40);
	for (const char *k : feature_keys)
		if (in.ConsumeBool())
			nodes[back + "/" + k] = in.ConsumeRandomLengthString(12);
	std::string extra = in.ConsumeRandomLengthString(32);
	xenfront::NodeReader read = [&](const std::string &path) -> std::optional<std::string> {
		auto it = nodes.find(path);
		if (it == nodes.end()) {
			errno = ENOENT;
			return std::nullopt;
		}
		return it->second;
	};

	xenfront::VifNodes vif;
	std::string error;
	if (xenfront::read_vif_nodes(read, front, 0, vif, error)) {
		FUZZ_CHECK(!vif.back_dir.empty() && vif.back_dir[0] == '/');
		FUZZ_CHECK(all_digits(nodes[front + "/backend-id"]));
		FUZZ_CHECK(vif.backend_domid.value() <= 0x7fef);
		FUZZ_CHECK(rte_is_valid_assigned_ether_addr(&vif.mac));
		char text[RTE_ETHER_ADDR_FMT_SIZE];
		rte_ether_format_addr(text, sizeof(text), &vif.mac);
		std::string given = nodes[front + "/mac"];
		FUZZ_CHECK(given.size() == 17);
		for (size_t i = 0; i < 17; i++)
			FUZZ_CHECK(std::toupper(static_cast<unsigned char>(given[i])) == text[i]);
		FUZZ_CHECK(vif.mtu >= RTE_ETHER_MIN_MTU && vif.mtu <= 65535 - RTE_ETHER_HDR_LEN);
		/* Absent is trusted; present, it was a number (0: untrusted). */
		const std::string trusted_node = front + "/trusted";
		FUZZ_CHECK(nodes.count(trusted_node) ? all_digits(nodes[trusted_node])
						     : vif.trusted);
	} else {
		FUZZ_CHECK(!error.empty());
	}

	xenfront::BackendFeatures f;
	error.clear();
	if (xenfront::read_backend_features(read, back, f, error)) {
		FUZZ_CHECK(f.rx_copy && nodes[back + "/feature-rx-copy"] == "1");
		FUZZ_CHECK(f.max_queues >= 1 && f.max_queues <= 65535);
		for (const char *k : feature_keys) {
			auto it = nodes.find(back + "/" + k);
			if (it != nodes.end() && std::string(k).rfind("feature-", 0) == 0)
				FUZZ_CHECK(it->second == "0" || it->second == "1");
		}
		FUZZ_CHECK(f.sg == (nodes.count(back + "/feature-sg") &&
				    nodes[back + "/feature-sg"] == "1"));
	} else {
		FUZZ_CHECK(!error.empty());
	}

	check_uint(extra, 0x7fef);
	check_uint(extra, UINT64_MAX);
	auto state = xen::parse_store_state(extra);
	if (state)
		FUZZ_CHECK(static_cast<int>(*state) >= 0 && static_cast<int>(*state) <= 8);
	auto flag = xen::parse_store_flag(extra);
	if (flag)
		FUZZ_CHECK(extra == (*flag ? "1" : "0"));
	rte_ether_addr mac;
	if (xenfront::parse_mac(extra, mac))
		FUZZ_CHECK(extra.size() == 17 && extra[2] == ':' && extra[14] == ':' &&
			   std::isxdigit(static_cast<unsigned char>(extra[0])));
	return 0;
}
