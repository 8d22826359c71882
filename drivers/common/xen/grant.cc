/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "grant.h"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <utility>

namespace xen
{

namespace
{
std::string errno_text(int err)
{
	return std::strerror(err);
}
} // namespace

std::optional<Gntshr> Gntshr::open(std::string &error) noexcept
{
	xengntshr_handle *h = xengntshr_open(nullptr, 0);
	if (h == nullptr) {
		error = "cannot open the grant-sharing device (/dev/xen/gntalloc): " +
			errno_text(errno) +
			(errno == ENOENT ? " (is the xen_gntalloc module loaded?)" : "");
		return std::nullopt;
	}
	return Gntshr(h);
}

Gntshr &Gntshr::operator=(Gntshr &&other) noexcept
{
	if (this != &other) {
		if (handle_ != nullptr)
			xengntshr_close(handle_);
		handle_ = std::exchange(other.handle_, nullptr);
	}
	return *this;
}

Gntshr::~Gntshr()
{
	if (handle_ != nullptr)
		xengntshr_close(handle_);
}

std::optional<SharedPages> SharedPages::share(const Gntshr &gntshr, DomId peer, size_t count,
					      bool writable, std::string &error) noexcept
{
	std::vector<uint32_t> refs(count);
	void *base = xengntshr_share_pages(gntshr.get(), peer.value(), static_cast<int>(count),
					   refs.data(), writable ? 1 : 0);
	if (base == nullptr) {
		int err = errno;
		error = "cannot grant " + std::to_string(count) + " pages to domain " + peer.str() +
			": " + errno_text(err);
		if (err == ENOSPC || err == ENOMEM)
			error += " (gntalloc limit reached? raise "
				 "/sys/module/xen_gntalloc/parameters/limit)";
		return std::nullopt;
	}
	return SharedPages(gntshr.get(), static_cast<uint8_t *>(base), std::move(refs));
}

SharedPages::SharedPages(SharedPages &&other) noexcept
	: handle_(other.handle_), base_(std::exchange(other.base_, nullptr)),
	  refs_(std::move(other.refs_))
{
}

SharedPages &SharedPages::operator=(SharedPages &&other) noexcept
{
	if (this != &other) {
		release();
		handle_ = other.handle_;
		base_ = std::exchange(other.base_, nullptr);
		refs_ = std::move(other.refs_);
	}
	return *this;
}

void SharedPages::release() noexcept
{
	if (base_ != nullptr)
		xengntshr_unshare(handle_, base_, static_cast<uint32_t>(refs_.size()));
	base_ = nullptr;
}

SharedPages::~SharedPages()
{
	release();
}

std::optional<Gnttab> Gnttab::open(std::string &error) noexcept
{
	xengnttab_handle *h = xengnttab_open(nullptr, 0);
	if (h == nullptr) {
		error = "cannot open the grant-mapping device (/dev/xen/gntdev): " +
			errno_text(errno);
		return std::nullopt;
	}
	return Gnttab(h);
}

Gnttab &Gnttab::operator=(Gnttab &&other) noexcept
{
	if (this != &other) {
		if (handle_ != nullptr)
			xengnttab_close(handle_);
		handle_ = std::exchange(other.handle_, nullptr);
	}
	return *this;
}

Gnttab::~Gnttab()
{
	if (handle_ != nullptr)
		xengnttab_close(handle_);
}

std::optional<MappedGrants> MappedGrants::map(const Gnttab &gnttab, DomId peer,
					      std::span<const GrantRef> refs, bool writable,
					      std::string &error) noexcept
{
	std::vector<uint32_t> raw;
	raw.reserve(refs.size());
	for (GrantRef r : refs)
		raw.push_back(r.value());
	void *base = xengnttab_map_domain_grant_refs(
		gnttab.get(), static_cast<uint32_t>(raw.size()), peer.value(), raw.data(),
		writable ? PROT_READ | PROT_WRITE : PROT_READ);
	if (base == nullptr) {
		error = "cannot map " + std::to_string(raw.size()) + " grant(s) of domain " +
			peer.str() + " (first ref " + (raw.empty() ? "-" : std::to_string(raw[0])) +
			"): " + errno_text(errno);
		return std::nullopt;
	}
	return MappedGrants(gnttab.get(), base, raw.size());
}

MappedGrants::MappedGrants(MappedGrants &&other) noexcept
	: handle_(other.handle_), base_(std::exchange(other.base_, nullptr)), count_(other.count_)
{
}

MappedGrants &MappedGrants::operator=(MappedGrants &&other) noexcept
{
	if (this != &other) {
		release();
		handle_ = other.handle_;
		base_ = std::exchange(other.base_, nullptr);
		count_ = other.count_;
	}
	return *this;
}

void MappedGrants::release() noexcept
{
	if (base_ != nullptr)
		xengnttab_unmap(handle_, base_, static_cast<uint32_t>(count_));
	base_ = nullptr;
}

MappedGrants::~MappedGrants()
{
	release();
}

} // namespace xen
