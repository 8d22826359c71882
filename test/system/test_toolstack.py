# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The `xensim` toolstack command: instances, vifs, status, errors."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import build_dir, sanitized, stop_at_teardown
from xensim_env import XenSim


@pytest.fixture
def shm_dir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="xensim-tool.", dir="/dev/shm"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_vif_add_writes_the_nodes_xl_network_attach_writes(xensim):
    xensim.vif_add(domid=1, vif=0)
    fe = "/local/domain/1/device/vif/0"
    be = "/local/domain/0/backend/vif/1/0"
    mac = "00:16:3e:00:01:00"
    # Frontend: owned by the guest, readable by the backend domain (libxl
    # frontend_perms); mtu read-only for the guest (ro_frontend_perms).
    nodes = xensim.ls_perms(0, "/local/domain/1/device/vif")
    assert nodes == {
        fe: ("", "n1,r0"),
        fe + "/backend": (be, "n1,r0"),
        fe + "/backend-id": ("0", "n1,r0"),
        fe + "/state": ("1", "n1,r0"),
        fe + "/handle": ("0", "n1,r0"),
        fe + "/mac": (mac, "n1,r0"),
        fe + "/trusted": ("1", "n1,r0"),
        fe + "/mtu": ("1500", "n0,r1"),
    }
    # Backend: owned by the backend domain, readable by the guest.
    nodes = xensim.ls_perms(0, "/local/domain/0/backend/vif/1")
    assert nodes == {
        be: ("", "n0,r1"),
        be + "/frontend": (fe, "n0,r1"),
        be + "/frontend-id": ("1", "n0,r1"),
        be + "/online": ("1", "n0,r1"),
        be + "/state": ("1", "n0,r1"),
        be + "/script": ("/etc/xen/scripts/vif-bridge", "n0,r1"),
        be + "/mac": (mac, "n0,r1"),
        be + "/bridge": ("xenbr0", "n0,r1"),
        be + "/handle": ("0", "n0,r1"),
        be + "/type": ("vif", "n0,r1"),
        # xensim runs no hotplug script; vif-add does what vif-bridge's
        # success() would (libxl writes "" first).
        be + "/hotplug-status": ("connected", "n0,r1"),
    }
    # The domain itself, as libxl__domain_make() lays it out.
    dom = xensim.ls_perms(0, "/local/domain")
    assert dom["/local/domain/1"] == ("", "n0,r1")
    assert dom["/local/domain/1/domid"] == ("1", "n0,r1")
    assert dom["/local/domain/1/name"][0] == "xensim-dom1"
    assert dom["/local/domain/1/device"] == ("", "n0,r1")
    assert dom["/local/domain/1/data"] == ("", "n1")
    assert dom["/local/domain/0/domid"] == ("0", "n0")
    assert dom["/local/domain/0/name"] == ("Domain-0", "n0")
    # libxl's private copy.
    lx = xensim.ls_perms(0, "/libxl/1/device/vif/0")
    assert lx["/libxl/1/device/vif/0/frontend"] == (fe, "n0")
    assert lx["/libxl/1/device/vif/0/backend"] == (be, "n0")
    with xensim.client(0) as c:
        assert c.is_introduced(1)


def test_vif_add_options_mtu_mac_max_queues_backend(xensim):
    xensim.vif_add(domid=2, vif=3, backend_domid=5, mac="AA:bb:cc:00:11:22", mtu=9000,
                   max_queues=4)
    fe = "/local/domain/2/device/vif/3"
    be = "/local/domain/5/backend/vif/2/3"
    nodes = xensim.ls_perms(0, fe)
    assert nodes[fe + "/mac"] == ("aa:bb:cc:00:11:22", "n2,r5")
    assert nodes[fe + "/mtu"] == ("9000", "n5,r2")
    assert nodes[fe + "/backend"] == (be, "n2,r5")
    assert nodes[fe + "/handle"] == ("3", "n2,r5")
    bnodes = xensim.ls_perms(0, be)
    assert bnodes[be + "/mtu"] == ("9000", "n5,r2")
    assert bnodes[be + "/max-queues"] == ("4", "n5,r2")
    # The backend driver advertises multi-queue itself, as netback does.
    assert not any(k.endswith("multi-queue-max-queues") for k in bnodes)
    with xensim.client(0) as c:
        assert c.is_introduced(5) and c.is_introduced(2)


def test_default_macs_are_deterministic_and_distinct(xensim):
    xensim.vif_add(domid=1, vif=0)
    xensim.vif_add(domid=1, vif=1)
    xensim.vif_add(domid=258, vif=0)
    read = lambda d, v: xensim.xs(0, "read", f"/local/domain/{d}/device/vif/{v}/mac").stdout
    assert [read(1, 0), read(1, 1), read(258, 0)] == [
        "00:16:3e:00:01:00\n", "00:16:3e:00:01:01\n", "00:16:3e:01:02:00\n"]


def test_vif_add_errors_are_one_line(xensim):
    xensim.vif_add(domid=1, vif=0)
    cases = [
        (["vif-add", "--domid", "1", "--vif", "0"], "already exists"),
        (["vif-add", "--domid", "1", "--vif", "1", "--mac", "01:00:00:00:00:01"], "multicast"),
        (["vif-add", "--domid", "1", "--vif", "1", "--mac", "zz"], "xx:xx:xx:xx:xx:xx"),
        (["vif-add", "--domid", "1", "--vif", "1", "--mtu", "20"], "out of range"),
        (["vif-add", "--domid", "0", "--vif", "1"], "out of range"),
        (["vif-add", "--domid", "1"], "--vif is required"),
        (["vif-add", "--domid", "2", "--vif", "0", "--backend-domid", "2"], "own domain"),
        (["vif-add", "--domid", "1", "--vif", "1", "--bogus", "1"], "unknown option"),
        (["vif-del", "--domid", "1", "--vif", "7"], "has no vif 7"),
        (["frobnicate"], "unknown command"),
    ]
    for args, words in cases:
        p = xensim.run(*args, check=False)
        assert p.returncode != 0, args
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("xensim: ") and words in lines[0], \
            (args, p.stderr)
    # Nothing half-written by the failed attempts.
    assert xensim.xs(0, "exists", "/local/domain/1/device/vif/1", check=False).returncode != 0


def test_vif_del_removes_both_sides(xensim):
    xensim.vif_add(domid=1, vif=0)
    xensim.vif_add(domid=1, vif=1)
    xensim.vif_del(domid=1, vif=0)
    with xensim.client(0) as c:
        assert c.directory("/local/domain/1/device/vif") == ["1"]
        assert c.directory("/local/domain/0/backend/vif/1") == ["1"]
        assert c.directory("/libxl/1/device/vif") == ["1"]
    xensim.vif_del(domid=1, vif=1)
    with xensim.client(0) as c:
        # libxl__xs_path_cleanup(): emptied parents go too.
        with pytest.raises(OSError):
            c.read("/local/domain/0/backend")
        with pytest.raises(OSError):
            c.read("/local/domain/1/device/vif")
        assert c.read("/local/domain/1/domid") == b"1"  # the domain stays
    xensim.vif_add(domid=1, vif=0)  # and may get a vif again


def test_frontend_watch_sees_the_vif_appear(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as fe:
        fe.watch("device/vif", "t")
        assert fe.events() == [("device/vif", "t")]
        xensim.vif_add(domid=1, vif=1)
        ev = fe.events()
        assert ("device/vif/1", "t") in ev
        assert ("device/vif/1/state", "t") in ev


def test_status_reports_daemons_domains_and_hv(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1):
        st = xensim.status()
        assert st["dir"] == str(xensim.dir)
        assert st["daemons"]["store"]["alive"] and st["daemons"]["hv"]["alive"]
        doms = {d["domid"]: d for d in st["store"]["domains"]}
        assert set(doms) == {0, 1}
        assert doms[1]["connections"] == 1
        assert st["store"]["nodes"] > 30
        assert isinstance(st["hv"], dict)  # xensim-hvd --status, embedded
    text = xensim.run("status").stdout
    assert str(xensim.dir) in text and "running" in text


def test_env_for_a_domain_is_evaluable(xensim):
    env = xensim.env(3)
    assert env["XENSIM_DIR"] == str(xensim.dir)
    assert env["XENSIM_DOMID"] == "3"
    assert env["XENSTORED_PATH"] == str(xensim.dir / "store/domain-3.sock")
    libdir = env["LD_LIBRARY_PATH"].split(":")[0]
    assert pathlib.Path(libdir, "libxengnttab.so.1").exists()
    # An existing LD_LIBRARY_PATH is kept behind the stand-ins.
    out = subprocess.run(
        ["bash", "-c", f'LD_LIBRARY_PATH=/opt/x; eval "$({xensim.exe} env --domid 1 '
         f'--dir {xensim.dir})"; echo "$LD_LIBRARY_PATH"'],
        capture_output=True, text=True, check=True).stdout.strip()
    assert out == libdir + ":/opt/x"


def test_start_eval_status_stop_leaves_nothing(shm_dir):
    sim = XenSim(build_dir(), sanitize=sanitized())
    inst = shm_dir / "inst"
    script = (f'set -e; eval "$({sim.exe} start --dir {inst})"; '
              f'test "$XENSIM_DOMID" = 0; xenstore-read /local/domain/0/name; '
              f'{sim.exe} status --json')
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "Domain-0"
    st = json.loads(lines[1])
    pids = [st["daemons"]["store"]["pid"], st["daemons"]["hv"]["pid"]]
    assert all(pid_alive(x) for x in pids)
    assert (inst / "store.log").exists() and (inst / "hv.log").exists()
    # A second start in the same directory is refused.
    again = subprocess.run([str(sim.exe), "start", "--dir", str(inst)], capture_output=True,
                           text=True)
    assert again.returncode != 0 and "already running" in again.stderr
    stop = subprocess.run([str(sim.exe), "stop"], capture_output=True, text=True,
                          env={**os.environ, "XENSIM_DIR": str(inst)})
    assert stop.returncode == 0, stop.stderr
    assert not inst.exists()
    deadline = time.monotonic() + 5
    while any(pid_alive(x) for x in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(x) for x in pids)


def test_start_without_dir_uses_dev_shm(shm_dir):
    sim = XenSim(build_dir(), sanitize=sanitized())
    p = subprocess.run([str(sim.exe), "start"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.startswith("export XENSIM_DIR='/dev/shm/xensim.")
    inst = pathlib.Path(first.split("'")[1])
    sim.dir = inst
    stop_at_teardown(sim.stop)
    assert (inst / "store/domain-0.sock").exists()
    subprocess.run([str(sim.exe), "stop", "--dir", str(inst)], check=True)
    assert not inst.exists()


def test_two_instances_side_by_side(shm_dir):
    a = XenSim(build_dir(), sanitize=sanitized())
    b = XenSim(build_dir(), sanitize=sanitized())
    stop_at_teardown(a.stop)
    stop_at_teardown(b.stop)
    a.start(shm_dir / "a")
    b.start(shm_dir / "b")
    a.vif_add(domid=1, vif=0, mac="00:16:3e:aa:00:01")
    b.vif_add(domid=1, vif=0, mac="00:16:3e:bb:00:01")
    assert a.xs(1, "read", "device/vif/0/mac").stdout == "00:16:3e:aa:00:01\n"
    assert b.xs(1, "read", "device/vif/0/mac").stdout == "00:16:3e:bb:00:01\n"
    a.xs(0, "write", "/only/in/a", "1")
    assert b.xs(0, "exists", "/only/in/a", check=False).returncode != 0
    sa, sb = a.status(), b.status()
    assert sa["daemons"]["store"]["pid"] != sb["daemons"]["store"]["pid"]
    b.stop()
    # Stopping one leaves the other running.
    assert a.xs(0, "read", "/only/in/a").stdout == "1\n"
    a.stop()
    assert not (shm_dir / "a").exists() and not (shm_dir / "b").exists()


def test_stop_kills_a_daemon_that_ignores_sigterm_and_cleans_up(shm_dir, tmp_path):
    stub = tmp_path / "stubborn-hvd"
    stub.write_text("#!/bin/sh\ntrap '' TERM\nmkdir -p \"$2/hv\"\ntouch \"$2/hv/ready\"\n"
                    "while :; do sleep 0.1; done\n")
    stub.chmod(0o755)
    sim = XenSim(build_dir(), sanitize=sanitized())
    inst = shm_dir / "inst"
    sim.run("start", "--dir", inst, env={"XENSIM_HVD": str(stub)})
    sim.dir = inst
    hv_pid = int((inst / "hv.pid").read_text())
    p = sim.run("stop", env={"XENSIM_HVD": str(stub)})
    assert "killed" in p.stderr
    assert not inst.exists()
    deadline = time.monotonic() + 5
    while pid_alive(hv_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(hv_pid)


def test_start_failure_is_reported_and_cleaned_up(shm_dir, tmp_path):
    broken = tmp_path / "broken-hvd"
    broken.write_text("#!/bin/sh\necho 'hvd: cannot map the grant table' >&2\nexit 3\n")
    broken.chmod(0o755)
    sim = XenSim(build_dir(), sanitize=sanitized())
    inst = shm_dir / "inst"
    p = sim.run("start", "--dir", inst, env={"XENSIM_HVD": str(broken)}, check=False)
    assert p.returncode != 0
    line = p.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "hypervisor daemon" in line and "cannot map the grant table" in line
    # The store daemon it had started is gone, and so is the directory.
    assert not inst.exists()
    out = subprocess.run(["pgrep", "-f", f"xensim-stored --dir {inst}"], capture_output=True)
    assert out.returncode != 0


def test_commands_need_an_instance(shm_dir):
    sim = XenSim(build_dir())
    env = {k: v for k, v in os.environ.items() if k != "XENSIM_DIR"}
    p = subprocess.run([str(sim.exe), "status"], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "XENSIM_DIR" in p.stderr
    p = subprocess.run([str(sim.exe), "stop", "--dir", str(shm_dir)], capture_output=True,
                       text=True, env=env)
    assert p.returncode != 0 and "no xensim instance" in p.stderr
    assert shm_dir.exists()  # never removes a directory that is not an instance
