# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Several queue pairs on one vif (netif.h "Multiple transmit and receive
queues"): the frontend writes multi-queue-num-queues and queue-N/ keys, the
backend maps every queue's rings, and traffic flows on every queue."""

import re
import time

import pytest

from conftest import run_testpmd
from test_traffic import backend, frontend, stop_all


def queue_counts(pmd, port, key):
    """Per-queue counters from testpmd's xstats, e.g. rx_q<N>_packets."""
    x = pmd.xstats(port)
    return {int(m.group(1)): v for k, v in x.items()
            if (m := re.fullmatch(rf"{key.split('_', 1)[0]}_q(\d+)_{key.split('_', 1)[1]}", k))}


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("nb_queues", [2, 4])
def test_every_queue_carries_traffic(build, xensim, prefix, nb_queues):
    xensim.vif_add(1, 0)
    qargs = [f"--rxq={nb_queues}", f"--txq={nb_queues}"]
    back = front = None
    try:
        # The guest hashes (testpmd turns RSS on with several queues) and the
        # backend steers by that hash: one flow per packet spreads them.
        back = backend(build, xensim, prefix, devargs=f",max_queues={nb_queues}",
                       app=["--forward-mode=txonly", "--txonly-multi-flow"] + qargs)
        front = frontend(build, xensim, prefix, app=["--forward-mode=rxonly"] + qargs)
        front.wait_link(0)
        back.wait_link(0)
        keys = xensim.xs(0, "ls", "/local/domain/1/device/vif/0").stdout
        assert f'multi-queue-num-queues = "{nb_queues}"' in keys, keys
        for q in range(nb_queues):
            assert f"queue-{q} =" in keys, keys
        assert "\ntx-ring-ref" not in keys, keys  # no flat keys with several queues
        front.command("start")
        back.command("start")
        time.sleep(2)
        back.command("stop")
        time.sleep(0.5)
        front.command("stop")
        sent = queue_counts(back, 0, "tx_packets")
        got = queue_counts(front, 0, "rx_packets")
        # The other way round.
        back.command("set fwd rxonly")
        front.command("set fwd txonly")
        back.command("start")
        front.command("start")
        time.sleep(2)
        front.command("stop")
        time.sleep(0.5)
        back.command("stop")
        sent2 = queue_counts(front, 0, "tx_packets")
        got2 = queue_counts(back, 0, "rx_packets")
    finally:
        stop_all(front, back)
    assert sorted(sent) == list(range(nb_queues)), sent
    for q in range(nb_queues):
        assert sent[q] > 1000 and got[q] == sent[q], (q, sent, got)
        assert sent2[q] > 1000 and got2[q] == sent2[q], (q, sent2, got2)


def test_more_queues_than_the_backend_offers_is_refused(build, xensim, prefix):
    """dev_infos reports the backend's multi-queue-max-queues: asking for
    more fails before anything is set up."""
    xensim.vif_add(1, 0)
    back = None
    try:
        back = backend(build, xensim, prefix, devargs=",max_queues=2",
                       app=["--rxq=2", "--txq=2"])
        eal = build.eal_args(prefix + "f", build.xenfront) + ["--vdev", "net_xenfront0,vif=0"]
        r = run_testpmd(build, eal, ["--rxq=4", "--txq=4", "-i"], env=xensim.env(1),
                        stdin="quit\n")
        out = r.stdout + r.stderr
        assert "input rxq (4) can't be greater than max_rx_queues (2) of port 0" in out, out
        assert r.returncode == 1
    finally:
        stop_all(back)
