# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The README's main demo (devtools/demo.sh, run by `devtools/run.sh demo`)
does what the README says: xensim with a vif, two dpdk-testpmd processes,
packets each way, and every grant and event channel released at the end."""

import json
import os
import re
import shlex
import subprocess

from conftest import ROOT, sanitizer_env


def forward_stats(output: str) -> list:
    """(RX-packets, TX-packets) of each "Accumulated forward statistics"
    block, in the order printed."""
    blocks = re.findall(r"Accumulated forward statistics.*?RX-packets:\s+(\d+).*?"
                        r"TX-packets:\s+(\d+)", output, re.S)
    return [(int(rx), int(tx)) for rx, tx in blocks]


def test_demo_passes_packets_both_ways_and_releases_everything(build, tmp_path):
    env = dict(os.environ)
    for key in ("XENSTORED_PATH", "XENSIM_DIR", "XENSIM_DOMID"):
        env.pop(key, None)
    sanitizer = sanitizer_env()
    if sanitizer:
        # Only dpdk-testpmd gets the sanitizer runtimes: preloaded into the
        # script's other tools they can hang (pkill did).
        wrapper = tmp_path / "bin/dpdk-testpmd"
        wrapper.parent.mkdir()
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sanitizer.items())
        wrapper.write_text(f"#!/bin/sh\nexport {exports}\nexec /usr/bin/dpdk-testpmd \"$@\"\n")
        wrapper.chmod(0o755)
        env["PATH"] = f"{wrapper.parent}:{env['PATH']}"
    run = subprocess.run([str(ROOT / "devtools/demo.sh"), str(build.path), "3"], env=env,
                         capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    stats = forward_stats(out)
    # Printed in order: guest txonly, dom0 rxonly, guest rxonly, dom0 txonly.
    assert len(stats) == 4, out
    (_, guest_sent), (dom0_got, _), (guest_got, _), (_, dom0_sent) = stats
    assert guest_sent > 0 and dom0_got == guest_sent, out
    # The guest stops first; what dom0 had queued for it then is not
    # received, never more than was sent.
    assert 0 < guest_got <= dom0_sent, out
    hv = json.loads(re.search(r"hv view:\s+(\{.*\})", out).group(1))
    for domid, domain in hv["domains"].items():
        assert domain["grants_shared"] == 0 and domain["mappings_held"] == 0, (domid, out)
        assert domain["evtchn_ports"] == 0, (domid, out)
