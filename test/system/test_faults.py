# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Faults around the rings: processes killed (backend again and again, the
frontend itself), the frontend's mempool exhausted, the transmit ring full
for a long time, frames larger than the MTU, and mbuf chains longer than
netif's 18 slots. After each: no crash, no leak (mbufs back to their start
value; grants, mappings and event channels as xensim counts them), and
traffic resumes."""

import os
import time

import pytest

from conftest import check_connected_resources, check_released, hv, wait_for
from testpmd import backend, frontend, stop_all

# The sanitizer run (devtools/run.sh test) takes fewer rounds: the same
# paths, in its share of CI's time.
KILLS = int(os.environ.get("XENFRONT_KILLS", "15"))


def test_backend_killed_repeatedly(build, xensim, prefix):
    sim = xensim
    sim.vif_add(1, 0)
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
    stop_all(front, back)
    check_released(sim)


def test_frontend_killed_and_replaced(build, xensim, prefix):
    """A guest application dies without a word; a new one takes the same vif
    over (Closing, Closed, Initialising) and traffic resumes."""
    sim = xensim
    sim.vif_add(1, 0)
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
    stop_all(front2, back)
    check_released(sim)


def test_rx_mempool_exhausted(build, xensim, prefix):
    """9000-byte frames copied into chains of 128-byte mbufs (71 each) from
    a pool of 1025, received in bursts of 512: a burst of more than 14
    frames runs the pool dry. The frontend counts rx_nombuf, keeps the rest
    on the ring for the next burst, and loses nothing."""
    sim = xensim
    sim.vif_add(1, 0, mtu=9000)
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
    stop_all(front, back)
    check_released(sim)
    print(f"tx ring full: ring_full {fx['tx_q0_ring_full']}, frontend sent {fs['opackets']}, "
          f"backend received {bs['ipackets']}")
    # Nothing acknowledged was lost: all the frontend queued arrived.
    assert fs["opackets"] == bs["ipackets"], (fs, bs)
    assert fx["tx_q0_bad_responses"] == 0 and fx["tx_q0_lost_ids"] == 0, fx


@pytest.mark.parametrize("copybreak", [None, 0], ids=["copy", "lend"])
def test_frames_larger_than_the_mtu(build, xensim, prefix, copybreak):
    """1600-byte frames at MTU 1500 both ways: the frontend drops those it
    receives (rx oversize) and refuses to send its own (tx dropped), exactly;
    with rx_copybreak too (the size is checked before a page is lent)."""
    devargs = "" if copybreak is None else f",rx_copybreak={copybreak}"
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=txonly", "--txpkts=1600",
                                            "--max-pkt-len=1618"])
    front = frontend(build, sim, prefix, app=["--forward-mode=rxonly", "--txpkts=1600"],
                     devargs=devargs)
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
    stop_all(front, back)
    check_released(sim)
    print(f"long chains: sent {fs['opackets']} ({fs['obytes']} bytes), received "
          f"{bs['ipackets']} ({bs['ibytes']} bytes)")
    assert fs["opackets"] == bs["ipackets"] and fs["obytes"] == bs["ibytes"], (fs, bs)
    assert fx["tx_q0_dropped"] == 0 and bx["rx_q0_errors"] == 0, (fx, bx)


# ---- the store daemon restarted (xensim restart-store) ----

def store_view(sim) -> dict:
    return sim.status()["store"]


def store_watches(sim) -> dict:
    """Watches each domain holds, as the store counts them."""
    return {d["domid"]: d["watches"] for d in store_view(sim)["domains"]}


def store_traffic_setup(build, sim, prefix):
    """Guest transmits, dom0 receives, both ports connected and counting."""
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    return back, front


def store_traffic_end(sim, front, back, mbufs):
    """Stops the traffic and checks that nothing was lost or leaked; returns
    the frames sent and received."""
    front.command("stop")
    time.sleep(1)  # the ring drains
    back.command("stop")
    fs, bs = front.stats(0), back.stats(0)
    assert front.mbufs_in_use() == mbufs
    assert front.link_up(0) and back.link_up(0)
    check_connected_resources(sim)
    fx = front.xstats(0)
    assert fx["tx_q0_bad_responses"] == 0 and fx["tx_q0_lost_ids"] == 0, fx
    # The rings never depended on the store: every frame sent arrived.
    assert fs["opackets"] == bs["ipackets"], (fs, bs)
    return fs["opackets"], bs["ipackets"]


def test_store_live_update(build, xensim, prefix):
    """xensim restart-store: the store daemon re-executes itself keeping
    the tree, its connections and their watches. Neither driver notices:
    no reconnection, no link change, traffic uninterrupted, and a watch
    registered before the update fires after it."""
    sim = xensim
    sim.vif_add(1, 0)
    back, front = store_traffic_setup(build, sim, prefix)
    mbufs = front.mbufs_in_use()
    watches = store_watches(sim)
    assert watches[0] >= 1 and watches[1] >= 1, watches  # both drivers watch
    with sim.client(0) as xs:
        xs.watch("/local/domain/1/device/vif/0/probe", "lu-token")
        assert xs.events() == [("/local/domain/1/device/vif/0/probe", "lu-token")]
        before = store_view(sim)
        back.command("start")
        front.command("start")
        wait_for(lambda: back.stats(0)["ipackets"] > 20000, what="traffic before")
        received_before = back.stats(0)["ipackets"]
        fstart, bstart = len(front.output), len(back.output)

        out = sim.run("restart-store").stdout
        assert "live-updated" in out, out
        received_during = back.stats(0)["ipackets"]
        after = store_view(sim)
        assert after["pid"] == before["pid"] and after["live_updates"] == 1, after
        assert after["nodes"] == before["nodes"], (before, after)
        assert after["connections"] == before["connections"], (before, after)
        assert store_watches(sim) == {**watches, 0: watches[0] + 1}

        # A watch registered before the update fires after it.
        sim.xs(0, "write", "/local/domain/1/device/vif/0/probe", "x")
        assert xs.wait_watch(10) == ("/local/domain/1/device/vif/0/probe", "lu-token")

    wait_for(lambda: back.stats(0)["ipackets"] > received_during + 20000,
             what="traffic after the live update")
    # The drivers kept their connections: nothing to recover from.
    for pmd in (front, back):
        tail = pmd.output[fstart if pmd is front else bstart:]
        assert "lost the connection to xenstore" not in tail, tail
        assert "link down" not in tail, tail
        assert pmd.xstats(0)["store_reconnects"] == 0
    sent, received = store_traffic_end(sim, front, back, mbufs)
    stop_all(front, back)
    check_released(sim)
    print(f"store live update: received {received_before} before, {received_during} by its "
          f"end, frontend sent {sent}, backend received {received}, lost {sent - received}")


def test_store_killed_and_restored(build, xensim, prefix):
    """The store daemon SIGKILLed mid-traffic and, two seconds later,
    started again from its snapshot (xensim restart-store --kill): every
    connection broke. Traffic flows on without the store, both drivers
    reopen it with backoff, watch again, count it, and lose nothing."""
    import os
    import signal

    sim = xensim
    sim.vif_add(1, 0)
    back, front = store_traffic_setup(build, sim, prefix)
    mbufs = front.mbufs_in_use()
    before = store_view(sim)
    watches = store_watches(sim)
    back.command("start")
    front.command("start")
    wait_for(lambda: back.stats(0)["ipackets"] > 20000, what="traffic before")
    received_before = back.stats(0)["ipackets"]
    fstart, bstart = len(front.output), len(back.output)

    os.kill(before["pid"], signal.SIGKILL)
    front.wait_for(r"net_xenfront0: lost the connection to xenstore", start=fstart)
    back.wait_for(r"net_xenback0: lost the connection to xenstore", start=bstart)
    # No store at all: the rings and event channels carry on.
    base = back.stats(0)["ipackets"]
    wait_for(lambda: back.stats(0)["ipackets"] > base + 20000,
             what="traffic while the store is down")
    time.sleep(2)
    received_during = back.stats(0)["ipackets"]
    assert front.link_up(0) and back.link_up(0)

    out = sim.run("restart-store", "--kill").stdout
    assert "restarted from" in out, out
    after = store_view(sim)
    assert after["pid"] != before["pid"] and after["restored"], after
    front.wait_for(r"net_xenfront0: xenstore reopened after \d+ attempt", start=fstart)
    back.wait_for(r"net_xenback0: xenstore reopened after \d+ attempt", start=bstart)
    # Both drivers watch again, on their new connections.
    wait_for(lambda: store_watches(sim) == watches, what="watches registered again")
    assert store_view(sim)["nodes"] == before["nodes"]
    wait_for(lambda: back.stats(0)["ipackets"] > received_during + 20000,
             what="traffic after the store came back")
    assert front.xstats(0)["store_reconnects"] == 1
    assert back.xstats(0)["store_reconnects"] == 1
    for pmd, start in ((front, fstart), (back, bstart)):
        assert "link down" not in pmd.output[start:], pmd.output[start:]

    # The frontend's new watch works: the backend's carrier follows.
    back_dir = "/local/domain/0/backend/vif/1/0"
    start = len(front.output)
    sim.xs(0, "write", f"{back_dir}/carrier", "0")
    front.wait_for(r"net_xenfront0: link down", start=start)
    sim.xs(0, "write", f"{back_dir}/carrier", "1")
    front.wait_for(r"net_xenfront0: link up", start=start)
    sim.xs(0, "rm", f"{back_dir}/carrier")
    sent, received = store_traffic_end(sim, front, back, mbufs)
    stop_all(front, back)
    check_released(sim)
    print(f"store killed and restored: received {received_before} before, "
          f"{received_during} by the restart, frontend sent {sent}, backend received "
          f"{received}, lost {sent - received}")
