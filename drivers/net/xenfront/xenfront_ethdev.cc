/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Device probe/remove and ethdev ops of net_xenfront. */

#include "xenfront.h"

#include <cerrno>

#include <bus_vdev_driver.h>
#include <rte_bus_vdev.h>

#include "store.h"
#include "xenfront_logs.h"

using namespace xenfront;

extern "C" int xenfront_probe(rte_vdev_device *vdev) noexcept
{
	const char *name = rte_vdev_device_name(vdev);
	Config config;
	std::string error;
	if (!parse_config(rte_vdev_device_args(vdev), config, error)) {
		XF_INIT_LOG(ERR, name, "%s", error.c_str());
		return -EINVAL;
	}
	auto store = xen::Store::open(error);
	if (!store) {
		XF_INIT_LOG(ERR, name, "%s", error.c_str());
		return -ENODEV;
	}
	XF_INIT_LOG(ERR, name, "vif %u: the data path is not implemented yet", config.vif);
	return -ENOTSUP;
}

extern "C" int xenfront_remove(rte_vdev_device *vdev) noexcept
{
	(void)vdev;
	return 0;
}
