# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Optional sampling profiles of the processes under measurement, taken
with `perf record -e cpu-clock` (a software clock: it works where the
hardware counters are not exposed, as in most VMs) during the window."""

import pathlib
import re
import shutil
import signal
import subprocess


class Profiler:
    def __init__(self, outdir: pathlib.Path, datadir: pathlib.Path, peers: list,
                 freq: int = 999):
        self.outdir = outdir
        self.datadir = datadir
        self.peers = set(peers)
        self.freq = freq
        self.perf = shutil.which("perf")
        if self.perf is None:
            raise RuntimeError("--profile needs perf (Debian package linux-perf)")
        outdir.mkdir(parents=True, exist_ok=True)

    def wants(self, peer: str) -> bool:
        return peer in self.peers

    def start(self, tag: str, procs: dict) -> list:
        """procs: {side: Testpmd}. Returns the recorders to stop()."""
        recs = []
        for side, proc in procs.items():
            data = self.datadir / f"{tag}-{side}.data"
            p = subprocess.Popen([self.perf, "record", "-q", "-e", "cpu-clock", "-F",
                                  str(self.freq), "-p", str(proc.pid), "-o", str(data)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            recs.append((tag, side, p, data))
        return recs

    def stop(self, recs: list) -> dict:
        """Stops the recorders; returns {side: [(percent, dso, symbol)...]}
        and writes each flat profile to OUTDIR/<tag>-<side>.txt."""
        out = {}
        for _, _, p, _ in recs:
            p.send_signal(signal.SIGINT)
        for tag, side, p, data in recs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            rep = subprocess.run([self.perf, "report", "-i", str(data), "--stdio",
                                  "--no-children", "--sort", "comm,dso,symbol",
                                  "--percent-limit", "0.5"],
                                 capture_output=True, text=True, timeout=120)
            (self.outdir / f"{tag}-{side}.txt").write_text(rep.stdout + rep.stderr)
            out[side] = top_symbols(rep.stdout)
            data.unlink(missing_ok=True)
        return out


def top_symbols(report: str, n: int = 12) -> list:
    """The first `n` rows of a flat `perf report --stdio`."""
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[[.k]\]\s+(.*\S)", line)
        if m:
            rows.append([float(m.group(1)), m.group(2), m.group(3), m.group(4)])
        if len(rows) == n:
            break
    return rows
