# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Fixtures of the real-Xen suite: one booted test bed (devtools/xen/xenbed.py)
for the whole session: Debian's Xen under QEMU, Linux netback in dom0,
Linux netfront in the domU, the project installed in both.

`devtools/run.sh xen` boots the bed, runs this suite and collects the logs;
run by hand (`pytest test/xen`), the suite uses a bed left running by
`xenbed.py boot`, or boots and powers off its own."""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "devtools/xen"), str(ROOT / "test/system")]

import xenbed  # noqa: E402

from guest import Guest  # noqa: E402


@pytest.fixture(scope="session")
def bed():
    build = xenbed.build_dir()
    b = xenbed.Bed.attach(build)
    owned = False
    if b is None:
        if os.environ.get("XENBED_ATTACH"):
            pytest.fail("the bed that xenbed.py booted for this suite is gone")
        images = xenbed.Images(build)
        images.ensure()
        b = xenbed.Bed.boot(build, images)
        owned = True
    yield b
    if owned:
        b.collect_logs(build / "xen" / "results")
        b.stop()


@pytest.fixture
def guest(bed, request):
    """The bed, with what a test started in it stopped afterwards and vif 0
    given back to Linux netfront in the domU."""
    g = Guest(bed, request.node.name)
    yield g
    g.cleanup()
