#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Fails if a C/C++ source differs from what clang-format makes of it.
# With --fix, rewrites the files instead.
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard '*.c' '*.cc' '*.h' | grep -v '^build')
[[ ${#files[@]} -gt 0 ]] || exit 0
if [[ "${1:-}" == --fix ]]; then
	clang-format -i "${files[@]}"
	exit 0
fi
bad=()
for f in "${files[@]}"; do
	[[ -f "$f" ]] || continue
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
	echo "check-format: not clang-formatted (run devtools/check-format.sh --fix):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "check-format: ${#files[@]} files formatted"
