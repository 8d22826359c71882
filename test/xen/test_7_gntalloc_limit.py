# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 7: the domU's default gntalloc limit (Linux's xen_gntalloc
limit=1024 grants for all processes of the guest). A queue pair takes 386
grants (two ring pages, 128 transmit pages of two 2048-byte slots each, 256
receive pages): two pairs and the control ring (774) start and carry
traffic on both queues. Three pairs (1158) do not fit: netback here offers
two queues (dom0's vcpus), so a third pair's worth of grants is held by
another process of the domU, and the port then refuses to start with a line
that names the limit. Every grant comes back at each quit."""

import time

from guest import GNTSHR, gntalloc_free, gntalloc_limit, wait_until

GRANTS_PER_QUEUE_PAIR = 2 + 256 // 2 + 256
CONTROL_RING = 2  # RSS over two queues (netback's hash is set over it): ring and data page

HOLD = GNTSHR + r"""
import sys, time
n = 0
while n < int(sys.argv[1]) and share():
    n += 1
print("held", n, flush=True)
time.sleep(3600)  # until killed: the exit gives them back
"""


def test_default_limit_fits_two_queue_pairs_and_refuses_three(guest):
    limit = gntalloc_limit(guest)
    assert limit == 1024, "the domU's kernel should have gntalloc's default limit"
    # netback offers as many queues as dom0 has vcpus.
    offered = guest.dom0.run(f"xenstore-read /local/domain/0/backend/vif/{guest.domid}/0/"
                             "multi-queue-max-queues").output.strip()
    assert offered == "2", offered
    vif = guest.vif(0)

    # One pair first: the backend reaches InitWait and offers its queues.
    one = guest.start_front(["--forward-mode=rxonly"])
    guest.wait_link(one)
    used = limit - gntalloc_free(guest)
    assert used == GRANTS_PER_QUEUE_PAIR, used
    one.quit()
    guest.procs.remove(one)
    assert gntalloc_free(guest) == limit

    two = guest.start_front(["--forward-mode=txonly", "--rxq=2", "--txq=2"])
    guest.wait_link(two)
    used = limit - gntalloc_free(guest)
    assert used == 2 * GRANTS_PER_QUEUE_PAIR + CONTROL_RING, used
    before = guest.link_stats(guest.dom0, vif)
    two.command("start")
    time.sleep(8)
    two.command("stop")
    sent = two.stats(0)
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    received = after["rx_packets"] - before["rx_packets"]
    x = two.xstats(0)
    print(f"COUNTS gntalloc: 2 queue pairs = {used} grants of {limit}; txonly sent "
          f"{sent['opackets']} packets (tx_q0 {x['tx_q0_packets']}, tx_q1 "
          f"{x['tx_q1_packets']}); netback's {vif} received {received}")
    assert x["tx_q0_packets"] > 1000 and x["tx_q1_packets"] > 1000, x
    assert received == sent["opackets"], (received, sent)
    assert after["rx_bytes"] - before["rx_bytes"] == sent["obytes"] - 14 * received
    assert x["tx_q0_bad_responses"] == 0 and x["tx_q1_bad_responses"] == 0, x
    two.quit()
    guest.procs.remove(two)
    assert gntalloc_free(guest) == limit

    # A third queue pair's grants, held elsewhere in the domU.
    guest.domu.put("/tmp/hold_grants.py", HOLD.encode())
    holder = guest.domu.popen(["python3", "/tmp/hold_grants.py", str(GRANTS_PER_QUEUE_PAIR)],
                              stdin=False)
    try:
        line = holder.stdout.readline().decode()
        assert line.split() == ["held", str(GRANTS_PER_QUEUE_PAIR)], line
        three = guest.start_front(["--forward-mode=rxonly", "--rxq=2", "--txq=2"])
        out = three.output
        print("COUNTS gntalloc: 3 queue pairs' worth = "
              f"{3 * GRANTS_PER_QUEUE_PAIR} grants: "
              + " / ".join(line.strip() for line in out.splitlines()
                           if "gntalloc" in line or "Fail" in line))
        assert ("cannot grant 256 pages to domain 0: No space left on device "
                "(gntalloc limit reached? raise /sys/module/xen_gntalloc/parameters/limit)"
                ) in out
        assert "Fail to configure port 0" in out
        info = three.command("show port info 0")
        assert "Link status: down" in info, info
        three.quit()
        guest.procs.remove(three)
    finally:
        holder.kill()
        holder.wait(60)
    # The queues that did get their grants gave them back, and so did the holder.
    wait_until("the grants coming back", lambda: gntalloc_free(guest) == limit, 30)
    assert guest.vif_states(0)[1] == "6", guest.vif_states(0)
