# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 1: net_xenfront in the domU against Linux netback, both directions,
each counted at both ends. The guest's dpdk-testpmd owns vif 0 (taken from
Linux netfront with xen-vifbind); dom0 counts with Linux's own counters of
netback's vif<D>.0 (`ip -s link`) and sends with dpdk-testpmd over
net_af_packet on that interface."""

import time

import pytest

from guest import GUEST_MAC

WINDOW = 8  # seconds of traffic; TCG moves tens of thousands of packets a second


# testpmd's own descriptor counts, and pmd_perf_autotest's (1024 each way,
# more than netif's 256-slot ring: the driver takes the ring's).
@pytest.mark.parametrize("descriptors", [[], ["--rxd=1024", "--txd=1024"]],
                         ids=["testpmd-defaults", "1024-descriptors"])
def test_guest_tx_counted_by_netback(guest, descriptors):
    vif = guest.vif(0)
    front = guest.start_front(["--forward-mode=txonly", *descriptors])
    guest.wait_link(front)
    for queue, what in (("rxq", "RXDs"), ("txq", "TXDs")):
        info = front.command(f"show {queue} info 0 0")
        assert f"Number of {what}: 256" in info, info
    before = guest.link_stats(guest.dom0, vif)
    front.command("start")
    time.sleep(WINDOW)
    front.command("stop")
    sent = front.stats(0)
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    received = after["rx_packets"] - before["rx_packets"]
    print(f"COUNTS guest TX ({' '.join(descriptors) or 'testpmd defaults'}): net_xenfront sent {sent['opackets']} packets "
          f"({sent['obytes']} B, {sent['oerrors']} errors); netback's {vif} received "
          f"{received} ({after['rx_bytes'] - before['rx_bytes']} B), "
          f"rx_errors +{after['rx_errors'] - before['rx_errors']}, "
          f"rx_dropped +{after['rx_dropped'] - before['rx_dropped']}")
    assert sent["opackets"] > 1000, sent
    # Netback counts a packet when it takes it off the ring; once the guest
    # has stopped and the counter no longer moves, nothing is in flight.
    assert received == sent["opackets"], (received, sent)
    # Netback counts bytes after eth_type_trans() has pulled the Ethernet
    # header (xenvif_tx_submit): 14 fewer per packet than the frame.
    assert after["rx_bytes"] - before["rx_bytes"] == sent["obytes"] - 14 * received
    assert after["rx_errors"] == before["rx_errors"]
    x = front.xstats(0)
    assert x["tx_q0_bad_responses"] == 0, x


def test_guest_rx_sent_by_dom0_af_packet(guest):
    vif = guest.vif(0)
    front = guest.start_front(["--forward-mode=rxonly"])
    guest.wait_link(front)
    front.command("start")
    # Both ends' counters at the same moment: netback may have queued a
    # packet of dom0's own (IPv6 neighbour discovery) before the guest started.
    before = guest.link_stats(guest.dom0, vif)
    got_before = front.stats(0)["ipackets"]
    # dom0's own sender: testpmd's txonly over net_af_packet on the vif,
    # addressed to the guest's MAC.
    sender = guest.testpmd(guest.dom0, "afp", [f"net_af_packet0,iface={vif}"],
                           ["--forward-mode=txonly", f"--eth-peer=0,{GUEST_MAC}"], drivers=())
    sender.wait_link(0, timeout=60)
    sender.command("start")
    time.sleep(WINDOW)
    sender.command("stop")
    sent = sender.stats(0)
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    got = guest.wait_steady(lambda: front.stats(0)["ipackets"]) - got_before
    front.command("stop")
    delivered = after["tx_packets"] - before["tx_packets"]
    dropped = after["tx_dropped"] - before["tx_dropped"]
    unaccounted = sent["opackets"] - delivered - dropped
    print(f"COUNTS guest RX: dom0's net_af_packet sent {sent['opackets']} packets "
          f"({sent['oerrors']} errors); netback's {vif} transmitted {delivered} to the guest, "
          f"dropped {dropped}; {unaccounted} never reached netback; "
          f"net_xenfront received {got}")
    assert sent["opackets"] > 1000, sent
    # Every packet netback put on the guest's ring reached the application.
    assert got == delivered, (got, delivered)
    # What the sender handed the kernel was delivered, dropped by netback,
    # or (a few, while netback had stopped the queue because the guest's
    # ring was full) freed by the kernel's packet socket before netback
    # saw it: AF_PACKET's direct transmit frees a frame the driver refuses
    # with NETDEV_TX_BUSY without counting it.
    assert 0 <= unaccounted <= 0.01 * sent["opackets"], (delivered, dropped, sent)
    assert delivered > 0.5 * sent["opackets"], (delivered, sent)
    x = front.xstats(0)
    assert x["rx_q0_bad_responses"] == 0, x
