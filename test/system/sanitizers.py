# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Whether the build under test is sanitized, and the environment an
uninstrumented program needs to load its drivers. A plain module (not
conftest) so that the real-Xen suite (test/xen) can import testpmd.py."""

import os
import subprocess


def sanitized() -> bool:
    """True when the build under test has ASan+UBSan (see devtools/run.sh)."""
    return os.environ.get("XENFRONT_SANITIZE", "") == "1"


def sanitizer_env() -> dict:
    """Environment that lets an uninstrumented program (dpdk-testpmd) load
    our instrumented drivers: the runtimes preloaded, leak checks off for
    DPDK's own allocations, UB fatal."""
    if not sanitized():
        return {}
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        path = subprocess.run(["gcc", "-print-file-name=" + name], capture_output=True,
                              text=True, check=True).stdout.strip()
        libs.append(path)
    return {
        "LD_PRELOAD": " ".join(libs),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=99",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98",
    }
