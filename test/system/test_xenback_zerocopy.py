# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Zero-copy guest transmit in net_xenback (zerocopy=1): a single-slot
frame of at least 512 B whose page the guest granted statically reaches
the backend's application as two segments, its first 128 bytes copied and
the rest lent from the mapped page; the request is answered when the
application frees the mbuf. Frames arrive byte for byte, the counters say
which frames were lent, and every tx slot of the guest comes back. An
application that holds lent mbufs (app/rx_intr --hold) gets at most half
a ring of them (zc_pending 128), the rest is
copied and keeps flowing; the slots come back once it frees them, and a
backend closed while they are held says so and exits cleanly."""

import re
import signal
import time

import pytest

import pcapfile
from conftest import COUNTERS, RxIntrApp, hv
from testpmd import GUEST_MAC, backend, frontend, stop_all, wait_counter

SIZES = [60, 64, 128, 333, 511, 512, 1000, 1400, 1514]
LENT_MIN = 512
MAX_LENT = 128  # half the 256-slot ring


def desc_status(front, desc):
    """The guest's tx descriptor `desc` status: FULL while the backend has
    at least 256 - desc requests unanswered (xenfront_tx_descriptor_status)."""
    out = front.command(f"show port 0 txq 0 desc {desc} status")
    m = re.search(r"Desc status = (\w+)", out)
    assert m, out
    return m.group(1)


def scatter_on(pmd):
    """RTE_ETH_RX_OFFLOAD_SCATTER on port 0 only (--enable-scatter would ask
    it of the pcap/ring port too, which refuses it)."""
    pmd.command("port stop all")
    pmd.command("port config 0 rx_offload scatter on")
    out = pmd.command("port start all", timeout=60)
    assert "Fail" not in out, out


def wait_xstat(pmd, key, want, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        x = pmd.xstats(0)
        if x[key] == want or time.monotonic() > deadline:
            return x
        time.sleep(0.2)


@pytest.mark.parametrize("scatter", [True, False])
def test_zerocopy_bytes_and_counts(build, xensim, prefix, tmp_path, scatter):
    sim = xensim
    sim.vif_add(1, 0)
    count = 900
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    from_guest = pcapfile.make_frames(count, SIZES, peer, guest, seed=5)
    pcapfile.write(tmp_path / "from_guest.pcap", from_guest)
    pcapfile.write(tmp_path / "empty.pcap", [])
    app = ["--forward-mode=io", "--no-flush-rx"]
    back = backend(build, sim, prefix, devargs=",zerocopy=1", app=app, extra_vdevs=[
                       f"net_pcap0,rx_pcap={tmp_path}/empty.pcap,"
                       f"tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, sim, prefix, app=app, devargs=",static_grants=1", extra_vdevs=[
        f"net_pcap1,rx_pcap={tmp_path}/from_guest.pcap,tx_pcap={tmp_path}/front_out.pcap"])
    if scatter:
        scatter_on(back)
    front.wait_link(0)
    back.wait_link(0)
    for p in (front, back):
        p.command("set fwd io retry")
        p.command("set burst tx delay 20 retry 100000")
    back.command("start")
    front.command("start")
    wait_counter(back, 1, "opackets", count)
    lent = sum(len(f) >= LENT_MIN for f in from_guest)
    # Still forwarding: the bursts answer what the pcap port freed.
    bx = wait_xstat(back, "rx_q0_zc_pending", 0)
    fx = front.xstats(0)
    done = desc_status(front, 255)
    front.command("stop")
    back.command("stop")
    outs = stop_all(front, back)
    assert pcapfile.read(tmp_path / "back_out.pcap") == from_guest
    assert bx["rx_q0_packets"] == count, bx
    if scatter:
        assert bx["rx_q0_zerocopy"] == lent > 0, bx
        assert bx["rx_q0_mapped_copies"] == count - lent, bx
    else:
        # No chains unless the application asked for them: all copied.
        assert bx["rx_q0_zerocopy"] == 0, bx
        assert bx["rx_q0_mapped_copies"] == count, bx
        assert "zerocopy=1 needs RTE_ETH_RX_OFFLOAD_SCATTER" in outs[1]
    assert bx["rx_q0_zc_pending"] == 0 and bx["rx_q0_errors"] == 0, bx
    assert fx["tx_q0_packets"] == count and fx["tx_q0_bad_id"] == 0, fx
    assert fx["tx_q0_lost_ids"] == 0, fx
    assert done == "DONE"  # every tx request of the guest answered


class Holder(RxIntrApp):
    """app/rx_intr over net_xenback (domain 0) with zerocopy=1: polls,
    takes chains, holds the first `hold` frames (SIGUSR2 frees them)."""

    def __init__(self, build, sim, prefix, hold):
        self._spawn(build, sim.env(0), build.eal_args(prefix + "h", build.xenback) + [
            "--lcores", "0@0", "--vdev", "net_xenback0,domid=1,vif=0,zerocopy=1"],
            ["--poll", "--scatter", "--hold", str(hold)])
        self.wait_for(r"rx_intr: port 0 ready")

    def xstats(self):
        with self.lock:
            start = len(self.output)
        self.proc.send_signal(signal.SIGUSR1)
        m = self.wait_for(COUNTERS.pattern, start=start)
        with self.lock:
            text = self.output[start:start + m.start()]
        return {k: int(v) for k, v in re.findall(r"rx_intr: xstat (\w+)=(\d+)", text)}


def held_setup(build, sim, prefix, tmp_path, count, hold):
    """A guest sends `count` lendable frames to a backend application that
    holds the first `hold` of them."""
    sim.vif_add(1, 0)
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    pcapfile.write(tmp_path / "from_guest.pcap",
                   pcapfile.make_frames(count, [600, 1000, 1514], peer, guest, seed=6))
    back = Holder(build, sim, prefix, hold)
    front = frontend(build, sim, prefix, app=["--forward-mode=io", "--no-flush-rx"],
                     devargs=",static_grants=1", extra_vdevs=[
                         f"net_pcap1,rx_pcap={tmp_path}/from_guest.pcap,"
                         f"tx_pcap={tmp_path}/front_out.pcap"])
    front.wait_link(0)
    front.command("set fwd io retry")
    front.command("set burst tx delay 20 retry 100000")
    front.command("start")
    c = back.wait_rx(count)
    assert c[0] == count, c
    return back, front


def check_held(back, front, count):
    x = back.xstats()
    # Half a ring lent and held; the rest copied, and the vif kept moving
    # (count frames through a 256-slot ring).
    assert x.get("rx_q0_zerocopy") == MAX_LENT, x
    assert x.get("rx_q0_zc_pending") == MAX_LENT, x
    assert x.get("rx_q0_zc_fallbacks") == count - MAX_LENT, x
    assert x.get("rx_q0_mapped_copies") == count - MAX_LENT, x
    # Exactly 128 of the guest's requests unanswered.
    assert desc_status(front, 128) == "FULL"
    assert desc_status(front, 127) == "DONE"


def test_zerocopy_held_then_freed(build, xensim, prefix, tmp_path):
    count = 600
    back, front = held_setup(build, xensim, prefix, tmp_path, count, hold=300)
    check_held(back, front, count)
    back.proc.send_signal(signal.SIGUSR2)
    back.wait_for(r"rx_intr: released 300")
    deadline = time.monotonic() + 10
    while desc_status(front, 255) != "DONE" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert desc_status(front, 255) == "DONE"  # every request answered
    x = back.xstats()
    assert "rx_q0_zc_pending" not in x, x  # 0: not printed
    fx = front.xstats(0)
    assert fx["tx_q0_bad_id"] == 0 and fx["tx_q0_lost_ids"] == 0, fx
    front.command("stop")
    out = back.quit()
    assert "closed while the application holds" not in out, out[-3000:]
    stop_all(front)


def test_zerocopy_close_while_held(build, xensim, prefix, tmp_path):
    count = 600
    back, front = held_setup(build, xensim, prefix, tmp_path, count, hold=300)
    check_held(back, front, count)
    # Closed while holding: the port waits, complains, leaves the pages
    # mapped; the application frees them after the close (the free
    # callbacks run on a released queue) and exits cleanly.
    out = back.quit()
    assert re.search(r"closed while the application holds mbufs on \d+ static grant "
                     r"mappings of the guest; left mapped", out), out[-3000:]
    assert "rx_intr: closed, holding 300" in out and "rx_intr: freed" in out, out[-3000:]
    front.command("stop")
    stop_all(front)


def test_zerocopy_guest_leaves_while_held(build, xensim, prefix, tmp_path):
    count = 600
    back, front = held_setup(build, xensim, prefix, tmp_path, count, hold=300)
    check_held(back, front, count)
    # The guest deletes its static grants and disconnects: the mapping the
    # application still has pages of stays (parked), the rest goes.
    front.command("stop")
    stop_all(front)
    deadline = time.monotonic() + 10
    while hv(xensim, 0).get("evtchn_ports", 0) != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    d0 = hv(xensim, 0)
    assert d0.get("evtchn_ports", 0) == 0, d0  # disconnected
    assert d0.get("mappings_held", 0) > 0, d0  # the lent pages still mapped
    assert hv(xensim, 1).get("grants_mapped_by_others", 0) > 0
    # The application frees them (no ring to answer on now) and closes:
    # nothing left to complain about, all unmapped.
    back.proc.send_signal(signal.SIGUSR2)
    back.wait_for(r"rx_intr: released 300")
    out = back.quit()
    assert "closed while the application holds" not in out, out[-3000:]
    assert hv(xensim, 0).get("mappings_held", 0) == 0, hv(xensim, 0)
    assert hv(xensim, 1).get("grants_mapped_by_others", 0) == 0, hv(xensim, 1)
