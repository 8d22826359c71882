/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

#include <rte_log.h>

extern "C" {
extern int xenfront_logtype_init;
extern int xenfront_logtype_driver;
}

/* Control-path messages start with the port's name, e.g. "net_xenfront0: ". */
#define XF_INIT_LOG(level, name, fmt, ...)                                                         \
	rte_log(RTE_LOG_##level, xenfront_logtype_init, "%s: " fmt "\n", (name), ##__VA_ARGS__)
#define XF_DRV_LOG(level, name, fmt, ...)                                                          \
	rte_log(RTE_LOG_##level, xenfront_logtype_driver, "%s: " fmt "\n", (name), ##__VA_ARGS__)
