# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Multicast control (netif.h "Multicast control") between net_xenfront and
net_xenback, as Linux netback does it: the guest lists its groups
(rte_eth_dev_set_mc_addr_list → MCAST_ADD/DEL requests on its tx ring),
turns all-multicast off (request-multicast-control=1) and the backend drops
the multicast frames of other groups; broadcast and unicast always pass.

The backend feeds the guest from a pcap file (io forwarding, net_pcap
port 1 → vif port 0). Each kind of frame comes a different power of two
times, so the count the guest receives names the kinds that passed."""

import contextlib
import time

import pytest

from testpmd import GUEST_MAC, backend, frontend, stop_all, wait_counter

import pcapfile

PEER = "02:00:00:00:00:02"
# kind → (destination, copies in the pcap)
KINDS = {
    "group_a": ("01:00:5e:00:00:0a", 1),
    "group_b": ("01:00:5e:00:00:0b", 2),
    "group_c": ("33:33:00:00:00:0c", 4),
    "group_d": ("01:00:5e:00:00:0d", 8),  # never listed
    "broadcast": ("ff:ff:ff:ff:ff:ff", 16),
    "unicast": (GUEST_MAC, 32),
}
TOTAL = sum(n for _, n in KINDS.values())


def frames():
    out = []
    seed = 0
    for dst, n in KINDS.values():
        seed += 1
        out += pcapfile.make_frames(n, [64, 200], pcapfile.mac(dst), pcapfile.mac(PEER),
                                    seed=seed)
    return out


def expected(*kinds):
    return sum(KINDS[k][1] for k in kinds)


class Feed:
    """Replays the pcap toward the guest (net_pcap reopens its file at each
    start of its port) and returns what the guest received of it and what
    the backend's filter dropped."""

    def __init__(self, back, front):
        self.back = back
        self.front = front

    def replay(self):
        before = self.front.stats(0)["ipackets"]
        fed = self.back.stats(1)["ipackets"]
        filtered = self.back.xstats(0)["tx_q0_multicast_filtered"]
        self.back.command("port stop 1")
        out = self.back.command("port start 1")
        assert "Fail" not in out, out
        # One forwarding lcore runs the vif's stream (which takes the
        # guest's pending multicast requests) before the pcap's.
        self.back.command("start")
        wait_counter(self.back, 1, "ipackets", fed + TOTAL)
        time.sleep(0.5)  # what was sent has arrived
        self.back.command("stop")
        got = self.front.stats(0)["ipackets"] - before
        dropped = self.back.xstats(0)["tx_q0_multicast_filtered"] - filtered
        return got, dropped


def guest_ok(out):
    assert "Fail" not in out and "diag=" not in out and "ERR" not in out, out


@contextlib.contextmanager
def fed_pair(build, xensim, prefix, tmp_path, back_devargs="", front_devargs="",
             front_app=()):
    """A backend feeding the guest from the pcap of frames() (io forwarding)
    and a guest in rxonly, both linked up; quits both after the block (the
    conftest fixtures stop them if the block fails)."""
    pcapfile.write(tmp_path / "to_guest.pcap", frames())
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, devargs=back_devargs,
                   app=["--forward-mode=io", "--no-flush-rx"],
                   extra_vdevs=[f"net_pcap0,rx_pcap={tmp_path}/to_guest.pcap,"
                                f"tx_pcap={tmp_path}/back_out.pcap"])
    front = frontend(build, xensim, prefix, devargs=front_devargs,
                     app=["--forward-mode=rxonly"] + list(front_app))
    front.wait_link(0)
    back.wait_link(0)
    yield back, front
    stop_all(front, back)


@pytest.mark.parametrize("guest", [
    ("", []),
    # Two application queues on the backend's one ring (software fan-out):
    # the requests go out on the ring both queues send on.
    (",fanout=1", ["--rxq=2", "--txq=2"]),
], ids=["one_queue", "fanout"])
def test_multicast_filter_follows_the_guest(build, xensim, prefix, tmp_path, guest):
    devargs, queues = guest
    with fed_pair(build, xensim, prefix, tmp_path, front_devargs=devargs,
                  front_app=queues) as (back, front):
        front.command("start")
        feed = Feed(back, front)
        # Before anything: no filtering, every frame passes.
        assert feed.replay() == (TOTAL, 0)

        for group in ("group_a", "group_b", "group_c"):
            guest_ok(front.command(f"mcast_addr add 0 {KINDS[group][0]}"))
        # Listed but still all-multicast: everything.
        assert feed.replay() == (TOTAL, 0)

        guest_ok(front.command("set allmulti 0 off"))
        want = expected("group_a", "group_b", "group_c", "broadcast", "unicast")
        assert feed.replay() == (want, TOTAL - want)

        guest_ok(front.command(f"mcast_addr remove 0 {KINDS['group_b'][0]}"))
        want = expected("group_a", "group_c", "broadcast", "unicast")
        assert feed.replay() == (want, TOTAL - want)

        # A new connection: the backend starts with an empty list; the
        # guest sends its own again and asks for filtering with its keys.
        front.command("stop")
        guest_ok(front.command("port stop 0"))
        guest_ok(front.command("port start 0"))
        front.wait_link(0)
        back.wait_link(0)
        front.command("start")
        assert feed.replay() == (want, TOTAL - want)

        guest_ok(front.command("set allmulti 0 on"))
        assert feed.replay() == (TOTAL, 0)

        bx = back.xstats(0)
        fx = front.xstats(0)
        # 3 ADD, 1 DEL, 2 ADD after the reconnection.
        assert bx["rx_q0_multicast_ops"] == 6, bx
        assert bx["rx_q0_errors"] == 0 and bx["rx_q0_fatal_errors"] == 0, bx
        assert fx["tx_q0_multicast_requests"] == 6, fx
        assert fx["tx_q0_multicast_refused"] == 0 and fx["tx_q0_errors"] == 0, fx


def test_refused_without_the_backend_feature(build, xensim, prefix):
    """multicast_control=0: the backend offers no filter; the guest says so
    and keeps receiving every multicast frame."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, devargs=",multicast_control=0")
    front = frontend(build, xensim, prefix)
    front.wait_link(0)
    out = front.command("set allmulti 0 off")
    assert "all-multicast mode stays on: netif has no receive filter" in out, out
    assert "feature-multicast-control is not 1" in out, out
    out = front.command("mcast_addr add 0 01:00:5e:00:00:01")
    assert "no multicast address list" in out and "diag=-95" in out, out
    guest_ok(front.command("set allmulti 0 on"))
    stop_all(front, back)


def test_static_request_needs_a_reconnection(build, xensim, prefix, tmp_path):
    """dynamic_multicast_control=0: the backend reads the guest's request
    only when it connects. Connected, the guest refuses to change it;
    stopped, it takes the change and sends it with its next connection."""
    with fed_pair(build, xensim, prefix, tmp_path,
                  back_devargs=",dynamic_multicast_control=0") as (back, front):
        guest_ok(front.command(f"mcast_addr add 0 {KINDS['group_c'][0]}"))
        out = front.command("set allmulti 0 off")
        assert "no feature-dynamic-multicast-control" in out, out
        guest_ok(front.command("port stop 0"))
        guest_ok(front.command("set allmulti 0 off"))
        guest_ok(front.command("port start 0"))
        front.wait_link(0)
        back.wait_link(0)
        front.command("start")
        want = expected("group_c", "broadcast", "unicast")
        assert Feed(back, front).replay() == (want, TOTAL - want)


def test_refused_add_is_counted_apart(build, xensim, prefix, tmp_path):
    """A backend whose list is full answers MCAST_ADD with NETIF_RSP_ERROR
    (hostile=tx_mcast_full stands for it): the guest counts the refusal in
    tx_q0_multicast_refused, not as a packet error, takes the request's id
    back and goes on sending; the backend lists nothing, so only broadcast
    and unicast pass once filtering is on."""
    with fed_pair(build, xensim, prefix, tmp_path,
                  back_devargs=",hostile=tx_mcast_full") as (back, front):
        front.command("start")
        for group in ("group_a", "group_c"):
            guest_ok(front.command(f"mcast_addr add 0 {KINDS[group][0]}"))
        guest_ok(front.command("set allmulti 0 off"))
        want = expected("broadcast", "unicast")
        assert Feed(back, front).replay() == (want, TOTAL - want)
        assert back.xstats(0)["rx_q0_hostile_injected"] == 2
        # The answers are taken back by the next transmit burst: the guest
        # sends, and its ids all came back.
        front.command("stop")
        front.command("set fwd txonly")
        back.command("start")
        front.command("start")
        wait_counter(back, 0, "ipackets", 1000)
        front.command("stop")
        back.command("stop")
        fx = front.xstats(0)
        assert fx["tx_q0_multicast_requests"] == 2, fx
        assert fx["tx_q0_multicast_refused"] == 2, fx
        assert fx["tx_q0_errors"] == 0 and fx["tx_q0_bad_responses"] == 0, fx
        assert fx["tx_q0_lost_ids"] == 0 and fx["tx_q0_bad_id"] == 0, fx
