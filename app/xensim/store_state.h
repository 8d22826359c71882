/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * The byte stream of xensim-stored's state files: what a live update hands
 * to the re-executed daemon (tree, domains, connections, watches, listening
 * sockets) and what a snapshot keeps (tree and domains only). A private
 * format, read only by the same build that wrote it: fixed-width
 * little-endian integers and length-prefixed byte strings, checked on every
 * read so that a truncated or foreign file fails cleanly instead of being
 * half-restored. (xenstored's own live update uses the migration stream of
 * docs/designs/xenstore-migration.md; xensim keeps more than that stream
 * carries, e.g. node generations and per-domain accounting.)
 */

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xensim::store
{

class StateWriter
{
public:
	void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
	void u32(uint32_t v)
	{
		for (int i = 0; i < 4; i++)
			u8(static_cast<uint8_t>(v >> (8 * i)));
	}
	void u64(uint64_t v)
	{
		for (int i = 0; i < 8; i++)
			u8(static_cast<uint8_t>(v >> (8 * i)));
	}
	void flag(bool v) { u8(v ? 1 : 0); }
	void bytes(std::string_view s)
	{
		u32(static_cast<uint32_t>(s.size()));
		out_.append(s);
	}
	const std::string &data() const { return out_; }

private:
	std::string out_;
};

class StateReader
{
public:
	explicit StateReader(std::string_view in) : in_(in) {}

	uint8_t u8()
	{
		if (!need(1))
			return 0;
		return static_cast<uint8_t>(in_[off_++]);
	}
	uint32_t u32()
	{
		uint32_t v = 0;
		for (int i = 0; i < 4; i++)
			v |= uint32_t{u8()} << (8 * i);
		return v;
	}
	uint64_t u64()
	{
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v |= uint64_t{u8()} << (8 * i);
		return v;
	}
	bool flag() { return u8() != 0; }
	std::string bytes()
	{
		uint32_t n = u32();
		if (!need(n))
			return {};
		std::string s(in_.substr(off_, n));
		off_ += n;
		return s;
	}
	/* A count of records that each take at least `min_size` bytes: one
	 * that could not fit in what is left marks the stream bad, so a
	 * corrupt count never makes the reader allocate or loop for long. */
	uint32_t count(std::size_t min_size)
	{
		uint32_t n = u32();
		if (min_size && n > (in_.size() - off_) / min_size)
			ok_ = false;
		return ok_ ? n : 0;
	}
	bool ok() const { return ok_; }
	bool at_end() const { return off_ == in_.size(); }

private:
	bool need(std::size_t n)
	{
		if (!ok_ || in_.size() - off_ < n) {
			ok_ = false;
			return false;
		}
		return true;
	}

	std::string_view in_;
	std::size_t off_ = 0;
	bool ok_ = true;
};

} // namespace xensim::store
