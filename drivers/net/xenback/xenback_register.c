/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Registration in C, for pmdinfogen and unmangled symbols (see
 * drivers/net/xenfront/xenfront_register.c). */

#include <rte_common.h>
#include <rte_log.h>
#include <bus_vdev_driver.h>

#include "xenback_devargs.h"

int xenback_probe(struct rte_vdev_device *vdev);
int xenback_remove(struct rte_vdev_device *vdev);

static struct rte_vdev_driver xenback_vdev_driver = {
	.probe = xenback_probe,
	.remove = xenback_remove,
};

RTE_PMD_REGISTER_VDEV(net_xenback, xenback_vdev_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_xenback, XENBACK_PARAM_STRING);
RTE_LOG_REGISTER(xenback_logtype_init, pmd.net.xenback.init, NOTICE);
RTE_LOG_REGISTER(xenback_logtype_driver, pmd.net.xenback.driver, NOTICE);
