/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#ifndef XENBACK_DEVARGS_H
#define XENBACK_DEVARGS_H

/* The devargs of net_xenback, one X(key, syntax, help) each; drives
 * RTE_PMD_REGISTER_PARAM_STRING, the parser and the documentation. The
 * feature switches turn off what Linux netback would advertise, so that a
 * frontend's fallbacks can be tested. */
#define XENBACK_DEVARGS(X)                                                                         \
	X(domid, "<uint>", "domain id of the guest whose vif this port serves (or domain=)")       \
	X(domain, "<name>",                                                                        \
	  "name of that guest instead (/local/domain/<domid>/name): served again when a "          \
	  "domain of that name gets the vif after a restart")                                      \
	X(vif, "<uint>", "index N of that guest's vif, backend/vif/<domid>/N (default 0)")         \
	X(style, "interrupt|poll",                                                                 \
	  "interrupt: ask the frontend for notifications when idle, as Linux netback does; "       \
	  "poll: never ask (default interrupt)")                                                   \
	X(sg, "0|1", "advertise feature-sg: multi-slot packets (default 1)")                       \
	X(rx_copy, "0|1", "advertise feature-rx-copy (default 1; 0 makes frontends refuse)")       \
	X(split_event_channels, "0|1", "advertise feature-split-event-channels (default 1)")       \
	X(csum, "0|1", "accept blank IPv4 checksums: feature-no-csum-offload=0 (default 1)")       \
	X(ipv6_csum, "0|1", "advertise feature-ipv6-csum-offload (default 1)")                     \
	X(gso_tcpv4, "0|1", "advertise feature-gso-tcpv4 (default 1)")                             \
	X(gso_tcpv6, "0|1", "advertise feature-gso-tcpv6 (default 1)")                             \
	X(max_queues, "<uint>",                                                                    \
	  "queue pairs offered to the guest, multi-queue-max-queues, 1 to 8 (default 1)")          \
	X(ctrl_ring, "0|1", "advertise feature-ctrl-ring: the guest may set up RSS (default 1)")   \
	X(multicast_control, "0|1",                                                                \
	  "advertise feature-multicast-control: filter multicast toward the guest on its "         \
	  "request (default 1)")                                                                   \
	X(dynamic_multicast_control, "0|1",                                                        \
	  "advertise feature-dynamic-multicast-control: follow the guest's request while "         \
	  "connected (default 1)")                                                                 \
	X(rsc, "0|1",                                                                              \
	  "coalesce consecutive TCP segments into GSO packets toward the guest (default 0)")       \
	X(zerocopy, "0|1",                                                                         \
	  "lend the guest's statically granted tx pages to the application instead of copying, "   \
	  "with RTE_ETH_RX_OFFLOAD_SCATTER (default 0)")                                           \
	X(hostile, "<behaviour>[:<rate>]",                                                         \
	  "testing only: break netif.h on purpose, one packet in <rate> (see xenback.rst)")

#define XENBACK_PARAM_ONE(key, syntax, help) #key "=" syntax " "
#define XENBACK_PARAM_STRING XENBACK_DEVARGS(XENBACK_PARAM_ONE)

#endif
