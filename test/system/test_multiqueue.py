# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Several queue pairs on one vif (netif.h "Multiple transmit and receive
queues"): the frontend writes multi-queue-num-queues and queue-N/ keys, the
backend maps every queue's rings, and traffic flows on every queue."""

import struct
import time

import pytest

import packets
import pcapfile
from testpmd import (MULTI_FLOW_TX, backend, frontend, queue_counts, run_testpmd, stop_all,
                     wait_counter)


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("nb_queues", [2, 4])
def test_every_queue_carries_traffic(build, xensim, prefix, nb_queues):
    xensim.vif_add(1, 0)
    qargs = [f"--rxq={nb_queues}", f"--txq={nb_queues}"]
    # The guest hashes (testpmd turns RSS on with several queues) and the
    # backend steers by that hash: one flow per packet spreads them.
    back = backend(build, xensim, prefix, devargs=f",max_queues={nb_queues}",
                   app=MULTI_FLOW_TX + qargs)
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
    stop_all(front, back)
    assert sorted(sent) == list(range(nb_queues)), sent
    for q in range(nb_queues):
        assert sent[q] > 1000 and got[q] == sent[q], (q, sent, got)
        assert sent2[q] > 1000 and got2[q] == sent2[q], (q, sent2, got2)


def test_more_queues_than_the_backend_offers_is_refused(build, xensim, prefix):
    """dev_infos reports the backend's multi-queue-max-queues: asking for
    more fails before anything is set up."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, devargs=",max_queues=2",
                   app=["--rxq=2", "--txq=2"])
    eal = build.eal_args(prefix + "f", build.xenfront) + ["--vdev", "net_xenfront0,vif=0"]
    r = run_testpmd(build, eal, ["--rxq=4", "--txq=4", "-i"], env=xensim.env(1),
                    stdin="quit\n")
    out = r.stdout + r.stderr
    assert "input rxq (4) can't be greater than max_rx_queues (2) of port 0" in out, out
    assert r.returncode == 1
    stop_all(back)


@pytest.mark.gntalloc_limit(8192)
def test_restarted_application_gets_every_queue(build, xensim, prefix):
    """An application's exit leaves the vif Closed at both ends; the next
    one's probe waits for the backend's answer to its Initialising
    (InitWait) before dev_infos, so asking for the backend's two queue
    pairs again works at once (on real Xen the probe used to see Closed
    and offer one pair: "rxq (2) can't be greater than max_rx_queues (1)")."""
    xensim.vif_add(1, 0)
    qargs = ["--rxq=2", "--txq=2"]
    back = backend(build, xensim, prefix, devargs=",max_queues=2", app=qargs)
    for run in range(3):
        if run > 0:
            back_state = xensim.xs(0, "read", "/local/domain/0/backend/vif/1/0/state")
            assert back_state.stdout.strip() == "6", (run, back_state.stdout)
        eal = build.eal_args(f"{prefix}f{run}", build.xenfront) + [
            "--vdev", "net_xenfront0,vif=0"]
        r = run_testpmd(build, eal, qargs + ["-i"], env=xensim.env(1),
                        stdin="show port info 0\nquit\n")
        out = r.stdout + r.stderr
        assert "can't be greater than max_rx_queues" not in out, (run, out)
        assert "is Closed, not ready" not in out, (run, out)
        assert r.returncode == 0, (run, out)
        state = xensim.xs(0, "read", "/local/domain/1/device/vif/0/state").stdout.strip()
        assert state == "6", (run, state)  # Closed again for the next run
    stop_all(back)


def spread_frames():
    """Flows told apart by their ports or addresses, each packet carrying
    its flow and sequence number at the end: TCP and UDP over IPv4 between
    one pair of addresses (only the ports differ), TCP over IPv6, and one
    non-IP flow. Packets of the flows interleaved."""
    guest, peer = pcapfile.mac("00:16:3e:00:01:00"), pcapfile.mac("02:00:00:00:00:02")
    kinds = ([(False, packets.TCP)] * 24 + [(False, packets.UDP)] * 24 +
             [(True, packets.TCP)] * 24)
    frames, flows = [], {}
    for seq in range(16):
        for flow, (ipv6, proto) in enumerate(kinds):
            f = bytearray(packets.build(ipv6, proto, bytes(40) + struct.pack("!HH", flow, seq),
                                        guest, peer))
            l4 = 14 + (40 if ipv6 else 20)
            f[l4:l4 + 2] = struct.pack("!H", 20000 + flow)  # the source port
            frames.append(bytes(f))
            flows.setdefault(("ip", ipv6, proto), set()).add(flow)
        other = guest + peer + b"\x88\xb5" + bytes(46) + struct.pack("!HH", len(kinds), seq)
        frames.append(other)
    return frames, flows, len(kinds)


def flow_and_seq(frame):
    return struct.unpack("!HH", frame[-4:])


@pytest.mark.gntalloc_limit(8192)
def test_flows_spread_without_guest_hashing(build, xensim, prefix, tmp_path):
    """A guest with two queues and no hash configuration (as Linux netfront
    connects: multi-queue, never the control ring; here net_xenfront with
    testpmd's --disable-rss, which sets up no control ring): everything the
    dom0 application sends on its queue 0 is spread over both guest queues
    by a flow hash, as Linux netback does (netdev_pick_tx); each flow on one
    queue, in order, UDP flows too (their ports count)."""
    xensim.vif_add(1, 0)
    frames, kinds, non_ip = spread_frames()
    pcapfile.write(tmp_path / "flows.pcap", frames)
    pcapfile.write(tmp_path / "empty.pcap", [])
    qargs = ["--rxq=2", "--txq=2"]
    # Backend: pcap queue 0 → net_xenback queue 0 only (io forwarding).
    back = backend(build, xensim, prefix, devargs=",max_queues=2",
                   app=["--forward-mode=io", "--no-flush-rx"] + qargs,
                   extra_vdevs=[f"net_pcap0,rx_pcap={tmp_path}/flows.pcap,"
                                f"rx_pcap={tmp_path}/empty.pcap,"
                                f"tx_pcap={tmp_path}/b0.pcap,tx_pcap={tmp_path}/b1.pcap"])
    # Guest: each of its queues to a pcap file of its own.
    front = frontend(build, xensim, prefix, app=["--forward-mode=io", "--no-flush-rx",
                                                 "--disable-rss"] + qargs,
                     extra_vdevs=[f"net_pcap1,rx_pcap={tmp_path}/empty.pcap,"
                                  f"rx_pcap={tmp_path}/empty.pcap,"
                                  f"tx_pcap={tmp_path}/q0.pcap,tx_pcap={tmp_path}/q1.pcap"])
    front.wait_link(0)
    back.wait_link(0)
    keys = xensim.xs(0, "ls", "/local/domain/1/device/vif/0").stdout
    assert 'multi-queue-num-queues = "2"' in keys and "ctrl-ring-ref" not in keys, keys
    for p in (front, back):
        # Lossless: a full ring is retried (for up to 2 s), not dropped.
        p.command("set fwd io retry")
        p.command("set burst tx delay 20 retry 100000")
    front.command("start")
    back.command("start")
    wait_counter(front, 1, "opackets", len(frames))
    back.command("stop")
    front.command("stop")
    bx = back.xstats(0)
    stop_all(front, back)
    got = [pcapfile.read(tmp_path / f"q{q}.pcap") for q in (0, 1)]
    assert sorted(got[0] + got[1]) == sorted(frames)
    queue_of = {}
    for q in (0, 1):
        last = {}
        for frame in got[q]:
            flow, seq = flow_and_seq(frame)
            assert queue_of.setdefault(flow, q) == q, f"flow {flow} on both queues"
            assert seq > last.get(flow, -1), f"flow {flow} out of order on queue {q}"
            last[flow] = seq
    for kind, members in kinds.items():
        assert {queue_of[f] for f in members} == {0, 1}, (kind, queue_of)
    assert non_ip in queue_of
    # All sent on backend queue 0, queued by flow hash; what went to guest
    # queue 1 was steered there.
    assert bx["tx_q0_flow_hashed"] == len(frames), bx
    assert bx["tx_q0_steered"] == len(got[1]), bx
    assert bx["tx_q0_steer_dropped"] == 0 and bx["tx_q0_dropped"] == 0, bx
