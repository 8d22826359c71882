# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Faults around the rings: processes killed (backend again and again, the
frontend itself), the frontend's mempool exhausted, the transmit ring full
for a long time, frames larger than the MTU, and mbuf chains longer than
netif's 18 slots. After each: no crash, no leak (mbufs back to their start
value; grants, mappings and event channels as xensim counts them), and
traffic resumes."""

import time

from test_hostile import check_connected_resources, check_released
from test_reconnect import hv, wait_for
from test_traffic import backend, frontend, stop_all

KILLS = 15


def test_backend_killed_repeatedly(build, xensim, prefix):
    sim = xensim
    sim.vif_add(1, 0)
    front = back = None
    try:
        back = backend(build, sim, f"{prefix}first", app=["--forward-mode=rxonly"])
        front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
        mbufs = front.mbufs_in_use()
        back.kill()
        back = None
        for i in range(KILLS):
            start = len(front.output)
            back = backend(build, sim, f"{prefix}k{i}", app=["--forward-mode=rxonly"])
            back.command("start")
            if i == 0:
                front.command("start")
            else:
                front.wait_for(r"net_xenfront0: link up", start=start, timeout=30)
            wait_for(lambda: back.stats(0)["ipackets"] > 20000, what=f"traffic, round {i}")
            check_connected_resources(sim)
            back.kill()
            back = None
            wait_for(lambda: hv(sim, 0).get("mappings_held", 0) == 0, what="mappings gone")
        assert front.proc.poll() is None
        front.command("stop")
        assert front.mbufs_in_use() == mbufs
        fx = front.xstats(0)
        assert fx["tx_q0_bad_responses"] == 0 and fx["rx_q0_bad_responses"] == 0, fx
        # Reconnected exactly once per kill.
        assert front.output.count("reconnecting when it returns") >= KILLS, front.output[-3000:]
        back = backend(build, sim, f"{prefix}last", app=["--forward-mode=rxonly"])
        front.wait_link(0)
        check_connected_resources(sim)
    finally:
        stop_all(front, back)
    check_released(sim)


def test_frontend_killed_and_replaced(build, xensim, prefix):
    """A guest application dies without a word; a new one takes the same vif
    over (Closing, Closed, Initialising) and traffic resumes."""
    sim = xensim
    sim.vif_add(1, 0)
    back = front = front2 = None
    try:
        back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
        back.command("start")
        for i in range(3):
            f = frontend(build, sim, f"{prefix}f{i}", app=["--forward-mode=txonly"])
            f.wait_link(0)
            base = back.stats(0)["ipackets"]
            f.command("start")
            wait_for(lambda: back.stats(0)["ipackets"] > base + 20000, what=f"traffic {i}")
            check_connected_resources(sim)
            f.kill()
            # xensim revokes what the dead process granted, as Xen would.
            wait_for(lambda: hv(sim, 1).get("grants_shared", 0) == 0, what="grants gone")
        front2 = frontend(build, sim, f"{prefix}last", app=["--forward-mode=txonly"])
        front2.wait_link(0)
        back.wait_link(0)
        base = back.stats(0)["ipackets"]
        front2.command("start")
        wait_for(lambda: back.stats(0)["ipackets"] > base + 20000, what="traffic, last")
        front2.command("stop")
        check_connected_resources(sim)
        bx = back.xstats(0)
        assert bx["rx_q0_fatal_errors"] == 0, bx
    finally:
        stop_all(front2, back)
    check_released(sim)


def test_rx_mempool_exhausted(build, xensim, prefix):
    """9000-byte frames copied into chains of 128-byte mbufs (71 each) from
    a pool of 1025, received in bursts of 512: a burst of more than 14
    frames runs the pool dry. The frontend counts rx_nombuf, keeps the rest
    on the ring for the next burst, and loses nothing."""
    sim = xensim
    sim.vif_add(1, 0, mtu=9000)
    back = front = None
    try:
        back = backend(build, sim, prefix, app=["--forward-mode=txonly", "--mbuf-size=9200",
                                                "--total-num-mbufs=8192", "--max-pkt-len=9018",
                                                "--txpkts=9000"])
        front = frontend(build, sim, prefix, app=["--forward-mode=rxonly", "--max-pkt-len=9018",
                                                  "--total-num-mbufs=1025", "--burst=512",
                                                  "--mbuf-size=256",
                                                  "--enable-scatter"])
        front.wait_link(0)
        back.wait_link(0)
        mbufs = front.mbufs_in_use()
        front.command("start")
        back.command("start")
        wait_for(lambda: front.stats(0)["rx_nombuf"] > 100, what="allocation failures")
        back.command("stop")
        time.sleep(1)
        front.command("stop")
        fs, bs = front.stats(0), back.stats(0)
        fx = front.xstats(0)
        assert front.mbufs_in_use() == mbufs
        assert front.link_up(0)
    finally:
        stop_all(front, back)
    check_released(sim)
    print(f"mempool exhausted: rx_nombuf {fs['rx_nombuf']}, backend sent {bs['opackets']}, "
          f"frontend received {fs['ipackets']}")
    assert fs["ipackets"] == bs["opackets"] and fs["ipackets"] > 1000, (fs, bs)
    assert fx["rx_q0_bad_responses"] == 0 and fx["rx_q0_errors"] == 0, fx


def test_tx_ring_full_for_a_long_time(build, xensim, prefix):
    """The backend stops serving (port stopped, still connected) for ten
    seconds while the frontend keeps transmitting."""
    sim = xensim
    sim.vif_add(1, 0)
    back = front = None
    try:
        back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
        front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
        front.wait_link(0)
        back.wait_link(0)
        mbufs = front.mbufs_in_use()
        back.command("start")
        front.command("start")
        wait_for(lambda: back.stats(0)["ipackets"] > 10000, what="traffic")
        back.command("stop")
        back.command("port stop 0")
        full = front.xstats(0)["tx_q0_ring_full"]
        time.sleep(10)
        assert front.xstats(0)["tx_q0_ring_full"] > full + 1000
        assert front.proc.poll() is None and front.link_up(0)
        out = back.command("port start 0", timeout=60)
        assert "Fail" not in out, out
        before = back.stats(0)["ipackets"]
        back.command("start")
        wait_for(lambda: back.stats(0)["ipackets"] > before + 10000, what="traffic again")
        front.command("stop")
        time.sleep(1)
        back.command("stop")
        fs, bs = front.stats(0), back.stats(0)
        fx = front.xstats(0)
        assert front.mbufs_in_use() == mbufs
        check_connected_resources(sim)
    finally:
        stop_all(front, back)
    check_released(sim)
    print(f"tx ring full: ring_full {fx['tx_q0_ring_full']}, frontend sent {fs['opackets']}, "
          f"backend received {bs['ipackets']}")
    # Nothing acknowledged was lost: all the frontend queued arrived.
    assert fs["opackets"] == bs["ipackets"], (fs, bs)
    assert fx["tx_q0_bad_responses"] == 0 and fx["tx_q0_lost_ids"] == 0, fx


def test_frames_larger_than_the_mtu(build, xensim, prefix):
    """1600-byte frames at MTU 1500 both ways: the frontend drops those it
    receives (rx oversize) and refuses to send its own (tx dropped), exactly."""
    sim = xensim
    sim.vif_add(1, 0)
    back = front = None
    try:
        back = backend(build, sim, prefix, app=["--forward-mode=txonly", "--txpkts=1600",
                                                "--max-pkt-len=1618"])
        front = frontend(build, sim, prefix, app=["--forward-mode=rxonly", "--txpkts=1600"])
        front.wait_link(0)
        back.wait_link(0)
        mbufs = front.mbufs_in_use()
        front.command("start")
        back.command("start")
        wait_for(lambda: front.xstats(0)["rx_q0_oversize"] > 1000, what="oversize rx")
        back.command("stop")
        time.sleep(1)
        front.command("stop")
        front.command("set fwd txonly")
        back.command("set fwd rxonly")
        back.command("start")
        front.command("start")
        wait_for(lambda: front.xstats(0)["tx_q0_dropped"] > 1000, what="oversize tx")
        front.command("stop")
        back.command("stop")
        fx, bx = front.xstats(0), back.xstats(0)
        fs, bs = front.stats(0), back.stats(0)
        assert front.mbufs_in_use() == mbufs
        assert front.link_up(0)
    finally:
        stop_all(front, back)
    check_released(sim)
    print(f"over the MTU: rx oversize {fx['rx_q0_oversize']} of {bx['tx_q0_packets']} sent, "
          f"tx dropped {fx['tx_q0_dropped']}")
    assert fx["rx_q0_oversize"] == bx["tx_q0_packets"] and fs["ipackets"] == 0, (fx, bx)
    assert fx["tx_q0_packets"] == 0 and bs["ipackets"] == 0, (fx, bs)


def test_mbuf_chains_longer_than_netif_slots(build, xensim, prefix):
    """Chains of 20 and 40 mbuf segments (more than netif's 18 slots) are
    copied into as many pages as the bytes need, and arrive whole."""
    sim = xensim
    sim.vif_add(1, 0, mtu=9000)
    back = front = None
    try:
        back = backend(build, sim, prefix, app=["--forward-mode=rxonly", "--max-pkt-len=9018",
                                                "--enable-scatter"])
        front = frontend(build, sim, prefix, app=[
            "--forward-mode=txonly", "--max-pkt-len=9018", "--enable-scatter",
            "--tx-offloads=0x8000",
            "--txpkts=" + ",".join(["64"] * 20)])
        front.wait_link(0)
        back.wait_link(0)
        mbufs = front.mbufs_in_use()
        back.command("start")
        front.command("start")
        wait_for(lambda: back.stats(0)["ipackets"] > 10000, what="20-segment chains")
        front.command("stop")
        front.command("set txpkts " + ",".join(["200"] * 40))
        front.command("start")
        base = back.stats(0)["ibytes"]
        wait_for(lambda: back.stats(0)["ibytes"] > base + 8000 * 1000, what="40-segment chains")
        front.command("stop")
        time.sleep(1)
        back.command("stop")
        fs, bs = front.stats(0), back.stats(0)
        fx, bx = front.xstats(0), back.xstats(0)
        assert front.mbufs_in_use() == mbufs
    finally:
        stop_all(front, back)
    check_released(sim)
    print(f"long chains: sent {fs['opackets']} ({fs['obytes']} bytes), received "
          f"{bs['ipackets']} ({bs['ibytes']} bytes)")
    assert fs["opackets"] == bs["ipackets"] and fs["obytes"] == bs["ibytes"], (fs, bs)
    assert fx["tx_q0_dropped"] == 0 and bx["rx_q0_errors"] == 0, (fx, bx)
