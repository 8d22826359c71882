# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Transactions with xenstored's conflict detection, two clients at once."""

import errno

import pytest

from xensim_env import XS_ERROR, XS_READ, XS_TRANSACTION_END, XS_TRANSACTION_START


def test_conflicting_transactions_second_commit_gets_eagain(xensim):
    with xensim.client(0) as a, xensim.client(0) as b:
        a.write("/tx/counter", "0")
        ta = a.transaction_start()
        tb = b.transaction_start()
        va = int(a.read("/tx/counter", ta))
        vb = int(b.read("/tx/counter", tb))
        a.write("/tx/counter", str(va + 1), ta)
        b.write("/tx/counter", str(vb + 10), tb)
        a.transaction_end(ta)
        with pytest.raises(OSError) as e:
            b.transaction_end(tb)
        assert e.value.errno == errno.EAGAIN
        assert a.read("/tx/counter") == b"1"
        # Retried, as every xenstore client does on EAGAIN, it succeeds.
        tb = b.transaction_start()
        b.write("/tx/counter", str(int(b.read("/tx/counter", tb)) + 10), tb)
        b.transaction_end(tb)
        assert a.read("/tx/counter") == b"11"


def test_plain_write_to_a_node_read_in_a_transaction_conflicts(xensim):
    with xensim.client(0) as a, xensim.client(0) as b:
        a.write("/tx/x", "1")
        t = a.transaction_start()
        a.read("/tx/x", t)
        a.write("/tx/y", "new", t)
        b.write("/tx/x", "2")
        with pytest.raises(OSError) as e:
            a.transaction_end(t)
        assert e.value.errno == errno.EAGAIN
        with pytest.raises(OSError) as e:
            a.read("/tx/y")  # nothing of the failed transaction is left
        assert e.value.errno == errno.ENOENT


def test_creating_the_same_node_twice_conflicts(xensim):
    with xensim.client(0) as a, xensim.client(0) as b:
        ta = a.transaction_start()
        tb = b.transaction_start()
        a.write("/tx/new", "a", ta)
        b.write("/tx/new", "b", tb)
        b.transaction_end(tb)
        with pytest.raises(OSError) as e:
            a.transaction_end(ta)
        assert e.value.errno == errno.EAGAIN
        assert a.read("/tx/new") == b"b"


def test_unrelated_transactions_both_commit(xensim):
    with xensim.client(0) as a, xensim.client(0) as b:
        a.write("/tx/one", "")
        a.write("/tx/two", "")
        ta = a.transaction_start()
        tb = b.transaction_start()
        a.write("/tx/one/v", "a", ta)
        b.write("/tx/two/v", "b", tb)
        a.transaction_end(ta)
        b.transaction_end(tb)
        assert (a.read("/tx/one/v"), a.read("/tx/two/v")) == (b"a", b"b")


def test_isolation_abort_and_watch_events_at_commit(xensim):
    with xensim.client(0) as a, xensim.client(0) as b, xensim.client(0) as w:
        w.watch("/iso", "t")
        assert w.events() == [("/iso", "t")]
        t = a.transaction_start()
        a.write("/iso/k", "inside", t)
        assert a.read("/iso/k", t) == b"inside"
        with pytest.raises(OSError) as e:
            b.read("/iso/k")  # not visible outside before the commit
        assert e.value.errno == errno.ENOENT
        assert w.events() == []  # no event before the commit
        a.transaction_end(t)
        assert b.read("/iso/k") == b"inside"
        assert w.events() == [("/iso/k", "t")]

        t = a.transaction_start()
        a.rm("/iso/k", t)
        a.transaction_end(t, abort=True)
        assert b.read("/iso/k") == b"inside"
        assert w.events() == []


def test_transaction_protocol_errors(xensim):
    with xensim.raw(0) as raw:
        t, _, _, body = raw.request(XS_TRANSACTION_START, b"\0")
        assert t == XS_TRANSACTION_START
        tid = int(body.rstrip(b"\0"))
        assert tid != 0
        # A request in an unknown transaction.
        assert raw.request(XS_READ, b"/\0", tx_id=tid + 100)[3] == b"ENOENT\0"
        # No nested transactions.
        assert raw.request(XS_TRANSACTION_START, b"\0", tx_id=tid)[3] == b"EBUSY\0"
        # The end argument is "T" or "F".
        assert raw.request(XS_TRANSACTION_END, b"X\0", tx_id=tid)[3] == b"EINVAL\0"
        # Ending outside a transaction.
        assert raw.request(XS_TRANSACTION_END, b"T\0")[3] == b"ENOENT\0"
        # The reply to a request in a transaction echoes its tx_id.
        m = raw.request(XS_READ, b"/tool\0", req_id=5, tx_id=tid)
        assert m == (XS_READ, 5, tid, b"")
        assert raw.request(XS_TRANSACTION_END, b"F\0", tx_id=tid)[0] == XS_TRANSACTION_END
        # Gone after the end.
        assert raw.request(XS_READ, b"/\0", tx_id=tid)[0] == XS_ERROR


def test_domU_transaction_quota(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.raw(1) as raw:
        # xenstored refuses when more than quota_max_transaction (10) are
        # open: the eleventh still starts, the twelfth does not.
        for i in range(11):
            assert raw.request(XS_TRANSACTION_START, b"\0")[0] == XS_TRANSACTION_START, i
        assert raw.request(XS_TRANSACTION_START, b"\0")[3] == b"ENOSPC\0"
    with xensim.raw(0) as raw:  # dom0 has no such quota
        for i in range(20):
            assert raw.request(XS_TRANSACTION_START, b"\0")[0] == XS_TRANSACTION_START
