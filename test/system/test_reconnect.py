# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The backend process dies mid-traffic and a new one starts: the frontend
reports the link down, reconnects on its own, traffic resumes, and nothing
leaks: grants, mappings and event channels as xensim counts them, mbufs as
testpmd's pools count them."""

import re
import time

from conftest import GRANTS_PER_QUEUE_PAIR, check_released, hv, wait_for
from testpmd import backend, frontend, stop_all

def test_backend_killed_and_restarted(build, xensim, prefix):
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    wait_for(lambda: back.stats(0)["ipackets"] > 10000, what="traffic before the kill")
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR
    assert hv(sim, 0)["mappings_held"] == 2

    back.kill()  # SIGKILL: no chance to say goodbye in xenstore
    # xensim releases what the dead process held, as Xen would.
    wait_for(lambda: hv(sim, 0).get("mappings_held", 0) == 0, what="backend mappings gone")

    start = len(front.output)
    back2 = backend(build, sim, prefix + "2", app=["--forward-mode=rxonly"])
    back2.command("start")
    front.wait_for(r"net_xenfront0: link down", start=start, timeout=30)
    front.wait_for(r"net_xenfront0: link up", start=start, timeout=30)
    wait_for(lambda: back2.stats(0)["ipackets"] > 10000, what="traffic after reconnecting")

    # Same grants as before (no new ones, none lost), the new backend's
    # two ring mappings, and the frontend's two event channels.
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR
    assert hv(sim, 0)["mappings_held"] == 2
    assert hv(sim, 1)["evtchn_ports"] == 2

    front.command("stop")
    back2.command("stop")
    # The frontend holds no mbuf between bursts: after stopping, only
    # what testpmd's own txonly cache holds is out of the pool.
    in_use = front.mbufs_in_use()
    fx = front.xstats(0)
    assert fx["tx_q0_bad_responses"] == 0 and fx["rx_q0_bad_responses"] == 0, fx
    assert in_use <= 512, in_use
    stop_all(front, back2)
    back.kill()
    # Everything released once both are gone.
    check_released(sim)
    for domid in (0, 1):
        d = hv(sim, domid)
        assert d.get("frames_allocated", 0) == 0 or d.get("grants_revoked_mapped", 0) == 0, d


def test_backend_killed_before_answering_our_connected(build, xensim, prefix):
    """The frontend wrote Connected; the backend (its port not started, so
    it does not answer yet) is killed and a new one starts. The new one
    takes the frontend's Connected for a stale one, and the store still
    says InitWait: the frontend learns of the new backend from its state
    written again, connects anew, and traffic flows."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly",
                                            "--disable-device-start"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    store = sim.client(0)
    wait_for(lambda: store.read("/local/domain/1/device/vif/0/state") == b"4",
             what="the frontend's Connected")
    time.sleep(1)
    assert store.read("/local/domain/0/backend/vif/1/0/state") == b"2"
    assert not front.link_up(0)

    back.kill()
    start = len(front.output)
    back2 = backend(build, sim, prefix + "2", app=["--forward-mode=rxonly"])
    front.wait_for(r"a new backend; connecting again", start=start, timeout=30)
    front.wait_link(0, timeout=30)
    back2.wait_link(0)
    back2.command("start")
    front.command("start")
    wait_for(lambda: back2.stats(0)["ipackets"] > 10000, what="traffic with the new backend")
    front.command("stop")
    back2.command("stop")
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR
    assert hv(sim, 0)["mappings_held"] == 2
    store.close()
    stop_all(front, back2)
    back.kill()
    check_released(sim)


def test_stop_start_and_close_probe_in_one_process(build, xensim, prefix):
    """port stop/start and detach/attach in the same frontend process
    reconnect each time, with the same grant count."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.command("start")
    for _ in range(3):
        front.command("port stop 0")
        assert not front.link_up(0)
        out = front.command("port start 0", timeout=60)
        assert "Fail" not in out, out
        front.wait_link(0)
        assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR
    before = back.stats(0)["ipackets"]
    front.command("start")
    wait_for(lambda: back.stats(0)["ipackets"] > before + 10000, what="traffic")
    front.command("stop")
    # Close and probe again (testpmd's detach/attach of a vdev).
    front.command("port stop 0")
    front.command("port close 0")
    assert hv(sim, 1).get("grants_shared", 0) == 0, hv(sim, 1)
    out = front.command("device detach net_xenfront0")
    assert "is detached" in out, out
    out = front.command("port attach net_xenfront0,vif=0", timeout=60)
    assert re.search(r"Port \d+ is attached", out), out
    out = front.command("port start all", timeout=60)
    assert "Fail" not in out, out
    front.wait_link(0)
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR
    stop_all(front, back)
