#include "tests/faults/fault_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <sstream>

extern char** environ;

namespace hearth::testing::faults {

namespace {

// Under ASan, freed memory waits in a quarantine (256 MB by default) before
// it is reused, and the memory bounds would count it: a server that frees
// each batch after sending it would seem to grow by the quarantine's size.
// The servers these tests start (they inherit this environment) get a small
// one instead.
const bool kSmallQuarantine = [] {
  if (!kSanitized) return false;
  const char* old = std::getenv("ASAN_OPTIONS");
  std::string options = old != nullptr && *old != '\0' ? std::string(old) + ":" : std::string();
  options += "quarantine_size_mb=8";
  return ::setenv("ASAN_OPTIONS", options.c_str(), 1) == 0;
}();

}  // namespace

void Figure(const std::string& name, double value, const std::string& unit) {
  std::printf("FIGURE %s=%.6g %s\n", name.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

long EnvLong(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end != nullptr && *end == '\0' ? n : fallback;
}

// ---- processes under limits ----

namespace {

std::vector<std::string> EnvWith(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& kv : extra) {
    if (kv.second == "\x01unset") {
      all.erase(kv.first);
    } else {
      all[kv.first] = kv.second;
    }
  }
  std::vector<std::string> out;
  for (const auto& kv : all) out.push_back(kv.first + "=" + kv.second);
  return out;
}

// In the child, after fork: limits, then exec. Only async-signal-safe calls.
[[noreturn]] void ExecLimited(const std::vector<char*>& argv, const std::vector<char*>& envp, const Limits& limits) {
  if (limits.fsize) {
    ::signal(SIGXFSZ, SIG_IGN);  // kept across exec: EFBIG instead of death
    const rlimit r{*limits.fsize, *limits.fsize};
    if (::setrlimit(RLIMIT_FSIZE, &r) != 0) ::_exit(126);
  }
  if (limits.nofile) {
    const rlimit r{*limits.nofile, *limits.nofile};
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0) ::_exit(126);
  }
  ::execve(argv[0], argv.data(), envp.data());
  ::_exit(127);
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

ProcessResult RunLimited(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const Limits& limits) {
  const auto env_strings = EnvWith(env);
  const auto a = Pointers(argv);
  const auto e = Pointers(env_strings);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::setsid();
    ExecLimited(a, e, limits);
  }
  ::close(out[1]);
  ::close(err[1]);
  ProcessResult r;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      char buf[8192];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      const bool is_out = fds[i].fd == out[0];
      if (got <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      (is_out ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  r.exit_code = WaitChild(pid);
  return r;
}

Child SpawnLimited(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                   const Limits& limits, bool merge_stderr) {
  const auto env_strings = EnvWith(env);
  const auto a = Pointers(argv);
  const auto e = Pointers(env_strings);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    if (merge_stderr) ::dup2(out[1], 2);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ExecLimited(a, e, limits);
  }
  ::close(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  return Child{pid, out[0]};
}

bool SetFileSizeLimit(int pid, rlim_t bytes) {
  // The soft limit only, so that it can be lifted again without privilege.
  rlimit old{};
  if (::prlimit(pid, RLIMIT_FSIZE, nullptr, &old) != 0) return false;
  const rlimit r{std::min(bytes, old.rlim_max), old.rlim_max};
  return ::prlimit(pid, RLIMIT_FSIZE, &r, nullptr) == 0;
}

rlim_t RaiseFdLimit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

// ---- /proc readings ----

Memory ReadMemory(int pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return m;
}

double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  // The command name may hold spaces; the fields after it are plain.
  const auto close = all.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) {
      stime = std::strtod(field.c_str(), nullptr);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int CountFds(int pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

bool Alive(int pid) {
  // A zombie (exited, not yet waited for) is not alive.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const auto close = all.rfind(')');
  return close != std::string::npos && close + 2 < all.size() && all[close + 2] != 'Z';
}

MemorySampler::MemorySampler(int pid, std::chrono::milliseconds every) : pid_(pid), every_(every) {
  first_ = peak_ = last_ = ReadMemory(pid_).rss_kib;
  thread_ = std::thread([this] {
    while (!stop_) {
      std::this_thread::sleep_for(every_);
      const long rss = ReadMemory(pid_).rss_kib;
      if (rss < 0) continue;
      last_ = rss;
      if (rss > peak_) peak_ = rss;
    }
  });
}

MemorySampler::~MemorySampler() { Stop(); }

void MemorySampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

TcpSocket FindTcpSocket(std::uint16_t local_port, std::uint16_t remote_port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
    std::istringstream f(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
    unsigned long inode = 0;
    if (!(f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode)) continue;
    const auto port = [](const std::string& addr) {
      return static_cast<std::uint16_t>(std::strtoul(addr.substr(addr.find(':') + 1).c_str(), nullptr, 16));
    };
    if (port(local) == local_port && port(remote) == remote_port) {
      return TcpSocket{static_cast<int>(std::strtol(state.c_str(), nullptr, 16)), inode};
    }
  }
  return {};
}

// ---- raw sockets ----

std::uint16_t PortOf(const std::string& host_port) {
  return static_cast<std::uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

int ConnectTcp(const std::string& host_port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(PortOf(host_port));
  ::inet_pton(AF_INET, host_port.substr(0, host_port.rfind(':')).c_str(), &sa.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::send(fd, p, size, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  return true;
}

bool WaitClosedByPeer(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
  return false;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace hearth::testing::faults
