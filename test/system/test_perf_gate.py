# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The regression gate's comparison (test/perf/gate.py) on recorded
numbers, without callgrind: the repository's baseline compared with
itself passes; a baseline with one line lowered by 10 % fails on that
line and names both numbers; the command's exit status follows."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "test/perf"))
import gate  # noqa: E402


@pytest.fixture(scope="module")
def recorded():
    """The committed baseline's numbers, as if just measured."""
    return gate.read_baseline(gate.BASELINE)


def test_baseline_has_every_line(recorded):
    assert sorted(recorded) == sorted(gate.LINES)
    assert len(gate.LINES) == 12  # 3 scenarios x 2 sizes x 2 sides
    assert all(v > 0 for v in recorded.values())


def test_unchanged_passes(recorded):
    rows = gate.compare(recorded, recorded)
    assert [r["verdict"] for r in rows] == ["ok"] * 12
    assert not gate.failed(rows)
    assert "passed" in gate.verdict_message(rows)


def test_line_lowered_by_ten_percent_fails(recorded):
    key = ("guest-rx", 1500, "host")
    lowered = dict(recorded)
    lowered[key] = recorded[key] * 0.9
    rows = gate.compare(lowered, recorded)
    bad = gate.failed(rows)
    assert [(r["scenario"], r["size"], r["side"]) for r in bad] == [key]
    assert bad[0]["ratio"] == pytest.approx(1 / 0.9)
    msg = gate.verdict_message(rows)
    assert "guest-rx 1500 B host (librte_net_xenback)" in msg
    assert f"{recorded[key]:.1f}" in msg and f"{lowered[key]:.1f}" in msg
    # The table names it too, beside the lines that passed.
    t = gate.table(rows)
    assert len(t.splitlines()) == 2 + 12
    assert t.count("FAIL") == 1


def test_threshold_is_five_percent(recorded):
    key = ("guest-tx", 64, "guest")
    base = {key: 100.0}
    at = gate.compare(base, {key: 105.0})
    over = gate.compare(base, {key: 105.2})
    row = lambda rows: next(r for r in rows if (r["scenario"], r["size"], r["side"]) == key)  # noqa
    assert row(at)["verdict"] == "ok"
    assert row(over)["verdict"].startswith("FAIL")
    # A large drop passes but says the baseline is stale.
    assert row(gate.compare(base, {key: 80.0}))["verdict"].startswith("ok (lower")


def test_missing_numbers_fail(recorded):
    now = dict(recorded)
    del now[("forward", 64, "host")]
    rows = gate.compare(recorded, now)
    assert [r["verdict"] for r in gate.failed(rows)] == ["FAIL: not measured"]
    base = dict(recorded)
    del base[("forward", 1500, "guest")]
    assert [r["verdict"] for r in gate.failed(gate.compare(base, recorded))] == \
        ["FAIL: no baseline line"]


def test_malformed_baseline_is_named(tmp_path):
    p = tmp_path / "b.tsv"
    p.write_text("guest-tx 64 guest 100\nguest-tx 64 guest 101\n")
    with pytest.raises(ValueError, match=r"b.tsv:2: .*twice"):
        gate.read_baseline(p)
    p.write_text("guest-tx 64 sideways 100\n")
    with pytest.raises(ValueError, match=r"b.tsv:1: unknown line"):
        gate.read_baseline(p)


def test_write_then_read_round_trips(recorded, tmp_path):
    p = tmp_path / "b.tsv"
    gate.write_baseline(p, recorded, "test")
    again = gate.read_baseline(p)
    assert again == pytest.approx(recorded, abs=0.05)
    # One line per scenario, size and side: a changed number is a one-line diff.
    assert len([x for x in p.read_text().splitlines() if x and not x.startswith("#")]) == 12


def report_of(values: dict) -> dict:
    """A report.json of gate.py holding these driver figures."""
    runs = [{"scenario": sc, "size": size, "side": side,
             "result": {"object": gate.DRIVER[side], "per_packet": v}}
            for (sc, size, side), v in values.items()]
    return {"meta": {"started": "2026-12-07 17:00", "commit": "test"}, "runs": runs}


def run_gate(*args):
    return subprocess.run(["/usr/bin/python3", str(ROOT / "test/perf/gate.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_command_exit_status(recorded, tmp_path):
    rep = tmp_path / "report.json"
    rep.write_text(json.dumps(report_of(recorded)))
    p = run_gate("--report", rep)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "passed" in p.stdout and p.stdout.count(" ok") == 12
    key = ("forward", 64, "guest")
    lowered = dict(recorded)
    lowered[key] = recorded[key] * 0.9
    b = tmp_path / "lowered.tsv"
    gate.write_baseline(b, lowered, "lowered by 10 %")
    p = run_gate("--report", rep, "--baseline", b)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAILED: 1 line(s)" in p.stdout
    assert f"forward 64 B guest (librte_net_xenfront): {recorded[key]:.1f}" in p.stdout
    assert f"baseline {lowered[key]:.1f}" in p.stdout
    # --update from the same report restores every line.
    p = run_gate("--report", rep, "--baseline", b, "--update")
    assert p.returncode == 0, p.stdout + p.stderr
    assert gate.read_baseline(b) == pytest.approx(recorded, abs=0.05)
