/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Node names as xenstored understands them: canonicalisation of relative
 * names, validity, parents, and the "is this node under that watch" test.
 * Pure functions, unit-tested in test/xensim/test_store_logic.cc.
 */

#pragma once

#include <string>
#include <string_view>

#include "store_types.h"

namespace xensim::store
{

/* "/local/domain/<N>", the implicit path of domain N's connections. */
std::string domain_path(DomId dom);

/* xenstored canonicalize(): a name not starting with '/' or '@' is relative
 * to the connection's domain path. */
std::string canonicalize(DomId dom, std::string_view name);

/* xenstored is_valid_nodename(): absolute, no trailing '/', no "//", only
 * [A-Za-z0-9-/_@], and at most max_rel_len characters below
 * "/local/domain/<N>/" (or in total for other nodes). */
bool is_valid_nodename(std::string_view node, unsigned int max_rel_len);

/* Special watch names (@introduceDomain, @releaseDomain) start with '@'. */
constexpr bool is_special(std::string_view name) noexcept
{
	return !name.empty() && name.front() == '@';
}

/* Parent of a valid node other than "/"; the parent of "/a" is "/". */
std::string parent_of(std::string_view node);

/* Last component of a valid node other than "/". */
std::string_view basename_of(std::string_view node);

/* Child name joined to its parent ("/" + "a" is "/a"). */
std::string child_path(std::string_view parent, std::string_view child);

/* xenstored watch is_child(): node equals watched or lies below it; every
 * node lies below "/". */
bool is_child_or_self(std::string_view node, std::string_view watched);

} // namespace xensim::store
