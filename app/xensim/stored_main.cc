/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * xensim-stored: the xenstore daemon of a xensim instance.
 *
 * Speaks the wire protocol of xen/io/xs_wire.h on unix stream sockets, one
 * listening socket per introduced domain ($DIR/store/domain-<N>.sock), so a
 * connection's domain is the socket it came through: domain 0's socket is
 * the privileged one, as xenstored's own socket is on Xen. The real
 * libxenstore reaches it with XENSTORED_PATH=<socket>.
 *
 * Single-threaded epoll loop. Replies echo the request's req_id and tx_id
 * (xenstored send_reply() reuses the request header); watch events go out
 * on the same connection with req_id 0, as libxenstore expects.
 */

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <utility>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "store_db.h"
#include "store_path.h"
#include "store_state.h"
#include "store_wire.h"

namespace xensim::store
{
namespace
{

bool verbose = false;

__attribute__((format(printf, 1, 2))) void log(const char *fmt, ...)
{
	char stamp[32];
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	tm t{};
	localtime_r(&ts.tv_sec, &t);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &t);
	std::fprintf(stderr, "%s.%03ld xensim-stored: ", stamp, ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	std::vfprintf(stderr, fmt, ap);
	va_end(ap);
	std::fputc('\n', stderr);
}

/* An owned file descriptor. */
class Fd
{
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(o.release());
		return *this;
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	~Fd() { reset(); }
	int get() const { return fd_; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd = -1)
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_ = -1;
};

const char *error_string(int err)
{
	/* The reply of XS_ERROR is the errno's name from xsd_errors[]; an
	 * errno without a name there goes out as EINVAL (xenstored
	 * send_error()). */
	for (const auto &e : xsd_errors)
		if (e.errnum == err)
			return e.errstring;
	return "EINVAL";
}

const char *type_name(uint32_t type)
{
	static const char *const names[] = {
		"CONTROL",
		"DIRECTORY",
		"READ",
		"GET_PERMS",
		"WATCH",
		"UNWATCH",
		"TRANSACTION_START",
		"TRANSACTION_END",
		"INTRODUCE",
		"RELEASE",
		"GET_DOMAIN_PATH",
		"WRITE",
		"MKDIR",
		"RM",
		"SET_PERMS",
		"WATCH_EVENT",
		"ERROR",
		"IS_DOMAIN_INTRODUCED",
		"RESUME",
		"SET_TARGET",
		"(removed)",
		"RESET_WATCHES",
		"DIRECTORY_PART",
	};
	static_assert(sizeof(names) / sizeof(names[0]) == XS_TYPE_COUNT);
	return type < XS_TYPE_COUNT ? names[type] : "(unknown)";
}

struct Watch {
	std::string node; /* absolute, or a special "@..." name */
	std::string token;
	bool relative; /* registered relative to the domain path */
};

struct OutMsg {
	std::string bytes;
	bool reply; /* counts against the outstanding-requests quota */
};

struct Connection {
	uint64_t id;
	Fd fd;
	DomId dom;
	std::string in;
	std::deque<OutMsg> out;
	std::size_t out_off = 0;
	std::size_t out_bytes = 0;
	unsigned int pending_replies = 0;
	std::vector<Watch> watches;
	std::map<uint32_t, std::unique_ptr<Transaction>> transactions;
	uint32_t next_tx = 1;
	bool closing = false;
	uint32_t events = 0; /* current epoll interest */
	bool drop_logged = false;
	/* --watch-delay: when the WATCH request at the head of the input may
	 * be processed (unset while none is held). */
	std::optional<std::chrono::steady_clock::time_point> watch_held_until;
};

struct Listener {
	Fd fd;
	std::string path;
};

/* epoll user data: connections by id; listeners and the signal fd tagged. */
constexpr uint64_t kListenerTag = uint64_t{1} << 62;
constexpr uint64_t kSignalTag = uint64_t{1} << 63;

/* A connection reads at most this much ahead of what it processed. */
constexpr std::size_t kInputCap = 4 * (sizeof(xsd_sockmsg) + XENSTORE_PAYLOAD_MAX);

/* How the daemon starts: afresh, from the snapshot a killed daemon left,
 * or from the state its predecessor handed over in a live update. */
struct StartMode {
	bool restore = false;
	int live_update_fd = -1;
};

/* First bytes of the two state streams (store_state.h). */
constexpr std::string_view kSnapshotMagic = "xensim-stored snapshot 1";
constexpr std::string_view kLiveUpdateMagic = "xensim-stored live-update 1";

/* --watch-delay DOMID:MS: the WATCH requests of one domain are processed
 * that late, and the requests behind them on the connection wait too, as
 * a xenstored slow to serve that domain (a loaded host) would answer them.
 * A test knob: it widens the window between a client's request before its
 * WATCH and its first look at the watched node, where races hide. */
struct WatchDelay {
	DomId dom{0};
	std::chrono::milliseconds delay{0};
};

std::optional<WatchDelay> parse_watch_delay(const std::string &arg)
{
	unsigned long dom = 0, ms = 0;
	int end = 0;
	if (std::sscanf(arg.c_str(), "%lu:%lu%n", &dom, &ms, &end) != 2 ||
	    static_cast<std::size_t>(end) != arg.size() || dom > UINT16_MAX || ms < 1 || ms > 60000)
		return std::nullopt;
	return WatchDelay{DomId{static_cast<uint32_t>(dom)}, std::chrono::milliseconds(ms)};
}

/* The option's value again, for the daemon a live update starts. */
std::string watch_delay_arg(const WatchDelay &d)
{
	if (d.delay.count() == 0)
		return {};
	return std::to_string(raw(d.dom)) + ":" + std::to_string(d.delay.count());
}

/* How long a live update waits for open transactions to end, as
 * xenstored's live-update timeout (xenstore-control live-update -t). */
constexpr std::chrono::seconds kLiveUpdateTimeout{10};

class Daemon
{
public:
	using Clock = std::chrono::steady_clock;

	Daemon(std::string dir, const Limits &limits, std::string self_exe, WatchDelay watch_delay);
	int run(const StartMode &mode);

private:
	bool open_listener(DomId d);
	void close_listener(DomId d);
	void accept_on(DomId d);
	void on_readable(Connection &c);
	void on_writable(Connection &c);
	void process_input(Connection &c);
	void process(Connection &c, const xsd_sockmsg &hdr, std::string_view body);
	int dispatch(Connection &c, const xsd_sockmsg &hdr, std::string_view body, Caller &caller,
		     std::optional<std::string> &reply, bool &replied);
	void send(Connection &c, const xsd_sockmsg &req, uint32_t type, std::string_view payload);
	void send_error(Connection &c, const xsd_sockmsg &req, int err);
	void queue(Connection &c, std::string bytes, bool reply);
	void flush(Connection &c);
	void update_interest(Connection &c);
	void close_conn(Connection &c, const char *why);
	void reset_conn(Connection &c);
	void fire(const FireRequest &r);
	int do_watch(Connection &c, std::string_view body);
	int do_unwatch(Connection &c, std::string_view body);
	int do_introduce(std::string_view body);
	int do_release(std::string_view body);
	int do_control(std::string_view body, std::string &reply);
	int do_live_update(Connection &c, const xsd_sockmsg &hdr, std::string_view body);
	void try_live_update();
	void exec_live_update();
	void save_connections(StateWriter &w) const;
	bool restore_live_update(int fd);
	bool restore_snapshot();
	void save_snapshot();
	bool adopt_listener(DomId d, int fd);
	std::string status_json() const;
	std::optional<DomId> target_of(DomId d) const;
	bool blocked(const Connection &c) const;
	bool watch_held(Connection &c, const xsd_sockmsg &hdr);
	int held_timeout_ms() const;
	void reap();

	std::string dir_;
	std::string sockdir_;
	Store store_;
	Fd epoll_;
	Fd sigfd_;
	std::map<uint32_t, Listener> listeners_;
	std::map<uint64_t, std::unique_ptr<Connection>> conns_; /* creation order */
	uint64_t next_conn_id_ = 1;
	bool doomed_ = false;

	/* The snapshot: what a daemon started with --restore begins from.
	 * It is written before any reply goes out after a change, so every
	 * change a client was told of is in it. */
	std::string snapshot_path_;
	bool dirty_ = false; /* the store changed since the last snapshot */
	/* A live update asked for and waiting for transactions to end. */
	struct LiveUpdate {
		uint64_t conn;
		xsd_sockmsg req;
		std::string exe;
		Clock::time_point deadline;
	};
	std::optional<LiveUpdate> live_update_;
	std::string self_exe_;
	uint64_t live_updates_ = 0; /* carried over each live update */
	bool restored_ = false;
	WatchDelay watch_delay_;
};

Daemon::Daemon(std::string dir, const Limits &limits, std::string self_exe, WatchDelay watch_delay)
	: dir_(std::move(dir)), sockdir_(dir_ + "/store"), store_(limits),
	  snapshot_path_(sockdir_ + "/snapshot"), self_exe_(std::move(self_exe)),
	  watch_delay_(watch_delay)
{
	store_.set_fire_handler([this](const FireRequest &r) { fire(r); });
}

std::optional<DomId> Daemon::target_of(DomId d) const
{
	const Domain *dom = store_.find_domain(d);
	return dom ? dom->target : std::nullopt;
}

std::string socket_path(const std::string &sockdir, DomId d)
{
	return sockdir + "/domain-" + std::to_string(raw(d)) + ".sock";
}

bool Daemon::open_listener(DomId d)
{
	const std::string path = socket_path(sockdir_, d);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.size() >= sizeof(addr.sun_path)) {
		log("socket path %s is longer than %zu bytes: use a shorter --dir", path.c_str(),
		    sizeof(addr.sun_path) - 1);
		errno = ENAMETOOLONG;
		return false;
	}
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (fd.get() < 0)
		return false;
	::unlink(path.c_str());
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 ||
	    ::listen(fd.get(), 64) < 0) {
		int err = errno;
		log("cannot listen on %s: %s", path.c_str(), std::strerror(err));
		errno = err;
		return false;
	}
	if (!adopt_listener(d, fd.release()))
		return false;
	log("domain %u: listening on %s", raw(d), path.c_str());
	return true;
}

bool Daemon::adopt_listener(DomId d, int raw_fd)
{
	Fd fd(raw_fd);
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.u64 = kListenerTag | raw(d);
	if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0)
		return false;
	listeners_[raw(d)] = Listener{std::move(fd), socket_path(sockdir_, d)};
	return true;
}

void Daemon::close_listener(DomId d)
{
	auto it = listeners_.find(raw(d));
	if (it == listeners_.end())
		return;
	::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
	::unlink(it->second.path.c_str());
	listeners_.erase(it);
}

void Daemon::accept_on(DomId d)
{
	auto it = listeners_.find(raw(d));
	if (it == listeners_.end())
		return;
	for (;;) {
		Fd fd(::accept4(it->second.fd.get(), nullptr, nullptr,
				SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (fd.get() < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log("accept on domain %u: %s", raw(d), std::strerror(errno));
			return;
		}
		if (!is_privileged(d)) {
			unsigned int n = 0;
			for (const auto &[id, c] : conns_)
				n += c->dom == d && !c->closing;
			if (n >= store_.limits().conns_per_domain) {
				log("domain %u: refusing connection, already %u open", raw(d), n);
				continue;
			}
		}
		auto c = std::make_unique<Connection>();
		c->id = next_conn_id_++;
		c->fd = std::move(fd);
		c->dom = d;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = c->id;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) {
			log("epoll_ctl: %s", std::strerror(errno));
			continue;
		}
		c->events = EPOLLIN;
		if (verbose)
			log("conn %llu: domain %u connected", (unsigned long long)c->id, raw(d));
		conns_.emplace(c->id, std::move(c));
	}
}

bool Daemon::blocked(const Connection &c) const
{
	/* xenstored domain_can_read(): an unprivileged domain with
	 * quota_req_outstanding replies not yet taken is not read from. */
	return !is_privileged(c.dom) && c.pending_replies >= store_.limits().outstanding;
}

bool Daemon::watch_held(Connection &c, const xsd_sockmsg &hdr)
{
	if (hdr.type != XS_WATCH || watch_delay_.delay.count() == 0 || c.dom != watch_delay_.dom)
		return false;
	const auto now = Clock::now();
	if (!c.watch_held_until) {
		c.watch_held_until = now + watch_delay_.delay;
		if (verbose)
			log("conn %llu (domain %u): WATCH req %u held for %lld ms (--watch-delay)",
			    (unsigned long long)c.id, raw(c.dom), hdr.req_id,
			    static_cast<long long>(watch_delay_.delay.count()));
		return true;
	}
	if (now < *c.watch_held_until)
		return true;
	c.watch_held_until.reset();
	return false;
}

int Daemon::held_timeout_ms() const
{
	/* How long epoll may sleep before a held WATCH is due; -1: none. */
	std::optional<Clock::time_point> first;
	for (const auto &[id, c] : conns_)
		if (!c->closing && c->watch_held_until && (!first || *c->watch_held_until < *first))
			first = c->watch_held_until;
	if (!first)
		return -1;
	auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - Clock::now());
	return static_cast<int>(std::max<long long>(left.count(), 0));
}

void Daemon::update_interest(Connection &c)
{
	if (c.closing)
		return;
	uint32_t want = 0;
	if (!blocked(c) && c.in.size() < kInputCap)
		want |= EPOLLIN;
	if (!c.out.empty())
		want |= EPOLLOUT;
	if (want == c.events)
		return;
	epoll_event ev{};
	ev.events = want;
	ev.data.u64 = c.id;
	::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
	c.events = want;
}

void Daemon::close_conn(Connection &c, const char *why)
{
	if (c.closing)
		return;
	if (why)
		log("conn %llu (domain %u): closing: %s", (unsigned long long)c.id, raw(c.dom),
		    why);
	reset_conn(c);
	::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
	c.fd.reset();
	c.closing = true;
	/* c.in stays: the request being processed may still point into it;
	 * the connection is freed in reap(), after the loop. */
	c.out.clear();
	doomed_ = true;
}

void Daemon::reset_conn(Connection &c)
{
	/* xenstored conn_delete_all_watches()/_transactions(). */
	if (Domain *d = store_.find_domain(c.dom))
		d->watches -= std::min<std::size_t>(d->watches, c.watches.size());
	c.watches.clear();
	c.transactions.clear();
}

void Daemon::reap()
{
	if (!doomed_)
		return;
	std::erase_if(conns_, [](const auto &kv) { return kv.second->closing; });
	doomed_ = false;
}

void Daemon::queue(Connection &c, std::string bytes, bool reply)
{
	if (c.closing)
		return;
	if (is_privileged(c.dom) &&
	    c.out_bytes + bytes.size() > store_.limits().dom0_output_bytes) {
		close_conn(c, "too much unread output");
		return;
	}
	c.out_bytes += bytes.size();
	c.pending_replies += reply;
	c.out.push_back(OutMsg{std::move(bytes), reply});
}

void Daemon::send(Connection &c, const xsd_sockmsg &req, uint32_t type, std::string_view payload)
{
	if (payload.size() > XENSTORE_PAYLOAD_MAX) {
		/* xenstored send_reply(): a reply that does not fit is E2BIG. */
		send_error(c, req, E2BIG);
		return;
	}
	xsd_sockmsg hdr = req;
	hdr.type = type;
	hdr.len = static_cast<uint32_t>(payload.size());
	std::string bytes(reinterpret_cast<const char *>(&hdr), sizeof(hdr));
	bytes.append(payload);
	queue(c, std::move(bytes), true);
}

void Daemon::send_error(Connection &c, const xsd_sockmsg &req, int err)
{
	const char *s = error_string(err);
	send(c, req, XS_ERROR, std::string_view(s, std::strlen(s) + 1));
}

void Daemon::fire(const FireRequest &r)
{
	/* xenstored fire_watches(): every connection whose domain may see the
	 * node, every watch on the node (exact) or on it or an ancestor. */
	const bool special = is_special(r.name);
	for (auto &[id, cp] : conns_) {
		Connection &c = *cp;
		if (c.closing || c.watches.empty())
			continue;
		std::optional<DomId> target = target_of(c.dom);
		if (special ? !store_.special_permitted(r.name, c.dom, target)
			    : !store_.watch_permitted(r, c.dom, target))
			continue;
		for (const Watch &w : c.watches) {
			bool match = r.exact ? r.name == w.node : is_child_or_self(r.name, w.node);
			if (special && !r.exact)
				match = r.name == w.node;
			if (!match)
				continue;
			std::string path = r.name;
			if (w.relative) {
				/* xenstored get_watch_path(): strip the
				 * domain path the watch was relative to. */
				const std::string prefix = domain_path(c.dom);
				path = path.substr(prefix.size());
				if (!path.empty() && path.front() == '/')
					path.erase(0, 1);
			}
			std::string payload = path;
			payload += '\0';
			payload += w.token;
			payload += '\0';
			xsd_sockmsg hdr{};
			hdr.type = XS_WATCH_EVENT;
			hdr.len = static_cast<uint32_t>(payload.size());
			std::string bytes(reinterpret_cast<const char *>(&hdr), sizeof(hdr));
			bytes += payload;
			const std::size_t cap = is_privileged(c.dom)
							? store_.limits().dom0_output_bytes
							: store_.limits().output_bytes;
			if (c.out_bytes + bytes.size() > cap) {
				if (is_privileged(c.dom)) {
					close_conn(c, "too much unread output");
					break;
				}
				/* xenstored send_event(): over the memory quota
				 * an event is dropped. */
				if (!c.drop_logged)
					log("conn %llu (domain %u): output quota reached, dropping "
					    "watch events",
					    (unsigned long long)c.id, raw(c.dom));
				c.drop_logged = true;
				continue;
			}
			queue(c, std::move(bytes), false);
		}
	}
}

int Daemon::do_watch(Connection &c, std::string_view body)
{
	auto args = split_strings(body);
	if (args.size() != 2)
		return EINVAL;
	Watch w;
	if (is_special(args[0])) {
		if (args[0].size() > XENSTORE_REL_PATH_MAX)
			return EINVAL;
		w.node = std::string(args[0]);
		w.relative = false;
	} else {
		w.relative = args[0].empty() || args[0].front() != '/';
		w.node = canonicalize(c.dom, args[0]);
		if (!is_valid_nodename(w.node, store_.limits().path_len))
			return EINVAL;
	}
	w.token = std::string(args[1]);
	for (const Watch &o : c.watches)
		if (o.node == w.node && o.token == w.token)
			return EEXIST;
	Domain &dom = store_.domain(c.dom);
	/* xenstored do_watch(): the count is per domain and compared with
	 * ">", so the quota itself is still granted. */
	if (!is_privileged(c.dom) && dom.watches > store_.limits().watches_per_domain)
		return E2BIG;
	dom.watches++;
	c.watches.push_back(w);
	return 0;
}

int Daemon::do_unwatch(Connection &c, std::string_view body)
{
	auto args = split_strings(body);
	if (args.size() != 2)
		return EINVAL;
	const std::string node = canonicalize(c.dom, args[0]);
	for (auto it = c.watches.begin(); it != c.watches.end(); ++it) {
		if (it->node == node && it->token == args[1]) {
			c.watches.erase(it);
			Domain &dom = store_.domain(c.dom);
			if (dom.watches)
				dom.watches--;
			return 0;
		}
	}
	return ENOENT;
}

int Daemon::do_introduce(std::string_view body)
{
	/* domid, mfn (gfn), event-channel port. xensim has no ring page and
	 * no event channel to the store: both are accepted and ignored, the
	 * domain gets its socket instead. */
	auto args = split_strings(body);
	if (args.size() < 3)
		return EINVAL;
	const int domid = std::atoi(std::string(args[0]).c_str());
	const int port = std::atoi(std::string(args[2]).c_str());
	if (port <= 0)
		return EINVAL;
	if (domid < 0 || !is_real_domid(static_cast<uint32_t>(domid)))
		return EINVAL;
	const DomId d{static_cast<uint32_t>(domid)};
	if (!store_.is_introduced(d)) {
		if (!open_listener(d))
			return EIO;
		store_.introduce(d);
		log("domain %u introduced", raw(d));
	} else {
		/* xenstored domain_conn_reset(): introducing again resets the
		 * domain's connection(s). */
		for (auto &[id, c] : conns_)
			if (c->dom == d && !c->closing)
				reset_conn(*c);
	}
	return 0;
}

int Daemon::do_release(std::string_view body)
{
	auto arg = onearg(body);
	if (!arg)
		return EINVAL;
	const int domid = std::atoi(std::string(*arg).c_str());
	if (domid == 0)
		return EINVAL;
	const DomId d{static_cast<uint32_t>(domid)};
	if (!store_.is_introduced(d))
		return ENOENT;
	close_listener(d);
	for (auto &[id, c] : conns_)
		if (c->dom == d)
			close_conn(*c, "domain released");
	store_.release(d);
	log("domain %u released", raw(d));
	return 0;
}

std::string Daemon::status_json() const
{
	std::map<uint32_t, unsigned int> conns;
	std::size_t total = 0, transactions = 0;
	for (const auto &[id, c] : conns_) {
		if (c->closing)
			continue;
		conns[raw(c->dom)]++;
		total++;
		transactions += c->transactions.size();
	}
	std::string s = "{\"pid\":" + std::to_string(::getpid()) +
			",\"live_updates\":" + std::to_string(live_updates_) +
			",\"restored\":" + (restored_ ? "true" : "false") +
			",\"nodes\":" + std::to_string(store_.node_count()) +
			",\"connections\":" + std::to_string(total) +
			",\"transactions\":" + std::to_string(transactions) + ",\"domains\":[";
	bool first = true;
	for (DomId d : store_.introduced_domains()) {
		const Domain *dom = store_.find_domain(d);
		s += first ? "" : ",";
		first = false;
		s += "{\"domid\":" + std::to_string(raw(d)) +
		     ",\"nodes\":" + std::to_string(dom->nodes) +
		     ",\"watches\":" + std::to_string(dom->watches) +
		     ",\"connections\":" + std::to_string(conns[raw(d)]) + "}";
	}
	s += "]}";
	return s;
}

int Daemon::do_control(std::string_view body, std::string &reply)
{
	/* Of xenstored's XS_CONTROL commands (check, log, memreport, quota,
	 * live-update, ...) only live-update is modelled (do_live_update);
	 * "xensim-status" is ours, for `xensim status`. */
	auto args = split_strings(body);
	if (args.empty())
		return EINVAL;
	if (args[0] == "xensim-status") {
		reply = status_json();
		reply += '\0';
		return 0;
	}
	if (args[0] == "help") {
		reply = "xensim-status\nlive-update [binary]\n";
		reply += '\0';
		return 0;
	}
	return ENOSYS;
}

int Daemon::dispatch(Connection &c, const xsd_sockmsg &hdr, std::string_view body, Caller &caller,
		     std::optional<std::string> &reply, bool &replied)
{
	const uint32_t type = hdr.type;
	switch (type) {
	case XS_READ: {
		auto a = onearg(body);
		return a ? store_.read(caller, *a, reply.emplace()) : EINVAL;
	}
	case XS_WRITE: {
		/* path, then the value: every byte after the first nul. */
		std::size_t nul = body.find('\0');
		if (nul == std::string_view::npos)
			return EINVAL;
		return store_.write(caller, body.substr(0, nul), body.substr(nul + 1));
	}
	case XS_MKDIR: {
		auto a = onearg(body);
		return a ? store_.mkdir(caller, *a) : EINVAL;
	}
	case XS_RM: {
		auto a = onearg(body);
		return a ? store_.rm(caller, *a) : EINVAL;
	}
	case XS_DIRECTORY: {
		auto a = onearg(body);
		return a ? store_.directory(caller, *a, reply.emplace()) : EINVAL;
	}
	case XS_DIRECTORY_PART: {
		auto args = split_strings(body);
		if (args.size() != 2)
			return EINVAL;
		return store_.directory_part(caller, args[0], args[1], reply.emplace());
	}
	case XS_GET_PERMS: {
		auto a = onearg(body);
		return a ? store_.get_perms(caller, *a, reply.emplace()) : EINVAL;
	}
	case XS_SET_PERMS: {
		auto args = split_strings(body);
		if (args.size() < 2)
			return EINVAL;
		std::vector<std::string_view> perms(args.begin() + 1, args.end());
		return store_.set_perms(caller, args[0], perms);
	}
	case XS_WATCH: {
		int err = do_watch(c, body);
		if (err)
			return err;
		/* xenstored do_watch(): the ack, then one event up front. */
		send(c, hdr, XS_WATCH, std::string_view("OK", 3));
		replied = true;
		const Watch &w = c.watches.back();
		std::string path = w.node;
		if (w.relative)
			path = std::string(split_strings(body)[0]);
		std::string payload = path;
		payload += '\0';
		payload += w.token;
		payload += '\0';
		xsd_sockmsg ev{};
		ev.type = XS_WATCH_EVENT;
		ev.len = static_cast<uint32_t>(payload.size());
		std::string bytes(reinterpret_cast<const char *>(&ev), sizeof(ev));
		bytes += payload;
		queue(c, std::move(bytes), false);
		return 0;
	}
	case XS_UNWATCH:
		return do_unwatch(c, body);
	case XS_TRANSACTION_START: {
		if (caller.trans)
			return EBUSY; /* no nested transactions */
		/* xenstored compares the count with ">" too. */
		if (!is_privileged(c.dom) &&
		    c.transactions.size() > store_.limits().transactions_per_conn)
			return ENOSPC;
		uint32_t id;
		do {
			id = c.next_tx++;
		} while (id == 0 || c.transactions.count(id));
		c.transactions.emplace(id,
				       std::make_unique<Transaction>(store_.start_transaction()));
		reply = std::to_string(id) + std::string(1, '\0');
		return 0;
	}
	case XS_TRANSACTION_END: {
		auto a = onearg(body);
		if (!a || (*a != "T" && *a != "F"))
			return EINVAL;
		if (!caller.trans)
			return ENOENT;
		/* The transaction ends whatever the outcome. */
		std::unique_ptr<Transaction> t = std::move(c.transactions[hdr.tx_id]);
		c.transactions.erase(hdr.tx_id);
		caller.trans = nullptr;
		return *a == "T" ? store_.commit(caller, *t) : 0;
	}
	case XS_INTRODUCE:
		return do_introduce(body);
	case XS_RELEASE:
		return do_release(body);
	case XS_RESUME: {
		auto a = onearg(body);
		if (!a)
			return EINVAL;
		int domid = std::atoi(std::string(*a).c_str());
		if (domid == 0)
			return EINVAL;
		return store_.is_introduced(DomId{static_cast<uint32_t>(domid)}) ? 0 : ENOENT;
	}
	case XS_SET_TARGET: {
		auto args = split_strings(body);
		if (args.size() < 2)
			return EINVAL;
		DomId d{static_cast<uint32_t>(std::atoi(std::string(args[0]).c_str()))};
		DomId t{static_cast<uint32_t>(std::atoi(std::string(args[1]).c_str()))};
		if (!store_.is_introduced(d) || !store_.is_introduced(t))
			return ENOENT;
		store_.domain(d).target = t;
		return 0;
	}
	case XS_GET_DOMAIN_PATH: {
		auto a = onearg(body);
		if (!a)
			return EINVAL;
		reply = domain_path(
				DomId{static_cast<uint32_t>(std::atoi(std::string(*a).c_str()))}) +
			std::string(1, '\0');
		return 0;
	}
	case XS_IS_DOMAIN_INTRODUCED: {
		auto a = onearg(body);
		if (!a)
			return EINVAL;
		const uint32_t domid = static_cast<uint32_t>(std::atoi(std::string(*a).c_str()));
		const bool yes = domid == DOMID_SELF || store_.is_introduced(DomId{domid});
		reply = yes ? std::string("T", 2) : std::string("F", 2);
		return 0;
	}
	case XS_RESET_WATCHES:
		reset_conn(c);
		return 0;
	case XS_CONTROL: {
		auto args = split_strings(body);
		if (!args.empty() && args[0] == "live-update") {
			/* Answered once it has happened, by the new daemon. */
			int err = do_live_update(c, hdr, body);
			replied = err == 0;
			return err;
		}
		return do_control(body, reply.emplace());
	}
	default:
		return ENOSYS;
	}
}

void Daemon::process(Connection &c, const xsd_sockmsg &hdr, std::string_view body)
{
	const uint32_t type = hdr.type;
	if (verbose)
		log("conn %llu (domain %u): %s req %u tx %u len %u", (unsigned long long)c.id,
		    raw(c.dom), type_name(type), hdr.req_id, hdr.tx_id, hdr.len);

	/* xenstored wire_funcs[]: which types exist, which need privilege,
	 * which ignore the transaction id. */
	const bool known = type < XS_TYPE_COUNT && type != XS_WATCH_EVENT && type != XS_ERROR &&
			   type != XS_SET_TARGET + 1;
	if (!known) {
		send_error(c, hdr, ENOSYS);
		return;
	}
	const bool priv_only = type == XS_CONTROL || type == XS_INTRODUCE || type == XS_RELEASE ||
			       type == XS_IS_DOMAIN_INTRODUCED || type == XS_RESUME ||
			       type == XS_SET_TARGET;
	if (priv_only && !is_privileged(c.dom)) {
		send_error(c, hdr, EACCES);
		return;
	}
	Caller caller{c.dom, target_of(c.dom), nullptr};
	const bool no_tid = type == XS_WATCH || type == XS_UNWATCH;
	if (!no_tid && hdr.tx_id != 0) {
		auto it = c.transactions.find(hdr.tx_id);
		if (it == c.transactions.end()) {
			send_error(c, hdr, ENOENT);
			return;
		}
		caller.trans = it->second.get();
	}

	std::optional<std::string> reply;
	bool replied = false;
	int err = dispatch(c, hdr, body, caller, reply, replied);
	/* What the snapshot keeps may have changed. */
	const bool changes = type == XS_WRITE || type == XS_MKDIR || type == XS_RM ||
			     type == XS_SET_PERMS || type == XS_TRANSACTION_END ||
			     type == XS_INTRODUCE || type == XS_RELEASE || type == XS_SET_TARGET;
	if (changes && err == 0 && (hdr.tx_id == 0 || type == XS_TRANSACTION_END))
		dirty_ = true;
	if (c.closing || replied)
		return;
	if (err)
		send_error(c, hdr, err);
	else if (reply)
		send(c, hdr, type, *reply);
	else
		send(c, hdr, type, std::string_view("OK", 3)); /* xenstored send_ack() */
}

void Daemon::process_input(Connection &c)
{
	std::size_t off = 0;
	while (!c.closing && c.in.size() - off >= sizeof(xsd_sockmsg)) {
		xsd_sockmsg hdr;
		std::memcpy(&hdr, c.in.data() + off, sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			/* xenstored handle_input(): the stream cannot be
			 * trusted past an oversized header; drop the client. */
			char why[96];
			std::snprintf(why, sizeof(why), "message length %u > XENSTORE_PAYLOAD_MAX",
				      hdr.len);
			close_conn(c, why);
			return;
		}
		if (c.in.size() - off < sizeof(hdr) + hdr.len)
			break;
		if (blocked(c))
			break;
		/* While a live update waits for transactions to end, new
		 * ones wait in the input (carried over to the new daemon). */
		if (live_update_ && hdr.type == XS_TRANSACTION_START)
			break;
		if (watch_held(c, hdr))
			break;
		std::string_view body(c.in.data() + off + sizeof(hdr), hdr.len);
		process(c, hdr, body);
		off += sizeof(hdr) + hdr.len;
	}
	if (!c.closing)
		c.in.erase(0, off);
}

void Daemon::on_readable(Connection &c)
{
	char buf[16384];
	while (!c.closing && c.in.size() < kInputCap) {
		ssize_t n = ::read(c.fd.get(), buf, sizeof(buf));
		if (n > 0) {
			c.in.append(buf, static_cast<std::size_t>(n));
			process_input(c);
			if (blocked(c))
				break;
			continue;
		}
		if (n == 0) {
			close_conn(c, verbose ? "peer closed" : nullptr);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			close_conn(c, std::strerror(errno));
		return;
	}
}

void Daemon::on_writable(Connection &c)
{
	flush(c);
}

void Daemon::flush(Connection &c)
{
	/* Acknowledged means saved: a store restored after a kill has every
	 * change a client was answered for. */
	if (dirty_ && !c.out.empty())
		save_snapshot();
	while (!c.closing && !c.out.empty()) {
		OutMsg &m = c.out.front();
		ssize_t n = ::send(c.fd.get(), m.bytes.data() + c.out_off,
				   m.bytes.size() - c.out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				close_conn(c, std::strerror(errno));
			return;
		}
		c.out_off += static_cast<std::size_t>(n);
		if (c.out_off < m.bytes.size())
			return;
		c.out_bytes -= m.bytes.size();
		c.pending_replies -= m.reply;
		c.out_off = 0;
		c.out.pop_front();
		if (c.out.empty())
			c.drop_logged = false;
	}
}

/* ---- live update, snapshot and restore ---- */

int Daemon::do_live_update(Connection &c, const xsd_sockmsg &hdr, std::string_view body)
{
	/* xenstore-control live-update: the daemon re-executes itself (or
	 * the binary named) and hands over its state. Like xenstored, it
	 * waits for open transactions to end first (bounded). */
	if (live_update_)
		return EBUSY;
	auto args = split_strings(body);
	std::string exe = args.size() > 1 && !args[1].empty() ? std::string(args[1]) : self_exe_;
	if (::access(exe.c_str(), X_OK) != 0) {
		int err = errno;
		log("live update refused: cannot execute %s: %s", exe.c_str(), std::strerror(err));
		return err == ENOENT ? ENOENT : EACCES;
	}
	live_update_ = LiveUpdate{c.id, hdr, exe, Clock::now() + kLiveUpdateTimeout};
	log("live update requested by conn %llu (domain %u): new daemon %s",
	    (unsigned long long)c.id, raw(c.dom), exe.c_str());
	return 0;
}

void Daemon::try_live_update()
{
	if (!live_update_)
		return;
	auto it = conns_.find(live_update_->conn);
	if (it == conns_.end() || it->second->closing) {
		log("live update abandoned: the connection that asked for it is gone");
		live_update_.reset();
		return;
	}
	std::size_t open = 0;
	for (const auto &[id, c] : conns_)
		open += c->closing ? 0 : c->transactions.size();
	if (open) {
		if (Clock::now() < live_update_->deadline)
			return;
		log("live update refused: %zu transaction(s) still open after %lld s", open,
		    static_cast<long long>(kLiveUpdateTimeout.count()));
		send_error(*it->second, live_update_->req, EBUSY);
		live_update_.reset();
		return;
	}
	exec_live_update();
}

void Daemon::save_connections(StateWriter &w) const
{
	w.u32(static_cast<uint32_t>(listeners_.size()));
	for (const auto &[d, l] : listeners_) {
		w.u32(d);
		w.u32(static_cast<uint32_t>(l.fd.get()));
	}
	uint32_t n = 0;
	for (const auto &[id, c] : conns_)
		n += !c->closing;
	w.u32(n);
	for (const auto &[id, c] : conns_) {
		if (c->closing)
			continue;
		w.u64(c->id);
		w.u32(static_cast<uint32_t>(c->fd.get()));
		w.u32(raw(c->dom));
		w.bytes(c->in);
		w.u64(c->out_off);
		w.u32(static_cast<uint32_t>(c->out.size()));
		for (const OutMsg &m : c->out) {
			w.bytes(m.bytes);
			w.flag(m.reply);
		}
		w.u32(c->next_tx);
		w.flag(c->drop_logged);
		w.u32(static_cast<uint32_t>(c->watches.size()));
		for (const Watch &wt : c->watches) {
			w.bytes(wt.node);
			w.bytes(wt.token);
			w.flag(wt.relative);
		}
	}
}

namespace
{

bool set_cloexec(int fd, bool on)
{
	int flags = ::fcntl(fd, F_GETFD);
	if (flags < 0)
		return false;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return ::fcntl(fd, F_SETFD, flags) == 0;
}

bool write_all(int fd, std::string_view data)
{
	while (!data.empty()) {
		ssize_t n = ::write(fd, data.data(), data.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data.remove_prefix(static_cast<std::size_t>(n));
	}
	return true;
}

std::optional<std::string> read_all(int fd)
{
	std::string out;
	char buf[65536];
	for (;;) {
		ssize_t n = ::read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return std::nullopt;
		if (n == 0)
			return out;
		out.append(buf, static_cast<std::size_t>(n));
	}
}

} // namespace

void Daemon::exec_live_update()
{
	LiveUpdate lu = std::move(*live_update_);
	live_update_.reset();
	Connection &requester = *conns_.at(lu.conn);
	/* The answer goes out from the new daemon: it tells the requester
	 * that the update is done, not only begun. */
	send(requester, lu.req, XS_CONTROL, std::string_view("OK", 3));
	if (requester.closing)
		return;
	save_snapshot();

	StateWriter w;
	w.bytes(kLiveUpdateMagic);
	store_.save(w);
	w.u64(live_updates_ + 1);
	w.u64(next_conn_id_);
	save_connections(w);

	/* Not close-on-exec: the new daemon reads it, as it inherits the
	 * listening and connection sockets. */
	Fd state(::memfd_create("xensim-stored-state", 0));
	bool ok = state.get() >= 0 && write_all(state.get(), w.data()) &&
		  ::lseek(state.get(), 0, SEEK_SET) == 0;
	for (const auto &[d, l] : listeners_)
		ok = ok && set_cloexec(l.fd.get(), false);
	for (const auto &[id, c] : conns_)
		ok = ok && (c->closing || set_cloexec(c->fd.get(), false));
	int err = errno;
	if (ok) {
		std::size_t nconns = 0;
		for (const auto &[id, c] : conns_)
			nconns += !c->closing;
		log("live update: handing %zu bytes of state (%zu nodes, %zu listeners, %zu "
		    "connections) to %s",
		    w.data().size(), store_.node_count(), listeners_.size(), nconns,
		    lu.exe.c_str());
		const std::string fd_arg = std::to_string(state.get());
		std::vector<const char *> argv{lu.exe.c_str(), "--dir", dir_.c_str()};
		if (verbose)
			argv.push_back("--verbose");
		const std::string delay_arg = watch_delay_arg(watch_delay_);
		if (!delay_arg.empty()) {
			argv.push_back("--watch-delay");
			argv.push_back(delay_arg.c_str());
		}
		argv.push_back("--live-update-fd");
		argv.push_back(fd_arg.c_str());
		argv.push_back(nullptr);
		::execv(lu.exe.c_str(), const_cast<char *const *>(argv.data()));
		err = errno;
	}
	/* Still the old daemon: carry on as if nothing was asked. */
	log("live update failed: %s; this daemon carries on", std::strerror(err));
	for (const auto &[d, l] : listeners_)
		set_cloexec(l.fd.get(), true);
	for (const auto &[id, c] : conns_)
		if (!c->closing)
			set_cloexec(c->fd.get(), true);
	if (requester.closing)
		return;
	requester.out_bytes -= requester.out.back().bytes.size();
	requester.pending_replies -= requester.out.back().reply;
	requester.out.pop_back();
	send_error(requester, lu.req, EIO);
}

bool Daemon::restore_live_update(int raw_fd)
{
	Fd fd(raw_fd);
	auto data = read_all(fd.get());
	if (!data) {
		log("live update: cannot read the state (fd %d): %s", raw_fd, std::strerror(errno));
		return false;
	}
	StateReader r(*data);
	if (r.bytes() != kLiveUpdateMagic || !store_.load(r)) {
		log("live update: the state handed over is not one this daemon reads");
		return false;
	}
	live_updates_ = r.u64();
	next_conn_id_ = r.u64();
	for (uint32_t i = 0, n = r.count(8); i < n && r.ok(); i++) {
		DomId d{r.u32()};
		int lfd = static_cast<int>(r.u32());
		if (!r.ok() || !set_cloexec(lfd, true) || !adopt_listener(d, lfd)) {
			log("live update: listener of domain %u (fd %d) lost", raw(d), lfd);
			return false;
		}
	}
	std::size_t nwatches = 0;
	for (uint32_t i = 0, n = r.count(41); i < n && r.ok(); i++) {
		auto c = std::make_unique<Connection>();
		c->id = r.u64();
		const int cfd = static_cast<int>(r.u32());
		c->dom = DomId{r.u32()};
		c->in = r.bytes();
		c->out_off = r.u64();
		for (uint32_t m = 0, nm = r.count(5); m < nm && r.ok(); m++) {
			OutMsg msg{r.bytes(), false};
			msg.reply = r.flag();
			c->out_bytes += msg.bytes.size();
			c->pending_replies += msg.reply;
			c->out.push_back(std::move(msg));
		}
		c->next_tx = r.u32();
		c->drop_logged = r.flag();
		for (uint32_t m = 0, nw = r.count(9); m < nw && r.ok(); m++) {
			Watch wt;
			wt.node = r.bytes();
			wt.token = r.bytes();
			wt.relative = r.flag();
			c->watches.push_back(std::move(wt));
		}
		if (!r.ok() || (c->out.empty() ? c->out_off != 0
					       : c->out_off >= c->out.front().bytes.size())) {
			log("live update: connection record %u is malformed", i);
			return false;
		}
		if (!set_cloexec(cfd, true)) {
			log("live update: conn %llu (fd %d) lost: %s", (unsigned long long)c->id,
			    cfd, std::strerror(errno));
			return false;
		}
		c->fd.reset(cfd);
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = c->id;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, cfd, &ev) < 0)
			return false;
		c->events = EPOLLIN;
		nwatches += c->watches.size();
		const uint64_t id = c->id;
		conns_.emplace(id, std::move(c));
	}
	if (!r.ok() || !r.at_end()) {
		log("live update: the state handed over is truncated or has trailing bytes");
		return false;
	}
	log("live update %llu: took over %zu nodes, %zu listeners, %zu connections with %zu "
	    "watches",
	    (unsigned long long)live_updates_, store_.node_count(), listeners_.size(),
	    conns_.size(), nwatches);
	return true;
}

void Daemon::save_snapshot()
{
	StateWriter w;
	w.bytes(kSnapshotMagic);
	store_.save(w);
	const std::string tmp = snapshot_path_ + ".tmp";
	Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (fd.get() < 0 || !write_all(fd.get(), w.data()) ||
	    ::rename(tmp.c_str(), snapshot_path_.c_str()) != 0) {
		if (dirty_)
			log("cannot write the snapshot %s: %s", snapshot_path_.c_str(),
			    std::strerror(errno));
	}
	dirty_ = false;
}

bool Daemon::restore_snapshot()
{
	Fd fd(::open(snapshot_path_.c_str(), O_RDONLY | O_CLOEXEC));
	auto data = fd.get() >= 0 ? read_all(fd.get()) : std::nullopt;
	if (!data) {
		log("cannot restore: no snapshot readable at %s (%s)", snapshot_path_.c_str(),
		    std::strerror(errno));
		return false;
	}
	StateReader r(*data);
	if (r.bytes() != kSnapshotMagic || !store_.load(r) || !r.at_end()) {
		log("cannot restore: %s is not a snapshot this daemon reads",
		    snapshot_path_.c_str());
		return false;
	}
	/* The old daemon's connections died with it, and their watches and
	 * transactions with them. */
	store_.forget_watches();
	restored_ = true;
	log("restored %zu nodes and %zu domains from %s; the old daemon's connections, "
	    "watches and transactions are gone",
	    store_.node_count(), store_.introduced_domains().size(), snapshot_path_.c_str());
	for (DomId d : store_.introduced_domains())
		if (!open_listener(d))
			return false;
	return true;
}

int Daemon::run(const StartMode &mode)
{
	std::error_code ec;
	std::filesystem::create_directories(sockdir_, ec);
	if (ec) {
		log("cannot create %s: %s", sockdir_.c_str(), ec.message().c_str());
		return 1;
	}
	epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	sigfd_ = Fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
	std::signal(SIGPIPE, SIG_IGN);
	std::signal(SIGHUP, SIG_IGN);
	if (epoll_.get() < 0 || sigfd_.get() < 0) {
		log("epoll/signalfd: %s", std::strerror(errno));
		return 1;
	}
	epoll_event sev{};
	sev.events = EPOLLIN;
	sev.data.u64 = kSignalTag;
	::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sigfd_.get(), &sev);

	if (mode.live_update_fd >= 0) {
		if (!restore_live_update(mode.live_update_fd))
			return 1;
	} else if (mode.restore) {
		if (!restore_snapshot())
			return 1;
	} else if (!open_listener(kDom0)) {
		/* Domain 0 is there from the start, as xenstored's dom0_init(). */
		return 1;
	}
	dirty_ = true; /* a snapshot of the start */
	const std::string ready = sockdir_ + "/ready";
	{
		Fd r(::open(ready.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (r.get() < 0) {
			log("cannot create %s: %s", ready.c_str(), std::strerror(errno));
			return 1;
		}
		std::string pid = std::to_string(::getpid()) + "\n";
		if (::write(r.get(), pid.data(), pid.size()) < 0)
			log("writing %s: %s", ready.c_str(), std::strerror(errno));
	}
	log("ready (pid %d)", ::getpid());

	epoll_event events[64];
	/* The first round does not wait: input and output a live update
	 * carried over are processed at once. */
	bool first = true;
	for (;;) {
		int timeout = -1;
		if (first || live_update_)
			timeout = first ? 0 : 100;
		first = false;
		if (int held = held_timeout_ms(); held >= 0 && (timeout < 0 || held < timeout))
			timeout = held;
		int n = ::epoll_wait(epoll_.get(), events, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log("epoll_wait: %s", std::strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			const uint64_t tag = events[i].data.u64;
			if (tag == kSignalTag) {
				signalfd_siginfo si{};
				if (::read(sigfd_.get(), &si, sizeof(si)) == sizeof(si))
					log("signal %u: shutting down", si.ssi_signo);
				for (auto &[d, l] : listeners_)
					::unlink(l.path.c_str());
				::unlink(ready.c_str());
				return 0;
			}
			if (tag & kListenerTag) {
				accept_on(DomId{static_cast<uint32_t>(tag & ~kListenerTag)});
				continue;
			}
			auto it = conns_.find(tag);
			if (it == conns_.end() || it->second->closing)
				continue;
			Connection &c = *it->second;
			if (events[i].events & EPOLLIN)
				on_readable(c);
			if (!c.closing && (events[i].events & (EPOLLERR | EPOLLHUP)) &&
			    !(events[i].events & EPOLLIN))
				close_conn(c, verbose ? "hang-up" : nullptr);
			if (!c.closing && (events[i].events & EPOLLOUT))
				on_writable(c);
		}
		/* A live update goes ahead here, between requests, or answers
		 * why it cannot. */
		try_live_update();
		/* Replies and events queued above go out now; a connection
		 * that was blocked on its quota of outstanding replies may
		 * process what it has already read. */
		for (auto &[id, c] : conns_) {
			while (!c->closing) {
				flush(*c);
				if (c->closing || blocked(*c))
					break;
				const std::size_t before = c->in.size();
				process_input(*c);
				if (c->in.size() == before)
					break;
			}
			update_interest(*c);
		}
		reap();
		if (dirty_)
			save_snapshot(); /* a change nobody was answered for */
	}
}

void usage(FILE *f)
{
	std::fprintf(f, "usage: xensim-stored --dir DIR [--verbose] [--restore] "
			"[--watch-delay DOMID:MS]\n"
			"  Serves the xenstore wire protocol on DIR/store/domain-<N>.sock and\n"
			"  keeps a snapshot of the tree in DIR/store/snapshot.\n"
			"  --restore: start from that snapshot (after the daemon was killed).\n"
			"  --watch-delay: domain DOMID's WATCH requests are processed MS ms late\n"
			"  (1 to 60000), the requests behind them on the connection too: a\n"
			"  test knob, a store slow to serve that domain.\n"
			"  (--live-update-fd N is how a live update hands its state over.)\n");
}

} // namespace
} // namespace xensim::store

int main(int argc, char **argv)
{
	using namespace xensim::store;
	std::string dir;
	StartMode mode;
	WatchDelay watch_delay;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--dir" && i + 1 < argc) {
			dir = argv[++i];
		} else if (a == "--watch-delay" && i + 1 < argc) {
			auto parsed = parse_watch_delay(argv[++i]);
			if (!parsed) {
				std::fprintf(
					stderr,
					"xensim-stored: --watch-delay '%s': expected DOMID:MS, "
					"MS from 1 to 60000\n",
					argv[i]);
				return 2;
			}
			watch_delay = *parsed;
		} else if (a == "--restore") {
			mode.restore = true;
		} else if (a == "--live-update-fd" && i + 1 < argc) {
			mode.live_update_fd = std::atoi(argv[++i]);
		} else if (a == "--verbose" || a == "-v") {
			verbose = true;
		} else if (a == "--help" || a == "-h") {
			usage(stdout);
			return 0;
		} else {
			std::fprintf(stderr, "xensim-stored: unknown argument '%s'\n", a.c_str());
			usage(stderr);
			return 2;
		}
	}
	if (dir.empty()) {
		std::fprintf(stderr, "xensim-stored: --dir DIR is required\n");
		return 2;
	}
	setvbuf(stderr, nullptr, _IOLBF, 0);
	/* A live update runs this binary again unless told another: the file
	 * now at this path (a rebuilt daemon is a new version). */
	char self[4096];
	ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
	std::string exe = len > 0 ? std::string(self, static_cast<std::size_t>(len)) : argv[0];
	constexpr std::string_view deleted = " (deleted)";
	if (exe.ends_with(deleted))
		exe.erase(exe.size() - deleted.size());
	if (watch_delay.delay.count())
		log("--watch-delay: domain %u's WATCH requests processed %lld ms late",
		    raw(watch_delay.dom), static_cast<long long>(watch_delay.delay.count()));
	Daemon d(dir, Limits{}, exe, watch_delay);
	return d.run(mode);
}
