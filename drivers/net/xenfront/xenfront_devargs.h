/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#ifndef XENFRONT_DEVARGS_H
#define XENFRONT_DEVARGS_H

/* The devargs of net_xenfront, one X(key, syntax, help) each. This list
 * drives RTE_PMD_REGISTER_PARAM_STRING (xenfront_register.c), the parser
 * (xenfront_devargs.cc) and doc/guides/nics/xenfront.rst (checked by a test).
 * Plain C so the registration file can expand it. */
#define XENFRONT_DEVARGS(X)                                                                        \
	X(vif, "<uint>", "index N of the vif in this domain's device/vif/N (default 0)")           \
	X(connect_timeout, "<ms>",                                                                 \
	  "after how long without the backend's Connected a NOTICE says so (the wait goes on), "   \
	  "1 to 600000 ms (default 10000)")                                                        \
	X(close_timeout, "<ms>",                                                                   \
	  "how long stopping or closing the port waits for the backend to follow Closing and "     \
	  "Closed, 0 to 60000 ms (default 500)")                                                   \
	X(fanout, "0|1",                                                                           \
	  "serve more queue pairs than the backend offers, or RSS without its control ring, "      \
	  "in software (default 0)")                                                               \
	X(static_grants, "0|1",                                                                    \
	  "ask the backend, over its control ring, to keep the queues' buffers mapped (static "    \
	  "grants) and copy without grant copies (default 0)")                                     \
	X(trusted, "0|1",                                                                          \
	  "whether the backend may see memory beyond this vif's frames; overrides the vif's "      \
	  "trusted node (default: the node, 1 if absent)")                                         \
	X(rx_copybreak, "<bytes>",                                                                 \
	  "receive frames longer than this in their granted pages, lent to the application as "    \
	  "external buffers, not copied, 0 to 65535 (default: unset, every frame copied)")

#define XENFRONT_PARAM_ONE(key, syntax, help) #key "=" syntax " "
#define XENFRONT_PARAM_STRING XENFRONT_DEVARGS(XENFRONT_PARAM_ONE)

#endif
