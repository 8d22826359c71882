/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Probe/remove and the ethdev ops of net_xenback. */

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <memory>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_bus_vdev.h>
#include <rte_malloc.h>

#include "xenback.h"
#include "xenback_logs.h"
#include "xenback_xenbus.h"
#include "secondary.h"
#include "xstats.h"

namespace xenback
{
namespace
{

constexpr uint32_t l2_overhead = RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
/* Linux netback's own address (vifX.Y): the guest's MAC is the guest's. */
constexpr rte_ether_addr backend_mac = {{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}};

Adapter &adapter(rte_eth_dev *dev)
{
	return *static_cast<Adapter *>(dev->data->dev_private);
}
Control &control(rte_eth_dev *dev)
{
	return *static_cast<Control *>(dev->process_private);
}

int dev_configure(rte_eth_dev *dev) noexcept
{
	Adapter &a = adapter(dev);
	if (dev->data->nb_rx_queues != dev->data->nb_tx_queues) {
		XB_INIT_LOG(ERR, a.name, "configure as many rx as tx queues (got %u rx, %u tx)",
			    dev->data->nb_rx_queues, dev->data->nb_tx_queues);
		return -EINVAL;
	}
	a.max_frame = dev->data->mtu + l2_overhead;
	return 0;
}

int dev_infos_get(rte_eth_dev *dev, rte_eth_dev_info *info) noexcept
{
	/* One ethdev queue pair per netif queue the guest may use. */
	info->max_rx_queues = adapter(dev).config.max_queues;
	info->max_tx_queues = adapter(dev).config.max_queues;
	info->max_mac_addrs = 1;
	info->min_mtu = RTE_ETHER_MIN_MTU;
	info->max_mtu = static_cast<uint16_t>(xen::max_packet_size - l2_overhead);
	info->max_rx_pktlen = xen::max_packet_size;
	info->min_rx_bufsize = RTE_ETHER_MIN_LEN;
	/* Our queues hold no descriptors of their own: the frontend's ring
	 * (256 slots) is the limit, whatever is configured here. */
	info->rx_desc_lim = {
		.nb_max = 4096, .nb_min = 1, .nb_align = 1, .nb_seg_max = 0, .nb_mtu_seg_max = 0};
	info->tx_desc_lim = {.nb_max = 4096,
			     .nb_min = 1,
			     .nb_align = 1,
			     .nb_seg_max = UINT16_MAX,
			     .nb_mtu_seg_max = UINT16_MAX};
	info->default_rxportconf.ring_size = ring_size;
	info->default_txportconf.ring_size = ring_size;
	info->default_rxportconf.burst_size = default_burst;
	info->default_txportconf.burst_size = default_burst;
	/* Receive: a guest's blank checksum is reported (L4_CKSUM_NONE) or
	 * completed here, its GSO packet delivered whole (LRO) or segmented
	 * here, whichever the application enabled. Transmit: checksums and TSO
	 * become netif flags and GSO extras when the guest accepts them, and
	 * are done here when it does not. */
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
				RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO;
	info->max_lro_pkt_size = xen::max_packet_size;
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
				RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->speed_capa = RTE_ETH_LINK_SPEED_FIXED;
	return 0;
}

/* What the last bursts on these queues wrote happens before the caller
 * frees them (xen::queue_quiesced): all of them first, as a burst on one
 * queue also sends on the others (steering). */
void quiesce_queues(rte_eth_dev *dev)
{
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		if (auto *q = static_cast<const RxQueue *>(dev->data->rx_queues[i]))
			xen::queue_quiesced(q->sync);
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		if (auto *q = static_cast<const TxQueue *>(dev->data->tx_queues[i])) {
			xen::queue_quiesced(q->sync);
			xen::read_epoch_quiesced(q->steer_epoch);
		}
}

void free_queues(rte_eth_dev *dev)
{
	control(dev).detach_queues();
	quiesce_queues(dev);
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++) {
		release_rx_queue(static_cast<RxQueue *>(dev->data->rx_queues[i]));
		dev->data->rx_queues[i] = nullptr;
	}
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++) {
		rte_free(dev->data->tx_queues[i]);
		dev->data->tx_queues[i] = nullptr;
	}
}

int rx_queue_setup(rte_eth_dev *dev, uint16_t qid, uint16_t, unsigned int socket,
		   const rte_eth_rxconf *conf, rte_mempool *mp) noexcept
{
	Adapter &a = adapter(dev);
	uint32_t room = rte_pktmbuf_data_room_size(mp);
	uint64_t offloads = conf->offloads | dev->data->dev_conf.rxmode.offloads;
	if (room <= RTE_PKTMBUF_HEADROOM || (room - RTE_PKTMBUF_HEADROOM < a.max_frame &&
					     !(offloads & RTE_ETH_RX_OFFLOAD_SCATTER))) {
		XB_INIT_LOG(ERR, a.name,
			    "rx queue %u: mbufs of mempool %s cannot hold a %u-byte frame; "
			    "enable RTE_ETH_RX_OFFLOAD_SCATTER or use larger mbufs",
			    qid, mp->name, a.max_frame);
		return -EINVAL;
	}
	auto *q = static_cast<RxQueue *>(
		rte_zmalloc_socket("xenback_rxq", sizeof(RxQueue), RTE_CACHE_LINE_SIZE, socket));
	if (q == nullptr)
		return -ENOMEM;
	q->mp = mp;
	q->l4_csum = offloads & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	q->lro = offloads & RTE_ETH_RX_OFFLOAD_TCP_LRO;
	q->data_room = static_cast<uint16_t>(RTE_MIN(room - RTE_PKTMBUF_HEADROOM, UINT16_MAX));
	q->max_frame = a.max_frame;
	q->port_id = dev->data->port_id;
	q->queue_id = qid;
	q->mcast = &a.mcast;
	/* zerocopy=1 hands the application a chain (copied headers, lent
	 * payload): only if it asked for chains. */
	if (a.config.zerocopy && (offloads & RTE_ETH_RX_OFFLOAD_SCATTER)) {
		q->zc = zc_create(dev->data->port_id, qid, static_cast<int>(socket));
		if (q->zc == nullptr) {
			rte_free(q);
			return -ENOMEM;
		}
	} else if (a.config.zerocopy) {
		XB_INIT_LOG(NOTICE, a.name,
			    "rx queue %u: zerocopy=1 needs RTE_ETH_RX_OFFLOAD_SCATTER (headers "
			    "copied, payload chained); copying",
			    qid);
	}
	auto *old = static_cast<RxQueue *>(dev->data->rx_queues[qid]);
	control(dev).attach_rx_queue(qid, q);
	quiesce_queues(dev);
	release_rx_queue(old);
	dev->data->rx_queues[qid] = q;
	return 0;
}

int tx_queue_setup(rte_eth_dev *dev, uint16_t qid, uint16_t, unsigned int socket,
		   const rte_eth_txconf *) noexcept
{
	auto *q = static_cast<TxQueue *>(
		rte_zmalloc_socket("xenback_txq", sizeof(TxQueue), RTE_CACHE_LINE_SIZE, socket));
	if (q == nullptr)
		return -ENOMEM;
	q->port_id = dev->data->port_id;
	q->queue_id = qid;
	q->mcast = &adapter(dev).mcast;
	void *old = dev->data->tx_queues[qid];
	control(dev).attach_tx_queue(qid, q);
	quiesce_queues(dev);
	rte_free(old);
	dev->data->tx_queues[qid] = q;
	return 0;
}

int dev_start(rte_eth_dev *dev) noexcept
{
	Adapter &a = adapter(dev);
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		__atomic_store_n(&static_cast<RxQueue *>(dev->data->rx_queues[i])->max_frame,
				 a.max_frame, __ATOMIC_RELAXED);
	control(dev).set_port_started(true);
	xen::set_queue_states(dev, RTE_ETH_QUEUE_STATE_STARTED);
	return 0;
}

int dev_stop(rte_eth_dev *dev) noexcept
{
	/* The frontend stays connected; its rings simply are not served. */
	control(dev).set_port_started(false);
	xen::set_queue_states(dev, RTE_ETH_QUEUE_STATE_STOPPED);
	return 0;
}

int dev_close(rte_eth_dev *dev) noexcept
{
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	auto *c = static_cast<Control *>(dev->process_private);
	if (c != nullptr) {
		c->shutdown();
		free_queues(dev);
		delete c;
	}
	dev->process_private = nullptr;
	/* mac_addrs points into dev_private: ethdev must not free it alone. */
	dev->data->mac_addrs = nullptr;
	return 0;
}

int link_update(rte_eth_dev *, int) noexcept
{
	return 0;
}

/* A backend port sees everything its guest sends. */
int promiscuous_enable(rte_eth_dev *) noexcept
{
	return 0;
}
int promiscuous_disable(rte_eth_dev *) noexcept
{
	return -ENOTSUP;
}
int allmulticast_enable(rte_eth_dev *) noexcept
{
	return 0;
}
int allmulticast_disable(rte_eth_dev *) noexcept
{
	return -ENOTSUP;
}

int mtu_set(rte_eth_dev *dev, uint16_t mtu) noexcept
{
	Adapter &a = adapter(dev);
	a.max_frame = mtu + l2_overhead;
	/* ethdev lets the MTU change while the port runs (Linux netback's
	 * ndo_change_mtu too): the rx burst reads max_frame with relaxed
	 * loads, each packet judged by the old or the new one. */
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		if (auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]))
			__atomic_store_n(&q->max_frame, a.max_frame, __ATOMIC_RELAXED);
	return 0;
}

int stats_get(rte_eth_dev *dev, rte_eth_stats *stats) noexcept
{
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++) {
		auto *q = static_cast<RxQueue *>(dev->data->rx_queues[i]);
		if (q == nullptr)
			continue;
		const RxStats &s = q->stats;
		const uint64_t packets = s.packets.load();
		const uint64_t bytes = s.bytes.load();
		const uint64_t errors = s.errors.load() + s.fatal_errors.load();
		stats->ipackets += packets;
		stats->ibytes += bytes;
		stats->ierrors += errors;
		stats->rx_nombuf += s.mbuf_alloc_failed.load();
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
		const uint64_t packets = s.packets.load();
		const uint64_t bytes = s.bytes.load();
		stats->opackets += packets;
		stats->obytes += bytes;
		stats->oerrors += s.dropped.load() + s.copy_errors.load() + s.fatal_errors.load();
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = packets;
			stats->q_obytes[i] = bytes;
		}
	}
	return 0;
}

constexpr xen::XstatField rx_xstats[] = {
	{"packets", offsetof(RxStats, packets)},
	{"bytes", offsetof(RxStats, bytes)},
	{"errors", offsetof(RxStats, errors)},
	{"mbuf_alloc_failed", offsetof(RxStats, mbuf_alloc_failed)},
	{"copy_errors", offsetof(RxStats, copy_errors)},
	{"notifications", offsetof(RxStats, notifications)},
	{"wakeups", offsetof(RxStats, wakeups)},
	{"fatal_errors", offsetof(RxStats, fatal_errors)},
	{"multicast_ops", offsetof(RxStats, multicast_ops)},
	{"gso_packets", offsetof(RxStats, gso_packets)},
	{"segmented", offsetof(RxStats, segmented)},
	{"csum_completed", offsetof(RxStats, csum_completed)},
	{"csum_errors", offsetof(RxStats, csum_errors)},
	{"hostile_injected", offsetof(RxStats, hostile_injected)},
	{"bursts", offsetof(RxStats, bursts)},
	{"mapped_copies", offsetof(RxStats, mapped_copies)},
	{"snooped_markers", offsetof(RxStats, snooped_markers)},
	{"zerocopy", offsetof(RxStats, zerocopy)},
	{"zc_fallbacks", offsetof(RxStats, zc_fallbacks)},
	{"zc_pending", offsetof(RxStats, zc_pending)},
};
constexpr xen::XstatField tx_xstats[] = {
	{"packets", offsetof(TxStats, packets)},
	{"bytes", offsetof(TxStats, bytes)},
	{"dropped", offsetof(TxStats, dropped)},
	{"ring_full", offsetof(TxStats, ring_full)},
	{"copy_errors", offsetof(TxStats, copy_errors)},
	{"notifications", offsetof(TxStats, notifications)},
	{"fatal_errors", offsetof(TxStats, fatal_errors)},
	{"gso_packets", offsetof(TxStats, gso_packets)},
	{"segmented", offsetof(TxStats, segmented)},
	{"csum_computed", offsetof(TxStats, csum_computed)},
	{"offload_refused", offsetof(TxStats, offload_refused)},
	{"steered", offsetof(TxStats, steered)},
	{"steer_dropped", offsetof(TxStats, steer_dropped)},
	{"flow_hashed", offsetof(TxStats, flow_hashed)},
	{"hash_extras", offsetof(TxStats, hash_extras)},
	{"rsc_packets", offsetof(TxStats, rsc.packets)},
	{"rsc_segments", offsetof(TxStats, rsc.segments)},
	{"rsc_bypass_syn", offsetof(TxStats, rsc.bypass_syn)},
	{"rsc_flush_fin_rst_urg", offsetof(TxStats, rsc.flush_fin_rst_urg)},
	{"rsc_flush_out_of_order", offsetof(TxStats, rsc.flush_out_of_order)},
	{"rsc_flush_mismatch", offsetof(TxStats, rsc.flush_mismatch)},
	{"rsc_flush_size", offsetof(TxStats, rsc.flush_size)},
	{"hostile_injected", offsetof(TxStats, hostile_injected)},
	{"bursts", offsetof(TxStats, bursts)},
	{"mapped_copies", offsetof(TxStats, mapped_copies)},
	{"multicast_filtered", offsetof(TxStats, multicast_filtered)},
};
static_assert(RTE_DIM(rx_xstats) * sizeof(xen::Counter) == sizeof(RxStats),
	      "an rx counter without an xstat");
static_assert(RTE_DIM(tx_xstats) * sizeof(xen::Counter) == sizeof(TxStats),
	      "a tx counter without an xstat");
constexpr xen::QueueStatsTables<RxQueue, TxQueue> queue_stats{rx_xstats, tx_xstats};

/* Port xstats, after the queues' (so that their ids stay as they were). */
constexpr xen::XstatField port_xstats[] = {
	{"store_reconnects", offsetof(Adapter, store_reconnects)},
	{"vif_found", offsetof(Adapter, vif_found)},
	{"vif_removed", offsetof(Adapter, vif_removed)},
};

int stats_reset(rte_eth_dev *dev) noexcept
{
	return queue_stats.reset(dev);
}
int xstats_reset(rte_eth_dev *dev) noexcept
{
	auto *a = static_cast<Adapter *>(dev->data->dev_private);
	for (const xen::XstatField &f : port_xstats)
		__atomic_store_n(
			reinterpret_cast<uint64_t *>(reinterpret_cast<uint8_t *>(a) + f.offset), 0,
			__ATOMIC_RELAXED);
	return queue_stats.reset(dev);
}
int xstats_get(rte_eth_dev *dev, rte_eth_xstat *xstats, unsigned int size) noexcept
{
	unsigned n = queue_stats.count(dev);
	unsigned total = n + RTE_DIM(port_xstats);
	if (xstats == nullptr || size < total)
		return static_cast<int>(total);
	queue_stats.values(dev, xstats, size);
	const auto *a = static_cast<const uint8_t *>(dev->data->dev_private);
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

/* Assigned in eth_dev_ops declaration order. */
eth_dev_ops make_ops()
{
	eth_dev_ops ops{};
	ops.dev_configure = dev_configure;
	ops.dev_start = dev_start;
	ops.dev_stop = dev_stop;
	ops.dev_close = dev_close;
	ops.link_update = link_update;
	ops.promiscuous_enable = promiscuous_enable;
	ops.promiscuous_disable = promiscuous_disable;
	ops.allmulticast_enable = allmulticast_enable;
	ops.allmulticast_disable = allmulticast_disable;
	ops.mtu_set = mtu_set;
	ops.stats_get = stats_get;
	ops.stats_reset = stats_reset;
	ops.xstats_get = xstats_get;
	ops.xstats_reset = xstats_reset;
	ops.xstats_get_names = xstats_get_names;
	ops.dev_infos_get = dev_infos_get;
	ops.rx_queue_setup = rx_queue_setup;
	ops.tx_queue_setup = tx_queue_setup;
	return ops;
}
const eth_dev_ops xenback_ops = make_ops();

const eth_dev_ops xenback_secondary_ops = xen::secondary_ops(xenback_ops);

int probe_secondary(rte_vdev_device *vdev, const char *name)
{
	if (xen::attach_secondary(vdev, name, &xenback_secondary_ops) == nullptr) {
		XB_INIT_LOG(ERR, name, "secondary process: the primary has no port %s", name);
		return -ENODEV;
	}
	XB_INIT_LOG(INFO, name, "attached in a secondary process: information and counters only");
	return 0;
}

} // namespace
} // namespace xenback

using namespace xenback;

extern "C" int xenback_probe(rte_vdev_device *vdev) noexcept
{
	const char *name = rte_vdev_device_name(vdev);
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return probe_secondary(vdev, name);
	Config config;
	std::string error;
	if (!parse_config(rte_vdev_device_args(vdev), config, error)) {
		XB_INIT_LOG(ERR, name, "%s", error.c_str());
		return -EINVAL;
	}
	rte_eth_dev *dev = rte_eth_vdev_allocate(vdev, sizeof(Adapter));
	if (dev == nullptr) {
		XB_INIT_LOG(ERR, name, "cannot allocate an ethdev port");
		return -ENOMEM;
	}
	Adapter &a = *static_cast<Adapter *>(dev->data->dev_private);
	a.config = config;
	a.mac = backend_mac;
	a.max_frame = RTE_ETHER_MTU + l2_overhead;
	mcast_init(a.mcast);
	std::snprintf(a.name, sizeof(a.name), "%s", name);
	dev->data->mac_addrs = &a.mac;
	dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	dev->dev_ops = &xenback_ops;
	dev->rx_pkt_burst = xenback_rx_burst;
	dev->tx_pkt_burst = xenback_tx_burst;
	std::unique_ptr<Control> control = Control::probe(name, config, dev, error);
	if (!control) {
		XB_INIT_LOG(ERR, name, "%s", error.c_str());
		dev->data->mac_addrs = nullptr;
		rte_eth_dev_release_port(dev);
		return -ENODEV;
	}
	dev->process_private = control.release();
	rte_eth_dev_probing_finish(dev);
	return 0;
}

extern "C" int xenback_remove(rte_vdev_device *vdev) noexcept
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
