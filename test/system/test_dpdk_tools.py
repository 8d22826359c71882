# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's operator tools on a running dpdk-testpmd that drives net_xenfront:
dpdk-telemetry.py shows the port and its xstats under stable names, with
the values testpmd shows. dpdk-proc-info, a secondary process, shows the
same once the primary has hugepages (net_xenfront attaches read-only in a
secondary); without hugepages no secondary can attach, whatever its PMDs.
dpdk-dumpcap and dpdk-pdump capture every packet of a net_xenfront or
net_xenback port once they register the mempool drivers testpmd links
(see doc/guides/nics/xenfront.rst, "DPDK tools")."""

import os
import re
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import sanitized, sanitizer_env, stop_at_teardown, stop_processes
from testpmd import GUEST_MAC, SMALL, TestPmd, backend, frontend, stop_all, wait_counter

import pcapfile
from dpdk_tools import primary_mempool_drivers, telemetry

# The driver's per-queue xstats, in order (xenfront_ethdev.cc); tools and
# users rely on these names.
RX_NAMES = ["packets", "bytes", "errors", "mbuf_alloc_failed", "notifications",
            "bad_responses", "oversize", "too_many_slots", "extra_info", "gso_packets",
            "csum_blank", "bad_id", "bad_status", "bad_size", "bad_extra", "bad_chain",
            "ring_overrun", "fanout_packets", "fanout_bytes", "fanout_dropped", "lcore", "bursts",
            "attached", "copybreak_fallback", "unpolled_packets"]
TX_NAMES = ["packets", "bytes", "errors", "dropped", "notifications", "ring_full",
            "bad_responses", "offload_refused", "bad_status", "bad_id", "lost_ids",
            "ring_overrun", "fanout_packets", "fanout_bytes", "lcore", "bursts",
            "zero_copy_packets", "multicast_requests", "multicast_refused"]
# A secondary process maps the primary's memory at the same addresses. The
# primary's default, just below the shared libraries, is often taken in the
# secondary (always a gamble with the sanitizer runtimes preloaded: "Cannot
# reserve ... please use '--base-virtaddr'"); 32 TiB is above ASan's shadow
# and below where mmap places things.
PRIMARY_VA = ["--base-virtaddr", "0x200000000000"]
# The driver's port xstats, after the queues'.
PORT_NAMES = ["ctrl_errors", "store_reconnects"]
# What ethdev adds in front of a driver's xstats (rte_eth_basic_stats_strings).
ETHDEV_NAMES = ["rx_good_packets", "tx_good_packets", "rx_good_bytes", "tx_good_bytes",
                "rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"]


def test_telemetry_shows_port_and_xstats(build, xensim, prefix):
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, xensim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.command("start")
    front.command("start")
    time.sleep(1)
    front.command("stop")
    time.sleep(0.5)
    back.command("stop")
    shown = front.xstats(0)

    ports, info, xstats, link = telemetry(
        prefix + "f", "/ethdev/list", "/ethdev/info,0", "/ethdev/xstats,0",
        "/ethdev/link_status,0")
    assert ports["/ethdev/list"] == [0], ports
    info = info["/ethdev/info"]
    assert info["name"] == "net_xenfront0", info
    assert info["mac_addr"].lower() == "00:16:3e:00:01:00", info
    assert link["/ethdev/link_status"]["status"] == "UP", link
    xstats = xstats["/ethdev/xstats"]
    want = (ETHDEV_NAMES + [f"rx_q0_{n}" for n in RX_NAMES] +
            [f"tx_q0_{n}" for n in TX_NAMES] + PORT_NAMES)
    assert list(xstats) == want, list(xstats)
    # The same values testpmd shows (traffic has stopped).
    assert xstats == shown, (xstats, shown)
    assert xstats["tx_q0_packets"] > 1000 and xstats["tx_q0_bad_responses"] == 0, xstats
    assert xstats["tx_good_packets"] == xstats["tx_q0_packets"], xstats
    stop_all(front, back)


def test_secondary_tools_need_hugepages(build, xensim, prefix):
    """dpdk-proc-info (and dpdk-dumpcap/dpdk-pdump, the same EAL path) as a
    secondary of a --no-huge testpmd: EAL stops before any driver is
    involved, because a --no-huge primary's memory is private to it (no
    hugepage_data file to map)."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, xensim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    env = xensim.env(1)
    for eal, why in ((["--no-pci"], "Cannot get hugepage information"),
                     (["--no-pci", "--no-huge"],
                      f"Could not open /var/run/dpdk/{prefix}f/hugepage_data")):
        r = subprocess.run(["dpdk-proc-info", "--file-prefix", prefix + "f"] + eal +
                           ["--", "--xstats"], capture_output=True, text=True,
                           env=env, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and why in out, out
    # The primary is unaffected.
    assert front.link_up(0)
    stop_all(front, back)


@pytest.fixture
def hugepages():
    """A private hugetlbfs mount backed by 64 more 2 MiB pages than the
    host had, reserved for it (min_size) so that no other process on the
    host takes them; both undone at teardown."""
    nr = "/proc/sys/vm/nr_hugepages"
    if os.geteuid() != 0:
        pytest.fail("reserving hugepages needs root (CI runs as root)")
    with open(nr) as f:
        old = int(f.read())
    with open(nr, "w") as f:
        f.write(str(old + 64))
    mnt = tempfile.mkdtemp(prefix="xenfront-huge.")
    try:
        with open(nr) as f:
            if int(f.read()) < old + 64:
                pytest.fail("the kernel would not reserve 64 more hugepages")
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M,min_size=128M", "none", mnt],
                       check=True)
        yield mnt
    finally:
        stop_processes()  # the test's processes hold the hugepages
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)
        with open(nr, "w") as f:
            f.write(str(old))


def proc_info(prefix, env, *args):
    """dpdk-proc-info as a secondary of the primary with --file-prefix
    `prefix`, with net_xenfront loaded so that it can see the port."""
    from conftest import build_dir, sanitizer_env
    lib = build_dir() / "drivers/net/xenfront/librte_net_xenfront.so"
    env = dict(env)
    env.update(sanitizer_env())
    r = subprocess.run(["dpdk-proc-info", "--file-prefix", prefix, "--no-pci", "-d", str(lib),
                        "--"] + list(args),
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def test_proc_info_with_hugepages(build, xensim, prefix, hugepages):
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    eal = PRIMARY_VA + ["--huge-dir", hugepages, "-m", "96", "--no-pci", "--file-prefix", prefix + "h",
           "--log-level", "lib.eal:warning", "-d", str(build.xenfront),
           "--lcores", "0@1,1@0", "--vdev", "net_xenfront0,vif=0"]
    front = TestPmd(eal, ["--forward-mode=txonly", "--total-num-mbufs=2048"],
                    xensim.env(1), "frontend testpmd (hugepages)")
    front.wait_link(0)
    back.command("start")
    front.command("start")
    time.sleep(1)
    front.command("stop")
    time.sleep(0.5)
    shown = front.xstats(0)
    stats = front.stats(0)
    assert shown["tx_q0_packets"] > 1000, shown

    out = proc_info(prefix + "h", xensim.env(1), "--xstats")
    got = {m.group(1): int(m.group(2))
           for m in re.finditer(r"^(\w+): (\d+)$", out, re.M)}
    assert got == shown, (got, shown)
    out = proc_info(prefix + "h", xensim.env(1), "--stats")
    m = re.search(r"TX-packets: (\d+)\s+TX-errors:\s+(\d+)\s+TX-bytes:\s+(\d+)", out)
    assert m and int(m.group(1)) == stats["opackets"], out
    assert int(m.group(3)) == stats["obytes"], out
    # The secondary changed nothing: the primary still works.
    front.command("start")
    time.sleep(0.3)
    front.command("stop")
    assert front.stats(0)["opackets"] > stats["opackets"]
    stop_all(front, back)


class Tool:
    """A DPDK capture tool (a secondary process) running beside a test,
    its standard output and error collected."""

    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        stop_at_teardown(self.kill)
        self.output = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            self.output += chunk

    def text(self):
        return self.output.decode(errors="replace")

    def wait_for(self, what, timeout=60):
        deadline = time.monotonic() + timeout
        while what not in self.text():
            assert self.proc.poll() is None, f"{self.proc.args[0]} exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"no '{what}' from {self.proc.args[0]}:\n" + \
                self.text()
            time.sleep(0.1)

    def interrupt(self):
        """^C, as a user ends a capture; returns everything it printed."""
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()  # then fails below: killed, not exited 0
        self.reader.join(timeout=10)
        assert self.proc.returncode == 0, self.text()
        return self.text()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def capture_env(env, preload):
    """`env` with `preload` added after the sanitizer runtimes (which must
    come first) in LD_PRELOAD."""
    full = dict(os.environ)
    full.update(env)
    san = sanitizer_env()
    full.update(san)
    full["LD_PRELOAD"] = " ".join(san.get("LD_PRELOAD", "").split() + [str(p) for p in preload])
    return full


@pytest.fixture
def short_dir():
    """A directory with a short path: dpdk-pdump cuts rx-dev and tx-dev
    paths to 63 characters without a word (TX_STREAM_SIZE)."""
    d = tempfile.mkdtemp(prefix="xf-pdump.")
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


def hugepage_primary(build, sim, prefix, hugedir, side):
    """dpdk-testpmd with hugepages (so that secondaries can attach) driving
    our port `side`, sending back what it receives (macswap)."""
    if side == "xenfront":
        drv, vdev, domid, cores = build.xenfront, "net_xenfront0,vif=0", 1, ["--lcores",
                                                                           "0@1,1@0"]
    else:
        drv, vdev, domid, cores = build.xenback, "net_xenback0,domid=1,vif=0", 0, ["-l", "0,1"]
    eal = PRIMARY_VA + ["--huge-dir", hugedir, "-m", "64", "--no-pci", "--file-prefix", prefix,
           "--log-level", "lib.eal:warning", "-d", str(drv)] + cores + ["--vdev", vdev]
    return TestPmd(eal, ["--forward-mode=macswap", "--total-num-mbufs=2048"], sim.env(domid),
                   f"{side} testpmd (hugepages)")


@pytest.mark.parametrize("tool", ["dumpcap", "pdump"])
@pytest.mark.parametrize("side", ["xenfront", "xenback"])
def test_capture(build, xensim, prefix, tmp_path, short_dir, hugepages, side, tool):
    """dpdk-dumpcap (pcapng) or dpdk-pdump (pcap per direction) on our port
    of a running testpmd: every frame it received and every frame it sent
    is in the capture, byte for byte, in order, each in its direction, and
    the tool counts no drop. The captured testpmd sends each frame back with
    its addresses swapped (macswap), so the two directions differ; the peer
    sends the frames from a pcap file and records what comes back."""
    xensim.vif_add(1, 0)
    count = 300
    guest = pcapfile.mac(GUEST_MAC)
    peer = pcapfile.mac("02:00:00:00:00:02")
    if side == "xenfront":
        inbound_want = pcapfile.make_frames(count, SMALL, guest, peer, seed=7)
    else:
        inbound_want = pcapfile.make_frames(count, SMALL, peer, guest, seed=8)
    outbound_want = [f[6:12] + f[0:6] + f[12:] for f in inbound_want]
    pcapfile.write(tmp_path / "in.pcap", inbound_want)
    port = "net_xenfront0" if side == "xenfront" else "net_xenback0"
    driver = build.xenfront if side == "xenfront" else build.xenback
    mempools = primary_mempool_drivers()
    # The backend first: the frontend connects at once.
    peer_args = dict(app=["--forward-mode=io", "--no-flush-rx"], extra_vdevs=[
        f"net_pcap1,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/out.pcap"])
    if side == "xenfront":
        other = backend(build, xensim, prefix, **peer_args)
        main = hugepage_primary(build, xensim, prefix + "h", hugepages, side)
    else:
        main = hugepage_primary(build, xensim, prefix + "h", hugepages, side)
        other = frontend(build, xensim, prefix, **peer_args)
    main.wait_link(0)
    other.wait_link(0)
    # Lossless: retry a full ring instead of dropping.
    main.command("set fwd macswap retry")
    other.command("set fwd io retry")
    for p in (main, other):
        p.command("set burst tx delay 20 retry 100000")
    # Forwarding starts before the tool attaches: dpdk-pdump's capture
    # ports become ports of testpmd too, and testpmd's "start" then
    # refuses ("Not all ports were started").
    main.command("start")

    env = xensim.env(1 if side == "xenfront" else 0)
    if tool == "dumpcap":
        # dpdk-dumpcap takes no EAL options: preload what it must load.
        tool_proc = Tool(["dpdk-dumpcap", "--file-prefix", prefix + "h", "-i", port, "-w",
                          str(tmp_path / "capture.pcapng")],
                         capture_env(env, mempools + [driver]))
        tool_proc.wait_for("Packets captured:")
    else:
        eal = ["--file-prefix", prefix + "h", "--no-pci", "--log-level", "lib.eal:warning"]
        for lib in mempools + [driver]:
            eal += ["-d", str(lib)]
        tool_proc = Tool(["stdbuf", "-oL", "dpdk-pdump"] + eal + [
            "--", "--pdump", f"device_id={port},queue=*,rx-dev={short_dir}/rx.pcap,"
            f"tx-dev={short_dir}/tx.pcap,ring-size=1024,total-num-mbufs=2048"],
            capture_env(env, []))
        tool_proc.wait_for("capture for (1) tuples")

    other.command("start")
    wait_counter(other, 1, "opackets", count)
    other.command("stop")
    main.command("stop")
    stats = main.stats(0)
    time.sleep(1)  # the tool drains its ring
    out = tool_proc.interrupt()
    assert main.link_up(0), "the primary lost its port"
    stop_all(other, main)

    assert stats["ipackets"] == count and stats["opackets"] == count, stats
    assert pcapfile.read(tmp_path / "out.pcap") == outbound_want
    if tool == "dumpcap":
        m = re.search(r"Packets received/dropped on interface '(\w+)': (\d+)/(\d+)", out)
        assert m and m.group(1) == port and int(m.group(3)) == 0, out
        packets = pcapfile.read_pcapng(tmp_path / "capture.pcapng")
        assert len(packets) == int(m.group(2)), (len(packets), out)
        inbound = [f for d, f in packets if d == pcapfile.INBOUND]
        outbound = [f for d, f in packets if d == pcapfile.OUTBOUND]
        assert len(inbound) + len(outbound) == len(packets), "a packet without direction"
    else:
        m = re.search(r"packets dequeued:\s+(\d+)\s+-packets transmitted to vdev:\s+(\d+)", out)
        assert m and m.group(1) == m.group(2), out
        inbound = pcapfile.read(f"{short_dir}/rx.pcap")
        outbound = pcapfile.read(f"{short_dir}/tx.pcap")
        assert len(inbound) + len(outbound) == int(m.group(1)), out
    assert inbound == inbound_want, (len(inbound), out)
    assert sum(map(len, inbound)) == stats["ibytes"], stats
    # Transmit is captured as offered to rte_eth_tx_burst (ethdev runs tx
    # callbacks before the driver): when the ring is full, testpmd's retry
    # offers the rest of the burst again, and the capture has it again.
    # Every frame is unique (sequence numbers), so take first sightings.
    first = []
    for f in outbound:
        if f not in first:
            first.append(f)
    assert first == outbound_want, (len(outbound), len(first), out)
    assert sum(map(len, first)) == stats["obytes"], stats


def test_capture_needs_primary_mempool_drivers_net_null_too(tmp_path, prefix, hugepages):
    """The cause is not in our drivers: with DPDK's own net_null, dpdk-dumpcap
    captures nothing until it registers the mempool drivers Debian's
    dpdk-testpmd links. Without them, the index of the tool's mempool
    driver ("ring_mp_mc") names another driver in testpmd (dpaa2), every
    copy fails there (all counted as dropped), and testpmd may even exit."""
    if sanitized():
        # Nothing of ours runs here, and the sanitizer build only slows the
        # failing half's flood of dpaa2 errors until it swallows testpmd's
        # prompt; the normal build's run is the proof.
        pytest.skip("DPDK's own net_null and tools only: proven by the normal build")
    mempools = primary_mempool_drivers()
    assert mempools, "dpdk-testpmd links no mempool driver: update the docs' DPDK tools section"
    results = {}
    for preload in (mempools, []):
        run = prefix + ("p" if preload else "n")
        eal = PRIMARY_VA + ["--huge-dir", hugepages, "-m", "64", "--no-pci", "--file-prefix", run,
               "--log-level", "lib.eal:warning", "-l", "0,1", "--vdev", "net_null0"]
        pmd = TestPmd(eal, ["--forward-mode=io", "--total-num-mbufs=2048"], {}, "net_null testpmd")
        pmd.command("start")
        tool = Tool(["dpdk-dumpcap", "--file-prefix", run, "-i", "net_null0", "-w",
                     str(tmp_path / "null.pcapng")], capture_env({}, preload))
        tool.wait_for("Packets captured:")
        time.sleep(1)
        alive = pmd.proc.poll() is None
        if alive:
            # Traffic stops before the capture does (as in test_capture).
            pmd.command("stop")
        out = tool.interrupt()
        m = re.search(r"Packets received/dropped on interface 'net_null0': (\d+)/(\d+)", out)
        results[bool(preload)] = (int(m.group(1)), int(m.group(2))) if m else None
        if pmd.proc.poll() is None:
            pmd.quit()
        else:
            pmd.kill()
        if not preload:
            # Nothing captured: either every copy failed, or testpmd is gone.
            assert results[False] is None or (results[False][0] == 0 and
                                              results[False][1] > 0), out
        else:
            assert alive, pmd.output[-3000:] + out
            assert results[True] is not None and results[True][0] > 0, out
            assert pcapfile.read_pcapng(tmp_path / "null.pcapng"), out
