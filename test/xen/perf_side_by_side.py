# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Real Xen, side by side (issue 17): in one boot, in the same domU over the
same Linux netback, dpdk-testpmd over net_xenfront (vif 0 taken from Linux
netfront with xen-vifbind) beside what a user would run instead,
dpdk-testpmd over net_af_packet on Linux netfront's eth0. Guest TX and
guest RX at 64 and 1500 B, the two drivers interleaved (A B A B) over
REPS repetitions; medians and their ratio are printed and written to
<build>/xen/results/side_by_side.md.

Not part of the suite (the name does not start with test_): a measurement,
not a check. Run it with

    devtools/run.sh xen test/xen/perf_side_by_side.py

TCG runs both domains tens of times slower than hardware, so only the
ratios mean something. What is asserted is counts: every run moved
packets, and on guest RX every packet Linux netback handed the guest's
ring reached testpmd.

Guest TX: testpmd's txonly in the domU; the rate is what netback's
vif<D>.0 counted (rx_packets) over the window. Guest RX: dom0 sends with
testpmd's txonly over net_af_packet on vif<D>.0, addressed to the guest's
MAC; the rate is what the guest's testpmd received. Each line says what
bounds it: on guest RX, a receiver that took everything netback
transmitted is bounded by the sender (dom0), not by the guest."""

import os
import statistics
import time

import pytest

from guest import GUEST_MAC

REPS = int(os.environ.get("XENBED_PERF_REPS", "3"))
WINDOW = float(os.environ.get("XENBED_PERF_WINDOW", "8"))
SIZES = (64, 1500)
DRIVERS = ("net_xenfront", "net_af_packet")


def guest_tx(guest, tp, size) -> dict:
    """txonly for WINDOW seconds; what netback's vif received."""
    vif = guest.vif(0)
    tp.command("set fwd txonly")
    tp.command(f"set txpkts {size}")
    before = guest.link_stats(guest.dom0, vif)
    sent0 = tp.stats(0)["opackets"]
    t0 = time.monotonic()
    tp.command("start")
    time.sleep(WINDOW)
    tp.command("stop")
    elapsed = time.monotonic() - t0
    sent = tp.stats(0)["opackets"] - sent0
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    got = after["rx_packets"] - before["rx_packets"]
    return {"pps": got / elapsed, "sent": sent, "got": got, "elapsed": elapsed}


def guest_rx(guest, tp, sender, size) -> dict:
    """dom0's sender for WINDOW seconds; what the guest's testpmd received."""
    vif = guest.vif(0)
    tp.command("set fwd rxonly")
    tp.command("start")
    sender.command(f"set txpkts {size}")
    before = guest.link_stats(guest.dom0, vif)
    got0 = tp.stats(0)["ipackets"]
    sent0 = sender.stats(0)["opackets"]
    t0 = time.monotonic()
    sender.command("start")
    time.sleep(WINDOW)
    sender.command("stop")
    elapsed = time.monotonic() - t0
    sent = sender.stats(0)["opackets"] - sent0
    after = guest.wait_steady(lambda: guest.link_stats(guest.dom0, vif))
    got = guest.wait_steady(lambda: tp.stats(0)["ipackets"]) - got0
    tp.command("stop")
    handed = after["tx_packets"] - before["tx_packets"]
    return {"pps": got / elapsed, "sent": sent, "got": got, "handed": handed,
            "elapsed": elapsed}


def measure_block(guest, driver, results):
    """Both directions at every size with one testpmd of `driver` in the
    domU and one sender in dom0."""
    if driver == "net_xenfront":
        tp = guest.start_front(["--forward-mode=rxonly"])
    else:
        tp = guest.testpmd(guest.domu, "afp", ["net_af_packet0,iface=eth0"],
                           ["--forward-mode=rxonly"], drivers=())
    guest.wait_link(tp)
    sender = guest.testpmd(guest.dom0, "sender", [f"net_af_packet0,iface={guest.vif(0)}"],
                           ["--forward-mode=txonly", f"--eth-peer=0,{GUEST_MAC}"], drivers=())
    sender.wait_link(0, timeout=120)
    for size in SIZES:
        tx = guest_tx(guest, tp, size)
        rx = guest_rx(guest, tp, sender, size)
        print(f"RUN {driver} {size} B: guest TX {tx}; guest RX {rx}", flush=True)
        results.setdefault(("guest TX", size, driver), []).append(tx)
        results.setdefault(("guest RX", size, driver), []).append(rx)
    for p in (sender, tp):
        p.quit()
        guest.procs.remove(p)
    if driver == "net_xenfront":
        guest.give_back_vif(0)


def bound(scenario, runs) -> str:
    """What sets the rate. Guest TX: the guest's sender (netback takes what
    the ring holds). Guest RX: dom0's sender is the same for both drivers,
    and netback's full ring stops its queue, which holds the sender back
    (it sent about what netback handed on): the receiver that takes
    fewer bounds its own column."""
    if scenario == "guest TX":
        return "guest"
    handed = sum(r["handed"] for r in runs)
    sent = sum(r["sent"] for r in runs)
    got = sum(r["got"] for r in runs)
    return f"guest (sent {sent}, netback handed {handed}, taken {got})"


def report(results) -> str:
    lines = ["| scenario | size | net_xenfront pps | net_af_packet pps | ratio | bound by |",
             "|---|---|---|---|---|---|"]
    for scenario in ("guest TX", "guest RX"):
        for size in SIZES:
            med = {}
            for d in DRIVERS:
                med[d] = statistics.median(r["pps"] for r in results[(scenario, size, d)])
            ratio = med["net_xenfront"] / med["net_af_packet"] if med["net_af_packet"] else 0
            what = "; ".join(f"{d}: {bound(scenario, results[(scenario, size, d)])}"
                             for d in DRIVERS)
            lines.append(f"| {scenario} | {size} B | {med['net_xenfront']:.0f} | "
                         f"{med['net_af_packet']:.0f} | {ratio:.2f}x | {what} |")
    return "\n".join(lines)


def test_side_by_side(guest):
    results = {}
    for rep in range(REPS):
        # A B, then B A: neither driver always runs first in a repetition.
        order = DRIVERS if rep % 2 == 0 else DRIVERS[::-1]
        for driver in order:
            measure_block(guest, driver, results)
    table = report(results)
    runs = "\n".join(f"- {s} {size} B {d}: " + ", ".join(f"{r['pps']:.0f}" for r in rs)
                     for (s, size, d), rs in sorted(results.items()))
    text = (f"Real Xen under QEMU TCG, {REPS} repetitions of {WINDOW:.0f} s, medians "
            f"(packets per second; TCG's absolute rates mean little, the ratio does):\n\n"
            f"{table}\n\nEach run:\n{runs}\n")
    print("SIDE BY SIDE\n" + text)
    out = guest.bed.build / "xen" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "side_by_side.md").write_text(text)
    for (scenario, size, d), rs in results.items():
        for r in rs:
            assert r["got"] > 100, (scenario, size, d, r)
            # net_xenfront takes every packet netback put on its ring (Linux
            # netfront's socket may drop some when testpmd lags: that is
            # af_packet's cost, shown in the table, not a failure).
            if scenario == "guest RX" and d == "net_xenfront":
                assert r["got"] == r["handed"], (scenario, size, d, r)
