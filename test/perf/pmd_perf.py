# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's own measure of a PMD: dpdk-test's pmd_perf_autotest
(app/test/test_pmd_perf.c in DPDK 22.11), run non-interactively
(DPDK_TEST=pmd_perf_autotest) on whatever ports its EAL arguments create.

What the test does, with its own defaults: one rx and one tx queue per
port, 1024 descriptors each; it injects 2048 64-byte packets, then one
worker lcore receives and sends back on the same port in a loop until it
has received 2 s worth of the port's link speed in 64-byte frames
(29.76 M packets at the 10 G a paravirtual link reports), and prints the
TSC cycles of that loop per packet received ("Result: N cycles per
packet"). It needs two lcores (the main one waits, spinning) and a peer
that sends every packet back: a testpmd in io forwarding on the far end
of the link, or a port that loops by itself (net_ring)."""

import os
import re
import subprocess

TEST = "pmd_perf_autotest"
RESULT = re.compile(r"^Result: (\d+) cycles per packet$", re.M)
COUNTS = re.compile(r"^(\d+) packet, (\d+) drop, (\d+) idle$", re.M)
# The lines worth quoting from its output.
QUOTED = re.compile(r"^(?:CONFIG RXD=.*|Port \d+ Link.*|Total packets inject.*|"
                    r"Test will stop after.*|free \d+ .*|\d+ packet, \d+ drop, \d+ idle|"
                    r"Result: .*|Test OK|Test Failed|.*Invalid value.*|.*Cause: .*)$", re.M)


def run(eal: list, env: dict, timeout: float = 600, wrapper=()) -> dict:
    """Runs dpdk-test with `eal` (EAL arguments only) and returns what it
    measured: ok, cycles_per_packet, packets, drops, idle, lines (the
    output lines that say so), returncode and the whole output."""
    full = dict(os.environ)
    full.update(env)
    full["DPDK_TEST"] = TEST
    try:
        p = subprocess.run(list(wrapper) + ["dpdk-test"] + [str(a) for a in eal],
                           capture_output=True, text=True, env=full, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return parse(p.stdout + p.stderr, p.returncode)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        r = parse(out, None)
        r["error"] = f"dpdk-test did not finish within {timeout:.0f} s"
        return r


def parse(out: str, returncode) -> dict:
    r = {"returncode": returncode, "output": out,
         "ok": returncode == 0 and re.search(r"^Test OK$", out, re.M) is not None,
         "cycles_per_packet": None, "packets": None, "drops": None, "idle": None,
         "lines": [m.group(0) for m in QUOTED.finditer(out)]}
    m = RESULT.search(out)
    if m:
        r["cycles_per_packet"] = int(m.group(1))
    m = COUNTS.search(out)
    if m:
        r["packets"], r["drops"], r["idle"] = (int(g) for g in m.groups())
    if not r["ok"] and "error" not in r:
        r["error"] = next((line for line in reversed(r["lines"])
                           if "Invalid" in line or "Cause" in line or "Failed" in line),
                          f"dpdk-test exited {returncode}")
    return r
