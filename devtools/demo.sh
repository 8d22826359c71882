#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Usage: demo.sh BUILD_DIR [SECONDS]
#
# The main demo, on one host with no hypervisor:
#   1. start xensim (a xenstore daemon, grant tables, event channels) and
#      create vif 0 of guest domain 1, as `xl network-attach` would;
#   2. in "dom0", dpdk-testpmd with net_xenback serving that vif;
#   3. in "domain 1", dpdk-testpmd with net_xenfront driving it;
#   4. packets flow guest → dom0, then dom0 → guest, with counters from
#      both testpmds and from xensim.
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail
BUILD=$(cd "${1:?usage: demo.sh BUILD_DIR [SECONDS]}" && pwd)
SECS=${2:-5}
XENSIM="$BUILD/app/xensim/xensim"
FRONT_PMD="$BUILD/drivers/net/xenfront/librte_net_xenfront.so"
BACK_PMD="$BUILD/drivers/net/xenback/librte_net_xenback.so"
EAL=(--no-huge -m 1024 --no-pci --log-level lib.eal:warning ${DEMO_EAL_EXTRA:-})
LOGS=$(mktemp -d)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "xensim start; xensim vif-add --domid 1 --vif 0"
eval "$("$XENSIM" start)"
cleanup() {
	pkill -f "file-prefix demo-$$" 2>/dev/null || true
	rm -rf /var/run/dpdk/demo-$$-* 2>/dev/null || true # DPDK's runtime files
	"$XENSIM" stop >/dev/null 2>&1 || true
	[[ -n "${DEMO_KEEP_LOGS:-}" ]] || rm -rf "$LOGS"
}
trap cleanup EXIT
"$XENSIM" vif-add --domid 1 --vif 0
xenstore-ls -f "/local/domain/1/device/vif/0"

# One testpmd per domain, each with a main lcore and one forwarding lcore,
# the forwarding lcores on different CPUs.
backend() { # MODE
	(eval "$("$XENSIM" env --domid 0)" &&
		exec dpdk-testpmd "${EAL[@]}" --file-prefix "demo-$$-back" -l 0,1 -d "$BACK_PMD" \
			--vdev net_xenback0,domid=1,vif=0 -- -a --no-mlockall --forward-mode="$1" \
			--stats-period 1) >"$LOGS/back.log" 2>&1 &
	BACK=$!
}
frontend() { # MODE
	(eval "$("$XENSIM" env --domid 1)" &&
		timeout -s INT "$SECS" dpdk-testpmd "${EAL[@]}" --file-prefix "demo-$$-front" \
			--lcores 0@1,1@0 -d "$FRONT_PMD" --vdev net_xenfront0,vif=0 -- -a --no-mlockall \
			--forward-mode="$1" --stats-period 1) >"$LOGS/front.log" 2>&1 || true
}
summary() { # LOG
	grep -a -E "net_xen|Rx-pps|Tx-pps" "$1" | grep -av "^\s*$" | tail -4 | sed 's/^/    /'
	sed -n '/Accumulated forward statistics/,/+++++$/p' "$1" | sed 's/^/    /'
}
run() { # BACKMODE FRONTMODE TITLE
	say "$3"
	backend "$1"
	sleep 2
	frontend "$2"
	kill -INT "$BACK" 2>/dev/null || true
	wait "$BACK" || true
	echo "  domain 1 (net_xenfront, $2):"
	summary "$LOGS/front.log"
	echo "  domain 0 (net_xenback, $1):"
	summary "$LOGS/back.log"
}

run rxonly txonly "guest transmits for ${SECS}s: domain 1 txonly → domain 0 rxonly"
run txonly rxonly "guest receives for ${SECS}s: domain 0 txonly → domain 1 rxonly"

say "xensim status: grants and event channels now (all released), and totals"
"$XENSIM" status
