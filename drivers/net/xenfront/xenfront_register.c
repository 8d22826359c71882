/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Registration lives in C: the RTE_PMD_REGISTER_* and RTE_LOG_REGISTER
 * macros define symbols that C++ would mangle, and dpdk-pmdinfo.py (through
 * pmdinfogen) looks for them by their C names. */

#include <rte_common.h>
#include <rte_log.h>
#include <bus_vdev_driver.h>

#include "xenfront_devargs.h"

int xenfront_probe(struct rte_vdev_device *vdev);
int xenfront_remove(struct rte_vdev_device *vdev);

static struct rte_vdev_driver xenfront_vdev_driver = {
	.probe = xenfront_probe,
	.remove = xenfront_remove,
};

RTE_PMD_REGISTER_VDEV(net_xenfront, xenfront_vdev_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_xenfront, XENFRONT_PARAM_STRING);
RTE_LOG_REGISTER(xenfront_logtype_init, pmd.net.xenfront.init, NOTICE);
RTE_LOG_REGISTER(xenfront_logtype_driver, pmd.net.xenfront.driver, NOTICE);
