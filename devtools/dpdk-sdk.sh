#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Usage: dpdk-sdk.sh OUTDIR
#
# Debian's libdpdk-dev (22.11 in Debian 12, 24.11 in Debian 13, 23.11 in
# Ubuntu 24.04) does not install DPDK's driver-SDK headers (ethdev_driver.h
# and friends) nor buildtools/pmdinfogen.py. Take them from Debian's own
# source package of exactly the installed DPDK version and put them in
# OUTDIR (inside the build tree; they are never committed).
#
# Where the archive no longer (or does not yet) carry that source package,
# XENFRONT_DPDK_SRC may name an upstream DPDK git repository or unpacked
# source tree instead: the tag v<version> of the installed version is taken
# if the repository has it, else the head of its LTS branch (e.g. 24.11),
# and only if its ABI_VERSION is the installed DPDK's ABI (a stable release
# never changes the structures these headers declare). Cached, like the
# source package, under ${XDG_CACHE_HOME:-~/.cache}/xenfront.
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
upstream=${installed#*:}
upstream=${upstream%%-*}
[[ "$upstream" == "$pc_version" ]] ||
	die "libdpdk-dev $installed does not match pkg-config libdpdk $pc_version"
series=$(echo "$upstream" | cut -d. -f1-2)
# The ABI of the installed DPDK: the version of librte_eal.so's real file
# (librte_eal.so.25.0 for 24.11).
libdir=$(pkg-config --variable=libdir libdpdk)
eal=$(readlink -f "$libdir/librte_eal.so")
abi=${eal##*/librte_eal.so.}
[[ "$abi" =~ ^[0-9]+\.[0-9]+$ ]] || die "cannot tell the DPDK ABI from $eal"

stamp="$OUT/.version"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$installed"* && -f "$OUT/doc/default.ini" ]]; then
	exit 0
fi

cachedir=${XDG_CACHE_HOME:-$HOME/.cache}/xenfront

from_debian() { # the source package dpdk=$installed, unpacked into $1/src
	local cache=$1
	if [[ ! -f "$cache/.complete" ]]; then
		rm -rf "$cache"
		mkdir -p "$cache"
		echo "dpdk-sdk: fetching Debian source package dpdk=$installed" >&2
		if ! (cd "$cache" && apt-get source -q --download-only "dpdk=$installed" \
			>/dev/null 2>"$cache/apt.log"); then
			return 1
		fi
		dsc=$(ls "$cache"/dpdk_*.dsc)
		(cd "$cache" && dpkg-source --no-check -x "$dsc" src >/dev/null 2>&1) ||
			die "dpkg-source could not unpack $dsc"
		touch "$cache/.complete"
	fi
	src_version=$(dpkg-parsechangelog -l "$cache/src/debian/changelog" -S Version)
	[[ "$src_version" == "$installed" ]] ||
		die "source package is dpdk $src_version but the installed libdpdk-dev is $installed; they must be the same version"
}

from_upstream() { # XENFRONT_DPDK_SRC's tree of this ABI, into $cachedir/...; prints its version
	local tree=$XENFRONT_DPDK_SRC ref version cache
	if git -C "$tree" rev-parse --git-dir >/dev/null 2>&1; then
		ref=
		for r in "v$upstream" "$series" "origin/$series"; do
			if git -C "$tree" rev-parse -q --verify "$r^{commit}" >/dev/null; then
				ref=$r
				break
			fi
		done
		[[ -n "$ref" ]] || die "$tree has neither tag v$upstream nor branch $series"
		version=$(git -C "$tree" show "$ref:VERSION")
		cache="$cachedir/dpdk-upstream-$version"
		if [[ ! -f "$cache/.complete" ]]; then
			rm -rf "$cache"
			mkdir -p "$cache/src"
			git -C "$tree" archive "$ref" VERSION ABI_VERSION "${SDK_FILES[@]}" |
				tar -x -C "$cache/src"
			touch "$cache/.complete"
		fi
	else
		version=$(cat "$tree/VERSION")
		cache="$cachedir/dpdk-upstream-$version"
		if [[ "$(readlink -f "$tree")" == "$(readlink -f "$cache/src")" ]]; then
			echo "$cache $version"
			return
		fi
		rm -rf "$cache"
		mkdir -p "$cache/src"
		(cd "$tree" && cp --parents VERSION ABI_VERSION "${SDK_FILES[@]}" "$cache/src/")
	fi
	[[ "$(cat "$cache/src/ABI_VERSION")" == "$abi" ]] ||
		die "$tree ($version) has ABI $(cat "$cache/src/ABI_VERSION"), the installed DPDK $abi"
	[[ "$(echo "$version" | cut -d. -f1-2)" == "$series" ]] ||
		die "$tree is DPDK $version, not of the installed $series series"
	echo "$cache $version"
}

cache="$cachedir/dpdk-src-$installed"
if from_debian "$cache"; then
	src="$cache/src"
	origin=$installed
else
	cat "$cache/apt.log" >&2
	rm -rf "$cache"
	if [[ -z "${XENFRONT_DPDK_SRC:-}" ]]; then
		# Headers taken from an upstream tree of this ABI before.
		for c in "$cachedir"/dpdk-upstream-"$series".*/; do
			if [[ -f "$c/.complete" && "$(cat "$c/src/ABI_VERSION")" == "$abi" ]]; then
				XENFRONT_DPDK_SRC=${c%/}/src
			fi
		done
	fi
	if [[ -z "${XENFRONT_DPDK_SRC:-}" ]]; then
		die "cannot download Debian source package dpdk=$installed (the version of the installed libdpdk-dev). Enable deb-src with devtools/setup.sh; if the archive no longer carries $installed, upgrade libdpdk-dev so both versions match, or set XENFRONT_DPDK_SRC to a DPDK $series git repository or source tree."
	fi
	read -r cache version < <(from_upstream)
	src="$cache/src"
	origin="$installed (headers of upstream DPDK $version, ABI $abi, from $XENFRONT_DPDK_SRC)"
	echo "dpdk-sdk: warning: Debian's source of dpdk=$installed is unreachable; using upstream DPDK $version (same ABI $abi)" >&2
fi

mkdir -p "$OUT/include" "$OUT/buildtools" "$OUT/doc"
for f in "${SDK_FILES[@]}"; do
	[[ -f "$src/$f" ]] || die "$f missing from the DPDK source in $src"
	case "$f" in
	*.h) install -m 0644 "$src/$f" "$OUT/include/" ;;
	*.ini) install -m 0644 "$src/$f" "$OUT/doc/" ;; # the features-matrix keys
	*) install -m 0755 "$src/$f" "$OUT/buildtools/" ;;
	esac
done
echo "$origin" >"$stamp"
echo "dpdk-sdk: driver-SDK headers of DPDK $origin in $OUT" >&2
