# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Debian's xenstore-utils, unchanged, against the xensim store daemon."""

import time


def test_write_read_list_exists_rm(xensim):
    xensim.xs(0, "write", "/test/a", "alpha", "/test/b/c", "gamma", "/test/empty", "")
    assert xensim.xs(0, "read", "/test/a").stdout == "alpha\n"
    assert xensim.xs(0, "read", "/test/b/c").stdout == "gamma\n"
    assert xensim.xs(0, "read", "/test/empty").stdout == "\n"
    # Children in creation order, as xenstored keeps them.
    assert xensim.xs(0, "list", "/test").stdout.split() == ["a", "b", "empty"]
    assert xensim.xs(0, "exists", "/test/b").returncode == 0
    assert xensim.xs(0, "exists", "/test/nope", check=False).returncode != 0

    missing = xensim.xs(0, "read", "/test/nope", check=False)
    assert missing.returncode != 0

    xensim.xs(0, "rm", "/test/b")
    assert xensim.xs(0, "exists", "/test/b/c", check=False).returncode != 0
    assert xensim.xs(0, "list", "/test").stdout.split() == ["a", "empty"]
    # Removing what is not there is fine when its parent exists.
    xensim.xs(0, "rm", "/test/b")


def test_ls_shows_values_and_permissions(xensim):
    xensim.xs(0, "write", "/t/x", "1", "/t/y/z", "two")
    out = xensim.xs(0, "ls", "/t").stdout.splitlines()
    assert [line.split(" = ")[0] for line in out] == ["x", "y", " z"]
    assert out[0].startswith('x = "1"')
    nodes = xensim.ls_perms(0, "/t")
    assert nodes == {"/t/x": ("1", "n0"), "/t/y": ("", "n0"), "/t/y/z": ("two", "n0")}


def test_chmod_sets_owner_and_acl_and_recurses(xensim):
    xensim.xs(0, "write", "/p/q/r", "v")
    xensim.xs(0, "chmod", "/p", "n5", "r7", "b9")
    assert xensim.ls_perms(0, "/")["/p"] == ("", "n5,r7,b9")
    # Children keep their own permissions unless -r.
    assert xensim.ls_perms(0, "/p")["/p/q"][1] == "n0"
    xensim.xs(0, "chmod", "-r", "/p", "w3")
    nodes = xensim.ls_perms(0, "/p")
    assert nodes["/p/q"][1] == "w3" and nodes["/p/q/r"][1] == "w3"
    bad = xensim.xs(0, "chmod", "/p", "x1", check=False)
    assert bad.returncode != 0


def test_watch_reports_initial_event_and_subtree_changes(xensim):
    xensim.xs(0, "write", "/w/existing", "1")
    watch = xensim.xs_popen(0, "watch", "-n", "3", "/w")
    time.sleep(0.3)  # let it register; its initial event comes first anyway
    xensim.xs(0, "write", "/w/new/deep", "x")
    xensim.xs(0, "write", "/elsewhere", "x")  # not under /w: no event
    xensim.xs(0, "rm", "/w/existing")
    out, err = watch.communicate(timeout=10)
    watch.kill()
    assert watch.returncode == 0, err
    assert out.split() == ["/w", "/w/new/deep", "/w/existing"]


def test_watch_on_a_missing_node_fires_when_it_appears(xensim):
    watch = xensim.xs_popen(0, "watch", "-n", "2", "/later/node")
    time.sleep(0.3)
    xensim.xs(0, "write", "/later/node", "here")
    out, err = watch.communicate(timeout=10)
    watch.kill()
    assert out.split() == ["/later/node", "/later/node"], err


def test_domU_uses_xenstore_utils_with_relative_paths(xensim):
    xensim.vif_add(domid=1, vif=0)
    # A relative path resolves under /local/domain/1, as on Xen.
    assert xensim.xs(1, "read", "device/vif/0/state").stdout == "1\n"
    assert xensim.xs(1, "read", "domid").stdout == "1\n"
    xensim.xs(1, "write", "data/hello", "world")
    assert xensim.xs(0, "read", "/local/domain/1/data/hello").stdout == "world\n"
    assert xensim.xs(1, "list", "device/vif/0").stdout.split() == [
        "backend", "backend-id", "state", "handle", "mac", "trusted", "mtu"]
