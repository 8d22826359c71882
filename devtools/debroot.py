#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""debroot: Debian 12 and 13 (and Ubuntu 24.04) roots for building and
testing the project on a release other than the host's, without a VM.

Ubuntu 24.04 LTS is here for its DPDK 23.11, the release between Debian 12's
22.11 and Debian 13's 24.11. Its archive keyring is not a Debian package: the
ubuntu-keyring .deb is fetched from Ubuntu's archive and checked against the
SHA-256 written below (taken from noble's Packages index), then used to
verify the archive as Debian's keyring verifies Debian's.

A root is made with mmdebstrap (as devtools/xen/xenbed.py makes its images)
and kept as a tarball keyed by the candidate versions of the packages it is
made from (asked of the release's archive through a private apt
configuration, so the host's apt is not touched) and by this script: a new
version in the archive makes a new root, nothing else does. The tarballs
live outside the work tree, in ${XENFRONT_ROOT_CACHE:-~/.cache/xenfront/
roots}, so that every clone and worktree on a machine (CI's fresh clones
too) shares them; the 3 used last of each release and kind are kept. A
machine with no cache makes the root (Debian 13's dev root: 1.1 GiB, 5 to
12 minutes on 2 cores).

Two kinds of root:
  dev    what devtools/setup.sh installs on that release: the project is
         built and tested in it with the README's own commands
  clean  minbase and apt only: for installing the project's .deb files as
         a user would (`apt install ./FILE.deb`)

Commands run in a private mount namespace, chrooted into the root, with
/proc, /sys, /dev, /dev/shm, /run and /tmp mounted, the root itself a mount
point (`ip netns exec` remounts /), and the work tree at /src. In a dev
root, /src/build is the release's own build tree (build-debian<N>/build),
so that `devtools/run.sh build` there leaves the host's build/ alone.

  debroot.py --debian 13 root [--kind clean]      make or reuse; print the tarball
  debroot.py --debian 13 run [--kind clean] [--bind DIR:PATH] -- CMD...
  debroot.py --ubuntu 24.04 ...                   the same for Ubuntu 24.04
"""

import argparse
import hashlib
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Distro:
    """Where a release's packages come from and what verifies them."""

    def __init__(self, name, mirror, security, components, keyring, keyring_deb=None):
        self.name = name
        self.mirror = mirror
        self.security = security
        self.components = components
        self.keyring = keyring  # on the host; None: fetched (keyring_deb)
        self.keyring_deb = keyring_deb  # (URL, SHA-256) of the keyring package


DEBIAN = Distro("Debian", "http://deb.debian.org/debian", "http://deb.debian.org/debian-security",
                "main", "/usr/share/keyrings/debian-archive-keyring.gpg")
UBUNTU = Distro("Ubuntu", "http://archive.ubuntu.com/ubuntu", "http://archive.ubuntu.com/ubuntu",
                "main universe", None,
                ("http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/"
                 "ubuntu-keyring_2023.11.28.1_all.deb",
                 "36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8"))
# name: (distro, suite, security suite's host, build directory)
RELEASES = {
    "12": (DEBIAN, "bookworm", "build-debian12"),
    "13": (DEBIAN, "trixie", "build-debian13"),
    "ubuntu24.04": (UBUNTU, "noble", "build-ubuntu24.04"),
}
# The clean root: what a minimal Debian system has, plus apt's https
# transport-free defaults; `apt install ./x.deb` brings the rest.
CLEAN_PACKAGES = ["ca-certificates"]


class Failure(Exception):
    pass


def log(msg: str):
    print(f"debroot: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def sources(distro: Distro, suite: str, src: bool, keyring) -> str:
    """sources.list lines; `keyring` None: no signed-by (apt's trusted set
    of the root, where the release's keyring package puts its keys)."""
    signed = f"[signed-by={keyring}] " if keyring else ""
    lines = []
    for kind in (["deb", "deb-src"] if src else ["deb"]):
        for base, s in ((distro.mirror, suite), (distro.mirror, f"{suite}-updates"),
                        (distro.security, f"{suite}-security")):
            lines.append(f"{kind} {signed}{base} {s} {distro.components}")
    return "\n".join(lines) + "\n"


class Release:
    def __init__(self, version: str):
        if version not in RELEASES:
            raise Failure(f"{version} is not supported ({', '.join(RELEASES)} are)")
        self.version = version
        self.distro, self.suite, build = RELEASES[version]
        self.dir = ROOT / build
        cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
        self.cache = pathlib.Path(os.environ.get("XENFRONT_ROOT_CACHE", cache / "xenfront/roots"))
        self.title = (f"Debian {version}" if self.distro is DEBIAN
                      else f"{self.distro.name} {version.removeprefix('ubuntu')}")

    def keyring(self) -> str:
        """The archive keyring on the host: Debian's from its package; the
        others' fetched once into the build directory and checked."""
        if self.distro.keyring:
            return self.distro.keyring
        url, sha = self.distro.keyring_deb
        d = self.dir / "keyring"
        ring = d / "usr/share/keyrings/ubuntu-archive-keyring.gpg"
        if ring.exists():
            return str(ring)
        d.mkdir(parents=True, exist_ok=True)
        deb = d / pathlib.Path(url).name
        sh(["curl", "-fsS", "-m", "120", "-o", str(deb), url])
        got = hashlib.sha256(deb.read_bytes()).hexdigest()
        if got != sha:
            raise Failure(f"{url}: SHA-256 {got}, expected {sha}: not the keyring this "
                          "script was written against; check it and update debroot.py")
        sh(["dpkg-deb", "-x", str(deb), str(d)])
        if not ring.exists():
            raise Failure(f"{deb.name} has no {ring.relative_to(d)}")
        return str(ring)

    # Versions ------------------------------------------------------------

    def apt_opts(self) -> list:
        d = self.dir / "apt"
        return [f"-oDir::Etc::SourceList={d}/sources.list", "-oDir::Etc::SourceParts=/nonexistent",
                f"-oDir::State={d}/state", f"-oDir::State::Lists={d}/lists",
                f"-oDir::State::status={d}/status", f"-oDir::Cache={d}/cache",
                "-oDir::Etc::Preferences=/nonexistent", "-oDir::Etc::PreferencesParts=/nonexistent",
                "-oAPT::Get::List-Cleanup=false", "-oDebug::NoLocking=true"]

    def candidates(self, packages: list) -> dict:
        """The versions the release's archive has now (one `apt-get update`
        of a private apt state under build-debian<N>/apt)."""
        d = self.dir / "apt"
        for sub in ("lists/partial", "cache/archives/partial", "state"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "sources.list").write_text(sources(self.distro, self.suite, False, self.keyring()))
        (d / "status").touch()
        res = sh(["apt-get", "update", "-q", *self.apt_opts()], capture_output=True, check=False)
        if res.returncode != 0:
            raise Failure(f"apt-get update for {self.title} ({self.suite}) failed:\n{res.stderr[-2000:]}")
        out = sh(["apt-cache", "policy", *self.apt_opts(), *packages], capture_output=True).stdout
        found = {m.group(1): m.group(2)
                 for m in re.finditer(r"^(\S+):\n(?:  .*\n)*?  Candidate: (\S+)", out, re.M)}
        missing = [p for p in packages if found.get(p, "(none)") == "(none)"]
        if missing:
            raise Failure(f"{self.title} ({self.suite}) has no {', '.join(missing)}")
        return {p: found[p] for p in packages}

    def packages(self, kind: str) -> list:
        if kind == "clean":
            return CLEAN_PACKAGES + self.extra_packages()
        out = sh([str(ROOT / "devtools/setup.sh"), "--packages", self.version],
                 capture_output=True).stdout
        return sorted(set(out.split() + self.extra_packages()))

    def extra_packages(self) -> list:
        """What Debian's minbase has and Ubuntu's does not: apt is of
        priority important there (minbase takes required), and its
        trusted keys come with ubuntu-keyring."""
        return [] if self.distro is DEBIAN else ["apt", "ubuntu-keyring"]

    # Roots -------------------------------------------------------------

    def tarball(self, kind: str) -> pathlib.Path:
        """The root's tarball, made with mmdebstrap if the archive moved."""
        pkgs = self.packages(kind)
        versions = self.candidates(pkgs)
        h = hashlib.sha256()
        for part in (self.suite, kind, *[f"{p}={v}" for p, v in sorted(versions.items())],
                     pathlib.Path(__file__).read_bytes()):
            h.update(part if isinstance(part, bytes) else part.encode())
            h.update(b"\0")
        key = h.hexdigest()[:16]
        name = self.dir.name.removeprefix("build-")
        tar = self.cache / f"{name}-{kind}-{key}.tar"
        if tar.exists():
            os.utime(tar)  # used last: kept
            return tar
        self.cache.mkdir(parents=True, exist_ok=True)
        log(f"making the {self.title} ({self.suite}) {kind} root with mmdebstrap "
            f"({len(pkgs)} packages)")
        t0 = time.monotonic()
        # Another run making the same root at the same time writes its own
        # partial file; the renames are atomic and either result will do.
        tmp = tar.with_name(f"{tar.stem}.{os.getpid()}.partial")
        excludes = [f"--dpkgopt=path-exclude=/usr/share/{d}/*"
                    for d in ("man", "doc", "locale", "info")]
        # The apt lists stay, for `apt-get source` (dpdk-sdk.sh) and `apt
        # install ./x.deb`.
        # Debian's keyring is on the host and in the root at the same path;
        # another distribution's keyring package puts its keys in the root's
        # trusted set, and the fetched copy verifies the bootstrap.
        own = self.distro is DEBIAN
        keyring = [] if own else [f"--keyring={self.keyring()}"]
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", "--skip=cleanup/apt/lists", *keyring,
               "--aptopt=APT::Install-Recommends \"false\"", *excludes,
               "--include=" + ",".join(pkgs), "--format=tar", self.suite, str(tmp),
               sources(self.distro, self.suite, kind == "dev", self.distro.keyring if own else None)]
        res = sh(cmd, capture_output=True, check=False)
        if res.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise Failure(f"mmdebstrap failed ({res.returncode}):\n{res.stderr[-3000:]}")
        tmp.rename(tar)
        # Branches whose debroot.py differs key their roots apart; keep a
        # few rather than only the newest, so they do not remake each
        # other's.
        olds = sorted(self.cache.glob(f"{name}-{kind}-*.tar"), key=lambda t: t.stat().st_mtime)
        for old in olds[:-3]:
            old.unlink(missing_ok=True)
        log(f"{self.title} {kind} root made in {time.monotonic() - t0:.0f} s: "
            f"{tar.name} ({tar.stat().st_size >> 20} MiB)")
        return tar

    def unpacked(self, kind: str) -> pathlib.Path:
        """The dev root, unpacked under build-debian<N>/root (kept between
        runs, unpacked again when its tarball changes)."""
        tar = self.tarball(kind)
        root = self.dir / "root"
        stamp = self.dir / "root.from"
        if root.exists() and stamp.exists() and stamp.read_text() == tar.name:
            return root
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        t0 = time.monotonic()
        sh(["tar", "-xf", str(tar), "-C", str(root)])
        stamp.write_text(tar.name)
        log(f"unpacked {tar.name} in {time.monotonic() - t0:.0f} s")
        return root

    def run(self, root: pathlib.Path, argv: list, binds=(), env=None, dev=True) -> int:
        """argv in root, chrooted, in a private mount namespace."""
        mounts = [f"mount --bind {q(root)} {q(root)}"]
        if dev:
            (self.dir / "build").mkdir(exist_ok=True)
            (ROOT / "build").mkdir(exist_ok=True)
            mounts += [f"mkdir -p {q(root)}/src", f"mount --bind {q(ROOT)} {q(root)}/src",
                       f"mount --bind {q(self.dir / 'build')} {q(root)}/src/build"]
            # dpdk-sdk.sh's cache of DPDK sources, shared with the host's.
            cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
            (cache / "xenfront").mkdir(parents=True, exist_ok=True)
            mounts += [f"mkdir -p {q(root)}/root/.cache/xenfront",
                       f"mount --bind {q(cache / 'xenfront')} {q(root)}/root/.cache/xenfront"]
        for host, inside in binds:
            mounts += [f"mkdir -p {q(root)}{q(inside)}", f"mount --bind {q(host)} {q(root)}{q(inside)}"]
        mounts += [f"mount -t proc proc {q(root)}/proc",
                   f"mount --rbind /sys {q(root)}/sys",
                   f"mount --rbind /dev {q(root)}/dev",
                   f"mount -t tmpfs -o mode=1777 tmpfs {q(root)}/dev/shm",
                   f"mount -t tmpfs -o mode=755 tmpfs {q(root)}/run",
                   f"mount -t tmpfs -o mode=1777 tmpfs {q(root)}/tmp",
                   f"cp -L /etc/resolv.conf {q(root)}/etc/resolv.conf 2>/dev/null || true"]
        script = "set -e\n" + "\n".join(mounts) + "\nexec chroot " + q(root) + ' "$@"\n'
        full_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME": "/root", "LANG": "C.UTF-8", "TERM": os.environ.get("TERM", "dumb")}
        for k in ("CI", "FUZZ_SECONDS"):
            if k in os.environ:
                full_env[k] = os.environ[k]
        full_env.update(env or {})
        inner = ["env", "-C", "/src" if dev else "/", *[f"{k}={v}" for k, v in full_env.items()],
                 *argv]
        return subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script,
                               "debroot", *inner]).returncode


def q(p) -> str:
    return shlex.quote(str(p))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="debroot.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--debian", choices=[r for r in RELEASES if r.isdigit()])
    which.add_argument("--ubuntu", choices=[r.removeprefix("ubuntu") for r in RELEASES
                                             if r.startswith("ubuntu")])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("root", help="make (or reuse) the root's tarball and print its path")
    p.add_argument("--kind", choices=["dev", "clean"], default="dev")
    p = sub.add_parser("run", help="run a command in the root")
    p.add_argument("--kind", choices=["dev", "clean"], default="dev")
    p.add_argument("--bind", action="append", default=[], metavar="HOSTDIR:PATH",
                   help="also mount HOSTDIR at PATH in the root")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        log("needs root (mmdebstrap, mount namespaces, chroot)")
        return 2
    try:
        rel = Release(args.debian or f"ubuntu{args.ubuntu}")
    except Failure as e:
        log(f"FAILED: {e}")
        return 1
    try:
        if args.cmd == "root":
            print(rel.tarball(args.kind))
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            ap.error("run: give a command")
        binds = [tuple(b.split(":", 1)) for b in args.bind]
        env = dict(e.split("=", 1) for e in args.env)
        if args.kind == "dev":
            return rel.run(rel.unpacked("dev"), command, binds, env, dev=True)
        # A clean root is used once: unpacked afresh, removed afterwards.
        tar = rel.tarball("clean")
        work = rel.dir / "clean-root"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        try:
            sh(["tar", "-xf", str(tar), "-C", str(work)])
            return rel.run(work, command, binds, env, dev=False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except Failure as e:
        log(f"FAILED: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
