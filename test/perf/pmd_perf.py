# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""DPDK's own measure of a PMD: dpdk-test's pmd_perf_autotest
(app/test/test_pmd_perf.c in DPDK 22.11), run non-interactively
(DPDK_TEST=pmd_perf_autotest) on whatever ports its EAL arguments create.

What the test does, with its own defaults: one rx and one tx queue per
port, 1024 descriptors each; it injects 2048 64-byte packets, then one
worker lcore receives and sends back on the same port in a loop until it
has received 2 s worth of the port's link speed in 64-byte frames
(29.76 M packets at the 10 G a paravirtual link reports), and prints the
TSC cycles of that loop per packet received ("Result: N cycles per
packet"). It needs two lcores (the main one waits, spinning) and a peer
that sends every packet back: a testpmd in io forwarding on the far end
of the link, or a port that loops by itself (net_ring)."""

import os
import re
import subprocess

TEST = "pmd_perf_autotest"
RESULT = re.compile(r"^Result: (\d+) cycles per packet$", re.M)
COUNTS = re.compile(r"^(\d+) packet, (\d+) drop, (\d+) idle$", re.M)
# The lines worth quoting from its output.
QUOTED = re.compile(r"^(?:CONFIG RXD=.*|Port \d+ Link.*|Total packets inject.*|"
                    r"Test will stop after.*|free \d+ .*|\d+ packet, \d+ drop, \d+ idle|"
                    r"Result: .*|Test OK|Test Failed|.*Invalid value.*|.*Cause: .*)$", re.M)


def run(eal: list, env: dict, timeout: float = 600, wrapper=()) -> dict:
    """Runs dpdk-test with `eal` (EAL arguments only) and returns what it
    measured: ok, cycles_per_packet, packets, drops, idle, lines (the
    output lines that say so), returncode and the whole output."""
    full = dict(os.environ)
    full.update(env)
    full["DPDK_TEST"] = TEST
    try:
        p = subprocess.run(list(wrapper) + ["dpdk-test"] + [str(a) for a in eal],
                           capture_output=True, text=True, env=full, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return parse(p.stdout + p.stderr, p.returncode)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        r = parse(out, None)
        r["error"] = f"dpdk-test did not finish within {timeout:.0f} s"
        return r


def parse(out: str, returncode) -> dict:
    r = {"returncode": returncode, "output": out,
         "ok": returncode == 0 and re.search(r"^Test OK$", out, re.M) is not None,
         "cycles_per_packet": None, "packets": None, "drops": None, "idle": None,
         "lines": [m.group(0) for m in QUOTED.finditer(out)]}
    m = RESULT.search(out)
    if m:
        r["cycles_per_packet"] = int(m.group(1))
    m = COUNTS.search(out)
    if m:
        r["packets"], r["drops"], r["idle"] = (int(g) for g in m.groups())
    if not r["ok"] and "error" not in r:
        r["error"] = next((line for line in reversed(r["lines"])
                           if "Invalid" in line or "Cause" in line or "Failed" in line),
                          f"dpdk-test exited {returncode}")
    return r


# ---- beside the benchmark's peers (bench.py --pmd-perf) ----

def peer_setup(ctx, name: str):
    """(host testpmd EAL args or None, host env, dpdk-test EAL args, dpdk-test
    env) for the benchmark peer `name`: the same ports as its runs, the
    host echoing with io forwarding on its one port."""
    import peers as P
    cls = P.PEERS[name]
    group = P.Group("pmdperf", [64], jumbo=False)
    if cls is P.RingPeer:
        # A net_ring port transmits into the ring it receives from: it
        # echoes by itself.
        return None, {}, ["--vdev", "net_ring0"], {}
    peer = cls(ctx, group)
    peer.prepare()
    return peer.host_eal(), peer.host_env(), peer.guest_eal(), peer.guest_env()


def measure_peer(ctx, name: str, rep: int, log) -> dict:
    """One pmd_perf_autotest run over peer `name`; the result, or an error
    saying why it could not run."""
    import peers as P
    from testpmd_session import Testpmd
    host = None
    tag = f"pmdperf-{name}-{rep}"
    try:
        host_eal, host_env, guest_eal, guest_env = peer_setup(ctx, name)
        if host_eal is not None:
            host = Testpmd(f"{tag} host", P.EAL_COMMON + [
                "--file-prefix", f"{ctx.prefix}{tag.replace('-', '')}h"] + P.HOST_LCORES +
                host_eal, ["--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=32768"],
                host_env, ctx.log(f"{tag}-host"))
            host.command("start")
        eal = (P.EAL_COMMON + ["--file-prefix", f"{ctx.prefix}{tag.replace('-', '')}g"] +
               P.GUEST_LCORES + [str(a) for a in guest_eal])
        r = run(eal, guest_env, timeout=900)
        ctx.log(f"{tag}-dpdk-test").write_text(
            "$ DPDK_TEST=pmd_perf_autotest dpdk-test " + " ".join(eal) + "\n" + r["output"])
        r.pop("output")
        r["vdevs"] = [a for a in guest_eal if str(a).startswith("net_")]
        return r
    except Exception as e:  # a peer that cannot run it is recorded, with why
        log(f"pmd_perf {name}: {e}")
        return {"ok": False, "error": str(e)}
    finally:
        if host is not None:
            try:
                host.command("stop")
                host.quit()
            except Exception:
                host.kill()


def measure(ctx, names: list, reps: int, log) -> dict:
    """Interleaved repetitions over the peers: {peer: [result, ...]}."""
    out = {n: [] for n in names}
    for rep in range(reps):
        for name in names:
            r = measure_peer(ctx, name, rep, log)
            what = (f"{r['cycles_per_packet']} cycles/packet, {r['packets']} packets, "
                    f"{r['drops']} drops" if r.get("ok") else f"failed: {r.get('error')}")
            log(f"pmd_perf rep {rep + 1}/{reps} {name:10} {what}")
            out[name].append(r)
    return out


def summarize(results: dict) -> list:
    rows = []
    for name, runs in results.items():
        ok = [r for r in runs if r.get("ok")]
        cpp = sorted(r["cycles_per_packet"] for r in ok)
        rows.append({
            "peer": name, "runs": len(runs), "ok": len(ok),
            "cycles_median": cpp[len(cpp) // 2] if cpp else None,
            "cycles_min": cpp[0] if cpp else None, "cycles_max": cpp[-1] if cpp else None,
            "packets": [r["packets"] for r in ok], "drops": [r["drops"] for r in ok],
            "errors": sorted({r.get("error", "") for r in runs if not r.get("ok")}),
            "vdevs": next((r.get("vdevs") for r in runs if r.get("vdevs")), None),
        })
    return rows


def markdown(rows: list, labels: dict) -> list:
    L = ["## dpdk-test pmd_perf_autotest: cycles per packet (median, min–max)", "",
         "DPDK's own measure (app/test/test_pmd_perf.c) with its defaults: 1024 "
         "descriptors, 64-byte packets echoed by the peer (testpmd io forwarding; "
         "net_ring loops by itself), TSC cycles of the worker's rx+tx loop per packet "
         "received over 2 s worth of a 10 G link. Lower is better.", "",
         "| peer | cycles/packet | runs ok | packets | drops | ports | why not |",
         "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        cyc = (f"{r['cycles_median']} ({r['cycles_min']}–{r['cycles_max']})"
               if r["cycles_median"] is not None else "—")
        pk = f"{min(r['packets'])}" if r["packets"] else "—"
        dr = f"{max(r['drops'])}" if r["drops"] else "—"
        # Socket paths are the run's own temporary ones: their names say enough.
        vd = ", ".join("`" + re.sub(r"(socket|path)=[^,]*/", r"\1=", v) + "`"
                       for v in r["vdevs"] or [])
        why = "; ".join(e.strip().splitlines()[0] for e in r["errors"] if e.strip())
        L.append(f"| {r['peer']} ({labels.get(r['peer'], '')}) | {cyc} | "
                 f"{r['ok']}/{r['runs']} | {pk} | {dr} | {vd} | {why} |")
    L.append("")
    return L
