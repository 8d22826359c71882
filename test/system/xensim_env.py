# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Drives a xensim instance from the system tests: the `xensim` toolstack
command, xenstore-utils run as any domain, and libxenstore itself through
ctypes (for transactions, watches and exact errno values)."""

import ctypes
import ctypes.util
import errno
import json
import os
import pathlib
import re
import select
import shutil
import socket
import struct
import subprocess
import threading

from sanitizers import tsan_options

# xen/io/xs_wire.h
XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH = 0, 1, 2, 3, 4, 5
XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE = 6, 7, 8, 9
XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS = 10, 11, 12, 13, 14
XS_WATCH_EVENT, XS_ERROR, XS_IS_DOMAIN_INTRODUCED = 15, 16, 17
XS_RESET_WATCHES, XS_DIRECTORY_PART = 21, 22
XENSTORE_PAYLOAD_MAX = 4096
HEADER = struct.Struct("<IIII")  # type, req_id, tx_id, len


class XenSim:
    """One xensim instance, started with `xensim start --dir`."""

    def __init__(self, build_dir: pathlib.Path, sanitize: bool = False):
        self.build = pathlib.Path(build_dir)
        self.exe = self.build / "app/xensim/xensim"
        self.sanitize = sanitize
        self.dir = None
        self.reports = None
        self.tools = []  # xenstore-* processes from xs_popen, killed by stop()

    # ---- the toolstack command ----

    def base_env(self) -> dict:
        env = dict(os.environ)
        for k in ("XENSIM_DIR", "XENSIM_DOMID", "XENSTORED_PATH"):
            env.pop(k, None)
        if self.sanitize and self.reports is not None:
            # The daemons run detached: have the sanitizers write their
            # reports to files that outlive the instance directory.
            self.reports.mkdir(parents=True, exist_ok=True)
            env["ASAN_OPTIONS"] = f"log_path={self.reports}/asan:detect_leaks=1"
            env["UBSAN_OPTIONS"] = (f"log_path={self.reports}/ubsan:print_stacktrace=1:"
                                    "halt_on_error=1")
            env["TSAN_OPTIONS"] = tsan_options(f":log_path={self.reports}/tsan")
        return env

    def run(self, *args, check: bool = True, env: dict = None,
            timeout: float = 30) -> subprocess.CompletedProcess:
        """Runs `xensim ARGS --dir DIR` (no --dir before start)."""
        cmd = [str(self.exe)] + [str(a) for a in args]
        if self.dir is not None and args and args[0] != "start":
            cmd += ["--dir", str(self.dir)]
        full = self.base_env()
        full.update(env or {})
        p = subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
        return p

    def start(self, tmp_dir, reports: pathlib.Path = None, gntalloc_limit: int = None,
              watch_delay: tuple = None) -> dict:
        """Starts an instance in `tmp_dir`; returns domain 0's environment.
        watch_delay=(domid, ms): the store processes that domain's WATCH
        requests ms late (xensim start --watch-delay)."""
        self.reports = reports
        args = ["start", "--dir", str(tmp_dir)]
        if gntalloc_limit is not None:
            args += ["--gntalloc-limit", str(gntalloc_limit)]
        if watch_delay is not None:
            args += ["--watch-delay", f"{watch_delay[0]}:{watch_delay[1]}"]
        p = self.run(*args)
        self.dir = pathlib.Path(tmp_dir)
        self.start_output = p.stdout
        return self.env(0)

    def stop(self):
        """Kills what xs_popen started and is still running (a watch the
        test did not end), then stops the instance's daemons."""
        while self.tools:
            p = self.tools.pop()
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.dir is None:
            return
        try:
            if (self.dir / "xensim-instance").exists():
                self.run("stop")
        finally:
            self.dir = None

    def sanitizer_reports(self) -> list:
        """Reports the instrumented daemons wrote, as (file, text)."""
        if not self.reports or not self.reports.exists():
            return []
        return [(p.name, p.read_text(errors="replace")) for p in sorted(self.reports.iterdir())]

    def env(self, domid: int) -> dict:
        """The environment of a process of domain `domid`, obtained the way
        a user gets it: eval "$(xensim env --domid N)" in a shell."""
        script = f'eval "$("{self.exe}" env --domid {domid} --dir "{self.dir}")" && env -0'
        p = subprocess.run(["bash", "-c", script], capture_output=True, env=self.base_env(),
                           timeout=30, check=True)
        env = {}
        for item in p.stdout.split(b"\0"):
            if b"=" in item:
                k, v = item.split(b"=", 1)
                env[k.decode()] = v.decode(errors="replace")
        return env

    def vif_add(self, domid: int, vif: int, backend_domid: int = None, mac: str = None,
                mtu: int = None, max_queues: int = None, trusted: int = None,
                check: bool = True):
        args = ["vif-add", "--domid", domid, "--vif", vif]
        if backend_domid is not None:
            args += ["--backend-domid", backend_domid]
        if mac is not None:
            args += ["--mac", mac]
        if mtu is not None:
            args += ["--mtu", mtu]
        if max_queues is not None:
            args += ["--max-queues", max_queues]
        if trusted is not None:
            args += ["--trusted", trusted]
        return self.run(*args, check=check)

    def vif_del(self, domid: int, vif: int, check: bool = True):
        return self.run("vif-del", "--domid", domid, "--vif", vif, check=check)

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)

    def socket_path(self, domid: int) -> pathlib.Path:
        return self.dir / "store" / f"domain-{domid}.sock"

    # ---- xenstore-utils as domain N ----

    def xs(self, domid: int, tool: str, *args, check: bool = True,
           timeout: float = 10) -> subprocess.CompletedProcess:
        """Runs xenstore-TOOL ARGS as a process of domain `domid`."""
        p = subprocess.run([f"xenstore-{tool}"] + [str(a) for a in args], capture_output=True,
                           text=True, env=self.env(domid), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"xenstore-{tool} {args} as domain {domid} failed "
                                 f"({p.returncode}): {p.stderr}")
        return p

    def xs_popen(self, domid: int, tool: str, *args) -> subprocess.Popen:
        p = subprocess.Popen([f"xenstore-{tool}"] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env(domid))
        self.tools.append(p)
        return p

    def ls_perms(self, domid: int, path: str) -> dict:
        """`xenstore-ls -f -p PATH` as {path: (value, perms)}."""
        out = self.xs(domid, "ls", "-f", "-p", path).stdout
        nodes = {}
        for line in out.splitlines():
            m = re.match(r'^(\S+) = "(.*)"[ .]*\((.*)\)$', line)
            assert m, f"unexpected xenstore-ls line: {line!r}"
            nodes[m.group(1)] = (m.group(2), m.group(3))
        return nodes

    # ---- libxenstore through ctypes ----

    def client(self, domid: int) -> "XsClient":
        return XsClient(self.socket_path(domid))

    def raw(self, domid: int) -> "RawConn":
        return RawConn(self.socket_path(domid))


class XsPermissions(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint), ("perms", ctypes.c_uint)]


_lib = None
_lib_lock = threading.Lock()
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
XS_PERM_LETTERS = {0: "n", 1: "r", 2: "w", 3: "b"}


def _libxenstore():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libxenstore.so.4", use_errno=True)
        h, t, s, u = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_uint
        pu = ctypes.POINTER(ctypes.c_uint)
        sig = {
            "xs_open": (h, [ctypes.c_ulong]),
            "xs_close": (None, [h]),
            "xs_read": (ctypes.c_void_p, [h, t, s, pu]),
            "xs_write": (ctypes.c_bool, [h, t, s, ctypes.c_char_p, u]),
            "xs_mkdir": (ctypes.c_bool, [h, t, s]),
            "xs_rm": (ctypes.c_bool, [h, t, s]),
            "xs_directory": (ctypes.c_void_p, [h, t, s, pu]),
            "xs_get_permissions": (ctypes.c_void_p, [h, t, s, pu]),
            "xs_set_permissions": (ctypes.c_bool,
                                   [h, t, s, ctypes.POINTER(XsPermissions), u]),
            "xs_transaction_start": (t, [h]),
            "xs_transaction_end": (ctypes.c_bool, [h, t, ctypes.c_bool]),
            "xs_watch": (ctypes.c_bool, [h, s, s]),
            "xs_unwatch": (ctypes.c_bool, [h, s, s]),
            "xs_fileno": (ctypes.c_int, [h]),
            "xs_check_watch": (ctypes.c_void_p, [h]),
            "xs_introduce_domain": (ctypes.c_bool, [h, u, ctypes.c_ulong, u]),
            "xs_release_domain": (ctypes.c_bool, [h, u]),
            "xs_is_domain_introduced": (ctypes.c_bool, [h, u]),
            "xs_get_domain_path": (ctypes.c_void_p, [h, u]),
            "xs_control_command": (ctypes.c_void_p, [h, s, ctypes.c_void_p, u]),
        }
        for name, (res, args) in sig.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        _libc.free.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


class XsClient:
    """A libxenstore handle (xs_open) on one domain's socket. Methods raise
    OSError with the errno libxenstore reported."""

    def __init__(self, socket_path):
        self.lib = _libxenstore()
        with _lib_lock:
            # xs_open() reads XENSTORED_PATH from the environment.
            old = os.environ.get("XENSTORED_PATH")
            os.environ["XENSTORED_PATH"] = str(socket_path)
            ctypes.set_errno(0)
            self.h = self.lib.xs_open(0)
            err = ctypes.get_errno()
            if old is None:
                del os.environ["XENSTORED_PATH"]
            else:
                os.environ["XENSTORED_PATH"] = old
        if not self.h:
            raise OSError(err, f"xs_open {socket_path}: {os.strerror(err)}")

    def close(self):
        if self.h:
            self.lib.xs_close(self.h)
            self.h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _fail(what):
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {errno.errorcode.get(err, err)}")

    def read(self, path: str, t: int = 0) -> bytes:
        n = ctypes.c_uint()
        ctypes.set_errno(0)
        p = self.lib.xs_read(self.h, t, path.encode(), ctypes.byref(n))
        if not p:
            self._fail(f"read {path}")
        v = ctypes.string_at(p, n.value)
        _libc.free(p)
        return v

    def write(self, path: str, value, t: int = 0):
        data = value.encode() if isinstance(value, str) else bytes(value)
        if not self.lib.xs_write(self.h, t, path.encode(), data, len(data)):
            self._fail(f"write {path}")

    def mkdir(self, path: str, t: int = 0):
        if not self.lib.xs_mkdir(self.h, t, path.encode()):
            self._fail(f"mkdir {path}")

    def rm(self, path: str, t: int = 0):
        if not self.lib.xs_rm(self.h, t, path.encode()):
            self._fail(f"rm {path}")

    def directory(self, path: str, t: int = 0) -> list:
        n = ctypes.c_uint()
        p = self.lib.xs_directory(self.h, t, path.encode(), ctypes.byref(n))
        if not p:
            self._fail(f"directory {path}")
        arr = ctypes.cast(p, ctypes.POINTER(ctypes.c_char_p))
        out = [arr[i].decode() for i in range(n.value)]
        _libc.free(p)
        return out

    def get_perms(self, path: str, t: int = 0) -> list:
        n = ctypes.c_uint()
        p = self.lib.xs_get_permissions(self.h, t, path.encode(), ctypes.byref(n))
        if not p:
            self._fail(f"get_perms {path}")
        arr = ctypes.cast(p, ctypes.POINTER(XsPermissions))
        out = [f"{XS_PERM_LETTERS[arr[i].perms & 3]}{arr[i].id}" for i in range(n.value)]
        _libc.free(p)
        return out

    def set_perms(self, path: str, perms: list, t: int = 0):
        """perms like ["n1", "r0"]."""
        letters = {v: k for k, v in XS_PERM_LETTERS.items()}
        arr = (XsPermissions * len(perms))(
            *[XsPermissions(int(p[1:]), letters[p[0]]) for p in perms])
        if not self.lib.xs_set_permissions(self.h, t, path.encode(), arr, len(perms)):
            self._fail(f"set_perms {path}")

    def transaction_start(self) -> int:
        t = self.lib.xs_transaction_start(self.h)
        if not t:
            self._fail("transaction_start")
        return t

    def transaction_end(self, t: int, abort: bool = False):
        if not self.lib.xs_transaction_end(self.h, t, abort):
            self._fail("transaction_end")

    def watch(self, path: str, token: str):
        if not self.lib.xs_watch(self.h, path.encode(), token.encode()):
            self._fail(f"watch {path}")

    def unwatch(self, path: str, token: str):
        if not self.lib.xs_unwatch(self.h, path.encode(), token.encode()):
            self._fail(f"unwatch {path}")

    def wait_watch(self, timeout: float = 5.0):
        """Next watch event as (path, token), or None after `timeout`."""
        fd = self.lib.xs_fileno(self.h)
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return None
        p = self.lib.xs_check_watch(self.h)
        if not p:
            return None
        arr = ctypes.cast(p, ctypes.POINTER(ctypes.c_char_p))
        ev = (arr[0].decode(), arr[1].decode())
        _libc.free(p)
        return ev

    def events(self, timeout: float = 0.3) -> list:
        """All watch events that arrive within `timeout` of each other."""
        out = []
        while True:
            ev = self.wait_watch(timeout)
            if ev is None:
                return out
            out.append(ev)

    def introduce(self, domid: int, mfn: int = 0, port: int = 1):
        if not self.lib.xs_introduce_domain(self.h, domid, mfn, port):
            self._fail(f"introduce {domid}")

    def release(self, domid: int):
        if not self.lib.xs_release_domain(self.h, domid):
            self._fail(f"release {domid}")

    def is_introduced(self, domid: int) -> bool:
        ctypes.set_errno(0)
        r = self.lib.xs_is_domain_introduced(self.h, domid)
        if not r and ctypes.get_errno():
            self._fail(f"is_domain_introduced {domid}")
        return bool(r)

    def domain_path(self, domid: int) -> str:
        p = self.lib.xs_get_domain_path(self.h, domid)
        if not p:
            self._fail("get_domain_path")
        s = ctypes.string_at(p).decode()
        _libc.free(p)
        return s

    def control(self, cmd: str) -> str:
        p = self.lib.xs_control_command(self.h, cmd.encode(), None, 0)
        if not p:
            self._fail(f"control {cmd}")
        s = ctypes.string_at(p).decode()
        _libc.free(p)
        return s


class RawConn:
    """A bare unix-socket connection speaking xs_wire.h by hand, for what
    libxenstore would never send."""

    def __init__(self, socket_path, timeout: float = 5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(socket_path))

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, type_: int, payload: bytes, req_id: int = 0, tx_id: int = 0,
             length: int = None):
        n = len(payload) if length is None else length
        self.s.sendall(HEADER.pack(type_, req_id, tx_id, n) + payload)

    def recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionResetError("store closed the connection")
            buf += chunk
        return buf

    def recv(self):
        """Next message as (type, req_id, tx_id, payload)."""
        t, rid, tid, n = HEADER.unpack(self.recv_exact(HEADER.size))
        return t, rid, tid, self.recv_exact(n)

    def request(self, type_: int, payload: bytes, req_id: int = 0, tx_id: int = 0):
        """Sends a request, returns its reply, skipping watch events."""
        self.send(type_, payload, req_id, tx_id)
        while True:
            m = self.recv()
            if m[0] != XS_WATCH_EVENT:
                return m

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        self.s.settimeout(timeout)
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def which(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is not installed (Debian package xenstore-utils)"
    return path
