/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "queue_sync.h"

#include <cerrno>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xen
{
namespace
{

long membarrier(int cmd) noexcept
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

} // namespace

bool system_barrier_available() noexcept
{
	/* The kernel leaves MEMBARRIER_CMD_GLOBAL out of the query's answer
	 * where it would fail (nohz_full CPUs). */
	static const bool available = [] {
		long cmds = membarrier(MEMBARRIER_CMD_QUERY);
		return cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL) != 0;
	}();
	return available;
}

bool system_barrier() noexcept
{
	return system_barrier_available() && membarrier(MEMBARRIER_CMD_GLOBAL) == 0;
}

} // namespace xen
