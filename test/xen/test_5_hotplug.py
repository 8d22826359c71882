# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 5: hot-unplug under traffic. While net_xenfront receives from dom0
and sends back (testpmd macswap), dom0's toolstack detaches vif 0
(`xl network-detach`): the application sees the link go down, keeps
answering, and releases everything when it quits. After
`xl network-attach` of a new vif 0, it is taken from Linux netfront again
and a new probe carries traffic."""

import re
import time

from guest import GUEST_MAC, VIF_TIMEOUT, gntalloc_free, gntalloc_limit, wait_until


def test_detach_under_traffic_then_attach(guest):
    d = guest.domid
    vif = guest.vif(0)
    limit = gntalloc_limit(guest)
    front = guest.start_front(["--forward-mode=macswap"])
    guest.wait_link(front)
    front.command("start")
    sender = guest.testpmd(guest.dom0, "afp", [f"net_af_packet0,iface={vif}"],
                           ["--forward-mode=txonly", f"--eth-peer=0,{GUEST_MAC}"], drivers=())
    sender.wait_link(0, timeout=60)
    sender.command("start")
    wait_until("traffic both ways through the guest",
               lambda: guest.link_stats(guest.dom0, vif)["rx_packets"] > 10000, timeout=120)
    mark = len(front.output)
    t0 = time.monotonic()
    detach = guest.dom0.run(f"xl network-detach {d} 0", timeout=300, check=False)
    detach_s = time.monotonic() - t0
    sender.quit()
    guest.procs.remove(sender)
    gone = guest.dom0.run(f"xenstore-ls /local/domain/0/backend/vif/{d}/0 2>&1; "
                          f"xenstore-ls /local/domain/{d}/device/vif/0 2>&1", check=False).output
    # The application: told (link down), still answering, quits cleanly.
    front.wait_for(r"Port 0: link state change event", timeout=60, start=mark)
    info = front.command("show port info 0")
    front.command("stop")
    stats = front.stats(0)
    out = front.quit(timeout=120)
    guest.procs.remove(front)
    guest.taken.discard(0)  # vif 0 is gone; nothing to give back
    free = gntalloc_free(guest)
    print(f"COUNTS hot-unplug: xl network-detach rc {detach.returncode} in {detach_s:.1f} s "
          f"({detach.output.strip()!r}); guest had received {stats['ipackets']} and sent "
          f"{stats['opackets']}; link down seen; gntalloc free after quit {free}/{limit}")
    assert detach.returncode == 0, detach.output
    assert "Link status: down" in info, info
    assert stats["ipackets"] > 0 and stats["opackets"] > 0, stats
    assert free == limit
    assert "No such file" in gone or gone.strip() == "", gone
    assert not re.search(r"ERROR|Segmentation|Aborted", out), out[-3000:]

    # A new vif 0 (the kernel's netfront binds it first, as any new vif).
    attach = guest.dom0.run(f"xl network-attach {d} devid=0 mac={GUEST_MAC} script=vif-xenbed",
                            timeout=300, check=False)
    assert attach.returncode == 0, attach.output
    guest.bed.wait_vif_connected(0, timeout=VIF_TIMEOUT)
    guest.domu.run("xenbed-vif 0", timeout=VIF_TIMEOUT)
    again = guest.start_front(["--forward-mode=txonly"])
    guest.wait_link(again)
    before = guest.link_stats(guest.dom0, vif)
    again.command("start")
    time.sleep(5)
    again.command("stop")
    sent = again.stats(0)["opackets"]
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    print(f"COUNTS after xl network-attach: a new probe sent {sent}, netback's new {vif} "
          f"received {after['rx_packets'] - before['rx_packets']}")
    assert sent > 1000
    assert after["rx_packets"] - before["rx_packets"] == sent
