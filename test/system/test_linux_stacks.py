# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Two Linux network stacks joined through the whole path:

  netns A: kernel ↔ TAP ↔ testpmd (domain 1: net_tap ↔ net_xenfront)
      ↔ netif rings over xensim ↔
  netns B: testpmd (domain 0: net_xenback ↔ net_tap) ↔ TAP ↔ kernel

ping, then a TCP transfer whose SHA-256 must match at the far end."""

import hashlib
import os
import subprocess
import time
import uuid

import pytest

from test_traffic import backend, frontend, stop_all

SERVER = r"""
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", 5001))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(f"{n} {h.hexdigest()}".encode())
c.close()
"""

CLIENT = r"""
import socket, sys
data = open(sys.argv[1], "rb").read()
c = socket.create_connection(("10.77.0.2", 5001), timeout=60)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
print(c.recv(200).decode(), flush=True)
"""


def sh(*cmd, check=True, timeout=60):
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture
def namespaces():
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs as root)")
    tag = uuid.uuid4().hex[:6]
    names = (f"xfa{tag}", f"xfb{tag}")
    for n in names:
        sh("ip", "netns", "add", n)
    try:
        yield names
    finally:
        for n in names:
            sh("ip", "netns", "del", n, check=False)


def in_ns(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


def test_ping_and_tcp_between_two_kernels(build, xensim, prefix, namespaces, tmp_path):
    ns_a, ns_b = namespaces
    xensim.vif_add(1, 0)
    app = ["--forward-mode=io"]
    back = front = None
    try:
        # Each testpmd runs in its namespace, so its TAP device is born there.
        back = backend(build, xensim, prefix, app=app, wrapper=["ip", "netns", "exec", ns_b],
                       extra_vdevs=["net_tap0,iface=xbk0"])
        front = frontend(build, xensim, prefix, app=app, wrapper=["ip", "netns", "exec", ns_a],
                         extra_vdevs=["net_tap1,iface=xft0"])
        front.wait_link(0)
        back.wait_link(0)
        in_ns(ns_a, "ip", "addr", "add", "10.77.0.1/24", "dev", "xft0")
        in_ns(ns_b, "ip", "addr", "add", "10.77.0.2/24", "dev", "xbk0")
        for ns, dev in ((ns_a, "xft0"), (ns_b, "xbk0")):
            in_ns(ns, "ip", "link", "set", dev, "up")
            in_ns(ns, "ip", "link", "set", "lo", "up")
        back.command("start")
        front.command("start")

        ping = in_ns(ns_a, "ping", "-c", "5", "-i", "0.2", "-W", "2", "10.77.0.2",
                     check=False, timeout=60)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert " 0% packet loss" in ping.stdout, ping.stdout

        data = os.urandom(4 * 1024 * 1024)
        (tmp_path / "data").write_bytes(data)
        server = subprocess.Popen(["ip", "netns", "exec", ns_b, "/usr/bin/python3", "-c", SERVER],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        client = in_ns(ns_a, "/usr/bin/python3", "-c", CLIENT, str(tmp_path / "data"),
                       check=False, timeout=120)
        server.wait(timeout=60)
        assert client.returncode == 0, client.stderr
        length, digest = client.stdout.split()
        assert int(length) == len(data)
        assert digest == hashlib.sha256(data).hexdigest()

        # Stop the frontend first and let the ring drain before counting.
        front.command("stop")
        time.sleep(0.5)
        back.command("stop")
        fx = front.xstats(0)
        bx = back.xstats(0)
        assert fx["rx_q0_bad_responses"] == 0 and fx["tx_q0_bad_responses"] == 0, fx
        # 4 MiB in ~1448-byte segments, plus ARP, ICMP and ACKs.
        assert fx["tx_q0_packets"] >= 2000, fx
        assert bx["rx_q0_packets"] == fx["tx_q0_packets"], (fx, bx)
    finally:
        stop_all(front, back)
