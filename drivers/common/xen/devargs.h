/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Strict devargs: every key is known, given once, and parsed by its own
 * checked parser. One table per driver drives the parser, the PMD's
 * RTE_PMD_REGISTER_PARAM_STRING and the documentation. */

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <rte_kvargs.h>

namespace xen
{

template <typename Config>
struct DevargSpec {
	std::string_view key;
	std::string_view syntax; /* as shown to users, e.g. "<uint>" */
	/* Stores the value in `config`, or says in `why` what was expected. */
	bool (*parse)(std::string_view value, Config &config, std::string &why);
};

/* Decimal (or 0x-prefixed hex) integer in [min, max]; nothing else accepted. */
bool parse_uint(std::string_view text, uint64_t min, uint64_t max, uint64_t &out, std::string &why);
/* "0" or "1". */
bool parse_bool(std::string_view text, bool &out, std::string &why);

namespace detail
{
/* Splits `args` with rte_kvargs; false with `error` set when it cannot. */
rte_kvargs *split_devargs(const char *args, std::string &error);
} // namespace detail

/* Applies `args` (may be null or empty) to `config`. On failure returns false
 * and `error` names the offending key and value. */
template <typename Config>
bool parse_devargs(const char *args, std::span<const DevargSpec<Config>> specs, Config &config,
		   std::string &error)
{
	if (args == nullptr || *args == '\0')
		return true;
	rte_kvargs *kvlist = detail::split_devargs(args, error);
	if (kvlist == nullptr)
		return false;

	bool ok = true;
	for (unsigned i = 0; ok && i < kvlist->count; i++) {
		const rte_kvargs_pair &pair = kvlist->pairs[i];
		std::string_view key = pair.key;
		const DevargSpec<Config> *spec = nullptr;
		for (const auto &s : specs)
			if (s.key == key)
				spec = &s;
		if (spec == nullptr) {
			std::string keys;
			for (const auto &s : specs)
				keys += (keys.empty() ? "" : ", ") + std::string(s.key);
			error = "unknown devarg '" + std::string(key) + "' (valid: " + keys + ")";
			ok = false;
			break;
		}
		for (unsigned j = 0; j < i; j++)
			if (key == kvlist->pairs[j].key) {
				error = "devarg '" + std::string(key) + "' given more than once";
				ok = false;
			}
		if (!ok)
			break;
		if (pair.value == nullptr || *pair.value == '\0') {
			error = "devarg '" + std::string(key) + "' needs a value (" +
				std::string(key) + "=" + std::string(spec->syntax) + ")";
			ok = false;
			break;
		}
		std::string why;
		if (!spec->parse(pair.value, config, why)) {
			error = "devarg " + std::string(key) + "='" + pair.value +
				"' is invalid: " + why;
			ok = false;
		}
	}
	rte_kvargs_free(kvlist);
	return ok;
}

} // namespace xen
