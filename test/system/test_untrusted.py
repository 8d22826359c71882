# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""An untrusted backend (XSA-403: the vif's `trusted` node 0, as libxl
writes it, or the trusted=0 devarg) sees nothing of the guest's memory but
the vif's frames. net_xenback with hostile=snoop plays that backend: it
reads the whole granted page of every request the guest transmits and
counts a marker that the application (xenfront-zero-copy --secret) wrote
into every mbuf's headroom, memory that is in no frame. With a granted
mempool (a trusted backend's zero copy) it finds the marker: the threat is
real and the test can see it. With an untrusted backend the granted pool is
refused with the reason, frames are copied, and it finds none, while every
frame still arrives byte for byte. rx_copybreak, which hands the backend
pages the application wrote into, is refused at probe."""

import pytest

import pcapfile
from conftest import RESULT, ZeroCopyApp, expected_frame
from testpmd import backend, run_testpmd, stop_all

COUNT = 2000
SIZE = 1000
NOT_TRUSTED = "is not trusted"


def snoop_send(build, sim, prefix, tmp_path, pool, devargs=""):
    """Sends COUNT frames from `pool` with the secret in every headroom;
    returns (exit code, output, markers the backend saw, frames captured)."""
    pcapfile.write(tmp_path / "empty.pcap", [])
    back = backend(build, sim, prefix, devargs=",hostile=snoop",
                   app=["--forward-mode=io", "--no-flush-rx"], extra_vdevs=[
                       f"net_pcap0,rx_pcap={tmp_path}/empty.pcap,"
                       f"tx_pcap={tmp_path}/out.pcap"])
    zc = ZeroCopyApp(build, sim, prefix, ["--pool", pool, "--size", str(SIZE), "--count",
                                          str(COUNT), "--mbufs", "512", "--secret"],
                     devargs)
    zc.wait_for("paused probed")
    zc.go_on()
    m = zc.wait_for(r"paused ready|cannot create the \w+ pool")
    if not m.group(0).startswith("paused"):
        rc = zc.finish()
        stop_all(back)
        return rc, zc.output, 0, []
    back.wait_link(0)
    back.command("start")
    zc.go_on()
    zc.wait_for(RESULT.pattern)
    zc.wait_for("paused closed")
    zc.go_on()
    rc = zc.finish()
    back.command("stop")
    snooped = back.xstats(0)["rx_q0_snooped_markers"]
    stop_all(back)
    return rc, zc.output, snooped, pcapfile.read(tmp_path / "out.pcap")


CASES = [
    # trusted node, devargs, pool, the backend may see the secret
    (1, "", "granted", True),
    (0, "", "ordinary", False),
    (1, ",trusted=0", "ordinary", False),
    (0, ",trusted=1", "granted", True),
]


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("node,devargs,pool,exposed", CASES,
                         ids=[f"node{c[0]}{c[1].replace(',', '-')}-{c[2]}" for c in CASES])
def test_backend_reading_whole_pages(build, xensim, prefix, tmp_path, node, devargs, pool,
                                     exposed):
    xensim.vif_add(1, 0, trusted=node)
    rc, output, snooped, frames = snoop_send(build, xensim, prefix, tmp_path, pool, devargs)
    print(f"trusted node {node}{devargs} {pool} pool: the backend saw the marker "
          f"{snooped} times")
    assert rc == 0, output[-3000:]
    assert (NOT_TRUSTED in output) != exposed, output[-3000:]
    if exposed:
        assert snooped > 0  # whole pool pages: headrooms, other mbufs
    else:
        assert snooped == 0
    assert len(frames) == COUNT, len(frames)
    want = expected_frame(SIZE, 0)
    assert all(f == want for f in frames)


@pytest.mark.parametrize("node,devargs", [(0, ""), (1, ",trusted=0")])
def test_granted_pool_refused(build, xensim, prefix, tmp_path, node, devargs):
    xensim.vif_add(1, 0, trusted=node)
    rc, output, _, _ = snoop_send(build, xensim, prefix, tmp_path, "granted", devargs)
    assert ("net_xenfront0: the backend is not trusted (the vif's trusted node is 0, or "
            "trusted=0): granting it a mempool would show it memory beyond this vif's "
            "frames; use an ordinary mempool (frames are copied)") in output, output[-3000:]
    assert "cannot create the granted pool: Operation not permitted" in output, output
    assert rc != 0


@pytest.mark.parametrize("node,devargs,why", [
    (0, ",rx_copybreak=256", "its trusted node is 0"),
    (1, ",trusted=0,rx_copybreak=256", "trusted=0"),
])
def test_rx_copybreak_refused(build, xensim, prefix, node, devargs, why):
    xensim.vif_add(1, 0, trusted=node)
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0" + devargs], ["--nb-ports=1", "-i"],
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: rx_copybreak lends receive pages to the application and gives "
            "them back to the backend with what it wrote there; the backend of "
            f"/local/domain/1/device/vif/0 is not trusted ({why}): unset rx_copybreak"
            ) in out, out
    assert r.returncode == 1


def test_malformed_trusted_node_refused(build, xensim, prefix):
    xensim.vif_add(1, 0)
    xensim.xs(0, "write", "/local/domain/1/device/vif/0/trusted", "yes")
    r = run_testpmd(build, build.eal_args(prefix, build.xenfront) +
                    ["--vdev", "net_xenfront0,vif=0"], ["--nb-ports=1", "-i"],
                    env=xensim.env(1), stdin="quit\n")
    out = r.stdout + r.stderr
    assert ("net_xenfront0: /local/domain/1/device/vif/0/trusted is 'yes', not 0 or 1"
            ) in out, out
    assert r.returncode == 1
