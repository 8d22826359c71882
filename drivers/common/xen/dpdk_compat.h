/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Every difference between the DPDK releases the drivers build against
 * (22.11 in Debian 12, 23.11 in Ubuntu 24.04, 24.11 in Debian 13) lives
 * here, so that no other file tests RTE_VERSION. What changed between them,
 * and what the drivers do about it:
 *
 * - rte_ctrl_thread_create (pthread_t) went in 24.11 for
 *   rte_thread_create_internal_control (23.11, rte_thread_t, a uint32_t
 *   thread function, the name prefixed with "dpdk-"): xen_ctrl_thread_create
 *   below keeps the old shape.
 * - rte_ipv6_hdr's addresses became `struct rte_ipv6_addr` (24.11): the
 *   code takes their address (`&ip->src_addr`), valid for both.
 * - rte_eth_link became a union (24.11), and the link getters are
 *   __rte_warn_unused_result: the code value-initialises it and checks
 *   every return.
 * - The log library split from EAL (librte_log, 24.03): meson.build links
 *   it where it exists. The drivers log with rte_log() and their own log
 *   types, so RTE_LOGTYPE_PMD's removal and RTE_LOG_LINE do not touch them.
 * - RTE_FUNC_PTR_OR_* went (23.11), the mbuf cache-line markers went
 *   (24.07), dev_supported_ptypes_get gained `size_t *no_of_elements`
 *   (24.03), rte_eth_devargs_parse gained `nb_da`, and kvargs refuses
 *   key-only arguments unless rte_kvargs_process_opt parses them: the
 *   drivers use none of these (devargs.h walks the parsed pairs itself and
 *   refuses a key without a value by name).
 * - 25.11 (not packaged by Debian yet) moves the per-queue counters out of
 *   rte_eth_stats into a third stats_get argument; when it is, that goes
 *   here too.
 */

#include <cerrno>
#include <cstring>
#include <new>

#include <pthread.h>

#include <rte_lcore.h>
#include <rte_thread.h>
#include <rte_version.h>

/* The DPDK the code is compiled against is at least year.month. */
#define XEN_DPDK_AT_LEAST(year, month) (RTE_VERSION >= RTE_VERSION_NUM(year, month, 0, 0))

namespace xen
{

/* A control thread of the driver, as 22.11's rte_ctrl_thread_create made
 * one: on the CPUs EAL reserves for control threads, named, joinable with
 * pthread_join. `attr` must be null (no caller needs one). Returns 0 or a
 * negative errno. */
inline int ctrl_thread_create(pthread_t *thread, const char *name, const pthread_attr_t *attr,
			      void *(*start)(void *), void *arg) noexcept
{
#if XEN_DPDK_AT_LEAST(23, 11)
	if (attr != nullptr)
		return -EINVAL;
	struct Start {
		void *(*start)(void *);
		void *arg;
	};
	auto *s = new (std::nothrow) Start{start, arg};
	if (s == nullptr)
		return -ENOMEM;
	/* The name gets the "dpdk-" prefix: keep what fits after it. */
	char short_name[RTE_THREAD_INTERNAL_NAME_SIZE];
	const size_t len = strnlen(name, sizeof(short_name) - 1);
	std::memcpy(short_name, name, len);
	short_name[len] = '\0';
	rte_thread_t id;
	int rc = rte_thread_create_internal_control(
		&id, short_name,
		[](void *p) -> uint32_t {
			Start st = *static_cast<Start *>(p);
			delete static_cast<Start *>(p);
			st.start(st.arg);
			return 0;
		},
		s);
	if (rc != 0) {
		delete s;
		return rc < 0 ? rc : -rc;
	}
	/* On Linux an rte_thread_t is the pthread_t (eal/unix/rte_thread.c). */
	static_assert(sizeof(id.opaque_id) == sizeof(pthread_t));
	*thread = static_cast<pthread_t>(id.opaque_id);
	return 0;
#else
	return rte_ctrl_thread_create(thread, name, attr, start, arg);
#endif
}

} // namespace xen
