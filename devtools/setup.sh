#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
#
# Installs every Debian package xenfront needs to build, test and demo on
# Debian 12 (DPDK 22.11, Xen 4.17) or Debian 13 (DPDK 24.11, Xen 4.20), and
# enables Debian's source archive so that devtools/dpdk-sdk.sh can take
# DPDK's driver-SDK headers from the source package of the installed DPDK.
# Ubuntu 24.04 (DPDK 23.11, Xen 4.17; main and universe) works the same way.
# Idempotent: a second run installs nothing new.
#
#   setup.sh                  install for this system
#   setup.sh --packages [N]   print the packages for Debian N, or for
#                             ubuntu24.04 (default: this system's), one a
#                             line, and install nothing
if [[ "${1:-}" == --help || "${1:-}" == -h ]]; then
	sed -n '5,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0
fi
set -euo pipefail

# Build and test, on every release.
COMMON=(
	# DPDK: libraries, headers, dpdk-testpmd, dpdk-pmdinfo.py, dpdk-proc-info
	libdpdk-dev dpdk-dev dpdk
	# Xen headers and the real libxenstore/libxengnttab/libxenevtchn
	libxen-dev xenstore-utils
	# build
	build-essential g++ meson ninja-build pkg-config dpkg-dev xz-utils
	python3 python3-pyelftools git
	# tests
	libgtest-dev googletest python3-pytest iproute2 iputils-ping procps
	socat kmod
	# load for test_loaded_start.py (issue 15's flake on a loaded machine)
	stress-ng
	# OVS-DPDK (test_ovs_dpdk.py, doc/guides/howto/ovs_dpdk.rst)
	openvswitch-switch-dpdk
	# Debian packages (devtools/run.sh deb)
	debhelper fakeroot lintian
)
# The host of the whole suite (Debian 12, CI): formatting, the benchmark's
# chart, the real-Xen bed (Debian's Xen under QEMU's emulator, images and
# Debian roots made with mmdebstrap), fuzzing with clang's libFuzzer.
HOST_12=(
	clang-format python3-matplotlib
	qemu-system-x86 mmdebstrap cpio
	clang libclang-rt-14-dev
)

release_packages() { # release_packages 12|13|ubuntu24.04
	case "$1" in
	12) printf '%s\n' "${COMMON[@]}" "${HOST_12[@]}" ;;
	13 | ubuntu24.04) printf '%s\n' "${COMMON[@]}" ;;
	*)
		echo "setup: $1 is not supported (Debian 12 and 13, ubuntu24.04 are)" >&2
		return 1
		;;
	esac
}

ID=unknown VERSION_ID=unknown VERSION_CODENAME=unknown PRETTY_NAME=unknown
[[ -r /etc/os-release ]] && . /etc/os-release

RELEASE=$VERSION_ID
[[ "$ID" != ubuntu ]] || RELEASE=ubuntu$VERSION_ID
if [[ "${1:-}" == --packages ]]; then
	release_packages "${2:-$RELEASE}"
	exit
fi

if [[ "$RELEASE" == ubuntu24.04 ]]; then
	VERSION_ID=$RELEASE
elif [[ "$ID" != debian || ! "$VERSION_ID" =~ ^1[23]$ ]]; then
	echo "setup: warning: written for Debian 12 and 13 (and Ubuntu 24.04), this is $PRETTY_NAME; installing Debian 12's packages" >&2
	VERSION_ID=12
	[[ "$VERSION_CODENAME" != unknown ]] || VERSION_CODENAME=bookworm
fi
mapfile -t PACKAGES < <(release_packages "$VERSION_ID")

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
	SUDO=(sudo)
fi

# The release's source archive, for `apt-get source dpdk` (driver-SDK headers).
SRC_LIST=/etc/apt/sources.list.d/xenfront-deb-src.sources
if [[ "$ID" == ubuntu ]]; then
	SRC_URIS=(http://archive.ubuntu.com/ubuntu http://archive.ubuntu.com/ubuntu)
	SRC_COMPONENTS="main universe"
	SRC_KEYRING=/usr/share/keyrings/ubuntu-archive-keyring.gpg
else
	SRC_URIS=(http://deb.debian.org/debian http://deb.debian.org/debian-security)
	SRC_COMPONENTS=main
	SRC_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
fi
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
	! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "setup: enabling source packages in $SRC_LIST"
	"${SUDO[@]}" tee "$SRC_LIST" >/dev/null <<SRC
Types: deb-src
URIs: ${SRC_URIS[0]}
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: $SRC_COMPONENTS
Signed-By: $SRC_KEYRING

Types: deb-src
URIs: ${SRC_URIS[1]}
Suites: $VERSION_CODENAME-security
Components: $SRC_COMPONENTS
Signed-By: $SRC_KEYRING
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
