# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Turns the benchmark's runs into a summary: medians and ranges per peer,
ratios between peers from the same interleaved repetitions, the xen
counters, and the report files (JSON, Markdown, PNG)."""

import json
import statistics

from peers import SCENARIOS

SCENARIO_TITLE = {"guest-tx": "guest TX", "guest-rx": "guest RX", "forward": "guest forward"}


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def span(values):
    v = [x for x in values if x is not None]
    return (min(v), max(v)) if v else (None, None)


def summarize(runs: list, peers: list) -> dict:
    """runs: dicts with peer, scenario, size, rep and the run's result or
    its error. Returns {"cells": [...], "ratios": [...], "checks": {...}}."""
    cells = []
    keys = sorted({(r["scenario"], r["size"]) for r in runs},
                  key=lambda k: (SCENARIOS.index(k[0]), k[1]))
    for scenario, size in keys:
        for peer in peers:
            rs = [r for r in runs if (r["scenario"], r["size"], r["peer"]) ==
                  (scenario, size, peer) and "result" in r]
            errors = [r["error"] for r in runs if (r["scenario"], r["size"], r["peer"]) ==
                      (scenario, size, peer) and "error" in r]
            if not rs and not errors:
                continue
            cell = {"scenario": scenario, "size": size, "peer": peer, "runs": len(rs),
                    "errors": errors}
            pps = [r["result"]["pps"] for r in rs]
            cell["pps_median"] = median(pps)
            cell["pps_min"], cell["pps_max"] = span(pps)
            for s in ("guest", "host"):
                for k in ("rx_pps", "tx_pps", "cycles_per_packet", "cycles_per_packet_oncpu",
                          "cpu_share"):
                    cell[f"{s}_{k}"] = median([r["result"][s][k] for r in rs])
            counters = [r["result"]["counters"] for r in rs if r["result"]["counters"]]
            if counters:
                cell["counters"] = {
                    "frontend_grant_ops_total": sum(c["frontend_grant_ops"] for c in counters),
                    "per_mpkt": {k: median([c["per_mpkt"][k] for c in counters])
                                 for k in counters[0]["per_mpkt"]},
                    "frontend_notify_per_burst_max": {
                        d: max((c["frontend_notify_per_burst_max"][d] for c in counters
                                if c["frontend_notify_per_burst_max"][d] is not None),
                               default=None) for d in ("tx", "rx")},
                }
            cells.append(cell)
    return {"cells": cells, "ratios": ratios(runs, peers), "checks": checks(cells)}


def ratios(runs: list, peers: list) -> list:
    """For each scenario and size, each peer's throughput over each other
    peer's: the median over repetitions of the ratio within a repetition
    (the two runs were adjacent in time), with its range."""
    by = {}
    for r in runs:
        if "result" in r:
            by[(r["scenario"], r["size"], r["rep"], r["peer"])] = r["result"]["pps"]
    out = []
    keys = sorted({(r["scenario"], r["size"]) for r in runs},
                  key=lambda k: (SCENARIOS.index(k[0]), k[1]))
    reps = sorted({r["rep"] for r in runs})
    for scenario, size in keys:
        for a in peers:
            for b in peers:
                if a == b:
                    continue
                rr = [by[(scenario, size, i, a)] / by[(scenario, size, i, b)] for i in reps
                      if by.get((scenario, size, i, a)) and by.get((scenario, size, i, b))]
                if rr:
                    lo, hi = span(rr)
                    out.append({"scenario": scenario, "size": size, "peer": a, "vs": b,
                                "ratio_median": median(rr), "ratio_min": lo, "ratio_max": hi,
                                "reps": len(rr)})
    return out


def checks(cells: list) -> dict:
    """The steady-state properties issue 7 asks the xen peers to show."""
    xen = [c for c in cells if "counters" in c]
    grant_ops = sum(c["counters"]["frontend_grant_ops_total"] for c in xen)
    npb = [v for c in xen for v in c["counters"]["frontend_notify_per_burst_max"].values()
           if v is not None]
    return {
        "xen_cells": len(xen),
        "frontend_steady_state_grant_ops": grant_ops if xen else None,
        "frontend_zero_grant_ops": (grant_ops == 0) if xen else None,
        "frontend_notify_per_burst_max": max(npb) if npb else None,
        "frontend_at_most_one_notify_per_burst": (max(npb) <= 1.0) if npb else None,
    }


def npb_verdict(ok) -> str:
    if ok is None:
        return "no frontend bursts measured"
    if ok:
        return "at most one per burst: OK"
    # The bound divides by a lower bound of the bursts (see perf.rst): above
    # 1 it proves nothing either way.
    return "bound above 1: inconclusive, bursts were shorter than testpmd's 32"


def summarize_callgrind(runs: list, peers: list) -> dict:
    """--callgrind: instructions per packet of each side, and each xen
    peer's over each other peer's (lower is better)."""
    cells = []
    keys = sorted({(r["scenario"], r["size"]) for r in runs},
                  key=lambda k: (SCENARIOS.index(k[0]), k[1]))
    for scenario, size in keys:
        for peer in peers:
            cell = {"scenario": scenario, "size": size, "peer": peer, "errors": []}
            for r in runs:
                if (r["scenario"], r["size"], r["peer"]) != (scenario, size, peer):
                    continue
                if "error" in r:
                    cell["errors"].append(r["error"])
                else:
                    cg = r["result"]["callgrind"]
                    cell[r["side"]] = cg["per_packet"]
                    cell[r["side"] + "_objects"] = cg["objects_per_packet"]
                    cell[r["side"] + "_idle_share"] = cg["idle_share"]
                    cell[r["side"] + "_raw"] = cg["per_packet_raw"]
            cells.append(cell)
    ratios = []
    by = {(c["scenario"], c["size"], c["peer"]): c for c in cells}
    for scenario, size in keys:
        for a in peers:
            for b in peers:
                if a == b:
                    continue
                ca, cb = by.get((scenario, size, a)), by.get((scenario, size, b))
                for side in ("guest", "host"):
                    if ca and cb and ca.get(side) and cb.get(side):
                        ratios.append({"scenario": scenario, "size": size, "peer": a, "vs": b,
                                       "side": side, "ratio": ca[side] / cb[side]})
    return {"cells": cells, "ratios": ratios}


def markdown_callgrind(report: dict) -> str:
    meta, summary = report["meta"], report["summary"]
    peers = meta["peers"]
    cells = {(c["scenario"], c["size"], c["peer"]): c for c in summary["cells"]}
    keys = sorted({(c["scenario"], c["size"]) for c in summary["cells"]},
                  key=lambda k: (SCENARIOS.index(k[0]), k[1]))
    L = ["# xenfront benchmark (callgrind mode)", "",
         f"{meta['started']}; commit {meta['commit']}, {meta.get('buildtype', 'unknown')} build. "
         "Instructions per packet of one side's whole testpmd process (its forwarding lcore "
         "does nearly all of it), run under callgrind while the other side runs natively, "
         f"{meta['window']} s windows after {meta['warmup']} s warm-up. Counts, not time: "
         "they do not depend on the machine's load; they do not see cache misses or "
         "cross-CPU traffic either. Iterations that moved nothing (empty polls, refused "
         "txonly bursts) are subtracted at the cost measured with the other side stopped, "
         "except for the host in forward.", "",
         "## Instructions per packet, guest / host", "",
         "| scenario | size | " + " | ".join(peers) + " |",
         "|---|---:|" + "---:|" * len(peers)]
    for scenario, size in keys:
        row = [SCENARIO_TITLE[scenario], str(size)]
        for p in peers:
            c = cells.get((scenario, size, p), {})
            row.append(f"{fmt(c.get('guest'), 0)} / {fmt(c.get('host'), 0)}")
        L.append("| " + " | ".join(row) + " |")
    xen_peers = [p for p in peers if p.startswith("xen")]
    others = [p for p in peers if not p.startswith("xen")]
    rat = {(r["scenario"], r["size"], r["peer"], r["vs"], r["side"]): r["ratio"]
           for r in summary["ratios"]}
    if xen_peers and others:
        cols = [(a, b) for a in xen_peers for b in others]
        L += ["", "## Ratios of instructions per packet, guest / host (below 1: xen does less)",
              "", "| scenario | size | " + " | ".join(f"{a} ÷ {b}" for a, b in cols) + " |",
              "|---|---:|" + "---:|" * len(cols)]
        for scenario, size in keys:
            row = [SCENARIO_TITLE[scenario], str(size)]
            for a, b in cols:
                g = rat.get((scenario, size, a, b, "guest"))
                h = rat.get((scenario, size, a, b, "host"))
                row.append(f"{fmt(g)} / {fmt(h)}")
            L.append("| " + " | ".join(row) + " |")
    L += ["", "## Where the instructions are: per object, per packet (self cost, inlined "
          "DPDK headers count in the object that inlined them)", ""]
    for scenario, size in keys:
        for p in peers:
            c = cells.get((scenario, size, p), {})
            for side in ("guest", "host"):
                objs = c.get(side + "_objects")
                if objs:
                    idle = c.get(side + "_idle_share")
                    L.append(f"- {SCENARIO_TITLE[scenario]} {size} B, {p} {side}: " +
                             ", ".join(f"{o} {v:.0f}" for o, v in objs[:5] if v and v >= 1) +
                             f" (before subtracting idle iterations: {fmt(c.get(side + '_raw'), 0)}"
                             f"; idle iterations {fmt(100 * idle if idle is not None else None, 0)} %)")
    errs = [c for c in summary["cells"] if c["errors"]]
    if errs:
        L += ["", "## Failed runs", ""]
        for c in errs:
            L.append(f"- {c['peer']} {c['scenario']} {c['size']} B: "
                     f"{c['errors'][0].splitlines()[0]}")
    L.append("")
    return "\n".join(L)


def fmt_mpps(v):
    return "—" if v is None else f"{v / 1e6:.2f}"


def fmt(v, digits=2):
    if v is None:
        return "—"
    if isinstance(v, float) and abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(report: dict) -> str:
    meta, summary = report["meta"], report["summary"]
    peers = meta["peers"]
    labels = meta["peer_labels"]
    cells = {(c["scenario"], c["size"], c["peer"]): c for c in summary["cells"]}
    keys = sorted({(c["scenario"], c["size"]) for c in summary["cells"]},
                  key=lambda k: (SCENARIOS.index(k[0]), k[1]))
    L = []
    L.append(f"# xenfront benchmark ({meta['mode']} mode)")
    L.append("")
    L.append(f"{meta['started']}, {meta['host']['cpus']} CPUs, load average "
             f"{meta['host']['loadavg_start']} → {meta['host']['loadavg_end']}; "
             f"{meta['reps']} interleaved repetitions, {meta['window']} s windows after "
             f"{meta['warmup']} s warm-up; commit {meta['commit']}, "
             f"{meta.get('buildtype', 'unknown')} build.")
    if meta.get("profiled"):
        L.append(f"Sampled by perf during the windows: {', '.join(meta['profiled'])} "
                 "(their rates are slightly perturbed).")
    L.append("Absolute numbers depend on what else the machine ran; compare peers only "
             "through the ratios of one run (doc/guides/perf.rst).")
    L.append("")
    L.append("## Throughput, Mpps: median (min–max)")
    L.append("")
    L.append("| scenario | size | " + " | ".join(peers) + " |")
    L.append("|---|---:|" + "---:|" * len(peers))
    for scenario, size in keys:
        row = [SCENARIO_TITLE[scenario], str(size)]
        for p in peers:
            c = cells.get((scenario, size, p))
            if c is None:
                row.append("n/a")
            elif c["pps_median"] is None:
                row.append("failed")
            else:
                row.append(f"{fmt_mpps(c['pps_median'])} ({fmt_mpps(c['pps_min'])}–"
                           f"{fmt_mpps(c['pps_max'])})")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("## Cycles per packet, guest / host (median)")
    L.append("")
    L.append("| scenario | size | " + " | ".join(peers) + " |")
    L.append("|---|---:|" + "---:|" * len(peers))
    for scenario, size in keys:
        row = [SCENARIO_TITLE[scenario], str(size)]
        for p in peers:
            c = cells.get((scenario, size, p))
            if c is None or c["pps_median"] is None:
                row.append("—")
            else:
                row.append(f"{fmt(c['guest_cycles_per_packet'], 0)} / "
                           f"{fmt(c['host_cycles_per_packet'], 0)}")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("## Cycles per packet on the CPU (estimate: the above × the lcore's CPU share), "
             "guest / host (median)")
    L.append("")
    L.append("| scenario | size | " + " | ".join(peers) + " |")
    L.append("|---|---:|" + "---:|" * len(peers))
    for scenario, size in keys:
        row = [SCENARIO_TITLE[scenario], str(size)]
        for p in peers:
            c = cells.get((scenario, size, p))
            if c is None or c.get("guest_cycles_per_packet_oncpu") is None:
                row.append("—")
            else:
                row.append(f"{fmt(c['guest_cycles_per_packet_oncpu'], 0)} / "
                           f"{fmt(c['host_cycles_per_packet_oncpu'], 0)}")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("## Forwarding lcores on a CPU, share of the window, guest / host (median)")
    L.append("")
    L.append("Below about 95 % another process took the lcore's CPU during the window: "
             "that run's rate and cycles are disturbed.")
    L.append("")
    L.append("| scenario | size | " + " | ".join(peers) + " |")
    L.append("|---|---:|" + "---:|" * len(peers))
    for scenario, size in keys:
        row = [SCENARIO_TITLE[scenario], str(size)]
        for p in peers:
            c = cells.get((scenario, size, p))
            if c is None or c.get("guest_cpu_share") is None:
                row.append("—")
            else:
                row.append(f"{c['guest_cpu_share']:.0%} / {c['host_cpu_share']:.0%}")
        L.append("| " + " | ".join(row) + " |")
    xen_peers = [p for p in peers if p.startswith("xen")]
    others = peers
    rat = {(r["scenario"], r["size"], r["peer"], r["vs"]): r for r in summary["ratios"]}
    if xen_peers:
        L.append("")
        L.append("## Ratios: median of per-repetition ratios (min–max)")
        L.append("")
        cols = [(a, b) for a in xen_peers for b in others if a != b]
        L.append("| scenario | size | " + " | ".join(f"{a} ÷ {b}" for a, b in cols) + " |")
        L.append("|---|---:|" + "---:|" * len(cols))
        for scenario, size in keys:
            row = [SCENARIO_TITLE[scenario], str(size)]
            for a, b in cols:
                r = rat.get((scenario, size, a, b))
                row.append("—" if r is None else
                           f"{r['ratio_median']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})")
            L.append("| " + " | ".join(row) + " |")
        L.append("")
        L.append("## xen counters per million packets through the vif (median)")
        L.append("")
        L.append("| scenario | size | peer | FE grant ops | BE grant copy segs | BE mapped copies | "
                 "BE map+unmap | FE notify | BE notify | BE wakeups | FE ring full | "
                 "BE ring full | FE notify/burst ≤ (tx, rx) |")
        L.append("|---|---:|---|" + "---:|" * 10)
        for scenario, size in keys:
            for p in xen_peers:
                c = cells.get((scenario, size, p))
                if c is None or "counters" not in c:
                    continue
                k = c["counters"]["per_mpkt"]
                npb = c["counters"]["frontend_notify_per_burst_max"]
                L.append("| " + " | ".join([
                    SCENARIO_TITLE[scenario], str(size), p, fmt(k["frontend_grant_ops"], 1),
                    fmt(k["backend_grant_copy_segments"], 0),
                    fmt(k.get("backend_mapped_copies"), 0), fmt(k["backend_grant_map_ops"], 1),
                    fmt(k["frontend_notify_sent"], 0), fmt(k["backend_notify_sent"], 0),
                    fmt(k["backend_wakeups"], 0), fmt(k["frontend_tx_ring_full"], 0),
                    fmt(k["backend_tx_ring_full"], 0),
                    f"{fmt(npb['tx'], 3)}, {fmt(npb['rx'], 3)}"]) + " |")
        ch = summary["checks"]
        L.append("")
        L.append("Steady state (all measurement windows): frontend grant operations = "
                 f"{ch['frontend_steady_state_grant_ops']} "
                 f"({'zero: OK' if ch['frontend_zero_grant_ops'] else 'NOT ZERO'}); "
                 f"frontend notifications per burst ≤ {fmt(ch['frontend_notify_per_burst_max'], 3)}"
                 f" ({npb_verdict(ch['frontend_at_most_one_notify_per_burst'])}).")
    errs = [c for c in summary["cells"] if c["errors"]]
    if errs:
        L.append("")
        L.append("## Failed runs")
        L.append("")
        for c in errs:
            L.append(f"- {c['peer']} {c['scenario']} {c['size']} B: {len(c['errors'])} failed: "
                     f"{c['errors'][0].splitlines()[0] if c['errors'][0] else ''}")
    L.append("")
    L.append("Peers: " + "; ".join(f"`{p}` = {labels[p]}" for p in peers) + ".")
    L.append("")
    return "\n".join(L)


def chart(report: dict, path) -> str:
    """Grouped bars per scenario: median Mpps per size and peer, whiskers
    for min–max. Returns an error message instead of raising when
    matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"no chart: {e} (install Debian's python3-matplotlib)"
    peers = report["meta"]["peers"]
    cells = {(c["scenario"], c["size"], c["peer"]): c for c in report["summary"]["cells"]}
    scenarios = [s for s in SCENARIOS if any(c["scenario"] == s for c in cells.values())]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5.5 * len(scenarios), 4.5),
                             squeeze=False)
    width = 0.8 / max(1, len(peers))
    for ax, scenario in zip(axes[0], scenarios):
        sizes = sorted({c["size"] for c in cells.values() if c["scenario"] == scenario})
        for i, p in enumerate(peers):
            xs, ys, lo, hi = [], [], [], []
            for j, s in enumerate(sizes):
                c = cells.get((scenario, s, p))
                if c is None or c["pps_median"] is None:
                    continue
                xs.append(j + (i - (len(peers) - 1) / 2) * width)
                ys.append(c["pps_median"] / 1e6)
                lo.append((c["pps_median"] - c["pps_min"]) / 1e6)
                hi.append((c["pps_max"] - c["pps_median"]) / 1e6)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=p)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([f"{s} B" for s in sizes])
        ax.set_title(SCENARIO_TITLE[scenario])
        # Log scale: the ring ceiling and 9000 B frames are orders of
        # magnitude apart from the rest.
        ax.set_yscale("log")
        ax.set_ylabel("Mpps (median, min–max; log scale)")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize="small")
    meta = report["meta"]
    fig.suptitle(f"xenfront benchmark, {meta['started']} ({meta['mode']}; "
                 f"{meta['host']['cpus']} shared CPUs: compare ratios, not absolutes)",
                 fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return ""


def write(report: dict, outdir) -> dict:
    paths = {"json": outdir / "report.json", "md": outdir / "report.md",
             "png": outdir / "report.png"}
    callgrind = report["meta"]["mode"] == "callgrind"
    pmd_only = report["meta"]["mode"] == "pmd-perf"
    err = ("no chart in callgrind mode" if callgrind else
           "no chart: pmd_perf_autotest only" if pmd_only else chart(report, paths["png"]))
    if err:
        report["meta"]["chart"] = err
        paths.pop("png")
    paths["json"].write_text(json.dumps(report, indent=1, sort_keys=True))
    if pmd_only:
        md = markdown_pmd_perf_only(report)
    else:
        md = markdown_callgrind(report) if callgrind else markdown(report)
        if report.get("pmd_perf"):
            md += "\n" + "\n".join(pmd_perf_section(report))
    paths["md"].write_text(md)
    return paths


def pmd_perf_section(report: dict) -> list:
    import pmd_perf
    return pmd_perf.markdown(report["pmd_perf"]["summary"], report["meta"]["peer_labels"])


def markdown_pmd_perf_only(report: dict) -> str:
    meta = report["meta"]
    L = [f"# xenfront benchmark (pmd_perf_autotest only)", "",
         f"{meta['started']}, {meta['host']['cpus']} CPUs, load average "
         f"{meta['host']['loadavg_start']} → {meta['host']['loadavg_end']}; "
         f"{report['pmd_perf']['reps']} interleaved repetitions; commit {meta['commit']}, "
         f"{meta.get('buildtype', 'unknown')} build. Absolute numbers depend on what else "
         "the machine ran.", ""]
    L += pmd_perf_section(report)
    return "\n".join(L)
