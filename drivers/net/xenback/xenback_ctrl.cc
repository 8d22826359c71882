/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "xenback_ctrl.h"

#include <cstring>

namespace xenback
{
namespace
{

constexpr uint32_t all_types = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			       XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

/* Grant copy from the guest into our memory; false on any failure. */
bool copy_in(const CtrlContext &ctx, uint32_t ref, void *dst, uint32_t len)
{
	if (len == 0)
		return true;
	if (len > xen::page_size)
		return false;
	xengnttab_grant_copy_segment_t seg{};
	seg.source.foreign.ref = ref;
	seg.source.foreign.offset = 0;
	seg.source.foreign.domid = ctx.guest;
	seg.dest.virt = dst;
	seg.len = static_cast<uint16_t>(len);
	seg.flags = GNTCOPY_source_gref;
	return xengnttab_grant_copy(ctx.gnttab, 1, &seg) == 0 && seg.status == GNTST_okay;
}

} // namespace

void handle_ctrl_request(const xen_netif_ctrl_request &req, HashConfig &next,
			 const CtrlContext &ctx, xen_netif_ctrl_response &rsp) noexcept
{
	rsp.id = req.id;
	rsp.type = req.type;
	rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
	rsp.data = 0;
	const uint32_t *d = req.data;
	switch (req.type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (d[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    d[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		next.algorithm = d[0];
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		rsp.data = all_types;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		/* netif.h: needs an algorithm first; 0 turns hashing off. */
		if (next.algorithm == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			rsp.status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		else if (d[0] & ~all_types)
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		else
			next.types = d[0];
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: {
		if (d[1] > sizeof(next.key)) {
			rsp.status = XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
			break;
		}
		uint8_t key[sizeof(next.key)] = {};
		if (!copy_in(ctx, d[0], key, d[1])) {
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		/* "Any key octets not specified are assumed to be zero." */
		std::memcpy(next.key, key, sizeof(key));
		next.key_len = sizeof(key);
		next.table.set_key(next.key, next.key_len);
		break;
	}
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		rsp.data = max_mapping_size;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (d[0] > max_mapping_size) {
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		/* "Any previous table is invalidated ... zero filled." */
		next.mapping_size = d[0];
		std::memset(next.mapping, 0, sizeof(next.mapping));
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
		uint32_t len = d[1], off = d[2];
		if (len > max_mapping_size || off > next.mapping_size ||
		    len > next.mapping_size - off) {
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		uint32_t entries[max_mapping_size];
		if (!copy_in(ctx, d[0], entries, len * sizeof(uint32_t))) {
			rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		for (uint32_t i = 0; i < len; i++)
			if (entries[i] >= ctx.nb_queues) {
				rsp.status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
				return;
			}
		std::memcpy(next.mapping + off, entries, len * sizeof(uint32_t));
		break;
	}
	default:
		/* The grant-mapping requests never come here (Control). */
		rsp.status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		break;
	}
}

} // namespace xenback
