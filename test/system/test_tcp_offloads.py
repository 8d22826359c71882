# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""A real TCP stream between two kernels through the whole path, with the
offloads doing their job, as a virtual switch's datapath would use them:
xf-offload-fwd in the guest merges the kernel's segments (GRO on the TAP
port) and sends them with TSO through net_xenfront, so packets far larger
than the MTU cross the Xen rings; in dom0 net_xenback hands them over whole
(LRO) and xf-offload-fwd sends them to its TAP with TSO. 100 MiB must arrive
intact (SHA-256), with offloads and with every offload switched off on the
backend; the throughput of both runs is printed."""

import hashlib
import os
import re
import signal
import subprocess
import time

from conftest import CLIENT, in_ns, sanitizer_env, stop_at_teardown, tcp_server

MIB = 1024 * 1024


class Forwarder:
    """xf-offload-fwd between our PMD's port and a TAP in a namespace."""

    def __init__(self, build, env, ns, eal_prefix, vdev, tap, offloads, lcore):
        exe = build.path / "app/offload-fwd/xf-offload-fwd"
        lib = build.xenfront if vdev.startswith("net_xenfront") else build.xenback
        full_env = dict(os.environ)
        full_env.update(sanitizer_env())
        full_env.update(env)
        cmd = ["ip", "netns", "exec", ns, str(exe)] + build.eal_args(eal_prefix, lib) + [
            "-l", str(lcore), "--vdev", vdev, "--vdev", f"net_tap0,iface={tap}", "--",
            f"--offloads={'on' if offloads else 'off'}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=full_env)
        stop_at_teardown(self.kill)
        self.lines = []
        deadline = time.monotonic() + 60
        while True:
            line = self.proc.stdout.readline()
            assert line, f"xf-offload-fwd exited: {''.join(self.lines)}"
            self.lines.append(line)
            if line.startswith("forwarding"):
                return
            assert time.monotonic() < deadline, "".join(self.lines)

    def stop(self):
        """SIGINT; returns the counters it printed, by port id."""
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=60)
        self.lines.append(out)
        text = "".join(self.lines)
        for marker in ("ERROR: AddressSanitizer", "runtime error:"):
            assert marker not in text, text
        assert self.proc.returncode == 0, text
        counters = {}
        for m in re.finditer(r"port (\d+): ((?:\w+ \d+ ?)+)", text):
            vals = m.group(2).split()
            counters[int(m.group(1))] = dict(zip(vals[::2], map(int, vals[1::2])))
        return counters

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def transfer(ns_a, path):
    start = time.monotonic()
    client = in_ns(ns_a, "/usr/bin/python3", "-c", CLIENT, str(path), check=False, timeout=300)
    elapsed = time.monotonic() - start
    assert client.returncode == 0, client.stderr
    length, digest = client.stdout.split()
    return int(length), digest, elapsed


def run(build, sim, prefix, ns_a, ns_b, data_path, offloads):
    back_devargs = "" if offloads else ",csum=0,ipv6_csum=0,gso_tcpv4=0,gso_tcpv6=0"
    back = Forwarder(build, sim.env(0), ns_b, prefix + "b", "net_xenback0,domid=1,vif=0" +
                     back_devargs, "xbk0", offloads, lcore=0)
    front = Forwarder(build, sim.env(1), ns_a, prefix + "f", "net_xenfront0,vif=0", "xft0",
                      offloads, lcore=1)
    for ns, dev, addr in ((ns_a, "xft0", "10.77.0.1/24"), (ns_b, "xbk0", "10.77.0.2/24")):
        in_ns(ns, "ip", "addr", "replace", addr, "dev", dev)
        in_ns(ns, "ip", "link", "set", dev, "up")
        in_ns(ns, "ip", "link", "set", "lo", "up")
    ping = in_ns(ns_a, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2", check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    server = tcp_server(ns_b)
    result = transfer(ns_a, data_path)
    server.wait(timeout=60)
    fc = front.stop()
    bc = back.stop()
    print("guest forwarder:", fc, "dom0 forwarder:", bc)
    return result, fc, bc


def test_tcp_stream_with_and_without_offloads(build, xensim, prefix, namespaces, tmp_path):
    ns_a, ns_b = namespaces
    xensim.vif_add(1, 0)
    size = int(os.environ.get("XENFRONT_TCP_MIB", "100")) * MIB
    data = os.urandom(size)
    data_path = tmp_path / "data"
    data_path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    results = {}
    for offloads in (True, False):
        (length, got, elapsed), fc, bc = run(build, xensim, prefix + str(int(offloads)), ns_a,
                                             ns_b, data_path, offloads)
        assert length == size and got == digest, offloads
        results[offloads] = (elapsed, fc, bc)
    on, off = results[True], results[False]
    # With offloads the guest's forwarder sent TSO packets into net_xenfront
    # (port 0) and dom0's received them whole from net_xenback (LRO) and
    # sent them to its TAP with TSO; without, nothing was merged.
    assert on[1][1]["merged"] > 0 and on[1][0]["tso"] > 0, on[1]
    assert on[2][1]["tso"] > 0, on[2]
    assert off[1][1]["merged"] == 0 and off[1][0]["tso"] == 0, off[1]
    print(f"\nTCP {size // MIB} MiB through the rings: offloads on {size / on[0] / MIB:.1f} MiB/s "
          f"(guest sent {on[1][0]['tso']} TSO packets), off {size / off[0] / MIB:.1f} MiB/s; "
          f"ratio on/off {off[0] / on[0]:.2f}")
