/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "devargs.h"

#include <charconv>

namespace xen
{

bool parse_uint(std::string_view text, uint64_t min, uint64_t max, uint64_t &out, std::string &why)
{
	int base = 10;
	std::string_view digits = text;
	if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
		base = 16;
		digits.remove_prefix(2);
	}
	uint64_t value = 0;
	auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
	if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
	    value < min || value > max) {
		why = "expected an integer from " + std::to_string(min) + " to " +
		      std::to_string(max);
		return false;
	}
	out = value;
	return true;
}

bool parse_bool(std::string_view text, bool &out, std::string &why)
{
	if (text == "0" || text == "1") {
		out = text == "1";
		return true;
	}
	why = "expected 0 or 1";
	return false;
}

namespace detail
{

rte_kvargs *split_devargs(const char *args, std::string &error)
{
	rte_kvargs *kvlist = rte_kvargs_parse(args, nullptr);
	if (kvlist == nullptr)
		error = "cannot parse devargs '" + std::string(args) +
			"' (expected key=value[,key=value...])";
	return kvlist;
}

} // namespace detail
} // namespace xen
