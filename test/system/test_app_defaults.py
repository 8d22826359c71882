# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Applications with their own defaults (issue 20): any descriptor count,
unequal rx and tx queue counts, and a port added before its backend runs.
OVS-DPDK's side of the same is in test_ovs_dpdk.py, dpdk-test's
pmd_perf_autotest in test_pmd_perf.py."""

import re
import time

import pytest

from testpmd import TestPmd, backend, frontend, stop_all, wait_counter


@pytest.mark.parametrize("rxd,txd,used_rx,used_tx", [
    (1024, 1024, 256, 256),  # dpdk-test's pmd_perf_autotest
    (2048, 2048, 256, 256),  # OVS-DPDK's default
    (100, 4096, 100, 256),   # fewer than the ring: used as asked
])
def test_any_descriptor_count(build, xensim, prefix, rxd, txd, used_rx, used_tx):
    """Any descriptor count is accepted; the queue uses the ring's 256 slots
    at most, and rx/tx queue info report what it uses. Traffic flows."""
    xensim.vif_add(1, 0)
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
    stop_all(front, back)


def queue_xstats(pmd, port, direction, name):
    """{queue: value} of <direction>_q<N>_<name> xstats."""
    return {int(m.group(1)): v for k, v in pmd.xstats(port).items()
            if (m := re.fullmatch(rf"{direction}_q(\d+)_{name}", k))}


@pytest.mark.parametrize("rxq,txq,ctrl_ring", [(1, 2, 1), (1, 2, 0), (2, 1, 1)],
                         ids=["1rx-2tx-steered", "1rx-2tx-no-ctrl-ring", "2rx-1tx"])
def test_unequal_queue_counts(build, xensim, prefix, rxq, txq, ctrl_ring):
    """As OVS-DPDK asks by default on a vif with 2 queues (1 rx queue, one
    tx queue per PMD thread plus one): 2 netif queue pairs connect. Every
    packet the backend puts on either guest ring is received: the backend's
    hash mapping table sends it all to rx queue 0 when it has a control
    ring, else rx queue 0 also reads ring 1 (rx_q0_unpolled_packets).
    Each tx queue's packets reach the backend. Within gntalloc's default
    1024 grants."""
    xensim.vif_add(1, 0)
    qargs = ["--rxq=2", "--txq=2"]
    back = backend(build, xensim, prefix, devargs=f",max_queues=2,ctrl_ring={ctrl_ring}",
                   app=["--forward-mode=txonly", "--txonly-multi-flow"] + qargs)
    front = frontend(build, xensim, prefix,
                     app=["--forward-mode=rxonly", f"--rxq={rxq}", f"--txq={txq}"])
    front.wait_link(0)
    back.wait_link(0)
    keys = xensim.xs(0, "ls", "/local/domain/1/device/vif/0").stdout
    assert 'multi-queue-num-queues = "2"' in keys, keys
    if rxq < txq:
        if ctrl_ring:
            assert ("net_xenfront0: netif queues 1-1 have no rx queue: the backend's hash "
                    "mapping table sends every packet to rx queues 0-0 (control ring)"
                    ) in front.output, front.output[-3000:]
        else:
            assert ("net_xenfront0: netif queues 1-1 have no rx queue and "
                    "/local/domain/0/backend/vif/1/0/feature-ctrl-ring is not 1: rx "
                    "queues 0-0 also read those rings") in front.output, front.output[-3000:]
    front.command("start")
    back.command("start")
    wait_counter(front, 0, "ipackets", 20000)
    back.command("stop")
    time.sleep(1)  # what is on the rings arrives
    front.command("stop")
    on_rings = queue_xstats(back, 0, "tx", "packets")
    steered = queue_xstats(back, 0, "tx", "steered")
    fs = front.stats(0)
    unpolled = queue_xstats(front, 0, "rx", "unpolled_packets")
    got = queue_xstats(front, 0, "rx", "packets")

    # The other way: every tx queue of the guest sends.
    back.command("clear port stats 0")
    back.command("set fwd rxonly")
    front.command("set fwd txonly")
    back.command("start")
    front.command("start")
    time.sleep(2)
    front.command("stop")
    time.sleep(1)
    back.command("stop")
    sent = queue_xstats(front, 0, "tx", "packets")
    bs = back.stats(0)
    fs2 = front.stats(0)
    stop_all(front, back)
    print(f"backend put on guest rings {on_rings} (steered {steered}); guest rx queues got "
          f"{got}, unpolled {unpolled}; guest ipackets {fs['ipackets']}")
    assert sum(on_rings.values()) >= 20000, on_rings
    assert sorted(got) == list(range(rxq)), got
    if rxq > txq:
        # testpmd forwards min(rx, tx) streams: it never polls rx queue 1
        # here, so only ring 0's packets can be counted.
        assert got[0] == on_rings[0] > 1000, (got, on_rings)
    else:
        # Every packet the backend put on either ring was received.
        assert fs["ipackets"] == sum(on_rings.values()), (fs, on_rings)
    if rxq < txq:
        assert unpolled[0] == on_rings[1], (unpolled, on_rings)
        if ctrl_ring:
            # The backend's table sends its queue 1's packets to ring 0.
            assert steered[1] > 1000 and on_rings[1] == 0, (steered, on_rings)
        else:
            assert on_rings[1] > 1000, on_rings
    # testpmd forwards min(rx, tx) streams: tx queues beyond the rx count
    # send nothing here (OVS-DPDK's extra tx queue does, test_ovs_dpdk.py).
    assert sorted(sent) == list(range(txq)), sent
    assert all(sent[q] > 1000 for q in range(min(rxq, txq))), sent
    assert bs["ipackets"] == fs2["opackets"] == sum(sent.values()), (bs, fs2, sent)


def test_port_added_before_its_backend(build, xensim, prefix):
    """No backend yet: `port attach` (what OVS's add-port does) and `port
    start` return at once, the port is link down; the backend starts, the
    port connects by itself (link up, LSC) and carries traffic."""
    xensim.vif_add(1, 0)
    eal = build.eal_args(prefix + "f", build.xenfront) + ["--lcores", "0@1,1@0"]
    front = TestPmd(eal, ["--forward-mode=txonly", "--disable-link-check"], xensim.env(1),
                    "frontend testpmd")
    t0 = time.monotonic()
    out = front.command("port attach net_xenfront0,vif=0")
    attach = time.monotonic() - t0
    assert "Port 0 is attached" in out, out
    t0 = time.monotonic()
    out = front.command("port start 0")
    start = time.monotonic() - t0
    assert "Fail" not in out, out
    assert not front.link_up(0)
    print(f"port attach {attach * 1000:.0f} ms, port start {start * 1000:.0f} ms")
    # The old probe waited connect_timeout (10 s) for the backend, then failed.
    assert attach < 1 and start < 1, (attach, start)
    back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    front.wait_link(0)
    back.wait_link(0)
    front.wait_for(r"Port 0: link state change event")
    back.command("start")
    front.command("start")
    s = wait_counter(back, 0, "ipackets", 10000)
    front.command("stop")
    back.command("stop")
    assert s["ipackets"] >= 10000, s
    stop_all(front, back)
