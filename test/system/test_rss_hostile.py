# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""RSS against a backend that answers the control ring with errors or
garbage, or not at all (net_xenback's hostile=ctrl_* behaviours). For each:
the guest's testpmd asks for RSS (two queue pairs); the port starts (its
start waits for no backend) but does not connect: one line names the
control request and what the backend did, the link stays down and the
driver does not try again until the port is restarted, nothing hangs, the
control ring's event channel is let go, the port then runs when
configured explicitly without RSS, and both processes exit cleanly
leaving no grant, mapping or event channel behind. Then a backend that
breaks only after RSS was set up: a run-time redirection-table update fails
cleanly while traffic keeps flowing, and a late answer does not confuse the
next update."""

import re
import time

import pytest

from conftest import GRANTS_PER_QUEUE_PAIR, check_released, hv, wait_for
from testpmd import MULTI_FLOW_TX, backend, frontend, queue_counts, stop_all

BACK_DIR = "/local/domain/0/backend/vif/1/0"
PREFIX = f"net_xenfront0: RSS over the control ring of {BACK_DIR}: "
GET_SIZE = "control request GET_HASH_MAPPING_SIZE (id 0)"
QARGS = ["--rxq=2", "--txq=2"]
CTRL_RING_GRANTS = 2  # the ring and the page for keys and tables

# behaviour: the frontend's error line after PREFIX (a regular expression).
# The first request of an RSS set-up is GET_HASH_MAPPING_SIZE, id 0.
AT_START = {
    "ctrl_error": re.escape(f"the backend refused {GET_SIZE}: NOT_SUPPORTED"),
    "ctrl_bad_id": re.escape(f"the backend answered {GET_SIZE} with id 32768, not one awaited"),
    "ctrl_bad_type": re.escape(f"the backend answered {GET_SIZE} with type 5 "
                               "(SET_HASH_MAPPING_SIZE)"),
    # Random bytes: almost surely a wrong id, else a wrong type or status.
    "ctrl_garbage": (re.escape(f"the backend answered {GET_SIZE} with ") +
                     r"(?:id \d+, not one awaited|type \d+ \(\w+\))|" +
                     re.escape(f"the backend refused {GET_SIZE}: ") + r"[\w ]+"),
    # 300 garbage slots and the answer, for one request.
    "ctrl_prod_race": re.escape(
        "the backend's response producer index 302 ran past the 1 outstanding request(s) "
        f"(response consumer 0) at {GET_SIZE}; the control ring is unusable until the next "
        "connection"),
    "ctrl_silent": re.escape(f"the backend did not answer {GET_SIZE} within 1000 ms"),
    "ctrl_late": re.escape(f"the backend did not answer {GET_SIZE} within 1000 ms"),
    "ctrl_small_table": re.escape(
        "the backend's hash mapping table holds 0 entries (GET_HASH_MAPPING_SIZE), fewer than "
        "the 128 of the redirection table"),
}


def error_line(front, pattern, start=0):
    """The frontend's one error line for RSS, whole (the control thread may
    print it right after testpmd's prompt)."""
    m = front.wait_for(r"(?m)^(?:testpmd> )?(" + re.escape(PREFIX) + r"(?:" + pattern + r"))$",
                       start=start, timeout=30)
    return m.group(1)


@pytest.mark.gntalloc_limit(8192)
@pytest.mark.parametrize("behaviour", sorted(AT_START))
def test_rss_refused_at_start_then_runs_without(build, xensim, prefix, behaviour):
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=f",max_queues=2,hostile={behaviour}",
                   app=MULTI_FLOW_TX + QARGS)
    t0 = time.monotonic()
    # testpmd turns RSS on with two rx queues and starts the port at once.
    # (The control ring is used once the backend has connected, after
    # dev_start returned: the failure is the control thread's.)
    front = frontend(build, sim, prefix,
                     app=["--forward-mode=rxonly", "--disable-link-check"] + QARGS)
    line = error_line(front, AT_START[behaviour])
    front.wait_for(re.escape(f"net_xenfront0: not connected to {BACK_DIR}: the link stays "
                             "down until the port is stopped and started again"))
    assert "Fail to start port" not in front.output
    elapsed = time.monotonic() - t0
    print(f"hostile {behaviour}: {line} ({elapsed:.1f} s to the prompt)")
    # One line, one failed request counted, no fallback to no RSS.
    assert front.output.count(PREFIX) == 1, front.output[-3000:]
    assert "RSS set through the control ring" not in front.output
    assert front.xstats(0)["ctrl_errors"] == 1
    assert not front.link_up(0)
    # Nothing half-configured: no event channel bound, the grants of the
    # queues and of the control ring kept for the next start, and the
    # backend let go of the rings.
    wait_for(lambda: hv(sim, 0).get("mappings_held", 0) == 0, what="backend unmaps")
    assert hv(sim, 1).get("evtchn_ports", 0) == 0, hv(sim, 1)
    assert hv(sim, 1)["grants_shared"] == 2 * GRANTS_PER_QUEUE_PAIR + CTRL_RING_GRANTS
    keys = sim.xs(0, "ls", "/local/domain/1/device/vif/0").stdout
    assert "ctrl-ring-ref" not in keys and "queue-0" not in keys, keys

    # Without RSS, asked for explicitly (one queue pair), the port runs.
    front.command("port stop 0")
    front.command("port config all rxq 1")
    front.command("port config all txq 1")
    out = front.command("port start 0", timeout=60)
    assert "Fail" not in out, out
    front.wait_link(0)
    back.wait_link(0)
    info = front.command("show port 0 rss-hash")
    assert "RSS disabled" in info, info
    front.command("start")
    back.command("start")
    wait_for(lambda: front.stats(0)["ipackets"] > 1000, what="traffic without RSS")
    back.command("stop")
    front.command("stop")
    assert front.xstats(0)["ctrl_errors"] == 1
    # One queue pair, no control ring.
    assert hv(sim, 1)["grants_shared"] == GRANTS_PER_QUEUE_PAIR, hv(sim, 1)
    assert hv(sim, 1)["evtchn_ports"] == 2, hv(sim, 1)
    stop_all(front, back)
    check_released(sim)


def set_reta_all(front, queue, first=0, count=128):
    """`port config 0 rss reta` 8 entries at a time (testpmd's string tokens
    hold 128 bytes); the output of each command."""
    outs = []
    for at in range(first, first + count, 8):
        entries = ",".join(f"({i},{queue})" for i in range(at, at + 8))
        outs.append(front.command(f"port config 0 rss reta {entries}"))
    return outs


def flowing(front, back, what):
    """Both guest queues receive from the backend's txonly, now."""
    before = queue_counts(front, 0, "rx_packets")
    wait_for(lambda: all(queue_counts(front, 0, "rx_packets")[q] > before[q] + 100
                         for q in (0, 1)), what=what)


@pytest.mark.gntalloc_limit(8192)
def test_reta_update_fails_cleanly_while_traffic_flows(build, xensim, prefix):
    """The backend answers the 7 requests of RSS set-up, then garbles every
    answer: a run-time redirection-table update fails with one line and
    -EIO, the previous table stays (queue 0 and 1 keep receiving), and
    traffic never stops."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=",max_queues=2,hostile=ctrl_garbage:7",
                   app=MULTI_FLOW_TX + QARGS)
    front = frontend(build, sim, prefix, app=["--forward-mode=rxonly"] + QARGS)
    front.wait_link(0)
    back.wait_link(0)
    assert front.xstats(0)["ctrl_errors"] == 0  # RSS was set up
    front.command("start")
    back.command("start")
    flowing(front, back, "traffic on both queues with RSS")
    start = len(front.output)
    outs = set_reta_all(front, 1, count=16)
    for out in outs:
        assert "Bad redirection table parameter, return code = -5" in out, out
    line = error_line(front, r"the backend (?:answered|refused) control request "
                      r"GET_HASH_MAPPING_SIZE \(id 7\).*", start=start)
    assert line.endswith("; the previous RSS configuration stays (the backend may hold "
                         "part of the new one)"), line
    print(f"hostile ctrl_garbage:7: {line}")
    assert front.output.count(PREFIX, start) == 2, front.output[start:]
    # The table testpmd reads back is the one in force: round robin.
    reta = front.command("show port 0 rss reta 128 (0xffffffffffffffff,0xffffffffffffffff)")
    assert re.search(r"RSS RETA configuration: hash index=1, queue=1\b", reta), reta
    assert re.search(r"RSS RETA configuration: hash index=2, queue=0\b", reta), reta
    flowing(front, back, "traffic on both queues after the failed updates")
    assert front.link_up(0)
    assert front.xstats(0)["ctrl_errors"] == 2
    back.command("stop")
    front.command("stop")
    stop_all(front, back)
    check_released(sim)


@pytest.mark.gntalloc_limit(8192)
def test_late_answer_does_not_confuse_the_next_update(build, xensim, prefix):
    """The backend answers the 8th request 1.5 s late: that update times out;
    the late answer, when it comes, is dropped as stale, and the next update
    goes through and takes effect (everything on queue 1)."""
    sim = xensim
    sim.vif_add(1, 0)
    back = backend(build, sim, prefix, devargs=",max_queues=2,hostile=ctrl_late:7",
                   app=MULTI_FLOW_TX + QARGS)
    front = frontend(build, sim, prefix, app=["--forward-mode=rxonly"] + QARGS)
    front.wait_link(0)
    back.wait_link(0)
    assert front.xstats(0)["ctrl_errors"] == 0  # RSS was set up
    front.command("start")
    back.command("start")
    flowing(front, back, "traffic on both queues with RSS")
    start = len(front.output)
    out = set_reta_all(front, 1, count=8)[0]
    assert "Bad redirection table parameter, return code = -5" in out, out
    line = error_line(front, re.escape("the backend did not answer control request "
                                       "GET_HASH_MAPPING_SIZE (id 7) within 1000 ms") +
                      ".*", start=start)
    print(f"hostile ctrl_late:7: {line}")
    time.sleep(3)  # the late answer arrives
    outs = set_reta_all(front, 1)
    for out in outs:
        assert "Bad" not in out and "rror" not in out, out
    front.wait_for(r"net_xenfront0: dropped 1 late answer\(s\) to control requests that "
                   r"had timed out", start=start)
    assert front.output.count(PREFIX, start) == 1, front.output[start:]
    assert front.xstats(0)["ctrl_errors"] == 1
    # Everything goes to queue 1 now.
    time.sleep(0.5)
    q0 = queue_counts(front, 0, "rx_packets")[0]
    time.sleep(1)
    counts = queue_counts(front, 0, "rx_packets")
    assert counts[0] == q0, counts
    flowing_q1 = counts[1]
    wait_for(lambda: queue_counts(front, 0, "rx_packets")[1] > flowing_q1 + 100,
             what="traffic on queue 1")
    back.command("stop")
    front.command("stop")
    stop_all(front, back)
    check_released(sim)
