#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""xenbed: real Xen for the project's tests, on a machine without Xen or KVM.

Debian's Xen hypervisor boots under QEMU's TCG emulator with a PV dom0
(Debian's kernel, Linux netback, xenstored, xl) and creates a PV domU
(Linux netfront) with two vifs: vif 0 under test (dom0 10.0.0.1 on
vif<D>.0, domU 10.0.0.2 on eth0) and vif 1 for control (10.0.1.0/24).
Both domains boot from initramfs images built here from Debian's packages
with mmdebstrap, with the project's build installed in them by
`meson install` as a user would, and cached in the build tree
(<build>/xen/) keyed by the package versions and the installed files.

An agent in each domain (guest/usr/local/sbin/xenbed-agent) runs scripts
for the host: QEMU forwards a local port to dom0's agent, and dom0 relays a
second one to the domU's agent over the control vif.

Debian 12 (the default) or 13 (--debian 13, or XENBED_DEBIAN=13): 12 has
Xen 4.17 and DPDK 22.11 with the project's build installed by `meson
install`; 13 has Xen 4.20, Linux 6.12 and DPDK 24.11 with the project's
Debian 13 packages (build-deb/debian13, or --debs DIR) installed by apt,
its images under <build>/xen-debian13/. Xen 4.20 boots under TCG with the
same QEMU CPU model (Nehalem) and command line as 4.17 (measured
2026-12-07, load ~17 on 2 cores: trixie base 380 s, images 115 s, dom0 up
130 s after QEMU starts).

  xenbed.py images                  build the images (cached)
  xenbed.py boot                    boot and leave the bed running
  xenbed.py stop                    power it off
  xenbed.py run dom0|domu SCRIPT    run a shell script in a domain
  xenbed.py scripts --dom0-script F --domu-script F
  xenbed.py shell dom0|domu         an interactive shell in a domain
  xenbed.py suite [PYTEST ARGS]     images, boot, test/xen, logs, stop

TCG runs guests tens of times slower than hardware: every wait here is
bounded and says what did not happen."""

import argparse
import contextlib
import hashlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUEST_FILES = pathlib.Path(__file__).resolve().parent / "guest"
AGENT_PORT = 7000
# QEMU's user-mode network to dom0's agent (dom0 is .15 on it): away from
# the 10.0.<devid>.0/24 networks of the guest's vifs.
CONTROL_NET = "192.168.76"
DOMU_NAME = "domu"
DOMU_CFG = "/etc/xenbed/domu.cfg"
# QEMU: a 2-vCPU PC whose CPU model Xen's PV dom0 survives under TCG
# (-cpu max exposes SMAP/SMEP, and dom0 faults at its first iret).
QEMU_CPU = "Nehalem"
QEMU_MEM_MB = 5120
XEN_CMDLINE = ("console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all "
               "dom0_mem=2048M,max:2048M dom0_max_vcpus=2 noreboot console_timestamps=boot")
# Bounds on the slow steps under TCG on 2 shared cores (measured: dom0 up in
# ~1 min, xl create ~30 s, domU up ~1.5 min; 3-5x that under load).
BOOT_TIMEOUT = 900
DOMU_TIMEOUT = 900
# Packages of both domains. The DPDK runtime of dpdk-testpmd and of the
# project's drivers is added from what they link on this host (ldd + dpkg -S).
ROOT_PACKAGES = [
    "xenstore-utils", "iproute2", "kmod", "procps", "iputils-ping",
    "ethtool", "tcpdump", "python3", "libstdc++6",
]
# DPDK drivers EAL loads as plugins (not linked by dpdk-testpmd): the
# mempool driver every pool needs, and the vdevs tests put beside ours.
DPDK_PLUGINS = ["librte-mempool-ring", "librte-bus-vdev", "librte-net-null", "librte-net-tap",
                "librte-net-af-packet", "librte-net-pcap", "librte-net-ring"]
# Kernel modules the domains load (paths under lib/modules/<version>/kernel).
KERNEL_MODULES = ["drivers/xen", "drivers/net/xen-netback", "drivers/net/xen-netfront.ko",
                  "drivers/net/tun.ko", "drivers/net/veth.ko", "drivers/net/ethernet/intel/e1000",
                  # A Linux bridge (case 8: multicast frames as a bridged host's).
                  "net/bridge/bridge.ko", "net/802/stp.ko", "net/llc/llc.ko"]
# Left out of the domU's image: the toolstack and the domU's own image.
DOMU_EXCLUDE = ["./boot", "./usr/share/X11"]


class Release:
    """The Debian release both domains are made from. Debian 12 (the
    host's): Xen 4.17, the DPDK runtime the host's build links (ldd + dpkg
    -S), the project by `meson install` of that build. Debian 13: Xen 4.20,
    DPDK 24.11, from a private apt state (devtools/debroot.py's), and the
    project from its Debian 13 packages (`devtools/run.sh deb --debian 13`),
    installed into the image by apt as a user would; testpmd then loads
    net_xenfront from DPDK's plugin directory, with no -d."""

    def __init__(self, version: str, debs: pathlib.Path = None):
        if version not in ("12", "13"):
            raise Failure(f"Debian {version}: the bed knows 12 and 13")
        self.version = version
        self.suite = {"12": "bookworm", "13": "trixie"}[version]
        self.xen = {"12": "4.17", "13": "4.20"}[version]
        self.xen_package = f"xen-hypervisor-{self.xen}-amd64"
        self.xen_libexec = f"/usr/lib/xen-{self.xen}"
        self.host = version == "12"
        self.debs = None
        if not self.host:
            self.debs = (debs or ROOT / f"build-deb/debian{version}").resolve()
        self._apt = None

    def apt_opts(self) -> list:
        """apt options that point at the release's archive (none: the host's)."""
        if self.host:
            return []
        if self._apt is None:
            sys.path.insert(0, str(ROOT / "devtools"))
            import debroot
            rel = debroot.Release(self.version)
            rel.candidates(["apt"])  # apt-get update of build-debian<N>/apt
            self._apt = rel.apt_opts()
        return self._apt

    def project_debs(self) -> list:
        """Our packages to install in the image (not -dev, not dbgsym)."""
        found = sorted(p for p in self.debs.glob("*.deb")
                       if "-dbgsym_" not in p.name and "-dev_" not in p.name
                       and not p.name.startswith("xensim_"))
        if not any(p.name.startswith("librte-net-xenfront") for p in found):
            raise Failure(f"no librte-net-xenfront .deb in {self.debs}: "
                          f"build them (devtools/run.sh deb --debian {self.version})")
        return found


def release_from_env() -> Release:
    debs = os.environ.get("XENBED_DEBS")
    return Release(os.environ.get("XENBED_DEBIAN", "12"), pathlib.Path(debs) if debs else None)


class Failure(Exception):
    """A step that did not happen, with what to look at."""


def log(msg: str):
    print(f"xenbed: {msg}", flush=True)


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("XENFRONT_BUILD_DIR", ROOT / "build")).resolve()


def sha256_of(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def tree_digest(root: pathlib.Path) -> str:
    """Names, modes and contents of every file under root."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            h.update(f"L {rel} {os.readlink(path)}\n".encode())
        elif path.is_file():
            h.update(f"F {rel} {path.stat().st_mode & 0o7777:o}\n".encode())
            h.update(path.read_bytes())
        elif path.is_dir():
            h.update(f"D {rel}\n".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- images


class Images:
    """The hypervisor, the kernel and the two initramfs images, under
    <build>/xen/. The base root filesystem (Debian packages only) is cached
    by the candidate versions of the packages it is made from; the images
    by that and the digest of what the project installs."""

    def __init__(self, build: pathlib.Path, release: Release = None):
        self.build = build
        self.release = release or release_from_env()
        # Debian 12's images where they always were; another release's beside.
        self.dir = build / ("xen" if self.release.host else f"xen-debian{self.release.version}")
        self._candidates = {}
        self.debs = self.dir / "debs"
        self.xen_elf = self.dir / "xen.elf"
        self.vmlinuz = self.dir / "vmlinuz"
        self.dom0_cpio = self.dir / "dom0.cpio"
        self.stamp = self.dir / "images.key"

    # Versions -----------------------------------------------------------

    def kernel_package(self) -> str:
        out = sh(["apt-cache", *self.release.apt_opts(), "depends", "linux-image-amd64"],
                 capture_output=True).stdout
        m = re.search(r"Depends: (linux-image-\S+-amd64)", out)
        if not m:
            raise Failure("apt-cache knows no linux-image-amd64 (run devtools/setup.sh)")
        return m.group(1)

    def candidates(self, pkgs) -> dict:
        """The versions apt would install (one apt-cache call for all)."""
        todo = [p for p in pkgs if p not in self._candidates]
        if todo:
            out = sh(["apt-cache", *self.release.apt_opts(), "policy", *todo],
                     capture_output=True).stdout
            for m in re.finditer(r"^(\S+):\n(?:  .*\n)*?  Candidate: (\S+)", out, re.M):
                self._candidates[m.group(1)] = m.group(2)
        found = {}
        for p in pkgs:
            v = self._candidates.get(p)
            if v is None or v == "(none)":
                raise Failure(f"no installable version of Debian package {p} (apt-get update?)")
            found[p] = v
        return found

    def candidate(self, pkg: str) -> str:
        return self.candidates([pkg])[pkg]

    def dpdk_packages(self) -> list:
        """The Debian packages dpdk-testpmd and our drivers link, plus the
        plugin drivers, all of the installed DPDK's ABI."""
        if not self.release.host:
            return self.release_dpdk_packages()
        libs = [shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"]
        libs += [str(p) for p in self.driver_libraries()]
        libs.append(str(self.build / "app/offload-fwd/xf-offload-fwd"))
        paths = set()
        for lib in libs:
            out = sh(["ldd", lib], capture_output=True).stdout
            paths.update(os.path.realpath(m.group(1)) for m in re.finditer(r"=> (/\S+)", out))
        # Our own libraries (xensim's stand-ins are never linked) belong to
        # no package; dpkg -S says so on stderr.
        owners = sh(["dpkg", "-S", *sorted(paths)], capture_output=True, check=False).stdout
        pkgs = {line.split(":")[0] for line in owners.splitlines() if ": " in line}
        abi = next((p[len("librte-eal"):] for p in pkgs if p.startswith("librte-eal")), None)
        if abi is None:
            raise Failure("dpdk-testpmd links no librte-eal: is dpdk-dev installed?")
        pkgs.update(p + abi for p in DPDK_PLUGINS)
        return sorted(pkgs)

    def driver_libraries(self) -> list:
        libs = [self.build / "drivers/net/xenfront/librte_net_xenfront.so",
                self.build / "drivers/net/xenback/librte_net_xenback.so"]
        for lib in libs:
            if not lib.exists():
                raise Failure(f"{lib} is missing: build first (devtools/run.sh build)")
        return libs

    def release_dpdk_packages(self) -> list:
        """Another release's: the libraries its dpdk-testpmd needs (by
        soname: librte_net_bnxt.so.25 is in librte-net-bnxt25), plus the
        plugin drivers; our packages' own dependencies come with them."""
        with tempfile.TemporaryDirectory(dir=self.dir) as tmp:
            tp = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(self.deb("dpdk-dev"))],
                                  stdout=subprocess.PIPE)
            sh(["tar", "-x", "-C", tmp, "./usr/bin/dpdk-testpmd"], stdin=tp.stdout)
            tp.wait()
            dyn = sh(["readelf", "-d", f"{tmp}/usr/bin/dpdk-testpmd"], capture_output=True).stdout
        pkgs = set()
        abi = None
        for m in re.finditer(r"NEEDED.*\[librte_(\w+)\.so\.(\d+)\]", dyn):
            # Debian's library package names put a hyphen between a name
            # ending in a digit and its soname version (librte-common-mlx5-25).
            name = "librte-" + m.group(1).replace("_", "-")
            pkgs.add(name + ("-" if name[-1].isdigit() else "") + m.group(2))
            abi = m.group(2)
        if abi is None:
            raise Failure("this release's dpdk-testpmd links no librte library")
        pkgs.update(p + abi for p in DPDK_PLUGINS)
        return sorted(pkgs)

    def base_packages(self) -> list:
        return sorted(set(ROOT_PACKAGES + [f"xen-utils-{self.release.xen}"] +
                          self.dpdk_packages()))

    # Steps ------------------------------------------------------------

    def download(self, kernel_pkg: str):
        self.debs.mkdir(parents=True, exist_ok=True)
        for pkg in (self.release.xen_package, kernel_pkg, "dpdk-dev"):
            version = self.candidate(pkg).replace(":", "%3a")
            if not list(self.debs.glob(f"{pkg}_{version}_*.deb")):
                log(f"downloading {pkg} {version}")
                sh(["apt-get", *self.release.apt_opts(), "download", "-q", pkg], cwd=self.debs,
                   capture_output=True)

    def deb(self, pkg: str) -> pathlib.Path:
        version = self.candidate(pkg).replace(":", "%3a")
        found = sorted(self.debs.glob(f"{pkg}_{version}_*.deb"))
        if not found:
            raise Failure(f"{pkg} {version} was not downloaded into {self.debs}")
        return found[-1]

    def base(self, packages: list) -> pathlib.Path:
        """The Debian root filesystem of both domains, as a tarball."""
        suite = self.release.suite
        local = [] if self.release.host else self.release.project_debs()
        key = sha256_of(suite, *[f"{p}={v}" for p, v in self.candidates(packages).items()],
                        *[p.read_bytes() for p in local])
        tar = self.dir / f"base-{key}.tar"
        if tar.exists():
            return tar
        for old in self.dir.glob("base-*.tar"):
            old.unlink()
        log(f"building the Debian {suite} root filesystem with mmdebstrap "
            f"({len(packages)} packages, {len(local)} of the project's; a few minutes)")
        t0 = time.monotonic()
        tmp = tar.with_suffix(".partial")
        excludes = [f"--dpkgopt=path-exclude=/usr/share/{d}/*"
                    for d in ("man", "doc", "locale", "info")]
        # apt (outside) hands the local .debs' paths to dpkg (inside the
        # root): mmdebstrap's hook makes them visible there (mmdebstrap(1)).
        hooks = ["--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount"] if local else []
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", *hooks,
               "--aptopt=APT::Install-Recommends \"false\"", *excludes,
               "--include=" + ",".join(packages + [str(p) for p in local]), "--format=tar",
               suite, str(tmp)]
        res = sh(cmd, capture_output=True, check=False)
        if res.returncode != 0:
            (self.dir / "mmdebstrap.log").write_text(res.stderr)
            raise Failure(f"mmdebstrap failed ({res.returncode}; all in {self.dir}/mmdebstrap.log):\n"
                          f"{res.stderr[-3000:]}")
        tmp.rename(tar)
        log(f"root filesystem built in {time.monotonic() - t0:.0f} s: {tar.name}")
        return tar

    def project_install(self, dest: pathlib.Path):
        """What a user gets from `meson install`, under dest (another
        release's image has the project from its packages, in the base)."""
        if not self.release.host:
            return
        res = sh(["meson", "install", "-C", str(self.build), "--no-rebuild", "--destdir",
                  str(dest)], capture_output=True, check=False)
        if res.returncode != 0:
            raise Failure(f"meson install failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")

    def ensure(self) -> str:
        """Builds what is missing or stale; returns the images' key."""
        for tool in ("mmdebstrap", "qemu-system-x86_64", "cpio"):
            if not shutil.which(tool):
                raise Failure(f"{tool} is not installed (devtools/setup.sh installs it)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.release.host:
            self.release.project_debs()  # says how to build them if missing
        kernel_pkg = self.kernel_package()
        self.download(kernel_pkg)
        packages = self.base_packages()
        base = self.base(packages)
        with tempfile.TemporaryDirectory(dir=self.dir, prefix="install-") as inst:
            inst = pathlib.Path(inst)
            self.project_install(inst)
            key = sha256_of(base.name, self.candidate(self.release.xen_package), kernel_pkg,
                            self.candidate(kernel_pkg), self.candidate("dpdk-dev"),
                            tree_digest(inst), tree_digest(GUEST_FILES),
                            sha256_of(pathlib.Path(__file__).read_bytes()))
            if (self.stamp.exists() and self.stamp.read_text().strip() == key and
                    self.dom0_cpio.exists() and self.xen_elf.exists() and self.vmlinuz.exists()):
                log(f"images up to date ({key})")
                return key
            t0 = time.monotonic()
            self.assemble(base, inst, kernel_pkg)
            self.stamp.write_text(key + "\n")
            log(f"images assembled in {time.monotonic() - t0:.0f} s ({key}): "
                f"dom0.cpio {self.dom0_cpio.stat().st_size >> 20} MiB")
            return key

    def assemble(self, base: pathlib.Path, inst: pathlib.Path, kernel_pkg: str):
        work = self.dir / "root"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        sh(["tar", "-xf", str(base), "-C", str(work)])
        kx = self.dir / "kernel"
        if kx.exists():
            shutil.rmtree(kx)
        sh(["dpkg-deb", "-x", str(self.deb(kernel_pkg)), str(kx)])
        kver = kernel_pkg[len("linux-image-"):]
        # Debian 12's kernel package has /lib/modules and .ko files, 13's
        # /usr/lib/modules and .ko.xz (kmod reads both).
        mods = next((d for d in (kx / "lib/modules" / kver, kx / "usr/lib/modules" / kver)
                     if d.exists()), None)
        if mods is None:
            raise Failure(f"{kernel_pkg} has no modules directory")
        dst = work / "usr/lib/modules" / kver
        for rel in KERNEL_MODULES:
            src = mods / "kernel" / rel
            if not src.exists() and pathlib.Path(str(src) + ".xz").exists():
                rel += ".xz"
                src = mods / "kernel" / rel
            if not src.exists():
                raise Failure(f"{kernel_pkg} has no {rel}")
            (dst / "kernel" / rel).parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst / "kernel" / rel)
            else:
                shutil.copy2(src, dst / "kernel" / rel)
        for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
            if (mods / f).exists():
                shutil.copy2(mods / f, dst / f)
        sh(["depmod", "-b", str(work), kver])
        shutil.copy2(next((kx / "boot").glob("vmlinuz-*")), self.vmlinuz)
        shutil.rmtree(kx)
        # Xen: the uncompressed multiboot image QEMU's -kernel loads.
        xx = self.dir / "xen-deb"
        if xx.exists():
            shutil.rmtree(xx)
        sh(["dpkg-deb", "-x", str(self.deb(self.release.xen_package)), str(xx)])
        gz = next((xx / "boot").glob("xen-*.gz"))
        with open(self.xen_elf, "wb") as out:
            sh(["zcat", str(gz)], stdout=out, text=False)
        shutil.rmtree(xx)
        # dpdk-testpmd is in dpdk-dev, which pulls every -dev package: take the
        # program alone (its libraries are in the base, from ldd above).
        tp = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(self.deb("dpdk-dev"))],
                              stdout=subprocess.PIPE)
        sh(["tar", "-x", "-C", str(work), "./usr/bin/dpdk-testpmd"], stdin=tp.stdout)
        tp.wait()
        missing = sh(["chroot", str(work), "ldd", "/usr/bin/dpdk-testpmd"],
                     capture_output=True).stdout
        if "not found" in missing:
            raise Failure(f"dpdk-testpmd lacks libraries in the image:\n{missing}")
        # The project, as `meson install` put it, and the bed's own files.
        sh(["cp", "-a", f"{inst}/.", str(work)])
        sh(["cp", "-a", f"{GUEST_FILES}/.", str(work)])
        self.write_env(work, inst if self.release.host else work)
        for dev, mode, major, minor in (("console", 0o600, 5, 1), ("null", 0o666, 1, 3)):
            node = work / "dev" / dev
            if not node.exists():
                os.mknod(node, 0o020000 | mode, os.makedev(major, minor))
        # domU image: the root without the toolstack; dom0 adds the domU's
        # kernel and image under /boot (xl create reads them there).
        domu = work / "boot" / "domu.cpio"
        domu.parent.mkdir(exist_ok=True)
        self.cpio(work, domu, exclude=DOMU_EXCLUDE + ["." + self.release.xen_libexec,
                                                      "./boot/domu.cpio"])
        shutil.copy2(self.vmlinuz, work / "boot" / "vmlinuz")
        self.cpio(work, self.dom0_cpio)
        shutil.rmtree(work)

    @staticmethod
    def write_env(work: pathlib.Path, inst: pathlib.Path):
        """/etc/xenbed/env: where the installed drivers and tools are, for
        every script the agent runs (inst: what the project installed, or
        the whole root when its packages did)."""
        def installed(name):
            found = sorted(p for p in inst.rglob(name + "*") if p.name in (name, name + ".25")
                           or re.fullmatch(re.escape(name) + r"\.\d+", p.name))
            if not found:
                raise Failure(f"meson install put no {name} in the image")
            return "/" + found[0].relative_to(inst).as_posix()
        env = {"XENFRONT_PMD": installed("librte_net_xenfront.so"),
               "XENBACK_PMD": installed("librte_net_xenback.so"),
               "VIFBIND": installed("xen-vifbind")}
        (work / "etc/xenbed").mkdir(parents=True, exist_ok=True)
        (work / "etc/xenbed/env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    @staticmethod
    def cpio(root: pathlib.Path, out: pathlib.Path, exclude=()):
        prune = []
        for e in exclude:
            prune += ["-path", e, "-prune", "-o"]
        find = subprocess.Popen(["find", ".", *prune, "-print"], cwd=root,
                                stdout=subprocess.PIPE)
        with open(out, "wb") as f:
            sh(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, stdin=find.stdout, stdout=f,
               text=False)
        find.wait()


# ---------------------------------------------------------------- agent client


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(sock: socket.socket):
    head = recv_exact(sock, 5)
    kind, length = head[:1], struct.unpack("!I", head[1:])[0]
    return kind, recv_exact(sock, length)


class Result:
    def __init__(self, rc: int, output: str):
        self.returncode = rc
        self.output = output

    def __repr__(self):
        return f"Result(rc={self.returncode}, output={self.output[-2000:]!r})"


class RemoteProcess:
    """A process in a domain, shaped like subprocess.Popen for the code that
    drives programs interactively (test/system/testpmd.py): .stdin takes
    text, .stdout is a pipe the output arrives on, poll/wait/kill."""

    def __init__(self, domain, script: str, env=None, stdin=True):
        self.domain = domain
        self.sock = domain.connect()
        req = {"op": "run", "script": script, "env": env or {}, "stdin": stdin}
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        self.returncode = None
        self.pid = None
        self._done = threading.Event()
        self._pid_known = threading.Event()
        r, w = os.pipe()
        self.stdout = os.fdopen(r, "rb", buffering=0)
        self._out = w
        self.stdin = _SocketWriter(self.sock)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._pid_known.wait(60):
            raise Failure(f"{domain.name}: the agent did not start {script[:80]!r}")

    def _read(self):
        try:
            while True:
                kind, data = read_frame(self.sock)
                if kind == b"p":
                    self.pid = int(data)
                    self._pid_known.set()
                elif kind == b"o":
                    os.write(self._out, data)
                elif kind == b"x":
                    self.returncode = int(data)
                    break
        except (EOFError, OSError):
            if self.returncode is None:
                self.returncode = -1
        finally:
            self._pid_known.set()
            os.close(self._out)
            self.sock.close()
            self._done.set()

    def poll(self):
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout=None):
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.domain.name, timeout)
        return self.returncode

    def send_signal(self, sig):
        if self.pid is not None and not self._done.is_set():
            self.domain.signal(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class _SocketWriter:
    def __init__(self, sock):
        self.sock = sock

    def write(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def flush(self):
        pass

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


class Domain:
    """The agent of one domain, reached through a local port."""

    def __init__(self, name: str, port: int):
        self.name = name
        self.port = port
        self.env = {}  # added to every script's environment

    def connect(self, timeout=30) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.settimeout(None)
        return s

    def reachable(self) -> bool:
        try:
            return self.run("true", timeout=60, check=False).returncode == 0
        except (OSError, EOFError, Failure):
            return False

    def run(self, script: str, timeout: float = 300, check: bool = True, env=None,
            echo=None) -> Result:
        """Runs a /bin/sh script; returns its exit status and output.
        echo(text) sees the output as it arrives."""
        full_env = dict(self.env)
        full_env.update(env or {})
        sock = self.connect()
        req = {"op": "run", "script": script, "env": full_env, "timeout": timeout}
        sock.sendall(json.dumps(req).encode() + b"\n")
        chunks = []
        rc = None
        # The agent kills the script at `timeout`; allow it time to say so.
        sock.settimeout(timeout + 60)
        try:
            while rc is None:
                kind, data = read_frame(sock)
                if kind == b"o":
                    text = data.decode(errors="replace")
                    chunks.append(text)
                    if echo:
                        echo(text)
                elif kind == b"x":
                    rc = int(data)
        except (EOFError, socket.timeout) as e:
            raise Failure(f"{self.name}: lost the agent while running {script[:200]!r} "
                          f"({type(e).__name__})") from e
        finally:
            sock.close()
        res = Result(rc, "".join(chunks))
        if check and rc != 0:
            raise Failure(f"{self.name}: exit {rc} from:\n{script}\n--- output:\n"
                          f"{res.output[-4000:]}")
        return res

    def popen(self, argv, env=None, stdin=True) -> RemoteProcess:
        full_env = dict(self.env)
        full_env.update(env or {})
        script = "exec " + " ".join(shlex.quote(str(a)) for a in argv)
        return RemoteProcess(self, script, full_env, stdin)

    def put(self, path: str, data: bytes, mode: int = 0o644):
        sock = self.connect()
        try:
            req = {"op": "put", "path": path, "mode": mode, "size": len(data)}
            sock.sendall(json.dumps(req).encode() + b"\n" + data)
            kind, rc = read_frame(sock)
        finally:
            sock.close()
        if kind != b"x" or rc != b"0":
            raise Failure(f"{self.name}: could not write {path}")

    def get(self, path: str) -> bytes:
        sock = self.connect()
        chunks = []
        try:
            sock.sendall(json.dumps({"op": "get", "path": path}).encode() + b"\n")
            while True:
                kind, data = read_frame(sock)
                if kind == b"o":
                    chunks.append(data)
                else:
                    if data != b"0":
                        raise Failure(f"{self.name}: cannot read {path} (errno {data.decode()})")
                    break
        finally:
            sock.close()
        return b"".join(chunks)

    def signal(self, pid: int, sig=signal.SIGTERM):
        sock = self.connect()
        try:
            sock.sendall(json.dumps({"op": "signal", "pid": pid, "sig": int(sig)}).encode() +
                         b"\n")
            read_frame(sock)
        finally:
            sock.close()

    def shell(self):
        """An interactive shell on this terminal until it exits."""
        import termios
        import tty
        sock = self.connect()
        sock.sendall(json.dumps({"op": "shell", "term": os.environ.get("TERM", "xterm")})
                     .encode() + b"\n")
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd) if os.isatty(fd) else None
        try:
            if saved:
                tty.setraw(fd)
            import select
            while True:
                ready, _, _ = select.select([sock, fd], [], [])
                if sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        break
                    os.write(sys.stdout.fileno(), data)
                if fd in ready:
                    data = os.read(fd, 65536)
                    if not data:
                        sock.shutdown(socket.SHUT_WR)
                        continue
                    sock.sendall(data)
        finally:
            if saved:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            sock.close()


# ---------------------------------------------------------------- the machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bed:
    """One booted QEMU machine: Xen, dom0 and (once created) the domU.
    Its state file lets later commands (and pytest) find it."""

    def __init__(self, build: pathlib.Path, state: dict):
        self.build = build
        self.state = state
        self.serial = pathlib.Path(state["serial"])
        self.dom0 = Domain("dom0", state["ports"]["dom0"])
        self.domu = Domain("domU", state["ports"]["domu"])
        self.domu_id = state.get("domu_id")
        self._set_env()

    @staticmethod
    def state_file(build: pathlib.Path) -> pathlib.Path:
        return build / "xen" / "bed.json"

    def save(self):
        self.state["domu_id"] = self.domu_id
        self.state_file(self.build).parent.mkdir(parents=True, exist_ok=True)
        self.state_file(self.build).write_text(json.dumps(self.state, indent=1) + "\n")

    def _set_env(self):
        for d in (self.dom0, self.domu):
            if self.domu_id is not None:
                d.env["DOMU_ID"] = str(self.domu_id)

    # Boot -------------------------------------------------------------

    @classmethod
    def boot(cls, build: pathlib.Path, images: Images) -> "Bed":
        old = cls.attach(build)
        if old:
            log("a bed is already running; powering it off first")
            old.stop()
        ports = {"dom0": free_port(), "domu": free_port()}
        serial = images.dir / "serial.log"
        serial.write_bytes(b"")
        net = (f"user,id=ctl,restrict=on,net={CONTROL_NET}.0/24,"
               f"hostfwd=tcp:127.0.0.1:{ports['dom0']}-:{AGENT_PORT},"
               f"hostfwd=tcp:127.0.0.1:{ports['domu']}-:{AGENT_PORT + 1}")
        cmd = ["qemu-system-x86_64", "-machine", "pc", "-cpu", QEMU_CPU, "-smp", "2",
               "-m", str(QEMU_MEM_MB), "-display", "none", "-monitor", "none", "-no-reboot",
               "-serial", f"file:{serial}", "-netdev", net, "-device", "e1000,netdev=ctl",
               "-kernel", str(images.xen_elf), "-append", XEN_CMDLINE,
               "-initrd", f"{images.vmlinuz} console=hvc0 earlyprintk=xen xenbed=dom0,"
                          f"{images.dom0_cpio}"]
        qlog = open(images.dir / "qemu.log", "wb")
        proc = subprocess.Popen(cmd, stdout=qlog, stderr=subprocess.STDOUT,
                                start_new_session=True)
        state = {"qemu_pid": proc.pid, "ports": ports, "serial": str(serial),
                 "started": time.time(), "domu_id": None,
                 "debian": images.release.version, "xen": images.release.xen}
        bed = cls(build, state)
        bed.save()
        log(f"QEMU started (pid {proc.pid}); serial console in {serial}")
        t0 = time.monotonic()
        try:
            bed.wait_dom0(proc)
            log(f"dom0 up in {time.monotonic() - t0:.0f} s")
            bed.create_domu()
        except BaseException:
            bed.stop()
            raise
        return bed

    @classmethod
    def attach(cls, build: pathlib.Path):
        f = cls.state_file(build)
        if not f.exists():
            return None
        state = json.loads(f.read_text())
        try:
            os.kill(state["qemu_pid"], 0)
        except ProcessLookupError:
            f.unlink()
            return None
        return cls(build, state)

    def serial_text(self) -> str:
        try:
            return self.serial.read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def check_alive(self, proc=None):
        text = self.serial_text()
        for bad in ("Panic on CPU", "Hardware Dom0 crashed", "Kernel panic", "XENBED: no ",
                    "did not answer within"):
            if bad in text:
                at = text.index(bad)
                raise Failure(f"the machine failed: {bad!r}:\n{text[max(0, at - 2500):at + 1500]}")
        if proc is not None and proc.poll() is not None:
            raise Failure(f"QEMU exited ({proc.returncode}); last console lines:\n{text[-3000:]}")
        try:
            os.kill(self.state["qemu_pid"], 0)
        except ProcessLookupError:
            raise Failure(f"QEMU is gone; last console lines:\n{text[-3000:]}") from None

    def wait_dom0(self, proc=None):
        deadline = time.monotonic() + BOOT_TIMEOUT
        said = set()
        while True:
            self.check_alive(proc)
            text = self.serial_text()
            for mark in re.findall(r"XENBED: [^\n]*", text):
                if mark not in said:
                    said.add(mark)
                    log(f"[dom0] {mark}")
            if "XENBED: dom0 ready" in text and self.dom0.reachable():
                return
            if time.monotonic() > deadline:
                raise Failure(f"dom0's agent did not answer within {BOOT_TIMEOUT} s; "
                              f"console:\n{text[-3000:]}")
            time.sleep(2)

    def create_domu(self):
        """xl create, then wait for the domU's agent and for vif 0 to be
        Connected to Linux netback."""
        t0 = time.monotonic()
        self.dom0.run(f"xl create {DOMU_CFG}", timeout=300)
        self.domu_id = int(self.dom0.run(f"xl domid {DOMU_NAME}").output.strip())
        self._set_env()
        self.save()
        log(f"xl create: domain {self.domu_id} in {time.monotonic() - t0:.0f} s")
        deadline = time.monotonic() + DOMU_TIMEOUT
        last = ""
        while not self.domu.reachable():
            self.check_alive()
            console = self.domu_console()
            tail = console.strip().splitlines()[-1:] if console.strip() else []
            if tail and tail[-1] != last and tail[-1].startswith("XENBED"):
                last = tail[-1]
                log(f"[domU] {last}")
            if "Kernel panic" in console or "XENBED: vif" in console:
                raise Failure(f"the domU failed:\n{console[-3000:]}")
            if time.monotonic() > deadline:
                raise Failure(f"the domU's agent did not answer within {DOMU_TIMEOUT} s; "
                              f"its console:\n{console[-3000:]}")
            time.sleep(3)
        self.wait_vif_connected(0)
        log(f"domU {self.domu_id} up, vif 0 Connected, {time.monotonic() - t0:.0f} s "
            f"after xl create")

    def domu_console(self) -> str:
        try:
            return self.dom0.get(f"/var/log/xen/console/guest-{DOMU_NAME}.log").decode(
                errors="replace")
        except (Failure, OSError, EOFError):
            return ""

    def vif_states(self, devid: int):
        d = self.domu_id
        out = self.dom0.run(
            f"xenstore-read /local/domain/0/backend/vif/{d}/{devid}/state "
            f"/local/domain/{d}/device/vif/{devid}/state", check=False).output.split()
        return tuple(out) if len(out) == 2 else (None, None)

    def wait_vif_connected(self, devid: int, timeout: float = 300):
        deadline = time.monotonic() + timeout
        while True:
            states = self.vif_states(devid)
            if states == ("4", "4"):
                return
            if time.monotonic() > deadline:
                raise Failure(f"vif {devid} of domain {self.domu_id} not Connected within "
                              f"{timeout} s (backend, frontend states: {states})")
            time.sleep(1)

    def stop(self):
        pid = self.state["qemu_pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        with contextlib.suppress(FileNotFoundError):
            self.state_file(self.build).unlink()

    # Logs -------------------------------------------------------------

    def collect_logs(self, dest: pathlib.Path):
        """The logs of both domains and of Xen, into dest."""
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.serial, dest / "serial-xen-dom0.log")
        items = [
            (self.dom0, "dmesg", "dom0-dmesg.txt"),
            (self.dom0, "xl dmesg", "xen-dmesg.txt"),
            (self.dom0, "xl list; xenstore-ls -fp", "dom0-xenstore.txt"),
            (self.dom0, "cat /var/log/xen/*.log 2>/dev/null", "dom0-xen-logs.txt"),
            (self.domu, "dmesg", "domu-dmesg.txt"),
        ]
        for dom, script, name in items:
            try:
                (dest / name).write_text(dom.run(script, check=False, timeout=120).output)
            except (Failure, OSError, EOFError) as e:
                (dest / name).write_text(f"could not collect: {e}\n")
        (dest / "domu-console.log").write_text(self.domu_console())


# ---------------------------------------------------------------- commands


def get_bed(build) -> Bed:
    bed = Bed.attach(build)
    if bed is None:
        raise Failure("no bed is running: `xenbed.py boot` first")
    return bed


def run_scripts(bed: Bed, scripts: dict) -> int:
    """Runs each domain's script at the same time, output prefixed."""
    results = {}
    lock = threading.Lock()

    def one(name, dom, text):
        buf = [""]

        def echo(chunk):
            with lock:
                buf[0] += chunk
                *lines, buf[0] = buf[0].split("\n")
                for line in lines:
                    print(f"[{name}] {line}", flush=True)
        try:
            results[name] = dom.run(text, timeout=3600, check=False, echo=echo).returncode
        except Failure as e:
            print(f"[{name}] {e}", flush=True)
            results[name] = 255
        if buf[0]:
            print(f"[{name}] {buf[0]}", flush=True)

    threads = []
    for name, text in scripts.items():
        dom = bed.dom0 if name == "dom0" else bed.domu
        t = threading.Thread(target=one, args=(name, dom, text))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    for name in scripts:
        log(f"{name} script exited {results[name]}")
    return 0 if all(rc == 0 for rc in results.values()) else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="xenbed.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--build", type=pathlib.Path, default=None,
                    help="the project's build directory (default: $XENFRONT_BUILD_DIR or build)")
    ap.add_argument("--debian", choices=["12", "13"], default=None,
                    help="the release of the images (default: $XENBED_DEBIAN or 12)")
    ap.add_argument("--debs", type=pathlib.Path, default=None,
                    help="with --debian 13: the project's packages "
                    "(default: build-deb/debian13, from devtools/run.sh deb --debian 13)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("images", help="build the images (cached)")
    sub.add_parser("boot", help="boot the bed and leave it running")
    sub.add_parser("stop", help="power the running bed off")
    p = sub.add_parser("run", help="run a shell script in a domain of the running bed")
    p.add_argument("domain", choices=["dom0", "domu", "domU"])
    p.add_argument("script")
    p = sub.add_parser("shell", help="an interactive shell in a domain (boots a bed if none runs)")
    p.add_argument("domain", choices=["dom0", "domu", "domU"])
    p = sub.add_parser("scripts", help="boot, run a script in each domain at once, power off")
    p.add_argument("--dom0-script", type=pathlib.Path)
    p.add_argument("--domu-script", type=pathlib.Path)
    p.add_argument("--keep", action="store_true", help="leave the bed running afterwards")
    p = sub.add_parser("suite", help="images, boot, the pytest suite test/xen, logs, power off; "
                       "other arguments go to pytest")
    p.add_argument("--keep", action="store_true", help="leave the bed running afterwards")
    args, extra = ap.parse_known_args(argv)
    if extra and args.cmd != "suite":
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pytest_args = extra
    build = (args.build or build_dir()).resolve()
    # The pytest suite and later commands find the release in the environment.
    if args.debian:
        os.environ["XENBED_DEBIAN"] = args.debian
    if args.debs:
        os.environ["XENBED_DEBS"] = str(args.debs.resolve())
    try:
        images = Images(build)
        if args.cmd == "images":
            images.ensure()
        elif args.cmd == "boot":
            images.ensure()
            Bed.boot(build, images)
            log(f"running; `{sys.argv[0]} shell dom0`, `... stop`")
        elif args.cmd == "stop":
            bed = Bed.attach(build)
            if bed:
                bed.stop()
                log("powered off")
        elif args.cmd == "run":
            bed = get_bed(build)
            dom = bed.dom0 if args.domain == "dom0" else bed.domu
            res = dom.run(args.script, check=False, timeout=3600,
                          echo=lambda t: print(t, end="", flush=True))
            return res.returncode
        elif args.cmd == "shell":
            bed = Bed.attach(build)
            if bed is None:
                images.ensure()
                bed = Bed.boot(build, images)
                log("the bed stays up after the shell; `xenbed.py stop` powers it off")
            (bed.dom0 if args.domain == "dom0" else bed.domu).shell()
        elif args.cmd == "scripts":
            scripts = {}
            if args.dom0_script:
                scripts["dom0"] = args.dom0_script.read_text()
            if args.domu_script:
                scripts["domU"] = args.domu_script.read_text()
            if not scripts:
                raise Failure("give --dom0-script and/or --domu-script")
            images.ensure()
            bed = Bed.boot(build, images)
            try:
                return run_scripts(bed, scripts)
            finally:
                if not args.keep:
                    bed.stop()
        elif args.cmd == "suite":
            return suite(build, images, args.pytest_args, args.keep)
    except Failure as e:
        log(f"FAILED: {e}")
        return 1
    return 0


def suite(build: pathlib.Path, images: Images, pytest_args: list, keep: bool) -> int:
    """The real-Xen suite over one boot; results and logs in <build>/xen/results."""
    results = build / "xen" / "results"
    if results.exists():
        shutil.rmtree(results)
    results.mkdir(parents=True)
    env = dict(os.environ, XENFRONT_BUILD_DIR=str(build), XENBED_ATTACH="1")
    # Files named in the arguments (e.g. test/xen/perf_side_by_side.py,
    # outside the suite) run instead of the suite, not twice beside it.
    named = [a for a in pytest_args if a.split("::")[0].endswith(".py")]
    pytest = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider"] + \
        ([] if named else [str(ROOT / "test/xen")]) + pytest_args
    # A selection (-k) that leaves no real-Xen test needs no boot.
    listed = subprocess.run(pytest + ["--collect-only", "-q"], env=env, capture_output=True,
                            text=True)
    if listed.returncode == 5:
        log("no real-Xen test selected: nothing to boot")
        return 0
    t0 = time.monotonic()
    images.ensure()
    t_images = time.monotonic() - t0
    bed = Bed.boot(build, images)
    t_boot = time.monotonic() - t0 - t_images
    try:
        rc = subprocess.run(pytest + ["-v", "-rA", "--junitxml", str(results / "junit.xml")],
                            env=env).returncode
    finally:
        bed = Bed.attach(build) or bed
        with contextlib.suppress(Exception):
            bed.collect_logs(results)
        if not keep:
            bed.stop()
    log(f"images {t_images:.0f} s, boot {t_boot:.0f} s, suite "
        f"{time.monotonic() - t0 - t_images - t_boot:.0f} s; logs in {results}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
