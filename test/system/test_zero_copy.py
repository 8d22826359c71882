# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Zero-copy transmit: examples/xenfront_zero_copy (xenfront-zero-copy,
domain 1) sends frames from a pool made by
rte_pmd_xenfront_pktmbuf_pool_create; the transmit path names the pool's
granted pages in its requests instead of copying. The frames arrive byte
for byte at the far side of the backend (a net_pcap port behind
net_xenback), the zero-copy counter equals the frames sent, an ordinary
pool (and a granted one below the copy-break) still goes by copy, and the
pool's mbufs and grants all come back: after the port stops, also with
mbufs in flight when the backend was killed."""

import re
import time

import pytest

import pcapfile
from conftest import RESULT, ZeroCopyApp, expected_frame
from testpmd import backend, stop_all

def grants(sim, domid=1):
    return sim.status()["hv"]["domains"].get(str(domid), {}).get("grants_shared", 0)


def backend_copies(sim):
    """Grant copy segments domain 0 (the backend) has made so far."""
    return sim.status()["hv"]["counters"].get("0", {}).get("grant_copy_segments", 0)


def run(build, sim, prefix, tmp_path, pool, size, seg_size=0, count=2000, mbufs=512,
        devargs=""):
    """Sends `count` frames; returns (result match, grants at each stage,
    frames captured behind the backend)."""
    mtu = 9000 if size > 1514 else 1500
    pcapfile.write(tmp_path / "empty.pcap", [])
    app = ["--forward-mode=io", "--no-flush-rx"]
    if mtu > 1500:
        app += [f"--max-pkt-len={mtu + 18}"]
    stages = {}
    back = backend(build, sim, prefix, app=app, extra_vdevs=[
        f"net_pcap0,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out.pcap"])
    if mtu > 1500:
        # Jumbo frames into 2 KiB mbufs: scattered rx on the backend's
        # port (test_traffic.py says why it is set after the first start).
        back.command("port stop all")
        back.command("port config 0 rx_offload scatter on")
        out = back.command("port start all", timeout=60)
        assert "Fail" not in out, out
    args = ["--pool", pool, "--size", str(size), "--count", str(count),
            "--mbufs", str(mbufs), "--seconds", "60"]
    if seg_size:
        args += ["--seg-size", str(seg_size)]
    zc = ZeroCopyApp(build, sim, prefix, args, devargs)
    zc.wait_for("paused probed")
    stages["probed"] = grants(sim)
    zc.go_on()
    zc.wait_for("paused ready")
    stages["ready"] = grants(sim)
    back.wait_link(0)
    back.command("start")
    stages["copies"] = backend_copies(sim)
    zc.go_on()
    result = zc.wait_for(RESULT.pattern)
    stages["copies"] = backend_copies(sim) - stages["copies"]
    zc.wait_for("paused closed")
    stages["closed"] = grants(sim)
    zc.go_on()
    rc = zc.finish()
    assert rc == 0, zc.output[-4000:]
    back.command("stop")
    stop_all(back)
    return result, stages, pcapfile.read(tmp_path / "out.pcap"), zc.output


CASES = [
    # pool, size, seg_size, expect zero copy, devargs
    ("granted", 1000, 0, True),
    # The backend maps the queues' buffers but not the pool: grant copies.
    ("granted", 1514, 0, True, ",static_grants=1"),
    ("granted", 1514, 0, True),
    ("ordinary", 1514, 0, False),
    ("granted", 64, 0, False),  # below the copy-break
    ("granted", 9000, 0, True),  # one mbuf over three pages: sg slots
    ("granted", 9000, 2000, True),  # chained segments
    ("ordinary", 9000, 2000, False),
]


CASES = [c if len(c) == 5 else c + ("",) for c in CASES]


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("pool,size,seg_size,zero_copy,devargs", CASES,
                         ids=[f"{c[0]}-{c[1]}" + (f"-seg{c[2]}" if c[2] else "") +
                              ("-static" if c[4] else "") for c in CASES])
def test_frames_byte_exact(build, xensim, prefix, tmp_path, pool, size, seg_size, zero_copy,
                           devargs):
    sim = xensim
    sim.vif_add(1, 0, mtu=9000 if size > 1514 else 1500)
    count = 2000
    result, stages, frames, output = run(build, sim, prefix, tmp_path, pool, size, seg_size,
                                         count, devargs=devargs)
    sent, zc_packets = int(result.group(3)), int(result.group(6))
    back, total = int(result.group(7)), int(result.group(8))
    print(result.group(0), stages)
    assert sent == count, output[-3000:]
    assert zc_packets == (count if zero_copy else 0), result.group(0)
    # Every mbuf is back in the pool once the port has stopped.
    assert back == total, result.group(0)
    assert len(frames) == count, len(frames)
    want = expected_frame(size, seg_size)
    bad = [i for i, f in enumerate(frames) if f != want]
    assert not bad, f"{len(bad)} frames differ, first #{bad[0]}"
    # The granted pool holds grants while it exists; all go with it.
    if pool == "granted":
        assert stages["ready"] > stages["probed"] + 386, stages
    if zero_copy:
        # The backend read the pool's pages by grant copy: at least one
        # segment per frame.
        assert stages["copies"] >= count, stages
    assert stages["closed"] == stages["probed"], stages


@pytest.mark.gntalloc_limit(8192)
def test_backend_killed_with_mbufs_in_flight(build, xensim, prefix, tmp_path):
    """The backend dies while the ring is full of zero-copy requests: the
    port stops anyway (bounded waits), the mbufs it held go back to the
    pool, and the pool's grants go when it is freed."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    zc = ZeroCopyApp(build, sim, prefix, ["--pool", "granted", "--size", "1500",
                                          "--count", "0", "--seconds", "4"])
    zc.wait_for("paused probed")
    probed = grants(sim)
    zc.go_on()
    zc.wait_for("paused ready")
    back.wait_link(0)
    back.command("start")
    zc.go_on()
    time.sleep(1.5)
    back.kill()
    result = zc.wait_for(RESULT.pattern, timeout=90)
    zc.wait_for("paused closed")
    closed = grants(sim)
    zc.go_on()
    rc = zc.finish()
    print(result.group(0))
    assert int(result.group(3)) > 0 and int(result.group(6)) == int(result.group(3))
    assert result.group(7) == result.group(8), result.group(0)
    assert rc == 0, zc.output[-4000:]
    assert closed == probed, (probed, closed)


# Backend faults on guest TX (net_xenback hostile=, see test_hostile.py):
# behaviour:rate, and whether the queue must stop.
HOSTILE = {
    "tx_bad_status": ("100", False),
    "tx_bad_id": ("20000", True),
    "tx_dup_id": ("20000", True),
    "tx_null": ("100", True),
}


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
def test_hostile_backend_with_mbufs_held(build, xensim, prefix, behaviour):
    """A backend that answers with bad statuses, wrong or duplicate ids, or
    NULL: the hostile-backend checks hold for zero-copy requests too (the
    queue stops where it must), no held mbuf is freed twice or lost, and
    grants go back to the baseline."""
    rate, stops = HOSTILE[behaviour]
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=f",hostile={behaviour}:{rate}",
                   app=["--forward-mode=rxonly"])
    zc = ZeroCopyApp(build, sim, prefix, ["--pool", "granted", "--size", "1500",
                                          "--count", "0", "--seconds", "3"])
    zc.wait_for("paused probed")
    probed = grants(sim)
    zc.go_on()
    zc.wait_for("paused ready")
    back.wait_link(0)
    back.command("start")
    zc.go_on()
    result = zc.wait_for(RESULT.pattern, timeout=90)
    zc.wait_for("paused closed")
    closed = grants(sim)
    zc.go_on()
    rc = zc.finish()
    bx = back.xstats(0)
    stop_all(back)
    print(result.group(0), bx.get("rx_q0_hostile_injected"))
    assert bx["rx_q0_hostile_injected"] >= 1, bx
    assert int(result.group(3)) > 0 and int(result.group(6)) == int(result.group(3))
    assert result.group(7) == result.group(8), result.group(0)
    assert rc == 0, zc.output[-4000:]
    assert ("queue stopped" in zc.output) == stops, zc.output[-3000:]
    assert closed == probed, (probed, closed)


def test_pool_beyond_the_grant_budget_is_refused(build, xensim, prefix):
    """A pool larger than what gntalloc lets the domain grant (xensim's
    default limit, 1024, as Linux's): NULL with ENOSPC and one line naming
    the limit; nothing stays granted."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    zc = ZeroCopyApp(build, sim, prefix, ["--pool", "granted", "--mbufs", "4096"])
    zc.wait_for("paused probed")
    zc.go_on()
    zc.wait_for("cannot create the granted pool")
    rc = zc.finish()
    after = grants(sim)
    stop_all(back)
    assert rc == 1, zc.output[-3000:]
    assert re.search(r"net_xenfront0: cannot grant the pool's \d+ pages to the backend domain 0 "
                     r"\(gntalloc limit: 1024 grants per domain by default", zc.output), \
        zc.output[-3000:]
    assert "No space left on device" in zc.output, zc.output[-3000:]
    assert after == 0, after
