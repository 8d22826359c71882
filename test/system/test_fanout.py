# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Software fan-out (net_xenfront devarg fanout=1): the application runs 4
queue pairs, with several forwarding lcores, over a backend offering 1 or 2.
Every queue and every lcore receives, each packet lands on the queue an
independent Toeplitz computation predicts (the backend's hash over the
control ring, or the driver's own without one), each flow keeps its order,
and nothing is lost either way."""

import random
import re
import time

import pytest

import packets
import pcapfile
from packets import MS_KEY, toeplitz
import testpmd
from testpmd import TestPmd, backend, stop_all

GUEST_MAC = pcapfile.mac(testpmd.GUEST_MAC)
PEER_MAC = pcapfile.mac(testpmd.PEER_MAC)

NB_QUEUES = 4
FLOWS = 40
PER_FLOW = 5
# Forwarding lcores of the frontend: more than the backend has queues.
FRONT_LCORES = ["--lcores", "0@1,1@0,2@1,3@0"]
NB_CORES = 3


def flow_frames(ipv6_every=3, seed=11):
    """FLOWS IPv4/IPv6 TCP flows of PER_FLOW packets, interleaved; packet i
    belongs to flow i % FLOWS and is 154 + i bytes long, so its length names
    its flow and its place in it."""
    rnd = random.Random(seed)
    addrs = [(rnd.randbytes(4), rnd.randbytes(4)) for _ in range(FLOWS)]
    frames = []
    for i in range(FLOWS * PER_FLOW):
        flow = i % FLOWS
        ipv6 = flow % ipv6_every == ipv6_every - 1
        f = bytearray(packets.build(ipv6, packets.TCP, bytes((80 if ipv6 else 100) + i),
                                    GUEST_MAC, PEER_MAC, good_checksums=True))
        src = 14 + (8 if ipv6 else 12)
        f[src:src + 4] = addrs[flow][0]
        frames.append(bytes(f))
    return frames


def address_hash(frame: bytes) -> int:
    """testpmd's default rss_hf is RTE_ETH_RSS_IP: netif's IPv4/IPv6 types,
    addresses only."""
    f = packets.Frame(frame)
    return toeplitz(MS_KEY, f.src + f.dst)


def frontend_fanout(build, sim, prefix, app):
    eal = (build.eal_args(prefix + "f", build.xenfront) + FRONT_LCORES +
           ["--log-level", "pmd.net.xenfront.*:notice",
            "--vdev", "net_xenfront0,vif=0,fanout=1"])
    return TestPmd(eal, [f"--rxq={NB_QUEUES}", f"--txq={NB_QUEUES}",
                         f"--nb-cores={NB_CORES}"] + list(app), sim.env(1), "frontend testpmd")


def received(out):
    """(length, queue, hash) per packet testpmd's verbose rxonly printed, in
    the order each queue received them. Several lcores print at once, so
    the queue comes from each packet's own line, not its burst's header."""
    return [(int(m.group(1)), int(m.group(3), 16), int(m.group(2), 16)) for m in re.finditer(
        r"length=(\d+) .*RSS hash=0x([0-9a-f]+) .*Receive queue=0x([0-9a-f]+)", out)]


def lcores_of(xstats, direction):
    return {q: xstats[f"{direction}_q{q}_lcore"] for q in range(NB_QUEUES)}


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("backend_queues,ctrl_ring", [(1, 0), (2, 1)],
                         ids=["1-queue-software-hash", "2-queues-backend-hash"])
def test_fanout_receive(build, xensim, prefix, tmp_path, backend_queues, ctrl_ring):
    xensim.vif_add(1, 0)
    frames = flow_frames()
    pcapfile.write(tmp_path / "in.pcap", frames)
    pcapfile.write(tmp_path / "empty.pcap", [])
    rx = ",".join(f"rx_pcap={tmp_path}/{'in' if q == 0 else 'empty'}.pcap"
                  for q in range(backend_queues))
    tx = ",".join(f"tx_pcap={tmp_path}/out{q}.pcap" for q in range(backend_queues))
    back = backend(build, xensim, prefix,
                   devargs=f",max_queues={backend_queues},ctrl_ring={ctrl_ring}",
                   app=["--forward-mode=io", "--no-flush-rx", f"--rxq={backend_queues}",
                        f"--txq={backend_queues}"],
                   extra_vdevs=[f"net_pcap0,{rx},{tx}"])
    front = frontend_fanout(build, xensim, prefix, ["--forward-mode=rxonly"])
    front.command("set verbose 1")
    front.wait_link(0)
    back.wait_link(0)
    front.command("start")
    back.command("start")
    deadline = time.monotonic() + 60
    while len(received(front.output)) < len(frames) and time.monotonic() < deadline:
        time.sleep(0.3)
    back.command("stop")
    front.command("stop")
    fx = front.xstats(0)
    fs = front.stats(0)
    out = front.output
    stop_all(front, back)
    how = "the backend's hash (control ring)" if ctrl_ring else "Toeplitz computed here"
    assert (f"software fan-out: {NB_QUEUES} queue pairs over the backend's {backend_queues}"
            in out and f"steering by {how}" in out), out
    got = received(out)
    # Nothing lost, nothing duplicated.
    assert sorted(length for length, _, _ in got) == sorted(len(f) for f in frames), got
    assert fs["ipackets"] == len(frames) and fs["imissed"] == 0, fs
    by_len = {len(f): f for f in frames}
    reta = [i % NB_QUEUES for i in range(128)]
    order = {}
    for length, queue, h in got:
        want = address_hash(by_len[length])
        assert h == want, (length, hex(h), hex(want))
        assert queue == reta[want % 128], (length, queue, reta[want % 128])
        order.setdefault((length - 154) % FLOWS, []).append(length)
    # Each flow in its order.
    for flow, lengths in order.items():
        assert lengths == sorted(lengths), (flow, lengths)
    # Every queue, and so every forwarding lcore, received.
    per_queue = [fx[f"rx_q{q}_fanout_packets"] for q in range(NB_QUEUES)]
    assert all(n > 0 for n in per_queue) and sum(per_queue) == len(frames), fx
    lcores = lcores_of(fx, "rx")
    assert set(lcores.values()) == set(range(1, NB_CORES + 1)), lcores
    for q, lcore in lcores.items():
        ring = q % backend_queues
        assert f"port 0 rx queue {q} (netif queue {ring}) served by lcore {lcore}" in out, out
    # The rings carried it all; the fan-out dropped nothing.
    assert sum(fx[f"rx_q{r}_packets"] for r in range(backend_queues)) == len(frames), fx
    assert sum(fx[f"rx_q{q}_fanout_dropped"] for q in range(NB_QUEUES)) == 0, fx


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("backend_queues", [1, 2])
def test_fanout_transmit_from_every_queue(build, xensim, prefix, backend_queues):
    """Four lcores' worth of tx queues share the backend's rings under their
    locks: every packet sent arrives."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, devargs=f",max_queues={backend_queues}",
                   app=["--forward-mode=rxonly", f"--rxq={backend_queues}",
                        f"--txq={backend_queues}"])
    front = frontend_fanout(build, xensim, prefix, ["--forward-mode=txonly"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    time.sleep(3)
    front.command("stop")
    time.sleep(1)
    back.command("stop")
    fx = front.xstats(0)
    bs = back.stats(0)
    fs = front.stats(0)
    stop_all(front, back)
    per_queue = [fx[f"tx_q{q}_fanout_packets"] for q in range(NB_QUEUES)]
    assert all(n > 1000 for n in per_queue), fx
    assert fs["opackets"] == sum(per_queue), (fs, fx)
    assert sum(fx[f"tx_q{r}_packets"] for r in range(backend_queues)) == sum(per_queue), fx
    assert bs["ipackets"] == sum(per_queue), (bs, per_queue)
    assert set(lcores_of(fx, "tx").values()) == set(range(1, NB_CORES + 1)), fx
