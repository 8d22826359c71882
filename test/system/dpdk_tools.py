# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's own operator tools pointed at a running DPDK process of a test:
dpdk-telemetry.py (the telemetry socket), dpdk-proc-info and dpdk-dumpcap
(secondary processes), and what a secondary must load to match its primary."""

import json
import re
import subprocess

TELEMETRY = "/usr/bin/dpdk-telemetry.py"


def telemetry(file_prefix: str, *commands: str, timeout: float = 30) -> list:
    """Runs dpdk-telemetry.py -f PREFIX with `commands` on its stdin, as a
    user would pipe them; returns each reply as a dict."""
    p = subprocess.run(["/usr/bin/python3", TELEMETRY, "-f", file_prefix],
                       input="\n".join(commands) + "\n", capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    # Not on a terminal, it prints only the replies, one JSON object a line.
    replies = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(replies) == len(commands), p.stdout + p.stderr
    return replies


def telemetry_xstats(file_prefix: str, port: int) -> dict:
    reply = telemetry(file_prefix, f"/ethdev/xstats,{port}")
    assert len(reply) == 1, reply
    return reply[0]["/ethdev/xstats"]


def primary_mempool_drivers(binary: str = "/usr/bin/dpdk-testpmd") -> list:
    """The mempool drivers that `binary` links (ldd), in ldd's order.

    A mempool names its driver by an index into a table that each process
    fills as it loads mempool drivers. A program that links one (Debian 12's
    dpdk-testpmd links librte_mempool_dpaa through librte_net_dpaa) registers
    it first; a capture tool loads them all as plugins, in the plugin
    directory's order. Loading these first in the tool (LD_PRELOAD, or -d)
    makes both tables agree, so the primary can use the tool's mempool."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for lib in re.findall(r"=> (\S+/librte_mempool_\w+\.so[.\d]*) ", out):
        if lib not in libs:
            libs.append(lib)
    return libs
