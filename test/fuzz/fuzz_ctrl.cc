/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Fuzzes the frontend's end of the control ring (xenfront::CtrlRing, netif.h
 * "Control ring") against a backend that writes anything: the input decides
 * which requests the frontend posts and when it gives up waiting, and what
 * the backend puts in response slots — a true answer, another request's,
 * or any bytes — and which response producer index it publishes: in step,
 * behind, or past the requests. Invariants (contract 2, never trust the
 * backend): an answer handed back is the awaited request's, by id and
 * type; a bad answer says why; no more requests outstanding than the ring
 * holds; once the ring is unusable it stays so and refuses requests. ASan
 * watches every read of the page. */

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_check.h"

#include "netif_ring.h"
#include "xenfront_ctrl.h"

namespace
{

using xenfront::CtrlRing;
using Take = CtrlRing::Take;

constexpr unsigned ring_size = xen::one_page_ring_size<xen_netif_ctrl_sring_t>();

/* What the backend does before the frontend looks again. */
void backend_step(FuzzedDataProvider &in, xen::CtrlBackRing &back, xen_netif_ctrl_sring_t *sring,
		  RING_IDX &rsp_prod)
{
	const unsigned writes = in.ConsumeIntegralInRange<unsigned>(0, 3);
	for (unsigned i = 0; i < writes; i++) {
		xen_netif_ctrl_response rsp{};
		if (back.req_cons() != back.req_prod() && in.ConsumeBool()) {
			/* Answer the next request as netback would, or nearly. */
			xen_netif_ctrl_request req = back.copy_request(back.req_cons());
			back.set_req_cons(back.req_cons() + 1);
			rsp.id = req.id;
			rsp.type = req.type;
			rsp.status = in.ConsumeBool() ? XEN_NETIF_CTRL_STATUS_SUCCESS
						      : in.ConsumeIntegral<uint32_t>();
			rsp.data = in.ConsumeIntegral<uint32_t>();
		} else {
			rsp.id = in.ConsumeIntegral<uint16_t>();
			rsp.type = in.ConsumeIntegral<uint16_t>();
			rsp.status = in.ConsumeIntegral<uint32_t>();
			rsp.data = in.ConsumeIntegral<uint32_t>();
		}
		sring->ring[rsp_prod % ring_size].rsp = rsp;
		rsp_prod++;
	}
	/* Publish in step, or any index at all. */
	RING_IDX published = in.ConsumeBool() ? rsp_prod : in.ConsumeIntegral<RING_IDX>();
	__atomic_store_n(&sring->rsp_prod, published, __ATOMIC_RELEASE);
	if (in.ConsumeBool())
		__atomic_store_n(&sring->rsp_event, in.ConsumeIntegral<RING_IDX>(),
				 __ATOMIC_RELEASE);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	/* A heap page of its own each run, so that ASan sees any read past it. */
	void *page = std::aligned_alloc(xen::page_size, xen::page_size);
	CtrlRing ring;
	ring.init(page);
	xen::CtrlBackRing back;
	back.attach(page);
	auto *sring = static_cast<xen_netif_ctrl_sring_t *>(page);
	RING_IDX rsp_prod = 0;
	bool unusable = false;
	bool awaiting = false;
	uint16_t id = 0, type = 0;

	while (in.remaining_bytes() > 0) {
		if (!awaiting || in.ConsumeBool()) {
			/* Post (again, if the last wait "timed out"). */
			uint16_t t = in.ConsumeIntegralInRange<uint16_t>(
				XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
				XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING);
			uint16_t posted_id = 0;
			bool notify = false;
			std::string error;
			bool ok = ring.post(t, in.ConsumeIntegral<uint32_t>(), 0, 0, posted_id,
					    notify, error);
			FUZZ_CHECK(ok || !error.empty());
			FUZZ_CHECK(!(unusable && ok));
			if (ok) {
				awaiting = true;
				id = posted_id;
				type = t;
			}
		}
		backend_step(in, back, sring, rsp_prod);
		if (awaiting) {
			xen_netif_ctrl_response rsp{};
			std::string error;
			switch (ring.take(id, type, rsp, error)) {
			case Take::answered:
				FUZZ_CHECK(rsp.id == id && rsp.type == type);
				awaiting = false;
				break;
			case Take::bad:
				FUZZ_CHECK(!error.empty());
				awaiting = false;
				break;
			case Take::waiting:
				break;
			}
		}
		FUZZ_CHECK(ring.outstanding() <= ring_size);
		FUZZ_CHECK(!unusable || ring.unusable());
		unusable = ring.unusable();
		(void)ring.take_stale();
	}
	std::free(page);
	return 0;
}
