/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * Test harness for the grant-table and event-channel stand-ins: starts a
 * private xensim-hvd per test, runs code as another domain in a forked
 * process, passes numbers between processes and reads `--status`.
 */
#ifndef XENSIM_TEST_HV_HARNESS_H
#define XENSIM_TEST_HV_HARNESS_H

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace xensim::test
{

/* A private xensim-hvd in a fresh directory; XENSIM_DIR points at it. */
class Hvd
{
public:
	explicit Hvd(unsigned gntalloc_limit = 0)
	{
		char tmpl[] = "/tmp/xensim-hv-XXXXXX";
		if (::mkdtemp(tmpl) == nullptr)
			std::abort();
		dir_ = tmpl;
		pid_ = ::fork();
		if (pid_ == 0) {
			const std::string limit = std::to_string(gntalloc_limit);
			if (gntalloc_limit != 0)
				::execl(XENSIM_HVD_PATH, "xensim-hvd", "--dir", dir_.c_str(),
					"--gntalloc-limit", limit.c_str(), nullptr);
			else
				::execl(XENSIM_HVD_PATH, "xensim-hvd", "--dir", dir_.c_str(),
					nullptr);
			::_exit(127);
		}
		const std::string ready = dir_ + "/hv/ready";
		for (int i = 0; i < 1000 && ::access(ready.c_str(), F_OK) != 0; i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(5));
		::setenv("XENSIM_DIR", dir_.c_str(), 1);
		::setenv("XENSIM_DOMID", "0", 1);
	}
	~Hvd()
	{
		if (pid_ > 0) {
			::kill(pid_, SIGTERM);
			::waitpid(pid_, nullptr, 0);
		}
		std::error_code ignored; /* a leftover temporary directory is harmless */
		std::filesystem::remove_all(dir_, ignored);
	}
	Hvd(const Hvd &) = delete;
	Hvd &operator=(const Hvd &) = delete;

	const std::string &dir() const { return dir_; }
	bool ready() const { return ::access((dir_ + "/hv/ready").c_str(), F_OK) == 0; }

	/* SIGTERM; returns the exit status (0 expected). */
	int stop()
	{
		::kill(pid_, SIGTERM);
		int st = 0;
		::waitpid(pid_, &st, 0);
		pid_ = -1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}

	std::string status() const
	{
		const std::string cmd = std::string(XENSIM_HVD_PATH) + " --status '" + dir_ + "'";
		FILE *f = ::popen(cmd.c_str(), "r");
		std::string out;
		char buf[4096];
		std::size_t n;
		while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
			out.append(buf, n);
		::pclose(f);
		return out;
	}

	/* `key` of domain `domid` in section "domains" or "counters"; -1 if absent. */
	long stat(const char *section, unsigned domid, const char *key) const
	{
		const std::string s = status();
		std::size_t at = s.find(std::string("\"") + section + "\": {");
		if (at == std::string::npos)
			return -1;
		at = s.find("\"" + std::to_string(domid) + "\": {", at);
		if (at == std::string::npos)
			return -1;
		const std::size_t end = s.find('}', at);
		at = s.find(std::string("\"") + key + "\": ", at);
		if (at == std::string::npos || at > end)
			return -1;
		return std::strtol(s.c_str() + at + std::strlen(key) + 4, nullptr, 10);
	}
	/* Number of processes holding hvd connections. */
	long processes() const
	{
		const std::string s = status();
		const std::size_t at = s.find("\"processes\": ");
		return at == std::string::npos ? -1 : std::strtol(s.c_str() + at + 13, nullptr, 10);
	}
	long domain(unsigned domid, const char *key) const { return stat("domains", domid, key); }
	long counter(unsigned domid, const char *key) const { return stat("counters", domid, key); }

private:
	std::string dir_;
	pid_t pid_ = -1;
};

/* Switches the domain that handles opened from now on belong to. */
inline void as_domain(unsigned domid)
{
	::setenv("XENSIM_DOMID", std::to_string(domid).c_str(), 1);
}

/* A bidirectional pipe of 64-bit values between parent and child. */
class Channel
{
public:
	Channel()
	{
		if (::pipe(up_) != 0 || ::pipe(down_) != 0)
			std::abort();
	}
	~Channel()
	{
		for (int fd : {up_[0], up_[1], down_[0], down_[1]})
			::close(fd);
	}
	/* Child side. */
	void put(std::uint64_t v) { write_all(up_[1], v); }
	std::uint64_t take() { return read_all(down_[0]); }
	/* Parent side. */
	void send(std::uint64_t v) { write_all(down_[1], v); }
	std::uint64_t recv() { return read_all(up_[0]); }

private:
	static void write_all(int fd, std::uint64_t v)
	{
		if (::write(fd, &v, sizeof(v)) != sizeof(v))
			std::abort();
	}
	static std::uint64_t read_all(int fd)
	{
		std::uint64_t v = 0;
		if (::read(fd, &v, sizeof(v)) != sizeof(v))
			return ~0ull; /* peer gone */
		return v;
	}
	int up_[2];
	int down_[2];
};

/* Runs `fn` as domain `domid` in a child process; returns its pid. */
inline pid_t spawn(unsigned domid, const std::function<int()> &fn)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		as_domain(domid);
		::_exit(fn());
	}
	return pid;
}

/* Waits for a child; returns its exit code (128+signal if killed). */
inline int join(pid_t pid)
{
	int st = 0;
	::waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* True if `fd` becomes readable within `ms` milliseconds. */
inline bool readable(int fd, int ms)
{
	pollfd p{fd, POLLIN, 0};
	return ::poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Polls `cond` for up to two seconds (the hvd cleans up asynchronously). */
inline bool eventually(const std::function<bool()> &cond)
{
	for (int i = 0; i < 400; i++) {
		if (cond())
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	return cond();
}

} // namespace xensim::test

#endif
