#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Usage: bench-queues.sh BUILD_DIR [ROUNDS] [SECONDS] [FRONT_CORES]
#
# Aggregate guest-receive packet rate over 1, 2 and 4 queue pairs: domain 0's
# testpmd sends 64-byte packets of many flows (txonly --txonly-multi-flow) on
# every queue of net_xenback; the backend steers them by the guest's RSS
# (control ring); domain 1's testpmd receives on every queue of net_xenfront
# (rxonly). The queue counts alternate within each round (1 2 4 1 2 4 ...),
# so that compare only figures of one run: this machine's speed drifts.
#
# FRONT_CORES: forwarding lcores of the guest's testpmd, "1" (default: one
# lcore polls every queue) or "queues" (one lcore per queue pair). Each
# testpmd also has its main lcore; with 2 CPUs, more than one forwarding
# lcore per side shares a CPU with another busy thread.
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail
BUILD=$(cd "${1:?usage: bench-queues.sh BUILD_DIR [ROUNDS] [SECONDS] [FRONT_CORES]}" && pwd)
ROUNDS=${2:-2}
SECS=${3:-6}
FRONT_CORES=${4:-1}
XENSIM="$BUILD/app/xensim/xensim"
FRONT_PMD="$BUILD/drivers/net/xenfront/librte_net_xenfront.so"
BACK_PMD="$BUILD/drivers/net/xenback/librte_net_xenback.so"
EAL=(--no-huge -m 1024 --no-pci --log-level lib.eal:warning)
LOGS=$(mktemp -d)

# 4 queue pairs need 4 × 514 grants: more than Linux's default gntalloc limit.
eval "$("$XENSIM" start --gntalloc-limit 8192)"
cleanup() {
	pkill -f "file-prefix bq-$$" 2>/dev/null || true
	rm -rf /var/run/dpdk/bq-$$-* 2>/dev/null || true # DPDK's runtime files
	"$XENSIM" stop >/dev/null 2>&1 || true
	[[ -n "${BENCH_KEEP_LOGS:-}" ]] && echo "logs: $LOGS" || rm -rf "$LOGS"
}
trap cleanup EXIT
"$XENSIM" vif-add --domid 1 --vif 0 >/dev/null

# Median of the guest's Rx-pps samples, the first two (start-up) left out.
median_rx_pps() { # LOG
	grep -a -o "Rx-pps: *[0-9]*" "$1" | awk '{print $2}' | tail -n +3 | sort -n |
		awk '{v[NR]=$1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

measure() { # QUEUES
	local q=$1 front_lcores="0@1,1@0" nb_cores=1
	if [[ "$FRONT_CORES" == queues && $q -gt 1 ]]; then
		front_lcores="0@1,1@0"
		for ((i = 2; i <= q; i++)); do front_lcores+=",$i@$((i % 2))"; done
		nb_cores=$q
	fi
	(eval "$("$XENSIM" env --domid 0)" &&
		exec dpdk-testpmd "${EAL[@]}" --file-prefix "bq-$$-back" -l 0,1 -d "$BACK_PMD" \
			--vdev "net_xenback0,domid=1,vif=0,max_queues=$q" -- -a --no-mlockall \
			--rxq="$q" --txq="$q" --forward-mode=txonly --txonly-multi-flow --stats-period 1) \
		>"$LOGS/back.log" 2>&1 &
	local back=$!
	sleep 2
	(eval "$("$XENSIM" env --domid 1)" &&
		timeout -s INT "$SECS" dpdk-testpmd "${EAL[@]}" --file-prefix "bq-$$-front" \
			--lcores "$front_lcores" -d "$FRONT_PMD" --vdev net_xenfront0,vif=0 -- -a \
			--no-mlockall --rxq="$q" --txq="$q" --nb-cores="$nb_cores" \
			--forward-mode=rxonly --stats-period 1) >"$LOGS/front.log" 2>&1 || true
	kill -INT "$back" 2>/dev/null || true
	wait "$back" || true
	local pps
	pps=$(median_rx_pps "$LOGS/front.log")
	if [[ "$pps" == 0 ]]; then # say why rather than print a bare 0
		echo "bench-queues: $q queue pair(s): no packets; the guest's testpmd said:" >&2
		grep -a -v -E "pps|^\s*$" "$LOGS/front.log" | tail -5 | sed 's/^/  /' >&2
	fi
	echo "$pps"
}

declare -A results
for ((r = 1; r <= ROUNDS; r++)); do
	for q in 1 2 4; do
		pps=$(measure "$q")
		results[$q]+="$pps "
		printf 'round %d, %d queue pair(s): %s pps\n' "$r" "$q" "$pps"
	done
done
echo
echo "queue pairs | guest Rx-pps per round | ratio to 1 queue (same round)"
for q in 1 2 4; do
	read -ra mine <<<"${results[$q]}"
	read -ra base <<<"${results[1]}"
	ratios=""
	for ((i = 0; i < ${#mine[@]}; i++)); do
		ratios+=$(awk -v a="${mine[$i]}" -v b="${base[$i]}" \
			'BEGIN {if (a > 0 && b > 0) printf "%.2f ", a / b; else printf "n/a "}')
	done
	printf '%11d | %s| %s\n' "$q" "${results[$q]}" "$ratios"
done
