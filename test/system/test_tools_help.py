# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Every command of every tool the project ships or documents answers
--help with its usage and exits 0: xensim and each of its commands, the
daemons, the DPDK programs (EAL's --help shows their options too, and so
does -- --help), the vif tool, the real-Xen bed, the benchmark harness
and each devtools script."""

import subprocess

import pytest

from conftest import ROOT, build_dir

B = build_dir()
XENSIM_COMMANDS = ["start", "env", "vif-add", "vif-del", "destroy", "status", "restart-store",
                   "stop"]
DPDK_PROGRAMS = [B / "app/offload-fwd/xf-offload-fwd", B / "app/rx_intr/xenfront-rx-intr",
                 B / "examples/xenfront_zero_copy/xenfront-zero-copy"]
PY = "/usr/bin/python3"

CASES = (
    [([B / "app/xensim/xensim", "--help"], "usage: xensim start")] +
    [([B / "app/xensim/xensim", c, "--help"], f"usage: xensim {c}") for c in XENSIM_COMMANDS] +
    [([B / "app/xensim/xensim-stored", "--help"], "usage: xensim-stored"),
     ([B / "lib/xensim/xensim-hvd", "--help"], "usage: xensim-hvd")] +
    # EAL's --help: the program's own options first, then EAL's.
    [([p, "--help"], f"usage: {p}") for p in DPDK_PROGRAMS] +
    [([PY, ROOT / "devtools/xen-vifbind.py", "--help"], "usage: xen-vifbind.py"),
     ([PY, ROOT / "devtools/xen/xenbed.py", "--help"], "usage: xenbed.py"),
     ([PY, ROOT / "test/perf/bench.py", "--help"], "usage: bench.py"),
     ([PY, ROOT / "test/perf/zero_copy_ab.py", "--help"], "usage: zero_copy_ab.py"),
     ([PY, ROOT / "devtools/debroot.py", "--help"], "usage: debroot.py")] +
    [([PY, ROOT / "devtools/debroot.py", c, "--help"], f"usage: debroot.py {c}")
     for c in ("root", "run")] +
    [([PY, ROOT / "devtools/xen/xenbed.py", c, "--help"], f"usage: xenbed.py {c}")
     for c in ("images", "boot", "stop", "run", "shell", "scripts", "suite")] +
    [(["bash", ROOT / f"devtools/{s}", "--help"], text) for s, text in (
        ("run.sh", "devtools/run.sh test"), ("setup.sh", "Installs every Debian"),
        ("demo.sh", "Usage: demo.sh"), ("dpdk-sdk.sh", "Usage: dpdk-sdk.sh"),
        ("fuzz.sh", "libFuzzer"), ("bench-queues.sh", "Usage: bench-queues.sh"),
        ("check-format.sh", "clang-format"))]
)


@pytest.mark.parametrize("argv,expect", CASES, ids=[" ".join(
    str(a).rsplit("/", 1)[-1] for a in c[0][-2:]) for c in CASES])
def test_help_exits_0_with_usage(argv, expect):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert expect in out, out


@pytest.mark.parametrize("program", DPDK_PROGRAMS, ids=lambda p: p.name)
def test_dpdk_program_help_after_eal_args(program, prefix):
    res = subprocess.run([str(program), "--no-huge", "-m", "64", "--no-pci", "--file-prefix",
                          prefix, "--", "--help"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "usage:" in res.stdout, res.stdout
