#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Lists a Xen guest's vifs and who owns them, hands a vif from the kernel's
xen-netfront to user space (net_xenfront) and gives it back, in the spirit
of dpdk-devbind.py. Dry run by default: it prints what it would do; --apply
does it.

  xen-vifbind.py --status
  xen-vifbind.py --to-userspace vif-0 [--apply] [--force]
  xen-vifbind.py --to-kernel vif-0 [--apply]

What it reads and writes (doc/guides/howto/real_xen.rst):
  sysfs   <root>/bus/xen/devices/vif-N/{nodename,devtype,driver,net/*}
          <root>/bus/xen/drivers/vif/{bind,unbind}   (xen-netfront's driver)
          <root>/module/xen_gntalloc/parameters/limit
  store   the vif's frontend and backend state, read with xenstore-read
          (Debian's xenstore-utils; XENSTORED_PATH is honoured, so it also
          works against xensim)
--sysfs and --xenstore-read choose other places (the tests use a fake
sysfs tree and xensim's store)."""

import argparse
import os
import subprocess
import sys
import time

STATES = {0: "Unknown", 1: "Initialising", 2: "InitWait", 3: "Initialised", 4: "Connected",
          5: "Closing", 6: "Closed", 7: "Reconfiguring", 8: "Reconfigured"}
XEN_NETFRONT = "vif"  # xen-netfront registers its xenbus driver under this name
GRANTS_PER_QUEUE_PAIR = 2 + 256 // 2 + 256  # rings, tx pages of two 2048-byte slots, rx pages
IFF_UP = 0x1


class Failure(Exception):
    pass


class Host:
    """Where the tool looks: a sysfs root and a xenstore reader."""

    def __init__(self, sysfs: str, xenstore_read: str):
        self.sysfs = sysfs
        self.xenstore_read = xenstore_read

    def path(self, *parts) -> str:
        return os.path.join(self.sysfs, *parts)

    def read_file(self, *parts):
        try:
            with open(self.path(*parts)) as f:
                return f.read().strip()
        except OSError:
            return None

    def write_file(self, value: str, *parts):
        path = self.path(*parts)
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise Failure(f"writing '{value}' to {path} failed: {e.strerror}") from e

    def store(self, path: str):
        """A xenstore value, or None if it cannot be read."""
        try:
            p = subprocess.run([self.xenstore_read, path], capture_output=True, text=True,
                               timeout=10)
        except FileNotFoundError as e:
            raise Failure(f"{self.xenstore_read} not found: install xenstore-utils") from e
        return p.stdout.strip() if p.returncode == 0 else None


class Vif:
    def __init__(self, host: Host, name: str):
        self.host = host
        self.name = name
        self.dir = ("bus", "xen", "devices", name)
        self.nodename = host.read_file(*self.dir, "nodename") or f"device/vif/{name[4:]}"

    def driver(self):
        link = self.host.path(*self.dir, "driver")
        return os.path.basename(os.path.realpath(link)) if os.path.islink(link) else None

    def interfaces(self) -> list:
        try:
            return sorted(os.listdir(self.host.path(*self.dir, "net")))
        except OSError:
            return []

    def interface_up(self, ifname: str) -> bool:
        flags = self.host.read_file(*self.dir, "net", ifname, "flags")
        return flags is not None and int(flags, 16) & IFF_UP != 0

    def state(self) -> int:
        v = self.host.store(f"{self.nodename}/state")
        return int(v) if v is not None and v.isdigit() else 0

    def backend(self):
        return self.host.store(f"{self.nodename}/backend")

    def backend_state(self) -> int:
        b = self.backend()
        v = self.host.store(f"{b}/state") if b else None
        return int(v) if v is not None and v.isdigit() else 0

    def owner(self) -> str:
        drv = self.driver()
        if drv is not None:
            ifs = ",".join(self.interfaces()) or "no interface yet"
            return f"kernel ({'xen-netfront' if drv == XEN_NETFRONT else drv}, {ifs})"
        state = self.state()
        if state in (3, 4):
            return "userspace (a DPDK application is connected)"
        if state == 5:
            return "userspace (closing)"
        if state == 1:
            return "none (Initialising: free, or probed by a DPDK application not started)"
        return "none (free for net_xenfront)"


def list_vifs(host: Host) -> list:
    try:
        names = os.listdir(host.path("bus", "xen", "devices"))
    except OSError as e:
        raise Failure(f"cannot list {host.path('bus', 'xen', 'devices')}: {e.strerror} "
                      "(not a Xen guest, or no xenbus)") from e
    vifs = []
    for n in sorted(names, key=lambda s: (len(s), s)):
        devtype = host.read_file("bus", "xen", "devices", n, "devtype")
        if devtype == "vif" or (devtype is None and n.startswith("vif-")):
            vifs.append(Vif(host, n))
    return vifs


def find_vif(host: Host, spec: str) -> Vif:
    name = spec if spec.startswith("vif-") else f"vif-{spec}"
    if not os.path.isdir(host.path("bus", "xen", "devices", name)):
        known = ", ".join(v.name for v in list_vifs(host)) or "none"
        raise Failure(f"no {name} in {host.path('bus', 'xen', 'devices')} (vifs: {known})")
    return Vif(host, name)


def status(host: Host):
    vifs = list_vifs(host)
    print("Xen vifs:")
    if not vifs:
        print("  (none)")
    for v in vifs:
        mac = host.store(f"{v.nodename}/mac") or "?"
        backend = v.backend() or "?"
        print(f"  {v.name}  {v.nodename}  mac={mac}  state={STATES.get(v.state(), '?')}  "
              f"backend={backend} ({STATES.get(v.backend_state(), '?')})")
        print(f"         owner: {v.owner()}")
    limit = host.read_file("module", "xen_gntalloc", "parameters", "limit")
    if limit is None:
        print("gntalloc: xen_gntalloc is not loaded (modprobe xen-gntalloc)")
    else:
        pairs = int(limit) // GRANTS_PER_QUEUE_PAIR
        print(f"gntalloc: limit {limit} grants: {pairs} queue pair(s) of 256 descriptors "
              f"({GRANTS_PER_QUEUE_PAIR} grants each)")


def wait(what: str, done, timeout: float):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def to_userspace(host: Host, v: Vif, apply: bool, force: bool, timeout: float):
    drv = v.driver()
    if drv is None:
        print(f"{v.name} is not bound to a kernel driver: nothing to do "
              f"(owner: {v.owner()})")
        return
    if drv != XEN_NETFRONT:
        raise Failure(f"{v.name} is bound to '{drv}', not xen-netfront; not touching it")
    up = [i for i in v.interfaces() if v.interface_up(i)]
    if up and not force:
        raise Failure(f"{v.name}'s interface {', '.join(up)} is up; bring it down first "
                      f"(ip link set {up[0]} down) or pass --force")
    unbind = host.path("bus", "xen", "drivers", XEN_NETFRONT, "unbind")
    print(f"{'writing' if apply else 'would write'} '{v.name}' to {unbind}")
    print(f"  xen-netfront then closes the vif: {v.nodename}/state Closing, Closed")
    if not apply:
        print("dry run: nothing changed (add --apply)")
        return
    host.write_file(v.name, "bus", "xen", "drivers", XEN_NETFRONT, "unbind")
    wait(f"{v.name} to leave xen-netfront", lambda: v.driver() is None, timeout)
    wait(f"{v.nodename}/state to reach Closed", lambda: v.state() in (0, 6), timeout)
    index = v.name[4:]
    print(f"{v.name} is free for user space: --vdev net_xenfront0,vif={index}")


def to_kernel(host: Host, v: Vif, apply: bool, timeout: float):
    drv = v.driver()
    if drv is not None:
        print(f"{v.name} is already bound to {'xen-netfront' if drv == XEN_NETFRONT else drv}")
        return
    state = v.state()
    if state in (3, 4, 5):
        raise Failure(f"{v.nodename}/state is {STATES[state]}: a DPDK application still "
                      "drives this vif; stop it (close the port) first")
    drvdir = host.path("bus", "xen", "drivers", XEN_NETFRONT)
    if not os.path.isdir(drvdir):
        raise Failure(f"{drvdir} is missing: load xen-netfront first (modprobe xen-netfront)")
    bind = os.path.join(drvdir, "bind")
    print(f"{'writing' if apply else 'would write'} '{v.name}' to {bind}")
    print(f"  xen-netfront then takes it: {v.nodename}/state Initialising, then Connected "
          "once the backend is back to InitWait")
    if not apply:
        print("dry run: nothing changed (add --apply)")
        return
    host.write_file(v.name, "bus", "xen", "drivers", XEN_NETFRONT, "bind")
    wait(f"xen-netfront to bind {v.name}", lambda: v.driver() is not None, timeout)
    wait(f"{v.nodename}/state to reach Connected", lambda: v.state() == 4, timeout)
    print(f"{v.name} is back with xen-netfront: {', '.join(v.interfaces()) or '(interface?)'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("-s", "--status", action="store_true", help="list vifs and their owners")
    mode.add_argument("--to-userspace", metavar="VIF",
                      help="unbind VIF (vif-N or N) from xen-netfront for a DPDK application")
    mode.add_argument("--to-kernel", metavar="VIF", help="give VIF back to xen-netfront")
    ap.add_argument("--apply", action="store_true", help="act (default: dry run)")
    ap.add_argument("--force", action="store_true",
                    help="unbind even if the kernel interface is up")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for each step with --apply (default 10)")
    ap.add_argument("--sysfs", default="/sys", help="sysfs root (default /sys)")
    ap.add_argument("--xenstore-read", default="xenstore-read",
                    help="xenstore reader (default xenstore-read from xenstore-utils)")
    args = ap.parse_args(argv)
    host = Host(args.sysfs, args.xenstore_read)
    try:
        if args.status:
            status(host)
        elif args.to_userspace:
            to_userspace(host, find_vif(host, args.to_userspace), args.apply, args.force,
                         args.timeout)
        else:
            to_kernel(host, find_vif(host, args.to_kernel), args.apply, args.timeout)
    except Failure as e:
        print(f"xen-vifbind: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
