# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The store daemon restarted (xensim restart-store), seen by xenstore
clients: a live update keeps the tree, permissions, quota accounting,
connections, watches and even a transaction in progress (the update waits
for it); a kill-and-restore keeps the tree, permissions and accounting
from the snapshot and breaks every connection."""

import errno
import os
import signal
import struct
import subprocess
import time

import pytest

from xensim_env import XS_READ


def status(sim):
    return sim.status()["store"]


def domain(sim, domid):
    return next(d for d in status(sim)["domains"] if d["domid"] == domid)


def kill_store(sim):
    """SIGKILL to the store daemon, and wait until it is gone."""
    os.kill(status(sim)["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while sim.run("status", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the killed daemon still runs"
        time.sleep(0.1)


def test_live_update_keeps_tree_perms_quotas_and_connections(xensim):
    sim = xensim
    sim.vif_add(1, 0)
    with sim.client(0) as dom0, sim.client(1) as guest:
        guest.write("data/mine", "guest")
        dom0.write("/secret", "dom0 only")
        guest.watch("data", "tok")
        assert guest.events() == [("data", "tok")]
        # A request half sent before the update is completed after it.
        raw = sim.raw(1)
        raw.s.sendall(struct.pack("<I", XS_READ))  # the rest to follow
        before, dom1 = status(sim), domain(sim, 1)

        out = sim.run("restart-store").stdout
        assert "live-updated" in out

        after = status(sim)
        assert after["pid"] == before["pid"] and after["live_updates"] == 1
        assert after["nodes"] == before["nodes"]
        assert after["connections"] == before["connections"]
        assert domain(sim, 1) == dom1  # nodes and watches it owns
        assert guest.read("data/mine") == b"guest"
        with pytest.raises(OSError) as e:
            guest.read("/secret")
        assert e.value.errno == errno.EACCES
        dom0.write("/local/domain/1/data/mine", "changed")
        assert guest.wait_watch(10) == ("data/mine", "tok")
        path = b"data/mine\0"
        raw.s.sendall(struct.pack("<III", 7, 0, len(path)) + path)
        type_, req_id, tx_id, payload = raw.recv()
        assert type_ == XS_READ and req_id == 7 and payload == b"changed"
        raw.close()
    assert "live update 1: took over" in (sim.dir / "store.log").read_text()


def test_live_update_waits_for_an_open_transaction(xensim):
    sim = xensim
    with sim.client(0) as a:
        t = a.transaction_start()
        a.write("/tx/x", "in the transaction", t)
        p = subprocess.Popen([str(sim.exe), "restart-store", "--dir", str(sim.dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=sim.base_env())
        time.sleep(1)
        assert p.poll() is None  # waiting for the transaction
        a.transaction_end(t)  # commits: the client noticed nothing
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert a.read("/tx/x") == b"in the transaction"
        # New transactions work on the new daemon.
        t = a.transaction_start()
        a.write("/tx/y", "after", t)
        a.transaction_end(t)
    assert status(sim)["live_updates"] == 1


def test_live_update_refused_while_a_transaction_stays_open(xensim):
    sim = xensim
    with sim.client(0) as a:
        t = a.transaction_start()
        p = sim.run("restart-store", check=False, timeout=60)
        assert p.returncode == 1
        assert "refused the live update" in p.stderr, p.stderr
        a.write("/tx/z", "1", t)
        a.transaction_end(t)
    s = status(sim)
    assert s["live_updates"] == 0


def test_live_update_to_a_missing_binary_is_refused(xensim):
    p = xensim.run("restart-store", "--binary", "/nonexistent/xensim-stored", check=False)
    assert p.returncode == 1 and "live update failed" in p.stderr, p.stderr
    assert status(xensim)["live_updates"] == 0


def test_kill_and_restore_keeps_tree_and_perms_breaks_connections(xensim):
    sim = xensim
    sim.vif_add(1, 0)
    with sim.client(1) as guest:
        guest.write("data/mine", "guest")
        guest.watch("data", "tok")
        guest.events()
        before, dom1 = status(sim), domain(sim, 1)
        perms = sim.ls_perms(0, "/local/domain/1/device/vif/0")
        # Killed right after: every change acknowledged is in the snapshot.
        out = sim.run("restart-store", "--kill").stdout
        assert "restarted from" in out, out
        after = status(sim)
        assert after["pid"] != before["pid"] and after["restored"]
        assert after["nodes"] == before["nodes"]
        # The accounting is kept; the watches died with the connections.
        assert domain(sim, 1) == {**dom1, "watches": 0, "connections": 0}
        assert sim.ls_perms(0, "/local/domain/1/device/vif/0") == perms
        # The old connection is gone for good (libxenstore never reconnects).
        with pytest.raises(OSError):
            guest.read("data/mine")
    with sim.client(1) as guest:
        assert guest.read("data/mine") == b"guest"
        with pytest.raises(OSError) as e:
            guest.write("/forbidden", "x")
        assert e.value.errno == errno.EACCES
    assert "restored" in (sim.dir / "store.log").read_text()


def test_kill_and_restore_after_the_daemon_died(xensim):
    """The daemon killed by someone else: restart-store --kill restores it."""
    sim = xensim
    sim.vif_add(1, 0)
    kill_store(sim)
    with pytest.raises(AssertionError):
        sim.xs(0, "read", "/local/domain/1/device/vif/0/mac")
    sim.run("restart-store", "--kill")
    assert sim.xs(0, "read", "/local/domain/1/device/vif/0/mac").stdout.strip() == \
        "00:16:3e:00:01:00"
    # Without a running daemon, a live update says what to do.
    kill_store(sim)
    p = sim.run("restart-store", check=False)
    assert p.returncode == 1 and "restart-store --kill" in p.stderr, p.stderr
    sim.run("restart-store", "--kill")
