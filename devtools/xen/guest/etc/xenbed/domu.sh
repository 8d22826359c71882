# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# domU bring-up: Linux netfront takes both vifs; vif N becomes ethN. vif 0
# (eth0, 10.0.0.2/24) is the one tests hand to net_xenfront and back; vif 1
# (eth1, 10.0.1.2/24) stays with the kernel and carries the agent's
# control connection, as an administrator keeps the vif of their SSH
# session.
modprobe xen-netfront
for n in 0 1; do
	i=0
	while ! ls /sys/bus/xen/devices/vif-$n/net/ >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "XENBED: vif-$n has no netdev after 120 s"; exit 1; }
		sleep 0.2
	done
done
# The kernel may have named them in another order: through temporary names.
for n in 0 1; do ip link set "$(ls /sys/bus/xen/devices/vif-$n/net/)" name xbtmp$n; done
xenbed-vif 0 && xenbed-vif 1 || exit 1
: >/run/xenbed-agent.args
echo "XENBED: domU ready, domid $(xenstore-read domid)"
