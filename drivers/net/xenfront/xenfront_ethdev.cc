/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Probe/remove and the ethdev ops of net_xenfront. */

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_bus_vdev.h>
#include <rte_malloc.h>

#include "xenfront.h"
#include "xenfront_fanout.h"
#include "xenfront_intr.h"
#include "xenfront_logs.h"
#include "xenfront_xenbus.h"
#include "secondary.h"
#include "xstats.h"

namespace xenfront
{
namespace
{

/* L2 overhead over the MTU: Ethernet header and one VLAN tag (no CRC on a
 * paravirtual link). */
constexpr uint32_t l2_overhead = RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;

Adapter &adapter(rte_eth_dev *dev)
{
	return *static_cast<Adapter *>(dev->data->dev_private);
}
Control &control(rte_eth_dev *dev)
{
	return *static_cast<Control *>(dev->process_private);
}

/* The backend's features: current in the primary, as probed in a
 * secondary process (which has no Control). */
bool backend_sg(rte_eth_dev *dev)
{
	return dev->process_private != nullptr
		       ? control(dev).features().sg
		       : __atomic_load_n(&adapter(dev).backend_sg, __ATOMIC_RELAXED);
}
TxOffloadCaps tx_offload_caps(rte_eth_dev *dev)
{
	if (dev->process_private != nullptr)
		return control(dev).tx_offload_caps();
	TxOffloadCaps caps;
	__atomic_load(&adapter(dev).tx_caps, &caps, __ATOMIC_RELAXED);
	return caps;
}

uint32_t backend_max_queues(rte_eth_dev *dev)
{
	return dev->process_private != nullptr
		       ? control(dev).features().max_queues
		       : __atomic_load_n(&adapter(dev).backend_max_queues, __ATOMIC_RELAXED);
}

uint32_t max_mtu(rte_eth_dev *dev)
{
	/* As Linux netfront (xennet_change_mtu): with feature-sg a frame may
	 * span slots up to netif's 16-bit packet size; without it, it must
	 * fit one page. The vif's "mtu" node is the toolstack's initial MTU
	 * (libxl writes 1500 unless told), not a bound: Linux netfront lets
	 * the guest raise it, and so does this driver. */
	if (!backend_sg(dev))
		return xen::page_size - l2_overhead;
	return UINT16_MAX - l2_overhead;
}

/* Whether application queue `qid` has a netif queue pair of its own: all do,
 * except those beyond the backend's under software fan-out. */
bool owns_ring(rte_eth_dev *dev, uint16_t qid)
{
	return qid < adapter(dev).nb_rings;
}

void free_own_queues(rte_eth_dev *dev);

/* What dev_configure will set up, decided before anything changes. */
struct ConfigurePlan {
	uint16_t nb_rings;
	bool rss;
	bool backend_rss;
	bool fanout;
};

/* The checks of dev_configure: each refusal leaves the port as it was. */
int check_configure(rte_eth_dev *dev, ConfigurePlan &plan) noexcept
{
	Adapter &a = adapter(dev);
	const rte_eth_conf &conf = dev->data->dev_conf;
	const uint16_t nb_rx = dev->data->nb_rx_queues;
	const uint16_t nb_tx = dev->data->nb_tx_queues;
	/* netif queues are pairs: as virtio connects max(rx, tx) pairs, so do
	 * we, and the rings beyond the application's queues get queues of
	 * the driver's own (Adapter::nb_rings). */
	const uint16_t nb_pairs = RTE_MAX(nb_rx, nb_tx);
	plan.rss = conf.rxmode.mq_mode & RTE_ETH_MQ_RX_RSS_FLAG;
	plan.backend_rss = control(dev).rss_available();
	if (plan.rss && !plan.backend_rss && !a.config.fanout) {
		XF_INIT_LOG(ERR, a.name,
			    "RSS needs the backend's control ring: %s/feature-ctrl-ring is not 1 "
			    "(devarg fanout=1 hashes in software instead)",
			    control(dev).back_dir().c_str());
		return -ENOTSUP;
	}
	const uint32_t backend_max = backend_max_queues(dev);
	plan.fanout = a.config.fanout &&
		      fanout_needed(nb_pairs, backend_max, plan.rss && !plan.backend_rss);
	/* Under fan-out no ring lacks an rx queue: tx queues share rings. */
	plan.nb_rings =
		plan.fanout
			? static_cast<uint16_t>(RTE_MIN(static_cast<uint32_t>(nb_rx), backend_max))
			: nb_pairs;
	if (plan.fanout && conf.intr_conf.rxq) {
		XF_INIT_LOG(ERR, a.name,
			    "rx interrupts need one event channel per rx queue; software fan-out "
			    "serves %u queues from %u: poll them instead",
			    nb_rx, plan.nb_rings);
		return -ENOTSUP;
	}
	if (nb_rx < plan.nb_rings && conf.intr_conf.rxq) {
		XF_INIT_LOG(
			ERR, a.name,
			"rx interrupts need an rx queue on each of the %u netif queues (as many "
			"as the %u tx queues); got %u rx queues: configure as many rx as tx "
			"queues, or poll",
			plan.nb_rings, nb_tx, nb_rx);
		return -ENOTSUP;
	}
	if ((conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_LRO) &&
	    !(conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) {
		XF_INIT_LOG(
			ERR, a.name,
			"RTE_ETH_RX_OFFLOAD_TCP_LRO needs RTE_ETH_RX_OFFLOAD_TCP_CKSUM: netif's "
			"GSO packets carry blank checksums (RTE_MBUF_F_RX_L4_CKSUM_NONE)");
		return -EINVAL;
	}
	if (plan.rss && conf.rx_adv_conf.rss_conf.rss_key != nullptr &&
	    conf.rx_adv_conf.rss_conf.rss_key_len != xen::toeplitz_key_size) {
		XF_INIT_LOG(ERR, a.name, "RSS key of %u bytes; netif's Toeplitz key is %zu",
			    conf.rx_adv_conf.rss_conf.rss_key_len, xen::toeplitz_key_size);
		return -EINVAL;
	}
	return 0;
}

int dev_configure(rte_eth_dev *dev) noexcept
{
	Adapter &a = adapter(dev);
	rte_eth_conf &conf = dev->data->dev_conf;
	const uint16_t nb_rx = dev->data->nb_rx_queues;
	ConfigurePlan plan;
	if (int rc = check_configure(dev, plan); rc != 0)
		return rc;
	RssConfig cfg = default_rss(nb_rx, reta_size);
	if (plan.rss) {
		const rte_eth_rss_conf &rc = conf.rx_adv_conf.rss_conf;
		if (rc.rss_key != nullptr)
			std::memcpy(cfg.key.data(), rc.rss_key, xen::toeplitz_key_size);
		cfg.hash_types = hash_types_from_rss_hf(rc.rss_hf);
	}
	/* Valid: replace what the last configuration set up. */
	free_own_queues(dev);
	fanout_destroy(a.fanout); /* first: the new one reuses its ring names */
	a.fanout = nullptr;
	a.fanout_active = plan.fanout;
	a.nb_rings = plan.nb_rings;
	if (plan.fanout) {
		/* Out of memory is the one refusal left past the checks. */
		std::string error;
		a.fanout = fanout_create(dev->data->port_id, nb_rx, dev->data->nb_tx_queues,
					 plan.nb_rings, dev->device->numa_node, error);
		if (a.fanout == nullptr) {
			XF_INIT_LOG(ERR, a.name, "%s", error.c_str());
			a.fanout_active = false;
			return -ENOMEM;
		}
		fanout_set_steering(*a.fanout, cfg.hash_types, cfg.key, cfg.mapping);
	}
	/* As i40e, ice and mlx5 do: RSS mode delivers the hash too. */
	if (plan.rss)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
	/* The backend hashes when it can (its table then names rings, see
	 * Control::apply_rss_locked); without its control ring the fan-out
	 * hashes here. */
	control(dev).set_rss_in_software(a.fanout_active && !plan.backend_rss);
	control(dev).set_rss(plan.rss, plan.rss ? std::move(cfg) : RssConfig{});
	a.max_frame = dev->data->mtu + l2_overhead;
	control(dev).set_nb_queue_pairs(plan.nb_rings);
	control(dev).set_polled_rx_queues(RTE_MIN(nb_rx, plan.nb_rings));
	control(dev).set_rx_offloads(conf.rxmode.offloads);
	return 0;
}

int dev_infos_get(rte_eth_dev *dev, rte_eth_dev_info *info) noexcept
{
	/* With fanout=1 the driver serves queues the backend lacks. */
	const bool fanout = adapter(dev).config.fanout;
	uint16_t pairs =
		static_cast<uint16_t>(RTE_MIN(static_cast<uint32_t>(max_queue_pairs),
					      fanout ? max_queue_pairs : backend_max_queues(dev)));
	info->max_rx_queues = pairs;
	info->max_tx_queues = pairs;
	info->max_mac_addrs = 1;
	info->min_mtu = RTE_ETHER_MIN_MTU;
	info->max_mtu = static_cast<uint16_t>(max_mtu(dev));
	info->max_rx_pktlen = max_mtu(dev) + l2_overhead;
	info->min_rx_bufsize = RTE_ETHER_MIN_LEN;
	/* Any count is taken and the ring's used (see clamp_desc); the
	 * default is the ring. */
	info->rx_desc_lim = {.nb_max = max_desc_asked,
			     .nb_min = 1,
			     .nb_align = 1,
			     .nb_seg_max = 0,
			     .nb_mtu_seg_max = 0};
	info->tx_desc_lim = {.nb_max = max_desc_asked,
			     .nb_min = 1,
			     .nb_align = 1,
			     .nb_seg_max = UINT16_MAX,
			     .nb_mtu_seg_max = UINT16_MAX};
	info->default_rxportconf.ring_size = ring_size;
	info->default_txportconf.ring_size = ring_size;
	info->default_rxportconf.burst_size = default_burst;
	info->default_txportconf.burst_size = default_burst;
	info->default_rxportconf.nb_queues = 1;
	info->default_txportconf.nb_queues = 1;
	/* Received packets are copied into chains of the application's mbufs;
	 * transmitted chains are copied into the granted pages. Checksums and
	 * LRO map to netif's NETRXF_* flags and GSO extra; the IPv4 header
	 * checksum, which netif cannot carry, is verified/computed here. */
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
				RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_RX_OFFLOAD_TCP_LRO;
	info->max_lro_pkt_size = xen::max_packet_size;
	/* RSS through the control ring (netif.h "Hash types"). */
	bool ctrl = dev->process_private != nullptr
			    ? control(dev).rss_available()
			    : __atomic_load_n(&adapter(dev).backend_ctrl_ring, __ATOMIC_RELAXED);
	if (ctrl || fanout) {
		info->reta_size = reta_size;
		info->hash_key_size = xen::toeplitz_key_size;
		info->flow_type_rss_offloads = supported_rss_hf;
		info->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
	}
	/* Transmit: offloads the backend's keys allow (netif.h): L4 checksums
	 * if it completes blank ones for IPv4 or IPv6 (the other family is
	 * done here), TSO if it segments TCP. */
	TxOffloadCaps caps = tx_offload_caps(dev);
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (caps.ipv4_csum || caps.ipv6_csum)
		info->tx_offload_capa |=
			RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (caps.gso_tcpv4 || caps.gso_tcpv6)
		info->tx_offload_capa |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->speed_capa = RTE_ETH_LINK_SPEED_FIXED;
	return 0;
}

void rxq_info_get(rte_eth_dev *dev, uint16_t qid, rte_eth_rxq_info *info) noexcept
{
	auto *q = static_cast<RxQueue *>(dev->data->rx_queues[qid]);
	info->mp = q->mp;
	info->nb_desc = q->nb_desc;
	info->conf.offloads = dev->data->dev_conf.rxmode.offloads;
	info->scattered_rx =
		(dev->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
	info->rx_buf_size = q->data_room;
	info->queue_state = dev->data->rx_queue_state[qid];
}

void txq_info_get(rte_eth_dev *dev, uint16_t qid, rte_eth_txq_info *info) noexcept
{
	auto *q = static_cast<TxQueue *>(dev->data->tx_queues[qid]);
	info->nb_desc = q->nb_desc;
	info->conf.offloads = dev->data->dev_conf.txmode.offloads;
	info->queue_state = dev->data->tx_queue_state[qid];
}

/* Which receive path a queue takes (rx_copybreak, fan-out and the rings
 * it also reads are set at start). */
int rx_burst_mode_get(rte_eth_dev *dev, uint16_t qid, rte_eth_burst_mode *mode) noexcept
{
	const auto *q = static_cast<const RxQueue *>(dev->data->rx_queues[qid]);
	mode->flags = 0;
	int n;
	if (q->fanout != nullptr)
		n = std::snprintf(mode->info, sizeof(mode->info),
				  "software fan-out: an rte_ring fed from netif ring %u",
				  q->queue_id % q->fanout->nb_rings);
	else if (q->copybreak != copybreak_off)
		n = std::snprintf(mode->info, sizeof(mode->info),
				  "netif ring %u: frames up to %u bytes copied, longer ones in "
				  "their granted pages (rx_copybreak)",
				  qid, q->copybreak);
	else
		n = std::snprintf(mode->info, sizeof(mode->info),
				  "netif ring %u: frames copied out of granted pages", qid);
	if (q->fanout == nullptr && q->nb_unpolled != 0 && n > 0 &&
	    static_cast<size_t>(n) < sizeof(mode->info))
		std::snprintf(mode->info + n, sizeof(mode->info) - n,
			      ", and %u ring(s) no rx queue polls", q->nb_unpolled);
	return 0;
}

int tx_burst_mode_get(rte_eth_dev *dev, uint16_t qid, rte_eth_burst_mode *mode) noexcept
{
	const auto *q = static_cast<const TxQueue *>(dev->data->tx_queues[qid]);
	const Adapter &a = adapter(dev);
	const bool zero_copy = __atomic_load_n(&a.granted.nb_used, __ATOMIC_ACQUIRE) != 0;
	mode->flags = 0;
	if (q->fanout != nullptr)
		std::snprintf(mode->info, sizeof(mode->info),
			      "software fan-out: shares netif ring %u under a lock",
			      q->queue_id % q->fanout->nb_rings);
	else
		std::snprintf(mode->info, sizeof(mode->info), "netif ring %u: frames copied%s", qid,
			      zero_copy ? " into granted pages, or from the granted pool's mbufs "
					  "without a copy"
					: " into granted pages");
	return 0;
}

/* rte_eth_tx_done_cleanup: all the backend has answered is taken back at
 * once (free_cnt is not a bound), as the next burst would. */
int tx_done_cleanup(void *queue, uint32_t) noexcept
{
	auto *q = static_cast<TxQueue *>(queue);
	if (q->fanout != nullptr)
		return -ENOTSUP; /* the ring is shared: its bursts take back */
	return static_cast<int>(tx_queue_cleanup(*q));
}

int queue_start_stop(rte_eth_dev *dev, uint16_t qid) noexcept
{
	XF_INIT_LOG(ERR, adapter(dev).name,
		    "queue %u: netif queues start and stop with the port (each is a ring pair "
		    "of the backend's, connected together): stop the port instead",
		    qid);
	return -ENOTSUP;
}

int set_link_up_down(rte_eth_dev *dev) noexcept
{
	XF_INIT_LOG(ERR, adapter(dev).name,
		    "the link follows the backend (its state and carrier): stop the port to "
		    "disconnect from it, start it to connect");
	return -ENOTSUP;
}

int dev_reset(rte_eth_dev *dev) noexcept
{
	XF_INIT_LOG(ERR, adapter(dev).name,
		    "no reset: stop and start the port for a new connection to the backend, or "
		    "detach and attach it for a new probe");
	return -ENOTSUP;
}

/* The descriptors a queue uses: what the application asked for, up to the
 * netif ring's 256 slots (rxq/txq info report the result). */
uint16_t clamp_desc(const Adapter &a, const char *dir, uint16_t qid, uint16_t nb_desc) noexcept
{
	if (nb_desc <= ring_size)
		return nb_desc;
	XF_INIT_LOG(NOTICE, a.name,
		    "%s queue %u: %u descriptors asked, the netif ring has %u: using %u", dir, qid,
		    nb_desc, ring_size, ring_size);
	return ring_size;
}

void free_rx_queue(rte_eth_dev *dev, uint16_t qid)
{
	auto *q = static_cast<RxQueue *>(dev->data->rx_queues[qid]);
	if (q == nullptr)
		return;
	/* The port is stopped: no transmit holds a lent page any more. */
	if (q->copybreak != copybreak_off)
		unregister_granted_region(adapter(dev), q->pages);
	control(dev).release_rx_queue(qid);
	xen::queue_quiesced(q->sync);
	rte_free(q);
	dev->data->rx_queues[qid] = nullptr;
}

void free_tx_queue(rte_eth_dev *dev, uint16_t qid)
{
	auto *q = static_cast<TxQueue *>(dev->data->tx_queues[qid]);
	if (q == nullptr)
		return;
	control(dev).release_tx_queue(qid);
	xen::queue_quiesced(q->sync);
	rte_free(q);
	dev->data->tx_queues[qid] = nullptr;
}

void free_own_queues(rte_eth_dev *dev)
{
	Adapter &a = adapter(dev);
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		if (auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]))
			q->nb_unpolled = 0;
	for (uint16_t r = 0; r < max_queue_pairs; r++) {
		if (a.own_rxq[r] != nullptr) {
			control(dev).release_rx_queue(r);
			xen::queue_quiesced(a.own_rxq[r]->sync);
			rte_free(a.own_rxq[r]);
			a.own_rxq[r] = nullptr;
		}
		if (a.own_txq[r] != nullptr) {
			control(dev).release_tx_queue(r);
			xen::queue_quiesced(a.own_txq[r]->sync);
			rte_free(a.own_txq[r]);
			a.own_txq[r] = nullptr;
		}
		a.ring_rxq[r] = nullptr;
		a.ring_txq[r] = nullptr;
	}
}

int rx_queue_setup(rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc, unsigned int socket,
		   const rte_eth_rxconf *conf, rte_mempool *mp) noexcept
{
	Adapter &a = adapter(dev);
	uint64_t offloads = conf->offloads | dev->data->dev_conf.rxmode.offloads;
	uint32_t room = rte_pktmbuf_data_room_size(mp);
	if (room <= RTE_PKTMBUF_HEADROOM) {
		XF_INIT_LOG(ERR, a.name, "rx queue %u: mempool %s has no data room", qid, mp->name);
		return -EINVAL;
	}
	room -= RTE_PKTMBUF_HEADROOM;
	if (room < a.max_frame && !(offloads & RTE_ETH_RX_OFFLOAD_SCATTER)) {
		XF_INIT_LOG(ERR, a.name,
			    "rx queue %u: mbufs of %u bytes cannot hold a %u-byte frame; enable "
			    "RTE_ETH_RX_OFFLOAD_SCATTER or use larger mbufs",
			    qid, room, a.max_frame);
		return -EINVAL;
	}
	if (a.config.rx_copybreak != copybreak_off &&
	    (rte_pktmbuf_priv_flags(mp) & RTE_PKTMBUF_POOL_F_PINNED_EXT_BUF)) {
		/* Its mbufs keep their own external buffers: detaching one
		 * never calls our free callback, so a lent page would not
		 * come back. */
		XF_INIT_LOG(ERR, a.name,
			    "rx queue %u: rx_copybreak cannot lend pages to the mbufs of mempool "
			    "%s (pinned external buffers); use another mempool or unset "
			    "rx_copybreak",
			    qid, mp->name);
		return -EINVAL;
	}
	free_rx_queue(dev, qid);
	auto *q = static_cast<RxQueue *>(
		rte_zmalloc_socket("xenfront_rxq", sizeof(RxQueue), RTE_CACHE_LINE_SIZE, socket));
	if (q == nullptr)
		return -ENOMEM;
	q->mp = mp;
	q->nb_desc = clamp_desc(a, "rx", qid, nb_desc);
	q->l4_csum = offloads & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	q->ipv4_csum = offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	q->lro = offloads & RTE_ETH_RX_OFFLOAD_TCP_LRO;
	q->rss_hash = offloads & RTE_ETH_RX_OFFLOAD_RSS_HASH;
	q->data_room = static_cast<uint16_t>(RTE_MIN(room, UINT16_MAX));
	q->max_frame = a.max_frame;
	q->port_id = dev->data->port_id;
	q->queue_id = qid;
	q->copybreak = copybreak_off; /* the control path sets rx_copybreak's */
	std::string error;
	if (owns_ring(dev, qid) && !control(dev).setup_rx_queue(qid, *q, error)) {
		XF_INIT_LOG(ERR, a.name, "rx queue %u: %s", qid, error.c_str());
		rte_free(q);
		return -ENOSPC;
	}
	/* Lent pages are granted to the backend already: forwarded out of
	 * this port, the transmit path names them instead of copying them. */
	if (q->copybreak != copybreak_off) {
		int rc = register_granted_region(a, q->pages, q->nb_pages, q->grefs);
		if (rc != 0)
			XF_INIT_LOG(NOTICE, a.name,
				    "rx queue %u: lent pages sent back out of this port are copied "
				    "(granted-region table: %s)",
				    qid, std::strerror(-rc));
	}
	dev->data->rx_queues[qid] = q;
	return 0;
}

int tx_queue_setup(rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc, unsigned int socket,
		   const rte_eth_txconf *conf) noexcept
{
	Adapter &a = adapter(dev);
	free_tx_queue(dev, qid);
	auto *q = static_cast<TxQueue *>(
		rte_zmalloc_socket("xenfront_txq", sizeof(TxQueue), RTE_CACHE_LINE_SIZE, socket));
	if (q == nullptr)
		return -ENOMEM;
	q->nb_desc = clamp_desc(a, "tx", qid, nb_desc);
	q->max_frame = a.max_frame;
	const uint64_t offloads =
		dev->data->dev_conf.txmode.offloads | (conf != nullptr ? conf->offloads : 0);
	q->slot_size = tx_slot_size_for(offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO, a.max_frame);
	q->granted = &a.granted;
	q->port_id = dev->data->port_id;
	q->queue_id = qid;
	std::string error;
	if (owns_ring(dev, qid) && !control(dev).setup_tx_queue(qid, *q, error)) {
		XF_INIT_LOG(ERR, a.name, "tx queue %u: %s", qid, error.c_str());
		rte_free(q);
		return -ENOSPC;
	}
	dev->data->tx_queues[qid] = q;
	return 0;
}

void rx_queue_release(rte_eth_dev *dev, uint16_t qid) noexcept
{
	free_rx_queue(dev, qid);
}
void tx_queue_release(rte_eth_dev *dev, uint16_t qid) noexcept
{
	free_tx_queue(dev, qid);
}

/* Queues of the driver's own, for the rings beyond the application's
 * queues (Adapter::nb_rings). An rx one takes its mempool, sizes and
 * offloads from the application queue that reads it; it needs few buffers,
 * as only what reaches its ring before the backend steers (or what a
 * backend without a control ring sends there) arrives, and 64 keep a
 * 2-queue vif with 1 rx queue within gntalloc's default 1024 grants. A tx
 * one sends nothing: one buffer. */
constexpr uint16_t own_rx_desc = 64;
constexpr uint16_t own_tx_desc = 1;

int setup_own_rx_queue(rte_eth_dev *dev, uint16_t ring, const RxQueue &reader) noexcept
{
	Adapter &a = adapter(dev);
	RxQueue *q = a.own_rxq[ring];
	if (q == nullptr) {
		q = static_cast<RxQueue *>(rte_zmalloc_socket("xenfront_own_rxq", sizeof(RxQueue),
							      RTE_CACHE_LINE_SIZE,
							      dev->device->numa_node));
		if (q == nullptr)
			return -ENOMEM;
		q->nb_desc = own_rx_desc;
		q->port_id = dev->data->port_id;
		q->queue_id = ring;
		q->copybreak = copybreak_off;
		std::string error;
		if (!control(dev).setup_rx_queue(ring, *q, error)) {
			XF_INIT_LOG(ERR, a.name, "netif queue %u (beyond the %u rx queues): %s",
				    ring, dev->data->nb_rx_queues, error.c_str());
			rte_free(q);
			return -ENOSPC;
		}
		a.own_rxq[ring] = q;
	}
	/* Its packets are the reader's: same pool, sizes and offloads. */
	q->mp = reader.mp;
	q->data_room = reader.data_room;
	q->l4_csum = reader.l4_csum;
	q->ipv4_csum = reader.ipv4_csum;
	q->lro = reader.lro;
	q->rss_hash = reader.rss_hash;
	a.ring_rxq[ring] = q;
	return 0;
}

int setup_own_tx_queue(rte_eth_dev *dev, uint16_t ring) noexcept
{
	Adapter &a = adapter(dev);
	TxQueue *q = a.own_txq[ring];
	if (q == nullptr) {
		q = static_cast<TxQueue *>(rte_zmalloc_socket("xenfront_own_txq", sizeof(TxQueue),
							      RTE_CACHE_LINE_SIZE,
							      dev->device->numa_node));
		if (q == nullptr)
			return -ENOMEM;
		q->nb_desc = own_tx_desc;
		q->slot_size = tx_slot_size_for(false, a.max_frame); /* no TSO here */
		q->granted = &a.granted;
		q->port_id = dev->data->port_id;
		q->queue_id = ring;
		std::string error;
		if (!control(dev).setup_tx_queue(ring, *q, error)) {
			XF_INIT_LOG(ERR, a.name, "netif queue %u (beyond the %u tx queues): %s",
				    ring, dev->data->nb_tx_queues, error.c_str());
			rte_free(q);
			return -ENOSPC;
		}
		a.own_txq[ring] = q;
	}
	a.ring_txq[ring] = q;
	return 0;
}

/* Each ring's queues, the driver's own where the application has none,
 * and which application rx queue reads which unpolled ring (dev_start). */
int setup_rings(rte_eth_dev *dev) noexcept
{
	Adapter &a = adapter(dev);
	const uint16_t nb_rx = dev->data->nb_rx_queues;
	const uint16_t nb_tx = dev->data->nb_tx_queues;
	for (uint16_t i = 0; i < nb_rx; i++) {
		auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]);
		q->nb_unpolled = 0;
		q->unpolled_turn = 0;
	}
	for (uint16_t r = 0; r < a.nb_rings; r++) {
		int rc = 0;
		if (r < nb_rx)
			a.ring_rxq[r] = static_cast<RxQueue *>(dev->data->rx_queues[r]);
		else
			rc = setup_own_rx_queue(
				dev, r, *static_cast<RxQueue *>(dev->data->rx_queues[r % nb_rx]));
		if (rc == 0 && r < nb_tx)
			a.ring_txq[r] = static_cast<TxQueue *>(dev->data->tx_queues[r]);
		else if (rc == 0)
			rc = setup_own_tx_queue(dev, r);
		if (rc != 0)
			return rc;
		if (r >= nb_rx) {
			auto *reader = static_cast<RxQueue *>(dev->data->rx_queues[r % nb_rx]);
			reader->unpolled[reader->nb_unpolled++] = a.ring_rxq[r];
		}
	}
	return 0;
}

int dev_start(rte_eth_dev *dev) noexcept
{
	Adapter &a = adapter(dev);
	int rc = setup_rings(dev);
	if (rc != 0)
		return rc;
	/* Hash extras come with RSS, and with the backend's steering away
	 * from unpolled rings (Control::steer_to_polled_locked). */
	const bool hashes = control(dev).rss_enabled() || dev->data->nb_rx_queues < a.nb_rings;
	for (uint16_t r = 0; r < RTE_MAX(dev->data->nb_rx_queues, a.nb_rings); r++) {
		auto *q = r < dev->data->nb_rx_queues
				  ? static_cast<RxQueue *>(dev->data->rx_queues[r])
				  : a.ring_rxq[r];
		q->max_frame = a.max_frame;
		q->rx_extras = static_cast<uint8_t>((q->lro ? 1u << XEN_NETIF_EXTRA_TYPE_GSO : 0) |
						    (hashes ? 1u << XEN_NETIF_EXTRA_TYPE_HASH : 0));
		q->fanout = nullptr; /* fanout_attach below, if in use */
	}
	for (uint16_t r = 0; r < RTE_MAX(dev->data->nb_tx_queues, a.nb_rings); r++) {
		auto *q = r < dev->data->nb_tx_queues
				  ? static_cast<TxQueue *>(dev->data->tx_queues[r])
				  : a.ring_txq[r];
		q->max_frame = a.max_frame;
		q->fanout = nullptr;
	}
	if (a.fanout_active)
		fanout_attach(*a.fanout, dev, a.ring_rxq, a.ring_txq);
	rc = rx_intr_install(dev);
	if (rc != 0)
		return rc;
	/* Connects now if the backend is ready, else once it is: the link
	 * comes up (LSC) when it has connected. */
	std::string error;
	if (!control(dev).start(dev, error)) {
		XF_INIT_LOG(ERR, a.name, "%s", error.c_str());
		return -EIO;
	}
	if (a.fanout_active)
		fanout_log_layout(*a.fanout, a.name, control(dev).rss_available());
	xen::set_queue_states(dev, RTE_ETH_QUEUE_STATE_STARTED);
	return 0;
}

int dev_stop(rte_eth_dev *dev) noexcept
{
	Control &c = control(dev);
	c.stop(dev);
	/* The application polls no more: what the fan-out holds goes. */
	if (adapter(dev).fanout != nullptr)
		fanout_flush(*adapter(dev).fanout);
	xen::set_link(dev, false);
	xen::set_queue_states(dev, RTE_ETH_QUEUE_STATE_STOPPED);
	return 0;
}

int dev_close(rte_eth_dev *dev) noexcept
{
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		free_rx_queue(dev, i);
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		free_tx_queue(dev, i);
	free_own_queues(dev);
	auto *c = static_cast<Control *>(dev->process_private);
	if (c != nullptr) {
		c->shutdown();
		delete c;
	}
	dev->process_private = nullptr;
	fanout_destroy(adapter(dev).fanout);
	adapter(dev).fanout = nullptr;
	rx_intr_free(dev);
	/* mac_addrs points into dev_private: ethdev must not free it alone. */
	dev->data->mac_addrs = nullptr;
	return 0;
}

int link_update(rte_eth_dev *, int) noexcept
{
	/* The control thread keeps dev_link current from the backend's state
	 * and carrier. */
	return 0;
}

/* The backend delivers whatever dom0's switch forwards to the vif and
 * netfront has no receive filter of its own: promiscuous mode is always on
 * and cannot be turned off. All-multicast can, with a backend that offers
 * multicast control (netif.h "Multicast control"): it then drops the
 * multicast frames whose group is not in the list set_mc_addr_list gave. */
int promiscuous_enable(rte_eth_dev *) noexcept
{
	return 0;
}
int promiscuous_disable(rte_eth_dev *dev) noexcept
{
	XF_INIT_LOG(ERR, adapter(dev).name,
		    "promiscuous mode stays on: netif has no receive filter (dom0's switch "
		    "decides what reaches the vif)");
	return -ENOTSUP;
}
int set_allmulticast(rte_eth_dev *dev, bool all) noexcept
{
	Control &c = control(dev);
	if (!c.multicast_available()) {
		if (all)
			return 0;
		XF_INIT_LOG(
			ERR, adapter(dev).name,
			"all-multicast mode stays on: netif has no receive filter (dom0's switch "
			"decides what reaches the vif) and backend %s offers no multicast "
			"filter (feature-multicast-control is not 1)",
			c.back_dir().c_str());
		return -ENOTSUP;
	}
	std::string error;
	int rc = c.set_allmulticast(all, error);
	if (rc != 0)
		XF_INIT_LOG(ERR, adapter(dev).name, "all-multicast mode not turned %s: %s",
			    all ? "on" : "off", error.c_str());
	return rc;
}
int allmulticast_enable(rte_eth_dev *dev) noexcept
{
	return set_allmulticast(dev, true);
}
int allmulticast_disable(rte_eth_dev *dev) noexcept
{
	return set_allmulticast(dev, false);
}

int set_mc_addr_list(rte_eth_dev *dev, rte_ether_addr *addrs, uint32_t n) noexcept
{
	Adapter &a = adapter(dev);
	Control &c = control(dev);
	if (!c.multicast_available()) {
		XF_INIT_LOG(ERR, a.name,
			    "no multicast address list: backend %s offers no multicast filter "
			    "(feature-multicast-control is not 1); every multicast frame is "
			    "delivered",
			    c.back_dir().c_str());
		return -ENOTSUP;
	}
	if (n > max_mcast_addrs) {
		XF_INIT_LOG(ERR, a.name,
			    "%u multicast addresses: the backend keeps at most %u "
			    "(XEN_NETBK_MCAST_MAX)",
			    n, max_mcast_addrs);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!rte_is_multicast_ether_addr(&addrs[i]) ||
		    rte_is_broadcast_ether_addr(&addrs[i])) {
			char text[RTE_ETHER_ADDR_FMT_SIZE];
			rte_ether_format_addr(text, sizeof(text), &addrs[i]);
			XF_INIT_LOG(ERR, a.name,
				    "%s is not a multicast group address (broadcast always "
				    "passes)",
				    text);
			return -EINVAL;
		}
	}
	std::string error;
	int rc = c.set_mcast_list(addrs, n, error);
	if (rc != 0)
		XF_INIT_LOG(ERR, a.name, "%s", error.c_str());
	return rc;
}

int mac_addr_set(rte_eth_dev *, rte_ether_addr *) noexcept
{
	/* As Linux netfront (eth_mac_addr): the address is the guest's to set;
	 * whether dom0 accepts frames from it is the backend's policy. */
	return 0;
}

int mtu_set(rte_eth_dev *dev, uint16_t mtu) noexcept
{
	Adapter &a = adapter(dev);
	uint32_t frame = mtu + l2_overhead;
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++) {
		auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]);
		if (q != nullptr && q->data_room < frame &&
		    !(dev->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER)) {
			XF_INIT_LOG(ERR, a.name,
				    "MTU %u needs %u-byte frames, more than rx queue %u's mbufs "
				    "hold; enable RTE_ETH_RX_OFFLOAD_SCATTER",
				    mtu, frame, i);
			return -EINVAL;
		}
	}
	a.max_frame = frame;
	/* ethdev lets the MTU change while the port runs (Linux netfront's
	 * xennet_change_mtu too): the bursts read max_frame once each
	 * (queue_max_frame). */
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		if (auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]))
			__atomic_store_n(&q->max_frame, frame, __ATOMIC_RELAXED);
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		if (auto *q = static_cast<TxQueue *>(dev->data->tx_queues[i]))
			__atomic_store_n(&q->max_frame, frame, __ATOMIC_RELAXED);
	return 0;
}

/* The rx errors of rte_eth_stats: what the backend marked or broke. */
uint64_t rx_errors(const RxStats &s) noexcept
{
	return s.errors.load() + s.bad_responses.load() + s.oversize.load() +
	       s.too_many_slots.load();
}

int stats_get(rte_eth_dev *dev, rte_eth_stats *stats) noexcept
{
	/* Under fan-out a queue's packets are those it handed over, not those
	 * its netif ring (if it has one) carried for the whole group. */
	const bool fanout = adapter(dev).fanout_active;
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++) {
		auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]);
		if (q == nullptr)
			continue;
		const RxStats &s = q->stats;
		uint64_t packets = fanout ? s.fanout_packets.load() : s.packets.load();
		uint64_t bytes = fanout ? s.fanout_bytes.load() : s.bytes.load();
		uint64_t errors = rx_errors(s);
		uint64_t nombuf = s.mbuf_alloc_failed.load();
		/* The rings no application queue polls count in the queue that
		 * reads them. */
		for (uint8_t k = 0; k < q->nb_unpolled; k++) {
			const RxStats &u = q->unpolled[k]->stats;
			packets += u.packets.load();
			bytes += u.bytes.load();
			errors += rx_errors(u);
			nombuf += u.mbuf_alloc_failed.load();
		}
		stats->ipackets += packets;
		stats->ibytes += bytes;
		stats->imissed += s.fanout_dropped.load();
		stats->ierrors += errors;
		stats->rx_nombuf += nombuf;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[i] = packets;
			stats->q_ibytes[i] = bytes;
			stats->q_errors[i] = errors;
		}
	}
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++) {
		auto *q = static_cast<TxQueue *>(dev->data->tx_queues[i]);
		if (q == nullptr)
			continue;
		const TxStats &s = q->stats;
		const uint64_t packets = fanout ? s.fanout_packets.load() : s.packets.load();
		const uint64_t bytes = fanout ? s.fanout_bytes.load() : s.bytes.load();
		stats->opackets += packets;
		stats->obytes += bytes;
		stats->oerrors += s.errors.load() + s.dropped.load() + s.bad_responses.load();
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = packets;
			stats->q_obytes[i] = bytes;
		}
	}
	return 0;
}

/* Per-queue xstats: rx_q<N>_<name>, tx_q<N>_<name>. */
constexpr xen::XstatField rx_xstats[] = {
	{"packets", offsetof(RxStats, packets)},
	{"bytes", offsetof(RxStats, bytes)},
	{"errors", offsetof(RxStats, errors)},
	{"mbuf_alloc_failed", offsetof(RxStats, mbuf_alloc_failed)},
	{"notifications", offsetof(RxStats, notifications)},
	{"bad_responses", offsetof(RxStats, bad_responses)},
	{"oversize", offsetof(RxStats, oversize)},
	{"too_many_slots", offsetof(RxStats, too_many_slots)},
	{"extra_info", offsetof(RxStats, extra_info)},
	{"gso_packets", offsetof(RxStats, gso_packets)},
	{"csum_blank", offsetof(RxStats, csum_blank)},
	{"bad_id", offsetof(RxStats, bad_id)},
	{"bad_status", offsetof(RxStats, bad_status)},
	{"bad_size", offsetof(RxStats, bad_size)},
	{"bad_extra", offsetof(RxStats, bad_extra)},
	{"bad_chain", offsetof(RxStats, bad_chain)},
	{"ring_overrun", offsetof(RxStats, ring_overrun)},
	{"fanout_packets", offsetof(RxStats, fanout_packets)},
	{"fanout_bytes", offsetof(RxStats, fanout_bytes)},
	{"fanout_dropped", offsetof(RxStats, fanout_dropped)},
	{"lcore", offsetof(RxStats, lcore)},
	{"bursts", offsetof(RxStats, bursts)},
	{"attached", offsetof(RxStats, attached)},
	{"copybreak_fallback", offsetof(RxStats, copybreak_fallback)},
	{"unpolled_packets", offsetof(RxStats, unpolled_packets)},
};
constexpr xen::XstatField tx_xstats[] = {
	{"packets", offsetof(TxStats, packets)},
	{"bytes", offsetof(TxStats, bytes)},
	{"errors", offsetof(TxStats, errors)},
	{"dropped", offsetof(TxStats, dropped)},
	{"notifications", offsetof(TxStats, notifications)},
	{"ring_full", offsetof(TxStats, ring_full)},
	{"bad_responses", offsetof(TxStats, bad_responses)},
	{"offload_refused", offsetof(TxStats, offload_refused)},
	{"bad_status", offsetof(TxStats, bad_status)},
	{"bad_id", offsetof(TxStats, bad_id)},
	{"lost_ids", offsetof(TxStats, lost_ids)},
	{"ring_overrun", offsetof(TxStats, ring_overrun)},
	{"fanout_packets", offsetof(TxStats, fanout_packets)},
	{"fanout_bytes", offsetof(TxStats, fanout_bytes)},
	{"lcore", offsetof(TxStats, lcore)},
	{"bursts", offsetof(TxStats, bursts)},
	{"zero_copy_packets", offsetof(TxStats, zero_copy_packets)},
	{"multicast_requests", offsetof(TxStats, multicast_requests)},
	{"multicast_refused", offsetof(TxStats, multicast_refused)},
};
static_assert(RTE_DIM(rx_xstats) * sizeof(xen::Counter) == sizeof(RxStats),
	      "an rx counter without an xstat");
static_assert(RTE_DIM(tx_xstats) * sizeof(xen::Counter) == sizeof(TxStats),
	      "a tx counter without an xstat");
constexpr xen::QueueStatsTables<RxQueue, TxQueue> queue_stats{rx_xstats, tx_xstats};

/* Port xstats, after the queues' (so that their ids stay as they were). */
constexpr xen::XstatField port_xstats[] = {
	{"ctrl_errors", offsetof(Adapter, ctrl_errors)},
	{"store_reconnects", offsetof(Adapter, store_reconnects)},
};

void reset_own_queue_stats(Adapter &a) noexcept
{
	for (uint16_t r = 0; r < max_queue_pairs; r++) {
		if (a.own_rxq[r] != nullptr)
			queue_stats.reset_rx(*a.own_rxq[r]);
		if (a.own_txq[r] != nullptr)
			queue_stats.reset_tx(*a.own_txq[r]);
	}
}

int stats_reset(rte_eth_dev *dev) noexcept
{
	reset_own_queue_stats(adapter(dev));
	return queue_stats.reset(dev);
}
int xstats_reset(rte_eth_dev *dev) noexcept
{
	__atomic_store_n(&adapter(dev).ctrl_errors, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&adapter(dev).store_reconnects, 0, __ATOMIC_RELAXED);
	reset_own_queue_stats(adapter(dev));
	return queue_stats.reset(dev);
}
int xstats_get(rte_eth_dev *dev, rte_eth_xstat *xstats, unsigned int size) noexcept
{
	unsigned n = queue_stats.count(dev);
	unsigned total = n + RTE_DIM(port_xstats);
	if (xstats == nullptr || size < total)
		return static_cast<int>(total);
	queue_stats.values(dev, xstats, size);
	const auto *a = reinterpret_cast<const uint8_t *>(&adapter(dev));
	for (const xen::XstatField &f : port_xstats) {
		uint64_t v = __atomic_load_n(reinterpret_cast<const uint64_t *>(a + f.offset),
					     __ATOMIC_RELAXED);
		xstats[n] = {n, v};
		n++;
	}
	return static_cast<int>(total);
}
int xstats_get_names(rte_eth_dev *dev, rte_eth_xstat_name *names, unsigned int size) noexcept
{
	unsigned n = queue_stats.count(dev);
	unsigned total = n + RTE_DIM(port_xstats);
	if (names == nullptr || size < total)
		return static_cast<int>(total);
	queue_stats.names(dev, names, size);
	for (const xen::XstatField &f : port_xstats)
		std::snprintf(names[n++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s", f.name);
	return static_cast<int>(total);
}

/* Sends a new RSS configuration to the backend, and to the software fan-out
 * once the backend took it (a refused one leaves both as they were). */
int update_rss(Adapter &a, Control &c, RssConfig cfg) noexcept
{
	std::string error;
	if (!c.update_rss(cfg, error)) {
		XF_INIT_LOG(ERR, a.name, "%s", error.c_str());
		return -EIO;
	}
	if (a.fanout != nullptr)
		fanout_set_steering(*a.fanout, cfg.hash_types, cfg.key, cfg.mapping);
	return 0;
}

int rss_hash_update(rte_eth_dev *dev, rte_eth_rss_conf *conf) noexcept
{
	Adapter &a = adapter(dev);
	Control &c = control(dev);
	if (!c.rss_enabled()) {
		XF_INIT_LOG(ERR, a.name, "RSS is not configured (rxmode.mq_mode)");
		return -ENOTSUP;
	}
	RssConfig cfg = c.rss();
	if (conf->rss_key != nullptr) {
		if (conf->rss_key_len != xen::toeplitz_key_size) {
			XF_INIT_LOG(ERR, a.name, "RSS key of %u bytes; netif's Toeplitz key is %zu",
				    conf->rss_key_len, xen::toeplitz_key_size);
			return -EINVAL;
		}
		std::memcpy(cfg.key.data(), conf->rss_key, xen::toeplitz_key_size);
	}
	cfg.hash_types = hash_types_from_rss_hf(conf->rss_hf);
	return update_rss(a, c, std::move(cfg));
}

int rss_hash_conf_get(rte_eth_dev *dev, rte_eth_rss_conf *conf) noexcept
{
	Control &c = control(dev);
	RssConfig cfg = c.rss();
	conf->rss_hf = c.rss_enabled() ? rss_hf_from_hash_types(cfg.hash_types) : 0;
	if (conf->rss_key != nullptr && conf->rss_key_len >= xen::toeplitz_key_size)
		std::memcpy(conf->rss_key, cfg.key.data(), xen::toeplitz_key_size);
	conf->rss_key_len = xen::toeplitz_key_size;
	return 0;
}

int reta_update(rte_eth_dev *dev, rte_eth_rss_reta_entry64 *reta, uint16_t size) noexcept
{
	Adapter &a = adapter(dev);
	Control &c = control(dev);
	if (!c.rss_enabled() || size != reta_size) {
		XF_INIT_LOG(ERR, a.name, "redirection table of %u entries; this port's has %u%s",
			    size, reta_size, c.rss_enabled() ? "" : " (and RSS is not configured)");
		return -EINVAL;
	}
	RssConfig cfg = c.rss();
	for (uint16_t i = 0; i < size; i++) {
		const rte_eth_rss_reta_entry64 &group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
		uint16_t bit = i % RTE_ETH_RETA_GROUP_SIZE;
		if (!(group.mask & (1ULL << bit)))
			continue;
		if (group.reta[bit] >= dev->data->nb_rx_queues) {
			XF_INIT_LOG(ERR, a.name, "redirection entry %u names queue %u of %u", i,
				    group.reta[bit], dev->data->nb_rx_queues);
			return -EINVAL;
		}
		cfg.mapping[i] = group.reta[bit];
	}
	return update_rss(a, c, std::move(cfg));
}

int reta_query(rte_eth_dev *dev, rte_eth_rss_reta_entry64 *reta, uint16_t size) noexcept
{
	Control &c = control(dev);
	if (!c.rss_enabled() || size != reta_size)
		return -EINVAL;
	RssConfig cfg = c.rss();
	for (uint16_t i = 0; i < size; i++) {
		rte_eth_rss_reta_entry64 &group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
		uint16_t bit = i % RTE_ETH_RETA_GROUP_SIZE;
		if (group.mask & (1ULL << bit))
			group.reta[bit] = static_cast<uint16_t>(cfg.mapping[i]);
	}
	return 0;
}

/* Assigned in eth_dev_ops declaration order (C++ designated initializers
 * would have to name every member). */
eth_dev_ops make_ops()
{
	eth_dev_ops ops{};
	ops.dev_configure = dev_configure;
	ops.dev_start = dev_start;
	ops.dev_stop = dev_stop;
	ops.dev_set_link_up = set_link_up_down;
	ops.dev_set_link_down = set_link_up_down;
	ops.dev_close = dev_close;
	ops.dev_reset = dev_reset;
	ops.link_update = link_update;
	ops.promiscuous_enable = promiscuous_enable;
	ops.promiscuous_disable = promiscuous_disable;
	ops.allmulticast_enable = allmulticast_enable;
	ops.allmulticast_disable = allmulticast_disable;
	ops.mac_addr_set = mac_addr_set;
	ops.set_mc_addr_list = set_mc_addr_list;
	ops.mtu_set = mtu_set;
	ops.stats_get = stats_get;
	ops.stats_reset = stats_reset;
	ops.xstats_get = xstats_get;
	ops.xstats_reset = xstats_reset;
	ops.xstats_get_names = xstats_get_names;
	ops.dev_infos_get = dev_infos_get;
	ops.rxq_info_get = rxq_info_get;
	ops.txq_info_get = txq_info_get;
	ops.rx_burst_mode_get = rx_burst_mode_get;
	ops.tx_burst_mode_get = tx_burst_mode_get;
	ops.rx_queue_start = queue_start_stop;
	ops.rx_queue_stop = queue_start_stop;
	ops.tx_queue_start = queue_start_stop;
	ops.tx_queue_stop = queue_start_stop;
	ops.rx_queue_setup = rx_queue_setup;
	ops.rx_queue_release = rx_queue_release;
	ops.rx_queue_intr_enable = rx_queue_intr_enable;
	ops.rx_queue_intr_disable = rx_queue_intr_disable;
	ops.tx_queue_setup = tx_queue_setup;
	ops.tx_queue_release = tx_queue_release;
	ops.tx_done_cleanup = tx_done_cleanup;
	ops.rss_hash_update = rss_hash_update;
	ops.rss_hash_conf_get = rss_hash_conf_get;
	ops.reta_update = reta_update;
	ops.reta_query = reta_query;
	return ops;
}
const eth_dev_ops xenfront_ops = make_ops();

const eth_dev_ops xenfront_secondary_ops = xen::secondary_ops(xenfront_ops);

int probe_secondary(rte_vdev_device *vdev, const char *name)
{
	if (xen::attach_secondary(vdev, name, &xenfront_secondary_ops) == nullptr) {
		XF_INIT_LOG(ERR, name, "secondary process: the primary has no port %s", name);
		return -ENODEV;
	}
	XF_INIT_LOG(INFO, name, "attached in a secondary process: information and counters only");
	return 0;
}

} // namespace
} // namespace xenfront

using namespace xenfront;

extern "C" int xenfront_probe(rte_vdev_device *vdev) noexcept
{
	const char *name = rte_vdev_device_name(vdev);
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return probe_secondary(vdev, name);
	Config config;
	std::string error;
	if (!parse_config(rte_vdev_device_args(vdev), config, error)) {
		XF_INIT_LOG(ERR, name, "%s", error.c_str());
		return -EINVAL;
	}
	std::unique_ptr<Control> control = Control::probe(name, config, error);
	if (!control) {
		XF_INIT_LOG(ERR, name, "%s", error.c_str());
		return -ENODEV;
	}
	rte_eth_dev *dev = rte_eth_vdev_allocate(vdev, sizeof(Adapter));
	if (dev == nullptr) {
		XF_INIT_LOG(ERR, name, "cannot allocate an ethdev port");
		return -ENOMEM;
	}
	/* Rx interrupts: one fd per rx queue, given at dev_start
	 * (xenfront_intr.h). The EAL reads nothing from them. */
	dev->intr_handle = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (dev->intr_handle == nullptr ||
	    rte_intr_type_set(dev->intr_handle, RTE_INTR_HANDLE_EXT) != 0) {
		XF_INIT_LOG(ERR, name, "cannot allocate an interrupt handle");
		rx_intr_free(dev);
		rte_eth_dev_release_port(dev);
		return -ENOMEM;
	}
	Adapter &a = *static_cast<Adapter *>(dev->data->dev_private);
	const BackendFeatures features = control->features();
	a.config = config;
	rte_spinlock_init(&a.granted.lock);
	a.mac = control->mac();
	a.vif_mtu = control->mtu();
	a.max_frame = RTE_ETHER_MTU + l2_overhead;
	publish_features(a, features, control->tx_offload_caps());
	a.ctrl_errors = 0;
	control->count_ctrl_errors_in(&a.ctrl_errors);
	a.store_reconnects = 0;
	control->count_store_reconnects_in(&a.store_reconnects);
	std::snprintf(a.name, sizeof(a.name), "%s", name);
	dev->data->mac_addrs = &a.mac;
	dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	/* What the backend delivers, whatever the application asks: say so. */
	dev->data->promiscuous = 1;
	dev->data->all_multicast = 1;
	dev->dev_ops = &xenfront_ops;
	dev->rx_pkt_burst = xenfront_rx_burst;
	dev->tx_pkt_burst = xenfront_tx_burst;
	dev->tx_pkt_prepare = xenfront_tx_prepare;
	dev->rx_queue_count = xenfront_rx_queue_count;
	dev->rx_descriptor_status = xenfront_rx_descriptor_status;
	dev->tx_descriptor_status = xenfront_tx_descriptor_status;
	XF_INIT_LOG(INFO, name,
		    "vif %u: %s, backend %s (domain %u), mac " RTE_ETHER_ADDR_PRT_FMT ", mtu %u",
		    config.vif, control->front_dir().c_str(), control->back_dir().c_str(),
		    control->backend_domid().value(), RTE_ETHER_ADDR_BYTES(&a.mac), a.vif_mtu);
	/* The control thread follows the backend from now on: its features
	 * when it reaches InitWait, the connection once the port starts. */
	if (!control->follow(dev, error)) {
		XF_INIT_LOG(ERR, name, "%s", error.c_str());
		dev->data->mac_addrs = nullptr;
		rx_intr_free(dev);
		rte_eth_dev_release_port(dev);
		return -ENOMEM;
	}
	dev->process_private = control.release();
	rte_eth_dev_probing_finish(dev);
	return 0;
}

extern "C" int xenfront_remove(rte_vdev_device *vdev) noexcept
{
	rte_eth_dev *dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
	if (dev == nullptr)
		return 0;
	/* A secondary process lets go of its view; the port is the primary's. */
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return rte_eth_dev_release_port(dev);
	if (dev->data->dev_started)
		rte_eth_dev_stop(dev->data->port_id);
	return rte_eth_dev_close(dev->data->port_id);
}
