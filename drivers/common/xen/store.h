/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#pragma once

/* A connection to xenstore through the real libxenstore: the guest's
 * /dev/xen/xenbus on Xen, or a xenstored-protocol socket named by
 * XENSTORED_PATH (xensim). Move-only; the destructor closes it. */

#include <optional>
#include <string>
#include <string_view>

struct xs_handle;

namespace xen
{

class Store
{
public:
	/* Opens the default connection. On failure returns nullopt and puts
	 * in `error` what a user can do about it. */
	static std::optional<Store> open(std::string &error) noexcept;

	Store(Store &&other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
	Store &operator=(Store &&other) noexcept;
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;
	~Store();

	xs_handle *handle() const noexcept { return handle_; }

	/* Value of `path` (absolute, or relative to this domain's home),
	 * nullopt if absent or unreadable (errno set). */
	std::optional<std::string> read(std::string_view path) const noexcept;

private:
	explicit Store(xs_handle *handle) noexcept : handle_(handle) {}
	xs_handle *handle_;
};

} // namespace xen
