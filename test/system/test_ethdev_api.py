# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The ethdev API table of doc/guides/nics/xenfront.rst ("Ethdev API"),
checked row by row through dpdk-testpmd commands on a connected
net_xenfront port: what works, what is refused with a clear error, and
what the driver does not implement (ethdev's -ENOTSUP)."""

import re
import time

import pytest

from testpmd import backend, frontend, stop_all, wait_counter

# (testpmd command, ethdev API, regex its answer must match). Order matters
# where a row changes the port.
ROWS = [
    # works
    ("show port info 0", "rte_eth_dev_info_get, rte_eth_link_get_nowait",
     r"Driver name: net_xenfront[\s\S]*Link status: up[\s\S]*Max possible number of RXDs per "
     r"queue: 32768"),
    ("show port stats 0", "rte_eth_stats_get", r"RX-packets: \d+"),
    ("clear port stats 0", "rte_eth_stats_reset", r"NIC statistics for port 0 cleared"),
    ("show port xstats 0", "rte_eth_xstats_get, rte_eth_xstats_get_names",
     r"rx_q0_bad_responses: 0"),
    ("clear port xstats 0", "rte_eth_xstats_reset", r"^\s*$"),
    ("show rxq info 0 0", "rte_eth_rx_queue_info_get, rte_eth_rx_burst_mode_get",
     r"Number of RXDs: 256[\s\S]*Burst mode: netif ring 0: frames copied out of granted pages"),
    ("show txq info 0 0", "rte_eth_tx_queue_info_get, rte_eth_tx_burst_mode_get",
     r"Number of TXDs: 256[\s\S]*Burst mode: netif ring 0: frames copied into granted pages"),
    # Idle and connected: every rx buffer posted, nothing answered, nothing
    # in flight (test_queue_status_follows_the_ring fills the ring).
    ("show port 0 rxq 0 desc used count", "rte_eth_rx_queue_count", r"Used desc count = 0"),
    ("show port 0 rxq 0 desc 0 status", "rte_eth_rx_descriptor_status",
     r"Desc status = AVAILABLE"),
    ("show port 0 rxq 0 desc 256 status", "rte_eth_rx_descriptor_status", r"Invalid input"),
    ("show port 0 txq 0 desc 255 status", "rte_eth_tx_descriptor_status",
     r"Desc status = DONE"),
    ("port cleanup 0 txq 0 32", "rte_eth_tx_done_cleanup",
     r"Cleanup port 0 Tx queue 0 mbuf nums: 0"),
    ("mac_addr set 0 02:00:00:00:00:09", "rte_eth_dev_default_mac_addr_set", r"^\s*$"),
    ("show port 0 macs", "rte_eth_macaddr_get", r"02:00:00:00:00:09"),
    ("port config mtu 0 1400", "rte_eth_dev_set_mtu", r"^\s*$"),
    ("set promisc 0 on", "rte_eth_promiscuous_enable", r"^\s*$"),
    # net_xenback offers multicast control (test_multicast.py: the frames)
    ("mcast_addr add 0 01:00:5e:00:00:01", "rte_eth_dev_set_mc_addr_list", r"^\s*$"),
    ("set allmulti 0 off", "rte_eth_allmulticast_disable", r"^\s*$"),
    ("mcast_addr remove 0 01:00:5e:00:00:01", "rte_eth_dev_set_mc_addr_list", r"^\s*$"),
    ("set allmulti 0 on", "rte_eth_allmulticast_enable", r"^\s*$"),
    # refused, with the driver's reason
    ("set promisc 0 off", "rte_eth_promiscuous_disable",
     r"promiscuous mode stays on: netif has no receive filter"),
    ("vlan set strip on 0", "rte_eth_dev_set_vlan_offload",
     r"must be within Rx offloads capabilities"),
    ("show port 0 rss-hash", "rte_eth_dev_rss_hash_conf_get", r"RSS disabled"),
    ("set link-up port 0", "rte_eth_dev_set_link_up",
     r"the link follows the backend \(its state and carrier\)[\s\S]*Set link up fail"),
    ("set link-down port 0", "rte_eth_dev_set_link_down",
     r"the link follows the backend[\s\S]*Set link down fail"),
    ("port 0 rxq 0 stop", "rte_eth_dev_rx_queue_stop",
     r"queue 0: netif queues start and stop with the port"),
    ("port 0 txq 0 stop", "rte_eth_dev_tx_queue_stop",
     r"queue 0: netif queues start and stop with the port"),
    # not implemented: ethdev answers -ENOTSUP (or -ENOSYS) for the driver
    ("mac_addr add 0 02:00:00:00:00:0a", "rte_eth_dev_mac_addr_add", r"Operation not supported"),
    ("rx_vlan add 5 0", "rte_eth_dev_vlan_filter", r"diag=-38"),
    ("flow validate 0 ingress pattern eth / end actions drop / end", "rte_flow_validate",
     r"Function not implemented"),
    ("show port 0 flow_ctrl", "rte_eth_dev_flow_ctrl_get", r"err = -95"),
    ("show port 0 eeprom", "rte_eth_dev_get_eeprom", r"operation not supported"),
    ("show port 0 module_eeprom", "rte_eth_dev_get_module_info", r"operation not supported"),
    ("set port 0 queue 0 rate 100", "rte_eth_set_queue_rate_limit", r"Operation not supported"),
    ("show port 0 ptypes", "rte_eth_dev_get_supported_ptypes", r"L2 ptypes unsupported"),
    ("port config 0 udp_tunnel_port add vxlan 4789", "rte_eth_dev_udp_tunnel_port_add",
     r"Operation not supported"),
    ("set stat_qmap rx 0 0 0", "rte_eth_dev_set_rx_queue_stats_mapping",
     r"failed to set rx queue stats mapping"),
    ("show port 0 fec capabilities", "rte_eth_fec_get_capability", r"Function not implemented"),
]


def test_ethdev_api_table(build, xensim, prefix):
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix)
    front = frontend(build, xensim, prefix)
    front.wait_link(0)
    wrong = []
    for cmd, api, pattern in ROWS:
        out = front.command(cmd)
        if not re.search(pattern, out):
            wrong.append((cmd, api, pattern, out.strip()[-300:]))
    assert not wrong, "\n".join(map(repr, wrong))
    # Still a working port after all that.
    assert front.link_up(0)
    front.command("port stop 0")
    out = front.command("port reset 0")
    assert "Failed to reset port 0. diag=-95" in out, out  # rte_eth_dev_reset
    assert "no reset: stop and start the port" in out, out
    out = front.command("port start 0")
    assert "Fail" not in out, out
    front.wait_link(0)
    stop_all(front, back)


def test_queue_status_follows_the_ring(build, xensim, prefix):
    """The backend fills the rx ring while the application does not poll:
    every posted buffer answered (256 used, the first and last descriptor
    done); once the application has read them, none used and all posted
    again. The tx ring, sent on and answered, has every descriptor done."""
    xensim.vif_add(1, 0)
    back = backend(build, xensim, prefix, app=["--forward-mode=txonly"])
    front = frontend(build, xensim, prefix, app=["--forward-mode=rxonly"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    wait_counter(back, 0, "opackets", 256)
    time.sleep(0.5)
    back.command("stop")
    assert front.stats(0)["ipackets"] == 0
    assert "Used desc count = 256" in front.command("show port 0 rxq 0 desc used count")
    for d in (0, 255):
        out = front.command(f"show port 0 rxq 0 desc {d} status")
        assert "Desc status = DONE" in out, (d, out)
    front.command("start")
    s = wait_counter(front, 0, "ipackets", 256)
    front.command("stop")
    assert s["ipackets"] == 256, s
    assert "Used desc count = 0" in front.command("show port 0 rxq 0 desc used count")
    for d in (0, 255):
        out = front.command(f"show port 0 rxq 0 desc {d} status")
        assert "Desc status = AVAILABLE" in out, (d, out)
    # The other way: the guest sends, the backend takes everything.
    front.command("set fwd txonly")
    back.command("set fwd rxonly")
    back.command("start")
    front.command("start")
    wait_counter(back, 0, "ipackets", 10000)
    front.command("stop")
    time.sleep(0.5)
    back.command("stop")
    for d in (0, 255):
        out = front.command(f"show port 0 txq 0 desc {d} status")
        assert "Desc status = DONE" in out, (d, out)
    out = front.command("port cleanup 0 txq 0 0")
    assert "Cleanup port 0 Tx queue 0 mbuf nums: 0" in out, out  # copies: none held
    stop_all(front, back)


def test_api_table_matches_the_guide():
    """Every API in ROWS is in the guide's table with the same verdict."""
    from conftest import ROOT
    guide = (ROOT / "doc/guides/nics/xenfront.rst").read_text()
    table = guide[guide.index("Ethdev API\n----------"):]
    for _, apis, _ in ROWS:
        for api in apis.split(", "):
            assert f"``{api}``" in table, f"{api} missing from the guide's Ethdev API table"


@pytest.mark.parametrize("api", ["rte_eth_dev_rx_intr_enable", "rte_eth_dev_rx_intr_ctl_q",
                                 "rte_eth_dev_stop", "rte_dev_remove"])
def test_guide_lists_apis_proven_elsewhere(api):
    from conftest import ROOT
    guide = (ROOT / "doc/guides/nics/xenfront.rst").read_text()
    assert f"``{api}``" in guide[guide.index("Ethdev API\n----------"):]
