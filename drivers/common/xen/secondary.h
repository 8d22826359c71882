/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A port in a secondary process (dpdk-proc-info, dpdk-dumpcap, dpdk-pdump),
 * for both drivers. It reads what lives in shared memory: information,
 * link, counters. The store, grants, mappings and event channels belong to
 * the primary, so it has no data path and changes nothing; the capture
 * tools' callbacks run in the primary's bursts. */

#include <ethdev_driver.h>
#include <ethdev_vdev.h>

namespace xen
{

/* The read-only callbacks a secondary process gets of `primary_ops`. */
inline eth_dev_ops secondary_ops(const eth_dev_ops &primary_ops) noexcept
{
	eth_dev_ops ops{};
	ops.link_update = primary_ops.link_update;
	ops.stats_get = primary_ops.stats_get;
	ops.xstats_get = primary_ops.xstats_get;
	ops.xstats_get_names = primary_ops.xstats_get_names;
	ops.dev_infos_get = primary_ops.dev_infos_get;
	ops.rxq_info_get = primary_ops.rxq_info_get;
	ops.txq_info_get = primary_ops.txq_info_get;
	return ops;
}

/* Attaches the primary's port `name` with `ops` and no data path; null if
 * the primary has no such port. */
inline rte_eth_dev *attach_secondary(rte_vdev_device *vdev, const char *name,
				     const eth_dev_ops *ops) noexcept
{
	rte_eth_dev *dev = rte_eth_dev_attach_secondary(name);
	if (dev == nullptr)
		return nullptr;
	dev->device = &vdev->device;
	dev->dev_ops = ops;
	dev->rx_pkt_burst = rte_eth_pkt_burst_dummy;
	dev->tx_pkt_burst = rte_eth_pkt_burst_dummy;
	rte_eth_dev_probing_finish(dev);
	return dev;
}

} // namespace xen
