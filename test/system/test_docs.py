# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The docs claim what the drivers have: every devarg a PMD registers (as
dpdk-pmdinfo.py shows it) has its subsection in the driver's guide, and the
features matrix uses only DPDK's own keys."""

import json
import re
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.parametrize("driver", ["xenfront", "xenback"])
def test_every_devarg_is_documented(build, driver):
    lib = getattr(build, driver)
    info = json.loads(subprocess.run(["/usr/bin/python3", "/usr/bin/dpdk-pmdinfo.py", str(lib)],
                                     capture_output=True, text=True, check=True).stdout)
    keys = [p.split("=")[0] for p in info[0]["params"].split()]
    assert keys, info
    guide = (ROOT / "doc/guides/nics" / f"{driver}.rst").read_text()
    sections = re.findall(r"^(\w+)\n~+$", guide, re.M)
    assert sections == keys, f"{driver}.rst devarg sections {sections} != registered {keys}"


def read_features(path):
    """Keys of the [Features] section, in file order."""
    keys = []
    in_features = False
    for line in path.read_text().splitlines():
        if line.startswith("["):
            in_features = line.strip() == "[Features]"
        elif in_features and "=" in line and not line.startswith(";"):
            keys.append(line.split("=")[0].strip())
    return keys


def test_features_matrix_uses_default_keys_in_order(build):
    """Only keys of DPDK's default.ini (taken from Debian's source package of
    the installed DPDK, see devtools/dpdk-sdk.sh), in its order."""
    default = read_features(build.path / "dpdk-sdk/doc/default.ini")
    ours = read_features(ROOT / "doc/guides/nics/features/xenfront.ini")
    assert ours, "empty features matrix"
    for key in ours:
        assert key in default, f"{key!r} is not a key of DPDK's default.ini"
    positions = [default.index(k) for k in ours]
    assert positions == sorted(positions), f"not in default.ini's order: {ours}"
