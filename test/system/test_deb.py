# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The Debian packages (`devtools/run.sh deb [--debian N]`, in
build-deb/debian<N>/) installed as a user installs them, `apt install
./FILE.deb`, in a clean Debian root of that release (devtools/debroot.py's
minbase kind, unpacked afresh each time): dpdk-testpmd finds net_xenfront in
DPDK's plugin directory with no -d and receives over xensim (from the
xensim package) what net_xenback sends. A release whose packages were not
built is skipped; `devtools/run.sh deb --test` builds and runs it. It needs
the Debian archive (apt fetches DPDK) and takes about a minute per release,
so the CI run leaves it to run.sh deb."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("release", ["12", "13"])
def test_packages_in_a_clean_root(release):
    debs = ROOT / f"build-deb/debian{release}"
    if not list(debs.glob("librte-net-xenfront[0-9]*.deb")):
        pytest.skip(f"no packages for Debian {release}: devtools/run.sh deb --debian {release}")
    res = subprocess.run(
        [sys.executable, str(ROOT / "devtools/debroot.py"), "--debian", release, "run",
         "--kind", "clean", "--bind", f"{debs}:/debs",
         "--bind", f"{ROOT / 'test/system'}:/probe", "--", "/probe/deb_probe.sh"],
        capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    print(out[-6000:])
    assert res.returncode == 0, out[-6000:]
    abi = {"12": "23", "13": "25"}[release]
    assert re.search(rf"^Setting up librte-net-xenfront{abi}(:amd64)? ", out, re.M), out
    assert f"/dpdk/pmds-{abi}.0/librte_net_xenfront.so.{abi}.0" in out
    # No -d anywhere: the driver came from the plugin directory.
    assert not re.search(r"dpdk-testpmd[^\n]* -d ", out)
    assert "Port 0: link state change event" in out or "Link status: up" in out or \
        re.search(r"Port 0: [0-9A-F:]{17}", out), out
    rx = [int(n) for n in re.findall(r"RX-packets: (\d+)", out)]
    assert rx and max(rx) > 1000, out[-3000:]
