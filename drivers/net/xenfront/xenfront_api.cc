/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The PMD's public API (rte_pmd_xenfront.h). */

#include <cerrno>

#include "net_headers.h"
#include "rte_pmd_xenfront.h"

extern "C" __attribute__((visibility("default"))) int
rte_pmd_xenfront_complete_cksum(struct rte_mbuf *m)
{
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_NONE)
		return 0;
	xen::NetHeaders h;
	if (!xen::parse_net_headers(m, h) || h.fragment)
		return -EINVAL;
	if (!xen::headers_writable(m, h))
		return -EPERM;
	xen::complete_blank_csum(m, h);
	m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	return 0;
}
