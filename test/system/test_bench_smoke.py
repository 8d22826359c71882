# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The benchmark harness (test/perf/bench.py) in its quick mode: it runs
from one command, writes its report files with sane numbers, and shows
the frontend making no grant operations in the steady state. Throughput
is not asserted: this machine's numbers depend on what else runs."""

import json
import subprocess

import pytest

from conftest import ROOT, build_dir, sanitized


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    if sanitized():
        pytest.skip("a benchmark of a sanitizer build would measure the sanitizer")
    out = tmp_path_factory.mktemp("bench") / "quick"
    p = subprocess.run(["/usr/bin/python3", str(ROOT / "test/perf/bench.py"), "--quick",
                        "--build", str(build_dir()), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"bench.py --quick failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return out, p.stdout


def test_report_files(quick_report):
    out, stdout = quick_report
    for name in ("report.json", "report.md", "report.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    for heading in ("## Throughput", "## Cycles per packet", "## Ratios",
                    "## xen counters per million packets"):
        assert heading in md, heading
    assert "## Throughput" in stdout  # the table is printed as well


def test_every_run_measured(quick_report):
    out, _ = quick_report
    rep = json.loads((out / "report.json").read_text())
    runs = rep["runs"]
    peers, scenarios = rep["meta"]["peers"], rep["meta"]["scenarios"]
    assert {"xen-int", "xen-poll"} <= set(peers)
    assert len(runs) == len(peers) * len(scenarios) * len(rep["meta"]["sizes"])
    for r in runs:
        assert "error" not in r, r
        res = r["result"]
        assert res["pps"] > 0, r
        for side in ("guest", "host"):
            assert res[side]["cycles_per_packet"] > 0, (side, r)
            assert res[side]["tsc_mhz"] > 0, (side, r)
    ratios = rep["summary"]["ratios"]
    assert any(x["peer"] == "xen-int" and x["vs"] == "memif" for x in ratios)


def test_xen_counters(quick_report):
    """Counters exist for every xen run; in the steady state the frontend
    makes no grant operation at all, and the backend copies, through the
    static grants the frontend asked it to map (or with grant copies)."""
    out, _ = quick_report
    rep = json.loads((out / "report.json").read_text())
    xen_runs = [r for r in rep["runs"] if r["peer"].startswith("xen")]
    assert xen_runs
    for r in xen_runs:
        c = r["result"]["counters"]
        assert c["packets"] > 0, r
        assert c["frontend_grant_ops"] == 0, c["raw"]["frontend_domain"]
        assert (c["raw"]["backend_domain"].get("grant_copy_segments", 0) +
                c["raw"]["backend_xstats"].get("rx_q0_mapped_copies", 0) +
                c["raw"]["backend_xstats"].get("tx_q0_mapped_copies", 0)) > 0, c["raw"]
        for key in ("tx_q0_notifications", "rx_q0_notifications", "tx_q0_ring_full"):
            assert key in c["raw"]["frontend_xstats"], key
        for key in ("frontend_notify_sent", "backend_notify_sent", "frontend_tx_ring_full",
                    "backend_tx_ring_full", "backend_grant_copy_segments",
                    "backend_mapped_copies"):
            assert c["per_mpkt"][key] is not None, key
    checks = rep["summary"]["checks"]
    assert checks["frontend_steady_state_grant_ops"] == 0
    assert checks["frontend_zero_grant_ops"] is True


# ---- the harness's parsers, on testpmd's and callgrind's own text ----

def _perf_modules():
    import sys
    sys.path.insert(0, str(ROOT / "test/perf"))
    import callgrind
    import testpmd_session
    return testpmd_session, callgrind


def test_parse_testpmd_answers():
    t, _ = _perf_modules()
    ports = t.parse_port_stats("""
  ######################## NIC statistics for port 0  ########################
  RX-packets: 0          RX-missed: 0          RX-bytes:  0
  RX-errors: 0
  RX-nombuf:  0
  TX-packets: 5365120    TX-errors: 0          TX-bytes:  343367680

  Throughput (since last show)
  Rx-pps:            0          Rx-bps:            0
  Tx-pps:      1596566          Tx-bps:    817442024
  ############################################################################
""")
    assert ports == {0: {"ipackets": 0, "opackets": 5365120, "rx_pps": 0, "tx_pps": 1596566}}
    fwd = t.parse_fwd_stats("""
  ---------------------- Forward statistics for port 0  ----------------------
  RX-packets: 0              RX-dropped: 0             RX-total: 0
  TX-packets: 3478976        TX-dropped: 45166464      TX-total: 48645440
  TX-bursts : 1520206 [92% of 0 pkts + 8% of 32 pkts]
  ----------------------------------------------------------------------------

  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
  RX-packets: 0              RX-dropped: 0             RX-total: 0
  TX-packets: 3478976        TX-dropped: 45166464      TX-total: 48645440
  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++

  CPU cycles/packet=1621.58 (total cycles=5641437392 / total txonly packets=3478976) at 2600 MHz Clock
""")
    assert fwd["cycles"] == 5641437392 and fwd["cycles_packets"] == 3478976
    assert fwd["tsc_mhz"] == 2600 and fwd["cycles_per_packet"] == 1621.58
    p = fwd["ports"][0]
    assert p["tx"] == 3478976 and p["tx_dropped"] == 45166464
    # 92% is a floor, 8% the remainder: non-empty calls within bounds.
    b = p["tx_bursts"]
    assert b["calls"] == 1520206
    assert b["nonempty_min"] <= 0.08 * 1520206 < b["nonempty_max"]
    assert t.parse_bursts(100, "100% of 0 pkts")["nonempty_max"] == 0


def test_parse_callgrind_dump(tmp_path):
    _, cg = _perf_modules()
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("""# callgrind format
version: 1
positions: line
events: Ir
summary: 1000

ob=(1) /usr/bin/dpdk-testpmd
fl=(1) ???
fn=(1) 0x10
0 300
cob=(2) /build/librte_net_xenfront.so
cfi=(2) xenfront_rx.cc
cfn=(2) xenfront_rx_burst
calls=10 0
0 700
ob=(2)
fl=(2)
fn=(2)
0 650
+1 50
totals: 1000
""")
    d = cg.parse(dump)
    assert d["total"] == 1000
    assert d["objects"] == {"/usr/bin/dpdk-testpmd": 300, "/build/librte_net_xenfront.so": 700}
    assert cg.short("/build/librte_net_xenfront.so") == "librte_net_xenfront"
