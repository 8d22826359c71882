# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Static grants (netif.h "Static Grants"): with static_grants=1 the
frontend asks the backend, over the control ring, to keep each queue's
buffers mapped; the backend then copies single-slot packets with plain
memory copies, both ways, byte for byte, and makes no grant copy for them.
A backend that cannot map (no control ring, or refusals) leaves traffic as
it was: grant copies, one counted control error at most."""

import time

import pytest

import pcapfile
from testpmd import GUEST_MAC, backend, frontend, stop_all, wait_counter

def backend_copies(sim):
    """Grant copy segments domain 0 (the backend) has made so far."""
    return sim.status()["hv"]["counters"].get("0", {}).get("grant_copy_segments", 0)


SIZES = [60, 64, 65, 128, 333, 512, 1000, 1400, 1514]


def run_pcaps(build, sim, prefix, tmp_path, back_devargs="", front_devargs=",static_grants=1"):
    count = 600
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    to_guest = pcapfile.make_frames(count, SIZES, guest, peer, seed=3)
    from_guest = pcapfile.make_frames(count, list(reversed(SIZES)), peer, guest, seed=4)
    pcapfile.write(tmp_path / "to_guest.pcap", to_guest)
    pcapfile.write(tmp_path / "from_guest.pcap", from_guest)
    app = ["--forward-mode=io", "--no-flush-rx"]
    back = backend(build, sim, prefix, app=app, devargs=back_devargs, extra_vdevs=[
        f"net_pcap0,rx_pcap={tmp_path}/to_guest.pcap,tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, sim, prefix, app=app, devargs=front_devargs, extra_vdevs=[
        f"net_pcap1,rx_pcap={tmp_path}/from_guest.pcap,tx_pcap={tmp_path}/front_out.pcap"])
    front.wait_link(0)
    back.wait_link(0)
    copies_before = backend_copies(sim)
    for p in (front, back):
        p.command("set fwd io retry")
        p.command("set burst tx delay 20 retry 100000")
    front.command("start")
    back.command("start")
    wait_counter(front, 1, "opackets", count)
    wait_counter(back, 1, "opackets", count)
    front.command("stop")
    back.command("stop")
    copies_after = backend_copies(sim)
    fx = front.xstats(0)
    bx = back.xstats(0)
    outs = stop_all(front, back)
    assert pcapfile.read(tmp_path / "front_out.pcap") == to_guest
    assert pcapfile.read(tmp_path / "back_out.pcap") == from_guest
    return fx, bx, outs, count, (copies_before, copies_after)


def test_static_grants_both_ways(build, xensim, prefix, tmp_path):
    sim = xensim
    sim.vif_add(1, 0)
    fx, bx, (front_out, _), count, copies = run_pcaps(build, sim, prefix, tmp_path)
    assert fx["ctrl_errors"] == 0, fx
    # Every packet each way went through a mapping, none by grant copy.
    assert bx["rx_q0_mapped_copies"] == count, bx
    assert bx["tx_q0_mapped_copies"] == count, bx
    for name in ("rx_q0_errors", "rx_q0_copy_errors", "tx_q0_copy_errors", "tx_q0_dropped"):
        assert bx[name] == 0, (name, bx)
    assert copies[1] == copies[0], copies


def test_static_grants_without_ctrl_ring(build, xensim, prefix, tmp_path):
    """A backend without feature-ctrl-ring (as one that cannot map): grant
    copies as before, an informational line, no error."""
    sim = xensim
    sim.vif_add(1, 0)
    fx, bx, (front_out, _), count, _ = run_pcaps(build, sim, prefix, tmp_path,
                                                 back_devargs=",ctrl_ring=0")
    assert fx["ctrl_errors"] == 0, fx
    assert bx["rx_q0_mapped_copies"] == 0 and bx["tx_q0_mapped_copies"] == 0, bx


# What each hostile answer costs: NOT_SUPPORTED (ctrl_error's first
# refusal) is Linux netback's normal answer, not an error.
REFUSALS = {"ctrl_error": 0, "ctrl_garbage": 1, "ctrl_silent": 1}


@pytest.mark.parametrize("behaviour", sorted(REFUSALS))
def test_static_grants_refused(build, xensim, prefix, tmp_path, behaviour):
    """A backend that refuses or garbles the static-grant requests, or never
    answers: at most one counted control error and one line, and traffic
    byte for byte by grant copy (or the mapping, if the backend made it and
    lied about it)."""
    sim = xensim
    sim.vif_add(1, 0)
    t0 = time.monotonic()
    fx, bx, (front_out, _), count, _ = run_pcaps(build, sim, prefix, tmp_path,
                                                 back_devargs=f",hostile={behaviour}")
    print(f"{behaviour}: {time.monotonic() - t0:.1f} s")
    assert fx["ctrl_errors"] == REFUSALS[behaviour], fx
    assert front_out.count("the backend copies by grant copy") == REFUSALS[behaviour], \
        front_out[-3000:]


def test_static_grants_deleted_at_stop_and_added_again(build, xensim, prefix):
    """Stopping the port asks the backend to unmap (DEL_GREF_MAPPING, every
    entry's status checked); starting it again maps them anew, and the
    guest's packets go through the mappings again."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, devargs=",static_grants=1",
                     app=["--forward-mode=txonly"])
    mapped = []
    for round_ in range(2):
        front.wait_link(0)
        back.wait_link(0)
        back.command("start")
        front.command("start")
        wait_counter(back, 0, "ipackets", 1000 * (round_ + 1))
        front.command("stop")
        time.sleep(0.5)
        back.command("stop")
        mapped.append(back.xstats(0)["rx_q0_mapped_copies"])
        out = front.command("port stop 0", timeout=60)
        assert "Fail" not in out, out
        assert front.xstats(0)["ctrl_errors"] == 0, front.output[-4000:]
        out = front.command("port start 0", timeout=60)
        assert "Fail" not in out, out
    fx = front.xstats(0)
    stop_all(front, back)
    assert fx["ctrl_errors"] == 0, fx
    # The backend port's counters restart with each connection or not;
    # either way both connections moved packets through mappings.
    assert mapped[0] > 0 and mapped[1] > 0, mapped
