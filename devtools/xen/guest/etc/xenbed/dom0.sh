# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# dom0 bring-up: Linux netback, the toolstack's daemons, and the control
# network to the host (QEMU's user-mode network on an emulated e1000:
# 192.168.76.15, the host forwards its ports to the agent here). The domU is
# created by the host through the agent (xenbed.py), not here.
modprobe xen-netback
# No IPv6 on dom0's interfaces: its neighbour discovery and MLD reports
# would add packets of dom0's own to the vif counters the tests compare.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
modprobe tun
modprobe e1000
mkdir -p /var/lib/xen /var/log/xen/console /var/lib/xenstored /run/xen /var/lock
xenstored --pid-file /run/xen/xenstored.pid
i=0
until xenstore-read -s / >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 150 ] && { echo "XENBED: xenstored did not answer within 30 s"; exit 1; }
	sleep 0.2
done
xen-init-dom0
xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
# The control NIC is the only non-loopback device before any vif exists.
nic=
i=0
while [ -z "$nic" ] && [ $i -lt 100 ]; do
	nic=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
	[ -n "$nic" ] || sleep 0.2
	i=$((i + 1))
done
[ -n "$nic" ] || { echo "XENBED: no control NIC (e1000) appeared"; exit 1; }
ip addr add 192.168.76.15/24 dev "$nic"
ip link set "$nic" up
# Connections to port 7001 go on to the domU's agent over its control vif.
echo "--relay 7001=10.0.1.2:7000" >/run/xenbed-agent.args
echo "XENBED: dom0 ready (control NIC $nic)"
