# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 4: giving the vif back. After the DPDK application exits, Linux
netfront binds vif 0 again (xen-vifbind --to-kernel), dom0 pings the domU
through it, and what the domU holds is back where it was: its event
channels and the active entries of its grant table as Xen lists them, and
every gntalloc grant free again."""

from guest import active_grants, event_channels, gntalloc_free, gntalloc_limit

# Two ring pages, 128 tx pages of two 2048-byte slots, 256 rx pages.
GRANTS_PER_QUEUE_PAIR = 2 + 256 // 2 + 256


def test_vif_given_back_to_linux_netfront(guest):
    d = guest.domid
    limit = gntalloc_limit(guest)
    before = {"evtchn": event_channels(guest, d), "active grants": active_grants(guest, d),
              "gntalloc free": gntalloc_free(guest)}
    assert before["gntalloc free"] == limit, before
    front = guest.start_front(["--forward-mode=rxonly"])
    guest.wait_link(front)
    during = {"evtchn": event_channels(guest, d), "active grants": active_grants(guest, d),
              "gntalloc free": gntalloc_free(guest)}
    assert during["gntalloc free"] == limit - GRANTS_PER_QUEUE_PAIR, during
    front.quit()
    guest.procs.remove(front)
    assert guest.vif_states(0)[1] == "6", guest.vif_states(0)  # the driver closed the vif
    guest.give_back_vif(0)
    ping = guest.dom0.run("ping -c 3 -W 5 10.0.0.2", check=False, timeout=60)
    after = {"evtchn": event_channels(guest, d), "active grants": active_grants(guest, d),
             "gntalloc free": gntalloc_free(guest)}
    print(f"COUNTS give-back: before {before}; with net_xenfront {during}; after {after}; "
          f"vif states {guest.vif_states(0)}; ping: {ping.output.strip().splitlines()[-2]}")
    assert ping.returncode == 0, ping.output
    assert after == before
