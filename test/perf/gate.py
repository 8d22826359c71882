#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The instructions-per-packet regression gate: net_xenfront's and
net_xenback's own instructions per packet, counted by callgrind, against
test/perf/callgrind-baseline.tsv; more than 5 % above a baseline line fails.

    /usr/bin/python3 test/perf/gate.py            # measure, compare, print the table
    /usr/bin/python3 test/perf/gate.py --update   # measure, rewrite the baseline
    devtools/run.sh gate [--update]               # the same after setup and build

See doc/guides/perf.rst ("The regression gate") for what is counted."""

import argparse
import datetime
import json
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASELINE = HERE / "callgrind-baseline.tsv"
TOLERANCE = 0.05  # more than this much above the baseline fails

SCENARIOS = ("guest-tx", "guest-rx", "forward")
SIZES = (64, 1500)
SIDES = ("guest", "host")
# The object each side's line counts (callgrind's self cost: the object's
# own instructions, DPDK's inline functions compiled into it included,
# calls into other objects excluded).
DRIVER = {"guest": "librte_net_xenfront", "host": "librte_net_xenback"}
LINES = [(sc, size, side) for sc in SCENARIOS for size in SIZES for side in SIDES]
# The peer measured: net_xenfront with static grants over net_xenback's
# poll style (bench.py's xen-poll); see perf.rst for why poll.
PEER = "xen-poll"
WARMUP = 1.0
WINDOW = 3.0


def read_baseline(path: pathlib.Path) -> dict:
    """{(scenario, size, side): instructions per packet}; '#' lines are
    comments. A malformed line is an error naming it."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        try:
            if len(f) != 4:
                raise ValueError("want: scenario size side instructions/packet")
            key = (f[0], int(f[1]), f[2])
            if key not in LINES:
                raise ValueError(f"unknown line {key}")
            if key in out:
                raise ValueError(f"{key} twice")
            v = float(f[3])
            if not v > 0:
                raise ValueError("instructions per packet must be > 0")
        except ValueError as e:
            raise ValueError(f"{path}:{n}: {e}: {line!r}") from None
        out[key] = v
    return out


def write_baseline(path: pathlib.Path, values: dict, note: str):
    L = ["# The regression gate's baseline (test/perf/gate.py, doc/guides/perf.rst):",
         "# instructions per packet of each driver's own object (callgrind self cost;",
         "# guest = librte_net_xenfront, host = librte_net_xenback), idle polls taken out.",
         "# A measurement more than 5 % above its line fails CI. Rewrite with",
         "#   devtools/run.sh gate --update",
         f"# {note}",
         "#",
         "# scenario  size  side   instructions/packet"]
    for sc, size, side in LINES:
        L.append(f"{sc:<10}  {size:>4}  {side:<5}  {values[(sc, size, side)]:9.1f}")
    path.write_text("\n".join(L) + "\n")


def compare(baseline: dict, now: dict, tolerance: float = TOLERANCE) -> list:
    """One row per line: scenario, size, side, baseline, now, ratio,
    verdict. A line fails when now > baseline × (1 + tolerance), or when
    either number is missing (a run that failed, a line not in the file)."""
    rows = []
    for key in LINES:
        b, n = baseline.get(key), now.get(key)
        ratio = n / b if b and n else None
        if b is None:
            verdict = "FAIL: no baseline line"
        elif n is None:
            verdict = "FAIL: not measured"
        elif ratio > 1 + tolerance:
            verdict = f"FAIL: > +{tolerance:.0%}"
        elif ratio < 1 - tolerance:
            verdict = "ok (lower: update the baseline)"
        else:
            verdict = "ok"
        rows.append({"scenario": key[0], "size": key[1], "side": key[2], "baseline": b,
                     "now": n, "ratio": ratio, "verdict": verdict})
    return rows


def failed(rows: list) -> list:
    return [r for r in rows if r["verdict"].startswith("FAIL")]


def table(rows: list) -> str:
    def num(v, f):
        return "-" if v is None else format(v, f)
    head = ("scenario", "size", "side", "baseline", "now", "ratio", "verdict")
    body = [(r["scenario"], str(r["size"]), f"{r['side']} ({DRIVER[r['side']][7:]})",
             num(r["baseline"], ".1f"), num(r["now"], ".1f"), num(r["ratio"], ".3f"),
             r["verdict"]) for r in rows]
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    right = {1, 3, 4, 5}
    fmt = lambda x: "  ".join(c.rjust(w[i]) if i in right else c.ljust(w[i])  # noqa: E731
                              for i, c in enumerate(x)).rstrip()
    return "\n".join([fmt(head), fmt(tuple("-" * n for n in w))] + [fmt(x) for x in body])


def verdict_message(rows: list, tolerance: float = TOLERANCE) -> str:
    bad = failed(rows)
    if not bad:
        return f"gate: passed: every line within +{tolerance:.0%} of the baseline"
    parts = []
    for r in bad:
        what = f"{r['scenario']} {r['size']} B {r['side']} ({DRIVER[r['side']]})"
        if r["baseline"] is not None and r["now"] is not None:
            parts.append(f"{what}: {r['now']:.1f} instructions/packet, baseline "
                         f"{r['baseline']:.1f} ({(r['ratio'] - 1) * 100:+.1f} %)")
        else:
            parts.append(f"{what}: {r['verdict'][6:]} (baseline {r['baseline']}, now {r['now']})")
    return (f"gate: FAILED: {len(bad)} line(s) more than {tolerance:.0%} above the baseline "
            f"or missing:\n  " + "\n  ".join(parts) +
            "\nIf the increase is intended, run devtools/run.sh gate --update and commit "
            "test/perf/callgrind-baseline.tsv with the reason.")


def from_report(rep: dict) -> dict:
    """{(scenario, size, side): the driver's instructions per packet} from
    a report.json that gate.py wrote."""
    out = {}
    for r in rep["runs"]:
        key = (r["scenario"], r["size"], r["side"])
        if key in LINES and "result" in r:
            out[key] = r["result"]["per_packet"]
    return out


def log(msg: str):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def run_line(peer, scenario: str, size: int, side: str, warmup: float, window: float) -> dict:
    """One line: the side under callgrind forwards for the warm-up, then
    for the counted window, with the other side forwarding throughout."""
    import callgrind
    g, h = peer.guest, peer.host
    if scenario == "guest-tx":
        h.commands("set fwd rxonly", "set portlist 0")
        g.commands("set fwd txonly", f"set txpkts {size}", "set portlist 0")
    elif scenario == "guest-rx":
        h.commands("set fwd txonly", f"set txpkts {size}", "set portlist 0")
        g.commands("set fwd rxonly", "set portlist 0")
    else:
        h.commands("set fwd io", f"set portlist 0,{peer.null_port[size]}")
        g.commands("set fwd macswap", "set portlist 0")
    measured, other = (g, h) if side == "guest" else (h, g)
    # Packets per line: those the measured port sent (txonly) or received;
    # the host in forward counts the vif's packets both ways, each of which
    # its driver handled once (the guest's macswap sends what it receives).
    count = {("guest-tx", "guest"): "tx", ("guest-rx", "host"): "tx",
             ("forward", "host"): "rx+tx"}.get((scenario, side), "rx")
    idle_modes = {"rx": ("set fwd rxonly", "set portlist 0"),
                  "tx": ("set fwd txonly", f"set txpkts {size}", "set portlist 0")}
    out = peer.ctx.outdir / "callgrind" / f"{peer.tag}-{side}.out"
    other.command("start")
    try:
        measured.command("start", timeout=120)
        time.sleep(warmup)
        measured.command("stop", timeout=120)
        return callgrind.driver_window(measured, other, out, 0, DRIVER[side], count, window,
                                       idle_modes)
    finally:
        other.command("stop")


def measure(build: pathlib.Path, out: pathlib.Path, warmup: float, window: float) -> dict:
    """Every line, on the gate's peer: for each side, the peer's processes
    with that side under callgrind, then its six lines."""
    import os
    import shutil
    import signal
    import tempfile
    import peers as P
    sys.path.insert(0, str(ROOT / "test/system"))
    from conftest import dpdk_runtime_dir
    from xensim_env import XenSim

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    for lib in ("drivers/net/xenfront/librte_net_xenfront.so",
                "drivers/net/xenback/librte_net_xenback.so", "app/xensim/xensim"):
        if not (build / lib).exists():
            raise RuntimeError(f"{build / lib} is missing: build first")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    import bench
    meta = {"started": f"{datetime.datetime.now():%Y-%m-%d %H:%M}", "commit": bench.commit(),
            "buildtype": bench.buildtype(build), "peer": PEER, "warmup": warmup,
            "window": window, "loadavg_start": " ".join(
                pathlib.Path("/proc/loadavg").read_text().split()[:3])}
    rundir = pathlib.Path(tempfile.mkdtemp(prefix="xenfront-gate.", dir="/dev/shm"))
    prefix = f"xfg{os.getpid()}"
    runs = []
    t0 = time.monotonic()
    sim = XenSim(build)
    try:
        sim.start(rundir / "xensim")
        ctx = P.Context(build, out, rundir, sim, prefix=prefix)
        for side in SIDES:
            ctx.callgrind_side = side
            peer = P.PEERS[PEER](ctx, P.Group("std", list(SIZES), jumbo=False))
            t = time.monotonic()
            try:
                peer.start()
            except Exception as e:
                log(f"{side} under callgrind: {PEER} failed to start: {e}")
                peer.kill()
                runs += [{"scenario": sc, "size": size, "side": side, "error": f"start: {e}"}
                         for sc, size, sd in LINES if sd == side]
                continue
            log(f"{side} under callgrind: {PEER} up ({time.monotonic() - t:.0f} s)")
            try:
                for sc, size, sd in LINES:
                    if sd != side:
                        continue
                    r = {"scenario": sc, "size": size, "side": side}
                    try:
                        t = time.monotonic()
                        r["result"] = run_line(peer, sc, size, side, warmup, window)
                        log(f"{sc:8} {size:5} B {side:5} {r['result']['per_packet']:7.1f} "
                            f"instructions/packet in {DRIVER[side]} "
                            f"({time.monotonic() - t:.0f} s)")
                    except Exception as e:
                        r["error"] = str(e)
                        log(f"{sc} {size} {side}: {e}")
                    runs.append(r)
            finally:
                try:
                    peer.stop()
                except Exception:
                    peer.kill()
    finally:
        try:
            sim.stop()
        except Exception as e:
            log(f"xensim stop: {e}")
        shutil.rmtree(rundir, ignore_errors=True)
        for leftover in dpdk_runtime_dir().glob(prefix + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    meta["loadavg_end"] = " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])
    rep = {"meta": meta, "runs": runs}
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true",
                    help="measure and rewrite the baseline file instead of comparing")
    ap.add_argument("--baseline", type=pathlib.Path, default=BASELINE)
    ap.add_argument("--build", type=pathlib.Path, default=ROOT / "build")
    ap.add_argument("--out", type=pathlib.Path, default=None,
                    help="bench output directory (default: BUILD/bench/gate)")
    ap.add_argument("--report", type=pathlib.Path,
                    help="compare this earlier report.json instead of measuring")
    ap.add_argument("--warmup", type=float, default=WARMUP)
    ap.add_argument("--window", type=float, default=WINDOW)
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    if a.report:
        rep = json.loads(a.report.read_text())
    else:
        sys.path.insert(0, str(HERE))
        rep = measure(a.build.resolve(), (a.out or a.build / "bench/gate").resolve(),
                      a.warmup, a.window)
    now = from_report(rep)
    if a.update:
        missing = [k for k in LINES if now.get(k) is None]
        if missing:
            print(f"gate: not updating {a.baseline}: no measurement for {missing}",
                  file=sys.stderr)
            return 1
        meta = rep.get("meta", {})
        write_baseline(a.baseline, now,
                       f"measured {meta.get('started', datetime.datetime.now())} at commit "
                       f"{meta.get('commit', '?')} ({meta.get('buildtype', '?')} build)")
        baseline = now
    else:
        try:
            baseline = read_baseline(a.baseline)
        except (OSError, ValueError) as e:
            print(f"gate: cannot read the baseline: {e}", file=sys.stderr)
            return 2
    rows = compare(baseline, now)
    print(f"\nInstructions per packet of the driver's own object, {PEER} "
          f"(baseline {a.baseline.relative_to(ROOT) if a.baseline.is_relative_to(ROOT) else a.baseline}):\n")
    print(table(rows))
    print()
    if a.update:
        print(f"gate: wrote {a.baseline} ({time.monotonic() - t0:.0f} s); commit it with "
              f"the reason for the change")
        return 0
    print(verdict_message(rows))
    print(f"gate: {time.monotonic() - t0:.0f} s")
    return 1 if failed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
