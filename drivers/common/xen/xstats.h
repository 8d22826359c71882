/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Per-queue xstats from a static {name, offsetof} table: the names are
 * "<dir>_q<N>_<field>" (snake_case, stable: tools and tests rely on them). */

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>

#include <ethdev_driver.h>

namespace xen
{

struct XstatField {
	const char *name;
	size_t offset; /* of a uint64_t counter in the queue's stats struct */
};

/* Writes the names of `nb_queues` queues' counters from index `k` on;
 * returns the next index. */
inline unsigned xstat_names(rte_eth_xstat_name *names, unsigned k, const char *dir,
			    uint16_t nb_queues, std::span<const XstatField> fields) noexcept
{
	for (uint16_t q = 0; q < nb_queues; q++)
		for (const auto &f : fields)
			std::snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s", dir,
				      q, f.name);
	return k;
}

/* Writes the values of the same counters; `stats_of(q)` gives queue q's
 * stats struct or nullptr (reads as zero). */
template <typename StatsOf>
unsigned xstat_values(rte_eth_xstat *xstats, unsigned k, uint16_t nb_queues,
		      std::span<const XstatField> fields, StatsOf stats_of) noexcept
{
	for (uint16_t q = 0; q < nb_queues; q++) {
		const void *stats = stats_of(q);
		for (const auto &f : fields) {
			uint64_t v = 0;
			if (stats != nullptr)
				std::memcpy(&v, static_cast<const uint8_t *>(stats) + f.offset,
					    sizeof(v));
			xstats[k] = {k, v};
			k++;
		}
	}
	return k;
}

/* A link that is up or down; paravirtual links report a fixed 10G. */
inline rte_eth_link paravirtual_link(bool up) noexcept
{
	rte_eth_link link{};
	link.link_speed = RTE_ETH_SPEED_NUM_10G;
	link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
	link.link_autoneg = RTE_ETH_LINK_FIXED;
	link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
	return link;
}

/* Sets the link and raises RTE_ETH_EVENT_INTR_LSC if it changed and the
 * application asked for LSC events; true if it changed. */
inline bool set_link(rte_eth_dev *dev, bool up) noexcept
{
	rte_eth_link link = paravirtual_link(up);
	/* rte_eth_linkstatus_set returns 0 when the status changed. */
	if (rte_eth_linkstatus_set(dev, &link) != 0)
		return false;
	if (dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
	return true;
}

} // namespace xen
