/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Internal state of net_xenback, the dom0-side PMD that serves one guest's
 * vif the way Linux xen-netback does.
 *
 * Naming follows the ethdev view: the port's RxQueue receives what the
 * guest transmits (the netif tx ring), its TxQueue sends what the guest
 * receives (the netif rx ring). Plain structs shared with the data path;
 * process-private owners in Control (xenback_xenbus.h). */

#include <cstdint>
#include <optional>
#include <string>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "counter.h"
#include "netif_ring.h"
#include "queue_sync.h"
#include "xenback_ctrl.h"
#include "xenback_gref.h"
#include "xenback_mcast.h"
#include "xenback_rsc.h"
#include "xenback_hostile.h"

extern "C" {
#include <xengnttab.h>
}

namespace xenback
{

/* DOMID_FIRST_RESERVED in xen.h is 0x7ff0; guests are below it. */
constexpr uint32_t max_guest_domid = 0x7fef;
constexpr uint32_t max_vif_index = 65535;
/* domain=<name>: the longest guest name taken (libxl sets no bound; the
 * devarg must fit dev_private). */
constexpr size_t max_domain_name = 127;
constexpr unsigned ring_size = xen::tx_ring_size;
constexpr uint16_t max_queue_pairs = 8;
constexpr unsigned default_burst = 32;
/* Grant-copy segments one burst may build: a slot of up to 4 KiB lands in
 * at most three mbuf pieces of 2 KiB, and a burst covers at most a ring. */
constexpr unsigned max_copy_segs = 3 * ring_size;
/* Received packets kept for the next burst when segmenting a guest's GSO
 * packet yields more than the application asked for (64 KiB / 536 B MSS). */
constexpr unsigned stash_size = 128;

enum class NotifyStyle { interrupt, poll };

struct Config {
	/* The guest: exactly one of a domain id or a name (followed across the
	 * guest's restarts, each with a new domain id). */
	std::optional<uint32_t> domid;
	char domain[max_domain_name + 1] = {}; /* "" unless domain= */
	uint32_t vif = 0;
	NotifyStyle style = NotifyStyle::interrupt;
	bool sg = true;
	bool rx_copy = true;
	bool split_event_channels = true;
	bool csum = true;
	bool ipv6_csum = true;
	bool gso_tcpv4 = true;
	bool gso_tcpv6 = true;
	bool rsc = false;
	uint16_t max_queues = 1;
	bool ctrl_ring = true;
	bool multicast_control = true;         /* feature-multicast-control */
	bool dynamic_multicast_control = true; /* feature-dynamic-multicast-control */
	bool zerocopy = false;                 /* lend statically granted tx pages (zerocopy=) */
	HostileConfig hostile;                 /* testing only: break netif.h on purpose */
};

/* Parses net_xenback devargs strictly, including the required keys. */
bool parse_config(const char *args, Config &config, std::string &error);

struct RxStats { /* guest transmit → port receive */
	xen::Counter packets;
	xen::Counter bytes;
	xen::Counter errors; /* packets answered NETIF_RSP_ERROR */
	xen::Counter mbuf_alloc_failed;
	xen::Counter copy_errors;      /* grant-copy segments that failed */
	xen::Counter notifications;    /* event-channel kicks to the frontend */
	xen::Counter wakeups;          /* frontend kicks taken (interrupt style) */
	xen::Counter fatal_errors;     /* requests that disable the vif */
	xen::Counter multicast_ops;    /* XEN_NETIF_EXTRA_TYPE_MCAST_* requests */
	xen::Counter gso_packets;      /* GSO packets from the guest */
	xen::Counter segmented;        /* segments made here from them (no LRO) */
	xen::Counter csum_completed;   /* blank checksums completed here */
	xen::Counter csum_errors;      /* blank checksum or GSO on unparseable headers */
	xen::Counter hostile_injected; /* responses corrupted on purpose (hostile=) */
	xen::Counter bursts;           /* bursts that delivered at least one packet */
	xen::Counter mapped_copies;    /* packets read through a static grant: no grant copy */
	xen::Counter snooped_markers;  /* hostile=snoop: the marker seen in granted pages */
	xen::Counter zerocopy;         /* packets whose payload was lent, not copied (zerocopy=1) */
	xen::Counter zc_fallbacks;     /* lendable packets copied: too many lent already */
	xen::Counter zc_pending;       /* lent now: the application holds them (a gauge) */
};

/* Zero-copy guest transmit (zerocopy=1), as Linux netback keeps a guest's
 * tx pages grant-mapped under an skb's frags and answers the request from
 * the skb's destructor (xenvif_zerocopy_callback): a single-slot packet
 * whose page the guest granted statically (already mapped) reaches the
 * application as two segments, its first zc_head bytes copied into the
 * head mbuf (netback copies its first XEN_NETBACK_TX_COPY_LEN = 128 bytes:
 * headers the guest can no longer change under the application's checks),
 * the rest an external buffer on the mapped page. Its response is written
 * when the application frees that segment, on whatever lcore: the free
 * callback queues the slot on `done` (multi-producer, single-consumer), the
 * next rx burst answers it.
 *
 * The block outlives its queue while pages are lent (one reference for the
 * queue, one per lent slot), like net_xenfront's RxPages. The mappings
 * themselves belong to the control path, which keeps a region mapped while
 * a lent slot points into it (Control::retire_regions, xenback_gref.cc). */
constexpr uint32_t zc_head = 128;
/* Lent at most: the rest of the ring goes by copy, so an application that
 * holds mbufs slows this vif's copies, no more, and dom0 pins at most half
 * a ring of the guest's pages per queue. */
constexpr uint32_t zc_max_lent = ring_size / 2;
/* Smaller packets are copied: two segments and a deferred response cost
 * more than copying a few hundred bytes (measured with the callgrind gate). */
constexpr uint32_t zc_min_size = 512;
constexpr uint32_t zc_spares = 32;

struct ZeroCopy;
struct RxQueue;

struct ZcSlot {
	rte_mbuf_ext_shared_info shinfo; /* private memory: the guest cannot reach it */
	ZeroCopy *owner;
	uint8_t *page; /* __atomic: the lent page, nullptr once the application freed it */
	uint32_t gen;  /* the queue's ctrl_gen when lent: no response on a later ring */
	uint16_t id;   /* the request's id, for its response */
};

struct ZeroCopy {
	struct rte_ring *done; /* ZcSlot * freed by the application */
	uint32_t refs;         /* __atomic: the queue's, and one per lent slot */
	uint32_t lent;         /* data path only: slots out (the xstat zc_pending is its copy) */
	uint32_t nb_free;      /* data path only */
	bool iova_va;          /* RTE_IOVA_VA: a page's address is its IOVA */
	/* mbufs for the lent segments, taken from the queue's pool in bulk
	 * (one allocation per packet cost more than the copy saved); back to
	 * the pool at the queue's release. Data path only. */
	uint32_t nb_spare;
	rte_mbuf *spare[zc_spares];
	uint16_t free[ring_size];
	ZcSlot slots[ring_size];
};

/* The block for a queue of `port` (rx queue setup); nullptr if memory is short. */
ZeroCopy *zc_create(uint16_t port, uint16_t queue, int socket) noexcept;
/* Drops one reference; the last frees the block. */
void zc_unref(ZeroCopy *z) noexcept;
/* Whether an mbuf the application holds still points into [base, base + len). */
bool zc_lent_in(ZeroCopy &z, const uint8_t *base, size_t len) noexcept;
/* Frees an rx queue and lets go of its block (queue release and re-setup). */
void release_rx_queue(RxQueue *q) noexcept;

struct TxStats { /* port transmit → guest receive */
	xen::Counter packets;
	xen::Counter bytes;
	xen::Counter dropped;   /* too large for the frontend */
	xen::Counter ring_full; /* bursts cut short: no frontend buffers */
	xen::Counter copy_errors;
	xen::Counter notifications;
	xen::Counter fatal_errors;
	xen::Counter gso_packets;     /* sent to the guest as GSO */
	xen::Counter segmented;       /* segments made here (guest without GSO) */
	xen::Counter csum_computed;   /* checksums computed here (guest without blank) */
	xen::Counter offload_refused; /* offloads that could not be honoured */
	xen::Counter steered;         /* sent on another guest queue by hash */
	xen::Counter steer_dropped;   /* that queue's ring was full */
	xen::Counter flow_hashed;     /* sent on the guest queue their flow hash picked */
	xen::Counter hash_extras;     /* XEN_NETIF_EXTRA_TYPE_HASH sent */
	RscStats rsc;                 /* receive segment coalescing (rsc=1) */
	xen::Counter hostile_injected;
	xen::Counter bursts;        /* sends on this guest ring that moved at least one packet */
	xen::Counter mapped_copies; /* packets written through a static grant: no grant copy */
	xen::Counter multicast_filtered; /* multicast frames the guest did not ask for */
};

/* The app's receive queue: consumes the guest's tx ring (mapped). */
struct RxQueue {
	xen::TxBackRing ring;
	xengnttab_handle *gnttab; /* process-private, for grant copy */
	uint16_t guest;           /* frontend domain id */
	uint16_t data_room;
	uint32_t max_frame; /* mtu_set may change it while bursts run: relaxed atomics */
	bool interrupt_style;
	bool l4_csum; /* RX TCP/UDP checksum offload enabled on the port */
	bool lro;     /* RX TCP LRO enabled on the port */
	bool armed;   /* req_event armed: the frontend will kick */
	bool broken;  /* the frontend broke the protocol */
	struct rte_mempool *mp;
	xen::Notifier notify; /* tx-side event channel */
	int wake_fd;          /* xenevtchn_fd of that channel's handle */
	RxStats stats;
	uint16_t port_id;
	uint16_t queue_id;
	Hostile hostile;          /* behaviour none unless hostile= */
	const SharedGrefs *grefs; /* static grants of this queue (process-private) */
	McastFilter *mcast;       /* the port's, in dev_private */
	ZeroCopy *zc;             /* zerocopy=1 with RTE_ETH_RX_OFFLOAD_SCATTER, else nullptr */

	uint16_t stash_head;
	uint16_t stash_len;
	rte_mbuf *stash[stash_size];
	xengnttab_grant_copy_segment_t segs[max_copy_segs];
	xen::QueueSync sync;
};

struct TxQueue;

/* How packets sent on any of the port's queues reach the guest's queues,
 * as netback's xenvif_select_queue: with the guest's Toeplitz hashing on
 * (set through the control ring), by hash and mapping table; with several
 * guest queues and no hashing set (Linux netfront never sets it), by a
 * flow hash (xen::flow_hash, netback's netdev_pick_tx); with one queue, on
 * it. In dev_private; written by the control path. */
struct Steering {
	SharedHash hash;
	TxQueue *queues[max_queue_pairs]; /* connected guest queues */
	uint32_t nb_queues;               /* published with release */
	uint32_t flow_seed;               /* random, per port (Linux: per boot) */
};

/* The app's transmit queue: fills the buffers the guest posts on its rx
 * ring (mapped) with grant copy. */
struct TxQueue {
	xen::RxBackRing ring;
	xengnttab_handle *gnttab;
	uint16_t guest;
	bool guest_sg;      /* frontend accepts multi-slot packets */
	bool guest_csum_v4; /* accepts blank checksums: IPv4 */
	bool guest_csum_v6; /* ... IPv6 */
	bool guest_gso_v4;  /* accepts GSO packets: TCPv4 */
	bool guest_gso_v6;  /* ... TCPv6 */
	bool rsc;           /* coalesce TCP segments toward the guest */
	bool interrupt_style;
	bool broken;
	xen::Notifier notify; /* rx-side event channel */
	TxStats stats;
	uint16_t port_id;
	uint16_t queue_id;
	Hostile hostile;

	const SharedGrefs *grefs; /* static grants of this queue (process-private) */
	Steering *steering;       /* the port's, in dev_private */
	const McastFilter *mcast; /* the port's, in dev_private */
	/* Producers on this guest ring: this queue's bursts and, with
	 * steering, other queues' bursts sending here. */
	rte_spinlock_t lock;

	xengnttab_grant_copy_segment_t segs[max_copy_segs];
	xen::QueueSync sync;
	/* Brackets send_burst's reads of `steering` (the hash copy it
	 * steers by): the control path waits on it before reusing a copy. */
	xen::ReadEpoch steer_epoch;
};

/* dev_private. */
struct Adapter {
	rte_ether_addr mac;
	uint32_t max_frame;
	Config config;
	char name[RTE_DEV_NAME_MAX_LEN];
	Steering steering;
	McastFilter mcast; /* the guest's multicast list (xenback_mcast.h) */
	/* Times the store connection broke (store daemon restarted without a
	 * live update) and was reopened (xstat store_reconnects); written by
	 * the control thread with atomics. */
	uint64_t store_reconnects;
	/* Times the vif was found and taken (probe, or the toolstack created
	 * it later) and removed by the toolstack (xstats vif_found,
	 * vif_removed); control thread, atomics. */
	uint64_t vif_found;
	uint64_t vif_removed;
};

extern "C" uint16_t xenback_rx_burst(void *rxq, rte_mbuf **pkts, uint16_t nb_pkts);
extern "C" uint16_t xenback_tx_burst(void *txq, rte_mbuf **pkts, uint16_t nb_pkts);

} // namespace xenback
