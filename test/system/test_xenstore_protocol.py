# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The wire protocol by hand: framing, malformed messages, quotas."""

import errno
import socket
import struct
import time

import pytest

from xensim_env import (HEADER, XENSTORE_PAYLOAD_MAX, XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR,
                        XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_IS_DOMAIN_INTRODUCED, XS_MKDIR,
                        XS_READ, XS_RM, XS_WATCH, XS_WATCH_EVENT, XS_WRITE)


def test_req_id_echoed_and_pipelined_requests_answered_in_order(xensim):
    with xensim.raw(0) as raw:
        msgs = b""
        for i in range(50):
            payload = b"/pipe/%d\0v%d" % (i, i)
            msgs += HEADER.pack(XS_WRITE, 1000 + i, 0, len(payload)) + payload
        # One send, split at awkward places by the kernel or not: the
        # daemon must reassemble headers and bodies either way.
        raw.s.sendall(msgs[:7])
        raw.s.sendall(msgs[7:])
        for i in range(50):
            assert raw.recv() == (XS_WRITE, 1000 + i, 0, b"OK\0")
        assert raw.request(XS_READ, b"/pipe/49\0", req_id=9) == (XS_READ, 9, 0, b"v49")


def test_oversized_message_closes_only_that_connection(xensim):
    with xensim.raw(0) as good, xensim.raw(0) as bad:
        good.request(XS_WRITE, b"/alive\0yes")
        bad.send(XS_WRITE, b"", length=XENSTORE_PAYLOAD_MAX + 1)
        assert bad.closed_by_peer()
        assert good.request(XS_READ, b"/alive\0") == (XS_READ, 0, 0, b"yes")
    # New clients, xenstore-utils included, are served as before.
    assert xensim.xs(0, "read", "/alive").stdout == "yes\n"


def test_truncated_message_then_close_leaves_the_daemon_serving(xensim):
    with xensim.raw(0) as bad:
        bad.s.sendall(HEADER.pack(XS_WRITE, 1, 0, 100) + b"/partial\0")
    assert xensim.xs(0, "exists", "/partial", check=False).returncode != 0
    assert xensim.status()["store"]["connections"] >= 1


def test_unknown_and_reply_only_types_get_enosys(xensim):
    # xenstored answers ENOSYS to a type it does not know, and to types
    # only it sends; the connection stays usable.
    with xensim.raw(0) as raw:
        for t in (XS_WATCH_EVENT, XS_ERROR, 20, 23, 0xffff):
            assert raw.request(t, b"x\0", req_id=t) == (XS_ERROR, t, 0, b"ENOSYS\0")
        assert raw.request(XS_READ, b"/tool\0")[0] == XS_READ


def test_missing_nul_and_bad_arguments_get_einval(xensim):
    with xensim.raw(0) as raw:
        assert raw.request(XS_READ, b"/tool")[3] == b"EINVAL\0"  # no nul
        assert raw.request(XS_READ, b"/tool\0extra\0")[3] == b"EINVAL\0"  # two strings
        assert raw.request(XS_READ, b"")[3] == b"EINVAL\0"
        assert raw.request(XS_WRITE, b"no-nul-at-all")[3] == b"EINVAL\0"
        for bad in (b"/a//b\0", b"/trailing/\0", b"/sp ace\0", b"/dot.dot\0"):
            assert raw.request(XS_MKDIR, bad)[3] == b"EINVAL\0", bad
        assert raw.request(XS_RM, b"/\0")[3] == b"EINVAL\0"
        assert raw.request(XS_DIRECTORY_PART, b"/\0")[3] == b"EINVAL\0"


def test_write_value_is_binary_and_may_hold_nuls(xensim):
    with xensim.raw(0) as raw:
        assert raw.request(XS_WRITE, b"/bin\0a\0b\xff")[0] == XS_WRITE
        assert raw.request(XS_READ, b"/bin\0")[3] == b"a\0b\xff"


def test_directory_part_pages_large_directories(xensim):
    with xensim.client(0) as c:
        names = [f"child-with-a-long-name-{i:04d}" for i in range(300)]  # > 4096 bytes
        t = c.transaction_start()
        for n in names:
            c.write(f"/big/{n}", "", t)
        c.transaction_end(t)
        # libxenstore gets E2BIG for XS_DIRECTORY and pages with
        # XS_DIRECTORY_PART, as against xenstored.
        assert c.directory("/big") == names
    with xensim.raw(0) as raw:
        assert raw.request(XS_DIRECTORY, b"/big\0")[3] == b"E2BIG\0"
        t, _, _, body = raw.request(XS_DIRECTORY_PART, b"/big\0" + b"0\0")
        assert t == XS_DIRECTORY_PART
        gen, rest = body.split(b"\0", 1)
        assert gen.isdigit() and rest.startswith(names[0].encode() + b"\0")
        assert len(body) <= XENSTORE_PAYLOAD_MAX


def test_get_domain_path_and_is_introduced(xensim):
    xensim.vif_add(domid=4, vif=0)
    with xensim.raw(0) as raw:
        assert raw.request(XS_GET_DOMAIN_PATH, b"4\0")[3] == b"/local/domain/4\0"
        assert raw.request(XS_IS_DOMAIN_INTRODUCED, b"4\0")[3] == b"T\0"
        assert raw.request(XS_IS_DOMAIN_INTRODUCED, b"5\0")[3] == b"F\0"
        assert raw.request(XS_IS_DOMAIN_INTRODUCED, b"0\0")[3] == b"T\0"


def test_domU_node_quota(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        created = 0
        with pytest.raises(OSError) as e:
            for i in range(1100):
                # Spread over directories: a directory's own record (its
                # child list) is bounded by quota_max_entry_size as well.
                d1.write(f"data/g{i // 50}/n{i}", "x")
                created += 1
        assert e.value.errno == errno.ENOSPC
        owned = next(d for d in xensim.status()["store"]["domains"] if d["domid"] == 1)
        # quota_nb_entry_per_domain (1000) counts every node it owns.
        assert owned["nodes"] in (999, 1000)
        assert created > 900
        # Freeing some makes room again.
        d1.rm("data/g0")
        d1.write("data/again", "x")


def test_domU_directory_record_size_limit(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1:
        # Each child name counts in the parent's record; past
        # quota_max_entry_size (2048 bytes) the parent cannot grow.
        with pytest.raises(OSError) as e:
            for i in range(1000):
                d1.write(f"data/child-{i:05d}", "")
        assert e.value.errno == errno.ENOSPC
        assert 100 < len(d1.directory("data")) < 2048 // len("child-00000")


def test_domU_entry_size_and_path_length_limits(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.client(1) as d1, xensim.client(0) as d0:
        d1.write("data/ok", "x" * 1000)
        with pytest.raises(OSError) as e:
            d1.write("data/big", "x" * 2100)  # record >= quota_max_entry_size
        assert e.value.errno == errno.ENOSPC
        d0.write("/local/domain/1/data/big-from-dom0", "x" * 4000)  # dom0: no quota
        long_rel = "data/" + "/".join(["abcdefghi"] * 205)  # > 2048 below the domain path
        with pytest.raises(OSError) as e:
            d1.write(long_rel, "x")
        assert e.value.errno == errno.EINVAL
    # libxenstore itself refuses payloads over XENSTORE_PAYLOAD_MAX (E2BIG).
    with xensim.client(1) as d1:
        with pytest.raises(OSError) as e:
            d1.write("data/huge", "x" * 5000)
        assert e.value.errno == errno.E2BIG


def test_domU_watch_and_perms_quota(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.raw(1) as raw:
        # xenstored counts watches per domain and refuses with E2BIG once
        # more than quota_nb_watch_per_domain (128) exist.
        for i in range(129):
            m = raw.request(XS_WATCH, b"data\0t%d\0" % i)
            assert m[0] == XS_WATCH, (i, m)
        assert raw.request(XS_WATCH, b"data\0one-too-many\0")[3] == b"E2BIG\0"
    with xensim.client(1) as d1:
        d1.write("data/p", "")
        with pytest.raises(OSError) as e:
            d1.set_perms("data/p", ["n1", "r0", "r2", "r3", "r4", "r5"])
        assert e.value.errno == errno.ENOSPC
        d1.set_perms("data/p", ["n1", "r0", "r2", "r3", "r4"])


def test_domU_outstanding_requests_are_throttled_not_lost(xensim):
    xensim.vif_add(domid=1, vif=0)
    with xensim.raw(1) as raw:
        n = 200
        msgs = b"".join(HEADER.pack(XS_GET_PERMS, i, 0, len(b"domid\0")) + b"domid\0"
                        for i in range(n))
        raw.s.sendall(msgs)
        for i in range(n):
            t, rid, _, body = raw.recv()
            assert (t, rid) == (XS_GET_PERMS, i)
            assert body == b"n0\0r1\0"


def test_connections_per_domain_are_bounded(xensim):
    xensim.vif_add(domid=1, vif=0)
    conns = []
    try:
        for _ in range(64):
            c = xensim.raw(1)
            assert c.request(XS_READ, b"domid\0")[3] == b"1"
            conns.append(c)
        extra = xensim.raw(1)
        assert extra.closed_by_peer()
        extra.close()
    finally:
        for c in conns:
            c.close()
    # Domain 1 may connect again once the daemon has seen those close (it
    # learns of a close asynchronously, so allow it a moment).
    deadline = time.monotonic() + 5
    while True:
        try:
            with xensim.raw(1) as again:
                assert again.request(XS_READ, b"domid\0")[3] == b"1"
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "domain 1 could not connect again"
            time.sleep(0.05)
