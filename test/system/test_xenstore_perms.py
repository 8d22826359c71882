# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Node permissions as xenstored enforces them, seen by domUs."""

import errno

import pytest

from xensim_env import XS_ERROR, XS_SET_PERMS


def err_of(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.errno


def test_domU_reads_its_nodes_and_is_denied_the_rest(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        assert d1.read("device/vif/0/mac").startswith(b"00:16:3e:")
        assert d1.read("/local/domain/1/name") == b"xensim-dom1"
        # Domain 0's nodes and the root are closed to it.
        assert err_of(d1.read, "/local/domain/0/name") == errno.EACCES
        assert err_of(d1.directory, "/") == errno.EACCES
        assert err_of(d1.write, "/local/domain/0/evil", "x") == errno.EACCES
        # The backend directory is readable (n0,r1) but not writable.
        be = d1.read("device/vif/0/backend").decode()
        assert d1.read(be + "/state") == b"1"
        assert err_of(d1.write, be + "/state", "4") == errno.EACCES
        # mtu is written read-only for the guest (owner: the backend).
        assert err_of(d1.write, "device/vif/0/mtu", "9000") == errno.EACCES
        # Its own frontend nodes it may write.
        d1.write("device/vif/0/state", "2")
    with xensim.client(0) as d0:
        assert d0.read("/local/domain/1/device/vif/0/state") == b"2"


def test_xenstore_utils_report_permission_denied(xensim):
    xensim.vif_add(domid=1, vif=0)
    p = xensim.xs(1, "read", "/local/domain/0/domid", check=False)
    assert p.returncode != 0
    p = xensim.xs(1, "write", "/local/domain/0/x", "y", check=False)
    assert p.returncode != 0
    p = xensim.xs(1, "ls", "/", check=False)
    assert p.returncode != 0
    # Nothing was created behind its back.
    assert xensim.xs(0, "exists", "/local/domain/0/x", check=False).returncode != 0


def test_enoent_only_where_the_parent_may_be_seen(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        # Parent readable: the domain may learn a node is missing.
        assert err_of(d1.read, "device/vif/0/nope") == errno.ENOENT
        # Parent closed: it must not learn whether the node exists.
        assert err_of(d1.read, "/local/domain/0/nope") == errno.EACCES
        assert err_of(d1.read, "/tool/xenstored") == errno.EACCES


def test_create_inherits_parent_perms_and_domU_owns_what_it_creates(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(0) as d0, xensim.client(1) as d1:
        # data/ is the guest's (n1): new nodes inherit it, owner = creator.
        d1.write("data/a/b", "v")
        assert d0.get_perms("/local/domain/1/data/a") == ["n1"]
        assert d0.get_perms("/local/domain/1/data/a/b") == ["n1"]
        # dom0 creating below a guest's node keeps the parent's owner.
        d0.write("/local/domain/1/data/from0", "x")
        assert d0.get_perms("/local/domain/1/data/from0") == ["n1"]
        # A domU creating under a directory it may write but does not own
        # becomes the owner of the new node, with the parent's ACL.
        d0.write("/shared", "")
        d0.set_perms("/shared", ["n0", "b1", "r2"])
        d1.write("/shared/mine/leaf", "1")
        assert d0.get_perms("/shared/mine") == ["n1", "b1", "r2"]
        assert d0.get_perms("/shared/mine/leaf") == ["n1", "b1", "r2"]


def test_set_perms_rules_for_domU(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        d1.write("data/x", "1")
        # The owner may change the ACL ...
        d1.set_perms("data/x", ["n1", "r0", "r2"])
        assert d1.get_perms("data/x") == ["n1", "r0", "r2"]
        # ... but not give the node away.
        assert err_of(d1.set_perms, "data/x", ["n2"]) == errno.EPERM
        # Nodes it does not own: no.
        assert err_of(d1.set_perms, "device/vif/0/mtu", ["n1"]) == errno.EACCES
    # Malformed permission strings (libxenstore cannot send them).
    with xensim.raw(1) as raw:
        for payload in (b"data/x\0q1\0", b"data/x\0r\0", b"data/x\0r1x\0", b"data/x\0"):
            t, _, _, body = raw.request(XS_SET_PERMS, payload)
            assert (t, body) == (XS_ERROR, b"EINVAL\0"), payload
        # strtol(..., 0) syntax for the domain id, as libxenstore parses it.
        t, _, _, body = raw.request(XS_SET_PERMS, b"data/x\0n0x1\0r0\0")
        assert (t, body) == (XS_SET_PERMS, b"OK\0")
    with xensim.client(0) as d0:
        assert d0.get_perms("/local/domain/1/data/x") == ["n1", "r0"]


def test_default_entry_and_per_domain_entries(xensim):
    xensim.vif_add(domid=1, vif=0)
    xensim.vif_add(domid=2, vif=0)
    with xensim.client(0) as d0, xensim.client(1) as d1, xensim.client(2) as d2:
        d0.write("/acl/node", "secret")
        d0.set_perms("/acl", ["r0"])  # first entry: everybody may read
        d0.set_perms("/acl/node", ["n0", "r1"])
        assert d1.read("/acl/node") == b"secret"
        assert err_of(d2.read, "/acl/node") == errno.EACCES
        assert d2.directory("/acl") == ["node"]
        d0.set_perms("/acl/node", ["b0", "n2"])  # others may do both, not 2
        d1.write("/acl/node", "from1")
        assert err_of(d2.write, "/acl/node", "from2") == errno.EACCES
        assert d0.read("/acl/node") == b"from1"
        # A domain reading another's frontend: denied.
        assert err_of(d2.read, "/local/domain/1/device/vif/0/mac") == errno.EACCES


def test_driver_domain_backend_perms(xensim):
    xensim.vif_add(domid=1, vif=0, backend_domid=2)
    with xensim.client(1) as fe, xensim.client(2) as be:
        be_path = fe.read("device/vif/0/backend").decode()
        assert be_path == "/local/domain/2/backend/vif/1/0"
        assert be.read("backend/vif/1/0/frontend") == b"/local/domain/1/device/vif/0"
        be.write("backend/vif/1/0/state", "2")  # the backend owns its dir
        assert fe.read(be_path + "/state") == b"2"
        assert be.read("/local/domain/1/device/vif/0/state") == b"1"  # r2 on the frontend
        assert err_of(be.write, "/local/domain/1/device/vif/0/state", "5") == errno.EACCES


def test_privileged_operations_refused_to_domU(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        assert err_of(d1.introduce, 5) == errno.EACCES
        assert err_of(d1.release, 1) == errno.EACCES
        assert err_of(d1.control, "xensim-status") == errno.EACCES
        # GET_DOMAIN_PATH is open to all.
        assert d1.domain_path(7) == "/local/domain/7"
