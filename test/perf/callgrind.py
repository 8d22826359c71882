# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Instructions per packet with valgrind's callgrind: a count that does
not depend on what else the machine runs, unlike rates and cycles.

One side of a peer runs under callgrind, tens of times slower than
natively, the other side natively; the measured side's counters are
zeroed, it forwards for the window, they are dumped, and the instructions
of the whole process over that interval are divided by the packets its
forwarding lcore handled, less the iterations that moved nothing (see
window())."""

import pathlib
import re
import subprocess
import time

from testpmd_session import parse_fwd_stats


def wrapper(outfile: pathlib.Path) -> list:
    return ["valgrind", "--tool=callgrind", "--error-limit=no", "--fair-sched=yes",
            f"--callgrind-out-file={outfile}"]


def control(pid: int, flag: str):
    p = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0 or "OK" not in p.stdout:
        raise RuntimeError(f"callgrind_control {flag} {pid}: {p.stdout} {p.stderr}")


def parse(path: pathlib.Path) -> dict:
    """A callgrind dump: total Ir and each object's self Ir (costs of its
    own instructions, inlined code included, callees excluded)."""
    names = {}
    objects = {}
    ob = None
    skip_next = False
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("cob="):  # a callee's object: may name an id first
                m = re.match(r"cob=\((\d+)\) (.*)", line.rstrip("\n"))
                if m:
                    names[m.group(1)] = m.group(2)
            elif line.startswith("ob="):
                m = re.match(r"ob=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    ob = names.get(m.group(1), m.group(1))
                else:
                    ob = line[3:].strip()
            elif line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2 and ob is not None:
                    objects[ob] = objects.get(ob, 0) + int(parts[1])
    return {"total": total or sum(objects.values()), "objects": objects}


def short(obj: str) -> str:
    name = pathlib.PurePath(obj).name
    return re.sub(r"\.so(\.[\d.]+)?$", "", name)


def interval(proc, outfile: pathlib.Path, seconds: float) -> tuple:
    """With `proc` (under callgrind) stopped: zeroes its counters, forwards
    for `seconds`, stops, dumps. Returns the dump and testpmd's forward
    statistics of exactly that start..stop, which fall inside the dumped
    interval whenever callgrind acts on its commands."""
    before = set(outfile.parent.glob(outfile.name + ".*"))
    control(proc.pid, "-z")
    proc.command("start", timeout=120)
    time.sleep(seconds)
    stats = parse_fwd_stats(proc.command("stop", timeout=120))
    control(proc.pid, "-d")
    new = sorted(set(outfile.parent.glob(outfile.name + ".*")) - before,
                 key=lambda p: p.stat().st_mtime)
    if not new:
        raise RuntimeError(f"callgrind wrote no dump next to {outfile}")
    return parse(new[-1]), stats, str(new[-1])


def calls(stats: dict, ports: list, kind: str) -> tuple:
    """(calls, calls that moved nothing) of the `kind` ("rx" or "tx")
    bursts on `ports`; the latter from testpmd's burst shares, whose
    bounds are within 1 % of the calls."""
    total = idle = 0.0
    for p in ports:
        b = stats["ports"].get(p, {}).get(kind + "_bursts")
        if b:
            total += b["calls"]
            idle += b["calls"] - (b["nonempty_min"] + b["nonempty_max"]) / 2
    return total, idle


def window(proc, other, outfile: pathlib.Path, ports: list, count: str, seconds: float,
           calibrate: bool, calibration_seconds: float = 1.0) -> dict:
    """Instructions per packet of `proc` (under callgrind, stopped), with
    `other` forwarding. Packets are testpmd's count over `ports` ("rx" or
    "tx"). A forwarding iteration that moves nothing (an empty receive
    poll; a txonly burst the PMD refused entirely) still executes
    instructions, and how many such iterations a window has depends on
    how fast the other side was, i.e. on the machine's load. With
    `calibrate`, a second interval with `other` stopped (so every
    iteration is idle) gives the cost of one idle iteration, and the
    window's idle iterations are subtracted."""
    kind = count
    d, stats, dump = interval(proc, outfile, seconds)
    packets = sum(stats["ports"].get(p, {}).get(count, 0) for p in ports)
    n_calls, n_idle = calls(stats, ports, kind)
    out = {"packets": packets, "instructions": d["total"], "calls": n_calls,
           "idle_share": n_idle / n_calls if n_calls else None, "dump": dump,
           "per_packet_raw": d["total"] / packets if packets else None}
    idle_cost, idle_objects = 0.0, {}
    if calibrate:
        other.command("stop")
        time.sleep(0.3)  # the ring drains (or fills) before counting idle iterations
        c, cstats, _ = interval(proc, outfile, calibration_seconds)
        other.command("start")
        c_calls, c_idle = calls(cstats, ports, kind)
        if c_calls:
            idle_cost = c["total"] / c_calls
            idle_objects = {o: v / c_calls for o, v in c["objects"].items()}
            out["idle_iteration_instructions"] = idle_cost
            out["calibration_idle_share"] = c_idle / c_calls
    out["per_packet"] = ((d["total"] - n_idle * idle_cost) / packets) if packets else None
    objs = {o: v - n_idle * idle_objects.get(o, 0.0) for o, v in d["objects"].items()}
    ranked = sorted(objs.items(), key=lambda kv: -kv[1])
    out["objects_per_packet"] = [[short(o), v / packets if packets else None]
                                 for o, v in ranked[:8]]
    # Every object, for the regression gate (test/perf/gate.py), which
    # reads the drivers' own lines: raw and with idle iterations taken out.
    out["objects"] = {short(o): v / packets if packets else None for o, v in ranked}
    out["objects_raw"] = {short(o): v / packets if packets else None
                          for o, v in d["objects"].items()}
    return out


def driver_counts(proc, outfile: pathlib.Path, seconds: float, port: int, obj: str) -> dict:
    """One counted interval of `proc`, reduced to one object: its self
    instructions, and on `port` testpmd's rx and tx burst calls (exact
    totals) and the driver's own count of the calls that moved something
    (xstats rx_q0_bursts, tx_q0_bursts: exact, where testpmd's burst
    shares are truncated percentages). The xstats are read outside the
    counted interval, so reading them costs nothing counted."""
    x0 = proc.xstats(port)
    d, stats, dump = interval(proc, outfile, seconds)
    x1 = proc.xstats(port)
    p = stats["ports"].get(port, {})
    out = {"instructions": sum(v for o, v in d["objects"].items() if short(o) == obj),
           "rx": p.get("rx", 0), "tx": p.get("tx", 0), "dump": dump}
    for k in ("rx", "tx"):
        b = p.get(k + "_bursts")
        n = b["calls"] if b else 0
        moved = x1.get(f"{k}_q0_bursts", 0) - x0.get(f"{k}_q0_bursts", 0)
        out[k + "_calls"], out[k + "_idle"] = n, max(0, n - moved)
    return out


def driver_window(proc, other, outfile: pathlib.Path, port: int, obj: str, count: str,
                  seconds: float, idle_modes: dict, calibration_seconds: float = 1.0) -> dict:
    """The instructions per packet of one driver object (its self cost)
    in `proc` (under callgrind, stopped, its forwarding mode set), with
    `other` forwarding: `count` is "rx", "tx" or "rx+tx" of `port`. The
    driver's idle calls (empty receive polls, transmissions refused
    whole) are counted exactly and taken out at their cost, measured
    with `other` stopped so that every call is idle: `idle_modes` maps
    "rx"/"tx" to the testpmd commands of a mode whose calls on `port`
    are all of that kind then (e.g. rxonly; txonly once the ring is
    full). The caller sets the window's mode again before its next one."""
    w = driver_counts(proc, outfile, seconds, port, obj)
    packets = sum(w[k] for k in count.split("+"))
    cost = {"rx": 0.0, "tx": 0.0}
    other.command("stop")
    try:
        time.sleep(0.3)  # the rings drain (or fill) before counting idle calls
        for kind in ("rx", "tx"):
            if not w[kind + "_idle"] or kind not in idle_modes:
                continue
            proc.commands(*idle_modes[kind])
            # Once through so that a transmit ring is full before counting.
            proc.command("start", timeout=120)
            time.sleep(0.2)
            proc.command("stop", timeout=120)
            c = driver_counts(proc, outfile, calibration_seconds, port, obj)
            other_kind = "tx" if kind == "rx" else "rx"
            rest = c["instructions"] - c[other_kind + "_calls"] * cost[other_kind]
            if c[kind + "_calls"]:
                cost[kind] = rest / c[kind + "_calls"]
    finally:
        other.command("start")
    net = w["instructions"] - w["rx_idle"] * cost["rx"] - w["tx_idle"] * cost["tx"]
    return {"object": obj, "packets": packets, "instructions": w["instructions"],
            "per_packet": net / packets if packets else None,
            "per_packet_raw": w["instructions"] / packets if packets else None,
            "idle_calls": {k: w[k + "_idle"] for k in ("rx", "tx")},
            "calls": {k: w[k + "_calls"] for k in ("rx", "tx")},
            "idle_call_cost": cost, "dump": w["dump"]}
