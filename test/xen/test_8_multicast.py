# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 8: multicast control against Linux netback. net_xenfront lists one
group (testpmd `mcast_addr add`: an MCAST_ADD extra on its tx ring) and
turns all-multicast off (`request-multicast-control` 1, which netback
follows at once: it offers feature-dynamic-multicast-control); netback then
drops the frames of other groups toward the guest, broadcast and unicast
pass. All-multicast on again lets every group through.

netback filters only what the kernel classified as multicast on its way in
(skb->pkt_type PACKET_MULTICAST, set by eth_type_trans): frames written into
vif<D>.0 with a packet socket are PACKET_HOST and pass whatever the list.
So dom0's frames come in through a veth pair bridged with the vif, as a
bridged host's traffic does; IPv6 is off on the pair and the bridge, so
that only the test's frames (counted by their source address) are there."""

import re
import time

import pcapfile
from guest import GUEST_MAC, send_frames, wait_until

SRC = "02:00:00:00:aa:01"
LISTED = "01:00:5e:00:00:0a"
UNLISTED = "01:00:5e:00:00:0b"
# destination → frames sent: powers of two, so that a count names the kinds
KINDS = {LISTED: 8, UNLISTED: 16, "ff:ff:ff:ff:ff:ff": 4, GUEST_MAC: 2}

BRIDGE_UP = """set -e
ip link add xfbr0 type bridge
ip link add xfv0 type veth peer name xfv1
for i in xfbr0 xfv0 xfv1; do sysctl -qw net.ipv6.conf.$i.disable_ipv6=1; done
ip link set xfv1 master xfbr0
ip link set {vif} master xfbr0
ip link set xfbr0 up; ip link set xfv1 up; ip link set xfv0 up
"""
BRIDGE_DOWN = """ip link del xfv0 2>/dev/null
ip link set {vif} nomaster 2>/dev/null
ip link del xfbr0 2>/dev/null
true
"""


def frames():
    out = []
    for seed, (dst, n) in enumerate(KINDS.items()):
        out += pcapfile.make_frames(n, [64, 300], pcapfile.mac(dst), pcapfile.mac(SRC), seed)
    return out


def received_from_us(output: str, start: int) -> dict:
    """Frames from SRC that testpmd printed (`set verbose 1`) after
    `start`, by destination."""
    got = {}
    for m in re.finditer(r"src=([0-9A-F:]{17}) - dst=([0-9A-F:]{17})", output[start:]):
        if m.group(1).lower() == SRC:
            dst = m.group(2).lower()
            got[dst] = got.get(dst, 0) + 1
    return got


def send_and_count(guest, front, expect_total):
    start = len(front.output)
    sent = send_frames(guest.dom0, "xfv0", frames())
    wait_until(f"{expect_total} of the test's frames at the guest",
               lambda: sum(received_from_us(front.output, start).values()) >= expect_total,
               timeout=60)
    # More may still come if the filter let through what it should not.
    guest.wait_steady(lambda: sum(received_from_us(front.output, start).values()))
    return sent, received_from_us(front.output, start)


def test_multicast_filtered_by_linux_netback(guest):
    vif = guest.vif(0)
    front_dir = f"/local/domain/{guest.domid}/device/vif/0"
    guest.dom0.run(BRIDGE_UP.format(vif=vif))
    try:
        front = guest.start_front(["--forward-mode=rxonly"])
        guest.wait_link(front)
        features = {k: guest.dom0.run(
            f"xenstore-read /local/domain/0/backend/vif/{guest.domid}/0/{k}").output.strip()
            for k in ("feature-multicast-control", "feature-dynamic-multicast-control")}
        front.command("set verbose 1")
        front.command("start")

        out = front.command(f"mcast_addr add 0 {LISTED}")
        assert "fail" not in out.lower() and "error" not in out.lower(), out
        out = front.command("set allmulti 0 off")
        assert "fail" not in out.lower() and "error" not in out.lower(), out
        request = guest.dom0.run(f"xenstore-read {front_dir}/request-multicast-control")
        # netback takes the node from a xenstore watch and the group from the
        # tx ring, each in its own thread: give both a moment under TCG.
        time.sleep(2)
        filtered_want = {LISTED: 8, "ff:ff:ff:ff:ff:ff": 4, GUEST_MAC: 2}
        sent, got = send_and_count(guest, front, sum(filtered_want.values()))
        x = front.xstats(0)

        out = front.command("set allmulti 0 on")
        assert "fail" not in out.lower() and "error" not in out.lower(), out
        sent_all, got_all = send_and_count(guest, front, sum(KINDS.values()))
        front.command("stop")
        print(f"COUNTS multicast: netback feature-multicast-control="
              f"{features['feature-multicast-control']} dynamic="
              f"{features['feature-dynamic-multicast-control']}; request-multicast-control="
              f"{request.output.strip()}; all-multicast off: dom0 sent {sent}, the guest got "
              f"{got}; on: sent {sent_all}, got {got_all}; MCAST requests "
              f"{x.get('tx_q0_multicast_requests')}, refused {x.get('tx_q0_multicast_refused')}")
        assert features["feature-multicast-control"] == "1", features
        assert request.output.strip() == "1", request.output
        assert x["tx_q0_multicast_requests"] >= 1 and x["tx_q0_multicast_refused"] == 0, x
        assert got == filtered_want, got
        assert got_all == KINDS, got_all
    finally:
        guest.dom0.run(BRIDGE_DOWN.format(vif=vif), check=False)
