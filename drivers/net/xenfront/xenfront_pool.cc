/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* rte_pmd_xenfront_pktmbuf_pool_create: an mbuf pool whose memory is
 * granted, read-only, to a port's backend domain, so that the transmit path
 * sends its mbufs without copying them (xenfront_tx.cc "Zero copy").
 *
 * The memory comes from gntalloc (xengntshr_share_pages): in user space on
 * Xen only such pages can be granted. It is shared once, when the pool is
 * made, and handed to the mempool with rte_mempool_populate_iova; the
 * mempool calls release_pool_memory when it is freed (rte_mempool_free),
 * which forgets the region, revokes the grants and unmaps the pages. The
 * pool owns its own gntalloc handle, so it may outlive the port. */

#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include <ethdev_driver.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include "grant.h"
#include "rte_pmd_xenfront.h"
#include "xenfront.h"
#include "xenfront_granted.h"
#include "xenfront_logs.h"
#include "xenfront_xenbus.h"

namespace xenfront
{
namespace
{

constexpr char driver_name[] = "net_xenfront";

/* Process-private owner of a pool's grants; the mempool's memory chunk
 * points at it (its free callback's opaque). */
struct GrantedPool {
	std::optional<xen::Gntshr> gntshr; /* declared first: outlives pages */
	std::optional<xen::SharedPages> pages;
	uint32_t *grefs = nullptr; /* rte_malloc: the data path reads them */
	uint16_t port_id = 0;
	Adapter *adapter = nullptr;
	bool registered = false;

	~GrantedPool()
	{
		if (registered && rte_eth_dev_is_valid_port(port_id) &&
		    rte_eth_devices[port_id].data->dev_private == adapter)
			unregister_granted_region(*adapter, pages->page(0));
		pages.reset(); /* revokes the grants, unmaps */
		rte_free(grefs);
	}
};

void release_pool_memory(rte_mempool_memhdr *, void *opaque) noexcept
{
	delete static_cast<GrantedPool *>(opaque);
}

/* Fails with `err` in rte_errno and one line naming the cause. */
rte_mempool *fail(const char *who, int err, const char *fmt, const std::string &detail)
{
	rte_log(RTE_LOG_ERR, xenfront_logtype_init, "%s: %s\n", who,
		(std::string(fmt) + (detail.empty() ? "" : ": " + detail)).c_str());
	rte_errno = err;
	return nullptr;
}

} // namespace
} // namespace xenfront

using namespace xenfront;

extern "C" __attribute__((visibility("default"))) struct rte_mempool *
rte_pmd_xenfront_pktmbuf_pool_create(const char *name, uint16_t port_id, unsigned int n,
				     unsigned int cache_size, uint16_t priv_size,
				     uint16_t data_room_size, int socket_id)
{
	const char *who = "rte_pmd_xenfront_pktmbuf_pool_create";
	if (name == nullptr || n == 0 || RTE_ALIGN(priv_size, RTE_MBUF_PRIV_ALIGN) != priv_size)
		return fail(who, EINVAL, "no name, no mbufs, or priv_size not a multiple of 8", "");
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return fail(who, E_RTE_SECONDARY, "only the primary process can grant memory", "");
	rte_eth_dev_info info;
	if (!rte_eth_dev_is_valid_port(port_id) || rte_eth_dev_info_get(port_id, &info) != 0 ||
	    info.driver_name == nullptr || std::strcmp(info.driver_name, driver_name) != 0)
		return fail(
			who, ENODEV,
			("port " + std::to_string(port_id) + " is not a probed net_xenfront port")
				.c_str(),
			"");
	rte_eth_dev &dev = rte_eth_devices[port_id];
	auto *control = static_cast<Control *>(dev.process_private);
	auto *adapter = static_cast<Adapter *>(dev.data->dev_private);
	if (control == nullptr)
		return fail(who, ENODEV, "the port is closed", "");
	const char *port = adapter->name;
	if (!control->backend_trusted())
		/* XSA-403: the pool's pages would be the backend's to read whole,
		 * mbuf headers and frames of other ports included. */
		return fail(port, EPERM,
			    "the backend is not trusted (the vif's trusted node is 0, or "
			    "trusted=0): granting it a mempool would show it memory beyond this "
			    "vif's frames; use an ordinary mempool (frames are copied)",
			    "");

	/* Objects may span pages: the transmit path splits at page limits,
	 * and nothing here needs IOVA-contiguous objects. */
	const unsigned elt_size = sizeof(rte_mbuf) + priv_size + data_room_size;
	rte_mempool *mp = rte_mempool_create_empty(name, n, elt_size, cache_size,
						   sizeof(rte_pktmbuf_pool_private), socket_id,
						   RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == nullptr)
		return fail(port, rte_errno, "cannot create the mempool", rte_strerror(rte_errno));
	int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
	if (rc != 0) {
		rte_mempool_free(mp);
		return fail(port, -rc, "cannot set the mempool ops", rte_strerror(-rc));
	}
	rte_pktmbuf_pool_private mbp{};
	mbp.mbuf_data_room_size = data_room_size;
	mbp.mbuf_priv_size = priv_size;
	rte_pktmbuf_pool_init(mp, &mbp);

	/* Objects one after another from the page-aligned start (no page
	 * constraint with RTE_MEMPOOL_F_NO_IOVA_CONTIG). */
	const size_t obj_size = size_t(mp->header_size) + mp->elt_size + mp->trailer_size;
	const size_t nb_pages = (size_t(n) * obj_size + xen::page_size - 1) / xen::page_size;
	auto *pool = new (std::nothrow) GrantedPool;
	if (pool == nullptr) {
		rte_mempool_free(mp);
		return fail(port, ENOMEM, "out of memory", "");
	}
	std::string error;
	pool->gntshr = xen::Gntshr::open(error);
	if (pool->gntshr)
		pool->pages = xen::SharedPages::share(*pool->gntshr, control->backend_domid(),
						      nb_pages, false, error);
	if (!pool->pages) {
		delete pool;
		rte_mempool_free(mp);
		/* Each started queue pair already holds 514 grants of this
		 * domain (two ring pages, 256 buffers each way). */
		return fail(port, ENOSPC,
			    ("cannot grant the pool's " + std::to_string(nb_pages) +
			     " pages to the backend domain " + control->backend_domid().str() +
			     " (gntalloc limit: 1024 grants per domain by default, each queue "
			     "pair holds 514)")
				    .c_str(),
			    error);
	}
	pool->grefs = static_cast<uint32_t *>(rte_malloc_socket(
		"xenfront_pool_grefs", nb_pages * sizeof(uint32_t), 0, socket_id));
	if (pool->grefs == nullptr) {
		delete pool;
		rte_mempool_free(mp);
		return fail(port, ENOMEM, "out of memory for the grant references", "");
	}
	std::memcpy(pool->grefs, pool->pages->refs().data(), nb_pages * sizeof(uint32_t));
	pool->port_id = port_id;
	pool->adapter = adapter;

	auto *base = reinterpret_cast<char *>(pool->pages->page(0));
	const rte_iova_t iova = rte_eal_iova_mode() == RTE_IOVA_VA
					? static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(base))
					: RTE_BAD_IOVA;
	rc = rte_mempool_populate_iova(mp, base, iova, nb_pages * xen::page_size,
				       release_pool_memory, pool);
	if (rc < 0) {
		/* No chunk was added: the callback will not run. */
		delete pool;
		rte_mempool_free(mp);
		return fail(port, -rc, "cannot populate the mempool", rte_strerror(-rc));
	}
	if (static_cast<unsigned>(rc) != n) {
		rte_mempool_free(mp); /* runs release_pool_memory */
		return fail(port, ENOMEM, "the granted memory holds too few mbufs", "");
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);

	rc = register_granted_region(*adapter, base, static_cast<uint32_t>(nb_pages), pool->grefs);
	if (rc != 0) {
		rte_mempool_free(mp);
		return fail(port, -rc,
			    rc == -ENOSPC ? "the port has too many granted pools (8 at most)"
					  : "cannot register the granted memory",
			    "");
	}
	pool->registered = true;
	XF_INIT_LOG(INFO, port,
		    "granted mbuf pool %s: %u mbufs, %zu pages granted read-only to domain %u",
		    name, n, nb_pages, control->backend_domid().value());
	return mp;
}
