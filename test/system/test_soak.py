# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Soak: sequence-numbered frames of mixed sizes both ways at once, through
both drivers, in rounds of XENFRONT_SOAK_FRAMES frames per direction
(default 100000) for XENFRONT_SOAK_SECONDS (default 60) over one connection. Lossless forwarding (io with retry)
at both ends, so every frame a driver accepted must reach the far side
exactly once, in order and byte for byte, and the counters of both ends
must reconcile exactly."""

import os
import random
import time

import pcapfile
from conftest import check_released
from testpmd import GUEST_MAC, backend, frontend, stop_all

FRAMES = int(os.environ.get("XENFRONT_SOAK_FRAMES", "100000"))
SECONDS = float(os.environ.get("XENFRONT_SOAK_SECONDS", "60"))


def frames(count, dst, src, seed):
    """Frames with a 32-bit sequence number after the Ethernet header and
    sizes drawn from 60..1514 (mostly small, some full-sized)."""
    rnd = random.Random(seed)
    out = []
    for seq in range(count):
        size = rnd.choice((60, 64, 128, 256, 512, 1024, 1400, 1514, rnd.randint(60, 1514)))
        header = dst + src + b"\x88\xb5" + seq.to_bytes(4, "big")
        out.append(header + rnd.randbytes(size - len(header)))
    return out


def test_soak_both_ways(build, xensim, prefix, tmp_path):
    """Rounds of FRAMES frames each way over one connection that stays up
    for XENFRONT_SOAK_SECONDS (default 60): between rounds only the pcap
    ports are re-created, the xenfront/xenback ports keep running."""
    sim = xensim
    sim.vif_add(1, 0)
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    to_guest = frames(FRAMES, guest, peer, seed=11)
    from_guest = frames(FRAMES, peer, guest, seed=12)
    pcapfile.write(tmp_path / "to_guest.pcap", to_guest)
    pcapfile.write(tmp_path / "from_guest.pcap", from_guest)
    app = ["--forward-mode=io", "--no-flush-rx"]
    back_pcap = f"net_pcap0,rx_pcap={tmp_path}/to_guest.pcap,tx_pcap={tmp_path}/back_out.pcap"
    front_pcap = f"net_pcap1,rx_pcap={tmp_path}/from_guest.pcap,tx_pcap={tmp_path}/front_out.pcap"
    rounds = 0
    totals = {"frames": 0}
    back = backend(build, sim, prefix, app=app, extra_vdevs=[back_pcap])
    front = frontend(build, sim, prefix, app=app, extra_vdevs=[front_pcap])
    front.wait_link(0)
    back.wait_link(0)
    mbufs = front.mbufs_in_use(), back.mbufs_in_use()
    for p in (front, back):
        p.command("set fwd io retry")
        p.command("set burst tx delay 20 retry 100000")
    soak_start = time.monotonic()
    while True:
        if rounds > 0:
            # Fresh pcap ports (they read their file once); ports 0 stay up.
            for p, name, args in ((front, "net_pcap1", front_pcap),
                                  (back, "net_pcap0", back_pcap)):
                p.command("port stop 1")
                p.command("port close 1")
                out = p.command(f"device detach {name}")
                assert "is detached" in out, out
                out = p.command(f"port attach {args}", timeout=60)
                assert "is attached" in out, out
                out = p.command("port start 1", timeout=60)
                assert "Fail" not in out, out
        for p in (front, back):
            p.command("clear port stats all")
        check_round(front, back, tmp_path, to_guest, from_guest)
        rounds += 1
        totals["frames"] += FRAMES
        if time.monotonic() - soak_start > SECONDS:
            break
    elapsed = time.monotonic() - soak_start
    assert front.link_up(0) and back.link_up(0)
    assert (front.mbufs_in_use(), back.mbufs_in_use()) == mbufs
    assert front.output.count("reconnecting") == 0, "the connection must stay up"
    stop_all(front, back)
    check_released(sim)
    print(f"soak: {rounds} rounds, {totals['frames']} frames each way, {elapsed:.1f} s, "
          "none lost, duplicated or reordered")


def check_round(front, back, tmp_path, to_guest, from_guest):
    started = time.monotonic()
    front.command("start")
    back.command("start")
    while True:
        fs1, bs1 = front.stats(1), back.stats(1)
        if fs1["opackets"] >= FRAMES and bs1["opackets"] >= FRAMES:
            break
        assert time.monotonic() < started + max(300, FRAMES / 500), (fs1, bs1)
        time.sleep(0.5)
    front.command("stop")
    back.command("stop")
    fs, bs = front.stats(0), back.stats(0)
    fx, bx = front.xstats(0), back.xstats(0)
    # net_pcap closes (flushes) its output file when the port stops; the next
    # round re-creates the port.
    for p in (front, back):
        p.command("port stop 1")

    # Exactly once, in order, byte for byte.
    for name, path, want in (("guest received", tmp_path / "front_out.pcap", to_guest),
                             ("backend received", tmp_path / "back_out.pcap", from_guest)):
        got = pcapfile.read(path)
        seqs = [int.from_bytes(f[14:18], "big") for f in got]
        missing = sorted(set(range(FRAMES)) - set(seqs))[:10]
        assert seqs == list(range(FRAMES)), (name, len(seqs), "missing", missing)
        assert got == want, name

    # Counters of both ends reconcile exactly.
    assert fs["ipackets"] == bs["opackets"] == FRAMES, (fs, bs)
    assert bs["ipackets"] == fs["opackets"] == FRAMES, (fs, bs)
    assert fs["ibytes"] == bs["obytes"] == sum(map(len, to_guest)), (fs, bs)
    assert bs["ibytes"] == fs["obytes"] == sum(map(len, from_guest)), (fs, bs)
    assert fx["rx_q0_packets"] == bx["tx_q0_packets"] == FRAMES, (fx, bx)
    assert fx["tx_q0_packets"] == bx["rx_q0_packets"] == FRAMES, (fx, bx)
    for name in ("rx_q0_bad_responses", "rx_q0_errors", "rx_q0_oversize", "tx_q0_dropped",
                 "tx_q0_errors", "tx_q0_bad_responses", "rx_q0_mbuf_alloc_failed"):
        assert fx[name] == 0, (name, fx)
    for name in ("rx_q0_errors", "rx_q0_fatal_errors", "rx_q0_copy_errors", "tx_q0_dropped",
                 "tx_q0_copy_errors", "tx_q0_fatal_errors"):
        assert bx[name] == 0, (name, bx)
