# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Watches as xenstored fires them, through libxenstore."""

import errno

import pytest

from xensim_env import XS_ERROR, XS_WATCH, XS_WATCH_EVENT, XS_RESET_WATCHES, XS_WRITE


def test_initial_event_then_node_and_subtree_events(xensim):
    with xensim.client(0) as w, xensim.client(0) as c:
        c.write("/a/b", "1")
        w.watch("/a", "tok")
        assert w.wait_watch() == ("/a", "tok")  # fired once on registration
        c.write("/a/b", "2")
        c.write("/a/b/c/d", "3")  # implicit parents: one event, for the node written
        c.write("/a", "self")
        c.write("/ab", "sibling, not a child")
        c.mkdir("/a/b")  # exists already: no event
        assert w.events() == [("/a/b", "tok"), ("/a/b/c/d", "tok"), ("/a", "tok")]


def test_rm_fires_for_every_removed_node_and_the_watched_ancestors(xensim):
    with xensim.client(0) as w, xensim.client(0) as c:
        c.write("/r/x/y", "1")
        c.write("/r/x/z", "2")
        w.watch("/r", "up")
        w.watch("/r/x/y", "exact")
        w.watch("/r/x/y/below", "gone")
        assert sorted(w.events()) == sorted(
            [("/r", "up"), ("/r/x/y", "exact"), ("/r/x/y/below", "gone")])
        c.rm("/r/x")
        ev = w.events()
        # Subtree watch sees /r/x; the exact watch on the removed child
        # fires too; a watch below a missing node does not.
        assert ("/r/x", "up") in ev
        assert ("/r/x/y", "exact") in ev
        assert all(tok != "gone" for _, tok in ev)


def test_relative_watch_reports_relative_paths(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as w, xensim.client(0) as c:
        w.watch("device/vif/0/state", "fe")
        assert w.wait_watch() == ("device/vif/0/state", "fe")
        c.write("/local/domain/1/device/vif/0/state", "3")
        assert w.wait_watch() == ("device/vif/0/state", "fe")
        w.watch("/local/domain/1/device", "abs")
        assert w.wait_watch() == ("/local/domain/1/device", "abs")


def test_domU_gets_no_events_for_nodes_it_cannot_read(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as w, xensim.client(0) as c:
        w.watch("/local/domain/0", "spy")
        assert w.wait_watch() == ("/local/domain/0", "spy")  # registration only
        c.write("/local/domain/0/secret/deeper", "x")
        c.write("/local/domain/0/backend/vif/1/0/state", "2")  # readable by 1
        assert w.events() == [("/local/domain/0/backend/vif/1/0/state", "spy")]

        # xenstored watch_permitted(): the node or its parent readable.
        c.write("/local/domain/0/open/leaf", "1")
        c.set_perms("/local/domain/0/open", ["n0", "r1"])
        c.set_perms("/local/domain/0/open/leaf", ["n0", "r1"])
        assert w.events() == [("/local/domain/0/open", "spy"),
                              ("/local/domain/0/open/leaf", "spy")]
        # Losing access to the node still tells it (old permissions).
        c.set_perms("/local/domain/0/open/leaf", ["n0"])
        assert w.events() == [("/local/domain/0/open/leaf", "spy")]
        c.write("/local/domain/0/open/leaf", "2")  # parent still readable
        assert w.events() == [("/local/domain/0/open/leaf", "spy")]
        c.set_perms("/local/domain/0/open", ["n0"])
        assert w.events() == [("/local/domain/0/open", "spy")]
        c.write("/local/domain/0/open/leaf", "3")  # neither readable now
        assert w.events() == []


def test_unwatch_duplicates_and_errors(xensim):
    with xensim.client(0) as w, xensim.client(0) as c:
        w.watch("/u", "t")
        assert w.events() == [("/u", "t")]
        with pytest.raises(OSError) as e:
            w.watch("/u", "t")
        assert e.value.errno == errno.EEXIST
        w.watch("/u", "t2")  # same path, other token: fine
        w.unwatch("/u", "t")
        with pytest.raises(OSError) as e:
            w.unwatch("/u", "t")
        assert e.value.errno == errno.ENOENT
        w.events()
        c.write("/u", "1")
        assert w.events() == [("/u", "t2")]
        with pytest.raises(OSError) as e:
            w.watch("not//valid", "t")
        assert e.value.errno == errno.EINVAL


def test_introduce_and_release_domain_watches(xensim):
    with xensim.client(0) as w:
        w.watch("@introduceDomain", "in")
        w.watch("@releaseDomain", "out")
        assert sorted(w.events()) == [("@introduceDomain", "in"), ("@releaseDomain", "out")]
        xensim.vif_add(domid=3, vif=0)
        assert w.events() == [("@introduceDomain", "in")]
        assert xensim.socket_path(3).exists()
        with xensim.client(3) as d3:
            d3.write("data/mine", "1")
            d3.watch("@releaseDomain", "denied-by-default")
            assert d3.events() == [("@releaseDomain", "denied-by-default")]
            w.release(3)
            assert w.events() == [("@releaseDomain", "out")]
            with pytest.raises(OSError):
                d3.read("domid")  # its connections are closed
        assert not xensim.socket_path(3).exists()
        assert not w.is_introduced(3)
        # Nodes the released domain owned are gone (xenstored
        # domain_tree_remove()); dom0-owned ones stay.
        with pytest.raises(OSError) as e:
            w.read("/local/domain/3/data/mine")
        assert e.value.errno == errno.ENOENT
        assert w.read("/local/domain/3/name") == b"xensim-dom3"
        with pytest.raises(OSError) as e:
            w.release(3)
        assert e.value.errno == errno.ENOENT


def test_special_watch_permission_can_be_granted(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(0) as d0, xensim.client(1) as d1:
        d0.set_perms("@introduceDomain", ["n0", "r1"])
        d1.watch("@introduceDomain", "t")
        assert d1.events() == [("@introduceDomain", "t")]
        xensim.vif_add(domid=2, vif=0)
        assert d1.events() == [("@introduceDomain", "t")]
        with pytest.raises(OSError) as e:
            d1.set_perms("@introduceDomain", ["n1"])
        assert e.value.errno == errno.EACCES


def test_watch_event_and_reply_share_one_connection(xensim):
    """libxenstore reads replies and events from one socket: the reply to
    XS_WATCH comes first (req_id echoed), then the initial event."""
    with xensim.raw(0) as raw:
        raw.send(XS_WATCH, b"/ev\0tok\0", req_id=77)
        assert raw.recv() == (XS_WATCH, 77, 0, b"OK\0")
        assert raw.recv() == (XS_WATCH_EVENT, 0, 0, b"/ev\0tok\0")
        raw.send(XS_WRITE, b"/ev/x\0v", req_id=78)
        msgs = [raw.recv(), raw.recv()]
        assert (XS_WRITE, 78, 0, b"OK\0") in msgs
        assert (XS_WATCH_EVENT, 0, 0, b"/ev/x\0tok\0") in msgs
        # RESET_WATCHES drops them all.
        assert raw.request(XS_RESET_WATCHES, b"")[0] == XS_RESET_WATCHES
        raw.send(XS_WRITE, b"/ev/y\0v", req_id=79)
        assert raw.recv() == (XS_WRITE, 79, 0, b"OK\0")
        assert raw.request(XS_WATCH, b"/ev\0")[0] == XS_ERROR  # one string only
