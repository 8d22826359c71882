/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* An invariant of a fuzz target: broken, it names itself and aborts, which
 * libFuzzer (and the replay test) reports as a finding. */

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			std::fprintf(stderr, "fuzz invariant broken: %s\n", #cond);                \
			std::abort();                                                              \
		}                                                                                  \
	} while (0)
