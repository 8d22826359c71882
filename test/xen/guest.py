# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""What the real-Xen cases do in the domains: take vif 0 from Linux
netfront and give it back with the project's tool (xen-vifbind, installed
in the domU), run dpdk-testpmd in either domain (driven at its prompt as in
test/system), read counters of Linux netback's vif in dom0.

TCG runs the guests tens of times slower than hardware: waits are long,
bounded, and name what did not happen."""

import json
import struct
import re
import shlex
import time

from testpmd import TestPmd

GUEST_MAC = "00:16:3e:00:00:02"  # vif 0's MAC in the domU's xl config
VIF_TIMEOUT = 180  # seconds for a vif to change hands under TCG
START_TIMEOUT = 240  # seconds for dpdk-testpmd to reach its prompt under TCG
COMMAND_TIMEOUT = 120


class Guest:
    """One test's view of the bed; cleanup() stops what the test started
    and hands vif 0 back to Linux netfront if the test took it."""

    def __init__(self, bed, test_name: str):
        self.bed = bed
        self.dom0 = bed.dom0
        self.domu = bed.domu
        self.tag = re.sub(r"[^A-Za-z0-9]", "", test_name)[-24:]
        self.procs = []
        self.taken = set()
        env = self.domu.run("cat /etc/xenbed/env").output
        self.paths = dict(line.split("=", 1) for line in env.split())

    @property
    def domid(self) -> int:
        return self.bed.domu_id

    def vif(self, devid: int = 0) -> str:
        """dom0's netdev of the domU's vif (Linux netback's vif<D>.<N>)."""
        return f"vif{self.domid}.{devid}"

    # The vif -----------------------------------------------------------

    def take_vif(self, devid: int = 0):
        """xen-vifbind takes vif N from Linux netfront (its interface down
        first, as the tool asks)."""
        self.domu.run(f"ip link set eth{devid} down 2>/dev/null; "
                      f"{self.paths['VIFBIND']} --to-userspace vif-{devid} --apply "
                      f"--timeout {VIF_TIMEOUT}", timeout=VIF_TIMEOUT + 60)
        self.taken.add(devid)

    def give_back_vif(self, devid: int = 0):
        """xen-vifbind gives vif N back to Linux netfront; the interface is
        named and addressed again (xenbed-vif)."""
        self.domu.run(f"{self.paths['VIFBIND']} --to-kernel vif-{devid} --apply "
                      f"--timeout {VIF_TIMEOUT} && xenbed-vif {devid}",
                      timeout=VIF_TIMEOUT + 60)
        self.taken.discard(devid)

    def vif_states(self, devid: int = 0):
        """(backend, frontend) xenbus states of vif N, as strings."""
        return self.bed.vif_states(devid)

    # Programs ----------------------------------------------------------

    def eal(self, domain, prefix: str, vdevs, drivers=(), mem: int = 512) -> list:
        args = ["--no-huge", "-m", str(mem), "--no-pci", "--file-prefix", prefix, "-l", "0,1",
                "--log-level", "lib.eal:warning"]
        for d in drivers:
            args += ["-d", self.paths[d]]
        for v in vdevs:
            args += ["--vdev", v]
        return args

    def testpmd(self, domain, name: str, vdevs, app=(), drivers=("XENFRONT_PMD",),
                mem: int = 512) -> TestPmd:
        """dpdk-testpmd at its prompt in `domain` (bed.dom0 or bed.domu).
        --total-num-mbufs: testpmd's default pool is sized for 32 ports
        and does not fit the domains' memory."""
        prefix = f"{name}{self.tag}"[:40]
        eal = self.eal(domain, prefix, vdevs, drivers, mem)
        tp = TestPmd(eal, ["--total-num-mbufs=16384"] + list(app), {}, f"{domain.name} {name}",
                     popen=lambda argv, env: domain.popen(argv, env),
                     start_timeout=START_TIMEOUT)
        self.procs.append(tp)
        return tp

    def start_front(self, app=(), devargs: str = "", vdevs=(), mem: int = 512) -> TestPmd:
        """testpmd with net_xenfront on vif 0 in the domU (taken first)."""
        if 0 not in self.taken:
            self.take_vif(0)
        tp = self.testpmd(self.domu, "front", [f"net_xenfront0,vif=0{devargs}", *vdevs], app,
                          mem=mem)
        return tp

    def wait_link(self, tp: TestPmd, port: int = 0, timeout: float = 180):
        """Waits for the port's link; on failure says what xenstore shows of
        the vif at both ends."""
        try:
            tp.wait_link(port, timeout=timeout)
        except AssertionError as e:
            d = self.domid
            dump = self.dom0.run(f"xenstore-ls -f /local/domain/0/backend/vif/{d}/0; "
                                 f"xenstore-ls -f /local/domain/{d}/device/vif/0", check=False)
            raise AssertionError(f"{e}\n--- xenstore of vif 0:\n{dump.output}") from None

    def cleanup(self):
        for tp in reversed(self.procs):
            if tp.proc.poll() is None:
                try:
                    tp.quit(timeout=COMMAND_TIMEOUT)
                except AssertionError:
                    pass  # kill() below
            tp.kill()
        for devid in sorted(self.taken):
            self.give_back_vif(devid)

    # Counters ----------------------------------------------------------

    def link_stats(self, domain, ifname: str) -> dict:
        """A Linux interface's counters (ip -s -j link): rx_packets,
        rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped, ..."""
        out = domain.run(f"ip -s -j link show {shlex.quote(ifname)}").output
        s = json.loads(out)[0]["stats64"]
        flat = {}
        for direction in ("rx", "tx"):
            for key, value in s[direction].items():
                flat[f"{direction}_{key}"] = value
        return flat

    def wait_steady(self, read, timeout: float = 60, settle: float = 3):
        """read() until it returns the same value twice `settle` seconds
        apart (in-flight packets have landed)."""
        deadline = time.monotonic() + timeout
        last = read()
        while True:
            time.sleep(settle)
            now = read()
            if now == last:
                return now
            if time.monotonic() > deadline:
                raise AssertionError(f"counters still moving after {timeout} s: {last} -> {now}")
            last = now


# What the domU holds, read from the hypervisor and from the guest's kernel.

# A Python prelude for the domU: libxengnttab's gntshr device opened, and
# share(ref) granting one page to dom0 (0 when gntalloc's limit is reached).
GNTSHR = r"""
import ctypes
g = ctypes.CDLL("libxengnttab.so.1")
g.xengntshr_open.restype = ctypes.c_void_p
g.xengntshr_open.argtypes = [ctypes.c_void_p, ctypes.c_uint]
g.xengntshr_share_pages.restype = ctypes.c_void_p
g.xengntshr_share_pages.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_uint32), ctypes.c_int]
h = g.xengntshr_open(None, 0)
ref = ctypes.c_uint32()
def share():
    return g.xengntshr_share_pages(h, 0, 1, ctypes.byref(ref), 0)
"""

GNTALLOC_FREE = GNTSHR + r"""
n = 0
while n < 1 << 20 and share():
    n += 1
print(n)  # the process's exit gives them all back
"""


def gntalloc_free(guest) -> int:
    """How many more pages gntalloc lets the domU's processes grant: share
    pages one at a time until the module refuses (a separate process, whose
    exit gives them back)."""
    res = guest.domu.run("python3 - 2>/dev/null <<'EOF'\n" + GNTALLOC_FREE + "EOF\n")
    return int(res.output.split()[-1])


def gntalloc_limit(guest) -> int:
    return int(guest.domu.run("cat /sys/module/xen_gntalloc/parameters/limit").output)


def xen_debug_dump(guest, key: str) -> str:
    """What Xen prints for a debug key (xl debug-keys), from its console ring."""
    return guest.dom0.run(f"xl dmesg -c >/dev/null; xl debug-keys {key}; sleep 0.5; xl dmesg",
                          timeout=120).output


def event_channels(guest, domid: int) -> int:
    """Event channels domain `domid` has open, as Xen's 'e' key lists them."""
    out = xen_debug_dump(guest, "e")
    m = re.search(rf"Event channel information for domain {domid}:\n(.*?)"
                  r"(?=Event channel information for domain|\Z)", out, re.S)
    assert m, f"no event channels of domain {domid} in:\n{out[-3000:]}"
    return len(re.findall(r"\]: s=[1-9]", m.group(1)))


def active_grants(guest, domid: int) -> int:
    """Grants of domain `domid` that another domain holds mapped or is
    copying (Xen's 'g' key: the active entries of its grant table)."""
    out = xen_debug_dump(guest, "g")
    m = re.search(rf"grant-table for remote d{domid} .*?\n(.*?)"
                  r"(?=grant-table for remote|gnttab_usage_print_all \]|\Z)", out, re.S)
    assert m, f"no grant table of domain {domid} in:\n{out[-3000:]}"
    return len(re.findall(r"\[0x[0-9a-f]+\]", m.group(1)))


class GntallocLimit:
    """Sets the domU's gntalloc limit for a test, and restores it."""

    def __init__(self, guest, limit: int):
        self.guest = guest
        self.saved = gntalloc_limit(guest)
        guest.domu.run(f"echo {limit} > /sys/module/xen_gntalloc/parameters/limit")

    def restore(self):
        self.guest.domu.run(f"echo {self.saved} > /sys/module/xen_gntalloc/parameters/limit")


SEND_FRAMES = r"""
import socket, struct, sys, time
ifname, path, gap = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(path, "rb").read()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
off = n = 0
while off < len(data):
    (length,) = struct.unpack_from("!I", data, off)
    s.send(data[off + 4:off + 4 + length])
    off += 4 + length
    n += 1
    time.sleep(gap)
print(n)
"""


def send_frames(domain, ifname: str, frames, gap: float = 0.002) -> int:
    """Sends whole Ethernet frames out of `ifname` in `domain` with a packet
    socket (the kernel's own path into netback), `gap` seconds apart."""
    blob = b"".join(struct.pack("!I", len(f)) + f for f in frames)
    domain.put("/tmp/frames.bin", blob)
    domain.put("/tmp/send_frames.py", SEND_FRAMES.encode())
    res = domain.run(f"python3 /tmp/send_frames.py {shlex.quote(ifname)} /tmp/frames.bin {gap}",
                     timeout=300)
    return int(res.output.split()[-1])


def wait_until(what: str, done, timeout: float, interval: float = 1):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


TCP_SERVER = r"""
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(600)
print("listening", flush=True)
c, _ = s.accept()
c.settimeout(600)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(f"{n} {h.hexdigest()}".encode())
c.close()
print(n, h.hexdigest(), flush=True)
"""

TCP_CLIENT = r"""
import socket, sys, time
data = open(sys.argv[3], "rb").read()
t = time.monotonic()
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=600)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = c.recv(200)
    if not b:
        break
    reply += b
print(reply.decode(), f"{time.monotonic() - t:.1f}", flush=True)
"""


def tcp_transfer(server_dom, server_addr: str, client_dom, path: str, port: int):
    """Sends the file at `path` (in the client's domain) over TCP to a
    server in the other; returns (bytes the server counted, their SHA-256,
    seconds)."""
    for dom in (server_dom, client_dom):
        dom.put("/tmp/tcp_server.py", TCP_SERVER.encode())
        dom.put("/tmp/tcp_client.py", TCP_CLIENT.encode())
    server = server_dom.popen(["python3", "/tmp/tcp_server.py", server_addr, str(port)],
                              stdin=False)
    line = server.stdout.readline().decode().strip()
    assert line == "listening", line
    res = client_dom.run(f"python3 /tmp/tcp_client.py {server_addr} {port} {path}",
                         timeout=900, check=False)
    server.wait(timeout=120)
    assert res.returncode == 0, res.output
    length, digest, seconds = res.output.split()
    return int(length), digest, float(seconds)
