/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Device probe/remove and ethdev ops of net_xenback. */

#include "xenback.h"

#include <cerrno>

#include <bus_vdev_driver.h>
#include <rte_bus_vdev.h>

#include "store.h"
#include "xenback_logs.h"

using namespace xenback;

extern "C" int xenback_probe(rte_vdev_device *vdev) noexcept
{
	const char *name = rte_vdev_device_name(vdev);
	Config config;
	std::string error;
	if (!parse_config(rte_vdev_device_args(vdev), config, error)) {
		XB_INIT_LOG(ERR, name, "%s", error.c_str());
		return -EINVAL;
	}
	auto store = xen::Store::open(error);
	if (!store) {
		XB_INIT_LOG(ERR, name, "%s", error.c_str());
		return -ENODEV;
	}
	XB_INIT_LOG(ERR, name, "domain %u vif %u: the backend is not implemented yet",
		    *config.domid, config.vif);
	return -ENOTSUP;
}

extern "C" int xenback_remove(rte_vdev_device *vdev) noexcept
{
	(void)vdev;
	return 0;
}
