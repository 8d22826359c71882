# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Rx interrupt mode: app/rx_intr (xenfront-rx-intr, domain 1) sleeps in
rte_epoll_wait on net_xenfront's rx queue while nothing arrives, wakes when
the backend (testpmd with net_xenback, domain 0) sends, and receives every
packet sent: a few frames from a pcap file, then a second of testpmd's
txonly. Idle, it uses next to no CPU."""

import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

import pcapfile
from conftest import sanitizer_env
from test_traffic import GUEST_MAC, backend, stop_all

# Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these.
TICKS = os.sysconf("SC_CLK_TCK")
COUNTERS = re.compile(r"rx_intr: rx=(\d+) wakeups=(\d+) sleeps=(\d+)")


class RxIntrApp:
    def __init__(self, build, sim, prefix, devargs="", args=()):
        exe = build.path / "app/rx_intr/xenfront-rx-intr"
        assert exe.exists(), f"{exe} is missing: build first"
        env = dict(os.environ)
        env.update(sim.env(1))
        env.update(sanitizer_env())
        eal = build.eal_args(prefix + "i", build.xenfront) + [
            "--lcores", "0@0", "--vdev", "net_xenfront0,vif=0" + devargs]
        self.proc = subprocess.Popen([str(exe)] + eal + ["--", "--idle-polls", "100",
                                                        *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.output = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.fd = int(self.wait_for(r"rx_intr: port 0 ready, queue 0 fd (-?\d+)").group(1))

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.output += line

    def wait_for(self, pattern, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                m = re.search(pattern, self.output[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                self.reader.join(timeout=5)
                with self.lock:
                    m = re.search(pattern, self.output[start:])
                assert m, (f"xenfront-rx-intr exited ({self.proc.returncode}) before "
                           f"{pattern!r}:\n{self.output[-3000:]}")
                return m
            assert time.monotonic() < deadline, \
                f"no {pattern!r} from xenfront-rx-intr:\n{self.output[-3000:]}"
            time.sleep(0.05)

    def counters(self):
        """(rx, wakeups, sleeps), asked for with SIGUSR1."""
        with self.lock:
            start = len(self.output)
        self.proc.send_signal(signal.SIGUSR1)
        m = self.wait_for(COUNTERS.pattern, start=start)
        return tuple(int(g) for g in m.groups())

    def wait_rx(self, want, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if c[0] >= want or time.monotonic() > deadline:
                return c
            time.sleep(0.2)

    def cpu_seconds(self):
        """utime + stime of the whole process (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def quit(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        for marker in ("ERROR: AddressSanitizer", "runtime error:"):
            assert marker not in self.output, self.output
        assert self.proc.returncode == 0, self.output[-3000:]
        return self.output


def idle_cpu(app, seconds=1.0):
    """CPU seconds the app used over `seconds` of wall time, and its
    wake-ups meanwhile."""
    before_wake = app.counters()[1]
    before = app.cpu_seconds()
    time.sleep(seconds)
    used = app.cpu_seconds() - before
    return used, app.counters()[1] - before_wake


@pytest.mark.parametrize("split", [1, 0], ids=["split-channels", "one-channel"])
def test_rx_interrupt_sleeps_and_wakes(build, xensim, prefix, tmp_path, split):
    """With one event channel per queue pair, tx completions share the rx
    queue's channel (and its fd); with split channels they do not."""
    xensim.vif_add(1, 0)
    frames = pcapfile.make_frames(3, [60, 333, 1514], pcapfile.mac(GUEST_MAC),
                                  pcapfile.mac("02:00:00:00:00:02"), seed=3)
    pcapfile.write(tmp_path / "few.pcap", frames)
    back = app = None
    try:
        # Port 1 (pcap) → port 0 (net_xenback) with io forwarding, once.
        back = backend(build, xensim, prefix, app=["--forward-mode=io", "--no-flush-rx"],
                       devargs=f",split_event_channels={split}",
                       extra_vdevs=[f"net_pcap0,rx_pcap={tmp_path}/few.pcap,"
                                    f"tx_pcap={tmp_path}/out.pcap"])
        app = RxIntrApp(build, xensim, prefix)
        back.wait_link(0)
        app.wait_for(r"net_xenfront0: link up")
        time.sleep(0.5)  # let it settle into its first sleep
        # rte_eth_dev_rx_intr_ctl_q_get_fd: the queue's fd, an epoll fd
        # holding the event-channel fd and the driver's eventfd.
        assert app.fd >= 0, app.output
        fdinfo = pathlib.Path(f"/proc/{app.proc.pid}/fdinfo/{app.fd}").read_text()
        assert len(re.findall(r"^tfd:", fdinfo, re.M)) == 2, fdinfo

        used, wakeups = idle_cpu(app)
        print(f"idle before traffic: {used:.3f} s CPU, {wakeups} wake-ups")
        assert used <= 0.05, f"idle app used {used:.2f} s of CPU in 1 s"
        assert wakeups == 0, f"{wakeups} wake-ups while nothing was sent"

        # A few frames: one wake-up is enough for all of them.
        back.command("start")
        rx, wakeups, sleeps = app.wait_rx(len(frames))
        back.command("stop")
        assert rx == len(frames), (rx, app.output[-2000:])
        assert wakeups >= 1, (rx, wakeups, sleeps)

        # A second of full-rate traffic: everything the backend sent arrives.
        back.command("set fwd txonly")
        back.command("start")
        time.sleep(1)
        back.command("stop")
        sent = back.stats(0)["opackets"]
        assert sent > len(frames) + 1000, sent
        rx, wakeups2, sleeps2 = app.wait_rx(sent)
        assert rx == sent, f"received {rx} of {sent}"
        print(f"txonly: {sent} sent, {rx} received, {wakeups2} wake-ups, {sleeps2} sleeps")

        # And back to sleep.
        time.sleep(0.5)
        used, idle_wakeups = idle_cpu(app)
        print(f"idle after traffic: {used:.3f} s CPU, {idle_wakeups} wake-ups")
        assert used <= 0.05, f"idle app used {used:.2f} s of CPU in 1 s after traffic"
        assert idle_wakeups == 0, idle_wakeups
    finally:
        outputs = []
        if app is not None:
            outputs.append(app.quit())
        stop_all(back)
    assert COUNTERS.search(outputs[0]), outputs[0]
