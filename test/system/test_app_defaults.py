# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Applications with their own defaults (issue 20): any descriptor count,
unequal rx and tx queue counts, and a port added before its backend runs.
OVS-DPDK's side of the same is in test_ovs_dpdk.py, dpdk-test's
pmd_perf_autotest in test_pmd_perf.py."""

import re

import pytest

from test_traffic import backend, frontend, stop_all, wait_counter


@pytest.mark.parametrize("rxd,txd,used_rx,used_tx", [
    (1024, 1024, 256, 256),  # dpdk-test's pmd_perf_autotest
    (2048, 2048, 256, 256),  # OVS-DPDK's default
    (100, 4096, 100, 256),   # fewer than the ring: used as asked
])
def test_any_descriptor_count(build, xensim, prefix, rxd, txd, used_rx, used_tx):
    """Any descriptor count is accepted; the queue uses the ring's 256 slots
    at most, and rx/tx queue info report what it uses. Traffic flows."""
    xensim.vif_add(1, 0)
    back = front = None
    try:
        back = backend(build, xensim, prefix, app=["--forward-mode=txonly"])
        front = frontend(build, xensim, prefix,
                         app=["--forward-mode=rxonly", f"--rxd={rxd}", f"--txd={txd}"])
        front.wait_link(0)
        info = front.command("show port info 0")
        assert re.search(r"Max possible number of RXDs per queue: 32768", info), info
        assert re.search(r"Max possible number of TXDs per queue: 32768", info), info
        assert f"Number of RXDs: {used_rx}" in front.command("show rxq info 0 0")
        assert f"Number of TXDs: {used_tx}" in front.command("show txq info 0 0")
        if rxd > 256:
            assert (f"net_xenfront0: rx queue 0: {rxd} descriptors asked, the netif ring has "
                    "256: using 256") in front.output
        front.command("start")
        back.command("start")
        s = wait_counter(front, 0, "ipackets", 10000)
        back.command("stop")
        front.command("stop")
        assert s["ipackets"] >= 10000, s
    finally:
        stop_all(front, back)
