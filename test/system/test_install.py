# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""`meson install` puts both drivers where the DPDK they were built against
loads its own from: the plugin directory compiled into librte_eal
(RTE_EAL_PMD_PATH, Debian's <libdir>/dpdk/pmds-<ABI>), so dpdk-testpmd
finds net_xenfront with no -d. The install goes into a DESTDIR; testpmd
sees it in a private mount namespace where an overlay lays the DESTDIR's
plugin directory over the system's, so nothing outside the test changes."""

import re
import subprocess
import time

import pytest

from testpmd import TestPmd, backend, stop_all


def pkgconfig(var: str) -> str:
    return subprocess.run(["pkg-config", f"--variable={var}", "libdpdk"], check=True,
                          capture_output=True, text=True).stdout.strip()


def eal_plugin_dir() -> str:
    """RTE_EAL_PMD_PATH as librte_eal holds it (EAL tags its binary with
    DPDK_PLUGIN_PATH=..., which `strings` shows too)."""
    eal = subprocess.run(["readlink", "-f", pkgconfig("libdir") + "/librte_eal.so"], check=True,
                         capture_output=True, text=True).stdout.strip()
    with open(eal, "rb") as f:
        m = re.search(rb"DPDK_PLUGIN_PATH=([^\0]+)\0", f.read())
    assert m, f"{eal} names no plugin directory"
    return m.group(1).decode()


@pytest.fixture(scope="module")
def destdir(build, tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    res = subprocess.run(["meson", "install", "--no-rebuild", "-C", str(build.path), "--destdir",
                          str(dest)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return dest


def test_layout(destdir):
    """The drivers in EAL's plugin directory as Debian lays out DPDK's own
    (the library there, links to it from libdir), the public header beside
    DPDK's, a pkg-config file beside libdpdk.pc."""
    plugins = eal_plugin_dir()
    libdir, includedir = pkgconfig("libdir"), pkgconfig("includedir")
    abi = plugins.rsplit("pmds-", 1)[1]
    for drv in ("xenfront", "xenback"):
        lib = f"librte_net_{drv}.so"
        assert (destdir / plugins.lstrip("/") / f"{lib}.{abi}").is_file()
        for suffix in (f".{abi}", f".{abi.split('.')[0]}", ""):
            link = destdir / libdir.lstrip("/") / (lib + suffix)
            assert link.is_symlink() and link.resolve().is_file(), link
    assert (destdir / includedir.lstrip("/") / "rte_pmd_xenfront.h").is_file()
    pc = (destdir / libdir.lstrip("/") / "pkgconfig/libdpdk-xenfront.pc").read_text()
    assert "-lrte_net_xenfront" in pc and "Requires: libdpdk" in pc


def test_testpmd_loads_the_installed_driver_without_d(build, xensim, prefix, destdir):
    """dpdk-testpmd --vdev net_xenfront0,vif=0, no -d: EAL loads the
    installed driver from its plugin directory, and it carries traffic."""
    plugins = eal_plugin_dir()
    overlay = (f"mount -t overlay overlay -o lowerdir={destdir}{plugins}:{plugins} {plugins}"
               ' && exec "$@"')
    wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c", overlay, "sh"]
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=txonly"])
    eal = build.eal_args(prefix + "f") + ["--lcores", "0@1,1@0", "--vdev", "net_xenfront0,vif=0"]
    assert "-d" not in eal
    front = TestPmd(eal, ["--forward-mode=rxonly"], sim.env(1), "frontend testpmd", wrapper)
    front.wait_link(0)
    back.wait_link(0)
    assert "net_xenfront" in front.command("show port info 0")
    front.command("start")
    back.command("start")
    time.sleep(2)
    back.command("stop")
    time.sleep(1)
    front.command("stop")
    sent, received = back.stats(0)["opackets"], front.stats(0)["ipackets"]
    assert sent > 1000 and received == sent, (sent, received)
    stop_all(front, back)
