# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""dpdk-test's pmd_perf_autotest on net_xenfront over xensim, with the
test's own defaults (1024 descriptors each way): net_xenback in domain 0
echoes every packet with testpmd's io forwarding. The test passes, counts
its packets and prints its cycles per packet (test/perf/pmd_perf.py says
what it measures; bench.py --pmd-perf runs it beside the other peers).
The cycles are printed, not asserted: this machine is shared."""

import sys

from conftest import ROOT, sanitizer_env
from testpmd import backend, stop_all

sys.path.insert(0, str(ROOT / "test/perf"))
import pmd_perf  # noqa: E402


def test_pmd_perf_autotest(build, xensim, prefix):
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, app=["--forward-mode=io"])
    back.command("start")
    env = dict(xensim.env(1))
    env.update(sanitizer_env())
    # The worker lcore (1) on CPU 0, the backend's forwarding lcore on
    # CPU 1; dpdk-test's main lcore waits (spinning) on CPU 1 too.
    eal = build.eal_args(prefix + "f", build.xenfront) + [
        "--lcores", "0@1,1@0", "--vdev", "net_xenfront0,vif=0"]
    r = pmd_perf.run(eal, env, timeout=900)
    back.command("stop")
    echoed = back.stats(0)
    stop_all(back)
    print("\n".join(r["lines"]))
    assert r["ok"], r["output"][-4000:]
    assert "CONFIG RXD=1024 TXD=1024" in r["lines"], r["lines"]
    assert r["cycles_per_packet"] > 0, r["lines"]
    # 2 s of a 10 G link in 64-byte frames, every one echoed by the backend.
    assert r["packets"] >= 29_000_000, r["lines"]
    assert echoed["ipackets"] >= r["packets"], (echoed, r["lines"])
