# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The docs claim what the drivers have: every devarg a PMD registers (as
dpdk-pmdinfo.py shows it) has its subsection in the driver's guide and its
row in the README, and the
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
    # The README's table names each one too, in its driver's rows.
    rows = re.findall(rf"^\| net_{driver} \| (.*?) \|", (ROOT / "README.md").read_text(), re.M)
    in_readme = re.findall(r"`(\w+)=", " ".join(rows))
    assert sorted(in_readme) == sorted(keys), f"README devargs of net_{driver}: {in_readme}"


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


# Each feature the matrix claims, and the test that proves it (file, test).
FEATURE_PROOFS = {
    "Link status": ("test_reconnect.py", "test_backend_killed_and_restarted"),
    "Link status event": ("test_reconnect.py", "test_backend_killed_and_restarted"),
    "Rx interrupt": ("test_rx_intr.py", "test_rx_interrupt_sleeps_and_wakes"),
    "Burst mode info": ("test_ethdev_api.py", "test_ethdev_api_table"),
    "MTU update": ("test_probe_errors.py", "test_mtu_beyond_mbufs_named"),
    "Scattered Rx": ("test_traffic.py", "test_payloads_both_ways"),
    "LRO": ("test_offloads.py", "test_guest_rx_offloads"),
    "TSO": ("test_offloads.py", "test_guest_tso"),
    "L3 checksum offload": ("test_offloads.py", "test_guest_tx_checksums"),
    "L4 checksum offload": ("test_offloads.py", "test_guest_tx_checksums"),
    "Promiscuous mode": ("test_ethdev_api.py", "test_ethdev_api_table"),
    "Allmulticast mode": ("test_multicast.py", "test_multicast_filter_follows_the_guest"),
    "Multicast MAC filter": ("test_multicast.py", "test_multicast_filter_follows_the_guest"),
    "RSS hash": ("test_rss.py", "test_rss_steers_by_toeplitz_and_reports_the_hash"),
    "RSS key update": ("test_rss.py", "test_key_and_reta_changed_at_run_time"),
    "RSS reta update": ("test_rss.py", "test_key_and_reta_changed_at_run_time"),
    "Rx descriptor status": ("test_ethdev_api.py", "test_queue_status_follows_the_ring"),
    "Tx descriptor status": ("test_ethdev_api.py", "test_queue_status_follows_the_ring"),
    "Basic stats": ("test_ovs_dpdk.py", "test_ovs_dpdk_bridge_between_two_kernels"),
    "Extended stats": ("test_dpdk_tools.py", "test_telemetry_shows_port_and_xstats"),
    "Stats per queue": ("test_traffic.py", "test_payloads_both_ways"),
    "Linux": ("test_traffic.py", "test_payloads_both_ways"),
    "x86-64": ("test_traffic.py", "test_payloads_both_ways"),
}


def test_every_claimed_feature_has_its_test():
    ours = read_features(ROOT / "doc/guides/nics/features/xenfront.ini")
    assert sorted(ours) == sorted(FEATURE_PROOFS), (ours, list(FEATURE_PROOFS))
    for key, (path, name) in FEATURE_PROOFS.items():
        text = (ROOT / "test/system" / path).read_text()
        assert re.search(rf"^def {name}\(", text, re.M), f"{key}: no {name} in {path}"
