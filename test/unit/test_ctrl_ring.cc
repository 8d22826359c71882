/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* The frontend's control ring (xenfront::CtrlRing) against a backend that
 * answers well, late, badly or with garbage: each answer is matched to its
 * request by id and type, stale answers are dropped, a producer index past
 * the requests makes the ring unusable (and nothing is read past it), and
 * the messages name the request and what the backend did. The last test
 * feeds random responses and producer indexes. */

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "netif_ring.h"
#include "xenfront_ctrl.h"

namespace
{

using xenfront::CtrlRing;
using Take = CtrlRing::Take;

constexpr uint16_t get_size = XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE;
constexpr uint16_t set_key = XEN_NETIF_CTRL_TYPE_SET_HASH_KEY;

struct Page {
	Page() : mem(static_cast<uint8_t *>(std::aligned_alloc(xen::page_size, xen::page_size))) {}
	~Page() { std::free(mem); }
	uint8_t *mem;
};

/* The frontend's ring and a backend's view of the same page. */
struct Rings {
	Rings()
	{
		front.init(page.mem);
		back.attach(page.mem);
	}
	uint16_t post(uint16_t type, uint32_t d0 = 0)
	{
		uint16_t id = 0xffff;
		bool notify = false;
		std::string error;
		EXPECT_TRUE(front.post(type, d0, 0, 0, id, notify, error)) << error;
		return id;
	}
	/* Takes the next request and answers it as `fix` says. */
	template <typename Fix>
	void answer(Fix fix)
	{
		ASSERT_NE(back.req_cons(), back.req_prod());
		xen_netif_ctrl_request req = back.copy_request(back.req_cons());
		back.set_req_cons(back.req_cons() + 1);
		xen_netif_ctrl_response rsp{};
		rsp.id = req.id;
		rsp.type = req.type;
		rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		rsp.data = req.data[0] + 1;
		fix(rsp);
		*back.next_response() = rsp;
		back.push_responses();
	}
	void answer()
	{
		answer([](xen_netif_ctrl_response &) {});
	}
	xen_netif_ctrl_sring_t *sring()
	{
		return reinterpret_cast<xen_netif_ctrl_sring_t *>(page.mem);
	}

	Page page;
	CtrlRing front;
	xen::CtrlBackRing back;
	xen_netif_ctrl_response rsp{};
	std::string error;
};

TEST(CtrlRing, AnswerMatchedByIdAndType)
{
	Rings r;
	uint16_t id = r.post(get_size, 41);
	EXPECT_EQ(id, 0);
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::waiting);
	r.answer();
	ASSERT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::answered) << r.error;
	EXPECT_EQ(r.rsp.data, 42u);
	EXPECT_EQ(r.front.outstanding(), 0u);
	EXPECT_EQ(r.post(set_key), 1);
}

TEST(CtrlRing, LateAnswerIsDroppedNotTaken)
{
	Rings r;
	uint16_t a = r.post(get_size);
	EXPECT_EQ(r.front.take(a, get_size, r.rsp, r.error), Take::waiting);
	/* `a` timed out. The backend answers it, then the next request. */
	uint16_t b = r.post(set_key, 7);
	r.answer();
	EXPECT_EQ(r.front.take(b, set_key, r.rsp, r.error), Take::waiting);
	r.answer();
	ASSERT_EQ(r.front.take(b, set_key, r.rsp, r.error), Take::answered) << r.error;
	EXPECT_EQ(r.rsp.data, 8u);
	EXPECT_EQ(r.front.take_stale(), 1u);
	EXPECT_EQ(r.front.take_stale(), 0u);
}

TEST(CtrlRing, LateAnswerBeforeTheNextPostIsDrained)
{
	Rings r;
	r.post(get_size);
	r.answer(); /* after the wait gave up */
	uint16_t b = r.post(get_size);
	EXPECT_EQ(r.front.take_stale(), 1u);
	EXPECT_EQ(r.front.take(b, get_size, r.rsp, r.error), Take::waiting);
	r.answer();
	EXPECT_EQ(r.front.take(b, get_size, r.rsp, r.error), Take::answered);
}

TEST(CtrlRing, WrongIdOrTypeNamed)
{
	Rings r;
	uint16_t id = r.post(get_size);
	r.answer([](xen_netif_ctrl_response &rsp) { rsp.id = 0x8000; });
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::bad);
	EXPECT_EQ(r.error, "the backend answered control request GET_HASH_MAPPING_SIZE (id 0) "
			   "with id 32768, not one awaited");
	/* An id ahead of ours is not stale either. */
	id = r.post(get_size);
	r.answer([](xen_netif_ctrl_response &rsp) { rsp.id = static_cast<uint16_t>(rsp.id + 1); });
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::bad);
	id = r.post(get_size);
	r.answer([](xen_netif_ctrl_response &rsp) { rsp.type = 99; });
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::bad);
	EXPECT_EQ(r.error, "the backend answered control request GET_HASH_MAPPING_SIZE (id 2) "
			   "with type 99 (unknown)");
	/* The ring is still in step: the next call works. */
	id = r.post(get_size);
	r.answer();
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::answered) << r.error;
	EXPECT_FALSE(r.front.unusable());
}

TEST(CtrlRing, ProducerPastTheRequestsMakesTheRingUnusable)
{
	Rings r;
	uint16_t id = r.post(get_size);
	__atomic_store_n(&r.sring()->rsp_prod, 300u, __ATOMIC_RELEASE);
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::bad);
	EXPECT_EQ(r.error, "the backend's response producer index 300 ran past the 1 outstanding "
			   "request(s) (response consumer 0) at control request "
			   "GET_HASH_MAPPING_SIZE (id 0); the control ring is unusable until the "
			   "next connection");
	EXPECT_TRUE(r.front.unusable());
	/* Even once the index looks sane again. */
	__atomic_store_n(&r.sring()->rsp_prod, 1u, __ATOMIC_RELEASE);
	uint16_t next = 0;
	bool notify = false;
	EXPECT_FALSE(r.front.post(get_size, 0, 0, 0, next, notify, r.error));
	EXPECT_EQ(r.error.rfind("cannot send control request GET_HASH_MAPPING_SIZE (id 1): the "
				"backend's response producer index 300 ran past",
				0),
		  0u)
		<< r.error;
	/* A new connection formats the ring again. */
	r.front.init(r.page.mem);
	EXPECT_FALSE(r.front.unusable());
	EXPECT_EQ(r.post(get_size), 0);
}

TEST(CtrlRing, ProducerBehindTheConsumerIsCaught)
{
	Rings r;
	uint16_t id = r.post(get_size);
	r.answer();
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::answered);
	__atomic_store_n(&r.sring()->rsp_prod, 0u, __ATOMIC_RELEASE);
	uint16_t next = 0;
	bool notify = false;
	EXPECT_FALSE(r.front.post(get_size, 0, 0, 0, next, notify, r.error));
	EXPECT_TRUE(r.front.unusable());
}

TEST(CtrlRing, FullOfUnansweredRequests)
{
	Rings r;
	for (unsigned i = 0; i < xen::CtrlFrontRing::size; i++)
		r.post(get_size);
	uint16_t id = 0;
	bool notify = false;
	EXPECT_FALSE(r.front.post(get_size, 0, 0, 0, id, notify, r.error));
	EXPECT_EQ(r.error, "cannot send control request GET_HASH_MAPPING_SIZE (id 128): the "
			   "backend left all 128 requests on the control ring unanswered");
	/* Answers to all of them free the ring; each is stale. */
	for (unsigned i = 0; i < xen::CtrlFrontRing::size; i++)
		r.answer();
	id = r.post(get_size);
	EXPECT_EQ(r.front.take_stale(), xen::CtrlFrontRing::size);
	r.answer();
	EXPECT_EQ(r.front.take(id, get_size, r.rsp, r.error), Take::answered);
}

/* Random backends: each step answers well, late, not at all, with random
 * bytes, or moves the producer index anywhere. Whatever it does, an
 * `answered` is the answer to the request awaited, the frontend's indexes
 * stay within the requests it posted, and a well-behaved backend after a
 * bad answer (the ring still usable) is understood again. */
TEST(CtrlRing, RandomBackends)
{
	std::mt19937 rng(20261122);
	unsigned answered = 0, bad = 0, unusable = 0, stale = 0;
	for (int round = 0; round < 3000; round++) {
		Rings r;
		for (int step = 0; step < 40; step++) {
			uint16_t id = 0;
			bool notify = false;
			const uint16_t type = static_cast<uint16_t>(1 + rng() % 7);
			const uint32_t d0 = rng();
			if (!r.front.post(type, d0, 0, 0, id, notify, r.error)) {
				EXPECT_FALSE(r.error.empty());
				break;
			}
			const unsigned what = rng() % 16;
			RING_IDX back_prod = r.back.req_prod();
			if (what <= 5) {
				/* Answer every pending request well, in order. */
				while (r.back.req_cons() != back_prod)
					r.answer();
			} else if (what <= 7) {
				/* Answer only some (the rest comes later, or never). */
				if (r.back.req_cons() != back_prod)
					r.answer();
			} else if (what <= 9) {
				/* Random bytes in the next response slots. */
				unsigned n = rng() % 4;
				for (unsigned k = 0; k < n && r.back.req_cons() != back_prod; k++) {
					r.back.set_req_cons(r.back.req_cons() + 1);
					xen_netif_ctrl_response *slot = r.back.next_response();
					uint32_t words[3] = {static_cast<uint32_t>(rng()),
							     static_cast<uint32_t>(rng()),
							     static_cast<uint32_t>(rng())};
					std::memcpy(static_cast<void *>(slot), words,
						    sizeof(*slot));
				}
				r.back.push_responses();
			} else if (what == 10) {
				/* A producer index anywhere. */
				__atomic_store_n(
					&r.sring()->rsp_prod,
					static_cast<RING_IDX>(rng() % 2 ? rng() : rng() % 300),
					__ATOMIC_RELEASE);
			} /* else: silent */
			const unsigned before = r.front.outstanding();
			Take got = r.front.take(id, type, r.rsp, r.error);
			EXPECT_LE(r.front.outstanding(), before);
			EXPECT_LE(r.front.outstanding(), xen::CtrlFrontRing::size);
			if (got == Take::answered) {
				EXPECT_EQ(r.rsp.id, id);
				EXPECT_EQ(r.rsp.type, type);
				answered++;
			} else if (got == Take::bad) {
				EXPECT_FALSE(r.error.empty());
				bad++;
				if (r.front.unusable()) {
					unusable++;
					break;
				}
			}
		}
		stale += r.front.take_stale();
	}
	/* Every path was taken, many times. */
	EXPECT_GT(answered, 10000u);
	EXPECT_GT(bad - unusable, 1000u);
	EXPECT_GT(unusable, 1000u);
	EXPECT_GT(stale, 1000u);
	std::printf("answered %u, bad %u (unusable %u), stale %u\n", answered, bad, unusable,
		    stale);
}

/* A well-behaved backend that answers only after the frontend gave up on
 * some requests: every call whose answer came is answered with its own
 * data, never another's. */
TEST(CtrlRing, HonestButSlowBackend)
{
	std::mt19937 rng(7);
	Rings r;
	for (int call = 0; call < 5000; call++) {
		const uint32_t d0 = static_cast<uint32_t>(call) * 2;
		uint16_t id = r.post(get_size, d0);
		/* The backend catches up with some of the requests pending. */
		RING_IDX prod = r.back.req_prod();
		unsigned pending = prod - r.back.req_cons();
		unsigned n = rng() % (pending + 1);
		for (unsigned k = 0; k < n; k++)
			r.answer();
		Take got = r.front.take(id, get_size, r.rsp, r.error);
		if (n == pending) {
			ASSERT_EQ(got, Take::answered) << r.error;
			EXPECT_EQ(r.rsp.data, d0 + 1);
		} else {
			EXPECT_EQ(got, Take::waiting) << r.error;
		}
		/* Keep the ring from filling: the backend wakes up now and then. */
		if (call % 50 == 49)
			while (r.back.req_cons() != r.back.req_prod())
				r.answer();
	}
	EXPECT_FALSE(r.front.unusable());
}

} // namespace
