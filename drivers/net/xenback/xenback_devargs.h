/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#ifndef XENBACK_DEVARGS_H
#define XENBACK_DEVARGS_H

/* The devargs of net_xenback, one X(key, syntax, help) each; drives
 * RTE_PMD_REGISTER_PARAM_STRING, the parser and the documentation. */
#define XENBACK_DEVARGS(X)                                                                         \
	X(domid, "<uint>", "domain id of the guest whose vif this port serves (required)")         \
	X(vif, "<uint>", "index N of that guest's vif, backend/vif/<domid>/N (default 0)")

#define XENBACK_PARAM_ONE(key, syntax, help) #key "=" syntax " "
#define XENBACK_PARAM_STRING XENBACK_DEVARGS(XENBACK_PARAM_ONE)

#endif
