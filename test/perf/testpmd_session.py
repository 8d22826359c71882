# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""One interactive dpdk-testpmd process driven by the benchmark: commands
typed at its prompt, and parsers for the three answers the benchmark reads
(`show port stats all`, `show fwd stats all`, `show port xstats N`)."""

import os
import re
import subprocess
import threading
import time

PROMPT = "testpmd> "


class TestpmdError(RuntimeError):
    pass


class Testpmd:
    """dpdk-testpmd in interactive mode; everything it prints is kept in
    memory and copied to `log_path`."""

    def __init__(self, name: str, eal: list, app: list, env: dict, log_path, cwd=None,
                 wrapper: list = ()):
        """`wrapper`: a command that runs testpmd (e.g. valgrind); its pid
        is then the wrapper's, which for valgrind is testpmd's own."""
        self.name = name
        full_env = dict(os.environ)
        full_env.update(env)
        # testpmd prints answers through block-buffered stdio and its prompt
        # unbuffered: line-buffer stdio so both arrive in order.
        # --no-mlockall: otherwise every "start" locks (populates) all of the
        # --no-huge memory, which takes seconds.
        self.cmd = (["stdbuf", "-oL", "-eL"] + list(wrapper) + ["dpdk-testpmd"] +
                    [str(a) for a in eal] +
                    ["--", "-i", "--no-mlockall"] + [str(a) for a in app])
        self.log = open(log_path, "w", encoding="utf-8")
        self.log.write("$ " + " ".join(self.cmd) + "\n")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=full_env, cwd=cwd)
        self.output = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._wait_for(re.escape(PROMPT), 0, timeout=180 if wrapper else 60)
        with self.lock:
            m = re.search(r"^(Fail to configure port.*|Start ports failed.*|"
                          r".*> device max frame size.*)$", self.output, re.M)
        if m:
            self.kill()
            raise TestpmdError(f"{self.name}: {m.group(1).strip()}")

    @property
    def pid(self) -> int:
        """The pid of dpdk-testpmd itself (stdbuf execs it)."""
        return self.proc.pid

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            text = chunk.decode(errors="replace")
            with self.lock:
                self.output += text
            self.log.write(text)

    def _wait_for(self, pattern: str, start: int, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                m = re.search(pattern, self.output[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.2)
                with self.lock:
                    m = re.search(pattern, self.output[start:])
                    if m:
                        return m
                raise TestpmdError(f"{self.name} exited ({self.proc.returncode}); last output:\n"
                                   f"{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise TestpmdError(f"{self.name}: no {pattern!r} within {timeout}s; last output:"
                                   f"\n{self.output[-3000:]}")
            time.sleep(0.01)

    def command(self, line: str, timeout: float = 30) -> str:
        """Types `line`; returns what testpmd printed before its next prompt."""
        with self.lock:
            start = len(self.output)
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as e:
            raise TestpmdError(f"{self.name} is gone: {self.output[-3000:]}") from e
        echo = self._wait_for(re.escape(line) + r"\r?\n", start, timeout)
        begin = start + echo.end()
        m = self._wait_for(re.escape(PROMPT), begin, timeout)
        with self.lock:
            return self.output[begin:begin + m.start()]

    def commands(self, *lines: str):
        for line in lines:
            out = self.command(line)
            if re.search(r"\b(Bad arguments|Invalid|[Ff]ail(ed)?|not supported|[Ee]rror)\b",
                         out):
                raise TestpmdError(f"{self.name}: {line!r} answered: {out.strip()}")

    def link_up(self, port: int) -> bool:
        return re.search(r"Link status:\s+up", self.command(f"show port info {port}")) is not None

    def wait_link(self, port: int, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not self.link_up(port):
            if time.monotonic() > deadline:
                raise TestpmdError(f"{self.name}: port {port} link not up in {timeout}s")
            time.sleep(0.1)

    def port_stats(self) -> dict:
        """`show port stats all` as {port: {ipackets, opackets, rx_pps, tx_pps}}.
        testpmd computes the rates itself, from its TSC, over the interval
        since this port's previous `show port stats`."""
        return parse_port_stats(self.command("show port stats all"))

    def fwd_stats(self) -> dict:
        return parse_fwd_stats(self.command("show fwd stats all"))

    def xstats(self, port: int) -> dict:
        out = self.command(f"show port xstats {port}")
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^(\w+):\s+(\d+)\s*$", out, re.M)}

    def worker_sched(self) -> dict:
        """Scheduler times of the forwarding lcores (threads "rte-worker-N")
        from /proc/PID/task/TID/schedstat: {tid: (on-CPU ns, runqueue-wait ns)}."""
        out = {}
        task = f"/proc/{self.pid}/task"
        try:
            tids = os.listdir(task)
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f"{task}/{tid}/comm") as f:
                    if not f.read().startswith("rte-worker-"):
                        continue
                with open(f"{task}/{tid}/schedstat") as f:
                    run, wait = f.read().split()[:2]
            except OSError:
                continue
            out[tid] = (int(run), int(wait))
        return out

    def quit(self, timeout: float = 30):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        if not self.log.closed:
            self.log.close()


def parse_port_stats(out: str) -> dict:
    ports = {}
    for block in re.split(r"#+ NIC statistics for port\s+", out)[1:]:
        port = int(re.match(r"(\d+)", block).group(1))

        def num(key):
            m = re.search(key + r":\s+(\d+)", block)
            if not m:
                raise TestpmdError(f"no {key} in port stats: {block!r}")
            return int(m.group(1))

        ports[port] = {"ipackets": num("RX-packets"), "opackets": num("TX-packets"),
                       "rx_pps": num("Rx-pps"), "tx_pps": num("Tx-pps")}
    return ports


BURSTS = re.compile(r"(RX|TX)-bursts : (\d+) \[(.*)\]")


def parse_bursts(total: int, spread: str) -> dict:
    """A `--record-burst-stats` line: the number of calls, then the shares
    of empty calls and of the two most frequent sizes, and the rest. Every
    share but the last printed is floor(100 * calls / total); the last is
    100 minus the others. So the number of non-empty calls is known only
    within bounds."""
    entries = [(m.group(2), int(m.group(1)))
               for m in re.finditer(r"(\d+)% of (\d+|other)", spread)]
    shares = dict(entries)
    if not entries or entries[0][0] != "0":
        raise TestpmdError(f"unexpected burst stats: {spread!r}")
    if len(entries) == 1:  # all calls empty
        lo = hi = 0
    else:
        pct0 = entries[0][1]
        floors = sum(pct for size, pct in entries[1:-1])
        lo = max(0, total * (99 - pct0) // 100, total * floors // 100)
        hi = total * (100 - pct0) // 100 + (1 if total * (100 - pct0) % 100 else 0)
    return {"calls": total, "empty_pct": shares["0"], "shares": shares,
            "nonempty_min": lo, "nonempty_max": hi}


def parse_fwd_stats(out: str) -> dict:
    """`show fwd stats all`: per-port forwarding counters and burst shapes,
    and the busy TSC cycles of all forwarding lcores of the process."""
    res = {"ports": {}, "cycles": None, "cycles_packets": None, "cycles_per_packet": None,
           "tsc_mhz": None}
    for block in re.split(r"-+ Forward statistics for port\s+", out)[1:]:
        port = int(re.match(r"(\d+)", block).group(1))
        body = block.split("+++")[0]
        p = {}
        for key, name in (("RX-packets", "rx"), ("RX-dropped", "rx_dropped"),
                          ("TX-packets", "tx"), ("TX-dropped", "tx_dropped")):
            m = re.search(key + r":\s+(\d+)", body)
            p[name] = int(m.group(1)) if m else 0
        for m in BURSTS.finditer(body):
            p[m.group(1).lower() + "_bursts"] = parse_bursts(int(m.group(2)), m.group(3))
        res["ports"][port] = p
    m = re.search(r"CPU cycles/packet=([\d.]+) \(total cycles=(\d+) / total \w+ packets=(\d+)\)"
                  r" at (\d+) MHz", out)
    if m:
        res["cycles_per_packet"] = float(m.group(1))
        res["cycles"] = int(m.group(2))
        res["cycles_packets"] = int(m.group(3))
        res["tsc_mhz"] = int(m.group(4))
    return res
