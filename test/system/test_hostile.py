# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""A backend that breaks netif.h on purpose (net_xenback's hostile= devarg)
against net_xenfront. For each behaviour: the frontend counts what it saw in
a precise xstat, drops what must be dropped, stays up where the protocol
lets it recover and goes down cleanly (link down, one log line) where it
does not, recovers when a well-behaved backend takes over, and never
crashes or leaks: mbufs back to their start value, grants and event
channels as xensim counts them."""

import re
import time

import pytest

from conftest import check_connected_resources, check_released, hv, wait_for
from testpmd import backend, frontend, stop_all

# behaviour: (rate, frontend counter, frontend packets dropped per injection)
# The frontend stays up: each injection drops that many of the backend's
# packets, and the counts reconcile exactly.
GUEST_RX_SURVIVABLE = {
    "rx_bad_id": (50, "rx_q0_bad_id", 1),
    "rx_dup_id": (50, "rx_q0_bad_id", 1),
    "rx_oversize": (50, "rx_q0_bad_size", 1),
    "rx_bad_offset": (50, "rx_q0_bad_size", 1),
    "rx_bad_status": (50, "rx_q0_bad_status", 1),
    "rx_too_many_slots": (200, "rx_q0_too_many_slots", 20),
    "rx_extra": (50, "rx_q0_bad_extra", 2),
}
# The frontend cannot recover (an answer lost, indices past the ring): the
# queue stops, the link goes down.
FATAL = {
    "rx_prod_race": (20000, "rx_q0_ring_overrun", "rx"),
    "tx_bad_id": (20000, "tx_q0_bad_id", "tx"),
    "tx_dup_id": (20000, "tx_q0_bad_id", "tx"),
    "tx_null": (100, "tx_q0_lost_ids", "tx"),
    "tx_prod_race": (20000, "tx_q0_ring_overrun", "tx"),
}
LINK_DOWN_LINE = r"net_xenfront0: backend \S+ broke the netif protocol; link down"


# rx_copybreak=0 lends every frame's page (test_rx_copybreak.py): the same
# checks hold on that path, with 256 spare pages granted.
@pytest.mark.parametrize("copybreak", [None, 0], ids=["copy", "lend"])
@pytest.mark.parametrize("behaviour", sorted(GUEST_RX_SURVIVABLE))
def test_guest_rx_bad_responses_are_dropped(build, xensim, prefix, behaviour, copybreak):
    rate, counter, per_injection = GUEST_RX_SURVIVABLE[behaviour]
    devargs = "" if copybreak is None else f",rx_copybreak={copybreak}"
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=f",hostile={behaviour}:{rate}",
                   app=["--forward-mode=txonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=rxonly"], devargs=devargs)
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use()
    front.command("start")
    back.command("start")
    wait_for(lambda: front.xstats(0)[counter] >= 5, what=f"{counter} to count")
    back.command("stop")
    time.sleep(1)  # the ring drains
    front.command("stop")
    fx, bx = front.xstats(0), back.xstats(0)
    fs = front.stats(0)
    assert front.link_up(0), "the frontend must stay up"
    assert front.mbufs_in_use() == mbufs
    check_connected_resources(sim, 0 if copybreak is None else 256)
    stop_all(front, back)
    check_released(sim)
    if copybreak is not None:
        assert fx["rx_q0_attached"] > 0, fx
    injected = bx["tx_q0_hostile_injected"]
    print(f"hostile {behaviour}: injected {injected}, frontend {counter} {fx[counter]}, "
          f"backend sent {bx['tx_q0_packets']}, frontend received {fs['ipackets']}")
    assert injected >= 5
    assert fx[counter] == injected, (fx, injected)
    # Every packet the backend sent arrived, or was dropped for the fault.
    assert fs["ipackets"] + per_injection * fx[counter] == bx["tx_q0_packets"], (fs, fx, bx)
    assert fx["rx_q0_ring_overrun"] == 0
    assert "rx queue 0" not in front.output or "queue stopped" not in front.output


@pytest.mark.parametrize("behaviour", ["tx_bad_status"])
def test_guest_tx_bad_status_is_counted(build, xensim, prefix, behaviour):
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=f",hostile={behaviour}:100",
                   app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use()
    back.command("start")
    front.command("start")
    wait_for(lambda: front.xstats(0)["tx_q0_bad_status"] >= 100, what="bad statuses")
    front.command("stop")
    time.sleep(1)
    back.command("stop")
    fx, bx = front.xstats(0), back.xstats(0)
    fs, bs = front.stats(0), back.stats(0)
    assert front.link_up(0)
    assert front.mbufs_in_use() == mbufs
    check_connected_resources(sim)
    stop_all(front, back)
    check_released(sim)
    # The frontend takes responses back when it next transmits: those to its
    # last requests (at most a ring) may still wait.
    print(f"hostile {behaviour}: injected {bx['rx_q0_hostile_injected']}, frontend "
          f"tx_q0_bad_status {fx['tx_q0_bad_status']}, sent {fs['opackets']}, "
          f"backend received {bs['ipackets']}")
    assert 0 <= bx["rx_q0_hostile_injected"] - fx["tx_q0_bad_status"] <= 256, (fx, bx)
    # The ids came back: nothing was lost, and what was sent arrived.
    assert fx["tx_q0_lost_ids"] == 0 and fx["tx_q0_bad_id"] == 0, fx
    assert fs["opackets"] == bs["ipackets"], (fs, bs)


@pytest.mark.parametrize("behaviour", sorted(FATAL))
def test_fatal_violation_takes_the_link_down_then_recovers(build, xensim, prefix, behaviour):
    rate, counter, direction = FATAL[behaviour]
    sim = xensim
    sim.vif_add(1, 0)
    back_mode, front_mode = (("txonly", "rxonly") if direction == "rx" else
                             ("rxonly", "txonly"))
    back = backend(build, sim, prefix, devargs=f",hostile={behaviour}:{rate}",
                   app=[f"--forward-mode={back_mode}"])
    front = frontend(build, sim, prefix, app=[f"--forward-mode={front_mode}"])
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use()
    start = len(front.output)
    back.command("start")
    front.command("start")
    front.wait_for(LINK_DOWN_LINE, start=start, timeout=30)
    wait_for(lambda: not front.link_up(0), what="link down")
    fx = front.xstats(0)
    assert fx[counter] >= 1, fx
    # One line from the data path, one from the control path; no flood.
    assert len(re.findall(r"queue stopped", front.output)) == 1, front.output[-3000:]
    front.command("stop")
    back.command("stop")
    assert front.mbufs_in_use() == mbufs
    bx = back.xstats(0)
    assert bx["rx_q0_hostile_injected"] + bx["tx_q0_hostile_injected"] >= 1, bx
    print(f"hostile {behaviour}: injected "
          f"{bx['rx_q0_hostile_injected'] + bx['tx_q0_hostile_injected']}, frontend "
          f"{counter} {fx[counter]}, link down, recovered with a new backend")

    # A well-behaved backend takes over: the frontend comes back.
    back.quit()
    start = len(front.output)
    back2 = backend(build, sim, prefix + "2", app=[f"--forward-mode={back_mode}"])
    front.wait_for(r"net_xenfront0: link up", start=start, timeout=30)
    sent_key = "opackets" if direction == "rx" else "ipackets"
    base = back2.stats(0)[sent_key]
    back2.command("start")
    front.command("start")
    wait_for(lambda: back2.stats(0)[sent_key] > base + 10000, what="traffic again")
    wait_for(lambda: front.stats(0)["ipackets" if direction == "rx" else "opackets"] > 0,
             what="frontend traffic")
    front.command("stop")
    back2.command("stop")
    assert front.link_up(0)
    assert front.mbufs_in_use() == mbufs
    check_connected_resources(sim)
    stop_all(front, back2)
    check_released(sim)


def test_rings_unmapped_mid_traffic(build, xensim, prefix):
    """The backend unmaps the rings and unbinds the event channels without a
    word in xenstore: the frontend's transmit ring fills and stays full, it
    neither crashes nor leaks, and reconnects to the next backend."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=",hostile=unmap:20000",
                   app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use()
    back.command("start")
    front.command("start")
    back.wait_for(r"hostile: unmapping the rings", timeout=30)
    wait_for(lambda: hv(sim, 0).get("mappings_held", 0) == 0, what="rings unmapped")
    full = front.xstats(0)["tx_q0_ring_full"]
    wait_for(lambda: front.xstats(0)["tx_q0_ring_full"] > full + 1000, what="ring full")
    time.sleep(2)  # a while with a dead ring
    assert front.proc.poll() is None
    front.command("stop")
    assert front.mbufs_in_use() == mbufs
    back.quit()
    start = len(front.output)
    back2 = backend(build, sim, prefix + "2", app=["--forward-mode=rxonly"])
    front.wait_for(r"net_xenfront0: link up", start=start, timeout=30)
    back2.command("start")
    front.command("start")
    wait_for(lambda: back2.stats(0)["ipackets"] > 10000, what="traffic again")
    front.command("stop")
    back2.command("stop")
    assert front.mbufs_in_use() == mbufs
    check_connected_resources(sim)
    stop_all(front, back2)
    check_released(sim)


def test_backend_state_flapping(build, xensim, prefix):
    """The backend's state node takes random values (valid, out of range,
    garbage) for a second: the frontend follows, reconnects once it settles,
    and holds exactly one connection's grants and ports."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=",hostile=flap:20",
                   app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use()
    back.command("start")
    front.command("start")
    back.wait_for(r"hostile: done flapping", timeout=60)
    front.wait_for(r"backend \S+ went", timeout=30)
    wait_for(lambda: front.link_up(0) and back.link_up(0), timeout=60,
             what="connected again")
    base = back.stats(0)["ipackets"]
    wait_for(lambda: back.stats(0)["ipackets"] > base + 10000, what="traffic again")
    front.command("stop")
    back.command("stop")
    assert front.mbufs_in_use() == mbufs
    check_connected_resources(sim)
    stop_all(front, back)
    check_released(sim)
