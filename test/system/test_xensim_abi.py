# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""The xensim stand-ins for libxengnttab.so.1 and libxenevtchn.so.1 are ABI
compatible with Debian's: same SONAME, same versioned symbols, and a program
linked against the real libraries runs over them with LD_LIBRARY_PATH."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import build_dir, stop_at_teardown

REAL_LIBDIR = pathlib.Path("/usr/lib/x86_64-linux-gnu")
LIBS = ["libxengnttab.so.1", "libxenevtchn.so.1"]


def stub_libdir() -> pathlib.Path:
    return build_dir() / "lib" / "xensim"


def hvd_path() -> pathlib.Path:
    return stub_libdir() / "xensim-hvd"


def probe_path() -> pathlib.Path:
    return build_dir() / "test" / "xensim" / "xensim_abi_probe"


def require(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (ninja -C {build_dir()})")
    return path


def exported(lib: pathlib.Path) -> set:
    """(version, name) of every symbol the library defines in .text."""
    out = subprocess.run(["objdump", "-T", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    syms = set()
    for line in out.splitlines():
        # 0000000000001350 g    DF .text	000000000000002b  VERS_1.0    xengnttab_map_grant_ref
        m = re.match(r"^[0-9a-f]+ g\s+DF \.text\s+[0-9a-f]+\s+(\S+)\s+(\S+)$", line)
        if m:
            syms.add((m.group(1), m.group(2)))
    return syms


def private_headers(lib: pathlib.Path) -> str:
    return subprocess.run(["objdump", "-p", str(lib)], capture_output=True, text=True,
                          check=True).stdout


def soname(lib: pathlib.Path) -> str:
    m = re.search(r"^\s*SONAME\s+(\S+)$", private_headers(lib), re.M)
    return m.group(1) if m else ""


def version_definitions(lib: pathlib.Path) -> list:
    """The version nodes and what each inherits, without hashes and the
    node named after the library itself."""
    text = private_headers(lib)
    section = text.split("Version definitions:")[1].split("Version References:")[0]
    nodes = []
    for line in section.strip().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("VERS_"):
            nodes.append([parts[3]])
        elif len(parts) == 1 and nodes:
            nodes[-1].append(parts[0])
    return nodes


@pytest.mark.parametrize("name", LIBS)
def test_stand_in_exports_the_real_versioned_symbols(name):
    real = exported(REAL_LIBDIR / name)
    ours = exported(require(stub_libdir() / name))
    assert real, "no symbols read from the real library"
    assert ours == real, f"missing: {sorted(real - ours)}, extra: {sorted(ours - real)}"


@pytest.mark.parametrize("name", LIBS)
def test_stand_in_has_the_real_soname_and_version_nodes(name):
    ours = require(stub_libdir() / name)
    assert soname(ours) == soname(REAL_LIBDIR / name) == name
    assert version_definitions(ours) == version_definitions(REAL_LIBDIR / name)


def test_probe_is_linked_against_the_real_libraries():
    probe = require(probe_path())
    needed = re.findall(r"NEEDED\s+(\S+)", private_headers(probe))
    assert "libxengnttab.so.1" in needed and "libxenevtchn.so.1" in needed
    out = subprocess.run(["objdump", "-T", str(probe)], capture_output=True, text=True,
                         check=True).stdout
    assert re.search(r"\(VERS_1\.1\)\s+xengnttab_grant_copy", out), out


@pytest.fixture
def hvd():
    """A private xensim-hvd; yields its instance directory."""
    # Short path: the socket path must fit in sun_path.
    d = pathlib.Path(tempfile.mkdtemp(prefix="xsabi", dir="/tmp"))
    proc = subprocess.Popen([str(require(hvd_path())), "--dir", str(d)])
    try:
        for _ in range(400):
            if (d / "hv" / "ready").exists():
                break
            time.sleep(0.01)
        assert (d / "hv" / "ready").exists(), "xensim-hvd did not become ready"
        yield d
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        shutil.rmtree(d, ignore_errors=True)


def probe_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "XENSIM_DIR", "XENSIM_DOMID")}
    env.update(extra)
    return env


def test_program_linked_against_real_libraries_runs_over_stand_ins(hvd):
    env = probe_env(LD_LIBRARY_PATH=str(stub_libdir()), XENSIM_DIR=str(hvd), XENSIM_DOMID="3")
    r = subprocess.run([str(require(probe_path()))], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "probe ok" in r.stdout
    status = json.loads(subprocess.run([str(hvd_path()), "--status", str(hvd)],
                                       capture_output=True, text=True, check=True).stdout)
    counters = status["counters"]["3"]
    assert counters["share_ops"] == 1 and counters["unshare_ops"] == 1
    assert counters["grant_copy_segments"] == 1
    assert status["domains"]["3"]["grants_shared"] == 0
    assert status["domains"]["3"]["evtchn_ports"] == 0
    assert status["processes"] == 0


@pytest.mark.skipif(os.path.exists("/dev/xen/gntalloc"), reason="running on Xen")
def test_without_library_path_the_real_library_is_used(hvd):
    # Debian's library looks for /dev/xen/gntalloc, which is absent here.
    r = subprocess.run([str(require(probe_path()))], env=probe_env(XENSIM_DIR=str(hvd)),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "probe: xengntshr_open: No such file or directory" in r.stdout


def test_stand_ins_without_an_instance_fail_like_no_device():
    r = subprocess.run([str(require(probe_path()))],
                       env=probe_env(LD_LIBRARY_PATH=str(stub_libdir())),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "probe: xengntshr_open: No such file or directory" in r.stdout


def test_hvd_status_is_one_json_object(hvd):
    out = subprocess.run([str(hvd_path()), "--status", str(hvd)], capture_output=True,
                         text=True, check=True).stdout
    status = json.loads(out)
    assert set(status) == {"domains", "counters", "processes"}


def test_hvd_status_without_a_daemon_fails_clearly(tmp_path):
    r = subprocess.run([str(require(hvd_path())), "--status", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert f"xensim-hvd: no xensim-hvd at {tmp_path}/hv/hv.sock" in r.stderr


def test_probe_in_an_instance_started_by_the_toolstack(tmp_path):
    """The interface with `xensim`: start runs xensim-hvd (with the gntalloc
    limit passed through), `xensim env --domid N` gives a process what it
    needs to use the stand-ins, and `xensim status --json` embeds the hvd's
    view."""
    from xensim_env import XenSim
    xs = XenSim(build_dir())
    if not xs.exe.exists():
        pytest.skip(f"{xs.exe} is not built")
    inst = pathlib.Path(tempfile.mkdtemp(prefix="xsabi", dir="/tmp"))
    stop_at_teardown(lambda: shutil.rmtree(inst, ignore_errors=True))
    stop_at_teardown(xs.stop)  # first
    xs.start(inst, gntalloc_limit=2)
    r = subprocess.run([str(require(probe_path()))], env=xs.env(5), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    hv = xs.status()["hv"]
    assert hv["domains"]["5"]["gntalloc_limit"] == 2
    assert hv["counters"]["5"]["share_ops"] == 1
    assert hv["counters"]["5"]["notify_sent"] == 1
