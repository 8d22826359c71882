#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Usage: dpdk-sdk.sh OUTDIR
#
# Debian's libdpdk-dev does not install DPDK's driver-SDK headers
# (ethdev_driver.h and friends) nor buildtools/pmdinfogen.py. Take them from
# Debian's own source package of exactly the installed DPDK version and put
# them in OUTDIR (inside the build tree; they are never committed).
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail

OUT=${1:?usage: dpdk-sdk.sh OUTDIR}
SDK_FILES=(
	lib/ethdev/ethdev_driver.h
	lib/ethdev/ethdev_vdev.h
	drivers/bus/vdev/bus_vdev_driver.h
	lib/eal/include/bus_driver.h
	lib/eal/include/dev_driver.h
	buildtools/pmdinfogen.py
	buildtools/coff.py
	buildtools/gen-pmdinfo-cfile.py
	doc/guides/nics/features/default.ini
)

die() { echo "dpdk-sdk: $*" >&2; exit 1; }

installed=$(dpkg-query -W -f='${Version}' libdpdk-dev 2>/dev/null) ||
	die "libdpdk-dev is not installed; run devtools/setup.sh"
pc_version=$(pkg-config --modversion libdpdk 2>/dev/null) ||
	die "pkg-config cannot find libdpdk; run devtools/setup.sh"
upstream=${installed%%-*}
[[ "$upstream" == "$pc_version" ]] ||
	die "libdpdk-dev $installed does not match pkg-config libdpdk $pc_version"

stamp="$OUT/.version"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$installed" && -f "$OUT/doc/default.ini" ]]; then
	exit 0
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/xenfront/dpdk-src-$installed
if [[ ! -f "$cache/.complete" ]]; then
	rm -rf "$cache"
	mkdir -p "$cache"
	echo "dpdk-sdk: fetching Debian source package dpdk=$installed" >&2
	if ! (cd "$cache" && apt-get source -q --download-only "dpdk=$installed" >/dev/null 2>"$cache/apt.log"); then
		cat "$cache/apt.log" >&2
		die "cannot download Debian source package dpdk=$installed (the version of the installed libdpdk-dev). Enable deb-src with devtools/setup.sh; if the archive no longer carries $installed, upgrade libdpdk-dev so both versions match."
	fi
	dsc=$(ls "$cache"/dpdk_*.dsc)
	(cd "$cache" && dpkg-source --no-check -x "$dsc" src >/dev/null 2>&1) ||
		die "dpkg-source could not unpack $dsc"
	touch "$cache/.complete"
fi

src="$cache/src"
src_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[[ "$src_version" == "$installed" ]] ||
	die "source package is dpdk $src_version but the installed libdpdk-dev is $installed; they must be the same version"

mkdir -p "$OUT/include" "$OUT/buildtools" "$OUT/doc"
for f in "${SDK_FILES[@]}"; do
	[[ -f "$src/$f" ]] || die "$f missing from dpdk $src_version source"
	case "$f" in
	*.h) install -m 0644 "$src/$f" "$OUT/include/" ;;
	*.ini) install -m 0644 "$src/$f" "$OUT/doc/" ;; # the features-matrix keys
	*) install -m 0755 "$src/$f" "$OUT/buildtools/" ;;
	esac
done
echo "$installed" >"$stamp"
echo "dpdk-sdk: driver-SDK headers of DPDK $installed in $OUT" >&2
