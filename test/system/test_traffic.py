# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""First light: net_xenfront (domain 1) and net_xenback (domain 0) in two
dpdk-testpmd processes over xensim carry real packets both ways, byte for
byte, in every forwarding mode."""

import time

import pytest

import pcapfile
from testpmd import GUEST_MAC, JUMBO, SMALL, backend, frontend, pcap_relay, stop_all, wait_counter

@pytest.mark.parametrize("sizes,mtu", [(SMALL, 1500), (JUMBO, 9000)], ids=["small", "jumbo"])
def test_payloads_both_ways(build, xensim, prefix, tmp_path, sizes, mtu):
    """Frames of mixed sizes each way through both drivers arrive complete,
    in order, byte for byte (net_pcap ports at both ends, io forwarding).
    The vif's "mtu" node says 1500, as libxl writes it by default: as with
    Linux netfront it is the initial MTU, not a bound (test/xen found it)."""
    sim = xensim
    sim.vif_add(1, 0, mtu=1500)
    count = 600
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    to_guest = pcapfile.make_frames(count, sizes, guest, peer, seed=1)
    from_guest = pcapfile.make_frames(count, list(reversed(sizes)), peer, guest, seed=2)
    pcapfile.write(tmp_path / "to_guest.pcap", to_guest)
    pcapfile.write(tmp_path / "from_guest.pcap", from_guest)

    back, front = pcap_relay(build, sim, prefix, tmp_path, "to_guest.pcap",
                             "from_guest.pcap", mtu)
    wait_counter(front, 1, "opackets", count)
    wait_counter(back, 1, "opackets", count)
    front_stats = front.stats(0)
    back_stats = back.stats(0)
    front.command("stop")
    back.command("stop")
    fx = front.xstats(0)
    bx = back.xstats(0)
    stop_all(front, back)

    assert front_stats["ipackets"] == count and front_stats["opackets"] == count, front_stats
    assert back_stats["ipackets"] == count and back_stats["opackets"] == count, back_stats
    assert front_stats["ibytes"] == sum(map(len, to_guest)), front_stats
    assert back_stats["ibytes"] == sum(map(len, from_guest)), back_stats
    assert pcapfile.read(tmp_path / "front_out.pcap") == to_guest
    assert pcapfile.read(tmp_path / "back_out.pcap") == from_guest
    for name in ("rx_q0_bad_responses", "rx_q0_errors", "tx_q0_bad_responses", "tx_q0_dropped",
                 "tx_q0_errors", "rx_q0_oversize"):
        assert fx[name] == 0, (name, fx)
    for name in ("rx_q0_errors", "rx_q0_fatal_errors", "rx_q0_copy_errors", "tx_q0_dropped",
                 "tx_q0_copy_errors"):
        assert bx[name] == 0, (name, bx)
    # Notification suppression: far fewer kicks than packets.
    assert fx["tx_q0_notifications"] + fx["rx_q0_notifications"] < count, fx


@pytest.mark.parametrize("back_mode,front_mode", [("txonly", "rxonly"), ("rxonly", "txonly"),
                                                  ("io", "io")])
@pytest.mark.parametrize("style", ["interrupt", "poll"])
def test_forwarding_modes_counts(build, xensim, prefix, back_mode, front_mode, style):
    """testpmd's generators through the rings: what one end sent is what the
    other received, exactly, once the sender stops and the rings drain."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=f",style={style}", extra_vdevs=(),
                   app=[f"--forward-mode={back_mode}"])
    front = frontend(build, sim, prefix, app=[f"--forward-mode={front_mode}"])
    front.wait_link(0)
    back.wait_link(0)
    if front_mode == "io":
        # io on a single port echoes: seed it from the backend's txonly.
        back.command("set fwd txonly")
    front.command("start")
    back.command("start")
    time.sleep(2)
    if front_mode == "io":
        back.command("set fwd io")  # keep echoing what comes back
    sender, receiver = (back, front) if back_mode != "rxonly" else (front, back)
    sender.command("stop")
    time.sleep(1)  # let the ring drain
    receiver.command("stop")
    if front_mode == "io":
        front_stats, back_stats = front.stats(0), back.stats(0)
        # All the frontend received it sent back.
        assert front_stats["ipackets"] > 1000, front_stats
        assert front_stats["opackets"] <= front_stats["ipackets"]
    else:
        sent = sender.stats(0)["opackets"]
        received = receiver.stats(0)["ipackets"]
        assert sent > 1000, (sent, received)
        assert received == sent, (sent, received)
    fx = front.xstats(0)
    assert fx["rx_q0_bad_responses"] == 0 and fx["tx_q0_bad_responses"] == 0, fx
    stop_all(front, back)
