# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Shared fixtures and helpers of the system tests: where the build is, how
DPDK applications load our drivers without hugepages, xensim and what it
counts, network namespaces, the example applications. Processes a test
starts (testpmd.py's TestPmd, the applications here, whatever a test names
with stop_at_teardown) are stopped at teardown whatever the test did; test
modules import only from here and from testpmd.py (and the tool modules
packets, pcapfile, ovs, dpdk_tools, xensim_env)."""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest

import pcapfile
import testpmd
from sanitizers import sanitized, sanitizer_env  # noqa: F401 (imported from here too)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("XENFRONT_BUILD_DIR", ROOT / "build")).resolve()


class Build:
    def __init__(self, path: pathlib.Path):
        self.path = path
        self.xenfront = path / "drivers/net/xenfront/librte_net_xenfront.so"
        self.xenback = path / "drivers/net/xenback/librte_net_xenback.so"

    def eal_args(self, prefix: str, *drivers: pathlib.Path) -> list:
        """EAL arguments for one DPDK process of a test: no hugepages, no
        PCI, its own file prefix, and our drivers loaded with -d."""
        args = ["--no-huge", "-m", "1024", "--no-pci", "--file-prefix", prefix,
                "--log-level", "lib.eal:warning"]
        for d in drivers:
            args += ["-d", str(d)]
        return args


@pytest.fixture(scope="session")
def build() -> Build:
    b = Build(build_dir())
    for lib in (b.xenfront, b.xenback):
        if not lib.exists():
            pytest.fail(f"{lib} is missing: build first (devtools/run.sh build)")
    return b


def dpdk_runtime_dir() -> pathlib.Path:
    """Where DPDK keeps each --file-prefix's runtime files (eal_filesystem.h):
    /var/run/dpdk for root, else under $XDG_RUNTIME_DIR or /tmp."""
    if os.geteuid() == 0:
        return pathlib.Path("/var/run/dpdk")
    return pathlib.Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / "dpdk"


@pytest.fixture
def prefix():
    """A DPDK --file-prefix unique to this test (and the prefixes a test
    derives from it by appending). DPDK leaves a runtime directory of about
    13 MB per process behind (its config and --no-huge memory map); they go
    with the test."""
    name = "xft" + uuid.uuid4().hex[:10]
    yield name
    for leftover in dpdk_runtime_dir().glob(name + "*"):
        shutil.rmtree(leftover, ignore_errors=True)


# ---- xensim (store daemon and toolstack) ----

def pytest_configure(config):
    config.addinivalue_line("markers", "gntalloc_limit(n): start xensim with this "
                            "per-domain grant limit (default 1024, as Linux gntalloc)")
    config.addinivalue_line("markers", "store_watch_delay(domid, ms): start xensim with "
                            "--watch-delay domid:ms (that domain's WATCH requests processed "
                            "ms late, as by a store slow to serve it)")


@pytest.fixture
def xensim(tmp_path, request):
    """A running xensim instance in a fresh directory under /dev/shm
    (tmpfs, so grant pages are RAM), stopped at teardown even if the test
    fails. With XENFRONT_SANITIZE=1 a sanitizer report from one of its
    daemons fails the test. @pytest.mark.gntalloc_limit(n) raises the grant
    limit, as an administrator raises xen_gntalloc's;
    @pytest.mark.store_watch_delay(domid, ms) slows the store's answer to
    that domain's watches."""
    import shutil
    import tempfile

    from xensim_env import XenSim

    sim = XenSim(build_dir(), sanitize=sanitized())
    if not sim.exe.exists():
        pytest.fail(f"{sim.exe} is missing: build first (ninja -C {build_dir()})")
    inst = pathlib.Path(tempfile.mkdtemp(prefix="xensim-test.", dir="/dev/shm"))
    try:
        marker = request.node.get_closest_marker("gntalloc_limit")
        delay = request.node.get_closest_marker("store_watch_delay")
        sim.start(inst, reports=tmp_path / "sanitizer",
                  gntalloc_limit=marker.args[0] if marker else None,
                  watch_delay=tuple(delay.args) if delay else None)
        yield sim
    finally:
        # The drivers' processes go before the store they talk to.
        try:
            stop_processes()
        finally:
            sim.stop()
            shutil.rmtree(inst, ignore_errors=True)
    reports = sim.sanitizer_reports()
    assert not reports, f"sanitizer reports from the xensim daemons: {reports}"


def hv(sim, domid):
    """xensim's hypervisor counters of one domain (grants, mappings, ports)."""
    return sim.status()["hv"]["domains"].get(str(domid), {})


# One queue pair without TSO: two ring pages, 128 tx pages of two
# 2048-byte copy slots (tx_slot_size) and 256 rx pages.
GRANTS_PER_QUEUE_PAIR = 2 + 256 // 2 + 256


def check_released(sim):
    """Nothing left once both processes are gone: no grant, mapping or
    event channel in either domain."""
    for domid in (0, 1):
        d = hv(sim, domid)
        assert d.get("grants_shared", 0) == 0, d
        assert d.get("mappings_held", 0) == 0, d
        assert d.get("evtchn_ports", 0) == 0, d


def check_connected_resources(sim, spares=0):
    """What one connected queue pair holds: its grants (and `spares` more)
    and two event channels in the guest, the two ring mappings in dom0."""
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR + spares, hv(sim, 1)
    assert hv(sim, 1)["evtchn_ports"] == 2, hv(sim, 1)
    assert hv(sim, 0)["mappings_held"] == 2, hv(sim, 0)


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# ---- processes a test starts ----

# How to stop what the running test started besides testpmd (an
# application's kill, OVS's stop): each stops it in bounded time and does
# nothing once it has stopped.
_stops = []


def stop_at_teardown(stop):
    """Calls `stop` at teardown (newest first, before testpmd is reaped),
    whatever the test did."""
    _stops.append(stop)


def stop_processes():
    """Stops what the test left running: what stop_at_teardown named, then
    every TestPmd (testpmd.reap: quit, killed if it hangs). Called before
    the fixtures the processes use go (xensim, the namespaces, the
    hugepages), and at the end of every test. All are stopped; the first
    failure is raised after."""
    failures = []
    while _stops:
        try:
            _stops.pop()()
        except Exception as e:  # noqa: BLE001 (raised below, once all are stopped)
            failures.append(e)
    try:
        testpmd.reap()
    except AssertionError as e:
        failures.append(e)
    if failures:
        raise failures[0]


@pytest.fixture(autouse=True)
def processes():
    """Every test: whatever processes it started are stopped at teardown,
    also when it failed half-way."""
    yield
    stop_processes()


# ---- two Linux network stacks (network namespaces) ----

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
        try:
            stop_processes()  # they may run in the namespaces
        finally:
            for n in names:
                sh("ip", "netns", "del", n, check=False)


def in_ns(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


def tcp_server(ns):
    """SERVER in namespace `ns`, listening; killed at teardown if the test
    did not see it finish."""
    server = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", SERVER],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop_at_teardown(server.kill)
    assert server.stdout.readline().strip() == "listening"
    return server


def tcp_transfer(tmp_path, ns_a, ns_b, size):
    """`size` random bytes over TCP from CLIENT in `ns_a` to SERVER in
    `ns_b`; the server's length and SHA-256 must be the data's."""
    import hashlib

    data = os.urandom(size)
    (tmp_path / "data").write_bytes(data)
    server = tcp_server(ns_b)
    client = in_ns(ns_a, "/usr/bin/python3", "-c", CLIENT, str(tmp_path / "data"),
                   check=False, timeout=120)
    server.wait(timeout=60)
    assert client.returncode == 0, client.stderr
    length, digest = client.stdout.split()
    assert int(length) == len(data)
    assert digest == hashlib.sha256(data).hexdigest()


# ---- the zero-copy example (examples/xenfront_zero_copy) ----

RESULT = re.compile(r"zero_copy: pool=(\w+) size=(\d+) sent=(\d+) seconds=([\d.]+) pps=(\d+) "
                    r"zero_copy_packets=(\d+) pool_back=(\d+)/(\d+)")


class ZeroCopyApp:
    """One xenfront-zero-copy process with --pause: the test reads the
    grant counts at each stage and lets it go on with a line on stdin."""

    def __init__(self, build, sim, prefix, args, devargs=""):
        exe = build.path / "examples/xenfront_zero_copy/xenfront-zero-copy"
        assert exe.exists(), f"{exe} is missing: build first"
        env = dict(os.environ)
        env.update(sim.env(1))
        env.update(sanitizer_env())
        # The example links the PMD itself: no -d.
        eal = build.eal_args(prefix + "z") + ["--lcores", "0@1", "--vdev",
                                               "net_xenfront0,vif=0" + devargs]
        self.proc = subprocess.Popen([str(exe)] + eal + ["--", "--pause"] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        stop_at_teardown(self.kill)
        self.output = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.output += line

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                m = re.search(pattern, self.output)
            if m:
                return m
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"exited ({self.proc.returncode}) before {pattern!r}:\n"
                                     f"{self.output[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in time:\n{self.output[-4000:]}")
            time.sleep(0.1)

    def go_on(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def finish(self, timeout=90):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            assert marker not in self.output, self.output[-6000:]
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)


def expected_frame(size, seg_size):
    """What the example sends: segments that each start with the same block
    (see examples/xenfront_zero_copy/main.c)."""
    seg_size = seg_size or size
    block = bytearray((j * 7 + 1) & 0xFF for j in range(seg_size))
    block[0:14] = pcapfile.mac(testpmd.PEER_MAC) + pcapfile.mac(testpmd.GUEST_MAC) + b"\x88\xb5"
    out = bytearray()
    while len(out) < size:
        out += block[:min(seg_size, size - len(out))]
    return bytes(out)


# ---- the receive-interrupt example (app/rx_intr) ----

# Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these.
TICKS = os.sysconf("SC_CLK_TCK")
COUNTERS = re.compile(r"rx_intr: rx=(\d+) wakeups=(\d+) sleeps=(\d+)")


class RxIntrApp:
    """One xenfront-rx-intr process (app/rx_intr): receives in interrupt
    mode and reports its counters on SIGUSR1."""

    def __init__(self, build, sim, prefix, devargs="", args=()):
        self._spawn(build, sim.env(1), build.eal_args(prefix + "i", build.xenfront) + [
            "--lcores", "0@0", "--vdev", "net_xenfront0,vif=0" + devargs],
            ["--idle-polls", "100", *args])
        self.fd = int(self.wait_for(r"rx_intr: port 0 ready, queue 0 fd (-?\d+)").group(1))

    def _spawn(self, build, domain_env, eal, app_args):
        """Starts the app with EAL arguments `eal` in the domain whose
        xensim environment is `domain_env`; a thread collects its output."""
        exe = build.path / "app/rx_intr/xenfront-rx-intr"
        assert exe.exists(), f"{exe} is missing: build first"
        env = dict(os.environ)
        env.update(domain_env)
        env.update(sanitizer_env())
        self.proc = subprocess.Popen([str(exe)] + eal + ["--", *app_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        stop_at_teardown(self.kill)
        self.output = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.output += line

    def wait_for(self, pattern, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                m = re.search(pattern, self.output[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                self.reader.join(timeout=5)
                with self.lock:
                    m = re.search(pattern, self.output[start:])
                assert m, (f"xenfront-rx-intr exited ({self.proc.returncode}) before "
                           f"{pattern!r}:\n{self.output[-3000:]}")
                return m
            assert time.monotonic() < deadline, \
                f"no {pattern!r} from xenfront-rx-intr:\n{self.output[-3000:]}"
            time.sleep(0.05)

    def counters(self):
        """(rx, wakeups, sleeps), asked for with SIGUSR1."""
        with self.lock:
            start = len(self.output)
        self.proc.send_signal(signal.SIGUSR1)
        m = self.wait_for(COUNTERS.pattern, start=start)
        return tuple(int(g) for g in m.groups())

    def wait_rx(self, want, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if c[0] >= want or time.monotonic() > deadline:
                return c
            time.sleep(0.2)

    def cpu_seconds(self):
        """utime + stime of the whole process (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def quit(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        for marker in ("ERROR: AddressSanitizer", "runtime error:"):
            assert marker not in self.output, self.output
        assert self.proc.returncode == 0, self.output[-3000:]
        return self.output

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
