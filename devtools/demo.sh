#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Usage: demo.sh BUILD_DIR
# The main demo: loads net_xenfront and net_xenback into dpdk-testpmd.
# (Until the xensim and first-light issues land, there is no vif to drive,
# so each driver shows the error a user sees on a host without Xen.)
set -euo pipefail
BUILD=${1:?usage: demo.sh BUILD_DIR}
EAL=(--no-huge -m 1024 --no-pci --log-level lib.eal:warning)

for spec in "xenfront:net_xenfront0,vif=0" "xenback:net_xenback0,domid=1,vif=0"; do
	drv=${spec%%:*}
	vdev=${spec#*:}
	echo "== dpdk-testpmd -d $BUILD/drivers/net/$drv/librte_net_$drv.so --vdev $vdev"
	set +e
	echo quit | dpdk-testpmd "${EAL[@]}" --file-prefix "demo-$drv-$$" \
		-d "$BUILD/drivers/net/$drv/librte_net_$drv.so" --vdev "$vdev" -- --nb-ports=1 -i 2>&1 |
		grep -E "net_xen|Invalid port|No probed"
	rc=${PIPESTATUS[1]}
	set -e
	echo "== exit status $rc"
done
