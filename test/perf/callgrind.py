# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Instructions per packet with valgrind's callgrind: a count that does
not depend on what else the machine runs, unlike rates and cycles.

One side of a peer runs under callgrind, about fifty times slower than
natively, so it is the bottleneck and every burst it makes is full; its
counters are zeroed after the warm-up and dumped after the window, and the
instructions of the whole process over that interval are divided by the
packets its forwarding lcore handled."""

import pathlib
import re
import subprocess
import time


def wrapper(outfile: pathlib.Path) -> list:
    return ["valgrind", "--tool=callgrind", "--error-limit=no",
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


def window(proc, outfile: pathlib.Path, ports: list, count: str, seconds: float) -> dict:
    """Zeroes the counters of `proc` (under callgrind), forwards for
    `seconds`, dumps; returns instructions per packet, where packets are
    `count` ("rx" or "tx") summed over `ports`."""
    key = "ipackets" if count == "rx" else "opackets"
    before = set(outfile.parent.glob(outfile.name + ".*"))
    s0 = proc.port_stats()
    control(proc.pid, "-z")
    time.sleep(seconds)
    control(proc.pid, "-d")
    s1 = proc.port_stats()
    new = sorted(set(outfile.parent.glob(outfile.name + ".*")) - before,
                 key=lambda p: p.stat().st_mtime)
    if not new:
        raise RuntimeError(f"callgrind wrote no dump next to {outfile}")
    d = parse(new[-1])
    packets = sum(s1[p][key] - s0[p][key] for p in ports)
    objs = sorted(d["objects"].items(), key=lambda kv: -kv[1])
    return {
        "packets": packets, "instructions": d["total"],
        "per_packet": d["total"] / packets if packets else None,
        "objects_per_packet": [[short(o), v / packets if packets else None]
                               for o, v in objs[:8]],
        "dump": str(new[-1]),
    }
