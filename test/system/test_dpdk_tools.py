# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's operator tools on a running dpdk-testpmd that drives net_xenfront:
dpdk-telemetry.py shows the port and its xstats under stable names, with
the values testpmd shows. dpdk-proc-info, a secondary process, shows the
same once the primary has hugepages (net_xenfront attaches read-only in a
secondary); without hugepages no secondary can attach, whatever its PMDs
(see doc/guides/nics/xenfront.rst, "DPDK tools")."""

import os
import re
import subprocess
import tempfile
import time

import pytest

from testpmd import TestPmd

from dpdk_tools import telemetry
from test_traffic import backend, frontend, stop_all

# The driver's per-queue xstats, in order (xenfront_ethdev.cc); tools and
# users rely on these names.
RX_NAMES = ["packets", "bytes", "errors", "mbuf_alloc_failed", "notifications",
            "bad_responses", "oversize", "too_many_slots", "extra_info", "gso_packets",
            "csum_blank", "bad_id", "bad_status", "bad_size", "bad_extra", "bad_chain",
            "ring_overrun", "fanout_packets", "fanout_bytes", "fanout_dropped", "lcore"]
TX_NAMES = ["packets", "bytes", "errors", "dropped", "notifications", "ring_full",
            "bad_responses", "offload_refused", "bad_status", "bad_id", "lost_ids",
            "ring_overrun", "fanout_packets", "fanout_bytes", "lcore"]
# The driver's port xstats, after the queues'.
PORT_NAMES = ["ctrl_errors"]
# What ethdev adds in front of a driver's xstats (rte_eth_basic_stats_strings).
ETHDEV_NAMES = ["rx_good_packets", "tx_good_packets", "rx_good_bytes", "tx_good_bytes",
                "rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"]


def test_telemetry_shows_port_and_xstats(build, xensim, prefix):
    xensim.vif_add(1, 0)
    back = front = None
    try:
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
    finally:
        stop_all(front, back)


def test_secondary_tools_need_hugepages(build, xensim, prefix):
    """dpdk-proc-info (and dpdk-dumpcap/dpdk-pdump, the same EAL path) as a
    secondary of a --no-huge testpmd: EAL stops before any driver is
    involved, because a --no-huge primary's memory is private to it (no
    hugepage_data file to map)."""
    xensim.vif_add(1, 0)
    back = front = None
    try:
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
    finally:
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
    back = front = None
    try:
        back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
        eal = ["--huge-dir", hugepages, "-m", "96", "--no-pci", "--file-prefix", prefix + "h",
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
    finally:
        stop_all(front, back)
