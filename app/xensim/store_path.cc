/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

#include "store_path.h"

#include <cctype>

namespace xensim::store
{

std::string domain_path(DomId dom)
{
	return "/local/domain/" + std::to_string(raw(dom));
}

std::string canonicalize(DomId dom, std::string_view name)
{
	if (!name.empty() && (name.front() == '/' || name.front() == '@'))
		return std::string(name);
	return domain_path(dom) + "/" + std::string(name);
}

namespace
{

bool valid_chars(std::string_view node)
{
	for (unsigned char c : node)
		if (!std::isalnum(c) && c != '-' && c != '/' && c != '_' && c != '@')
			return false;
	return true;
}

/* Length of a leading "/local/domain/<N>/" as xenstored's
 * sscanf("/local/domain/%5u/%n") finds it (at most five characters for the
 * number, a sign included), or 0. */
std::size_t local_prefix_len(std::string_view node)
{
	constexpr std::string_view prefix = "/local/domain/";
	if (node.substr(0, prefix.size()) != prefix)
		return 0;
	std::size_t i = prefix.size();
	std::size_t start = i;
	if (i < node.size() && (node[i] == '-' || node[i] == '+'))
		i++;
	std::size_t digits = 0;
	while (i < node.size() && i - start < 5 &&
	       std::isdigit(static_cast<unsigned char>(node[i]))) {
		i++;
		digits++;
	}
	if (digits == 0 || i >= node.size() || node[i] != '/')
		return 0;
	return i + 1;
}

} // namespace

bool is_valid_nodename(std::string_view node, unsigned int max_rel_len)
{
	if (node.empty() || node.front() != '/')
		return false;
	if (node.back() == '/' && node != "/")
		return false;
	if (node.find("//") != std::string_view::npos)
		return false;
	if (node.size() > local_prefix_len(node) + max_rel_len)
		return false;
	return valid_chars(node);
}

std::string parent_of(std::string_view node)
{
	std::size_t slash = node.rfind('/');
	if (slash == 0 || slash == std::string_view::npos)
		return "/";
	return std::string(node.substr(0, slash));
}

std::string_view basename_of(std::string_view node)
{
	return node.substr(node.rfind('/') + 1);
}

std::string child_path(std::string_view parent, std::string_view child)
{
	std::string p(parent);
	if (p != "/")
		p += '/';
	p += child;
	return p;
}

bool is_child_or_self(std::string_view node, std::string_view watched)
{
	if (watched == "/")
		return true;
	if (node.substr(0, watched.size()) != watched)
		return false;
	return node.size() == watched.size() || node[watched.size()] == '/';
}

} // namespace xensim::store
