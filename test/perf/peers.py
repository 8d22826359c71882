# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The peers the benchmark compares, each a way for a "guest" DPDK process
to exchange packets with a "host" one, and the three scenarios run over
each of them.

A peer's processes are started once per group of frame sizes and stay up
while the runs of that group are interleaved; each run reconfigures the
forwarding mode at the testpmd prompt, starts forwarding, measures a
window and stops. Forwarding lcores: the guest's on CPU 0, the host's on
CPU 1 (each process's main lcore, idle at its prompt, on the other CPU)."""

import pathlib
import time

import callgrind
from testpmd_session import Testpmd

SCENARIOS = ("guest-tx", "guest-rx", "forward")
EAL_COMMON = ["--no-huge", "-m", "1024", "--no-pci", "--log-level", "lib.eal:warning",
              "--log-level", "pmd.net.memif:warning"]
GUEST_LCORES = ["--lcores", "0@1,1@0"]
HOST_LCORES = ["-l", "0,1"]


class Group:
    """Frame sizes that share one set of processes: standard MTU, or jumbo."""

    def __init__(self, name: str, sizes: list, jumbo: bool):
        self.name = name
        self.sizes = list(sizes)
        self.jumbo = jumbo

    def app_args(self) -> list:
        args = ["--record-core-cycles", "--record-burst-stats", "--nb-cores=1"]
        if self.jumbo:
            # Whole jumbo frames in one mbuf (data room 9216 - headroom 128).
            return args + ["--max-pkt-len=9018", "--mbuf-size=9216", "--total-num-mbufs=16384"]
        # A bounded pool: testpmd's default is sized for 32 ports.
        return args + ["--total-num-mbufs=32768"]


class Context:
    """What every peer needs: the build, where to write logs and sockets,
    and the xensim instance (for the xen peers)."""

    def __init__(self, build: pathlib.Path, outdir: pathlib.Path, rundir: pathlib.Path,
                 sim, prefix: str):
        self.build = build
        self.outdir = outdir
        self.rundir = rundir  # sockets, under /dev/shm
        self.sim = sim
        self.prefix = prefix
        self.profiler = None  # perf_profile.Profiler, with --profile
        self.callgrind_side = None  # "guest" or "host", with --callgrind
        self.xenfront = build / "drivers/net/xenfront/librte_net_xenfront.so"
        self.xenback = build / "drivers/net/xenback/librte_net_xenback.so"
        self._next_domid = 1

    def new_domid(self) -> int:
        d = self._next_domid
        self._next_domid += 1
        return d

    def log(self, name: str) -> pathlib.Path:
        d = self.outdir / "logs"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{name}.log"

    def profile_request(self, peer: str, scenario: str, size: int, procs: dict):
        """What measure() hands the profiler for this run, or None."""
        if self.profiler is None or not self.profiler.wants(peer):
            return None
        return (f"{peer}-{scenario}-{size}", procs)

    def wrapper(self, tag: str, side: str) -> list:
        """The command that runs this side's testpmd: callgrind for the side
        --callgrind measures, nothing otherwise."""
        if self.callgrind_side != side:
            return []
        d = self.outdir / "callgrind"
        d.mkdir(parents=True, exist_ok=True)
        return callgrind.wrapper(d / f"{tag}-{side}.out")

    def counters(self) -> dict:
        if self.sim is None:
            return {}
        return self.sim.status()["hv"]["counters"]


def null_vdevs(sizes, first: int = 0) -> list:
    """One net_null port per frame size: the generator and sink of the
    forward scenario (size= is net_null's packet length)."""
    out = []
    for i, s in enumerate(sizes):
        out += ["--vdev", f"net_null{first + i},size={s}"]
    return out


class PairPeer:
    """A guest process with the peer's guest port (port 0) and a host
    process with its host port (port 0) and one net_null port per size."""

    name = ""
    label = ""
    jumbo = True
    xen = False

    def __init__(self, ctx: Context, group: Group):
        self.ctx = ctx
        self.group = group
        self.guest = None
        self.host = None
        self.null_port = {s: 1 + i for i, s in enumerate(group.sizes)}

    # subclasses: the vdevs, environments and -d libraries of each side
    def host_eal(self) -> list:
        raise NotImplementedError

    def guest_eal(self) -> list:
        raise NotImplementedError

    # Host testpmd commands run once its ports are up (bench.py
    # --xenback-devargs: scatter on port 0 only; the null ports refuse it).
    host_setup: list = []

    def host_env(self) -> dict:
        return {}

    def guest_env(self) -> dict:
        return {}

    def prepare(self):
        """Before the host starts (e.g. create the vif)."""

    def start(self):
        self.prepare()
        tag = f"{self.name}-{self.group.name}"
        app = self.group.app_args()
        self.tag = tag
        self.host = Testpmd(f"{tag} host", EAL_COMMON + ["--file-prefix", self.fprefix("h")] +
                            HOST_LCORES + self.host_eal() + null_vdevs(self.group.sizes),
                            app, self.host_env(), self.ctx.log(f"{tag}-host"),
                            wrapper=self.ctx.wrapper(tag, "host"))
        if self.host_setup:  # before the guest connects
            self.host.commands(*self.host_setup)
        self.guest = Testpmd(f"{tag} guest", EAL_COMMON + ["--file-prefix", self.fprefix("g")] +
                             GUEST_LCORES + self.guest_eal(), app, self.guest_env(),
                             self.ctx.log(f"{tag}-guest"), wrapper=self.ctx.wrapper(tag, "guest"))
        wait = 180 if self.ctx.callgrind_side else 60
        self.guest.wait_link(0, timeout=wait)
        self.host.wait_link(0, timeout=wait)

    def fprefix(self, side: str) -> str:
        return f"{self.ctx.prefix}{self.name.replace('-', '').replace('+', 'v')}{self.group.name}{side}"

    def stop(self):
        for p in (self.guest, self.host):
            if p is not None:
                p.quit()

    def kill(self):
        for p in (self.guest, self.host):
            if p is not None:
                p.kill()

    def run(self, scenario: str, size: int, warmup: float, window: float) -> dict:
        g, h = self.guest, self.host
        if scenario == "guest-tx":
            h.commands("set fwd rxonly", "set portlist 0")
            g.commands("set fwd txonly", f"set txpkts {size}", "set portlist 0")
            first, second = h, g
        elif scenario == "guest-rx":
            h.commands("set fwd txonly", f"set txpkts {size}", "set portlist 0")
            g.commands("set fwd rxonly", "set portlist 0")
            first, second = g, h
        else:
            h.commands("set fwd io", f"set portlist 0,{self.null_port[size]}")
            g.commands("set fwd macswap", "set portlist 0")
            first, second = g, h
        if self.ctx.callgrind_side:
            return {"callgrind": self.instructions(scenario, size, warmup, window)}
        # Receiver first, sender last; stopped in the reverse order.
        first.command("start")
        second.command("start")
        try:
            time.sleep(warmup)
            m = measure(self.ctx, [g, h], window, self.xstats_ports(),
                        self.ctx.profile_request(self.name, scenario, size,
                                                 {"guest": g, "host": h}))
        finally:
            second.command("stop")
            time.sleep(0.05)
            first.command("stop")
        return self.result(scenario, m)

    def xstats_ports(self) -> dict:
        return {}

    def instructions(self, scenario: str, size: int, warmup: float, window: float) -> dict:
        """Instructions per packet of the side under callgrind: packets it
        sent (txonly) or received (rxonly, macswap, io on all its ports).
        The other side forwards throughout; the measured side forwards for
        the warm-up, then for exactly the counted window."""
        side = self.ctx.callgrind_side
        if side == "guest":
            measured, other, ports = self.guest, self.host, [0]
            count = "tx" if scenario == "guest-tx" else "rx"
        else:
            measured, other = self.host, self.guest
            ports = [0, self.null_port[size]] if scenario == "forward" else [0]
            count = "tx" if scenario == "guest-rx" else "rx"
        out = self.ctx.outdir / "callgrind" / f"{self.tag}-{side}.out"
        other.command("start")
        try:
            measured.command("start", timeout=120)
            time.sleep(warmup)
            measured.command("stop", timeout=120)
            # The host in forward never idles (net_null always has packets):
            # its wasted work is refused transmissions, counted as they are.
            calibrate = not (side == "host" and scenario == "forward")
            return callgrind.window(measured, other, out, ports, count, window, calibrate)
        finally:
            other.command("stop")

    def result(self, scenario: str, m: dict) -> dict:
        g, h = self.guest, self.host
        gs, hs = side(m, g, 0), side(m, h, 0)
        # Throughput: what arrives at the far end of the path measured.
        headline = {"guest-tx": hs["rx_pps"], "guest-rx": gs["rx_pps"],
                    "forward": hs["rx_pps"]}[scenario]
        return {"pps": headline, "guest": gs, "host": hs, "elapsed": m["elapsed"],
                "counters": self.counters(scenario, m), "profile": m.get("profile")}

    def counters(self, scenario: str, m: dict) -> dict:
        return {}


def side(m: dict, proc: Testpmd, port: int) -> dict:
    """One process's view of its peer port over the window."""
    p0, p1 = m["port0"][proc.name][port], m["port1"][proc.name][port]
    fwd = m["fwd"][proc.name]
    fp = fwd["ports"].get(port, {})
    out = {
        "rx_pps": p1["rx_pps"], "tx_pps": p1["tx_pps"],
        "rx_packets": p1["ipackets"] - p0["ipackets"],
        "tx_packets": p1["opackets"] - p0["opackets"],
        "cycles_per_packet": fwd["cycles_per_packet"],
        "busy_cycles": fwd["cycles"], "cycles_packets": fwd["cycles_packets"],
        "tsc_mhz": fwd["tsc_mhz"],
        "rx_bursts": fp.get("rx_bursts"), "tx_bursts": fp.get("tx_bursts"),
        "tx_dropped": fp.get("tx_dropped", 0),
        **cpu_share(m["s0"][proc.name], m["s1"][proc.name]),
    }
    if out["cycles_per_packet"] is not None and out["cpu_share"] is not None:
        # testpmd's cycles are TSC (wall) time, including time the lcore
        # was off its CPU; scaled by the on-CPU share they estimate the
        # cycles the lcore itself spent, assuming preemption hit busy and
        # empty polls alike.
        out["cycles_per_packet_oncpu"] = out["cycles_per_packet"] * min(1.0, out["cpu_share"])
    else:
        out["cycles_per_packet_oncpu"] = None
    return out


def cpu_share(s0, s1) -> dict:
    """The share of the window its forwarding lcores spent on a CPU, and
    waiting for one (runnable, another thread on it); averaged over the
    process's forwarding lcores."""
    (t0, a), (t1, b) = s0, s1
    tids = [t for t in b if t in a]
    if not tids or t1 <= t0:
        return {"cpu_share": None, "runqueue_wait_share": None}
    wall = (t1 - t0) * 1e9 * len(tids)
    return {"cpu_share": sum(b[t][0] - a[t][0] for t in tids) / wall,
            "runqueue_wait_share": sum(b[t][1] - a[t][1] for t in tids) / wall}


def measure(ctx: Context, procs: list, window: float, xstats_ports: dict,
            profile=None) -> dict:
    """One measurement window over running processes. The port counters of
    every process and xensim's counters are read back to back at both ends,
    so they span the same interval to a few milliseconds; then each process
    has its forwarding stats cleared (start) or read (end) and its xstats
    read, in the same order at both ends, so those span an interval of the
    same length."""
    m = {"port0": {}, "port1": {}, "fwd": {}, "x0": {}, "x1": {}, "s0": {}, "s1": {}}
    t0 = time.monotonic()
    for p in procs:
        m["s0"][p.name] = (time.monotonic(), p.worker_sched())
        m["port0"][p.name] = p.port_stats()
    m["c0"] = ctx.counters()
    for p in procs:
        p.command("clear fwd stats all")
        if p.name in xstats_ports:
            m["x0"][p.name] = p.xstats(xstats_ports[p.name])
    recs = ctx.profiler.start(*profile) if profile else None
    time.sleep(window)
    for p in procs:
        m["s1"][p.name] = (time.monotonic(), p.worker_sched())
        m["port1"][p.name] = p.port_stats()
    m["c1"] = ctx.counters()
    for p in procs:
        m["fwd"][p.name] = p.fwd_stats()
        if p.name in xstats_ports:
            m["x1"][p.name] = p.xstats(xstats_ports[p.name])
    m["elapsed"] = time.monotonic() - t0
    if recs:
        m["profile"] = ctx.profiler.stop(recs)
    return m


def delta(a: dict, b: dict) -> dict:
    return {k: b[k] - a.get(k, 0) for k in b if isinstance(b[k], int)}


GRANT_KEYS = ("grant_copy_segments", "grant_map_ops", "grant_unmap_ops", "share_ops",
              "unshare_ops")


class XenPeer(PairPeer):
    """net_xenfront in domain N ↔ net_xenback in domain 0, over xensim."""

    xen = True
    extra_devargs = ""  # bench.py --xenfront-devargs: ",key=value..." of a variant
    host_devargs = ""  # bench.py --xenback-devargs: the same for net_xenback
    style = "interrupt"

    def __init__(self, ctx, group):
        super().__init__(ctx, group)
        self.domid = None

    def prepare(self):
        self.domid = self.ctx.new_domid()
        self.ctx.sim.vif_add(self.domid, 0, mtu=9000 if self.group.jumbo else None)

    def host_eal(self):
        return ["-d", self.ctx.xenback, "--vdev",
                f"net_xenback0,domid={self.domid},vif=0,style={self.style}" +
                self.host_devargs]

    def guest_eal(self):
        # Static grants: the backend keeps the buffers mapped and copies
        # without grant copies (doc/guides/nics/xenfront.rst).
        return ["-d", self.ctx.xenfront, "--vdev",
                "net_xenfront0,vif=0,static_grants=1" + self.extra_devargs]

    def host_env(self):
        return self.ctx.sim.env(0)

    def guest_env(self):
        return self.ctx.sim.env(self.domid)

    def xstats_ports(self):
        return {self.guest.name: 0, self.host.name: 0}

    def counters(self, scenario, m):
        """Per million packets that crossed the vif (either way), from
        xensim's per-domain counters and both drivers' xstats."""
        g, h = self.guest.name, self.host.name
        moved = sum(side(m, self.guest, 0)[k] for k in ("rx_packets", "tx_packets"))
        c0, c1 = m["c0"], m["c1"]
        fe = delta(c0.get(str(self.domid), {}), c1.get(str(self.domid), {}))
        be = delta(c0.get("0", {}), c1.get("0", {}))
        fx, bx = delta(m["x0"][g], m["x1"][g]), delta(m["x0"][h], m["x1"][h])
        gside = side(m, self.guest, 0)
        per_m = (lambda v: v * 1e6 / moved) if moved else (lambda v: None)
        out = {
            "packets": moved,
            "raw": {"frontend_domain": fe, "backend_domain": be, "frontend_xstats": fx,
                    "backend_xstats": bx},
            "frontend_grant_ops": sum(fe.get(k, 0) for k in GRANT_KEYS),
            "backend_grant_ops": sum(be.get(k, 0) for k in GRANT_KEYS),
        }
        out["per_mpkt"] = {
            "frontend_grant_ops": per_m(out["frontend_grant_ops"]),
            "backend_grant_copy_segments": per_m(be.get("grant_copy_segments", 0)),
            "backend_mapped_copies": per_m(bx.get("rx_q0_mapped_copies", 0) +
                                           bx.get("tx_q0_mapped_copies", 0)),
            "backend_grant_map_ops": per_m(be.get("grant_map_ops", 0) +
                                           be.get("grant_unmap_ops", 0)),
            "frontend_notify_sent": per_m(fe.get("notify_sent", 0)),
            "backend_notify_sent": per_m(be.get("notify_sent", 0)),
            "frontend_tx_ring_full": per_m(fx.get("tx_q0_ring_full", 0)),
            "backend_tx_ring_full": per_m(bx.get("tx_q0_ring_full", 0)),
            "backend_wakeups": per_m(bx.get("rx_q0_wakeups", 0)),
        }
        # Notifications per burst. Exact where the frontend counts its
        # non-empty bursts (xstats {tx,rx}_q0_bursts); otherwise an upper
        # bound: a burst carries at most 32 packets (testpmd's burst), and
        # testpmd's burst record bounds the non-empty calls from below too.
        out["frontend_notify_per_burst_max"] = {}
        out["frontend_notify_per_burst_exact"] = {}
        for d in ("tx", "rx"):
            notes = fx.get(f"{d}_q0_notifications", 0)
            if f"{d}_q0_bursts" in fx:
                b = fx[f"{d}_q0_bursts"]
                v = notes / b if b else None
                out["frontend_notify_per_burst_exact"][d] = v
            else:
                v = notify_per_burst(notes, gside[f"{d}_packets"], gside[f"{d}_bursts"])
            out["frontend_notify_per_burst_max"][d] = v
        return out


def notify_per_burst(notifications: int, packets: int, bursts: dict):
    if packets <= 0:
        return None
    nonempty = -(-packets // 32)
    if bursts:
        nonempty = max(nonempty, bursts["nonempty_min"])
    return notifications / nonempty


class XenInterruptPeer(XenPeer):
    name = "xen-int"
    label = "xenfront↔xenback (interrupt)"
    style = "interrupt"


class XenPollPeer(XenPeer):
    name = "xen-poll"
    label = "xenfront↔xenback (poll)"
    style = "poll"


class VhostPeer(PairPeer):
    """net_virtio_user (guest) ↔ net_vhost (host) over a vhost-user socket."""

    name = "vhost"
    label = "virtio-user↔vhost"

    def sock(self):
        return self.ctx.rundir / f"vhost-{self.group.name}.sock"

    def host_eal(self):
        return ["--vdev", f"net_vhost0,iface={self.sock()},queues=1"]

    def guest_eal(self):
        return ["--vdev", f"net_virtio_user0,path={self.sock()},queues=1"]


class MemifPeer(PairPeer):
    """net_memif client (guest) ↔ server (host), copy mode."""

    name = "memif"
    label = "memif (copy)"
    jumbo = False  # DPDK 22.11 net_memif: max_rx_pktlen is 1518

    def sock(self):
        return self.ctx.rundir / f"memif-{self.group.name}.sock"

    def host_eal(self):
        return ["--vdev", f"net_memif0,role=server,socket={self.sock()},socket-abstract=no,"
                "zero-copy=no"]

    def guest_eal(self):
        return ["--vdev", f"net_memif0,role=client,socket={self.sock()},socket-abstract=no,"
                "zero-copy=no"]


class Memif256Peer(MemifPeer):
    """memif with 256-slot rings (rsize=8): the depth of a netif ring, a
    control for what ring depth alone is worth (memif's default is 1024)."""

    name = "memif-r256"
    label = "memif (copy, 256-slot rings)"

    def sock(self):
        return self.ctx.rundir / f"memif-r256-{self.group.name}.sock"

    def host_eal(self):
        return [super().host_eal()[0], super().host_eal()[1] + ",rsize=8"]

    def guest_eal(self):
        return [super().guest_eal()[0], super().guest_eal()[1] + ",rsize=8"]


class RingPeer:
    """net_ring inside one process: the ceiling of a pure ring hand-off
    between two lcores (CPU 0 and CPU 1).

    Ports: 0 = net_ring0 (one ring; a net_ring port transmits into the ring
    it receives from), 1 and 2 = net_ring1/net_ring2, 3.. = net_null per
    frame size. guest-tx and guest-rx: io between ring0 and a net_null port
    on two lcores, so one lcore takes generated packets into the ring and
    the other takes them out and frees them. forward: io between ring1 and
    ring2, seeded with `start tx_first`, so packets circulate between the
    two lcores as in an echo."""

    name = "ring"
    label = "net_ring (1 process)"
    jumbo = True
    xen = False

    def __init__(self, ctx: Context, group: Group):
        self.ctx = ctx
        self.group = group
        self.proc = None
        self.null_port = {s: 3 + i for i, s in enumerate(group.sizes)}

    def start(self):
        tag = f"{self.name}-{self.group.name}"
        app = [a for a in self.group.app_args() if a != "--nb-cores=1"] + ["--nb-cores=2"]
        eal = (EAL_COMMON + ["--file-prefix", f"{self.ctx.prefix}ring{self.group.name}",
                             "--lcores", "0@0,1@0,2@1",
                             "--vdev", "net_ring0", "--vdev", "net_ring1", "--vdev", "net_ring2"] +
               null_vdevs(self.group.sizes))
        self.proc = Testpmd(f"{tag}", eal, app, {}, self.ctx.log(tag))

    def stop(self):
        if self.proc is not None:
            self.proc.quit()

    def kill(self):
        if self.proc is not None:
            self.proc.kill()

    def run(self, scenario: str, size: int, warmup: float, window: float) -> dict:
        p = self.proc
        if scenario == "forward":
            p.commands("set fwd io", "set portlist 1,2", f"set txpkts {size}")
            p.command("start tx_first 16")
            port = 1
        else:
            p.commands("set fwd io", f"set portlist 0,{self.null_port[size]}")
            p.command("start")
            port = 0
        try:
            time.sleep(warmup)
            m = measure(self.ctx, [p], window, {},
                        self.ctx.profile_request(self.name, scenario, size, {"process": p}))
        finally:
            p.command("stop")
        s = side(m, p, port)
        return {"pps": s["rx_pps"], "guest": s, "host": s, "elapsed": m["elapsed"],
                "counters": {}, "profile": m.get("profile")}


PEERS = {c.name: c for c in (XenInterruptPeer, XenPollPeer, MemifPeer, Memif256Peer, VhostPeer,
                                    RingPeer)}

