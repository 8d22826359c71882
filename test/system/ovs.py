# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""OVS-DPDK run by hand for a test, as doc/guides/howto/ovs_dpdk.rst tells a
user to: Debian's openvswitch-switch-dpdk, an ovsdb-server and the DPDK
ovs-vswitchd with a private run directory (never the system service), DPDK
initialised with our PMD through other_config:dpdk-extra."""

import os
import pathlib
import re
import subprocess
import time

from sanitizers import sanitizer_env

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class OvsDpdk:
    """ovsdb-server and ovs-vswitchd-dpdk in `rundir`. The vswitchd runs with
    `env` (a xensim domain's environment) and optionally under `wrapper`
    (e.g. ip netns exec)."""

    def __init__(self, rundir: pathlib.Path):
        self.dir = pathlib.Path(rundir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_sock = self.dir / "db.sock"
        self.base_env = dict(os.environ)
        # Everything OVS would put in /var/run/openvswitch, /etc/openvswitch
        # and /var/log/openvswitch goes to the private directory.
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            self.base_env[var] = str(self.dir)
        self.vswitchd_log = self.dir / "ovs-vswitchd.log"
        self.started = []
        self.db = self.vswitchd = None

    def run(self, *cmd, check=True, env=None, timeout=60):
        p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                           env=env or self.base_env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n"
                                 f"{p.stdout}{p.stderr}")
        return p

    def vsctl(self, *args, check=True, timeout=60):
        return self.run("ovs-vsctl", f"--db=unix:{self.db_sock}", "--timeout=30", *args,
                        check=check, timeout=timeout)

    def ofctl(self, *args, check=True):
        return self.run("ovs-ofctl", *args[:1], f"unix:{self.dir}/{args[1]}.mgmt", *args[2:],
                        check=check)

    def appctl(self, *args, check=True):
        return self.run("ovs-appctl", "-t", self.dir / "ovs-vswitchd.ctl", *args, check=check)

    def start_db(self):
        db = self.dir / "conf.db"
        self.run("ovsdb-tool", "create", db, SCHEMA)
        # Children, not --detach: a daemon re-parented to PID 1 may never be
        # reaped in a container, and the test must know when it is gone.
        self.db = subprocess.Popen(
            ["ovsdb-server", f"--remote=punix:{self.db_sock}",
             f"--pidfile={self.dir}/ovsdb-server.pid", f"--log-file={self.dir}/ovsdb-server.log",
             str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.base_env)
        self.started.append(self.db)
        deadline = time.monotonic() + 30
        while not self.db_sock.exists():
            assert self.db.poll() is None, "ovsdb-server exited"
            assert time.monotonic() < deadline, "ovsdb-server did not create its socket"
            time.sleep(0.05)
        self.vsctl("--no-wait", "init")

    def configure_dpdk(self, extra: str, pmd_cpu_mask: str = None):
        args = ["--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                f'other_config:dpdk-extra="{extra}"']
        if pmd_cpu_mask:
            args.append(f"other_config:pmd-cpu-mask={pmd_cpu_mask}")
        self.vsctl(*args)

    def start_vswitchd(self, env: dict, wrapper=()):
        full = dict(self.base_env)
        full.update(env)
        # After the domain's environment, which may carry the xensim
        # daemons' sanitizer options: OVS's own leaks are not ours.
        full.update(sanitizer_env())
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            full[var] = str(self.dir)
        cmd = list(wrapper) + [VSWITCHD, f"unix:{self.db_sock}",
                               f"--pidfile={self.dir}/ovs-vswitchd.pid",
                               f"--unixctl={self.dir}/ovs-vswitchd.ctl",
                               f"--log-file={self.vswitchd_log}"]
        self.vswitchd = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=open(self.dir / "ovs-vswitchd.stderr", "w"),
                                         env=full)
        self.started.append(self.vswitchd)
        self.wait_log(r"dpdk\|INFO\|DPDK Enabled - initialized", timeout=60)

    def log(self) -> str:
        try:
            return self.vswitchd_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in ovs-vswitchd.log within {timeout}s:\n"
                                     f"{self.log()[-4000:]}")
            time.sleep(0.2)

    def interface(self, name: str, column: str) -> dict:
        """An Interface map column (statistics, status, ...) as a dict."""
        out = self.vsctl("get", "Interface", name, column).stdout.strip()
        return {k: v.strip('"') for k, v in re.findall(r'(\w+)="?([^,"}]*)"?', out)}

    def stop(self):
        """Stops the daemons it started, newest first: the vswitchd with
        `ovs-appctl exit --cleanup` (its ports are closed, so our PMD says
        goodbye in xenstore), then SIGTERM and SIGKILL for what is left.
        Returns the vswitchd's exit status (None if never started)."""
        status = None
        if self.vswitchd is not None and self.vswitchd.poll() is None:
            self.run("ovs-appctl", "-t", self.dir / "ovs-vswitchd.ctl", "exit", "--cleanup",
                     check=False, timeout=60)
        for proc in reversed(self.started):
            if proc is not self.vswitchd:
                proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.vswitchd is not None:
            status = self.vswitchd.returncode
        self.started = []
        return status
