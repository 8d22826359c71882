# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The system tests' one dpdk-testpmd driver: run it to completion
(run_testpmd), or drive it at its prompt (TestPmd), start the two ends of a
vif over xensim (backend, frontend), read its answers and counters, and stop
it (stop_all; the conftest fixtures stop whatever a test left running:
reap). A plain module, not conftest, so that the real-Xen suite (test/xen)
can import TestPmd."""

import os
import re
import subprocess
import threading
import time

from sanitizers import REPORT_MARKERS, sanitizer_env

PROMPT = "testpmd> "

GUEST_MAC = "00:16:3e:00:01:00"  # the guest's (domain 1's) vif MAC as xensim writes it
PEER_MAC = "02:00:00:00:00:02"  # the far side, behind the backend

SMALL = [60, 64, 65, 128, 333, 512, 1000, 1400, 1514]
JUMBO = SMALL + [1515, 2048, 4095, 4096, 4097, 6000, 8191, 8192, 9014]

# Many flows toward the guest, for the backend to spread over its queues by
# hash. testpmd's `txonly --txonly-multi-flow` varies the source IP before
# DPDK 23.07 and the UDP source port since, which none of netif's hash types
# (IPv4/IPv6 addresses, with TCP ports) sees; flowgen varies the destination
# IP in every release.
MULTI_FLOW_TX = ["--forward-mode=flowgen"]

# Every interactive TestPmd started here and not yet reaped: reap() (called
# by the conftest fixtures at teardown) stops those still running.
_started = []


def run_testpmd(build, eal: list, app: list, env: dict = None, stdin: str = "",
                timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs dpdk-testpmd to completion, feeding `stdin` to its prompt
    (killed after `timeout`). An `env` value of None removes that variable."""
    full_env = dict(os.environ)
    full_env.update(sanitizer_env())
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(["dpdk-testpmd"] + eal + ["--"] + app, input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def split_pattern(text: str, lazy: bool = True) -> str:
    """`text` as testpmd prints it while whole lines printed by another
    thread (a link event, a driver's log line from a forwarding lcore) may
    cut it anywhere: "t\\nPort 0: link state change event\\n...\\nestpmd> ",
    or the echo of a command, "show port\\nPort 0: link state change
    event\\nnet_xenfront0: link up\\n info 0" (seen on Xen). Lazy: the
    shortest such text from where it starts."""
    gap = r"(?:[^\n]*\n)*?" if lazy else r"(?:[^\n]*\n)*"
    return "".join(re.escape(c) + gap for c in text[:-1]) + re.escape(text[-1])


PROMPT_SPLIT = split_pattern(PROMPT, lazy=False)


class TestPmd:
    __test__ = False  # not a pytest test class
    """One interactive dpdk-testpmd process."""

    def __init__(self, eal: list, app: list, env: dict, name: str, wrapper: list = (),
                 popen=None, program: str = "dpdk-testpmd", start_timeout: float = 60):
        """popen(argv, env) starts the process elsewhere (the real-Xen
        suite's domains: devtools/xen/xenbed.py Domain.popen); by default
        it runs here."""
        self.name = name
        # testpmd prints answers with stdio (block-buffered into a pipe) and
        # its prompt unbuffered: line-buffer stdio so they arrive in order.
        # --no-mlockall: testpmd otherwise locks (and so populates) all its
        # --no-huge memory at every "start", which takes seconds here.
        local = popen is None and program == "dpdk-testpmd"
        # A pool of 32768 mbufs unless the test sizes it (a later option
        # wins): testpmd's default (about 180000 here) takes 2.2 s to start
        # without hugepages, 0.7 s with this, and the suite starts about
        # 600 of them. The pool's size is the application's, not the
        # driver's: every queue still has its 256 descriptors.
        pool = ["--total-num-mbufs=32768"] if local else []
        self.cmd = (list(wrapper) + ["stdbuf", "-oL", "-eL", program] + eal +
                    ["--", "-i", "--no-mlockall"] + pool + list(app))
        if popen is not None:
            self.proc = popen(self.cmd, env)
        else:
            full_env = dict(os.environ)
            full_env.update(sanitizer_env())
            full_env.update(env)
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, env=full_env)
        _started.append(self)
        self.output = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait_for(PROMPT_SPLIT, timeout=start_timeout)

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            with self.lock:
                self.output += chunk.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30, start: int = 0) -> re.Match:
        """Waits until `pattern` appears in the output after offset `start`."""
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
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before "
                                     f"printing {pattern!r}:\n{self.output[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {pattern!r} within {timeout}s:\n"
                                     f"{self.output[-4000:]}")
            time.sleep(0.05)

    def command(self, line: str, timeout: float = 30) -> str:
        """Types `line` and returns what testpmd printed until the next prompt."""
        with self.lock:
            start = len(self.output)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        # testpmd echoes the command; its answer ends at the next prompt.
        # (Asynchronous messages, e.g. link events, may print a prompt too.)
        # Another thread's lines may land between the echo and its newline
        # ("stopmempool/dpaa2: ...\n\n"), so the echo is the text alone,
        # and inside it (split_pattern).
        echo = self.wait_for(split_pattern(line), timeout=timeout, start=start)
        begin = start + echo.end()
        m = self.wait_for(PROMPT_SPLIT, timeout=timeout, start=begin)
        with self.lock:
            return self.output[begin:begin + m.start()]

    def link_up(self, port: int) -> bool:
        out = self.command(f"show port info {port}")
        return re.search(r"Link status:\s+up", out) is not None

    def wait_link(self, port: int, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not self.link_up(port):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: port {port} link not up in {timeout}s:\n"
                                     f"{self.output[:3000]}\n[...]\n{self.output[-1500:]}")
            time.sleep(0.2)

    def stats(self, port: int) -> dict:
        """Basic counters of `port` from `show port stats`."""
        out = self.command(f"show port stats {port}")
        s = {}
        for key, name in (("RX-packets", "ipackets"), ("RX-missed", "imissed"),
                          ("RX-bytes", "ibytes"), ("RX-errors", "ierrors"),
                          ("RX-nombuf", "rx_nombuf"), ("TX-packets", "opackets"),
                          ("TX-errors", "oerrors"), ("TX-bytes", "obytes")):
            m = re.search(key + r":\s+(\d+)", out)
            assert m, f"no {key} in {out!r}"
            s[name] = int(m.group(1))
        return s

    def xstats(self, port: int) -> dict:
        out = self.command(f"show port xstats {port}")
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^(\w+):\s+(\d+)\s*$", out, re.M)}

    def mbufs_in_use(self) -> int:
        """mbufs taken from testpmd's pools: size less what the common pool
        and the per-lcore caches hold (from dump_mempool)."""
        out = self.command("dump_mempool")
        total = 0
        for block in out.split("mempool <")[1:]:
            size = int(re.search(r"\bsize=(\d+)", block).group(1))
            cached = int(re.search(r"total_cache_count=(\d+)", block).group(1))
            common = int(re.search(r"common_pool_count=(\d+)", block).group(1))
            total += size - cached - common
        return total

    def quit(self, timeout: float = 60) -> str:
        """Quits cleanly (ports stopped and closed) and returns all output."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not quit:\n{self.output[-3000:]}")
        self.reader.join(timeout=5)
        self.check_sanitizers()
        assert self.proc.returncode == 0, (f"{self.name} exited with {self.proc.returncode}:\n"
                                           f"{self.output[-3000:]}")
        return self.output

    def check_sanitizers(self):
        """A sanitizer's report in the output fails the test."""
        for marker in REPORT_MARKERS:
            if marker in self.output:
                at = self.output.index(marker)
                raise AssertionError(f"{self.name}: {marker}\n{self.output[at - 200:at + 4000]}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        self.check_sanitizers()


def verbose_received(output: str) -> list:
    """(length, queue, RSS hash) of every packet testpmd printed with
    `set verbose 1` in rxonly mode, in order."""
    got = []
    for m in re.finditer(r"port 0/queue (\d+): received (\d+) packets\n((?:  [^\n]*\n)+)", output):
        queue = int(m.group(1))
        for line in m.group(3).splitlines():
            lm = re.search(r"length=(\d+).*RSS hash=0x([0-9a-f]+)", line)
            if lm:
                got.append((int(lm.group(1)), queue, int(lm.group(2), 16)))
    return got



def backend(build, sim, prefix: str, extra_vdevs=(), devargs="", app=(), wrapper=(),
            eal=()) -> TestPmd:
    """net_xenback (domain 0) serving vif 0 of domain 1."""
    eal = build.eal_args(prefix + "b", build.xenback) + list(eal) + [
        "-l", "0,1", "--vdev", "net_xenback0,domid=1,vif=0" + devargs]
    for v in extra_vdevs:
        eal += ["--vdev", v]
    return TestPmd(eal, list(app), sim.env(0), "backend testpmd", wrapper)


def frontend(build, sim, prefix: str, extra_vdevs=(), devargs="", app=(), wrapper=(),
             eal=()) -> TestPmd:
    """net_xenfront (domain 1) on vif 0."""
    # The forwarding lcore on the other CPU than the backend's.
    eal = build.eal_args(prefix + "f", build.xenfront) + list(eal) + [
        "--lcores", "0@1,1@0", "--vdev", "net_xenfront0,vif=0" + devargs]
    for v in extra_vdevs:
        eal += ["--vdev", v]
    return TestPmd(eal, list(app), sim.env(1), "frontend testpmd", wrapper)


def pcap_relay(build, sim, prefix: str, tmp_path, to_guest_pcap: str, from_guest_pcap: str,
               mtu: int, front_devargs: str = ""):
    """A backend and a guest testpmd, each relaying (io forwarding) between
    its Xen port 0 and a pcap port 1 that replays `to_guest_pcap` (backend)
    and `from_guest_pcap` (guest) and records what leaves into
    back_out.pcap / front_out.pcap under `tmp_path`; lossless (io retry),
    forwarding started. Returns (back, front)."""
    # --no-flush-rx: testpmd would otherwise drain (and drop) the pcap
    # ports at "start".
    app = ["--forward-mode=io", "--no-flush-rx"]
    if mtu > 1500:
        app += [f"--max-pkt-len={mtu + 18}"]
    back = backend(build, sim, prefix, app=app, extra_vdevs=[
        f"net_pcap0,rx_pcap={tmp_path}/{to_guest_pcap},tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, sim, prefix, app=app, devargs=front_devargs, extra_vdevs=[
        f"net_pcap1,rx_pcap={tmp_path}/{from_guest_pcap},tx_pcap={tmp_path}/front_out.pcap"])
    if mtu > 1500:
        # Jumbo frames in 2 KiB mbufs: scattered rx on our ports (the
        # pcap ports chain mbufs without the flag, and refuse it). The
        # first start failed for want of it (and left port 1 unstarted);
        # restart the backend's first: it connects only once started.
        for p in (back, front):
            p.command("port stop all")
            p.command("port config 0 rx_offload scatter on")
            out = p.command("port start all", timeout=60)
            assert "Fail" not in out, out
    front.wait_link(0)
    back.wait_link(0)
    for p in (front, back):
        # Lossless: io forwarding retries a full ring instead of dropping.
        p.command("set fwd io retry")
        p.command("set burst tx delay 20 retry 100000")
    front.command("start")
    back.command("start")
    return back, front


def wait_counter(pmd, port, key, want, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        s = pmd.stats(port)
        if s[key] >= want or time.monotonic() > deadline:
            return s
        time.sleep(0.3)


def queue_counts(pmd, port, key):
    """Per-queue counters from testpmd's xstats, e.g. rx_q<N>_packets."""
    x = pmd.xstats(port)
    return {int(m.group(1)): v for k, v in x.items()
            if (m := re.fullmatch(rf"{key.split('_', 1)[0]}_q(\d+)_{key.split('_', 1)[1]}", k))}


def _print_driver_lines(pmd, out: str):
    # pytest shows a test's output when it fails.
    print(f"--- {pmd.name}:")
    print("\n".join(line for line in out.splitlines()
                    if "net_xen" in line or "Port" in line or "rror" in line))


def stop_all(*pmds):
    """Quits each testpmd (None skipped) and returns their outputs: a test
    calls it where its checks need the processes gone (pcap files flushed,
    clean exit, resources released)."""
    outputs = []
    for p in pmds:
        if p is not None:
            out = p.quit()
            outputs.append(out)
            _print_driver_lines(p, out)
    return outputs


def reap(timeout: float = 60):
    """Stops every TestPmd still running, newest first, whatever the test
    did: quit (ports stopped and closed), killed if it does not exit within
    `timeout`. Prints their driver lines; raises the first failure (an
    unclean exit, a sanitizer report) once all are stopped."""
    failures = []
    while _started:
        pmd = _started.pop()
        if pmd.proc.poll() is not None:
            continue  # quit or killed by the test: its exit was checked there
        try:
            _print_driver_lines(pmd, pmd.quit(timeout))
        except AssertionError as e:
            failures.append(e)
    if failures:
        raise failures[0]
