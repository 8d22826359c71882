# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Shared fixtures of the system tests: where the build is, and how to run
DPDK applications (dpdk-testpmd) with our drivers without hugepages."""

import os
import pathlib
import shutil
import subprocess
import uuid

import pytest

from sanitizers import sanitized, sanitizer_env  # noqa: F401 (imported from here too)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("XENFRONT_BUILD_DIR", ROOT / "build")).resolve()


class Build:
    def __init__(self, path: pathlib.Path):
        self.path = path
        self.xenfront = path / "drivers/net/xenfront/librte_net_xenfront.so"
        self.xenback = path / "drivers/net/xenback/librte_net_xenback.so"

    def eal_args(self, prefix: str, *drivers: pathlib.Path) -> list:
        """EAL arguments for one DPDK process of a test: no hugepages, no
        PCI, its own file prefix, and our drivers loaded with -d."""
        args = ["--no-huge", "-m", "1024", "--no-pci", "--file-prefix", prefix,
                "--log-level", "lib.eal:warning"]
        for d in drivers:
            args += ["-d", str(d)]
        return args


@pytest.fixture(scope="session")
def build() -> Build:
    b = Build(build_dir())
    for lib in (b.xenfront, b.xenback):
        if not lib.exists():
            pytest.fail(f"{lib} is missing: build first (devtools/run.sh build)")
    return b


def dpdk_runtime_dir() -> pathlib.Path:
    """Where DPDK keeps each --file-prefix's runtime files (eal_filesystem.h):
    /var/run/dpdk for root, else under $XDG_RUNTIME_DIR or /tmp."""
    if os.geteuid() == 0:
        return pathlib.Path("/var/run/dpdk")
    return pathlib.Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / "dpdk"


@pytest.fixture
def prefix():
    """A DPDK --file-prefix unique to this test (and the prefixes a test
    derives from it by appending). DPDK leaves a runtime directory of about
    13 MB per process behind (its config and --no-huge memory map); they go
    with the test."""
    name = "xft" + uuid.uuid4().hex[:10]
    yield name
    for leftover in dpdk_runtime_dir().glob(name + "*"):
        shutil.rmtree(leftover, ignore_errors=True)


def run_testpmd(build: Build, eal: list, app: list, env: dict = None, stdin: str = "",
                timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs dpdk-testpmd to completion, feeding `stdin` to its prompt.
    An `env` value of None removes that variable."""
    full_env = dict(os.environ)
    full_env.update(sanitizer_env())
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(["dpdk-testpmd"] + eal + ["--"] + app, input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


# ---- xensim (store daemon and toolstack) ----

def pytest_configure(config):
    config.addinivalue_line("markers", "gntalloc_limit(n): start xensim with this "
                            "per-domain grant limit (default 1024, as Linux gntalloc)")


@pytest.fixture
def xensim(tmp_path, request):
    """A running xensim instance in a fresh directory under /dev/shm
    (tmpfs, so grant pages are RAM), stopped at teardown even if the test
    fails. With XENFRONT_SANITIZE=1 a sanitizer report from one of its
    daemons fails the test. @pytest.mark.gntalloc_limit(n) raises the grant
    limit, as an administrator raises xen_gntalloc's."""
    import shutil
    import tempfile

    from xensim_env import XenSim

    sim = XenSim(build_dir(), sanitize=sanitized())
    if not sim.exe.exists():
        pytest.fail(f"{sim.exe} is missing: build first (ninja -C {build_dir()})")
    inst = pathlib.Path(tempfile.mkdtemp(prefix="xensim-test.", dir="/dev/shm"))
    try:
        marker = request.node.get_closest_marker("gntalloc_limit")
        sim.start(inst, reports=tmp_path / "sanitizer",
                  gntalloc_limit=marker.args[0] if marker else None)
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(inst, ignore_errors=True)
    reports = sim.sanitizer_reports()
    assert not reports, f"sanitizer reports from the xensim daemons: {reports}"
