/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/*
 * xensim: the toolstack of a xensim instance.
 *
 *   xensim start [--dir DIR] [--gntalloc-limit N] [--watch-delay DOMID:MS]
 *   xensim env --domid N
 *   xensim vif-add --domid N --vif M [--backend-domid B] [--mac MAC] [--mtu BYTES]
 *                  [--trusted 0|1]
 *                  [--max-queues Q] [--name NAME]
 *   xensim vif-del --domid N --vif M
 *   xensim destroy --domid N
 *   xensim status [--json]
 *   xensim restart-store [--kill] [--binary PATH]
 *   xensim stop
 *
 * It plays the part of xl/libxl in dom0: it talks to the store through the
 * real libxenstore as a dom0 client, and writes the nodes libxl writes
 * (tools/libs/light/libxl_create.c libxl__domain_make(), libxl_dom.c
 * libxl__build_post(), libxl_device.c libxl__device_generic_add(),
 * libxl_nic.c libxl__set_xenstore_nic()), with the same permissions.
 */

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xen/io/xenbus.h>
/* xenstore.h has no extern "C" of its own. */
extern "C" {
#include <xenstore.h>
}

namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/* One precise line for the user; main() prints it and exits non-zero. */
struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

std::string errstr(int err = errno)
{
	return std::strerror(err);
}

/* Xen's reserved domain ids start here (xen/xen.h DOMID_FIRST_RESERVED). */
constexpr unsigned long kDomidFirstReserved = 0x7FF0;
/* The toolstack domain (libxl LIBXL_TOOLSTACK_DOMID). */
constexpr unsigned int kToolstackDomid = 0;
/* How long start waits for both daemons, and stop for them to exit. */
constexpr auto kStartTimeout = 10s;
constexpr auto kStopTimeout = 5s;

/* The file start leaves in an instance directory: stop removes only
 * directories that carry it. */
constexpr const char *kMarker = "xensim-instance";

std::string env_or(const char *name, const char *fallback)
{
	const char *v = std::getenv(name);
	return v && *v ? v : fallback;
}

std::string stored_path()
{
	return env_or("XENSIM_STORED", XENSIM_STORED_PATH);
}
std::string hvd_path()
{
	return env_or("XENSIM_HVD", XENSIM_HVD_PATH);
}
std::string lib_dir()
{
	return env_or("XENSIM_LIBDIR", XENSIM_LIBDIR);
}

std::string socket_of(const std::string &dir, unsigned int domid)
{
	return dir + "/store/domain-" + std::to_string(domid) + ".sock";
}

/* ---- command line ---- */

struct Args {
	std::string cmd;
	std::map<std::string, std::string> opts;
	std::vector<std::string> flags;

	bool has(const std::string &k) const { return opts.count(k); }
	bool flag(const std::string &k) const
	{
		for (const auto &f : flags)
			if (f == k)
				return true;
		return false;
	}
};

unsigned long parse_number(const std::string &opt, const std::string &v, unsigned long min,
			   unsigned long max)
{
	if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
		throw Error("--" + opt + " '" + v + "' is not a decimal number");
	errno = 0;
	unsigned long n = std::strtoul(v.c_str(), nullptr, 10);
	if (errno || n < min || n > max)
		throw Error("--" + opt + " " + v + " is out of range " + std::to_string(min) +
			    ".." + std::to_string(max));
	return n;
}

Args parse_args(int argc, char **argv)
{
	if (argc < 2)
		throw Error("missing command: start, env, vif-add, vif-del, destroy, status, "
			    "restart-store or stop (see xensim --help)");
	Args a;
	a.cmd = argv[1];
	static const std::map<std::string, std::vector<std::string>> valued = {
		{"start", {"dir", "gntalloc-limit", "watch-delay"}},
		{"env", {"dir", "domid"}},
		{"vif-add",
		 {"dir", "domid", "vif", "backend-domid", "mac", "mtu", "max-queues", "name",
		  "trusted"}},
		{"vif-del", {"dir", "domid", "vif"}},
		{"destroy", {"dir", "domid"}},
		{"status", {"dir"}},
		{"restart-store", {"dir", "binary"}},
		{"stop", {"dir"}},
	};
	static const std::map<std::string, std::vector<std::string>> boolean = {
		{"status", {"json"}},
		{"restart-store", {"kill"}},
	};
	auto it = valued.find(a.cmd);
	if (it == valued.end())
		throw Error(
			"unknown command '" + a.cmd +
			"': use start, env, vif-add, vif-del, destroy, status, restart-store or "
			"stop");
	for (int i = 2; i < argc; i++) {
		std::string s = argv[i];
		if (s.rfind("--", 0) != 0)
			throw Error(a.cmd + ": unexpected argument '" + s + "'");
		std::string key = s.substr(2), value;
		bool inline_value = false;
		if (auto eq = key.find('='); eq != std::string::npos) {
			value = key.substr(eq + 1);
			key = key.substr(0, eq);
			inline_value = true;
		}
		const auto &vk = it->second;
		if (std::find(vk.begin(), vk.end(), key) != vk.end()) {
			if (!inline_value) {
				if (i + 1 >= argc)
					throw Error(a.cmd + ": --" + key + " needs a value");
				value = argv[++i];
			}
			a.opts[key] = value;
			continue;
		}
		auto bit = boolean.find(a.cmd);
		if (bit != boolean.end() && !inline_value &&
		    std::find(bit->second.begin(), bit->second.end(), key) != bit->second.end()) {
			a.flags.push_back(key);
			continue;
		}
		throw Error(a.cmd + ": unknown option '--" + key + "'");
	}
	return a;
}

/* The instance: --dir, else $XENSIM_DIR. */
std::string instance_dir(const Args &a)
{
	std::string dir = a.has("dir") ? a.opts.at("dir") : env_or("XENSIM_DIR", "");
	if (dir.empty())
		throw Error(
			"no instance: pass --dir DIR or set XENSIM_DIR (eval \"$(xensim start)\" "
			"sets it)");
	if (!fs::exists(fs::path(dir) / kMarker))
		throw Error("no xensim instance in " + dir + " (no " + kMarker + " file there)");
	return fs::absolute(dir).lexically_normal().string();
}

/* ---- processes ---- */

std::optional<pid_t> read_pid(const std::string &file)
{
	std::ifstream f(file);
	long pid = 0;
	if (!(f >> pid) || pid <= 0)
		return std::nullopt;
	return static_cast<pid_t>(pid);
}

/* Is `pid` still one of this instance's daemons (started with --dir DIR)
 * and not yet dead? A zombie counts as dead: the daemons are not our
 * children, whoever reaps them may be slow. */
bool daemon_alive(pid_t pid, const std::string &dir)
{
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string line;
	if (!std::getline(stat, line))
		return false;
	auto rp = line.rfind(')');
	if (rp == std::string::npos || rp + 2 >= line.size() || line[rp + 2] == 'Z' ||
	    line[rp + 2] == 'X')
		return false;
	std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
	std::string argv((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
	std::string want = std::string("--dir") + '\0' + dir + '\0';
	return argv.find(want) != std::string::npos;
}

/* Starts `exe args...` detached from us: its own session, stdin from
 * /dev/null, stdout and stderr appended to `log`. */
pid_t spawn(const std::string &exe, const std::vector<std::string> &args, const std::string &log)
{
	if (::access(exe.c_str(), X_OK) != 0)
		throw Error("cannot execute " + exe + ": " + errstr());
	int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		throw Error("cannot open " + log + ": " + errstr());
	std::vector<char *> argv;
	argv.push_back(const_cast<char *>(exe.c_str()));
	for (const auto &s : args)
		argv.push_back(const_cast<char *>(s.c_str()));
	argv.push_back(nullptr);
	pid_t pid = ::fork();
	if (pid < 0) {
		int err = errno;
		::close(logfd);
		throw Error("fork: " + errstr(err));
	}
	if (pid == 0) {
		::setsid();
		int nul = ::open("/dev/null", O_RDONLY);
		::dup2(nul, STDIN_FILENO);
		::dup2(logfd, STDOUT_FILENO);
		::dup2(logfd, STDERR_FILENO);
		::close_range(3, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		::sigprocmask(SIG_SETMASK, &none, nullptr);
		::execv(exe.c_str(), argv.data());
		std::fprintf(stderr, "xensim: cannot execute %s: %s\n", exe.c_str(),
			     std::strerror(errno));
		::_exit(127);
	}
	::close(logfd);
	return pid;
}

void write_file(const std::string &path, const std::string &content)
{
	std::ofstream f(path, std::ios::trunc);
	f << content;
	if (!f)
		throw Error("cannot write " + path + ": " + errstr());
}

std::string last_line(const std::string &path)
{
	std::ifstream f(path);
	std::string line, last;
	while (std::getline(f, line))
		if (!line.empty())
			last = line;
	return last;
}

/* Runs `exe args...` and returns its stdout, or nullopt if it fails. */
std::optional<std::string> capture(const std::string &exe, const std::vector<std::string> &args)
{
	int pipefd[2];
	if (::pipe2(pipefd, O_CLOEXEC) < 0)
		return std::nullopt;
	std::vector<char *> argv;
	argv.push_back(const_cast<char *>(exe.c_str()));
	for (const auto &s : args)
		argv.push_back(const_cast<char *>(s.c_str()));
	argv.push_back(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		::dup2(pipefd[1], STDOUT_FILENO);
		::execv(exe.c_str(), argv.data());
		::_exit(127);
	}
	::close(pipefd[1]);
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			out.append(buf, static_cast<std::size_t>(n));
	::close(pipefd[0]);
	int status = 0;
	if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return std::nullopt;
	return out;
}

/* ---- the store, through libxenstore as dom0 ---- */

class Store
{
public:
	explicit Store(const std::string &dir)
	{
		const std::string sock = socket_of(dir, kToolstackDomid);
		/* libxenstore's xs_open() takes the socket from
		 * XENSTORED_PATH; the instance decides, not the caller's
		 * environment. */
		::setenv("XENSTORED_PATH", sock.c_str(), 1);
		h_ = xs_open(0);
		if (!h_)
			throw Error("cannot connect to the store at " + sock + ": " + errstr());
	}
	~Store() { xs_close(h_); }
	Store(const Store &) = delete;
	Store &operator=(const Store &) = delete;

	xs_handle *get() const { return h_; }

	/* Runs fn(t) in a transaction, again on EAGAIN as libxl does. */
	template <class F>
	void transact(const char *what, F &&fn)
	{
		for (int attempt = 0; attempt < 100; attempt++) {
			xs_transaction_t t = xs_transaction_start(h_);
			if (t == XBT_NULL)
				throw Error(std::string(what) +
					    ": xs_transaction_start: " + errstr());
			try {
				fn(t);
			} catch (...) {
				xs_transaction_end(h_, t, true);
				throw;
			}
			if (xs_transaction_end(h_, t, false))
				return;
			if (errno != EAGAIN)
				throw Error(std::string(what) + ": transaction: " + errstr());
		}
		throw Error(std::string(what) + ": transaction kept conflicting (EAGAIN)");
	}

	void write(xs_transaction_t t, const std::string &path, const std::string &value)
	{
		if (!xs_write(h_, t, path.c_str(), value.data(),
			      static_cast<unsigned int>(value.size())))
			throw Error("writing " + path + ": " + errstr());
	}
	void mkdir(xs_transaction_t t, const std::string &path)
	{
		if (!xs_mkdir(h_, t, path.c_str()))
			throw Error("creating " + path + ": " + errstr());
	}
	void rm(xs_transaction_t t, const std::string &path)
	{
		if (!xs_rm(h_, t, path.c_str()) && errno != ENOENT)
			throw Error("removing " + path + ": " + errstr());
	}
	void set_perms(xs_transaction_t t, const std::string &path,
		       std::vector<xs_permissions> perms)
	{
		if (!xs_set_permissions(h_, t, path.c_str(), perms.data(),
					static_cast<unsigned int>(perms.size())))
			throw Error("setting permissions of " + path + ": " + errstr());
	}
	/* libxl__xs_mknod(): an empty node with these permissions. */
	void mknod(xs_transaction_t t, const std::string &path, std::vector<xs_permissions> perms)
	{
		write(t, path, "");
		set_perms(t, path, std::move(perms));
	}
	std::optional<std::string> read(xs_transaction_t t, const std::string &path)
	{
		unsigned int len = 0;
		char *v = static_cast<char *>(xs_read(h_, t, path.c_str(), &len));
		if (!v) {
			if (errno == ENOENT)
				return std::nullopt;
			throw Error("reading " + path + ": " + errstr());
		}
		std::string s(v, len);
		std::free(v);
		return s;
	}
	std::optional<std::vector<std::string>> directory(xs_transaction_t t,
							  const std::string &path)
	{
		unsigned int num = 0;
		char **d = xs_directory(h_, t, path.c_str(), &num);
		if (!d) {
			if (errno == ENOENT)
				return std::nullopt;
			throw Error("listing " + path + ": " + errstr());
		}
		std::vector<std::string> out(d, d + num);
		std::free(d);
		return out;
	}
	/* libxl__xs_path_cleanup(): remove the node, then every parent that
	 * is left empty. */
	void path_cleanup(xs_transaction_t t, const std::string &path)
	{
		rm(t, path);
		std::string p = path;
		for (auto slash = p.rfind('/'); slash != std::string::npos && slash > 0;
		     slash = p.rfind('/')) {
			p.erase(slash);
			auto children = directory(t, p);
			if (!children || !children->empty())
				break;
			rm(t, p);
		}
	}

private:
	xs_handle *h_ = nullptr;
};

xs_permissions perm(unsigned int domid, unsigned int bits)
{
	return xs_permissions{domid, bits};
}

std::string dom_path(unsigned int domid)
{
	return "/local/domain/" + std::to_string(domid);
}

/* A stable made-up UUID per domain id, for /vm/<uuid>. */
std::string domain_uuid(unsigned int domid)
{
	char buf[40];
	std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012x", domid);
	return buf;
}

/* The name libxl gives a domain unless told one (xl's config always names
 * it; xensim's default). */
std::string default_name(unsigned int domid)
{
	return "xensim-dom" + std::to_string(domid);
}

/* libxl__domain_make() and libxl__build_post(), as far as a PV device
 * needs them, then XS_INTRODUCE (libxl's xs_introduce_domain()). */
void introduce_domain(Store &xs, unsigned int domid, const std::string &name)
{
	const std::string dp = dom_path(domid);
	const std::string vm = "/vm/" + domain_uuid(domid);
	const std::string lp = "/libxl/" + std::to_string(domid);
	/* libxl: roperm = dom0 owner, read for the guest; rwperm = guest
	 * owner; noperm = dom0 only. */
	const std::vector<xs_permissions> roperm{perm(0, XS_PERM_NONE), perm(domid, XS_PERM_READ)};
	const std::vector<xs_permissions> rwperm{perm(domid, XS_PERM_NONE)};
	const std::vector<xs_permissions> noperm{perm(0, XS_PERM_NONE)};

	xs.transact("creating the nodes of the domain", [&](xs_transaction_t t) {
		xs.rm(t, dp);
		xs.mknod(t, dp, roperm);
		xs.rm(t, vm);
		xs.mknod(t, vm, roperm);
		xs.rm(t, lp);
		xs.mknod(t, lp, noperm);
		xs.mknod(t, lp + "/device", noperm);
		xs.write(t, dp + "/vm", vm);
		xs.write(t, dp + "/name", name);
		xs.write(t, vm + "/name", name);
		xs.write(t, vm + "/uuid", domain_uuid(domid));
		xs.mknod(t, dp + "/cpu", roperm);
		xs.mknod(t, dp + "/memory", roperm);
		xs.mknod(t, dp + "/device", roperm);
		xs.mknod(t, dp + "/device/suspend/event-channel", rwperm);
		xs.mknod(t, dp + "/control", roperm);
		for (const char *n :
		     {"control/shutdown", "control/feature-poweroff", "control/feature-reboot",
		      "control/feature-suspend", "control/sysrq", "data", "drivers", "feature",
		      "attr", "error"})
			xs.mknod(t, dp + "/" + n, rwperm);
		xs.write(t, dp + "/control/platform-feature-multiprocessor-suspend", "1");
		xs.write(t, dp + "/control/platform-feature-xs_reset_watches", "1");
		xs.write(t, lp + "/type", "pvh");
	});
	xs.transact("writing the domain id",
		    [&](xs_transaction_t t) { xs.write(t, dp + "/domid", std::to_string(domid)); });
	/* xensim has no store ring page or event channel: mfn 0 and port 1
	 * are placeholders the daemon ignores (xenstored wants a port > 0). */
	if (!xs_introduce_domain(xs.get(), domid, 0, 1))
		throw Error("introducing domain " + std::to_string(domid) + ": " + errstr());
}

bool is_introduced(Store &xs, unsigned int domid)
{
	return xs_is_domain_introduced(xs.get(), domid);
}

/* libxl__domain_rename()'s check: a name names one domain at a time. */
std::optional<unsigned int> domain_named(Store &xs, const std::string &name)
{
	auto domids = xs.directory(XBT_NULL, "/local/domain");
	for (const std::string &d : domids.value_or(std::vector<std::string>{}))
		if (xs.read(XBT_NULL, "/local/domain/" + d + "/name") == name)
			return static_cast<unsigned int>(std::strtoul(d.c_str(), nullptr, 10));
	return std::nullopt;
}

/* ---- MAC addresses ---- */

std::string parse_mac(const std::string &s)
{
	unsigned int b[6];
	char tail;
	if (s.size() != 17 || std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1],
					  &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		throw Error("--mac '" + s + "' is not of the form xx:xx:xx:xx:xx:xx");
	for (char c : s)
		if (c != ':' && !std::isxdigit(static_cast<unsigned char>(c)))
			throw Error("--mac '" + s + "' is not of the form xx:xx:xx:xx:xx:xx");
	if (b[0] & 1)
		throw Error("--mac " + s + " is a multicast address; a vif needs a unicast one");
	char out[32];
	/* libxl LIBXL_MAC_FMT: lower-case hex. */
	std::snprintf(out, sizeof(out), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
		      b[4], b[5]);
	return out;
}

/* Xen's OUI 00:16:3e as libxl uses it, the rest from domid and vif (libxl
 * picks them at random; a test wants to know them in advance). */
std::string default_mac(unsigned int domid, unsigned int vif)
{
	char out[32];
	std::snprintf(out, sizeof(out), "00:16:3e:%02x:%02x:%02x", (domid >> 8) & 0x7f,
		      domid & 0xff, vif & 0xff);
	return out;
}

/* ---- commands ---- */

std::string shell_quote(const std::string &s)
{
	std::string out = "'";
	for (char c : s) {
		if (c == '\'')
			out += "'\\''";
		else
			out += c;
	}
	return out + "'";
}

void print_env(const std::string &dir, unsigned int domid)
{
	std::printf("export XENSIM_DIR=%s;\n", shell_quote(dir).c_str());
	std::printf("export XENSIM_DOMID=%u;\n", domid);
	std::printf("export XENSTORED_PATH=%s;\n", shell_quote(socket_of(dir, domid)).c_str());
	std::printf("export LD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH};\n",
		    shell_quote(lib_dir()).c_str());
}

/* A daemon just spawned, and the file it creates once it serves. */
struct Spawned {
	pid_t pid;
	const char *name;
	std::string exe;
	const char *ready, *log;
};

void wait_ready(const std::string &dir, const Spawned &d,
		std::chrono::steady_clock::time_point deadline)
{
	while (!fs::exists(dir + d.ready)) {
		int status;
		if (::waitpid(d.pid, &status, WNOHANG) == d.pid) {
			std::string tail = last_line(dir + d.log);
			throw Error(std::string(d.name) + " (" + d.exe +
				    ") exited during start-up; " + dir + d.log +
				    (tail.empty() ? std::string(" is empty") : " says: " + tail));
		}
		if (std::chrono::steady_clock::now() > deadline)
			throw Error(std::string(d.name) + " not ready after " +
				    std::to_string(kStartTimeout.count()) + " s (no " + dir +
				    d.ready + "); see " + dir + d.log);
		std::this_thread::sleep_for(10ms);
	}
}

int cmd_start(const Args &a)
{
	std::vector<std::string> delay_args;
	if (a.has("watch-delay")) {
		/* A test knob (xensim-stored --watch-delay): checked here, before
		 * anything is made, so that a typo is this command's error. */
		const std::string &v = a.opts.at("watch-delay");
		auto colon = v.find(':');
		if (colon == std::string::npos)
			throw Error("--watch-delay " + v + ": expected DOMID:MS");
		parse_number("watch-delay", v.substr(0, colon), 0, kDomidFirstReserved - 1);
		parse_number("watch-delay", v.substr(colon + 1), 1, 60000);
		delay_args = {"--watch-delay", v};
	}
	std::string dir;
	bool created = false;
	if (a.has("dir")) {
		dir = a.opts.at("dir");
		std::error_code ec;
		created = fs::create_directories(dir, ec);
		if (ec)
			throw Error("cannot create " + dir + ": " + ec.message());
		dir = fs::absolute(dir).lexically_normal().string();
		if (auto pid = read_pid(dir + "/store.pid"); pid && daemon_alive(*pid, dir))
			throw Error("an instance is already running in " + dir + " (store pid " +
				    std::to_string(*pid) + ")");
	} else {
		char tmpl[] = "/dev/shm/xensim.XXXXXX";
		if (!::mkdtemp(tmpl))
			throw Error(
				std::string("cannot create an instance directory in /dev/shm: ") +
				errstr());
		dir = tmpl;
		created = true;
	}
	std::vector<std::string> hvd_args{"--dir", dir};
	if (a.has("gntalloc-limit"))
		hvd_args.insert(
			hvd_args.end(),
			{"--gntalloc-limit",
			 std::to_string(parse_number("gntalloc-limit", a.opts.at("gntalloc-limit"),
						     1, 1u << 20))});

	std::vector<std::string> store_args{"--dir", dir};
	store_args.insert(store_args.end(), delay_args.begin(), delay_args.end());

	std::vector<pid_t> started;
	auto undo = [&]() {
		for (pid_t p : started) {
			::kill(p, SIGKILL);
			::waitpid(p, nullptr, 0);
		}
		if (created)
			fs::remove_all(dir);
		else
			fs::remove(fs::path(dir) / kMarker);
	};
	try {
		write_file(dir + "/" + kMarker, "xensim instance\n");
		const std::string stored = stored_path(), hvd = hvd_path();
		pid_t store_pid = spawn(stored, store_args, dir + "/store.log");
		started.push_back(store_pid);
		write_file(dir + "/store.pid", std::to_string(store_pid) + "\n");
		if (a.has("watch-delay")) /* for the daemon restart-store --kill starts */
			write_file(dir + "/store.watch-delay", a.opts.at("watch-delay") + "\n");
		pid_t hv_pid = spawn(hvd, hvd_args, dir + "/hv.log");
		started.push_back(hv_pid);
		write_file(dir + "/hv.pid", std::to_string(hv_pid) + "\n");

		const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
		wait_ready(dir, {store_pid, "store daemon", stored, "/store/ready", "/store.log"},
			   deadline);
		wait_ready(dir, {hv_pid, "hypervisor daemon", hvd, "/hv/ready", "/hv.log"},
			   deadline);

		/* xen-init-dom0: the toolstack domain's own nodes. */
		Store xs(dir);
		xs.transact("creating the nodes of domain 0", [&](xs_transaction_t t) {
			xs.write(t, "/local/domain/0/domid", "0");
			xs.write(t, "/local/domain/0/name", "Domain-0");
			xs.mkdir(t, "/vm");
			xs.mkdir(t, "/tool");
			xs.mkdir(t, "/libxl");
		});
	} catch (...) {
		undo();
		throw;
	}
	print_env(dir, 0);
	return 0;
}

int cmd_env(const Args &a)
{
	const std::string dir = instance_dir(a);
	if (!a.has("domid"))
		throw Error("env: --domid N is required");
	unsigned long domid = parse_number("domid", a.opts.at("domid"), 0, kDomidFirstReserved - 1);
	print_env(dir, static_cast<unsigned int>(domid));
	return 0;
}

struct Vif {
	unsigned int domid, vif, backend;
	std::string fe, be, libxl;
};

Vif vif_of(const Args &a, const char *cmd)
{
	for (const char *k : {"domid", "vif"})
		if (!a.has(k))
			throw Error(std::string(cmd) + ": --" + k + " is required");
	Vif v{};
	v.domid = static_cast<unsigned int>(
		parse_number("domid", a.opts.at("domid"), 1, kDomidFirstReserved - 1));
	v.vif = static_cast<unsigned int>(parse_number("vif", a.opts.at("vif"), 0, INT_MAX));
	v.backend = a.has("backend-domid")
			    ? static_cast<unsigned int>(parse_number("backend-domid",
								     a.opts.at("backend-domid"), 0,
								     kDomidFirstReserved - 1))
			    : 0;
	/* libxl__device_frontend_path() / _backend_path() / _libxl_path(). */
	v.fe = dom_path(v.domid) + "/device/vif/" + std::to_string(v.vif);
	v.be = dom_path(v.backend) + "/backend/vif/" + std::to_string(v.domid) + "/" +
	       std::to_string(v.vif);
	v.libxl = "/libxl/" + std::to_string(v.domid) + "/device/vif/" + std::to_string(v.vif);
	return v;
}

int cmd_vif_add(const Args &a)
{
	const std::string dir = instance_dir(a);
	Vif v = vif_of(a, "vif-add");
	if (v.backend == v.domid)
		throw Error("vif-add: --backend-domid " + std::to_string(v.backend) +
			    " is the frontend's own domain");
	const std::string mac =
		a.has("mac") ? parse_mac(a.opts.at("mac")) : default_mac(v.domid, v.vif);
	/* libxl LIBXL_DEVICE_NIC_MTU_DEFAULT; 68 is the smallest IPv4 MTU. */
	const unsigned long mtu =
		a.has("mtu") ? parse_number("mtu", a.opts.at("mtu"), 68, 65535) : 1500;
	/* libxl writes the frontend's "trusted" node (XSA-403): 0 where the
	 * backend domain is not trusted (LIBXL_NIC_BACKEND_UNTRUSTED). */
	const unsigned long trusted =
		a.has("trusted") ? parse_number("trusted", a.opts.at("trusted"), 0, 1) : 1;
	std::optional<unsigned long> max_queues;
	if (a.has("max-queues"))
		max_queues = parse_number("max-queues", a.opts.at("max-queues"), 1, 256);
	std::optional<std::string> name;
	if (a.has("name")) {
		name = a.opts.at("name");
		if (name->empty() || name->size() > 127 ||
		    std::any_of(name->begin(), name->end(),
				[](unsigned char c) { return c < 0x20 || c == 0x7f; }))
			throw Error("--name '" + *name +
				    "' is not a domain name: 1 to 127 characters, no control "
				    "characters");
	}

	Store xs(dir);
	if (v.backend != kToolstackDomid && !is_introduced(xs, v.backend))
		introduce_domain(xs, v.backend, default_name(v.backend));
	if (!is_introduced(xs, v.domid)) {
		/* xl create: the guest's name, unique among live domains. */
		const std::string n = name.value_or(default_name(v.domid));
		if (auto other = domain_named(xs, n); other && *other != v.domid)
			throw Error("vif-add: a domain named '" + n + "' already exists (domain " +
				    std::to_string(*other) + "); xensim destroy --domid " +
				    std::to_string(*other) + " first");
		introduce_domain(xs, v.domid, n);
	} else if (name) {
		auto current = xs.read(XBT_NULL, dom_path(v.domid) + "/name");
		if (current != *name)
			throw Error("vif-add: domain " + std::to_string(v.domid) +
				    " exists and is named '" + current.value_or("") + "', not '" +
				    *name +
				    "' (a name is given when a domain is "
				    "created)");
	}

	const std::string handle = std::to_string(v.vif);
	/* libxl__device_generic_add(): the frontend directory belongs to the
	 * guest and the backend may read it; the backend directory belongs
	 * to the backend domain and the guest may read it; read-only
	 * frontend nodes (mtu) belong to the backend. */
	const std::vector<xs_permissions> fe_perms{perm(v.domid, XS_PERM_NONE),
						   perm(v.backend, XS_PERM_READ)};
	const std::vector<xs_permissions> be_perms{perm(v.backend, XS_PERM_NONE),
						   perm(v.domid, XS_PERM_READ)};
	const std::vector<xs_permissions> &ro_fe_perms = be_perms;

	/* libxl__device_add_async() and libxl__set_xenstore_nic(), in order. */
	std::vector<std::pair<std::string, std::string>> back{
		{"frontend-id", std::to_string(v.domid)},
		{"online", "1"},
		{"state", std::to_string(XenbusStateInitialising)},
		{"script", "/etc/xen/scripts/vif-bridge"},
		{"mac", mac},
	};
	if (mtu != 1500)
		back.emplace_back("mtu", std::to_string(mtu));
	back.emplace_back("bridge", "xenbr0");
	back.emplace_back("handle", handle);
	back.emplace_back("type", "vif");
	back.emplace_back("hotplug-status", "");
	/* Not libxl's: xensim's toolstack setting for net_xenback, the
	 * counterpart of Linux netback's max_queues module parameter. */
	if (max_queues)
		back.emplace_back("max-queues", std::to_string(*max_queues));
	const std::vector<std::pair<std::string, std::string>> front{
		{"backend-id", std::to_string(v.backend)},
		{"state", std::to_string(XenbusStateInitialising)},
		{"handle", handle},
		{"mac", mac},
		{"trusted", std::to_string(trusted)},
	};
	const std::vector<std::pair<std::string, std::string>> ro_front{
		{"mtu", std::to_string(mtu)},
	};

	xs.transact("adding the vif", [&](xs_transaction_t t) {
		if (xs.read(t, v.libxl))
			throw Error("vif-add: vif " + std::to_string(v.vif) + " of domain " +
				    std::to_string(v.domid) + " already exists (" + v.libxl + ")");
		xs.rm(t, v.libxl);
		xs.write(t, v.libxl + "/frontend", v.fe);
		xs.write(t, v.libxl + "/backend", v.be);

		xs.rm(t, v.fe);
		xs.mkdir(t, v.fe);
		xs.set_perms(t, v.fe, fe_perms);
		xs.write(t, v.fe + "/backend", v.be);
		for (const auto &[k, val] : front) {
			xs.write(t, v.fe + "/" + k, val);
			xs.set_perms(t, v.fe + "/" + k, fe_perms);
		}
		for (const auto &[k, val] : ro_front) {
			xs.write(t, v.fe + "/" + k, val);
			xs.set_perms(t, v.fe + "/" + k, ro_fe_perms);
		}

		xs.rm(t, v.be);
		xs.mkdir(t, v.be);
		xs.set_perms(t, v.be, be_perms);
		xs.write(t, v.be + "/frontend", v.fe);
		for (const auto &[k, val] : back)
			xs.write(t, v.be + "/" + k, val);
		/* libxl keeps a copy of the backend's settings for itself. */
		for (const auto &[k, val] : back)
			xs.write(t, v.libxl + "/" + k, val);
	});

	/* No hotplug scripts run here: do what vif-bridge's success() does
	 * once the backend device exists, so a backend that waits for it
	 * (as Linux netback does before Connected) may go on. */
	xs.transact("marking the hotplug script done", [&](xs_transaction_t t) {
		xs.write(t, v.be + "/hotplug-status", "connected");
	});
	return 0;
}

int cmd_vif_del(const Args &a)
{
	const std::string dir = instance_dir(a);
	Vif v = vif_of(a, "vif-del");
	Store xs(dir);
	xs.transact("removing the vif", [&](xs_transaction_t t) {
		auto be = xs.read(t, v.libxl + "/backend");
		if (!be && !xs.read(t, v.fe))
			throw Error("vif-del: domain " + std::to_string(v.domid) + " has no vif " +
				    std::to_string(v.vif) + " (no " + v.fe + ")");
		/* libxl__device_destroy() run by the toolstack domain:
		 * frontend, libxl copy, then the backend path. */
		xs.path_cleanup(t, v.fe);
		xs.path_cleanup(t, v.libxl);
		xs.path_cleanup(t, be && !be->empty() ? *be : v.be);
	});
	return 0;
}

/* xl destroy, as the store sees it (libxl_domain.c libxl__destroy_domid()):
 * each device removed as libxl__device_destroy() does (its frontend,
 * libxl's copy and its backend directory), then the domain's own paths
 * (/local/domain/N, /libxl/N, /vm/<uuid>), then the domain released
 * (XS_RELEASE, as xenstored does when Xen reports it dead: @releaseDomain
 * fires). */
int cmd_destroy(const Args &a)
{
	const std::string dir = instance_dir(a);
	if (!a.has("domid"))
		throw Error("destroy: --domid N is required");
	const auto domid = static_cast<unsigned int>(
		parse_number("domid", a.opts.at("domid"), 1, kDomidFirstReserved - 1));
	Store xs(dir);
	if (!is_introduced(xs, domid))
		throw Error("destroy: there is no domain " + std::to_string(domid));
	const std::string dp = dom_path(domid);
	const std::string lp = "/libxl/" + std::to_string(domid);
	xs.transact("removing the domain's devices", [&](xs_transaction_t t) {
		for (const std::string &kind :
		     xs.directory(t, lp + "/device").value_or(std::vector<std::string>{}))
			for (const std::string &devid :
			     xs.directory(t, lp + "/device/" + kind)
				     .value_or(std::vector<std::string>{})) {
				const std::string l = lp + "/device/" + kind + "/" + devid;
				auto fe = xs.read(t, l + "/frontend");
				auto be = xs.read(t, l + "/backend");
				if (fe && !fe->empty())
					xs.path_cleanup(t, *fe);
				xs.path_cleanup(t, l);
				if (be && !be->empty())
					xs.path_cleanup(t, *be);
			}
	});
	xs.transact("removing the domain's paths", [&](xs_transaction_t t) {
		auto vm = xs.read(t, dp + "/vm");
		xs.rm(t, dp);
		xs.rm(t, lp);
		if (vm && vm->rfind("/vm/", 0) == 0)
			xs.rm(t, *vm);
	});
	if (!xs_release_domain(xs.get(), domid))
		throw Error("releasing domain " + std::to_string(domid) + ": " + errstr());
	return 0;
}

std::string json_string(const std::string &s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20) {
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\u%04x", c);
			out += buf;
		} else {
			out += static_cast<char>(c);
		}
	}
	return out + "\"";
}

int cmd_status(const Args &a)
{
	const std::string dir = instance_dir(a);
	auto store_pid = read_pid(dir + "/store.pid");
	auto hv_pid = read_pid(dir + "/hv.pid");
	const bool store_alive = store_pid && daemon_alive(*store_pid, dir);
	const bool hv_alive = hv_pid && daemon_alive(*hv_pid, dir);

	std::string store_json = "null", store_error;
	if (store_alive) {
		try {
			Store xs(dir);
			char *r = xs_control_command(xs.get(), "xensim-status", nullptr, 0);
			if (r) {
				store_json = r;
				std::free(r);
			} else {
				store_error = "xensim-status: " + errstr();
			}
		} catch (const Error &e) {
			store_error = e.what();
		}
	}
	std::string hv_json = "null", hv_error;
	if (hv_alive) {
		auto out = capture(hvd_path(), {"--status", dir});
		if (out && out->find('{') != std::string::npos) {
			hv_json = *out;
			while (!hv_json.empty() &&
			       std::isspace(static_cast<unsigned char>(hv_json.back())))
				hv_json.pop_back();
		} else {
			hv_error = hvd_path() + " --status " + dir + " failed";
		}
	}

	auto pid_json = [](std::optional<pid_t> p) {
		return p ? std::to_string(*p) : std::string("null");
	};
	if (a.flag("json")) {
		std::printf("{\"dir\":%s,\"daemons\":{\"store\":{\"pid\":%s,\"alive\":%s},"
			    "\"hv\":{\"pid\":%s,\"alive\":%s}},\"store\":%s,\"hv\":%s",
			    json_string(dir).c_str(), pid_json(store_pid).c_str(),
			    store_alive ? "true" : "false", pid_json(hv_pid).c_str(),
			    hv_alive ? "true" : "false", store_json.c_str(), hv_json.c_str());
		if (!store_error.empty())
			std::printf(",\"store_error\":%s", json_string(store_error).c_str());
		if (!hv_error.empty())
			std::printf(",\"hv_error\":%s", json_string(hv_error).c_str());
		std::printf("}\n");
	} else {
		std::printf("instance:   %s\n", dir.c_str());
		std::printf("store:      pid %s, %s\n", pid_json(store_pid).c_str(),
			    store_alive ? "running" : "not running");
		std::printf("hypervisor: pid %s, %s\n", pid_json(hv_pid).c_str(),
			    hv_alive ? "running" : "not running");
		if (store_json != "null")
			std::printf("store view: %s\n", store_json.c_str());
		if (!store_error.empty())
			std::printf("store error: %s\n", store_error.c_str());
		if (hv_json != "null")
			std::printf("hv view:    %s\n", hv_json.c_str());
		if (!hv_error.empty())
			std::printf("hv error:   %s\n", hv_error.c_str());
	}
	return store_alive && hv_alive ? 0 : 1;
}

/* xenstore-control live-update: the daemon re-executes itself (or
 * --binary) keeping its state and every connection; answered once the new
 * daemon serves. */
void live_update_store(const std::string &dir, pid_t pid, const Args &a)
{
	Store xs(dir);
	std::string binary = a.has("binary") ? fs::absolute(a.opts.at("binary")).string() : "";
	std::string data = binary;
	data += '\0';
	char *r = xs_control_command(xs.get(), "live-update", data.data(),
				     static_cast<unsigned int>(data.size()));
	if (!r) {
		int err = errno;
		if (!daemon_alive(pid, dir))
			throw Error("restart-store: the store daemon (pid " + std::to_string(pid) +
				    ") died; restart-store --kill starts it from its snapshot");
		if (err == EBUSY)
			throw Error("restart-store: the store daemon refused the live update: "
				    "transactions stayed open (see " +
				    dir + "/store.log); try again, or use --kill");
		throw Error("restart-store: live update failed: " + errstr(err) + " (see " + dir +
			    "/store.log)");
	}
	std::free(r);
	std::printf("store daemon (pid %d) live-updated: tree, permissions, quotas, "
		    "connections and watches kept\n",
		    static_cast<int>(pid));
}

/* The daemon killed outright and started again from its snapshot: its
 * clients' connections break and they must reopen the store. */
void kill_and_restore_store(const std::string &dir, std::optional<pid_t> pid)
{
	if (pid && daemon_alive(*pid, dir)) {
		::kill(*pid, SIGKILL);
		const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
		while (daemon_alive(*pid, dir)) {
			if (std::chrono::steady_clock::now() > deadline)
				throw Error("restart-store: store daemon pid " +
					    std::to_string(*pid) + " survived SIGKILL");
			std::this_thread::sleep_for(10ms);
		}
	}
	std::error_code ec;
	fs::remove(dir + "/store/ready", ec);
	const std::string stored = stored_path();
	std::vector<std::string> args{"--dir", dir, "--restore"};
	if (std::string delay = last_line(dir + "/store.watch-delay"); !delay.empty())
		args.insert(args.end(), {"--watch-delay", delay});
	pid_t new_pid = spawn(stored, args, dir + "/store.log");
	write_file(dir + "/store.pid", std::to_string(new_pid) + "\n");
	wait_ready(dir, {new_pid, "store daemon", stored, "/store/ready", "/store.log"},
		   std::chrono::steady_clock::now() + kStartTimeout);
	std::printf("store daemon %s; restarted from %s/store/snapshot as pid %d: "
		    "connections and watches were lost, clients must reopen the store\n",
		    pid ? ("pid " + std::to_string(*pid) + " killed").c_str() : "was not running",
		    dir.c_str(), static_cast<int>(new_pid));
}

int cmd_restart_store(const Args &a)
{
	const std::string dir = instance_dir(a);
	auto pid = read_pid(dir + "/store.pid");
	if (a.flag("kill")) {
		if (a.has("binary"))
			throw Error(
				"restart-store: --binary is for a live update, not with --kill");
		kill_and_restore_store(dir, pid);
		return 0;
	}
	if (!pid || !daemon_alive(*pid, dir))
		throw Error("restart-store: the store daemon is not running, so there is nothing "
			    "to live-update; restart-store --kill starts it from its snapshot");
	live_update_store(dir, *pid, a);
	return 0;
}

int cmd_stop(const Args &a)
{
	const std::string dir = instance_dir(a);
	std::vector<pid_t> pids;
	for (const char *f : {"/store.pid", "/hv.pid"})
		if (auto p = read_pid(dir + f); p && daemon_alive(*p, dir))
			pids.push_back(*p);
	for (pid_t p : pids)
		::kill(p, SIGTERM);
	auto all_gone = [&]() {
		for (pid_t p : pids)
			if (daemon_alive(p, dir))
				return false;
		return true;
	};
	auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
	while (!all_gone() && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(10ms);
	std::string killed;
	for (pid_t p : pids) {
		if (daemon_alive(p, dir)) {
			::kill(p, SIGKILL);
			killed += " " + std::to_string(p);
		}
	}
	deadline = std::chrono::steady_clock::now() + 1s;
	while (!all_gone() && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(10ms);
	std::error_code ec;
	fs::remove_all(dir, ec);
	if (ec)
		throw Error("stop: cannot remove " + dir + ": " + ec.message());
	if (!killed.empty())
		std::fprintf(stderr, "xensim: stop: killed pid%s after %lld s without exiting\n",
			     killed.c_str(), static_cast<long long>(kStopTimeout.count()));
	return 0;
}

/* One line per command: its synopsis and what it does (xensim CMD --help). */
struct CommandHelp {
	const char *name;
	const char *synopsis;
	const char *what;
};
constexpr CommandHelp command_help[] = {
	{"start", "xensim start [--dir DIR] [--gntalloc-limit N] [--watch-delay DOMID:MS]",
	 "starts an instance (store and hypervisor daemons) and prints the shell lines\n"
	 "that join it as domain 0: eval \"$(xensim start)\"; --watch-delay (a test knob)\n"
	 "has the store process domain DOMID's WATCH requests MS ms late"},
	{"env", "xensim env --domid N", "prints the shell lines that make a process domain N"},
	{"vif-add",
	 "xensim vif-add --domid N --vif M [--backend-domid B] [--mac MAC]\n"
	 "                      [--mtu BYTES] [--max-queues Q] [--name NAME] [--trusted 0|1]",
	 "writes the nodes xl network-attach writes for vif M of domain N (served by\n"
	 "domain B, 0 by default), introducing the domains first"},
	{"vif-del", "xensim vif-del --domid N --vif M",
	 "removes the vif's nodes, as libxl does when the guest is gone"},
	{"destroy", "xensim destroy --domid N",
	 "removes domain N's devices and nodes and releases it, as xl destroy"},
	{"status", "xensim status [--json]", "lists the instance's daemons, domains and vifs"},
	{"restart-store", "xensim restart-store [--kill] [--binary PATH]",
	 "live-updates the store daemon (or kills it and restores its snapshot)"},
	{"stop", "xensim stop", "stops the instance's daemons and removes its directory"},
};

void usage()
{
	std::printf("usage: ");
	bool first = true;
	for (const CommandHelp &c : command_help) {
		std::printf("%s%s\n", first ? "" : "       ", c.synopsis);
		first = false;
	}
	std::printf("Every command but start takes the instance from --dir DIR or $XENSIM_DIR.\n"
		    "eval \"$(xensim start)\" joins the new instance as domain 0.\n"
		    "xensim COMMAND --help says what a command does.\n");
}

/* xensim COMMAND --help: that command's synopsis and purpose; false if
 * COMMAND is unknown. */
bool command_usage(const std::string &cmd)
{
	for (const CommandHelp &c : command_help)
		if (cmd == c.name) {
			std::printf("usage: %s\n%s\n", c.synopsis, c.what);
			if (cmd != "start")
				std::printf("The instance is --dir DIR, else $XENSIM_DIR.\n");
			return true;
		}
	return false;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
			  std::string(argv[1]) == "help")) {
		usage();
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
			if (command_usage(argv[1]))
				return 0;
			break; /* an unknown command: parse_args says so */
		}
	try {
		Args a = parse_args(argc, argv);
		if (a.cmd == "start")
			return cmd_start(a);
		if (a.cmd == "env")
			return cmd_env(a);
		if (a.cmd == "vif-add")
			return cmd_vif_add(a);
		if (a.cmd == "vif-del")
			return cmd_vif_del(a);
		if (a.cmd == "destroy")
			return cmd_destroy(a);
		if (a.cmd == "status")
			return cmd_status(a);
		if (a.cmd == "restart-store")
			return cmd_restart_store(a);
		return cmd_stop(a);
	} catch (const Error &e) {
		std::fprintf(stderr, "xensim: %s\n", e.what());
		return 1;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "xensim: %s\n", e.what());
		return 1;
	}
}
