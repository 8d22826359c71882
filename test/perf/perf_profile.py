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
        """Stops the recorders; returns {side: {"dso": [...], "symbols": [...]}}
        (rows of [percent, name]) and writes each flat profile to
        OUTDIR/<tag>-<side>.txt."""
        out = {}
        for _, _, p, _ in recs:
            p.send_signal(signal.SIGINT)
        for tag, side, p, data in recs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            reports = {}
            for key in ("dso", "dso,symbol"):
                r = subprocess.run([self.perf, "report", "-i", str(data), "--stdio",
                                    "--no-children", "--sort", key, "--percent-limit", "0.1"],
                                   capture_output=True, text=True, timeout=120)
                reports[key] = r.stdout
            res = {"dso": rows(reports["dso"], 1)[:8], "symbols": symbols(reports["dso,symbol"])}
            text = [f"# {tag} {side}: perf record -e cpu-clock -F {self.freq}", "",
                    "## by shared object"]
            text += [f"{pct:6.2f}%  {name}" for pct, name in res["dso"]]
            text += ["", "## by symbol (unresolved addresses of a stripped object summed)"]
            text += [f"{pct:6.2f}%  {name}" for pct, name in res["symbols"]]
            text += ["", "## perf report --sort dso,symbol", reports["dso,symbol"]]
            (self.outdir / f"{tag}-{side}.txt").write_text("\n".join(text))
            out[side] = res
            data.unlink(missing_ok=True)
        return out


def rows(report: str, ncols: int) -> list:
    """Rows of a flat `perf report --stdio`: [percent, col1 col2 ...]."""
    out = []
    for line in report.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"\s+([\d.]+)%\s+(.*\S)", line)
        if m:
            out.append([float(m.group(1)), " ".join(m.group(2).split()[:ncols + 1])])
    return out


def symbols(report: str, n: int = 15) -> list:
    """The `n` heaviest symbols, with a stripped object's bare addresses
    summed into one "<object> (unresolved)" row."""
    agg = {}
    for line in report.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*\S)", line)
        if not m:
            continue
        pct, dso = float(m.group(1)), m.group(2)
        sym = re.sub(r"\s+-\s+-$", "", m.group(3))  # empty IPC columns
        name = f"{dso} (unresolved)" if re.fullmatch(r"0x[0-9a-f]+", sym) else f"{dso}: {sym}"
        agg[name] = agg.get(name, 0.0) + pct
    return [[round(v, 2), k] for k, v in sorted(agg.items(), key=lambda kv: -kv[1])[:n]]
