/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */
#include "store.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

/* libxenstore's header has no extern "C" of its own. */
extern "C" {
#include <xenstore.h>
}

namespace xen
{

std::optional<Store> Store::open(std::string &error) noexcept
{
	xs_handle *handle = xs_open(0);
	if (handle == nullptr) {
		const char *path = std::getenv("XENSTORED_PATH");
		if (path != nullptr && *path != '\0')
			error = std::string("no xenstore reachable at XENSTORED_PATH=") + path +
				" (" + std::strerror(errno) + ")";
		else
			error = "no xenstore reachable (set XENSTORED_PATH or run inside a Xen "
				"guest)";
		return std::nullopt;
	}
	return Store(handle);
}

Store &Store::operator=(Store &&other) noexcept
{
	if (this != &other) {
		xs_close(handle_);
		handle_ = other.handle_;
		other.handle_ = nullptr;
	}
	return *this;
}

Store::~Store()
{
	xs_close(handle_);
}

std::optional<std::string> Store::read(std::string_view path) const noexcept
{
	std::string p(path);
	unsigned int len = 0;
	void *value = xs_read(handle_, XBT_NULL, p.c_str(), &len);
	if (value == nullptr)
		return std::nullopt;
	std::string result(static_cast<char *>(value), len);
	std::free(value);
	return result;
}

} // namespace xen
