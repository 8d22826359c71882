/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

#include <rte_log.h>

extern "C" {
extern int xenback_logtype_init;
extern int xenback_logtype_driver;
}

#define XB_INIT_LOG(level, name, fmt, ...)                                                         \
	rte_log(RTE_LOG_##level, xenback_logtype_init, "%s: " fmt "\n", (name), ##__VA_ARGS__)
#define XB_DRV_LOG(level, name, fmt, ...)                                                          \
	rte_log(RTE_LOG_##level, xenback_logtype_driver, "%s: " fmt "\n", (name), ##__VA_ARGS__)
