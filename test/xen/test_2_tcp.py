# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 2: a TCP stream of 8 MiB each way between dom0's Linux stack (on
netback's vif<D>.0, 10.0.0.1) and the domU's Linux stack (on a TAP,
10.0.0.2), carried in the domU by net_xenfront: a DPDK forwarder between the
vif and the TAP, as test/system/test_linux_stacks.py does over xensim.
SHA-256 equal at both ends, three ways:
  - plain: dpdk-testpmd io forwarding, MTU 1500;
  - offloads: xf-offload-fwd, which uses checksum offload and TSO/LRO as
    Linux netback negotiated them (the test prints what netback advertised,
    what net_xenfront asked for, and what was used);
  - jumbo: MTU 9000 at both ends, so every full segment crosses the ring
    as a multi-slot frame. DPDK 22.11's net_tap takes frames up to 1522
    bytes only, so here the domU's stack sits on a veth pair whose other
    end dpdk-testpmd drives with net_af_packet."""

import hashlib
import os
import re
import signal

import pytest

from guest import tcp_transfer

MIB = 1024 * 1024
SIZE = 8 * MIB
TAP = "xbtap0"


@pytest.fixture(scope="module")
def payload(bed):
    """8 MiB of random bytes, in both domains."""
    data = os.urandom(SIZE)
    for dom in (bed.dom0, bed.domu):
        dom.put("/tmp/payload.bin", data)
    return hashlib.sha256(data).hexdigest()


def features(guest) -> str:
    back = guest.dom0.run(f"xenstore-ls /local/domain/0/backend/vif/{guest.domid}/0 | "
                          "grep -E '^(feature|multi-queue)'").output
    front = guest.domu.run("xenstore-ls device/vif/0 | "
                           "grep -E '^(feature|request|multi-queue)'").output
    squash = lambda text: " ".join(re.sub(r'\s*=\s*"(.*)"', r"=\1", line)  # noqa: E731
                                   for line in text.splitlines())
    return f"netback advertised: {squash(back)}\n    net_xenfront wrote: {squash(front)}"


def tap_up(guest, mtu: int):
    guest.domu.run(f"ip link set {TAP} mtu {mtu} && ip addr replace 10.0.0.2/24 dev {TAP} && "
                   f"ip link set {TAP} up")
    guest.dom0.run(f"ip link set {guest.vif(0)} mtu {mtu}")


def both_ways(guest, digest: str) -> dict:
    """8 MiB dom0 → domU, then domU → dom0; each SHA-256 checked."""
    ping = guest.dom0.run("ping -c 3 -W 5 10.0.0.2", check=False, timeout=60)
    assert ping.returncode == 0, ping.output
    times = {}
    for name, server, addr, client, port in (
            ("dom0->domU", guest.domu, "10.0.0.2", guest.dom0, 5001),
            ("domU->dom0", guest.dom0, "10.0.0.1", guest.domu, 5002)):
        length, got, seconds = tcp_transfer(server, addr, client, "/tmp/payload.bin", port)
        assert length == SIZE, (name, length)
        assert got == digest, name
        times[name] = seconds
    return times


@pytest.fixture
def mtu_back(guest):
    yield
    guest.dom0.run(f"ip link set {guest.vif(0)} mtu 1500", check=False)


def test_tcp_plain_testpmd_io(guest, payload, mtu_back):
    guest.domu.run("modprobe tun")
    fwd = guest.start_front(["--forward-mode=io"], vdevs=[f"net_tap0,iface={TAP}"])
    guest.wait_link(fwd)
    fwd.command("start")
    tap_up(guest, 1500)
    times = both_ways(guest, payload)
    fwd.command("stop")
    x = fwd.xstats(0)
    print(f"COUNTS TCP plain (MTU 1500): 8 MiB each way, SHA-256 equal; {times} s; "
          f"net_xenfront rx {x['rx_q0_packets']} packets / tx {x['tx_q0_packets']}\n    "
          + features(guest))
    assert x["rx_q0_bad_responses"] == 0 and x["tx_q0_bad_responses"] == 0, x


def test_tcp_with_netbacks_offloads(guest, payload, mtu_back):
    """xf-offload-fwd merges the domU kernel's segments (GRO on the TAP) and
    sends them with TSO through net_xenfront; what netback sends to the
    guest as GSO arrives whole (LRO) and leaves on the TAP with TSO."""
    guest.domu.run("modprobe tun")
    guest.take_vif(0)
    eal = guest.eal(guest.domu, f"ofw{guest.tag}"[:40], ["net_xenfront0,vif=0",
                                                         f"net_tap0,iface={TAP}"],
                    drivers=("XENFRONT_PMD",))
    proc = guest.domu.popen(["xf-offload-fwd", *eal, "--", "--offloads=on"], stdin=False)
    lines = []
    try:
        while True:
            line = proc.stdout.readline().decode(errors="replace")
            assert line, "xf-offload-fwd exited:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("forwarding"):
                break
        tap_up(guest, 1500)
        times = both_ways(guest, payload)
        feats = features(guest)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        lines.append(proc.stdout.read().decode(errors="replace"))
    text = "".join(lines)
    assert proc.returncode == 0, text
    counters = {}
    for m in re.finditer(r"port (\d+): ((?:\w+ \d+ ?)+)", text):
        vals = m.group(2).split()
        counters[int(m.group(1))] = dict(zip(vals[::2], map(int, vals[1::2])))
    xen, tap = counters[0], counters[1]
    print(f"COUNTS TCP offloads (MTU 1500): 8 MiB each way, SHA-256 equal; {times} s; "
          f"forwarder net_xenfront port {xen}, TAP port {tap}\n    {feats}")
    # Used: TSO packets into net_xenfront (segments the forwarder merged from
    # the TAP), and large packets from netback that left on the TAP with TSO.
    assert tap["merged"] > 0 and xen["tso"] > 0, counters
    assert tap["tso"] > 0, counters
    assert "feature-gso-tcpv4=1" in feats and "feature-sg=1" in feats, feats


@pytest.fixture
def veth(guest):
    """xbveth1 (10.0.0.2, the domU's stack) and xbveth0 (for net_af_packet),
    MTU 9000; the stack's segmentation and checksum offloads off, since a
    packet socket would see unsegmented packets with blank checksums."""
    guest.domu.run("ip link add xbveth0 mtu 9000 type veth peer name xbveth1 mtu 9000 && "
                   "ethtool -K xbveth1 tso off gso off gro off tx off >/dev/null && "
                   "ethtool -K xbveth0 tso off gso off gro off tx off >/dev/null && "
                   "ip link set xbveth0 up && ip addr add 10.0.0.2/24 dev xbveth1 && "
                   "ip link set xbveth1 up")
    yield
    guest.domu.run("ip link del xbveth0", check=False)


def test_tcp_jumbo_frames_multi_slot(guest, payload, mtu_back, veth):
    # DPDK 22.11's net_af_packet refuses an MTU over 1500 (max_rx_pktlen
    # 1518) but carries frames up to its framesz: only net_xenfront's MTU is
    # raised, the veth's is the kernel's.
    fwd = guest.start_front(["--forward-mode=io", "--mbuf-size=10240"],
                            vdevs=["net_af_packet0,iface=xbveth0,framesz=9216,blocksz=36864"],
                            mem=768)
    guest.wait_link(fwd)
    out = fwd.command("port config mtu 0 9000")
    assert "error" not in out.lower() and "fail" not in out.lower(), out
    fwd.command("start")
    guest.dom0.run(f"ip link set {guest.vif(0)} mtu 9000")
    times = both_ways(guest, payload)
    fwd.command("stop")
    x = fwd.xstats(0)
    rx_avg = x["rx_q0_bytes"] / max(1, x["rx_q0_packets"])
    tx_avg = x["tx_q0_bytes"] / max(1, x["tx_q0_packets"])
    big = guest.dom0.run(f"ip -d link show {guest.vif(0)}").output
    assert "MTU: 9000" in fwd.command("show port info 0")
    print(f"COUNTS TCP jumbo (MTU 9000): 8 MiB each way, SHA-256 equal; {times} s; "
          f"net_xenfront rx {x['rx_q0_packets']} packets averaging {rx_avg:.0f} B, "
          f"tx {x['tx_q0_packets']} averaging {tx_avg:.0f} B")
    assert "mtu 9000" in big, big
    # Most packets each way are full 9000-byte segments: more than two pages.
    assert rx_avg > 4096 and tx_avg > 4096, x
    assert x["rx_q0_bad_responses"] == 0 and x["tx_q0_bad_responses"] == 0, x
