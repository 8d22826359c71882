# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Whether the build under test is sanitized, and the environment an
uninstrumented program needs to load its drivers. A plain module (not
conftest) so that the real-Xen suite (test/xen) can import testpmd.py."""

import os
import pathlib
import subprocess

# devtools/run.sh's ThreadSanitizer build reads its suppressions from here.
TSAN_SUPPRESSIONS = pathlib.Path(__file__).resolve().parents[1] / "tsan.supp"

# A line of any of these in a process's output is a sanitizer's report.
REPORT_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                  "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
                  "FATAL: ThreadSanitizer")


def kind() -> str:
    """XENFRONT_SANITIZE (devtools/run.sh): "1" is the ASan+UBSan build,
    "thread" the TSan one; anything else an ordinary build ("")."""
    return {"1": "address", "thread": "thread"}.get(os.environ.get("XENFRONT_SANITIZE", ""), "")


def sanitized() -> bool:
    """True when the build under test is sanitized (see devtools/run.sh)."""
    return kind() != ""


def runtime(name: str) -> str:
    return subprocess.run(["gcc", "-print-file-name=" + name], capture_output=True,
                          text=True, check=True).stdout.strip()


def tsan_options(extra: str = "") -> str:
    """Every report is printed (halt_on_error=0) and makes the exit status
    66; the suppressions are those of tsan.supp, each with its reason.
    ignore_noninstrumented_modules stays 0: with 1, every interceptor an
    uninstrumented library calls opens an "ignore" scope, and
    libxenstore's watch thread, which xs_close() cancels inside read(),
    ends with that scope open: TSan then reports "thread finished with
    ignores enabled" and exits at every port close. The cost of 0: the
    memcpy and memset of Debian's DPDK and testpmd are checked too (about
    1.4x a testpmd start's CPU time)."""
    return (f"suppressions={TSAN_SUPPRESSIONS}:halt_on_error=0:exitcode=66:"
            "second_deadlock_stack=1:ignore_noninstrumented_modules=0" + extra)


def sanitizer_env() -> dict:
    """Environment that lets an uninstrumented program (dpdk-testpmd) load
    our instrumented drivers: the runtimes preloaded (a sanitizer's runtime
    must be the first library loaded), leak checks off for DPDK's own
    allocations, UB fatal."""
    if kind() == "thread":
        return {"LD_PRELOAD": runtime("libtsan.so"), "TSAN_OPTIONS": tsan_options()}
    if kind() != "address":
        return {}
    return {
        "LD_PRELOAD": " ".join(runtime(n) for n in ("libasan.so", "libubsan.so")),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=99",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=98",
    }
