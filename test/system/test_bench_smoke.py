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
    makes no grant operation at all, and the backend copies with grants."""
    out, _ = quick_report
    rep = json.loads((out / "report.json").read_text())
    xen_runs = [r for r in rep["runs"] if r["peer"].startswith("xen")]
    assert xen_runs
    for r in xen_runs:
        c = r["result"]["counters"]
        assert c["packets"] > 0, r
        assert c["frontend_grant_ops"] == 0, c["raw"]["frontend_domain"]
        assert c["raw"]["backend_domain"]["grant_copy_segments"] > 0, c["raw"]
        for key in ("tx_q0_notifications", "rx_q0_notifications", "tx_q0_ring_full"):
            assert key in c["raw"]["frontend_xstats"], key
        for key in ("frontend_notify_sent", "backend_notify_sent", "frontend_tx_ring_full",
                    "backend_tx_ring_full", "backend_grant_copy_segments"):
            assert c["per_mpkt"][key] is not None, key
    checks = rep["summary"]["checks"]
    assert checks["frontend_steady_state_grant_ops"] == 0
    assert checks["frontend_zero_grant_ops"] is True
