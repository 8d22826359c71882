# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Both PMDs load into dpdk-testpmd and fail probing with one precise line
when there is nothing to drive or the devargs are wrong."""

import subprocess

import pytest

from conftest import run_testpmd

# testpmd only warns "No probed ethernet devices" and carries on with zero
# ports; --nb-ports=1 makes it exit non-zero when our port failed to probe.
APP = ["--nb-ports=1", "-i"]


def no_store_env():
    # Neither a xenstored socket nor /dev/xen/xenbus: as on a host without Xen.
    return {"XENSTORED_PATH": "/nonexistent/xenstored/socket"}


@pytest.mark.parametrize("driver,vdev,line", [
    ("xenfront", "net_xenfront0,vif=0",
     "net_xenfront0: no xenstore reachable at XENSTORED_PATH=/nonexistent/xenstored/socket"),
    ("xenback", "net_xenback0,domid=1,vif=0",
     "net_xenback0: no xenstore reachable at XENSTORED_PATH=/nonexistent/xenstored/socket"),
])
def test_no_store_reachable(build, prefix, driver, vdev, line):
    lib = getattr(build, driver)
    r = run_testpmd(build, build.eal_args(prefix, lib) + ["--vdev", vdev], APP,
                    env=no_store_env(), stdin="quit\n")
    out = r.stdout + r.stderr
    assert line + " (No such file or directory)" in out, out
    assert "Invalid port 1" in out, out
    assert r.returncode == 1  # rte_exit(EXIT_FAILURE), not a sanitizer exit


@pytest.mark.parametrize("value", [None, ""])
def test_no_store_without_xenstored_path(build, prefix, value):
    """Without XENSTORED_PATH (unset or empty) the message tells the user both
    ways out."""
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", "net_xenfront0"], APP, env={"XENSTORED_PATH": value},
                    stdin="quit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: no xenstore reachable (set XENSTORED_PATH or run inside "
            "a Xen guest)") in out, out
    assert r.returncode == 1  # rte_exit(EXIT_FAILURE), not a sanitizer exit


@pytest.mark.parametrize("driver,vdev,line", [
    ("xenfront", "net_xenfront0,bogus=1", "net_xenfront0: unknown devarg 'bogus' (valid: vif, connect_timeout)"),
    ("xenfront", "net_xenfront0,vif=x",
     "net_xenfront0: devarg vif='x' is invalid: expected an integer from 0 to 65535"),
    ("xenback", "net_xenback0,vif=0",
     "net_xenback0: devarg 'domid' is required (domid=<uint>: the guest's domain id)"),
    ("xenback", "net_xenback0,domid=1,bogus=1",
     "net_xenback0: unknown devarg 'bogus' (valid: domid, vif, style, sg, rx_copy, split_event_channels, hostile)"),
])
def test_bad_devargs_named(build, prefix, driver, vdev, line):
    lib = getattr(build, driver)
    r = run_testpmd(build, build.eal_args(prefix, lib) + ["--vdev", vdev], APP,
                    env=no_store_env(), stdin="quit\n")
    out = r.stdout + r.stderr
    assert line in out, out
    # The devargs are refused before the store is even looked for.
    assert "xenstore" not in out, out
    assert r.returncode == 1  # rte_exit(EXIT_FAILURE), not a sanitizer exit


def test_pmdinfo_lists_both_drivers(build):
    import json
    r = subprocess.run(["/usr/bin/python3", "/usr/bin/dpdk-pmdinfo.py",
                        str(build.xenfront), str(build.xenback)],
                       capture_output=True, text=True, check=True)
    info = {d["name"]: d for d in json.loads(r.stdout)}
    assert info["net_xenfront"]["params"].split() == ["vif=<uint>", "connect_timeout=<ms>"]
    assert info["net_xenback"]["params"].split() == [
        "domid=<uint>", "vif=<uint>", "style=interrupt|poll", "sg=0|1", "rx_copy=0|1",
        "split_event_channels=0|1", "hostile=<behaviour>[:<rate>]"]


def test_no_vif_named(build, xensim, prefix):
    """A store but no vif: each driver names the node it looked for."""
    xensim.vif_add(2, 0)  # domain 2 exists; domain 1 has no vif
    front = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                        ["--vdev", "net_xenfront0,vif=3"], APP, env=xensim.env(2),
                        stdin="quit\n")
    out = front.stdout + front.stderr
    assert ("net_xenfront0: vif 3 not found: cannot read /local/domain/2/device/vif/3/backend "
            "(No such file or directory); is there a vif 3 for this domain?") in out, out
    assert front.returncode == 1
    back = run_testpmd(build, build.eal_args(prefix + "b", build.xenback) +
                       ["--vdev", "net_xenback0,domid=1,vif=0"], APP, env=xensim.env(0),
                       stdin="quit\n")
    out = back.stdout + back.stderr
    assert ("net_xenback0: no vif 0 of domain 1: cannot read /local/domain/0/backend/vif/1/0/"
            "frontend (No such file or directory); create the vif first (xl network-attach, "
            "or xensim vif-add)") in out, out
    assert back.returncode == 1


def test_backend_not_running_times_out_cleanly(build, xensim, prefix):
    """A vif whose backend never comes: the probe gives up after
    connect_timeout, names the backend's path and state, and leaves the
    frontend's state as the toolstack wrote it."""
    xensim.vif_add(1, 0)
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0,connect_timeout=300"], APP,
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: backend /local/domain/0/backend/vif/1/0 did not reach InitWait "
            "within 300 ms (state Initialising): is the backend running?") in out, out
    assert r.returncode == 1
    state = xensim.xs(0, "read", "/local/domain/1/device/vif/0/state").stdout.strip()
    assert state == "1"
