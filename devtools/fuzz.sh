#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Builds the libFuzzer targets of test/fuzz with clang, ASan and UBSan in
# build-fuzz/, and runs each for a bounded time, starting from the committed
# seed corpus (test/fuzz/corpus/<target>) and regression inputs
# (test/fuzz/regressions/<target>). The committed corpus is not modified: new
# inputs go to a scratch copy. A finding is kept in build-fuzz/findings/ and
# makes the script fail; fix it and commit the input under regressions/.
#
#   devtools/fuzz.sh [SECONDS] [TARGET...]    (default: 60 s each; rx tx nodes ctrl)
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(rx tx nodes ctrl)
dir=build-fuzz

if [[ ! -f "$dir/build.ninja" ]]; then
	# -Dwerror=false: clang warns where gcc (the main build) does not.
	CC=clang CXX=clang++ meson setup "$dir" -Dfuzz=true -Dtests=false -Dwerror=false \
		-Db_sanitize=address,undefined -Db_lundef=false >"$dir.setup.log" 2>&1 || {
		cat "$dir.setup.log" >&2
		exit 1
	}
fi
ninja -C "$dir" $(printf 'test/fuzz/fuzz_%s ' "${targets[@]}") >"$dir.ninja.log" 2>&1 || {
	grep -E -A8 'FAILED|error' "$dir.ninja.log" >&2 || cat "$dir.ninja.log" >&2
	exit 1
}

failed=
for t in "${targets[@]}"; do
	work=$(mktemp -d "/dev/shm/xenfront-fuzz-$t.XXXXXX")
	findings="$ROOT/$dir/findings/$t"
	mkdir -p "$findings"
	cp test/fuzz/corpus/"$t"/* test/fuzz/regressions/"$t"/* "$work"/ 2>/dev/null || true
	log="$ROOT/$dir/fuzz_$t.log"
	echo "fuzz: $t for ${seconds}s"
	# UBSan reports are fatal; leaks are the mempool invariant's job (DPDK
	# keeps its own allocations for the life of the process).
	if (cd "$findings" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=detect_leaks=0 \
		"$ROOT/$dir/test/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=4096 -print_final_stats=1 "$work" >"$log" 2>&1); then
		grep -E '^stat::number_of_executed_units|^Done' "$log" | tr '\n' ' ' | sed 's/^/fuzz: /'
		echo
	else
		echo "fuzz: $t FOUND A PROBLEM (input in $findings, log $log):" >&2
		grep -E -m5 'invariant|ERROR|runtime error|SUMMARY' "$log" >&2 || tail -20 "$log" >&2
		failed+=" $t"
	fi
	rm -rf "$work"
done
if [[ -n "$failed" ]]; then
	echo "fuzz: FAILED:$failed"
	exit 1
fi
echo "fuzz: no findings (${targets[*]}, ${seconds}s each)"
