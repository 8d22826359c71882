/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Per-queue xstats from a static {name, offsetof} table: the names are
 * "<dir>_q<N>_<field>" (snake_case, stable: tools and tests rely on them). */

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>

#include <ethdev_driver.h>

#include "counter.h"

namespace xen
{

struct XstatField {
	const char *name;
	size_t offset; /* of a Counter in the queue's stats struct */
};

/* Per-queue counters of a driver whose RxQ and TxQ each hold a `stats`
 * struct of Counters (counter.h), named by the two tables: every counter
 * has its line (the drivers static_assert it), so that the tables read and
 * reset them all while the bursts write them. */
template <typename RxQ, typename TxQ>
struct QueueStatsTables {
	std::span<const XstatField> rx;
	std::span<const XstatField> tx;

	unsigned count(const rte_eth_dev *dev) const noexcept
	{
		return dev->data->nb_rx_queues * rx.size() + dev->data->nb_tx_queues * tx.size();
	}

	/* eth_xstats_get_names_t */
	int names(rte_eth_dev *dev, rte_eth_xstat_name *out, unsigned size) const noexcept
	{
		unsigned n = count(dev);
		if (out == nullptr || size < n)
			return static_cast<int>(n);
		unsigned k = 0;
		k = fill_names(out, k, "rx", dev->data->nb_rx_queues, rx);
		fill_names(out, k, "tx", dev->data->nb_tx_queues, tx);
		return static_cast<int>(n);
	}

	/* eth_xstats_get_t */
	int values(rte_eth_dev *dev, rte_eth_xstat *out, unsigned size) const noexcept
	{
		unsigned n = count(dev);
		if (out == nullptr || size < n)
			return static_cast<int>(n);
		unsigned k = fill_values(out, 0, dev->data->rx_queues, dev->data->nb_rx_queues, rx,
					 static_cast<RxQ *>(nullptr));
		fill_values(out, k, dev->data->tx_queues, dev->data->nb_tx_queues, tx,
			    static_cast<TxQ *>(nullptr));
		return static_cast<int>(n);
	}

	/* eth_stats_reset_t and eth_xstats_reset_t */
	int reset(rte_eth_dev *dev) const noexcept
	{
		for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
			if (auto *q = static_cast<RxQ *>(dev->data->rx_queues[i]))
				reset_rx(*q);
		for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
			if (auto *q = static_cast<TxQ *>(dev->data->tx_queues[i]))
				reset_tx(*q);
		return 0;
	}
	void reset_rx(RxQ &q) const noexcept { reset_fields(q.stats, rx); }
	void reset_tx(TxQ &q) const noexcept { reset_fields(q.stats, tx); }

private:
	static unsigned fill_names(rte_eth_xstat_name *out, unsigned k, const char *dir,
				   uint16_t nb_queues, std::span<const XstatField> fields) noexcept
	{
		for (uint16_t q = 0; q < nb_queues; q++)
			for (const auto &f : fields)
				std::snprintf(out[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s",
					      dir, q, f.name);
		return k;
	}

	template <typename Stats>
	static void reset_fields(Stats &stats, std::span<const XstatField> fields) noexcept
	{
		for (const auto &f : fields)
			counter_at(stats, f.offset).store(0);
	}

	template <typename Q>
	static unsigned fill_values(rte_eth_xstat *out, unsigned k, void *const *queues,
				    uint16_t nb_queues, std::span<const XstatField> fields,
				    Q *) noexcept
	{
		for (uint16_t q = 0; q < nb_queues; q++) {
			const auto *queue = static_cast<const Q *>(queues[q]);
			for (const auto &f : fields) {
				uint64_t v = 0;
				if (queue != nullptr)
					v = counter_at(queue->stats, f.offset).load();
				out[k] = {k, v};
				k++;
			}
		}
		return k;
	}
};

/* Marks every queue of the port started or stopped. */
inline void set_queue_states(rte_eth_dev *dev, uint8_t state) noexcept
{
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = state;
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = state;
}

/* A link that is up or down; paravirtual links report a fixed 10G. */
inline rte_eth_link paravirtual_link(bool up) noexcept
{
	rte_eth_link link{};
	link.link_speed = RTE_ETH_SPEED_NUM_10G;
	link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
	link.link_autoneg = RTE_ETH_LINK_FIXED;
	link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
	return link;
}

/* Sets the link and raises RTE_ETH_EVENT_INTR_LSC if it changed and the
 * application asked for LSC events; true if it changed. */
inline bool set_link(rte_eth_dev *dev, bool up) noexcept
{
	rte_eth_link link = paravirtual_link(up);
	/* rte_eth_linkstatus_set returns 0 when the status changed. */
	if (rte_eth_linkstatus_set(dev, &link) != 0)
		return false;
	if (dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
	return true;
}

} // namespace xen
