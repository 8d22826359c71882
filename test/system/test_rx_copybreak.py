# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""rx_copybreak: received frames longer than the copy-break are lent to the
application in their granted pages (external buffers), shorter ones copied.
Mixed sizes arrive byte for byte either way (net_pcap writes what the
guest's testpmd forwards, and frees the mbufs, which gives the pages back);
the counters match the size distribution; jumbo frames arrive as chains of
lent pages; stopping, restarting and closing the port with traffic in flight
leaves no grant behind; an application holding lent mbufs after closing
the port keeps their pages granted until it frees them."""

import signal
import time

import pytest

import pcapfile
from conftest import RxIntrApp
from testpmd import GUEST_MAC, JUMBO, SMALL, backend, frontend, pcap_relay, stop_all, wait_counter

COPYBREAK = 256


def grants_shared(sim, domid=1):
    return sim.status()["hv"]["domains"].get(str(domid), {}).get("grants_shared", 0)


def run_to_guest(build, sim, prefix, tmp_path, sizes, mtu, front_devargs):
    """Frames of `sizes` from the backend's pcap port to the guest's, io
    forwarding at both ends; returns the guest's xstats."""
    count = 20 * len(sizes)
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    to_guest = pcapfile.make_frames(count, sizes, guest, peer, seed=7)
    pcapfile.write(tmp_path / "to_guest.pcap", to_guest)
    pcapfile.write(tmp_path / "none.pcap", [])
    back, front = pcap_relay(build, sim, prefix, tmp_path, "to_guest.pcap", "none.pcap", mtu,
                             front_devargs)
    wait_counter(front, 1, "opackets", count)
    front.command("stop")
    back.command("stop")
    fx = front.xstats(0)
    in_use = front.mbufs_in_use()
    stop_all(front, back)
    assert pcapfile.read(tmp_path / "front_out.pcap") == to_guest
    for name in ("rx_q0_bad_responses", "rx_q0_errors", "rx_q0_oversize",
                 "rx_q0_mbuf_alloc_failed"):
        assert fx[name] == 0, (name, fx)
    return fx, count, in_use


@pytest.mark.parametrize("copybreak", [COPYBREAK, None], ids=["copybreak", "copy"])
def test_mixed_sizes(build, xensim, prefix, tmp_path, copybreak):
    """Byte for byte, lent above the copy-break and copied below it (and
    everything copied without the devarg); after forwarding every mbuf is
    back in testpmd's pools (the lent pages were given back)."""
    xensim.vif_add(1, 0)
    devargs = f",rx_copybreak={copybreak}" if copybreak is not None else ""
    fx, count, in_use = run_to_guest(build, xensim, prefix, tmp_path, SMALL, 1500, devargs)
    over = sum(1 for s in SMALL if copybreak is not None and s > copybreak) * count // len(SMALL)
    assert fx["rx_q0_packets"] == count, fx
    assert fx["rx_q0_attached"] == over, fx
    assert fx["rx_q0_copybreak_fallback"] == 0, fx
    assert in_use == 0, in_use


def test_jumbo_frames_lent_as_chains(build, xensim, prefix, tmp_path):
    """Jumbo frames (feature-sg, several slots) arrive as chains of lent
    pages, byte for byte."""
    xensim.vif_add(1, 0, mtu=9000)
    fx, count, in_use = run_to_guest(build, xensim, prefix, tmp_path, JUMBO, 9000,
                                     f",rx_copybreak={COPYBREAK}")
    over = sum(1 for s in JUMBO if s > COPYBREAK) * count // len(JUMBO)
    assert fx["rx_q0_packets"] == count, fx
    assert fx["rx_q0_attached"] == over, fx
    assert in_use == 0, in_use


def test_stop_start_close_with_traffic_in_flight(build, xensim, prefix, tmp_path):
    """The backend floods the guest, which lends pages and forwards them to
    a pcap port; stopping and starting the port between bursts of traffic,
    then closing it, leaves the domain's grants at their baseline (none) in
    the still running process, and every mbuf back in its pool."""
    sim = xensim
    sim.vif_add(1, 0)
    base = grants_shared(sim)
    pcapfile.write(tmp_path / "none.pcap", [])
    back = backend(build, sim, prefix, app=["--forward-mode=txonly", "--txpkts=1000"])
    front = frontend(build, sim, prefix, app=["--forward-mode=io", "--no-flush-rx"],
                     devargs=f",rx_copybreak={COPYBREAK}", extra_vdevs=[
                         f"net_pcap1,rx_pcap={tmp_path}/none.pcap,tx_pcap=/dev/null"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    attached = 0
    for _ in range(3):
        front.command("start")
        time.sleep(1)
        front.command("stop")
        attached = front.xstats(0)["rx_q0_attached"]
        out = front.command("port stop 0", timeout=60)
        assert "Fail" not in out, out
        out = front.command("port start 0", timeout=60)
        assert "Fail" not in out, out
        front.wait_link(0)
    assert attached > 0
    assert grants_shared(sim) > base
    front.command("start")
    time.sleep(1)
    front.command("stop")
    out = front.command("port stop 0", timeout=60)
    assert "Fail" not in out, out
    out = front.command("port close 0", timeout=60)
    assert "Fail" not in out, out
    deadline = time.monotonic() + 10
    while grants_shared(sim) != base and time.monotonic() < deadline:
        time.sleep(0.2)
    assert grants_shared(sim) == base, sim.status()["hv"]["domains"]
    assert front.mbufs_in_use() == 0
    back.command("stop")
    stop_all(front, back)


@pytest.mark.gntalloc_limit(280)
def test_too_few_grants_for_spares(build, xensim, prefix):
    """Below a ring's worth of descriptors and 32 spares the queue set-up
    fails, naming rx_copybreak and the limit."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=rxonly"],
                     devargs=f",rx_copybreak={COPYBREAK}")
    front.wait_for("rx_copybreak needs 288 receive pages", timeout=60)
    assert "unset rx_copybreak or raise the limit" in front.output
    front.kill()
    stop_all(back)
    assert grants_shared(sim) == 0


def test_pages_outlive_the_closed_port(build, xensim, prefix):
    """xenfront-rx-intr --hold keeps 100 lent mbufs across the port's stop
    and close: the page block stays granted (and mapped) until it frees
    them, then goes from the free callback, on the application's lcore;
    nothing is left and the sanitizers (in that build) see no use after
    free or leak."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=txonly"])
    app = RxIntrApp(build, sim, prefix, devargs=",rx_copybreak=0", args=["--hold", "100"])
    back.wait_link(0)
    back.command("start")
    app.wait_rx(1000)
    back.command("stop")
    start = len(app.output)
    app.proc.send_signal(signal.SIGTERM)
    m = app.wait_for(r"rx_intr: closed, holding (\d+)", start=start)
    assert int(m.group(1)) == 100
    # Rings, transmit buffers and event channels are gone; the block
    # of 256 receive pages and 256 spares stays while pages are lent.
    assert grants_shared(sim) == 512, sim.status()["hv"]["domains"]
    app.wait_for(r"rx_intr: freed", start=start)
    assert grants_shared(sim) == 0, sim.status()["hv"]["domains"]
    app.quit()
    stop_all(back)


def test_lent_pages_forwarded_back_without_a_copy(build, xensim, prefix, tmp_path):
    """The guest sends every frame back out of the port it came in on
    (macswap): frames lent in their receive pages go back out from those
    pages by grant reference (tx zero copy, xenfront_granted.h), shorter
    ones are copied both ways. The backend's pcap port gets every frame
    back byte for byte with its addresses swapped, and every lent page
    comes back to the pools."""
    xensim.vif_add(1, 0)
    count = 40 * len(SMALL)
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    to_guest = pcapfile.make_frames(count, SMALL, guest, peer, seed=11)
    pcapfile.write(tmp_path / "to_guest.pcap", to_guest)
    back = backend(build, xensim, prefix, app=["--forward-mode=io", "--no-flush-rx"],
                   extra_vdevs=[f"net_pcap0,rx_pcap={tmp_path}/to_guest.pcap,"
                                f"tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, xensim, prefix, app=["--forward-mode=macswap"],
                     devargs=f",rx_copybreak={COPYBREAK}")
    front.wait_link(0)
    back.wait_link(0)
    for p in (front, back):
        p.command("set burst tx delay 20 retry 100000")
    front.command("set fwd macswap retry")
    back.command("set fwd io retry")
    front.command("start")
    back.command("start")
    wait_counter(back, 1, "opackets", count)
    front.command("stop")
    back.command("stop")
    fx = front.xstats(0)
    # Mbufs sent without a copy are held until the backend's answer is
    # reclaimed (at the next burst); stopping the port frees them.
    out = front.command("port stop 0", timeout=60)
    assert "Fail" not in out, out
    in_use = front.mbufs_in_use()
    stop_all(front, back)
    # macswap swaps the two addresses and leaves the rest alone.
    expected = [f[6:12] + f[0:6] + f[12:] for f in to_guest]
    assert pcapfile.read(tmp_path / "back_out.pcap") == expected
    over = sum(1 for s in SMALL if s > COPYBREAK) * count // len(SMALL)
    assert fx["rx_q0_attached"] == over, fx
    assert fx["tx_q0_zero_copy_packets"] == over, fx
    assert fx["tx_q0_packets"] == count, fx
    assert in_use == 0, in_use
