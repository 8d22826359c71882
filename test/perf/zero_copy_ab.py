#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Zero-copy transmit, A/B: examples/xenfront_zero_copy sends for a few
seconds from a granted pool (A: zero copy) and from an ordinary pool (B:
copied), interleaved A B A B at each frame size, into a net_xenback testpmd
that only receives (rxonly). Prints each run's rate and, per size, the
median rates and their ratio A/B.

    /usr/bin/python3 test/perf/zero_copy_ab.py [--build build]
        [--sizes 64,1500,9000] [--rounds 2] [--seconds 5]

The example's main lcore sends on CPU 0, the backend forwards on CPU 1.

With --peers xen,vhost,memif the same generator (ordinary pool) also sends
over virtio-user into a net_vhost testpmd and over a memif client into a
memif server testpmd (copy mode), both rxonly, interleaved with the xen
runs: the guest-TX comparison of bench.py, with an application that puts
its packets in granted memory on the xen side.

    /usr/bin/python3 test/perf/zero_copy_ab.py --peers xen,vhost,memif
        --sizes 64,1500 --rounds 4"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test/system"))
from xensim_env import XenSim  # noqa: E402

# Every process's --file-prefix, so that their DPDK runtime files (13 MB
# each without hugepages) are found and removed at the end.
PREFIX = f"zcab{os.getpid()}-"

RATE = re.compile(r"zero_copy: pool=(\w+) size=(\d+) sent=(\d+) seconds=([\d.]+) pps=(\d+) "
                  r"zero_copy_packets=(\d+) pool_back=(\d+)/(\d+)")


def generate(build, eal, vdev, pool, size, seconds, env, receiver_log):
    """The example generator on CPU 0 for `seconds`: its result line."""
    out = subprocess.run(
        [str(build / "examples/xenfront_zero_copy/xenfront-zero-copy")] + eal +
        ["--lcores", "0@0", "--vdev", vdev, "--", "--pool", pool, "--size", str(size),
         "--seconds", str(seconds), "--mbufs", "1024"],
        capture_output=True, text=True, env=env, timeout=seconds + 90)
    m = RATE.search(out.stdout)
    if not m:
        raise RuntimeError(f"{vdev}: no result ({out.returncode}):\n{out.stdout}\n{out.stderr}\n"
                           f"receiver:\n{receiver_log.read_text()}")
    return m


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_run(build, sim, pool, size, seconds, tag):
    eal = ["--no-huge", "-m", "1024", "--no-pci", "--log-level", "lib.eal:warning"]
    back_env = dict(os.environ)
    back_env.update(sim.env(0))
    log = open(sim.dir / f"backend{tag}.log", "w")
    back = subprocess.Popen(
        ["dpdk-testpmd"] + eal + ["--file-prefix", f"{PREFIX}{tag}b", "-l", "0,1", "-d",
                                  str(build / "drivers/net/xenback/librte_net_xenback.so"),
                                  "--vdev", "net_xenback0,domid=1,vif=0", "--",
                                  "--no-mlockall", "-a", "--forward-mode=rxonly",
                                  "--enable-scatter", "--max-pkt-len=9018"],
        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
        env=back_env)
    try:
        time.sleep(1.0)
        env = dict(os.environ)
        env.update(sim.env(1))
        return generate(build, eal + ["--file-prefix", f"{PREFIX}{tag}f"], "net_xenfront0,vif=0",
                        pool, size, seconds, env, sim.dir / f"backend{tag}.log")
    finally:
        stop(back)
        log.close()
        text = (sim.dir / f"backend{tag}.log").read_text()
        acc = re.findall(r"Accumulated forward statistics.*?RX-packets: (\d+)", text, re.S)
        print(f"  backend received {acc[-1] if acc else '?'}", flush=True)


def peer_run(build, peer, size, seconds, tag, rundir):
    """The generator from an ordinary pool over `peer` (vhost or memif),
    into a testpmd that only receives."""
    eal = ["--no-huge", "-m", "1024", "--no-pci", "--log-level", "lib.eal:warning"]
    sock = pathlib.Path(rundir) / f"{peer}{tag}.sock"
    if peer == "vhost":
        host = [f"net_vhost0,iface={sock},queues=1"]
        guest = f"net_virtio_user0,path={sock},queues=1"
    else:
        common = f"socket={sock},socket-abstract=no,zero-copy=no"
        host = [f"net_memif0,role=server,{common}"]
        guest = f"net_memif0,role=client,{common}"
    logpath = pathlib.Path(rundir) / f"host{tag}.log"
    log = open(logpath, "w")
    back = subprocess.Popen(
        ["dpdk-testpmd"] + eal + ["--file-prefix", f"{PREFIX}{tag}h", "-l", "0,1", "--vdev", host[0],
                                  "--", "--no-mlockall", "-a", "--forward-mode=rxonly",
                                  "--total-num-mbufs=16384"] +
        # Whole jumbo frames in one mbuf (net_vhost has no scatter); DPDK
        # 22.11's memif takes frames of at most 1518 bytes.
        (["--max-pkt-len=9018", "--mbuf-size=9216"] if peer == "vhost" else []),
        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return generate(build, eal + ["--file-prefix", f"{PREFIX}{tag}g"], guest, "ordinary", size,
                        seconds, None, logpath)
    finally:
        stop(back)
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--sizes", default="64,1500,9000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--peers", default="xen",
                    help="xen (granted and ordinary pools), and vhost, memif (ordinary pool)")
    a = ap.parse_args()
    peers = a.peers.split(",")
    for p in peers:
        if p not in ("xen", "vhost", "memif"):
            ap.error(f"unknown peer {p!r} (valid: xen, vhost, memif)")
    build = pathlib.Path(a.build).resolve()
    sim = XenSim(build)
    summary = []
    with tempfile.TemporaryDirectory(prefix="zcab") as tmp:
        sim.start(tmp, gntalloc_limit=8192)
        try:
            sim.vif_add(1, 0, mtu=9000)
            n = 0
            for size in [int(s) for s in a.sizes.split(",")]:
                runs = (["granted", "ordinary"] if "xen" in peers else []) + [
                    p for p in peers if p != "xen" and not (p == "memif" and size > 1500)]
                rates = {k: [] for k in runs}
                for r in range(a.rounds):
                    for kind in runs:
                        n += 1
                        if kind in ("granted", "ordinary"):
                            m = one_run(build, sim, kind, size, a.seconds, n)
                        else:
                            m = peer_run(build, kind, size, a.seconds, n, tmp)
                        print(f"{kind}: {m.group(0)}", flush=True)
                        rates[kind].append(int(m.group(5)))
                summary.append((size, rates))
        finally:
            sim.stop()
            from conftest import dpdk_runtime_dir
            for leftover in dpdk_runtime_dir().glob(f"{PREFIX}*"):
                shutil.rmtree(leftover, ignore_errors=True)
    for size, rates in summary:
        kinds = list(rates)
        print(f"size {size}: median pps " +
              ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in rates.items()))
        # Ratios of runs of the same round (seconds apart), then their median.
        for i, a_kind in enumerate(kinds):
            for b_kind in kinds[i + 1:]:
                pair = [x / y for x, y in zip(rates[a_kind], rates[b_kind]) if y > 0]
                if pair:
                    print(f"  {a_kind} / {b_kind}: {statistics.median(pair):.2f} "
                          f"({min(pair):.2f}-{max(pair):.2f})")


if __name__ == "__main__":
    main()
