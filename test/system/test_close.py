# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Stopping or closing the port, and Ctrl-C on testpmd, return within a
second when the backend is dead (killed: its state still says Connected,
it will never follow), and close cleanly with a live one: Closing, then
Closed, each followed by the backend (netif.h's close, as Linux netfront's
xennet_remove). The driver's close_timeout (500 ms) bounds the wait; Linux
netfront waits up to 5 s for each step."""

import contextlib
import re
import signal
import time

import pytest

from conftest import check_released, hv, sanitizer_env, wait_for
from sanitizers import kind
from testpmd import backend, frontend, stop_all

FRONT_STATE = "/local/domain/1/device/vif/0/state"
BACK_STATE = "/local/domain/0/backend/vif/1/0/state"
NOT_FOLLOWED = "did not follow our Closing"
# The driver's part (its own clock, its INFO line) is held to the second the
# issue sets. The whole command or process, timed from here, also counts
# testpmd's own work and the machine's load (at nice 19 beside a CI run: a
# port stop of 2.8 s around the driver's 564 ms): it gets a looser bound,
# which the old 5 s per step (10 s with a dead backend) still fails.
DRIVER_BOUND_MS = 1000
WHOLE_BOUND = 8.0 if sanitizer_env() else 5.0
# The exit after Ctrl-C, timed whole, also counts the sanitizer's own exit.
# ThreadSanitizer's is long whatever the port: testpmd with a net_null port
# took 19-20 s from Ctrl-C to exit under TSan, 0.0 s without, on 2 cores at
# load 7.5 (2026-12-07). Under TSan only the driver's own figure is held to
# its bound; the normal and ASan builds time the whole exit.
EXIT_BOUND = None if kind() == "thread" else WHOLE_BOUND
CLOSED = re.compile(r"net_xenfront0: closed \S+ in (\d+) ms \(the backend (followed|did not follow)\)")


def driver_close_ms(front, start=0):
    """The driver's own figure for its teardown, and whether the backend
    followed."""
    m = front.wait_for(CLOSED.pattern, timeout=10, start=start)
    return int(m.group(1)), m.group(2) == "followed"


@contextlib.contextmanager
def connected_pair(build, sim, prefix, backend_alive):
    """A frontend sending to a backend, the backend then killed unless
    `backend_alive`; yields (backend, frontend, a store client); after the
    block quits what still runs and checks that nothing is left granted or
    bound (the conftest fixtures stop them if the block fails)."""
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, app=["--forward-mode=rxonly"])
    front = frontend(build, sim, prefix, app=["--forward-mode=txonly"],
                     eal=["--log-level=pmd.net.xenfront.driver:info"])
    front.wait_link(0)
    back.wait_link(0)
    back.command("start")
    front.command("start")
    wait_for(lambda: back.stats(0)["ipackets"] > 10000, what="traffic")
    if not backend_alive:
        back.kill()  # SIGKILL: its state stays Connected
    store = sim.client(0)
    yield back, front, store
    store.close()
    stop_all(front if front.proc.poll() is None else None, back if backend_alive else None)
    for pmd in (front, back):
        pmd.kill()  # no-op for those that quit; checks the others' output
    check_released(sim)


ALIVE = pytest.mark.parametrize("backend_alive", [False, True],
                                ids=["dead-backend", "live-backend"])


@ALIVE
def test_port_stop_and_close_within_a_second(build, xensim, prefix, backend_alive):
    with connected_pair(build, xensim, prefix, backend_alive) as (back, front, store):
        front.command("stop")
        mark = len(front.output)
        began = time.monotonic()
        front.command("port stop 0")
        stopped = time.monotonic() - began
        driver_ms, followed = driver_close_ms(front, mark)
        began = time.monotonic()
        front.command("port close 0")
        closed = time.monotonic() - began
        print(f"backend {'alive' if backend_alive else 'dead'}: port stop {stopped:.3f} s "
              f"(the driver's teardown {driver_ms} ms), port close {closed:.3f} s")
        assert driver_ms < DRIVER_BOUND_MS and followed == backend_alive, front.output[-3000:]
        assert stopped < WHOLE_BOUND and closed < WHOLE_BOUND, (stopped, closed)
        assert store.read(FRONT_STATE) == b"6"  # Closed
        # Grants and channels gone with the port, dead backend or not.
        assert hv(xensim, 1).get("grants_shared", 0) == 0, hv(xensim, 1)
        assert hv(xensim, 1).get("evtchn_ports", 0) == 0, hv(xensim, 1)
        assert (NOT_FOLLOWED in front.output) != backend_alive, front.output[-3000:]
        # A live backend followed to Closed; a dead one's last word stays.
        assert store.read(BACK_STATE) == (b"6" if backend_alive else b"4")
        if backend_alive:
            back.command("stop")


@ALIVE
def test_ctrl_c_within_a_second(build, xensim, prefix, backend_alive):
    with connected_pair(build, xensim, prefix, backend_alive) as (back, front, store):
        began = time.monotonic()
        front.proc.send_signal(signal.SIGINT)
        front.proc.wait(timeout=30)
        took = time.monotonic() - began
        front.reader.join(timeout=5)
        front.check_sanitizers()
        driver_ms, followed = driver_close_ms(front)
        print(f"backend {'alive' if backend_alive else 'dead'}: Ctrl-C to exit {took:.3f} s "
              f"(the driver's teardown {driver_ms} ms)")
        assert driver_ms < DRIVER_BOUND_MS and followed == backend_alive, front.output[-3000:]
        assert EXIT_BOUND is None or took < EXIT_BOUND, (took, front.output[-3000:])
        assert store.read(FRONT_STATE) == b"6"
        assert (NOT_FOLLOWED in front.output) != backend_alive, front.output[-3000:]
        assert store.read(BACK_STATE) == (b"6" if backend_alive else b"4")
