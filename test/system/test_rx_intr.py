# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Rx interrupt mode: app/rx_intr (xenfront-rx-intr, domain 1) sleeps in
rte_epoll_wait on net_xenfront's rx queue while nothing arrives, wakes when
the backend (testpmd with net_xenback, domain 0) sends, and receives every
packet sent: a few frames from a pcap file, then a second of testpmd's
txonly. Idle, it uses next to no CPU."""

import pathlib
import re
import time

import pytest

import pcapfile
from conftest import COUNTERS, RxIntrApp
from testpmd import GUEST_MAC, backend, stop_all

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
    outputs = [app.quit()]
    stop_all(back)
    assert COUNTERS.search(outputs[0]), outputs[0]
