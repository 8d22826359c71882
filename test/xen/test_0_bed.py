# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The bed itself, before any case: what runs (versions, printed for the
record), Linux netback and netfront connected on both vifs, the project
installed where /etc/xenbed/env says, and `xenbed.py scripts` (what
`devtools/run.sh xen --dom0-script F --domu-script F` runs) giving each
script its environment, prefixing its output and failing when one fails."""

import contextlib
import io

import xenbed


def test_versions_and_connected_vifs(guest):
    xl = guest.dom0.run("xl info").output
    info = {k.strip(): v for k, v in (line.split(":", 1) for line in xl.splitlines() if ":" in line)}
    kernel = guest.domu.run("uname -r").output.strip()
    dpdk = guest.domu.run("dpkg-query -W -f='${Version}' librte-eal23 2>/dev/null || "
                          "dpkg-query -W -f='${Version}' 'librte-eal*'").output.strip()
    print(f"COUNTS bed: Xen {info['xen_version'].strip()}, dom0 and domU kernel {kernel}, "
          f"DPDK {dpdk}, {info['nr_cpus'].strip()} CPUs")
    # The Xen of the release the bed was made from (4.17: Debian 12, 4.20: 13).
    assert info["xen_version"].strip().startswith(guest.bed.state.get("xen", "4.17"))
    for devid in (0, 1):
        assert guest.vif_states(devid) == ("4", "4"), devid
    for key in ("XENFRONT_PMD", "XENBACK_PMD", "VIFBIND"):
        guest.domu.run(f"test -x {guest.paths[key]} || test -r {guest.paths[key]}")
    status = guest.domu.run(f"{guest.paths['VIFBIND']} --status").output
    assert "vif-0" in status and "owner: kernel (xen-netfront, eth0)" in status, status


def test_scripts_run_in_both_domains_at_once(bed):
    dom0 = ('echo "dom0 sees domU $DOMU_ID"; test -n "$XENBACK_PMD"; '
            'ip addr show vif$DOMU_ID.0 | grep -q 10.0.0.1/24 && echo "dom0 has 10.0.0.1"')
    domu = ('test -n "$XENFRONT_PMD" && test -n "$VIFBIND" && echo "domU env ok"; '
            'ip addr show eth0 | grep -q 10.0.0.2/24 && echo "domU has 10.0.0.2"; '
            'ping -c 1 -W 5 10.0.0.1 >/dev/null && echo "domU reaches dom0"')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = xenbed.run_scripts(bed, {"dom0": dom0, "domU": domu})
    text = out.getvalue()
    assert rc == 0, text
    for line in (f"[dom0] dom0 sees domU {bed.domu_id}", "[dom0] dom0 has 10.0.0.1",
                 "[domU] domU env ok", "[domU] domU has 10.0.0.2", "[domU] domU reaches dom0"):
        assert line in text, text
    with contextlib.redirect_stdout(io.StringIO()):
        assert xenbed.run_scripts(bed, {"dom0": "true", "domU": "exit 3"}) == 1
