# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Two Linux network stacks joined through the whole path:

  netns A: kernel ↔ TAP ↔ testpmd (domain 1: net_tap ↔ net_xenfront)
      ↔ netif rings over xensim ↔
  netns B: testpmd (domain 0: net_xenback ↔ net_tap) ↔ TAP ↔ kernel

ping, then a TCP transfer whose SHA-256 must match at the far end."""

import time

from conftest import in_ns, tcp_transfer
from testpmd import backend, frontend, stop_all

def test_ping_and_tcp_between_two_kernels(build, xensim, prefix, namespaces, tmp_path):
    ns_a, ns_b = namespaces
    xensim.vif_add(1, 0)
    app = ["--forward-mode=io"]
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

    tcp_transfer(tmp_path, ns_a, ns_b, 4 * 1024 * 1024)

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
    stop_all(front, back)
