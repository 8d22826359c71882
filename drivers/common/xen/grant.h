/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* Move-only owners of grant-table resources, over libxengnttab:
 *  - Gntshr / SharedPages: pages this domain grants to another (gntalloc);
 *  - Gnttab / MappedGrants: another domain's grants mapped here (gntdev),
 *    and grant copy.
 * Control path only: the data path uses the pages and refs these hold and
 * never calls into the library, except grant copy in a backend. */

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <string>
#include <vector>

#include "ids.h"

extern "C" {
#include <xengnttab.h>
}

namespace xen
{

/* An open gntalloc handle. */
class Gntshr
{
public:
	static std::optional<Gntshr> open(std::string &error) noexcept;
	Gntshr(Gntshr &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
	Gntshr &operator=(Gntshr &&other) noexcept;
	Gntshr(const Gntshr &) = delete;
	Gntshr &operator=(const Gntshr &) = delete;
	~Gntshr();
	xengntshr_handle *get() const noexcept { return handle_; }

private:
	explicit Gntshr(xengntshr_handle *h) noexcept : handle_(h) {}
	xengntshr_handle *handle_;
};

/* `count` zeroed, contiguous, page-aligned pages granted to `peer`. The
 * grants are revoked (and the pages freed once the peer unmaps them) when
 * this is destroyed. The Gntshr must outlive it. */
class SharedPages
{
public:
	static std::optional<SharedPages> share(const Gntshr &gntshr, DomId peer, size_t count,
						bool writable, std::string &error) noexcept;
	SharedPages(SharedPages &&other) noexcept;
	SharedPages &operator=(SharedPages &&other) noexcept;
	SharedPages(const SharedPages &) = delete;
	SharedPages &operator=(const SharedPages &) = delete;
	~SharedPages();

	size_t count() const noexcept { return refs_.size(); }
	uint8_t *page(size_t i) const noexcept { return base_ + i * 4096; }
	GrantRef ref(size_t i) const noexcept { return GrantRef(refs_[i]); }
	std::span<const uint32_t> refs() const noexcept { return refs_; }

private:
	SharedPages(xengntshr_handle *h, uint8_t *base, std::vector<uint32_t> refs) noexcept
		: handle_(h), base_(base), refs_(std::move(refs))
	{
	}
	void release() noexcept;
	xengntshr_handle *handle_;
	uint8_t *base_;
	std::vector<uint32_t> refs_;
};

/* An open gntdev handle: maps foreign grants and performs grant copies. */
class Gnttab
{
public:
	static std::optional<Gnttab> open(std::string &error) noexcept;
	Gnttab(Gnttab &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
	Gnttab &operator=(Gnttab &&other) noexcept;
	Gnttab(const Gnttab &) = delete;
	Gnttab &operator=(const Gnttab &) = delete;
	~Gnttab();
	xengnttab_handle *get() const noexcept { return handle_; }

private:
	explicit Gnttab(xengnttab_handle *h) noexcept : handle_(h) {}
	xengnttab_handle *handle_;
};

/* Grants of domain `peer` mapped contiguously into this process; unmapped
 * when destroyed. The Gnttab must outlive it. */
class MappedGrants
{
public:
	static std::optional<MappedGrants> map(const Gnttab &gnttab, DomId peer,
					       std::span<const GrantRef> refs, bool writable,
					       std::string &error) noexcept;
	MappedGrants(MappedGrants &&other) noexcept;
	MappedGrants &operator=(MappedGrants &&other) noexcept;
	MappedGrants(const MappedGrants &) = delete;
	MappedGrants &operator=(const MappedGrants &) = delete;
	~MappedGrants();

	void *data() const noexcept { return base_; }
	size_t count() const noexcept { return count_; }
	/* Leaves the pages mapped for the life of the process: for pages that
	 * someone may still read after we are gone (the mapping outlives the
	 * gntdev handle, as an mmap outlives its file). */
	void leak() noexcept { base_ = nullptr; }

private:
	MappedGrants(xengnttab_handle *h, void *base, size_t count) noexcept
		: handle_(h), base_(base), count_(count)
	{
	}
	void release() noexcept;
	xengnttab_handle *handle_;
	void *base_;
	size_t count_;
};

} // namespace xen
