# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Checksum and TSO offloads through both drivers, proven on the frames that
come out at the far end (written by a net_pcap port and checked here with an
independent Internet-checksum implementation)."""

import random
import time

import pytest

import packets
import pcapfile
import testpmd
from testpmd import backend, frontend, stop_all, wait_counter

GUEST_MAC = pcapfile.mac(testpmd.GUEST_MAC)
PEER_MAC = pcapfile.mac(testpmd.PEER_MAC)


def checksum_inputs(count, seed=5):
    """TCP and UDP over IPv4 and IPv6, all checksums wrong."""
    rnd = random.Random(seed)
    frames = []
    for i in range(count):
        ipv6 = i % 2 == 1
        proto = packets.TCP if (i // 2) % 2 == 0 else packets.UDP
        frames.append(packets.build(ipv6, proto, packets.payload(rnd, 20 + (i * 37) % 1400),
                                    PEER_MAC, GUEST_MAC, seq=i * 10000))
    return frames


def start_pair(build, sim, prefix, tmp_path, front_app, back_app, front_devargs="",
               back_devargs="", front_in=None, back_in=None):
    """Frontend: net_xenfront0 (port 0) + net_pcap (port 1); backend:
    net_xenback0 (port 0) + net_pcap (port 1). Each pcap port reads
    <side>_in.pcap (empty unless given) and writes <side>_out.pcap."""
    for side, frames in (("front", front_in), ("back", back_in)):
        pcapfile.write(tmp_path / f"{side}_in.pcap", frames or [])
    back = backend(build, sim, prefix, devargs=back_devargs, app=back_app, extra_vdevs=[
        f"net_pcap0,rx_pcap={tmp_path}/back_in.pcap,tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, sim, prefix, devargs=front_devargs, app=front_app, extra_vdevs=[
        f"net_pcap1,rx_pcap={tmp_path}/front_in.pcap,tx_pcap={tmp_path}/front_out.pcap"])
    return front, back


def csum_engine(pmd, port, modes):
    """testpmd's csum engine with `csum set` per protocol on `port`."""
    pmd.command("port stop all")
    for proto, mode in modes.items():
        out = pmd.command(f"csum set {proto} {mode} {port}")
        assert "not supported" not in out and "Invalid" not in out, out
    out = pmd.command("port start all", timeout=60)
    assert "Fail" not in out, out
    pmd.command("set fwd csum")


APP = ["--forward-mode=io", "--no-flush-rx"]


@pytest.mark.parametrize("case,back_devargs,mode", [
    ("backend-completes", "", "hw"),
    ("frontend-computes-ipv6", ",ipv6_csum=0", "hw"),
    ("testpmd-computes", "", "sw"),
])
def test_guest_tx_checksums(build, xensim, prefix, tmp_path, case, back_devargs, mode):
    """testpmd csum engine on the frontend fills in checksums with hardware
    offload (blank checksums completed by the backend, or computed by the
    frontend when the backend advertises no checksum offload) or in
    software; every frame leaves the backend with valid IP and L4 checksums
    and its payload intact."""
    xensim.vif_add(1, 0)
    frames = checksum_inputs(200)
    front, back = start_pair(build, xensim, prefix, tmp_path, APP, APP,
                             back_devargs=back_devargs, front_in=frames)
    front.wait_link(0)
    back.wait_link(0)
    csum_engine(front, 0, {"ip": mode, "tcp": mode, "udp": mode})
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    wait_counter(back, 1, "opackets", len(frames))
    bx = back.xstats(0)
    fx = front.xstats(0)
    stop_all(front, back)
    out = [packets.Frame(f) for f in pcapfile.read(tmp_path / "back_out.pcap")]
    assert len(out) == len(frames)
    for i, (got, sent) in enumerate(zip(out, frames)):
        assert got.ip_header_ok(), i
        assert got.l4_ok(), (i, case)
        assert got.without_checksums() == packets.Frame(sent).without_checksums(), i
    assert fx["tx_q0_offload_refused"] == 0, fx
    ipv4 = sum(1 for f in frames if not packets.Frame(f).ipv6)
    completed = {"backend-completes": len(frames), "frontend-computes-ipv6": ipv4,
                 "testpmd-computes": 0}[case]
    assert bx["rx_q0_csum_completed"] == completed, bx


def test_no_checksum_offload_advertised_without_the_backends_keys(build, xensim, prefix,
                                                                   tmp_path):
    """A backend that completes no checksum (feature-no-csum-offload=1, no
    feature-ipv6-csum-offload) and segments nothing: the frontend offers only
    the IPv4 header checksum, which it computes itself, and no TSO."""
    xensim.vif_add(1, 0)
    front, back = start_pair(build, xensim, prefix, tmp_path, APP, APP,
                             back_devargs=",csum=0,ipv6_csum=0,gso_tcpv4=0,gso_tcpv6=0")
    out = front.command("show port 0 tx_offload capabilities")
    assert "IPV4_CKSUM" in out, out
    for absent in ("TCP_CKSUM", "UDP_CKSUM", "TCP_TSO"):
        assert absent not in out, out
    front.command("port stop all")
    assert "not supported by port 0" in front.command("csum set tcp hw 0")
    stop_all(front, back)


@pytest.mark.parametrize("lro", [False, True], ids=["backend-segments", "backend-lro"])
def test_guest_tso(build, xensim, prefix, tmp_path, lro):
    """TSO on the frontend: 8 KiB TCP packets cross the rings as GSO packets
    (one request chain plus a GSO extra each); the backend segments them
    into MSS-sized frames with valid checksums and consecutive sequence
    numbers, or hands them whole to an application that enabled LRO."""
    xensim.vif_add(1, 0, mtu=1500)
    rnd = random.Random(9)
    mss = 1400
    big = [packets.build(i % 2 == 1, packets.TCP, packets.payload(rnd, 8000 + i), PEER_MAC,
                         GUEST_MAC, seq=100000 * i) for i in range(20)]
    front, back = start_pair(build, xensim, prefix, tmp_path, APP, APP, front_in=big)
    front.wait_link(0)
    back.wait_link(0)
    front.command("port stop all")
    front.command("csum set ip hw 0")
    front.command("csum set tcp hw 0")
    out = front.command(f"tso set {mss} 0")
    # 22.11 says "TSO segment size ...", 24.11 "segment size ..." (its
    # tso command also tries UFO and warns that the port has none).
    assert f"segment size for non-tunneled packets is {mss}" in out, out
    assert "Fail" not in front.command("port start all", timeout=60)
    front.command("set fwd csum")
    if lro:
        back.command("port stop 0")
        back.command("port config 0 rx_offload tcp_lro on")
        back.command("port config 0 rx_offload scatter on")
        assert "Fail" not in back.command("port start 0", timeout=60)
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    want = len(big) if lro else sum(-(-len(packets.Frame(f).payload) // mss) for f in big)
    wait_counter(back, 1, "opackets", want)
    bx = back.xstats(0)
    fx = front.xstats(0)
    stop_all(front, back)
    assert fx["tx_q0_packets"] == len(big) and fx["tx_q0_offload_refused"] == 0, fx
    assert bx["rx_q0_gso_packets"] == len(big), bx
    out = [packets.Frame(f) for f in pcapfile.read(tmp_path / "back_out.pcap")]
    assert len(out) == want
    if lro:
        for got, sent in zip(out, big):
            assert got.ip_header_ok() and got.l4_ok()
            assert got.payload == packets.Frame(sent).payload
        assert bx["rx_q0_segmented"] == 0, bx
        return
    assert bx["rx_q0_segmented"] == want, bx
    k = 0
    for sent in map(packets.Frame, big):
        data = b""
        seq = sent.seq
        while len(data) < len(sent.payload):
            seg = out[k]
            k += 1
            assert seg.ip_header_ok() and seg.l4_ok(), k
            assert len(seg.payload) <= mss and seg.seq == seq, (k, len(seg.payload), seg.seq, seq)
            seq += len(seg.payload)
            data += seg.payload
        assert data == sent.payload


@pytest.mark.parametrize("front_rx_offloads", [False, True], ids=["backend-does-it", "blank-and-gso"])
def test_guest_rx_offloads(build, xensim, prefix, tmp_path, front_rx_offloads):
    """Checksum and TSO requested on the backend's port toward the guest:
    for a frontend that did not enable receive offloads the backend computes
    checksums and segments (the frontend gets plain valid frames); for one
    that enabled TCP/UDP checksum and LRO it gets blank checksums and whole
    GSO packets, reported as such."""
    xensim.vif_add(1, 0)
    rnd = random.Random(3)
    mss = 1400
    small = [packets.build(i % 2 == 1, packets.UDP if i % 3 else packets.TCP,
                           packets.payload(rnd, 100 + i), GUEST_MAC, PEER_MAC, seq=i)
             for i in range(30)]
    big = [packets.build(False, packets.TCP, packets.payload(rnd, 6000), GUEST_MAC, PEER_MAC,
                         seq=50000 * (i + 1)) for i in range(5)]
    front, back = start_pair(build, xensim, prefix, tmp_path, APP, APP, back_in=small + big)
    if front_rx_offloads:
        front.command("port stop 0")
        for o in ("tcp_cksum", "udp_cksum", "tcp_lro", "scatter"):
            front.command(f"port config 0 rx_offload {o} on")
        assert "Fail" not in front.command("port start 0", timeout=60)
    back.wait_link(0)
    back.command("port stop all")
    for p in ("ip", "tcp", "udp"):
        back.command(f"csum set {p} hw 0")
    back.command(f"tso set {mss} 0")
    assert "Fail" not in back.command("port start all", timeout=60)
    back.command("set fwd csum")
    front.wait_link(0)
    back.wait_link(0)
    front.command("start")
    back.command("start")
    segments = sum(-(-len(packets.Frame(f).payload) // mss) for f in big)
    want = len(small) + (len(big) if front_rx_offloads else segments)
    wait_counter(front, 1, "opackets", want)
    fx = front.xstats(0)
    bx = back.xstats(0)
    stop_all(front, back)
    out = [packets.Frame(f) for f in pcapfile.read(tmp_path / "front_out.pcap")]
    assert len(out) == want
    if front_rx_offloads:
        assert bx["tx_q0_gso_packets"] == len(big) and bx["tx_q0_segmented"] == 0, bx
        assert bx["tx_q0_csum_computed"] == 0, bx
        assert fx["rx_q0_gso_packets"] == len(big), fx
        for got, sent in zip(out, small + big):
            # What the guest's application got: blank L4 checksums (it asked
            # for RTE_MBUF_F_RX_L4_CKSUM_NONE), valid IP headers, same data.
            assert got.ip_header_ok() and got.l4_blank()
            assert got.without_checksums() == packets.Frame(sent).without_checksums()
        assert fx["rx_q0_csum_blank"] == len(small) + len(big), fx
    else:
        assert bx["tx_q0_segmented"] == segments and bx["tx_q0_gso_packets"] == 0, bx
        assert bx["tx_q0_csum_computed"] == len(small), bx
        for got in out:
            assert got.ip_header_ok() and got.l4_ok()
        assert fx["rx_q0_gso_packets"] == 0 and fx["rx_q0_csum_blank"] == 0, fx


@pytest.mark.parametrize("copybreak", [None, 256], ids=["copy", "lend"])
def test_receive_segment_coalescing(build, xensim, prefix, tmp_path, copybreak):
    """rsc=1: consecutive in-order segments of a flow reach the guest as one
    GSO packet; SYN bypasses; FIN and out-of-order data and changed options
    end a run; the guest's application gets every byte, in order, and the
    backend counts each reason. With rx_copybreak, the LRO packets (a GSO
    extra, several slots) arrive as chains of lent pages."""
    xensim.vif_add(1, 0)
    rnd = random.Random(11)
    ts = bytes([1, 1, 8, 10]) + bytes(8)  # NOP NOP timestamp
    ts2 = bytes([1, 1, 8, 10]) + bytes([0, 0, 0, 1]) + bytes(4)
    seq = 1
    frames = []

    def seg(n, flags=0x10, opts=ts, at=None):
        nonlocal seq
        data = packets.payload(rnd, n)
        frames.append(packets.build(False, packets.TCP, data, GUEST_MAC, PEER_MAC,
                                    seq=seq if at is None else at, good_checksums=True,
                                    tcp_flags=flags, tcp_options=opts))
        if at is None:
            seq += n
        return data

    seg(0, flags=0x02)                 # SYN: bypasses
    seq = 1
    for _ in range(10):
        seg(1000)                      # one run...
    seg(1000, flags=0x18)              # ...ended by PSH (included)
    for _ in range(4):
        seg(1000)
    seg(1000, at=seq + 5000)           # out of order: ends the run
    for _ in range(3):
        seg(1000, opts=ts2)            # options changed: a new run
    seg(500, flags=0x11, opts=ts2)     # FIN: ends the run, sent alone
    front, back = start_pair(build, xensim, prefix, tmp_path, APP, APP,
                             back_devargs=",rsc=1", back_in=frames,
                             front_devargs="" if copybreak is None
                             else f",rx_copybreak={copybreak}")
    front.command("port stop 0")
    for o in ("tcp_cksum", "udp_cksum", "tcp_lro", "scatter"):
        front.command(f"port config 0 rx_offload {o} on")
    assert "Fail" not in front.command("port start 0", timeout=60)
    front.wait_link(0)
    back.wait_link(0)
    front.command("start")
    back.command("start")
    wait_counter(back, 0, "opackets", 1)
    time.sleep(1)
    fx = front.xstats(0)
    bx = back.xstats(0)
    stop_all(front, back)
    out = [packets.Frame(f) for f in pcapfile.read(tmp_path / "front_out.pcap")]
    sent = [packets.Frame(f) for f in frames]
    # Every byte, in the order sent.
    assert b"".join(f.payload for f in out) == b"".join(f.payload for f in sent)
    assert len(out) < len(sent)
    rsc = {k: v for k, v in bx.items() if "rsc" in k}
    assert bx["tx_q0_rsc_packets"] == fx["rx_q0_gso_packets"] > 0, (rsc, fx)
    assert bx["tx_q0_rsc_bypass_syn"] >= 1, rsc
    assert bx["tx_q0_rsc_flush_fin_rst_urg"] >= 1, rsc
    assert bx["tx_q0_rsc_flush_out_of_order"] >= 1, rsc
    assert bx["tx_q0_rsc_flush_mismatch"] >= 1, rsc
    for f in out:
        assert f.ip_header_ok()
    big = [f for f in out if len(f.payload) > 1000]
    assert big and all(f.l4_blank() for f in big)
    if copybreak is not None:
        assert fx["rx_q0_attached"] >= fx["rx_q0_gso_packets"], fx
