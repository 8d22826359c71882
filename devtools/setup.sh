#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Installs every Debian 12 package xenfront needs to build, test and demo,
# and enables Debian's source archive so that devtools/dpdk-sdk.sh can take
# DPDK's driver-SDK headers from the source package of the installed DPDK.
# Idempotent: a second run installs nothing new.
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail

PACKAGES=(
	# DPDK 22.11: libraries, headers, dpdk-testpmd, dpdk-pmdinfo.py, dpdk-proc-info
	libdpdk-dev dpdk-dev dpdk
	# Xen 4.17 headers and the real libxenstore/libxengnttab/libxenevtchn
	libxen-dev xenstore-utils
	# build
	build-essential g++ meson ninja-build pkg-config dpkg-dev xz-utils
	python3 python3-pyelftools clang-format
	# tests
	libgtest-dev googletest python3-pytest iproute2 iputils-ping procps
	socat python3-matplotlib
	# OVS-DPDK (test_ovs_dpdk.py, doc/guides/howto/ovs_dpdk.rst)
	openvswitch-switch-dpdk
	# the real-Xen test bed (devtools/xen/xenbed.py): Debian's Xen under
	# QEMU's emulator, images made with mmdebstrap
	qemu-system-x86 mmdebstrap cpio
	# fuzzing: clang with libFuzzer and the sanitizer runtimes
	clang libclang-rt-14-dev
)

if [[ -r /etc/os-release ]]; then
	. /etc/os-release
	if [[ "${ID:-}" != debian || "${VERSION_ID:-}" != 12 ]]; then
		echo "setup: warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}" >&2
	fi
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
	SUDO=(sudo)
fi

# Debian's source archive, for `apt-get source dpdk` (driver-SDK headers).
SRC_LIST=/etc/apt/sources.list.d/xenfront-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
	! grep -qs '^deb-src' /etc/apt/sources.list; then
	echo "setup: enabling Debian source packages in $SRC_LIST"
	"${SUDO[@]}" tee "$SRC_LIST" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	NEED_UPDATE=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [[ -n "${NEED_UPDATE:-}" || ${#missing[@]} -gt 0 ]]; then
	echo "setup: apt-get update"
	"${SUDO[@]}" apt-get update -q >/dev/null
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "setup: installing ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present (DPDK $(dpkg-query -W -f='${Version}' libdpdk-dev))"
