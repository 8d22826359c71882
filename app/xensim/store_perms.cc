/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

#include "store_perms.h"

#include <cerrno>
#include <cstdlib>

namespace xensim::store
{

std::optional<Perm> parse_perm(std::string_view s)
{
	if (s.empty())
		return std::nullopt;
	unsigned int bits;
	switch (s.front()) {
	case 'r':
		bits = XS_PERM_READ;
		break;
	case 'w':
		bits = XS_PERM_WRITE;
		break;
	case 'b':
		bits = XS_PERM_READ | XS_PERM_WRITE;
		break;
	case 'n':
		bits = XS_PERM_NONE;
		break;
	default:
		return std::nullopt;
	}
	/* libxenstore parses the id with strtol(p, &end, 0) into an unsigned
	 * int and refuses an empty id or trailing characters; so do we. */
	std::string id(s.substr(1));
	if (id.empty())
		return std::nullopt;
	char *end = nullptr;
	long v = std::strtol(id.c_str(), &end, 0);
	if (*end != '\0')
		return std::nullopt;
	return Perm{DomId{static_cast<uint32_t>(v)}, bits};
}

std::string format_perm(const Perm &p)
{
	char letter;
	switch (p.bits & ~static_cast<unsigned int>(XS_PERM_IGNORE)) {
	case XS_PERM_WRITE:
		letter = 'w';
		break;
	case XS_PERM_READ:
		letter = 'r';
		break;
	case XS_PERM_READ | XS_PERM_WRITE:
		letter = 'b';
		break;
	default:
		letter = 'n';
		break;
	}
	/* xs_perm_to_string() prints the id with "%i". */
	return letter + std::to_string(static_cast<int>(raw(p.id)));
}

unsigned int perm_for(const Perms &perms, DomId dom, std::optional<DomId> target)
{
	constexpr unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
	constexpr unsigned int mask = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

	if (is_privileged(dom))
		return all;
	if (perms.empty())
		return XS_PERM_NONE;
	DomId owner = perms.front().id;
	if (owner == dom || (target && owner == *target))
		return all;
	for (std::size_t i = 1; i < perms.size(); i++) {
		const Perm &p = perms[i];
		if (p.bits & XS_PERM_IGNORE)
			continue;
		if (p.id == dom || (target && p.id == *target))
			return p.bits & mask;
	}
	return perms.front().bits & mask;
}

} // namespace xensim::store
