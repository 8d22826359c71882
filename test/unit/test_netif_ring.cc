/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The typed ring wrapper over xen/io/ring.h: a front and a back ring on one
 * page exchange requests and responses, and the event indexes ask for
 * notifications exactly when ring.h says they should. */

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "netif_ring.h"

namespace
{

struct Page {
	Page() : mem(static_cast<uint8_t *>(std::aligned_alloc(xen::page_size, xen::page_size))) {}
	~Page() { std::free(mem); }
	uint8_t *mem;
};

TEST(NetifRing, SizesComeFromTheHeader)
{
	EXPECT_EQ(xen::TxFrontRing::size, 256u);
	EXPECT_EQ(xen::RxFrontRing::size, 256u);
	EXPECT_EQ(xen::CtrlFrontRing::size, xen::ctrl_ring_size);
}

TEST(NetifRing, RequestsAndResponsesRoundTrip)
{
	Page page;
	xen::TxFrontRing front;
	xen::TxBackRing back;
	front.init(page.mem);
	back.attach(page.mem);
	EXPECT_EQ(front.free_requests(), 256u);

	for (uint16_t i = 0; i < 3; i++) {
		netif_tx_request *req = front.next_request();
		*req = netif_tx_request{};
		req->id = i;
		req->size = static_cast<uint16_t>(100 + i);
	}
	/* A fresh ring has req_event 1: the first push notifies. */
	EXPECT_TRUE(front.push_requests());
	EXPECT_EQ(front.free_requests(), 253u);

	RING_IDX prod = back.req_prod();
	ASSERT_EQ(prod, 3u);
	EXPECT_FALSE(back.req_prod_overflow(prod));
	for (RING_IDX i = back.req_cons(); i != prod; i++) {
		netif_tx_request req = back.copy_request(i);
		EXPECT_EQ(req.size, 100 + i);
		netif_tx_response *rsp = back.next_response();
		rsp->id = req.id;
		rsp->status = NETIF_RSP_OKAY;
	}
	back.set_req_cons(prod);
	/* The backend did not re-arm req_event: further pushes stay silent. */
	front.next_request()->id = 3;
	EXPECT_FALSE(front.push_requests());

	EXPECT_TRUE(back.push_responses()); /* rsp_event starts at 1 */
	RING_IDX rprod = front.rsp_prod();
	ASSERT_EQ(rprod, 3u);
	EXPECT_FALSE(front.rsp_prod_overflow(rprod));
	for (RING_IDX i = front.rsp_cons(); i != rprod; i++)
		EXPECT_EQ(front.copy_response(i).id, i);
	front.set_rsp_cons(rprod);
	EXPECT_EQ(front.free_requests(), 255u);
}

TEST(NetifRing, FinalCheckArmsTheEventIndex)
{
	Page page;
	xen::RxFrontRing front;
	xen::RxBackRing back;
	front.init(page.mem);
	back.attach(page.mem);

	front.next_request()->id = 0;
	front.push_requests();
	back.set_req_cons(back.req_prod());
	/* Nothing new: the backend arms req_event and goes idle... */
	EXPECT_FALSE(back.final_check_for_requests());
	/* ...so the frontend's next push must notify. */
	front.next_request()->id = 1;
	EXPECT_TRUE(front.push_requests());
	EXPECT_TRUE(back.final_check_for_requests());
}

TEST(NetifRing, ProducerOverflowIsDetected)
{
	Page page;
	xen::RxFrontRing front;
	front.init(page.mem);
	EXPECT_FALSE(front.rsp_prod_overflow(256));
	EXPECT_TRUE(front.rsp_prod_overflow(257));
	EXPECT_TRUE(front.rsp_prod_overflow(static_cast<RING_IDX>(-1)));
}

TEST(NetifRing, ResponsesPastTheRequestsAreDetected)
{
	Page page;
	xen::RxFrontRing front;
	front.init(page.mem);
	/* Nothing requested: any response is one too many. */
	EXPECT_FALSE(front.rsp_prod_past_requests(0));
	EXPECT_TRUE(front.rsp_prod_past_requests(1));
	for (int i = 0; i < 10; i++)
		front.next_request()->id = static_cast<uint16_t>(i);
	EXPECT_FALSE(front.rsp_prod_past_requests(10));
	EXPECT_TRUE(front.rsp_prod_past_requests(11));
	/* Within the ring size, but past the requests, or backwards. */
	EXPECT_TRUE(front.rsp_prod_past_requests(200));
	EXPECT_TRUE(front.rsp_prod_past_requests(static_cast<RING_IDX>(-1)));
	front.set_rsp_cons(4);
	EXPECT_FALSE(front.rsp_prod_past_requests(4));
	EXPECT_TRUE(front.rsp_prod_past_requests(3));
}

} // namespace
