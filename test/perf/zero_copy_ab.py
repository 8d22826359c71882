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

The example's main lcore sends on CPU 0, the backend forwards on CPU 1."""

import argparse
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test/system"))
from xensim_env import XenSim  # noqa: E402

RATE = re.compile(r"zero_copy: pool=(\w+) size=(\d+) sent=(\d+) seconds=([\d.]+) pps=(\d+) "
                  r"zero_copy_packets=(\d+) pool_back=(\d+)/(\d+)")


def one_run(build, sim, pool, size, seconds, tag):
    eal = ["--no-huge", "-m", "1024", "--no-pci", "--log-level", "lib.eal:warning"]
    back_env = dict(os.environ)
    back_env.update(sim.env(0))
    log = open(sim.dir / f"backend{tag}.log", "w")
    back = subprocess.Popen(
        ["dpdk-testpmd"] + eal + ["--file-prefix", f"zcab{tag}b", "-l", "0,1", "-d",
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
        out = subprocess.run(
            [str(build / "examples/xenfront_zero_copy/xenfront-zero-copy")] + eal +
            ["--file-prefix", f"zcab{tag}f", "--lcores", "0@0", "--vdev",
             "net_xenfront0,vif=0", "--", "--pool", pool, "--size", str(size),
             "--seconds", str(seconds), "--mbufs", "1024"],
            capture_output=True, text=True, env=env, timeout=seconds + 90)
        m = RATE.search(out.stdout)
        if not m:
            log.flush()
            raise RuntimeError(f"no result ({out.returncode}):\n{out.stdout}\n{out.stderr}\n"
                               f"backend:\n{(sim.dir / f'backend{tag}.log').read_text()}")
        return m
    finally:
        back.send_signal(signal.SIGINT)
        try:
            back.wait(timeout=30)
        except subprocess.TimeoutExpired:
            back.kill()
            back.wait()
        log.close()
        text = (sim.dir / f"backend{tag}.log").read_text()
        acc = re.findall(r"Accumulated forward statistics.*?RX-packets: (\d+)", text, re.S)
        print(f"  backend received {acc[-1] if acc else '?'}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--sizes", default="64,1500,9000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    sim = XenSim(build)
    summary = []
    with tempfile.TemporaryDirectory(prefix="zcab") as tmp:
        sim.start(tmp, gntalloc_limit=8192)
        try:
            sim.vif_add(1, 0, mtu=9000)
            n = 0
            for size in [int(s) for s in a.sizes.split(",")]:
                rates = {"granted": [], "ordinary": []}
                for r in range(a.rounds):
                    for pool in ("granted", "ordinary"):
                        n += 1
                        m = one_run(build, sim, pool, size, a.seconds, n)
                        print(m.group(0), flush=True)
                        rates[pool].append(int(m.group(5)))
                g = statistics.median(rates["granted"])
                o = statistics.median(rates["ordinary"])
                summary.append((size, g, o))
        finally:
            sim.stop()
    print("size  granted_pps  ordinary_pps  ratio")
    for size, g, o in summary:
        print(f"{size:5d} {g:12.0f} {o:13.0f}  {g / o:5.2f}")


if __name__ == "__main__":
    main()
