#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Run by test_deb.py inside a clean Debian root (devtools/debroot.py
# --kind clean) with the packages at /debs: installs them as a user would
# and has dpdk-testpmd, with no -d, receive over xensim what net_xenback
# sends. Every step's output goes to stdout for the test to check.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
cd /debs
# The two drivers (not their -dbgsym or -dev) and xensim; dpdk-dev for testpmd.
front=$(ls ./librte-net-xenfront[0-9]*_*.deb | grep -v dbgsym)
back=$(ls ./librte-net-xenback[0-9]*_*.deb | grep -v dbgsym)
apt-get install -y -q --no-install-recommends "$front" "$back" ./xensim_*_*.deb dpdk-dev \
	>/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
grep -E '^(Unpacking|Setting up) (librte-net-xen|xensim)' /tmp/apt.log
dpkg -L "$(dpkg-deb -f "$front" Package)" | grep '\.so'
eval "$(xensim start)"
xensim vif-add --domid 1 --vif 0
eal=(--no-huge -m 1024 --no-pci)
# The backend sends; the frontend, in domain 1, receives for 20 s and prints
# its counts when enter is pressed.
(eval "$(xensim env --domid 0)"
 exec dpdk-testpmd "${eal[@]}" --file-prefix back -l 0,1 --vdev net_xenback0,domid=1,vif=0 \
	-- --no-mlockall -a --forward-mode=txonly --stats-period 1 >/tmp/back.log 2>&1) &
back=$!
eval "$(xensim env --domid 1)"
rc=0
(sleep 20; echo) | dpdk-testpmd "${eal[@]}" --file-prefix front --lcores 0@1,1@0 --vdev net_xenfront0,vif=0 \
	-- --no-mlockall --nb-ports=1 -a --forward-mode=rxonly || rc=$?
kill -INT $back
wait $back || true
xensim stop
exit $rc
