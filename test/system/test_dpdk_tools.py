# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's operator tools on a running dpdk-testpmd that drives net_xenfront:
dpdk-telemetry.py shows the port and its xstats under stable names, with
the values testpmd shows. Secondary-process tools (dpdk-proc-info,
dpdk-dumpcap, dpdk-pdump) cannot attach to a primary that runs without
hugepages, whatever its PMDs: that is what the second test pins down (see
doc/guides/nics/xenfront.rst, "DPDK tools")."""

import subprocess
import time

from dpdk_tools import telemetry
from test_traffic import backend, frontend, stop_all

# The driver's per-queue xstats, in order (xenfront_ethdev.cc); tools and
# users rely on these names.
RX_NAMES = ["packets", "bytes", "errors", "mbuf_alloc_failed", "notifications",
            "bad_responses", "oversize", "too_many_slots", "extra_info"]
TX_NAMES = ["packets", "bytes", "errors", "dropped", "notifications", "ring_full",
            "bad_responses"]
# What ethdev adds in front of a driver's xstats (rte_eth_basic_stats_strings).
ETHDEV_NAMES = ["rx_good_packets", "tx_good_packets", "rx_good_bytes", "tx_good_bytes",
                "rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"]


def test_telemetry_shows_port_and_xstats(build, xensim, prefix):
    xensim.vif_add(1, 0)
    back = front = None
    try:
        back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
        front = frontend(build, xensim, prefix, app=["--forward-mode=txonly"])
        front.wait_link(0)
        back.command("start")
        front.command("start")
        time.sleep(1)
        front.command("stop")
        time.sleep(0.5)
        back.command("stop")
        shown = front.xstats(0)

        ports, info, xstats, link = telemetry(
            prefix + "f", "/ethdev/list", "/ethdev/info,0", "/ethdev/xstats,0",
            "/ethdev/link_status,0")
        assert ports["/ethdev/list"] == [0], ports
        info = info["/ethdev/info"]
        assert info["name"] == "net_xenfront0", info
        assert info["mac_addr"].lower() == "00:16:3e:00:01:00", info
        assert link["/ethdev/link_status"]["status"] == "UP", link
        xstats = xstats["/ethdev/xstats"]
        want = ETHDEV_NAMES + [f"rx_q0_{n}" for n in RX_NAMES] + [f"tx_q0_{n}" for n in TX_NAMES]
        assert list(xstats) == want, list(xstats)
        # The same values testpmd shows (traffic has stopped).
        assert xstats == shown, (xstats, shown)
        assert xstats["tx_q0_packets"] > 1000 and xstats["tx_q0_bad_responses"] == 0, xstats
        assert xstats["tx_good_packets"] == xstats["tx_q0_packets"], xstats
    finally:
        stop_all(front, back)


def test_secondary_tools_need_hugepages(build, xensim, prefix):
    """dpdk-proc-info (and dpdk-dumpcap/dpdk-pdump, the same EAL path) as a
    secondary of a --no-huge testpmd: EAL stops before any driver is
    involved, because a --no-huge primary's memory is private to it (no
    hugepage_data file to map)."""
    xensim.vif_add(1, 0)
    back = front = None
    try:
        back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
        front = frontend(build, xensim, prefix, app=["--forward-mode=txonly"])
        front.wait_link(0)
        env = xensim.env(1)
        for eal, why in ((["--no-pci"], "Cannot get hugepage information"),
                         (["--no-pci", "--no-huge"],
                          f"Could not open /var/run/dpdk/{prefix}f/hugepage_data")):
            r = subprocess.run(["dpdk-proc-info", "--file-prefix", prefix + "f"] + eal +
                               ["--", "--xstats"], capture_output=True, text=True,
                               env=env, timeout=60)
            out = r.stdout + r.stderr
            assert r.returncode != 0 and why in out, out
        # The primary is unaffected.
        assert front.link_up(0)
    finally:
        stop_all(front, back)
