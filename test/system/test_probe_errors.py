# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Both PMDs load into dpdk-testpmd and fail probing with one precise line
when there is nothing to drive or the devargs are wrong."""

import re
import subprocess

import pytest

from testpmd import backend, frontend, run_testpmd, stop_all

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
    ("xenfront", "net_xenfront0,bogus=1", "net_xenfront0: unknown devarg 'bogus' (valid: vif, connect_timeout, close_timeout, fanout, static_grants, trusted, rx_copybreak)"),
    ("xenfront", "net_xenfront0,vif=x",
     "net_xenfront0: devarg vif='x' is invalid: expected an integer from 0 to 65535"),
    ("xenback", "net_xenback0,vif=0",
     "net_xenback0: devarg 'domid' or 'domain' is required (domid=<uint>: the guest's domain "
     "id; domain=<name>: its name, followed across restarts)"),
    ("xenback", "net_xenback0,domid=1,domain=web",
     "net_xenback0: devargs 'domid' and 'domain' exclude each other: give the guest's domain "
     "id (domid=1) or its name (domain=web), not both"),
    ("xenback", "net_xenback0,domid=1,bogus=1",
     "net_xenback0: unknown devarg 'bogus' (valid: domid, domain, vif, style, sg, rx_copy, split_event_channels, csum, ipv6_csum, gso_tcpv4, gso_tcpv6, max_queues, ctrl_ring, multicast_control, dynamic_multicast_control, rsc, zerocopy, hostile)"),
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
    assert info["net_xenfront"]["params"].split() == [
        "vif=<uint>", "connect_timeout=<ms>", "close_timeout=<ms>", "fanout=0|1",
        "static_grants=0|1", "trusted=0|1", "rx_copybreak=<bytes>"]
    assert info["net_xenback"]["params"].split() == [
        "domid=<uint>", "domain=<name>", "vif=<uint>", "style=interrupt|poll", "sg=0|1", "rx_copy=0|1",
        "split_event_channels=0|1", "csum=0|1", "ipv6_csum=0|1", "gso_tcpv4=0|1",
        "gso_tcpv6=0|1", "max_queues=<uint>", "ctrl_ring=0|1",
        "multicast_control=0|1", "dynamic_multicast_control=0|1", "rsc=0|1", "zerocopy=0|1",
        "hostile=<behaviour>[:<rate>]"]


def test_no_vif_named(build, xensim, prefix):
    """A store but no vif: each driver names the node it looked for. The
    frontend's probe fails; the backend's port is made and waits for the
    toolstack to create the vif (test_vif_lifecycle.py)."""
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
    assert ("net_xenback0: waiting for /local/domain/0/backend/vif/1/0 to appear (xl "
            "network-attach, or xensim vif-add); link down until then") in out, out
    assert back.returncode == 0, out


def test_backend_not_running_probe_does_not_wait(build, xensim, prefix):
    """A vif whose backend is not running: the probe waits for nothing
    (it used to give up after connect_timeout); the port comes up link
    down, starting it is not an error, and closing it leaves the frontend
    Closed with none of its keys (test_app_defaults.py has the backend
    come later). connect_timeout is its longest, 10 minutes: a probe that
    waited for it, as the old one did, would hold testpmd far past
    run_testpmd's kill (60 s) and fail here, whatever the machine's load."""
    xensim.vif_add(1, 0)
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0,connect_timeout=600000"],
                    APP + ["--disable-link-check"],
                    env=xensim.env(1), stdin="show port info 0\nquit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: backend /local/domain/0/backend/vif/1/0 is Initialising, not "
            "ready: the port starts with link down and connects once the backend reaches "
            "InitWait") in out, out
    assert re.search(r"Link status:\s+down", out), out
    assert "Fail to start port" not in out, out
    assert r.returncode == 0, out
    state = xensim.xs(0, "read", "/local/domain/1/device/vif/0/state").stdout.strip()
    assert state == "6"
    assert xensim.xs(0, "exists", "/local/domain/1/device/vif/0/tx-ring-ref",
                     check=False).returncode != 0


# ---- the vif's own nodes, as the toolstack wrote them, made wrong ----

FRONT = "/local/domain/1/device/vif/0"


def probe_front(build, xensim, prefix, timeout_ms=2000):
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", f"net_xenfront0,vif=0,connect_timeout={timeout_ms}"], APP,
                    env=xensim.env(1), stdin="quit\n")
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("key,value,message", [
    ("mac", "zz:16:3e:00:01:00", "mac is 'zz:16:3e:00:01:00', not a unicast MAC address"),
    ("mac", "01:00:5e:00:00:01", "mac is '01:00:5e:00:00:01', not a unicast MAC address"),
    ("mac", None, "mac is missing"),
    ("mtu", "jumbo", "mtu is 'jumbo', not an MTU from 68 to 65521"),
    ("mtu", "67", "mtu is '67', not an MTU from 68 to 65521"),
    ("mtu", "70000", "mtu is '70000', not an MTU from 68 to 65521"),
    ("backend-id", "dom0", "backend-id is 'dom0', not a domain id"),
    ("backend-id", None, "backend-id is missing"),
    ("backend", "backend/vif/1/0", "backend is 'backend/vif/1/0', not an absolute path"),
])
def test_bad_vif_node_named(build, xensim, prefix, key, value, message):
    """Each node the frontend reads at probe, when wrong, is named with its
    full path and value; the probe fails before touching the vif's state."""
    xensim.vif_add(1, 0)
    if value is None:
        xensim.xs(0, "rm", f"{FRONT}/{key}")
    else:
        xensim.xs(0, "write", f"{FRONT}/{key}", value)
    rc, out = probe_front(build, xensim, prefix)
    assert f"net_xenfront0: {FRONT}/{message}" in out, out
    assert rc == 1
    assert xensim.xs(0, "read", f"{FRONT}/state").stdout.strip() == "1"


BACK = "/local/domain/0/backend/vif/1/0"


@pytest.mark.parametrize("devargs,key,value,message", [
    (",rx_copy=0", None, None,
     f"{BACK}/feature-rx-copy is '0', not 1: xenfront needs the copying receive path "
     "(which Linux netback always offers)"),
    ("", "feature-rx-copy", None,
     f"{BACK}/feature-rx-copy is missing, not 1: xenfront needs the copying receive path "
     "(which Linux netback always offers)"),
    ("", "feature-sg", "yes", f"{BACK}/feature-sg is 'yes', not 0 or 1"),
    ("", "feature-split-event-channels", "2",
     f"{BACK}/feature-split-event-channels is '2', not 0 or 1"),
    ("", "multi-queue-max-queues", "many",
     f"{BACK}/multi-queue-max-queues is 'many', not a number"),
])
def test_bad_backend_feature_named(build, xensim, prefix, devargs, key, value, message):
    """A backend that refuses the copying receive path, or writes a feature
    that is not 0 or 1: the probe names the node and its value and leaves
    the frontend as the toolstack wrote it (Initialising)."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, devargs=devargs)
    deadline = 30
    while xensim.xs(0, "read", f"{BACK}/state").stdout.strip() != "2" and deadline:
        import time
        time.sleep(0.1)
        deadline -= 0.1
    if key is not None:
        if value is None:
            xensim.xs(0, "rm", f"{BACK}/{key}")
        else:
            xensim.xs(0, "write", f"{BACK}/{key}", value)
    rc, out = probe_front(build, xensim, prefix + "f")
    assert f"net_xenfront0: {message}" in out, out
    assert rc == 1
    assert xensim.xs(0, "read", f"{FRONT}/state").stdout.strip() == "1"
    for k in ("tx-ring-ref", "rx-ring-ref", "event-channel", "request-rx-copy"):
        assert xensim.xs(0, "exists", f"{FRONT}/{k}", check=False).returncode != 0, k
    stop_all(back)


def test_state_not_writable_named_at_start(build, xensim, prefix):
    """The frontend may not write its state node (the toolstack made it
    read-only): the probe succeeds (Initialising needs no write), starting
    the port fails naming the node and the state it tried to write, and the
    connection keys are gone again."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix)
    xensim.xs(0, "chmod", f"{FRONT}/state", "n0", "r1")
    r = run_testpmd(build, build.eal_args(prefix + "f", build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0,connect_timeout=2000"], APP,
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert (f"net_xenfront0: cannot write {FRONT}/state = 4 (Connected): Permission denied"
            in out), out
    assert "Fail to start port 0" in out, out
    for k in ("tx-ring-ref", "rx-ring-ref", "event-channel", "request-rx-copy"):
        assert xensim.xs(0, "exists", f"{FRONT}/{k}", check=False).returncode != 0, k
    stop_all(back)


def test_connection_key_not_writable_named_at_start(build, xensim, prefix):
    """A key the frontend must replace at connection (request-rx-copy, which
    a previous frontend may have left) is read-only for it: starting the
    port fails naming that node, not just the transaction; nothing of the
    connection keys is left half-written."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix)
    xensim.xs(0, "write", f"{FRONT}/request-rx-copy", "1")
    xensim.xs(0, "chmod", f"{FRONT}/request-rx-copy", "n0", "r1")
    r = run_testpmd(build, build.eal_args(prefix + "f", build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0,connect_timeout=2000"], APP,
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert (f"net_xenfront0: cannot write the connection keys under {FRONT}: removing "
            f"{FRONT}/request-rx-copy: Permission denied" in out), out
    assert "Fail to start port 0" in out, out
    for k in ("tx-ring-ref", "rx-ring-ref", "event-channel"):
        assert xensim.xs(0, "exists", f"{FRONT}/{k}", check=False).returncode != 0, k
    stop_all(back)


# ---- configuring the port ----

def test_small_mbufs_without_scatter_named(build, xensim, prefix):
    """1024-byte mbufs cannot hold a 1500-byte MTU frame: the rx queue set-up
    says so and names both ways out."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix)
    r = run_testpmd(build, build.eal_args(prefix + "f", build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0"], ["-i", "--mbuf-size=1024"],
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: rx queue 0: mbufs of 896 bytes cannot hold a 1518-byte frame; "
            "enable RTE_ETH_RX_OFFLOAD_SCATTER or use larger mbufs") in out, out
    stop_all(back)


def test_mtu_beyond_mbufs_named(build, xensim, prefix):
    """On a jumbo vif, an MTU whose frames outgrow the rx mbufs is refused
    unless scattered rx is on, and the refusal says so."""
    xensim.vif_add(1, 0, mtu=9000)
    back = backend(build, xensim, prefix)
    front = frontend(build, xensim, prefix)
    front.command("port stop 0")
    out = front.command("port config mtu 0 9000")
    assert ("net_xenfront0: MTU 9000 needs 9018-byte frames, more than rx queue 0's mbufs "
            "hold; enable RTE_ETH_RX_OFFLOAD_SCATTER") in front.output, front.output[-2000:]
    front.command("port config 0 rx_offload scatter on")
    out = front.command("port config mtu 0 9000")
    assert "net_xenfront0: MTU" not in out, out
    stop_all(front, back)


@pytest.mark.gntalloc_limit(300)
def test_gntalloc_limit_named(build, xensim, prefix):
    """Fewer grants than a queue pair needs (386): the queue set-up names
    the gntalloc limit and where to raise it."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix)
    r = run_testpmd(build, build.eal_args(prefix + "f", build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0"], ["-i"], env=sim.env(1),
                    stdin="quit\n")
    out = r.stdout + r.stderr
    assert "net_xenfront0: rx queue 0: cannot grant 256 pages to domain 0" in out, out
    assert "/sys/module/xen_gntalloc/parameters/limit" in out, out
    stop_all(back)


@pytest.mark.parametrize("key,value,shown", [
    ("request-rx-copy", "0", "'0'"),
    ("feature-rx-notify", None, "absent"),
])
def test_backend_names_a_missing_mandatory_key(build, xensim, prefix, key, value, shown):
    """A frontend (written here by hand, as domain 1) that connects without
    one of the keys Linux netback requires: the backend's line names the
    node and what it holds, and it does not connect."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix)
    keys = {"tx-ring-ref": "8", "rx-ring-ref": "9", "event-channel": "5",
            "request-rx-copy": "1", "feature-rx-notify": "1"}
    keys.pop(key)
    if value is not None:
        keys[key] = value
    for k, v in keys.items():
        xensim.xs(1, "write", f"{FRONT}/{k}", v)
    xensim.xs(1, "write", f"{FRONT}/state", "4")
    back.wait_for(re.escape(f"net_xenback0: cannot connect to {FRONT}: frontend {FRONT}/{key} is {shown}; "
                            "netback requires 1"), timeout=30)
    assert not back.link_up(0)
    stop_all(back)
