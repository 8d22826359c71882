# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 6: the dom0 side. The guest's Linux netfront served by net_xenback in
dom0 instead of Linux netback, set up as doc/guides/nics/xenback.rst
("Serving a libxl guest") tells an administrator: the port added first
(`domain=domu,vif=2`: it waits for that guest's vif 2), Linux netback kept
off the new vif (`drivers_autoprobe` 0 while `xl network-attach` makes it),
a hotplug script that only reports the vif connected. dpdk-testpmd in dom0
forwards between net_xenback and a TAP holding 10.0.2.1; the guest's
kernel has 10.0.2.2 on eth2. Then: ping, 8 MiB of TCP each way, two queues
of Linux netfront fed by net_xenback, and `xl destroy` of the guest under
traffic: net_xenback stays up and serves the next guest of the same name.

This case destroys and recreates the guest: it runs after the cases that
need the first one."""

import hashlib
import os
import re
import time

import pytest

from guest import tcp_transfer, wait_until

DEVID = 2
MAC = "00:16:3e:00:02:02"
TAP = "xbtap2"
SIZE = 8 * 1024 * 1024


def attach_vif_for_user_space(guest):
    """xl network-attach with Linux netback kept off the new vif."""
    guest.dom0.run("echo 0 > /sys/bus/xen-backend/drivers_autoprobe")
    try:
        res = guest.dom0.run(f"xl network-attach {guest.domid} devid={DEVID} mac={MAC} "
                             "script=vif-xenbed", timeout=300, check=False)
    finally:
        guest.dom0.run("echo 1 > /sys/bus/xen-backend/drivers_autoprobe")
    assert res.returncode == 0, res.output
    guest.bed.wait_vif_connected(DEVID, timeout=300)
    guest.domu.run(f"xenbed-vif {DEVID}", timeout=300)


def queue_interrupts(guest) -> dict:
    """Interrupts of each receive queue of vif 2 in the guest
    (/proc/interrupts: Linux netfront names them vif<devid>-q<N>-rx with
    split event channels)."""
    text = guest.domu.run("cat /proc/interrupts").output
    counts = {}
    for line in text.splitlines():
        m = re.search(rf"\s(vif{DEVID}-q(\d+)-rx)\s*$", line)
        if m:
            fields = line.split()
            counts[int(m.group(2))] = sum(int(f) for f in fields[1:] if f.isdigit())
    return counts


UDP_FLOWS = r"""
import socket, sys
for port in range(40000, 40000 + int(sys.argv[2])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.2.1", port))
    for _ in range(int(sys.argv[3])):
        s.sendto(b"x" * 200, (sys.argv[1], 9))
    s.close()
"""


@pytest.fixture
def payload(guest):
    data = os.urandom(SIZE)
    for dom in (guest.dom0, guest.domu):
        dom.put("/tmp/xb_payload.bin", data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def detach_at_end(guest):
    """The user-space vif goes before its backend does (the guest of the
    moment: the test replaces the first one)."""
    yield
    if guest.domid is not None:
        guest.dom0.run(f"xl network-detach {guest.domid} {DEVID}", check=False, timeout=300)


def test_linux_netfront_served_by_net_xenback(guest, payload, detach_at_end):
    guest.dom0.run("modprobe tun")
    back = guest.testpmd(guest.dom0, "xenback",
                         [f"net_xenback0,domain=domu,vif={DEVID},max_queues=2",
                          f"net_tap0,iface={TAP}"],
                         ["--forward-mode=io", "--rxq=2", "--txq=2"], drivers=("XENBACK_PMD",))
    back.command("start")
    guest.dom0.run(f"ip addr replace 10.0.{DEVID}.1/24 dev {TAP} && ip link set {TAP} up")
    attach_vif_for_user_space(guest)
    guest.wait_link(back)
    owner = guest.dom0.run(f"ls /sys/bus/xen-backend/devices/vif-{guest.domid}-{DEVID}/driver "
                           "2>&1 || true").output
    queues = guest.domu.run(f"xenstore-read device/vif/{DEVID}/multi-queue-num-queues").output
    ping = guest.dom0.run(f"ping -c 5 -W 5 10.0.{DEVID}.2 && "
                          f"ping -c 3 -W 5 -s 1472 -M do 10.0.{DEVID}.2 && "
                          f"ping -c 3 -W 5 -s 4000 10.0.{DEVID}.2", check=False, timeout=120)
    assert ping.returncode == 0, ping.output
    times = {}
    for name, server, addr, client, port in (
            ("dom0->domU", guest.domu, f"10.0.{DEVID}.2", guest.dom0, 5101),
            ("domU->dom0", guest.dom0, f"10.0.{DEVID}.1", guest.domu, 5102)):
        length, digest, seconds = tcp_transfer(server, addr, client, "/tmp/xb_payload.bin", port)
        assert (length, digest) == (SIZE, payload), name
        times[name] = seconds

    # Two queues: Linux netfront never uses the control ring, so
    # net_xenback spreads flows by a flow hash, as netback does.
    before = queue_interrupts(guest)
    guest.dom0.put("/tmp/udp_flows.py", UDP_FLOWS.encode())
    guest.dom0.run(f"python3 /tmp/udp_flows.py 10.0.{DEVID}.2 32 20")
    time.sleep(2)
    after = queue_interrupts(guest)
    spread = {q: after[q] - before.get(q, 0) for q in after}
    x = back.xstats(0)
    ctrl = guest.domu.run(f"xenstore-read device/vif/{DEVID}/ctrl-ring-ref 2>&1 || true").output
    print(f"COUNTS net_xenback: Linux netfront connected {queues.strip()} queues to "
          f"net_xenback (kernel driver on the backend device: {owner.strip()!r}); ping 56, "
          f"1472 (DF) and 4000 B ok; 8 MiB TCP each way {times} s; 32 UDP flows: guest rx "
          f"interrupts per queue {spread}; net_xenback to-guest packets per queue "
          f"{[x.get(f'tx_q{q}_packets') for q in (0, 1)]}; ctrl-ring-ref: {ctrl.strip()!r}")
    assert "No such file" in owner, owner  # Linux netback does not hold it
    assert queues.strip() == "2"
    assert len(spread) == 2 and all(v > 0 for v in spread.values()), spread
    assert x["tx_q0_packets"] > 0 and x["tx_q1_packets"] > 0, x

    # xl destroy under traffic: net_xenback's process stays, the link goes
    # down, and the next guest named domu is served by the same port.
    flood = guest.dom0.popen(["ping", "-f", "-w", "60", f"10.0.{DEVID}.2"], stdin=False)
    time.sleep(3)
    mark = len(back.output)
    guest.dom0.run(f"xl destroy {guest.domid}", timeout=300)
    guest.bed.domu_id = None
    back.wait_for(r"Port 0: link state change event", timeout=120, start=mark)
    info = back.command("show port info 0")
    assert "Link status: down" in info, info
    flood.kill()
    t0 = time.monotonic()
    guest.bed.create_domu()
    attach_vif_for_user_space(guest)
    guest.wait_link(back)
    ping = guest.dom0.run(f"ping -c 5 -W 5 10.0.{DEVID}.2", check=False, timeout=120)
    print(f"COUNTS next guest: domain {guest.domid} (same name) served by the same port "
          f"{time.monotonic() - t0:.0f} s after the old one was destroyed; ping: "
          f"{ping.output.strip().splitlines()[-2] if ping.output.strip() else ''}")
    assert ping.returncode == 0, ping.output
    wait_until("the port counted traffic to the new guest",
               lambda: back.stats(0)["opackets"] > 0, timeout=30)
