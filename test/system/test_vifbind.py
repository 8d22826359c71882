# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""devtools/xen-vifbind.py against a fake sysfs tree (bus/xen/devices/vif-0,
drivers/vif/{bind,unbind}, the driver symlink, net/eth0) and the xensim
store, with a fake kernel that does what xen-netfront does on unbind and
bind; in between, the real net_xenfront takes the vif over and passes
traffic, then gives it back."""

import os
import pathlib
import subprocess
import threading
import time

import pytest

from conftest import ROOT, stop_at_teardown
from testpmd import backend, frontend, stop_all

TOOL = ROOT / "devtools/xen-vifbind.py"


class FakeKernel:
    """sysfs as Linux shows a guest with one vif bound to xen-netfront, and
    a thread that reacts to writes to drivers/vif/{bind,unbind} the way the
    kernel does, writing the frontend state into the xensim store."""

    def __init__(self, root: pathlib.Path, sim):
        self.root = root
        self.sim = sim
        self.dev = root / "bus/xen/devices/vif-0"
        self.drv = root / "bus/xen/drivers/vif"
        self.dev.mkdir(parents=True)
        self.drv.mkdir(parents=True)
        (self.dev / "nodename").write_text("device/vif/0\n")
        (self.dev / "devtype").write_text("vif\n")
        for f in ("bind", "unbind"):
            (self.drv / f).write_text("")
        params = root / "module/xen_gntalloc/parameters"
        params.mkdir(parents=True)
        (params / "limit").write_text("1024\n")
        self.events = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def attach_driver(self, up: bool):
        os.symlink("../../drivers/vif", self.dev / "driver")
        (self.dev / "net/eth0").mkdir(parents=True, exist_ok=True)
        self.set_up(up)

    def set_up(self, up: bool):
        (self.dev / "net/eth0/flags").write_text("0x1003\n" if up else "0x1002\n")

    def state(self, value: int):
        self.sim.xs(1, "write", "device/vif/0/state", str(value))

    def start(self):
        self.thread.start()

    def _run(self):
        while not self.stop_flag:
            for f in ("unbind", "bind"):
                text = (self.drv / f).read_text().strip()
                if not text:
                    continue
                (self.drv / f).write_text("")
                self.events.append((f, text))
                if f == "unbind":
                    # xennet_remove: Closing, Closed; the device leaves the driver.
                    self.state(5)
                    (self.dev / "driver").unlink()
                    subprocess.run(["rm", "-rf", str(self.dev / "net")], check=True)
                    self.state(6)
                else:
                    # netfront_probe: Initialising; a real one connects to the
                    # backend, this one only says it did.
                    self.attach_driver(up=False)
                    self.state(1)
                    self.state(4)
            time.sleep(0.05)

    def stop(self):
        self.stop_flag = True
        self.thread.join(timeout=5)


def tool(sim, root, *args):
    return subprocess.run(["/usr/bin/python3", str(TOOL), "--sysfs", str(root)] + list(args),
                          capture_output=True, text=True, env=sim.env(1), timeout=60)


def test_vifbind_round_trip(build, xensim, prefix, tmp_path):
    xensim.vif_add(1, 0)
    root = tmp_path / "sys"
    kernel = FakeKernel(root, xensim)
    kernel.attach_driver(up=True)
    kernel.state(4)
    kernel.start()
    stop_at_teardown(kernel.stop)  # a thread, stopped whatever the test does
    st = tool(xensim, root, "--status")
    assert st.returncode == 0, st.stderr
    assert "vif-0  device/vif/0  mac=00:16:3e:00:01:00  state=Connected" in st.stdout, st.stdout
    assert "owner: kernel (xen-netfront, eth0)" in st.stdout, st.stdout
    assert ("gntalloc: limit 1024 grants: 2 queue pair(s) of 256 descriptors (386 grants "
            "each)") in st.stdout, st.stdout

    # An interface that is up is not pulled from under the kernel.
    up = tool(xensim, root, "--to-userspace", "0", "--apply")
    assert up.returncode == 1
    assert "vif-0's interface eth0 is up; bring it down first" in up.stderr, up.stderr
    kernel.set_up(False)

    # Dry run by default: says what it would do, changes nothing.
    dry = tool(xensim, root, "--to-userspace", "vif-0")
    assert dry.returncode == 0, dry.stderr
    assert f"would write 'vif-0' to {root}/bus/xen/drivers/vif/unbind" in dry.stdout
    assert "dry run: nothing changed" in dry.stdout
    time.sleep(0.2)
    assert kernel.events == [] and (kernel.dev / "driver").is_symlink()

    done = tool(xensim, root, "--to-userspace", "vif-0", "--apply")
    assert done.returncode == 0, done.stdout + done.stderr
    assert kernel.events == [("unbind", "vif-0")]
    assert "vif-0 is free for user space: --vdev net_xenfront0,vif=0" in done.stdout
    assert "owner: none (free for net_xenfront)" in tool(xensim, root, "--status").stdout

    # The real frontend takes it from Closed and carries traffic.
    back = backend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, xensim, prefix, app=["--forward-mode=txonly"])
    front.wait_link(0)
    back.command("start")
    front.command("start")
    time.sleep(0.5)
    front.command("stop")
    assert front.stats(0)["opackets"] > 0
    st = tool(xensim, root, "--status")
    assert "owner: userspace (a DPDK application is connected)" in st.stdout, st.stdout
    busy = tool(xensim, root, "--to-kernel", "vif-0", "--apply")
    assert busy.returncode == 1
    assert ("device/vif/0/state is Connected: a DPDK application still drives this vif"
            in busy.stderr), busy.stderr
    stop_all(front, back)

    # Closed by the application: back to the kernel.
    dry = tool(xensim, root, "--to-kernel", "vif-0")
    assert dry.returncode == 0 and "would write 'vif-0' to" in dry.stdout, dry.stdout
    back_to_kernel = tool(xensim, root, "--to-kernel", "vif-0", "--apply")
    assert back_to_kernel.returncode == 0, back_to_kernel.stdout + back_to_kernel.stderr
    assert kernel.events[-1] == ("bind", "vif-0")
    assert "vif-0 is back with xen-netfront: eth0" in back_to_kernel.stdout
    st = tool(xensim, root, "--status")
    assert "owner: kernel (xen-netfront, eth0)" in st.stdout, st.stdout
    kernel.stop()


@pytest.mark.parametrize("args,message", [
    (["--to-userspace", "vif-7"], "no vif-7 in "),
    (["--to-kernel", "3"], "no vif-3 in "),
])
def test_vifbind_unknown_vif(xensim, tmp_path, args, message):
    xensim.vif_add(1, 0)
    root = tmp_path / "sys"
    FakeKernel(root, xensim).attach_driver(up=False)
    r = tool(xensim, root, *args)
    assert r.returncode == 1 and message in r.stderr and "(vifs: vif-0)" in r.stderr, r.stderr


def test_vifbind_not_a_guest(xensim, tmp_path):
    r = tool(xensim, tmp_path, "--status")
    assert r.returncode == 1
    assert "(not a Xen guest, or no xenbus)" in r.stderr, r.stderr
