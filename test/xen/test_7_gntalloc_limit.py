# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xenfront authors
"""Case 7: the domU's default gntalloc limit (Linux's xen_gntalloc
limit=1024 grants for all processes of the guest). One queue pair (514
grants) fits; two (1028) do not: the port refuses to start with a line
that names the limit, and nothing stays granted."""

from guest import gntalloc_free, gntalloc_limit

GRANTS_PER_QUEUE_PAIR = 2 + 2 * 256


def test_default_limit_fits_one_queue_pair_and_refuses_two(guest):
    limit = gntalloc_limit(guest)
    assert limit == 1024, "the domU's kernel should have gntalloc's default limit"
    # netback offers as many queues as dom0 has vcpus.
    offered = guest.dom0.run(f"xenstore-read /local/domain/0/backend/vif/{guest.domid}/0/"
                             "multi-queue-max-queues").output.strip()
    assert offered == "2", offered

    one = guest.start_front(["--forward-mode=rxonly"])
    guest.wait_link(one)
    assert gntalloc_free(guest) == limit - GRANTS_PER_QUEUE_PAIR
    one.quit()
    guest.procs.remove(one)

    two = guest.start_front(["--forward-mode=rxonly", "--rxq=2", "--txq=2"])
    out = two.output
    print("COUNTS gntalloc: 1 queue pair = 514 grants, started; 2 queue pairs = 1028 grants: "
          + " / ".join(line.strip() for line in out.splitlines()
                       if "gntalloc" in line or "Fail" in line))
    assert ("rx queue 1: cannot grant 256 pages to domain 0: No space left on device "
            "(gntalloc limit reached? raise /sys/module/xen_gntalloc/parameters/limit)") in out
    assert "Fail to configure port 0 rx queues" in out
    info = two.command("show port info 0")
    assert "Link status: down" in info, info
    two.quit()
    guest.procs.remove(two)
    # The queue that did get its grants gave them back.
    assert gntalloc_free(guest) == limit
    assert guest.vif_states(0)[1] == "6", guest.vif_states(0)
