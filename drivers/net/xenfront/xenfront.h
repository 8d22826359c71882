/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Internal state of net_xenfront.
 *
 * Shared with the data path (plain structs, in rte_malloc memory):
 * Adapter (dev_private), RxQueue, TxQueue. Process-private C++ owners of
 * the store, grants and event channels live in Control (xenfront_xenbus.h),
 * reached through dev->process_private.
 *
 * The control path and the data path share one generation word per queue
 * (common/xen/queue_sync.h). */

#include <cstdint>
#include <optional>
#include <string>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "counter.h"
#include "netif_ring.h"
#include "queue_sync.h"
#include "xenfront_granted.h"
#include "xenfront_offload.h"

struct rte_eth_dev;

namespace xenfront
{

struct FanoutState; /* xenfront_fanout.h */

/* Xen device ids are small integers; netfront's vif handle is one. */
constexpr uint32_t max_vif_index = 65535;
constexpr unsigned ring_size = xen::rx_ring_size; /* 256, both rings */
/* Descriptors an application may ask for per queue: any count up to this
 * is accepted and the queue uses min(count, ring_size), as the virtio PMD
 * advertises 32768 and clamps to its ring (virtio_rxtx.c). OVS-DPDK asks
 * for 2048 and dpdk-test's pmd_perf_autotest for 1024 unless told. */
constexpr uint16_t max_desc_asked = 32768;
constexpr unsigned default_burst = 32;
/* Queue pairs this driver drives on one vif (the backend may offer fewer). */
constexpr uint16_t max_queue_pairs = 8;
constexpr uint32_t default_connect_timeout_ms = 10000;
/* A live backend follows Closing and Closed in milliseconds (Linux netback
 * too); a dead or stuck one never does. Linux netfront waits up to 5 s for
 * each step; we hold stop, close and Ctrl-C to well under a second. */
constexpr uint32_t default_close_timeout_ms = 500;
/* Redirection table entries: netback's hash mapping table holds 128
 * (XEN_NETBK_MAX_HASH_MAPPING_SIZE), a multiple of RTE_ETH_RETA_GROUP_SIZE. */
constexpr uint16_t reta_size = 128;
/* Multicast addresses the backend filters on: Linux netback keeps 64
 * (XEN_NETBK_MCAST_MAX) and refuses more. */
constexpr uint32_t max_mcast_addrs = 64;
/* rx_copybreak unset: every frame is copied, no page is lent. */
constexpr uint32_t copybreak_off = UINT32_MAX;
/* Receive pages per queue: one per descriptor plus as many spares, which
 * take the place in the ring of pages lent to the application. */
constexpr unsigned max_rx_pages = 2 * ring_size;

/* What the devargs ask for (see xenfront_devargs.h). */
struct Config {
	uint32_t vif = 0;
	uint32_t connect_timeout_ms = default_connect_timeout_ms;
	uint32_t close_timeout_ms = default_close_timeout_ms;
	bool fanout = false;        /* serve extra queues in software (xenfront_fanout.h) */
	bool static_grants = false; /* ask the backend to keep our buffers mapped */
	/* trusted= given: overrides device/vif/N/trusted. */
	std::optional<bool> trusted;
	/* Received frames longer than this are lent to the application as
	 * external buffers, not copied (xenfront_rxpages.h). */
	uint32_t rx_copybreak = copybreak_off;
};

/* Parses net_xenfront devargs strictly; false with a message naming the key. */
bool parse_config(const char *args, Config &config, std::string &error);

/* Counters of one rx queue; the per-queue xstats are these fields. */
struct RxStats {
	xen::Counter packets;
	xen::Counter bytes;
	xen::Counter errors; /* packets the backend marked as errors */
	xen::Counter mbuf_alloc_failed;
	xen::Counter notifications;  /* event-channel kicks sent for new buffers */
	xen::Counter bad_responses;  /* ids/sizes/offsets that break netif.h */
	xen::Counter oversize;       /* longer than the configured frame size */
	xen::Counter too_many_slots; /* more than XEN_NETIF_NR_SLOTS_MIN fragments */
	xen::Counter extra_info;     /* extra-info slots seen (and ignored) */
	xen::Counter gso_packets;    /* GSO extras received (LRO packets) */
	xen::Counter csum_blank;     /* packets with NETRXF_csum_blank */
	/* The backend broke netif.h; each packet counts in one of these (and in
	 * bad_responses) and is dropped, the queue stays up. */
	xen::Counter bad_id;     /* id is not the one posted in that ring slot */
	xen::Counter bad_status; /* negative status other than ERROR/DROPPED */
	xen::Counter bad_size;   /* offset + size past the end of the page */
	xen::Counter bad_extra;  /* extra-info type not negotiated, or chain too long */
	xen::Counter bad_chain;  /* every buffer answered, packet still incomplete */
	/* Producer index past the requests posted: the queue stops. */
	xen::Counter ring_overrun;
	/* Software fan-out (xenfront_fanout.h): packets and bytes this queue
	 * handed to the application; packets this queue's ring could not
	 * place (another group filled the destination); the lcore polling it
	 * (LCORE_ID_ANY until polled). */
	xen::Counter fanout_packets;
	xen::Counter fanout_bytes;
	xen::Counter fanout_dropped;
	xen::Counter lcore;
	xen::Counter bursts; /* ring bursts that delivered at least one packet */
	/* rx_copybreak: packets delivered in lent pages (external buffers),
	 * not copied; packets over the copy-break copied because no spare
	 * page was left to post in place of theirs. */
	xen::Counter attached;
	xen::Counter copybreak_fallback;
	/* Packets this queue received from netif queues that no application
	 * rx queue polls (more tx than rx queues configured). */
	xen::Counter unpolled_packets;
};

struct TxStats {
	xen::Counter packets;
	xen::Counter bytes;
	xen::Counter errors;  /* backend answered ERROR/DROPPED */
	xen::Counter dropped; /* refused here: oversize or malformed mbuf */
	xen::Counter notifications;
	xen::Counter ring_full; /* bursts cut short for lack of slots */
	xen::Counter bad_responses;
	xen::Counter offload_refused; /* offloads netif cannot describe (see tx_prepare) */
	xen::Counter bad_status;      /* status out of range (the id is taken back) */
	/* These stop the queue: an answer was lost, so an id never returns. */
	xen::Counter bad_id;       /* id not in flight (never issued, or twice) */
	xen::Counter lost_ids;     /* every request answered, ids still in flight */
	xen::Counter ring_overrun; /* producer index past the requests written */
	/* Software fan-out: packets and bytes this queue passed to its ring;
	 * the lcore sending on it (LCORE_ID_ANY until used). */
	xen::Counter fanout_packets;
	xen::Counter fanout_bytes;
	xen::Counter lcore;
	xen::Counter bursts; /* ring bursts that enqueued at least one packet */
	/* Packets sent from granted memory without a copy (xenfront_granted.h). */
	xen::Counter zero_copy_packets;
	/* Multicast filter changes (MCAST_ADD/DEL requests, sent by the
	 * control path on queue 0) and those the backend answered ERROR (its
	 * list full); neither is a packet. */
	xen::Counter multicast_requests;
	xen::Counter multicast_refused;
};

struct RxQueue {
	/* Hot: touched every burst. */
	xen::RxFrontRing ring;
	uint8_t *pages; /* the queue's page block: page p at pages + p * 4096 */
	struct rte_mempool *mp;
	uint16_t nb_desc;    /* buffers posted (a power of two ≤ 256) */
	uint16_t nb_to_post; /* ids in to_post[] */
	uint16_t data_room;  /* mbuf data room after headroom */
	uint32_t max_frame;  /* longest frame accepted (queue_max_frame) */
	bool broken;         /* the backend broke the protocol */
	bool l4_csum;        /* RX TCP/UDP checksum offload enabled */
	bool ipv4_csum;      /* RX IPv4 checksum offload enabled (verified here) */
	bool lro;            /* RX TCP LRO enabled: GSO packets accepted */
	bool rss_hash;       /* RX RSS hash offload: hash extras into mbuf->hash.rss */
	/* Bit (1 << XEN_NETIF_EXTRA_TYPE_*) for each extra-info type the
	 * negotiated features let the backend send on this ring: GSO when we
	 * asked for it (LRO), HASH when RSS is configured. Set at start. */
	uint8_t rx_extras;
	FanoutState *fanout; /* software fan-out, else nullptr */
	/* Rings of netif queues beyond the application's rx queues, which this
	 * queue reads after (or, in turn, before) its own: ring r goes to
	 * application queue r % nb_rx_queues. Set at start. */
	uint8_t nb_unpolled;
	uint8_t unpolled_turn; /* the ring read first by the next burst: 0 own */
	RxQueue *unpolled[max_queue_pairs - 1];
	xen::Notifier notify;
	RxStats stats;
	uint16_t port_id;
	uint16_t queue_id;

	/* Lending pages (rx_copybreak, xenfront_rxpages.h): frames longer
	 * than `copybreak` go to the application in their page, attached to
	 * an mbuf as an external buffer, and a spare page is posted with
	 * their id. Pages come back through `returned` when the application
	 * frees the mbuf. Without rx_copybreak: copybreak_off, no spares,
	 * null pointers. */
	uint32_t copybreak;
	uint16_t nb_pages;         /* pages in the block: nb_desc + spares */
	uint16_t nb_home;          /* pages in spare_home[] */
	uint16_t nb_extra;         /* pages in spare_extra[] */
	bool iova_va;              /* IOVA as VA: an attached page's IOVA is its address */
	uint32_t lent;             /* pages lent in this burst, not yet in *lent_refs */
	uint32_t *lent_refs;       /* the page block's reference count (RxPages) */
	struct rte_ring *returned; /* page addresses the application freed (MP/SC) */
	/* One per page, in private memory: never in a granted page, where the
	 * backend could rewrite its free callback. */
	struct rte_mbuf_ext_shared_info *shinfo;

	/* Buffer bookkeeping. */
	uint32_t grefs[max_rx_pages]; /* by page */
	uint16_t page_of[ring_size];  /* the page request id i posts */
	/* Pages neither posted nor lent: the first nb_desc pages of the block
	 * (its "home" pages, those static_grants has the backend map) are
	 * posted before the others, so that the ring goes back to them. */
	uint16_t spare_home[ring_size];
	uint16_t spare_extra[max_rx_pages - ring_size];
	uint16_t to_post[ring_size];        /* ids consumed, to repost */
	uint16_t posted_at[ring_size];      /* id posted at ring position & mask */
	uint8_t outstanding[ring_size];     /* 1 while the backend owns the buffer */
	netif_rx_response slots[ring_size]; /* private copies of one packet's slots */

	xen::QueueSync sync;
};

/* A transmit copy slot: half a page, so a queue's 256 ids take 128 grants
 * and a queue pair 1 + 128 + 1 + 256 = 386: two pairs and the control
 * ring's two pages (774) fit gntalloc's default limit of 1024 per domain,
 * three pairs (1158) do not. netif.h lets a tx request start at any offset as
 * long as offset + size stays in its page; Linux netback and net_xenback
 * copy (or read a static grant) from req.offset. A 1514-byte frame fits
 * one slot; longer ones chain slots (feature-sg). */
constexpr uint16_t tx_slot_size = 2048;

/* A tx queue's slot: half a page, unless a packet could then need more
 * slots than Linux netback takes (XEN_NETBK_LEGACY_SLOTS_MAX, 18; past 20
 * it disconnects the frontend): a TSO packet up to 64 KiB or a frame over
 * 18 * 2048 bytes keeps a page per slot (17 for 64 KiB). */
constexpr uint16_t tx_slot_size_for(bool tso, uint32_t max_frame) noexcept
{
	return tso || max_frame > xen::max_tx_slots_per_packet * tx_slot_size
		       ? uint16_t(xen::page_size)
		       : tx_slot_size;
}

/* What an id in flight carries (TxQueue::inflight). */
constexpr uint8_t tx_inflight_packet = 1;
constexpr uint8_t tx_inflight_mcast = 2; /* a multicast filter change, no mbuf */

struct TxQueue {
	xen::TxFrontRing ring;
	/* Request id i owns the slot_size bytes at pages + i * slot_size:
	 * two ids per granted page (tx_slot_size), one without feature-sg. */
	uint8_t *pages;
	uint16_t nb_desc;
	uint16_t nb_free;   /* ids in free_ids[] */
	uint16_t slot_size; /* tx_slot_size or xen::page_size */
	uint16_t nb_pages;  /* pages granted for the slots */
	uint32_t max_frame; /* queue_max_frame */
	bool broken;
	bool sg;             /* backend accepts multi-slot packets */
	TxOffloadCaps caps;  /* what the backend completes or segments */
	FanoutState *fanout; /* software fan-out, else nullptr */
	xen::Notifier notify;
	TxStats stats;
	uint16_t port_id;
	uint16_t queue_id;

	/* The port's granted regions (in its Adapter): mbufs whose data lies
	 * there are sent without a copy. */
	const GrantedRegions *granted;

	uint32_t grefs[ring_size]; /* by id: the grant of the id's page */
	uint16_t free_ids[ring_size];
	uint8_t inflight[ring_size]; /* 0 free, else tx_inflight_* */
	/* A packet sent without a copy stays ours until the backend answers:
	 * its mbuf is kept on the id of its first slot (nullptr otherwise)
	 * and freed with that answer, or when the ring is reset. */
	rte_mbuf *held[ring_size];

	xen::QueueSync sync;
};

/* A queue's longest frame: mtu_set may change it while the bursts run (as
 * ethdev and Linux netfront allow), so each burst reads it once, relaxed. */
template <typename Queue>
inline uint32_t queue_max_frame(const Queue &q) noexcept
{
	return __atomic_load_n(&q.max_frame, __ATOMIC_RELAXED);
}

class Control;

/* dev_private. */
struct Adapter {
	rte_ether_addr mac;
	uint32_t vif_mtu;   /* the vif's "mtu" node, 1500 if absent */
	uint32_t max_frame; /* set at configure: mtu + L2 overhead */
	/* The backend's features as last learnt, for secondary processes
	 * (the primary asks its Control); the primary's control thread
	 * rewrites them when the backend restarts: publish_features() and
	 * atomic loads. */
	uint32_t backend_max_queues;
	bool backend_sg;
	bool backend_ctrl_ring; /* RSS possible */
	TxOffloadCaps tx_caps;  /* for secondary processes' dev_infos */
	/* Software fan-out state, kept from configure to close; in use from
	 * start to stop when fanout_active. */
	FanoutState *fanout;
	bool fanout_active;
	/* The netif queue pairs connected (set at configure): as many as the
	 * larger of the rx and tx queue counts, or under fan-out the rx count
	 * bounded by the backend's. Ring r's queues are the application's
	 * queue r where there is one, else queues of the driver's own, which
	 * the driver allocates at start and frees at configure and close:
	 * an rx queue whose packets application rx queue r % nb_rx receives,
	 * a tx queue that sends nothing. */
	uint16_t nb_rings;
	RxQueue *ring_rxq[max_queue_pairs];
	TxQueue *ring_txq[max_queue_pairs];
	RxQueue *own_rxq[max_queue_pairs]; /* the driver's own, or nullptr */
	TxQueue *own_txq[max_queue_pairs];
	/* Control-ring requests that failed: no answer in time, a malformed
	 * answer, a refusal or an answer RSS cannot use (xstat ctrl_errors).
	 * Written by the control path with atomics. */
	uint64_t ctrl_errors;
	/* Times the store connection broke (store daemon restarted without a
	 * live update) and was reopened (xstat store_reconnects). */
	uint64_t store_reconnects;
	/* Memory granted to the backend that tx may reference directly. */
	GrantedRegions granted;
	Config config;
	char name[RTE_DEV_NAME_MAX_LEN];
};

/* Data path (xenfront_rx.cc, xenfront_tx.cc). */
extern "C" uint16_t xenfront_rx_burst(void *rxq, rte_mbuf **pkts, uint16_t nb_pkts);
extern "C" uint16_t xenfront_tx_burst(void *txq, rte_mbuf **pkts, uint16_t nb_pkts);
extern "C" uint16_t xenfront_tx_prepare(void *txq, rte_mbuf **pkts, uint16_t nb_pkts);

/* What an application asks of a queue between its bursts, from the
 * queue's lcore as the bursts (xenfront_queue_status.cc). */
extern "C" uint32_t xenfront_rx_queue_count(void *rxq);
extern "C" int xenfront_rx_descriptor_status(void *rxq, uint16_t offset);
extern "C" int xenfront_tx_descriptor_status(void *txq, uint16_t offset);
/* Takes back what the backend has answered now rather than at the next
 * burst; the mbufs freed (zero-copy sends: copied ones are freed when
 * sent). xenfront_tx.cc. */
unsigned tx_queue_cleanup(TxQueue &q) noexcept;
/* Control path, the data path kept off the ring (queue_retract): writes a
 * multicast filter change (netif.h "Multicast control") for each of
 * `addrs`, XEN_NETIF_EXTRA_TYPE_MCAST_ADD or _DEL, as many as free ids and
 * ring slots allow after taking back what the backend answered; pushes and
 * notifies. Returns how many were written. xenfront_tx.cc. */
unsigned tx_queue_send_mcast(TxQueue &q, const rte_ether_addr *addrs, unsigned n,
			     bool add) noexcept;

/* The bursts on a netif ring itself (the fan-out calls them). */
uint16_t ring_rx_burst(RxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept;
uint16_t ring_tx_burst(TxQueue &q, rte_mbuf **pkts, uint16_t nb_pkts) noexcept;

/* Ring (re)initialisation, by the control path while the data path keeps
 * off the ring: an empty ring with every rx buffer posted. */
void rx_queue_reset(RxQueue &q) noexcept;
void tx_queue_reset(TxQueue &q) noexcept;
/* Frees the mbufs a queue holds for requests still unanswered, once the
 * backend can no longer read them (its ring reset, or the backend closed). */
void tx_queue_release_held(TxQueue &q) noexcept;
/* At queue set-up: `nb_pages` pages in the block (≥ nb_desc): request id i
 * posts page i, the others are spares. Without lending, copybreak_off. */
void rx_pages_init(RxQueue &q, uint16_t nb_pages) noexcept;

} // namespace xenfront
