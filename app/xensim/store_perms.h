/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Node permissions with xenstore's rules (docs/misc/xenstore.txt, xenstored
 * perm_for_conn()): the first entry names the owner and the access of every
 * domain not listed; later entries grant 'n'one, 'r'ead, 'w'rite or 'b'oth
 * to one domain. The owner and dom0 get everything. Pure functions,
 * unit-tested.
 */

#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store_types.h"

namespace xensim::store
{

/* One permission string as xs_strings_to_perms() reads it: a letter of
 * "rwbn" and a domain id in strtol(..., 0) syntax. */
std::optional<Perm> parse_perm(std::string_view s);

/* xs_perm_to_string(): letter and decimal id; XS_PERM_IGNORE is not shown. */
std::string format_perm(const Perm &p);

/* What a connection of domain `dom` (acting for `target`, see XS_SET_TARGET)
 * may do with a node carrying `perms`: XS_PERM_READ|WRITE|OWNER bits. */
unsigned int perm_for(const Perms &perms, DomId dom, std::optional<DomId> target);

} // namespace xensim::store
