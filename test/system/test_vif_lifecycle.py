# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""net_xenback in an always-running application beside a toolstack, as
OVS-DPDK in dom0 beside xl: the port is added before the vif exists and
takes it when the toolstack creates it (as Linux probes netback when the
device node appears); the toolstack removes the vif (xl network-detach, xl
destroy, the guest's death) and the port lets go of everything and waits
again; with domain=<name> it follows the guest by name across restarts,
each with a new domain id."""

import re
import time

from conftest import hv, wait_for
from testpmd import TestPmd, stop_all

BACK = "/local/domain/0/backend/vif"


def guest(build, sim, prefix, domid, app):
    """net_xenfront in a process of domain `domid` (its vif 0)."""
    eal = build.eal_args(prefix, build.xenfront) + ["--lcores", "0@1,1@0", "--vdev",
                                                    "net_xenfront0,vif=0"]
    return TestPmd(eal, list(app), sim.env(domid), f"frontend testpmd (domain {domid})")


def back_port(build, sim, prefix, devargs):
    """The backend testpmd, its one port given in full: net_xenback0,<devargs>."""
    eal = build.eal_args(prefix + "b", build.xenback) + ["-l", "0,1", "--vdev",
                                                          "net_xenback0," + devargs]
    return TestPmd(eal, ["--forward-mode=io"], sim.env(0), "backend testpmd")


def traffic_both_ways(back, front, seconds=2):
    """The guest sends (flowgen, which also drains what it receives), the
    backend echoes (io on its one port): both directions counted, and each
    carried more than 1000 packets."""
    b0, f0 = back.stats(0), front.stats(0)
    back.command("start")
    front.command("start")
    time.sleep(seconds)
    front.command("stop")
    time.sleep(0.5)
    back.command("stop")
    b, f = back.stats(0), front.stats(0)
    b, f = ({k: b[k] - b0[k] for k in ("ipackets", "opackets")},
            {k: f[k] - f0[k] for k in ("ipackets", "opackets")})
    assert f["opackets"] > 1000 and b["ipackets"] > 1000, (b, f)
    assert b["opackets"] > 1000 and f["ipackets"] > 1000, (b, f)
    return b, f


def backend_released(sim, guest_domid):
    """Nothing of the guest is held by domain 0: no mapping, no bound event
    channel, no grant of the guest's still mapped."""
    d0 = hv(sim, 0)
    return (d0.get("mappings_held", 0) == 0 and d0.get("evtchn_ports", 0) == 0 and
            hv(sim, guest_domid).get("grants_mapped_by_others", 0) == 0)


def test_port_added_before_the_vif(build, xensim, prefix):
    """Probe, configure and start with no vif: a link-down port that says
    what it waits for; the toolstack's vif-add makes it serve."""
    sim = xensim
    back = back_port(build, sim, prefix, "domid=1,vif=0")
    back.wait_for(re.escape(f"net_xenback0: waiting for {BACK}/1/0 to appear "
                            "(xl network-attach, or xensim vif-add); link down until then"))
    assert not back.link_up(0)
    # Nothing written before the toolstack made the vif.
    assert sim.xs(0, "ls", BACK, check=False).returncode != 0
    mark = len(back.output)
    sim.vif_add(1, 0)
    back.wait_for(re.escape(f"net_xenback0: serving {BACK}/1/0 for "
                            "/local/domain/1/device/vif/0"), start=mark)
    assert sim.xs(0, "read", f"{BACK}/1/0/state").stdout.strip() == "2"  # InitWait
    front = guest(build, sim, prefix + "f", 1, ["--forward-mode=flowgen"])
    front.wait_link(0)
    back.wait_link(0)
    traffic_both_ways(back, front)
    x = back.xstats(0)
    assert x["vif_found"] == 1 and x["vif_removed"] == 0, x
    stop_all(front, back)


def test_vif_removed_under_traffic_then_added_again(build, xensim, prefix):
    """xensim vif-del (the frontend, libxl and backend directories at once,
    as libxl__device_destroy) while packets flow: link down, the guest's
    rings unmapped and event channels unbound, the port runs on; the vif
    added again is served again, by the same port."""
    sim = xensim
    sim.vif_add(1, 0)
    back = back_port(build, sim, prefix, "domid=1,vif=0")
    front = guest(build, sim, prefix + "f", 1, ["--forward-mode=flowgen"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    wait_for(lambda: back.stats(0)["ipackets"] > 10000 and back.stats(0)["opackets"] > 10000,
             what="traffic both ways")
    assert hv(sim, 0)["mappings_held"] == 2 and hv(sim, 0)["evtchn_ports"] == 2, hv(sim, 0)

    mark = len(back.output)
    sim.vif_del(1, 0)
    back.wait_for(re.escape(f"net_xenback0: {BACK}/1/0 removed (the vif detached, or its "
                            "guest destroyed): link down, rings unmapped, event channels "
                            "unbound"), start=mark)
    back.wait_for(re.escape(f"net_xenback0: waiting for {BACK}/1/0 to appear"), start=mark)
    wait_for(lambda: backend_released(sim, 1), what="the backend's mappings and ports gone")
    # Nothing written back under the removed directory.
    gone = sim.xs(0, "ls", f"{BACK}/1/0", check=False)
    assert gone.returncode != 0, gone.stdout
    # The port runs on, link down; its forwarding still works.
    assert not back.link_up(0)
    before = back.stats(0)
    time.sleep(1)
    assert back.stats(0)["ipackets"] == before["ipackets"]
    back.command("stop")
    x = back.xstats(0)
    assert x["vif_found"] == 1 and x["vif_removed"] == 1, x
    front.command("stop")
    stop_all(front)  # the guest's application goes with its vif
    front = None

    # The same devid again (a later xl network-attach).
    mark = len(back.output)
    sim.vif_add(1, 0)
    back.wait_for(re.escape(f"net_xenback0: serving {BACK}/1/0 for "
                            "/local/domain/1/device/vif/0"), start=mark)
    front2 = guest(build, sim, prefix + "g", 1, ["--forward-mode=flowgen"])
    front2.wait_link(0)
    back.wait_link(0)
    traffic_both_ways(back, front2)
    assert hv(sim, 0)["mappings_held"] == 2 and hv(sim, 0)["evtchn_ports"] == 2, hv(sim, 0)
    x = back.xstats(0)
    assert x["vif_found"] == 2 and x["vif_removed"] == 1, x
    assert x["rx_q0_fatal_errors"] == 0 and x["tx_q0_fatal_errors"] == 0, x
    stop_all(front, front2, back)
    for domid in (0, 1):
        d = hv(sim, domid)
        assert d.get("mappings_held", 0) == 0 and d.get("evtchn_ports", 0) == 0, d


def test_domain_name_followed_across_a_restart(build, xensim, prefix):
    """domain=<name>: the port serves the domain of that name, not another
    guest's vif; the guest destroyed (xensim destroy, as xl destroy) and
    created again with a new domain id and the same name is served by the
    same port."""
    sim = xensim
    sim.vif_add(3, 0)  # another guest (xensim-dom3): never taken
    back = back_port(build, sim, prefix, "domain=web,vif=0")
    back.wait_for(re.escape("net_xenback0: waiting for a domain named 'web' (its "
                            "/local/domain/<domid>/name) to get vif 0 under "
                            f"{BACK} (xl create or xl network-attach, or xensim vif-add "
                            "--name); link down until then"))
    mark = len(back.output)
    sim.run("vif-add", "--domid", 1, "--vif", 0, "--name", "web")
    assert sim.xs(0, "read", "/local/domain/1/name").stdout.strip() == "web"
    back.wait_for(re.escape(f"net_xenback0: serving {BACK}/1/0 for "
                            "/local/domain/1/device/vif/0 (domain 'web' is domain 1)"),
                  start=mark)
    assert "serving" not in back.output[:mark]
    front = guest(build, sim, prefix + "f", 1, ["--forward-mode=flowgen"])
    front.wait_link(0)
    back.wait_link(0)
    traffic_both_ways(back, front)

    # The guest dies and the toolstack destroys it.
    stop_all(front)
    front = None
    mark = len(back.output)
    sim.run("destroy", "--domid", 1)
    back.wait_for(re.escape(f"net_xenback0: {BACK}/1/0 removed"), start=mark)
    wait_for(lambda: backend_released(sim, 1), what="the backend's mappings and ports gone")
    assert sim.xs(0, "ls", "/local/domain/1", check=False).returncode != 0
    # A name names one live domain: taken again only once free.
    sim.vif_add(3, 1)
    r = sim.run("vif-add", "--domid", 4, "--vif", 0, "--name", "xensim-dom3", check=False)
    assert r.returncode == 1 and ("a domain named 'xensim-dom3' already exists (domain 3)"
                                  in r.stderr), r.stderr

    # Created again: a new domain id, the same name.
    mark = len(back.output)
    sim.run("vif-add", "--domid", 2, "--vif", 0, "--name", "web")
    back.wait_for(re.escape(f"net_xenback0: serving {BACK}/2/0 for "
                            "/local/domain/2/device/vif/0 (domain 'web' is domain 2)"),
                  start=mark)
    front2 = guest(build, sim, prefix + "g", 2, ["--forward-mode=flowgen"])
    front2.wait_link(0)
    back.wait_link(0)
    traffic_both_ways(back, front2)
    x = back.xstats(0)
    assert x["vif_found"] == 2 and x["vif_removed"] == 1, x
    # Domain 3's vifs were left to their own backend.
    assert sim.xs(0, "read", f"{BACK}/3/0/state").stdout.strip() == "1"
    stop_all(front, front2, back)
