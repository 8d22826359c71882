/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * A program linked against the real libxengnttab and libxenevtchn (as the
 * drivers are). Run with LD_LIBRARY_PATH=<build>/lib/xensim and XENSIM_DIR
 * it must work over the xensim stand-ins; without, it gets Debian's
 * libraries (which fail to open without /dev/xen). Shares a page with its
 * own domain, maps it, grant-copies into it, and loops an event back
 * through an interdomain channel with itself.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>

static int fail(const char *what)
{
	printf("probe: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	const char *env = getenv("XENSIM_DOMID");
	const uint32_t self = env ? (uint32_t)atoi(env) : 0;

	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	if (gs == NULL)
		return fail("xengntshr_open");
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	if (gt == NULL)
		return fail("xengnttab_open");
	xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
	if (ev == NULL)
		return fail("xenevtchn_open");

	uint32_t ref;
	char *page = xengntshr_share_pages(gs, self, 1, &ref, 1);
	if (page == NULL)
		return fail("xengntshr_share_pages");
	strcpy(page, "shared");
	char *map = xengnttab_map_grant_ref(gt, self, ref, PROT_READ | PROT_WRITE);
	if (map == NULL)
		return fail("xengnttab_map_grant_ref");
	if (strcmp(map, "shared") != 0)
		return fail("mapped page content");
	xengnttab_grant_copy_segment_t seg;
	memset(&seg, 0, sizeof(seg));
	seg.source.virt = "copied";
	seg.dest.foreign.domid = (uint16_t)self;
	seg.dest.foreign.ref = ref;
	seg.dest.foreign.offset = 100;
	seg.len = 7;
	seg.flags = GNTCOPY_dest_gref;
	if (xengnttab_grant_copy(gt, 1, &seg) != 0 || seg.status != GNTST_okay ||
	    strcmp(page + 100, "copied") != 0)
		return fail("xengnttab_grant_copy");
	if (xengnttab_unmap(gt, map, 1) != 0)
		return fail("xengnttab_unmap");
	if (xengntshr_unshare(gs, page, 1) != 0)
		return fail("xengntshr_unshare");

	const int a = xenevtchn_bind_unbound_port(ev, self);
	if (a < 0)
		return fail("xenevtchn_bind_unbound_port");
	const int b = xenevtchn_bind_interdomain(ev, self, (evtchn_port_t)a);
	if (b < 0)
		return fail("xenevtchn_bind_interdomain");
	/* Xen sets the new port pending once on bind. */
	struct pollfd p = {xenevtchn_fd(ev), POLLIN, 0};
	if (poll(&p, 1, 2000) != 1 || xenevtchn_pending(ev) != b || xenevtchn_unmask(ev, b) != 0)
		return fail("bind event");
	if (xenevtchn_notify(ev, (evtchn_port_t)a) != 0)
		return fail("xenevtchn_notify");
	if (poll(&p, 1, 2000) != 1 || xenevtchn_pending(ev) != b)
		return fail("xenevtchn_pending");
	xenevtchn_unmask(ev, b);
	xenevtchn_close(ev);
	xengnttab_close(gt);
	xengntshr_close(gs);
	printf("probe ok: gref %u, ports %d->%d\n", ref, a, b);
	return 0;
}
