# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""RSS through the netif control ring: the guest's testpmd configures RSS;
net_xenfront sends the Toeplitz key, hash types and redirection table over
the control ring; net_xenback steers each packet to the guest queue its hash
maps to and hands the hash over. Every packet is checked against an
independent Toeplitz computation: the queue it arrived on and the
mbuf->hash.rss testpmd prints."""

import struct
import time

import pytest

import packets
from packets import MS_KEY, hash_input, toeplitz
import pcapfile
import testpmd
from testpmd import backend, frontend, stop_all, verbose_received

GUEST_MAC = pcapfile.mac(testpmd.GUEST_MAC)
PEER_MAC = pcapfile.mac(testpmd.PEER_MAC)


def test_toeplitz_matches_microsofts_vector():
    data = bytes([66, 9, 149, 187, 161, 142, 100, 80]) + struct.pack("!HH", 2794, 1766)
    assert toeplitz(MS_KEY, data) == 0x51ccc178


def flows(count, seed):
    return packets.tcp_flows(count, seed, GUEST_MAC, PEER_MAC)


def received(front):
    return verbose_received(front.output)


def start(build, sim, prefix, tmp_path, nb_queues, frames, front_app=(), back_devargs=None,
          front_devargs=""):
    """Backend: net_xenback (port 0) and a net_pcap with as many queues, the
    first reading `frames` (io forwarding); frontend: net_xenfront alone,
    rxonly, RSS over its queues."""
    pcapfile.write(tmp_path / "in.pcap", frames)
    pcapfile.write(tmp_path / "empty.pcap", [])
    rx = ",".join(f"rx_pcap={tmp_path}/{'in' if q == 0 else 'empty'}.pcap"
                  for q in range(nb_queues))
    tx = ",".join(f"tx_pcap={tmp_path}/out{q}.pcap" for q in range(nb_queues))
    qargs = [f"--rxq={nb_queues}", f"--txq={nb_queues}"]
    back = backend(build, sim, prefix,
                   devargs=back_devargs if back_devargs is not None else f",max_queues={nb_queues}",
                   app=["--forward-mode=io", "--no-flush-rx"] + qargs,
                   extra_vdevs=[f"net_pcap0,{rx},{tx}"])
    try:
        front = frontend(build, sim, prefix, app=["--forward-mode=rxonly"] + qargs +
                         list(front_app), devargs=front_devargs)
    except Exception:
        stop_all(back)
        raise
    return front, back


def run_flows(front, back, tmp_path, frames):
    back.command("start")
    front.command("start")
    deadline = time.monotonic() + 30
    while len(received(front)) < len(frames) and time.monotonic() < deadline:
        time.sleep(0.3)
    front.command("stop")
    back.command("stop")
    return received(front)


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("nb_queues", [2, 4])
@pytest.mark.parametrize("copybreak", [None, 0], ids=["copy", "lend"])
def test_rss_steers_by_toeplitz_and_reports_the_hash(build, xensim, prefix, tmp_path, nb_queues,
                                                     copybreak):
    """Also with every page lent (rx_copybreak=0): each packet has a hash
    extra, so it takes the general path."""
    xensim.vif_add(1, 0)
    frames = flows(120, seed=4)
    front, back = start(build, xensim, prefix, tmp_path, nb_queues, frames,
                        front_devargs="" if copybreak is None
                        else f",rx_copybreak={copybreak}")
    # Frontend: hash TCP 4-tuples (and plain IP), verbose per packet.
    front.command("port config all rss tcp")
    front.command("set verbose 1")
    front.wait_link(0)
    back.wait_link(0)
    got = run_flows(front, back, tmp_path, frames)
    fx = front.xstats(0)
    bx = back.xstats(0)
    stop_all(front, back)
    assert len(got) == len(frames), got
    by_len = {len(f): f for f in frames}
    assert len(by_len) == len(frames)
    reta = [i % nb_queues for i in range(128)]
    queues_used = set()
    for length, queue, h in got:
        want = toeplitz(MS_KEY, hash_input(by_len[length]))
        assert h == want, (length, hex(h), hex(want))
        assert queue == reta[want % 128], (length, queue, reta[want % 128])
        queues_used.add(queue)
    assert queues_used == set(range(nb_queues)), queues_used
    # Every packet entered on backend queue 0 and carried its hash; those
    # whose hash maps elsewhere were steered.
    per_queue = [sum(1 for _, q, _ in got if q == n) for n in range(nb_queues)]
    assert [bx[f"tx_q{n}_hash_extras"] for n in range(nb_queues)] == per_queue, bx
    assert bx["tx_q0_steered"] == len(frames) - per_queue[0], bx
    assert fx["rx_good_packets"] == len(frames), fx
    if copybreak is not None:
        assert sum(fx[f"rx_q{n}_attached"] for n in range(nb_queues)) == len(frames), fx


@pytest.mark.gntalloc_limit(8192)
def test_key_and_reta_changed_at_run_time(build, xensim, prefix, tmp_path):
    """A new key and a redirection table sending everything to queue 1
    reach the backend at once, and the distribution follows them."""
    nb_queues = 2
    xensim.vif_add(1, 0)
    frames = flows(40, seed=8)
    key = bytes(range(1, 41))
    front, back = start(build, xensim, prefix, tmp_path, nb_queues, frames)
    front.command("port config all rss tcp")
    front.wait_link(0)
    back.wait_link(0)
    out = front.command(f"port config 0 rss-hash-key ipv4-tcp {key.hex()}")
    assert "error" not in out.lower(), out
    # testpmd's rss-hash-key narrows the hash types to the one named;
    # widen them again (the key stays).
    front.command("port config all rss tcp")
    out = front.command("show port 0 rss-hash key")
    assert "ipv4-tcp" in out and "ipv6-tcp" in out and key.hex().upper() in out.upper(), out
    for first in range(0, 128, 8):  # testpmd's string tokens hold 128 bytes
        entries = ",".join(f"({i},1)" for i in range(first, first + 8))
        out = front.command(f"port config 0 rss reta {entries}")
        assert "error" not in out.lower() and "fail" not in out.lower(), out
    front.command("set verbose 1")
    got = run_flows(front, back, tmp_path, frames)
    stop_all(front, back)
    assert len(got) == len(frames)
    by_len = {len(f): f for f in frames}
    for length, queue, h in got:
        assert queue == 1, (length, queue)
        assert h == toeplitz(key, hash_input(by_len[length]))


def test_no_control_ring_means_no_rss(build, xensim, prefix, tmp_path):
    """A backend without feature-ctrl-ring: RSS is refused, not faked."""
    xensim.vif_add(1, 0)
    front, back = start(build, xensim, prefix, tmp_path, 1, [], back_devargs=",ctrl_ring=0")
    info = front.command("show port info 0")
    assert "No RSS offload flow type is supported" in info, info
    assert "Redirection table size" not in info and "Hash key size" not in info, info
    stop_all(front, back)
