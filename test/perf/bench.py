#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""xenfront's benchmark: net_xenfront↔net_xenback over xensim beside
memif, virtio-user↔vhost and net_ring, in one interleaved run.

    /usr/bin/python3 test/perf/bench.py [--quick] [--out DIR]

Writes DIR/report.json, DIR/report.md, DIR/report.png and DIR/logs/
(every testpmd's output). See doc/guides/perf.rst for what the columns
mean and how to read the ratios."""

import argparse
import datetime
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "test/system"))

import peers as P  # noqa: E402
import pmd_perf  # noqa: E402
import report as R  # noqa: E402

FULL = {"peers": ["xen-int", "xen-poll", "memif", "vhost", "ring"],
        "scenarios": list(P.SCENARIOS), "sizes": [64, 256, 512, 1500, 9000],
        "reps": 5, "warmup": 1.0, "window": 2.0}
CALLGRIND = {"peers": ["xen-int", "xen-poll", "memif", "vhost"], "scenarios": list(P.SCENARIOS),
             "sizes": [64, 1500], "reps": 1, "warmup": 2.0, "window": 5.0}
QUICK = {"peers": ["xen-int", "xen-poll", "memif"], "scenarios": list(P.SCENARIOS),
         "sizes": [64], "reps": 1, "warmup": 0.3, "window": 0.5}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a few seconds: xen peers and memif, 64 B, one repetition")
    ap.add_argument("--callgrind", action="store_true",
                    help="instead of rates: instructions per packet of each side, run under "
                         "valgrind's callgrind (independent of the machine's load; ~30 min)")
    ap.add_argument("--build", type=pathlib.Path, default=ROOT / "build",
                    help="meson build directory (default: build/)")
    ap.add_argument("--out", type=pathlib.Path, default=None,
                    help="report directory (default: BUILD/bench/<mode>)")
    ap.add_argument("--peers", help="comma-separated, from " + ",".join(P.PEERS))
    ap.add_argument("--scenarios", help="comma-separated, from " + ",".join(P.SCENARIOS))
    ap.add_argument("--sizes", help="comma-separated frame sizes in bytes (≤1500, or 9000)")
    ap.add_argument("--reps", type=int, help="interleaved repetitions")
    ap.add_argument("--warmup", type=float, help="seconds of forwarding before each window")
    ap.add_argument("--window", type=float, help="seconds measured per run")
    ap.add_argument("--profile", metavar="PEERS",
                    help="comma-separated peers whose processes perf samples (cpu-clock) "
                         "during each window; flat profiles in OUT/logs/profile/")
    ap.add_argument("--xenfront-devargs", metavar="K=V[,K=V...]",
                    help="also run each xen peer chosen as a variant PEER+ whose guest has "
                         "these extra net_xenfront devargs, interleaved with it (A/B in one "
                         "run, e.g. rx_copybreak=256)")
    ap.add_argument("--xenback-devargs", metavar="K=V[,K=V...]",
                    help="likewise, a variant PEER+ whose host has these extra net_xenback "
                         "devargs and RX scatter on (e.g. zerocopy=1)")
    ap.add_argument("--pmd-perf", action="store_true",
                    help="also run dpdk-test's pmd_perf_autotest over each peer that can run "
                         "it (its cycles per packet, DPDK's own measure; ~30 s a run)")
    ap.add_argument("--pmd-perf-only", action="store_true",
                    help="run only pmd_perf_autotest over the peers, no throughput runs")
    ap.add_argument("--pmd-perf-reps", type=int, default=None,
                    help="pmd_perf_autotest repetitions per peer (default 3, 1 with --quick)")
    a = ap.parse_args(argv)
    if a.quick and a.callgrind:
        ap.error("--quick and --callgrind are different modes")
    plan = dict(QUICK if a.quick else CALLGRIND if a.callgrind else FULL)
    if a.peers:
        plan["peers"] = a.peers.split(",")
    if a.scenarios:
        plan["scenarios"] = a.scenarios.split(",")
    if a.sizes:
        plan["sizes"] = [int(s) for s in a.sizes.split(",")]
    for k in ("reps", "warmup", "window"):
        if getattr(a, k) is not None:
            plan[k] = getattr(a, k)
    for p in plan["peers"]:
        if p not in P.PEERS:
            ap.error(f"unknown peer {p!r} (valid: {', '.join(P.PEERS)})")
    for s in plan["scenarios"]:
        if s not in P.SCENARIOS:
            ap.error(f"unknown scenario {s!r} (valid: {', '.join(P.SCENARIOS)})")
    for s in plan["sizes"]:
        if not (60 <= s <= 1500 or s == 9000):
            ap.error(f"frame size {s} not supported (60..1500, or 9000)")
    if a.xenfront_devargs or a.xenback_devargs:
        for name in [p for p in plan["peers"] if P.PEERS[p].xen]:
            base = P.PEERS[name]
            attrs = {"name": name + "+",
                     "label": f"{base.label} {a.xenfront_devargs or ''}"
                              f"{' back:' + a.xenback_devargs if a.xenback_devargs else ''}"}
            if a.xenfront_devargs:
                attrs["extra_devargs"] = "," + a.xenfront_devargs
            if a.xenback_devargs:
                attrs["host_devargs"] = "," + a.xenback_devargs
                attrs["host_setup"] = ["port stop 0", "port config 0 rx_offload scatter on",
                                       "port start 0"]
            variant = type(base.__name__ + "Variant", (base,), attrs)
            P.PEERS[variant.name] = variant
            plan["peers"].insert(plan["peers"].index(name) + 1, variant.name)
    plan["profile"] = a.profile.split(",") if a.profile else []
    for p in plan["profile"]:
        if p not in plan["peers"]:
            ap.error(f"--profile {p}: not among the peers run")
    plan["mode"] = "quick" if a.quick else "callgrind" if a.callgrind else "full"
    plan["pmd_perf"] = a.pmd_perf or a.pmd_perf_only
    plan["throughput"] = not a.pmd_perf_only
    plan["pmd_perf_reps"] = a.pmd_perf_reps or (1 if a.quick else 3)
    if a.pmd_perf_only:
        if a.callgrind:
            ap.error("--pmd-perf-only and --callgrind do not mix")
        plan["mode"] = "pmd-perf"
    if a.callgrind:
        if "ring" in plan["peers"]:
            plan["peers"].remove("ring")  # one process: no side to measure alone
        if plan["profile"]:
            ap.error("--profile and --callgrind do not mix")
    a.out = a.out or a.build / "bench" / plan["mode"]
    return a, plan


def host_info() -> dict:
    def read(path):
        try:
            return pathlib.Path(path).read_text().strip()
        except OSError:
            return ""
    dpdk = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libdpdk-dev"],
                          capture_output=True, text=True).stdout
    return {"cpus": os.cpu_count(), "kernel": os.uname().release, "dpdk": dpdk,
            "loadavg_start": " ".join(read("/proc/loadavg").split()[:3])}


def buildtype(build: pathlib.Path) -> str:
    try:
        opts = json.loads((build / "meson-info/intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return "unknown"
    return next((o["value"] for o in opts if o["name"] == "buildtype"), "unknown")


def commit() -> str:
    p = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


def log(msg: str):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def run_group(ctx, group, plan, runs, side=None):
    """Starts every peer of the group, runs the interleaved plan, stops them."""
    started = []
    for name in plan["peers"]:
        cls = P.PEERS[name]
        if group.jumbo and not cls.jumbo:
            continue
        if cls.xen and ctx.sim is None:
            continue
        peer = cls(ctx, group)
        t = time.monotonic()
        try:
            peer.start()
            started.append(peer)
            log(f"{group.name}: {name} up ({time.monotonic() - t:.1f} s)")
        except Exception as e:  # a peer that cannot start is reported, not fatal
            log(f"{group.name}: {name} failed to start: {e}")
            peer.kill()
            for scenario in plan["scenarios"]:
                for size in group.sizes:
                    for rep in range(plan["reps"]):
                        runs.append({"peer": name, "scenario": scenario, "size": size,
                                     "rep": rep, "side": side, "error": f"start: {e}"})
    try:
        for rep in range(plan["reps"]):
            for scenario in plan["scenarios"]:
                for size in group.sizes:
                    for peer in list(started):
                        r = {"peer": peer.name, "scenario": scenario, "size": size, "rep": rep,
                             "side": side}
                        try:
                            r["result"] = peer.run(scenario, size, plan["warmup"],
                                                   plan["window"])
                            res = r["result"]
                            what = (f"{res['callgrind']['per_packet']:7.0f} instructions/packet "
                                    f"({side})" if side else f"{res['pps'] / 1e6:7.2f} Mpps")
                            log(f"rep {rep + 1}/{plan['reps']} {scenario:8} {size:5} B "
                                f"{peer.name:8} {what}")
                        except Exception as e:
                            r["error"] = f"{e}\n{traceback.format_exc()}"
                            log(f"{peer.name} {scenario} {size}: {e}")
                            peer.kill()
                            started.remove(peer)
                        runs.append(r)
    finally:
        for peer in started:
            try:
                peer.stop()
            except Exception:
                peer.kill()


def interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args, plan = parse_args(argv)
    # Stop every process and the xensim instance on SIGTERM, and on SIGINT
    # even where a shell started us in the background with SIGINT ignored.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    build = args.build.resolve()
    for lib in ("drivers/net/xenfront/librte_net_xenfront.so",
                "drivers/net/xenback/librte_net_xenback.so", "app/xensim/xensim"):
        if not (build / lib).exists():
            print(f"bench: {build / lib} is missing: build first "
                  f"(meson setup build && ninja -C build)", file=sys.stderr)
            return 2
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rundir = pathlib.Path(tempfile.mkdtemp(prefix="xenfront-bench.", dir="/dev/shm"))
    meta = {"mode": plan["mode"], "started": f"{datetime.datetime.now():%Y-%m-%d %H:%M}",
            "host": host_info(), "commit": commit(), "peers": plan["peers"],
            "peer_labels": {p: P.PEERS[p].label for p in plan["peers"]},
            "scenarios": plan["scenarios"], "sizes": plan["sizes"], "reps": plan["reps"],
            "warmup": plan["warmup"], "window": plan["window"], "profiled": plan["profile"],
            "buildtype": buildtype(build)}
    groups = []
    std = [s for s in plan["sizes"] if s <= 1500]
    if std:
        groups.append(P.Group("std", std, jumbo=False))
    if 9000 in plan["sizes"]:
        groups.append(P.Group("jumbo", [9000], jumbo=True))
    sim = None
    runs = []
    t0 = time.monotonic()
    try:
        if any(P.PEERS[p].xen for p in plan["peers"]):
            from xensim_env import XenSim
            sim = XenSim(build)
            sim.start(rundir / "xensim")
        ctx = P.Context(build, out, rundir, sim, prefix=f"xfb{os.getpid()}")
        if plan["profile"]:
            from perf_profile import Profiler
            ctx.profiler = Profiler(out / "logs/profile", rundir, plan["profile"])
        for side in ("guest", "host") if plan["mode"] == "callgrind" else (None,):
            ctx.callgrind_side = side
            for g in groups if plan["throughput"] else []:
                run_group(ctx, g, plan, runs, side)
        ctx.callgrind_side = None
        if plan["pmd_perf"]:
            pmd = pmd_perf.measure(ctx, plan["peers"], plan["pmd_perf_reps"], log)
    finally:
        if sim is not None:
            try:
                sim.stop()
            except Exception as e:
                log(f"xensim stop: {e}")
        shutil.rmtree(rundir, ignore_errors=True)
        # DPDK's runtime files of every process this run started.
        from conftest import dpdk_runtime_dir
        for leftover in dpdk_runtime_dir().glob(f"xfb{os.getpid()}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    meta["host"]["loadavg_end"] = " ".join(
        pathlib.Path("/proc/loadavg").read_text().split()[:3])
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    summary = (R.summarize_callgrind(runs, plan["peers"]) if plan["mode"] == "callgrind"
               else R.summarize(runs, plan["peers"]))
    rep = {"meta": meta, "runs": runs, "summary": summary}
    if plan["pmd_perf"]:
        rep["pmd_perf"] = {"reps": plan["pmd_perf_reps"], "runs": pmd,
                           "summary": pmd_perf.summarize(pmd)}
    paths = R.write(rep, out)
    print(paths["md"].read_text())
    log(f"wrote {', '.join(str(p) for p in paths.values())} in {meta['duration_s']} s")
    if meta.get("chart"):
        log(meta["chart"])
    failed = sum(1 for r in runs if "error" in r)
    if failed:
        log(f"{failed} of {len(runs)} runs failed; see {out}/logs")
    if not runs:  # --pmd-perf-only
        return 0 if any(r["ok"] for r in rep["pmd_perf"]["summary"]) else 1
    return 1 if failed == len(runs) else 0


if __name__ == "__main__":
    sys.exit(main())
