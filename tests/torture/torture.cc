// hearth_torture: the crash-and-restart torture test with real processes.
//
// A relay and two or three nodes (Alex; Sam; with --devices 3 also a second
// device of Sam's) run as real `hearth serve` / `hearth-relay` processes on
// loopback. Each round a seeded random mix of actions runs against them:
// writes of every kind through the `hearth` command line, each either run to
// completion (exit 0: the write is acknowledged and remembered) or SIGKILLed
// 0-50 ms after it started (or up to the median time of a write where that
// is longer: a loaded machine, a sanitizer build); SIGKILLs of a `serve`
// (often right after a burst of writes, while batches are in flight) and of
// the relay, restarted later; one-shot `hearth sync` runs, killed or
// completed.
//
// At the end everything that is down is restarted and the nodes are left to
// sync until every device shows the same thing. Then the run checks that
//   1. every acknowledged write is on every device that may hold it (a
//      private entry only on its author's devices, and on no other);
//   2. the devices are identical: the same items, agreements and roster, up
//      to what legitimately differs per device (the "mine" flag, a partner's
//      private entries, answers still sealed for the partner);
//   3. every store opens cleanly: `hearth verify` exits 0, SQLite's
//      integrity_check says "ok" for every hearth.db and the relay's
//      relay.db, and no device has seen a fork.
// It prints one summary line starting with "TORTURE " and exits 1 on any
// failure, keeping the run's directory. docs/reliability.md describes it.
//
// Every child gets PR_SET_PDEATHSIG(SIGKILL), so nothing outlives the driver.
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace hearth::torture {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kKilled = 128 + SIGKILL;

struct Options {
  std::uint64_t seed = 0;
  int rounds = 0;
  int devices = 3;
  std::string keep;  // run in this directory and keep it
  bool verbose = false;
  int settle_seconds = 60;  // how long the final sync may take
};

// ---- child processes ----

// A child that dies with the driver: SIGKILL on the parent's death.
struct Proc {
  int pid = -1;
  int in = -1;   // -1 once all of stdin is written (or none was given)
  int out = -1;  // -1 when stdout goes to a log file
  int err = -1;
};

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Starts argv[0] (an absolute path). With `log`, stdout and stderr are
// appended to that file and stdin is /dev/null; otherwise all three are
// pipes (stdin only when `feed_stdin`).
Proc Spawn(const std::vector<std::string>& argv, bool feed_stdin, const fs::path& log = {}) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int log_fd = -1;
  if (!log.empty()) {
    log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) std::abort();
  } else if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    std::abort();
  }
  if (feed_stdin && ::pipe2(in, O_CLOEXEC) != 0) std::abort();
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the driver is already gone
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(feed_stdin ? in[0] : null, 0);
    ::dup2(log_fd >= 0 ? log_fd : out[1], 1);
    ::dup2(log_fd >= 0 ? log_fd : err[1], 2);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  Proc p;
  p.pid = pid;
  if (log_fd >= 0) ::close(log_fd);
  if (out[1] >= 0) {
    ::close(out[1]);
    ::close(err[1]);
    p.out = out[0];
    p.err = err[0];
    SetNonBlocking(p.out);
    SetNonBlocking(p.err);
  }
  if (feed_stdin) {
    ::close(in[0]);
    p.in = in[1];
    SetNonBlocking(p.in);
  }
  return p;
}

struct Finished {
  int code = -1;           // exit status, 128 + signal when killed
  bool we_killed = false;  // a SIGKILL was sent (it may have come too late)
  bool over_cap = false;   // killed because it ran past its hard limit
  std::string out, err;
  double ms = 0;
};

// Feeds `stdin_text`, collects stdout and stderr, and waits for the child;
// SIGKILLs it `kill_after` into its run (if given) or at `cap`.
Finished Await(Proc p, const std::string& stdin_text, std::optional<milliseconds> kill_after,
               milliseconds cap) {
  const auto start = Clock::now();
  Finished f;
  std::size_t written = 0;
  if (p.in >= 0 && stdin_text.empty()) {
    ::close(p.in);
    p.in = -1;
  }
  auto read_some = [](int& fd, std::string& into) {
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        fd = -1;
      }
      return;
    }
  };
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(p.pid, &status, WNOHANG);
    if (w == p.pid) break;
    const auto now = Clock::now();
    if (!f.we_killed && kill_after && now - start >= *kill_after) {
      ::kill(p.pid, SIGKILL);
      f.we_killed = true;
    }
    if (!f.we_killed && now - start >= cap) {
      ::kill(p.pid, SIGKILL);
      f.we_killed = true;
      f.over_cap = true;
    }
    pollfd fds[3];
    nfds_t n = 0;
    if (p.out >= 0) fds[n++] = {p.out, POLLIN, 0};
    if (p.err >= 0) fds[n++] = {p.err, POLLIN, 0};
    if (p.in >= 0) fds[n++] = {p.in, POLLOUT, 0};
    ::poll(fds, n, 2);
    if (p.out >= 0) read_some(p.out, f.out);
    if (p.err >= 0) read_some(p.err, f.err);
    if (p.in >= 0) {
      const ssize_t got = ::write(p.in, stdin_text.data() + written, stdin_text.size() - written);
      if (got > 0) written += static_cast<std::size_t>(got);
      if ((got < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_text.size()) {
        ::close(p.in);
        p.in = -1;
      }
    }
  }
  if (p.in >= 0) ::close(p.in);
  // The child is gone: what it wrote is in the pipes, and nobody else holds
  // their write ends (they are close-on-exec), so each ends at once.
  for (int spins = 0; (p.out >= 0 || p.err >= 0) && spins < 500; ++spins) {
    if (p.out >= 0) read_some(p.out, f.out);
    if (p.err >= 0) read_some(p.err, f.err);
    if (p.out >= 0 || p.err >= 0) std::this_thread::sleep_for(milliseconds(2));
  }
  for (int fd : {p.out, p.err}) {
    if (fd >= 0) ::close(fd);
  }
  if (WIFEXITED(status)) f.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) f.code = 128 + WTERMSIG(status);
  f.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return f;
}

// Stops a long-running child: `sig`, then SIGKILL after 5 s.
int Stop(int pid, int sig) {
  ::kill(pid, sig);
  if (sig != SIGKILL) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (Clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    ::kill(pid, SIGKILL);
  }
  return testing::WaitChild(pid);
}

// A loopback TCP port outside the ephemeral range that nothing listens on,
// so that a restarted serve or relay gets the same one back.
int PickPort(std::mt19937_64& rng, std::set<int>& taken) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = std::uniform_int_distribution<int>(20000, 32000)(rng);
    if (taken.contains(port)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    if (free) {
      taken.insert(port);
      return port;
    }
  }
  std::fprintf(stderr, "hearth_torture: no free loopback port found\n");
  std::exit(1);
}

std::string ReadFrom(const fs::path& file, std::uintmax_t offset) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::uintmax_t SizeOf(const fs::path& file) {
  std::error_code ec;
  const auto n = fs::file_size(file, ec);
  return ec ? 0 : n;
}

// ---- what was acknowledged ----

// One item whose creation was acknowledged, and what was acknowledged since.
struct Expected {
  std::string id;  // 16 hex digits; 8 for a renegotiated commitment (all the CLI prints)
  std::string kind;
  std::string member;  // the author
  int creator = 0;     // the device that made it; only it edits the text
  bool is_private = false;
  std::vector<std::string> tokens;  // the creation's, then each acknowledged edit's
  std::set<std::string> periods;    // acknowledged follow-through
  bool delete_acked = false;
  bool delete_tried = false;
};

struct Device {
  std::string dir;     // "alex", "sam", "sam2"
  std::string member;  // "Alex", "Sam"
  fs::path home;
  fs::path log;
  int port = 0;
  std::string dials;   // the peer this node's serve dials
  int serve_pid = -1;  // -1 while down
};

struct Counts {
  int rounds = 0;
  int writer_kills = 0;  // writing commands that died of our SIGKILL
  int serve_kills = 0;
  int relay_kills = 0;
  int sync_kills = 0;
  int syncs_completed = 0;
  int acked = 0;
  int refused = 0;  // exit 1: e.g. an item not yet synced to that device
  int over_cap = 0;
  std::map<std::string, int> acked_by_kind;
};

// One device's state as its command line shows it.
struct View {
  bool ok = false;
  std::string error;
  std::map<std::string, json> items;  // id -> item, less the per-device fields
  std::string agreements;
  json roster;
  std::vector<std::string> forks;
};

// The median of `ms`, 0 when empty.
int Typical(std::vector<double> ms) {
  if (ms.empty()) return 0;
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return static_cast<int>(ms[ms.size() / 2]);
}

const char* const kWords[] = {"morning", "walk",  "tea",    "garden", "rain",   "letter", "kitchen",
                              "laugh",   "quiet", "window", "river",  "bread",  "music",  "evening",
                              "tired",   "warm",  "listen", "plans",  "sunday", "coffee"};

class Torture {
 public:
  explicit Torture(Options o) : o_(std::move(o)), rng_(o_.seed) {}

  int Run();

 private:
  // -- helpers over the command line --
  testing::ProcessResult Hearth(const Device& d, std::vector<std::string> args) {
    args.insert(args.begin(), {HEARTH_BIN, "--home", d.home.string()});
    return testing::RunProcess(args, {}, "", true);
  }
  void Log(const std::string& line) {
    log_ << line << "\n";
    log_.flush();
    if (o_.verbose) std::cout << line << std::endl;
  }
  void Fail(const std::string& why) {
    failures_.push_back(why);
    Log("FAILURE: " + why);
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::string Token() {
    std::ostringstream t;
    t << "tk" << std::hex << (o_.seed & 0xffffff) << "x" << std::dec << ++tokens_;
    return t.str();
  }
  std::string Words(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += ' ';
      s += kWords[Uniform(0, static_cast<int>(std::size(kWords)) - 1)];
    }
    return s;
  }

  bool Setup();
  bool StartRelay();
  bool StartServe(Device& d);
  void KillServe(Device& d);
  void KillRelay();
  void CheckDeaths();
  void RunRound(int round);
  void WriterAction();
  void BurstThenKillServe();
  void OneShotSync();
  Finished Writer(const Device& d, std::vector<std::string> args, const std::string& stdin_text,
                  const std::string& what);
  void Settle();
  View ReadView(const Device& d);
  std::string Compare(std::size_t a, std::size_t b, const View& va, const View& vb);
  std::string Disagreement(const std::vector<View>& views);
  void CheckAcknowledged(const std::vector<View>& views);
  void CheckStores();
  void StopAll();
  void Summary(double seconds);

  Options o_;
  std::mt19937_64 rng_;
  fs::path base_;
  std::ofstream log_;
  std::vector<Device> devs_;
  // Ports are not drawn from the seed: runs of the same seed side by side
  // (two CTest runs at once) must not pick the same ones.
  std::mt19937_64 port_rng_{static_cast<std::uint64_t>(::getpid()) * 1000003u +
                            static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())};
  std::set<int> ports_;
  int relay_port_ = 0;
  int relay_pid_ = -1;
  std::string relay_address_;
  fs::path relay_log_;
  long tokens_ = 0;
  Counts n_;
  std::vector<Expected> items_;
  std::map<std::string, std::set<std::string>> checkins_;  // id prefix -> members acknowledged
  std::vector<std::string> agreement_tokens_;
  std::vector<std::string> failures_;
  int lost_ = 0;
  int differ_ = 0;
  std::vector<double> writer_ms_, sync_ms_;  // how long completed commands took
};

// ---- setup, serves and the relay ----

bool Torture::StartRelay() {
  const auto offset = SizeOf(relay_log_);
  const std::vector<std::string> argv = {HEARTH_RELAY_BIN, "--listen",
                                         "127.0.0.1:" + std::to_string(relay_port_), "--data",
                                         (base_ / "relay").string()};
  relay_pid_ = Spawn(argv, false, relay_log_).pid;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    const std::string out = ReadFrom(relay_log_, offset);
    const auto at = out.find("Relay address: ");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      const std::string address = out.substr(at + 15, out.find('\n', at) - at - 15);
      if (!relay_address_.empty() && address != relay_address_) {
        Fail("the restarted relay has another address: " + address + " (was " + relay_address_ +
             ")");
      }
      relay_address_ = address;
      return true;
    }
    int status = 0;
    if (::waitpid(relay_pid_, &status, WNOHANG) == relay_pid_) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  Fail("the relay did not start: " + ReadFrom(relay_log_, offset));
  Stop(relay_pid_, SIGKILL);
  relay_pid_ = -1;
  return false;
}

bool Torture::StartServe(Device& d) {
  const auto offset = SizeOf(d.log);
  std::vector<std::string> argv = {HEARTH_BIN, "--home",   d.home.string(),
                                   "serve",    "--listen", "127.0.0.1:" + std::to_string(d.port)};
  if (!d.dials.empty()) argv.insert(argv.end(), {"--peer", d.dials});
  if (!relay_address_.empty()) argv.insert(argv.end(), {"--relay", relay_address_});
  for (int attempt = 0; attempt < 3; ++attempt) {
    d.serve_pid = Spawn(argv, false, d.log).pid;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      const std::string out = ReadFrom(d.log, offset);
      if (out.find("Listening on 127.0.0.1:" + std::to_string(d.port)) != std::string::npos) {
        return true;
      }
      int status = 0;
      if (::waitpid(d.serve_pid, &status, WNOHANG) == d.serve_pid) {
        d.serve_pid = -1;
        break;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (d.serve_pid > 0) Stop(d.serve_pid, SIGKILL);
    d.serve_pid = -1;
    Log("serve of " + d.dir + " did not start (attempt " + std::to_string(attempt + 1) + ")");
    std::this_thread::sleep_for(milliseconds(500));
  }
  Fail("the serve of " + d.dir + " did not start: " + ReadFrom(d.log, offset));
  return false;
}

void Torture::KillServe(Device& d) {
  if (d.serve_pid < 0) return;
  Stop(d.serve_pid, SIGKILL);
  d.serve_pid = -1;
  ++n_.serve_kills;
}

void Torture::KillRelay() {
  if (relay_pid_ < 0) return;
  Stop(relay_pid_, SIGKILL);
  relay_pid_ = -1;
  ++n_.relay_kills;
}

// A serve or the relay that ended without being killed is a failure.
void Torture::CheckDeaths() {
  int status = 0;
  for (auto& d : devs_) {
    if (d.serve_pid > 0 && ::waitpid(d.serve_pid, &status, WNOHANG) == d.serve_pid) {
      Fail("the serve of " + d.dir + " ended by itself (status " + std::to_string(status) +
           "); its log: " + d.log.string());
      d.serve_pid = -1;
    }
  }
  if (relay_pid_ > 0 && ::waitpid(relay_pid_, &status, WNOHANG) == relay_pid_) {
    Fail("the relay ended by itself (status " + std::to_string(status) + ")");
    relay_pid_ = -1;
  }
}

bool Torture::Setup() {
  relay_log_ = base_ / "relay.log";
  // Another program may take a port between the probe and the start: try others.
  bool relay_up = false;
  for (int attempt = 0; attempt < 5 && !relay_up; ++attempt) {
    relay_port_ = PickPort(port_rng_, ports_);
    relay_up = StartRelay();
  }
  if (!relay_up) return false;
  failures_.clear();  // the attempts that failed before one started
  devs_.push_back(
      {"sam", "Sam", base_ / "sam", base_ / "sam.log", PickPort(port_rng_, ports_), "", -1});
  devs_.push_back(
      {"alex", "Alex", base_ / "alex", base_ / "alex.log", PickPort(port_rng_, ports_), "", -1});
  if (o_.devices == 3) {
    devs_.push_back(
        {"sam2", "Sam", base_ / "sam2", base_ / "sam2.log", PickPort(port_rng_, ports_), "", -1});
  }
  // Each serve dials the next one round the ring: with one node down the
  // others still meet directly, and always through the relay.
  for (std::size_t i = 0; i < devs_.size(); ++i) {
    devs_[i].dials = "127.0.0.1:" + std::to_string(devs_[(i + 1) % devs_.size()].port);
  }
  Device& sam = devs_[0];
  auto r = Hearth(sam, {"init", "--name", "Sam", "--device-name", "sam-laptop", "--no-passphrase"});
  if (r.exit_code != 0) {
    Fail("init: " + r.err);
    return false;
  }
  // Saved in the space: one-shot syncs use it, and the joins carry it over.
  r = Hearth(sam, {"relay", "set", relay_address_});
  if (r.exit_code != 0) {
    Fail("relay set: " + r.err);
    return false;
  }
  if (!StartServe(sam)) return false;
  for (std::size_t i = 1; i < devs_.size(); ++i) {
    Device& d = devs_[i];
    const bool partner = d.member != "Sam";
    auto code = Hearth(sam, {"invite", partner ? "partner" : "device"});
    if (code.exit_code != 0) {
      Fail("invite: " + code.err);
      return false;
    }
    std::vector<std::string> join = {"join", code.out.substr(0, code.out.find('\n')),
                                     "--device-name", d.dir + "-device", "--no-passphrase"};
    if (partner) join.insert(join.end(), {"--name", d.member});
    auto joined = Hearth(d, join);
    if (joined.exit_code != 0) {
      Fail("join of " + d.dir + ": " + joined.err);
      return false;
    }
  }
  for (std::size_t i = 1; i < devs_.size(); ++i) {
    if (!StartServe(devs_[i])) return false;
  }
  Log("set up: relay " + relay_address_ + ", " + std::to_string(devs_.size()) + " devices");
  return true;
}

// ---- the actions ----

Finished Torture::Writer(const Device& d, std::vector<std::string> args,
                         const std::string& stdin_text, const std::string& what) {
  args.insert(args.begin(), {HEARTH_BIN, "--home", d.home.string()});
  // Killed somewhere in its run: within 50 ms, or within the time a write
  // takes here when that is longer (a loaded machine, a sanitizer build).
  std::optional<milliseconds> kill_after;
  if (Chance(0.4)) kill_after = milliseconds(Uniform(0, std::max(50, Typical(writer_ms_))));
  Finished f =
      Await(Spawn(args, !stdin_text.empty()), stdin_text, kill_after, milliseconds(30'000));
  std::ostringstream line;
  line << "  " << d.dir << " " << what;
  if (kill_after) line << " (kill at " << kill_after->count() << " ms)";
  line << " -> " << f.code << " in " << static_cast<int>(f.ms) << " ms";
  if (f.code != 0 && !f.err.empty()) line << ": " << f.err.substr(0, f.err.find('\n'));
  Log(line.str());
  if (f.over_cap) {
    ++n_.over_cap;
    Log("  (ran past 30 s and was killed)");
  } else if (f.code == kKilled) {
    ++n_.writer_kills;
  } else if (f.code == 1) {
    ++n_.refused;
  } else if (f.code != 0) {
    Fail("'" + what + "' on " + d.dir + " exited " + std::to_string(f.code) + ": " + f.err);
  }
  if (f.code == 0) {
    writer_ms_.push_back(f.ms);
    ++n_.acked;
    ++n_.acked_by_kind[what.substr(0, what.find(' '))];
  }
  return f;
}

// The last word of the first line, without its final '.': the id a
// "Saved entry 0123456789abcdef." line names.
std::string IdFrom(const std::string& out) {
  const std::string line = out.substr(0, out.find('\n'));
  std::string word = line.substr(line.rfind(' ') + 1);
  if (!word.empty() && word.back() == '.') word.pop_back();
  return word;
}

void Torture::WriterAction() {
  const int di = Uniform(0, static_cast<int>(devs_.size()) - 1);
  Device& d = devs_[di];
  // Items this device made and may still edit; commitments anyone may follow through.
  std::vector<std::size_t> own, mine_by_member, commitments;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const Expected& e = items_[i];
    if (e.delete_acked) continue;
    if (e.creator == di && e.kind != "checkin") own.push_back(i);
    if (e.member == d.member) mine_by_member.push_back(i);
    if (e.kind == "commitment") commitments.push_back(i);
  }
  const int pick = Uniform(0, 99);
  const std::string token = Token();
  if (pick < 25 || (pick >= 52 && pick < 72 && own.empty())) {
    // An entry, with some of its options.
    std::vector<std::string> args = {"write", token + " " + Words(Uniform(2, 12))};
    std::string kind = "write";
    bool is_private = false;
    const int variant = Uniform(0, 9);
    if (variant < 2) {
      args.push_back("--private");
      is_private = true;
      kind = "write-private";
    } else if (variant == 2) {
      args.insert(args.end(), {"--memory", "--date",
                               "2019-0" + std::to_string(Uniform(1, 9)) + "-1" +
                                   std::to_string(Uniform(0, 9))});
      kind = "write-memory";
    } else if (variant < 6) {
      args.insert(args.end(), {"--tag", Words(1), "--mood", std::to_string(Uniform(1, 5)),
                               "--title", Words(2)});
    }
    Finished f = Writer(d, args, "", kind);
    if (f.code == 0) {
      items_.push_back(
          {IdFrom(f.out), "entry", d.member, di, is_private, {token}, {}, false, false});
    }
  } else if (pick < 31) {
    // A large entry, through stdin, so that its batch takes a while to apply.
    std::string text = token;
    const int kib = Uniform(40, 200);
    while (text.size() < static_cast<std::size_t>(kib) * 1024) {
      text += (text.size() % 4096 < 8 ? "\n" : " ") + Words(8);
    }
    Finished f = Writer(d, {"write", "--tag", "long"}, text,
                        "write-large (" + std::to_string(kib) + " KiB)");
    if (f.code == 0) {
      items_.push_back({IdFrom(f.out), "entry", d.member, di, false, {token}, {}, false, false});
    }
  } else if (pick < 43) {
    Finished f =
        Writer(d, {"appreciate", token + " thank you for the " + Words(2)}, "", "appreciate");
    if (f.code == 0) {
      items_.push_back(
          {IdFrom(f.out), "appreciation", d.member, di, false, {token}, {}, false, false});
    }
  } else if (pick < 52) {
    const char* every[] = {"day", "week", "month"};
    const char* owner[] = {"me", "partner", "both"};
    Finished f = Writer(d,
                        {"commit", token + " " + Words(3), "--every", every[Uniform(0, 2)],
                         "--owner", owner[Uniform(0, 2)]},
                        "", "commit");
    if (f.code == 0) {
      items_.push_back(
          {IdFrom(f.out), "commitment", d.member, di, false, {token}, {}, false, false});
    }
  } else if (pick < 72) {
    // A text edit: the current text on this device, with a new word at its
    // end. Only the creating device edits an item, so what `show` returned is
    // still what `edit` opens (a concurrent change from another device would
    // otherwise be taken back by this edit, as an editor would).
    Expected& e =
        items_[own[static_cast<std::size_t>(Uniform(0, static_cast<int>(own.size()) - 1))]];
    auto shown = Hearth(d, {"show", e.id, "--json"});
    if (shown.exit_code != 0) {
      Log("  " + d.dir + " edit skipped: show " + e.id + " exited " +
          std::to_string(shown.exit_code));
      return;
    }
    const std::string text = json::parse(shown.out)["text"].get<std::string>() + " " + token;
    const bool via_stdin = text.size() > 64 * 1024;  // one argument holds at most 128 KiB
    std::vector<std::string> args = {"edit", e.id};
    if (!via_stdin) args.push_back(text);
    Finished f = Writer(d, args, via_stdin ? text : "", "edit " + e.kind);
    if (f.code == 0) e.tokens.push_back(token);
  } else if (pick < 80 && !commitments.empty()) {
    Expected& e = items_[commitments[static_cast<std::size_t>(
        Uniform(0, static_cast<int>(commitments.size()) - 1))]];
    const bool kept = Chance(0.7);
    Finished f =
        Writer(d, {kept ? "keep" : "miss", e.id, "--note", token}, "", kept ? "keep" : "miss");
    if (f.code == 0) {
      // "Kept for 2026-11-22."
      std::string period = IdFrom(f.out);
      e.periods.insert(period);
    }
  } else if (pick < 85) {
    const std::string answers =
        std::to_string(Uniform(1, 10)) + "\n" + token + " " + Words(4) + "\n\n" + Words(3) + "\n";
    Finished f = Writer(d, {"checkin"}, answers, "checkin");
    if (f.code == 0) {
      // "Saved your check-in 958d49aa. Thank you ..."
      const std::string first = f.out.substr(0, f.out.find('.'));
      checkins_[first.substr(first.rfind(' ') + 1)].insert(d.member);
    }
  } else if (pick < 89 && !commitments.empty()) {
    Expected& old = items_[commitments[static_cast<std::size_t>(
        Uniform(0, static_cast<int>(commitments.size()) - 1))]];
    Finished f = Writer(d, {"renegotiate", old.id, token + " " + Words(3)}, "", "renegotiate");
    if (f.code == 0) {
      // "Renegotiated: the commitment is now 4f1d2a90. ..."
      const std::string marker = "is now ";
      const auto at = f.out.find(marker);
      if (at == std::string::npos) {
        Fail("renegotiate printed no new id: " + f.out);
        return;
      }
      const std::string prefix = f.out.substr(at + marker.size(), 8);
      items_.push_back({prefix, "commitment", d.member, di, false, {token}, {}, false, false});
    }
  } else if (pick < 93 && !mine_by_member.empty()) {
    Expected& e = items_[mine_by_member[static_cast<std::size_t>(
        Uniform(0, static_cast<int>(mine_by_member.size()) - 1))]];
    e.delete_tried = true;
    Finished f = Writer(d, {"delete", e.id}, "", "delete");
    if (f.code == 0) e.delete_acked = true;
  } else {
    // The agreements: only Alex edits them (Alex has one device), a line at a
    // time, so no acknowledged line is ever taken back by a later edit.
    Device& alex = devs_[1];
    auto shown = Hearth(alex, {"agreements", "--json"});
    if (shown.exit_code != 0) {
      Fail("agreements --json on alex exited " + std::to_string(shown.exit_code) + ": " +
           shown.err);
      return;
    }
    std::string text = json::parse(shown.out)["text"].get<std::string>();
    text += (text.empty() ? "" : "\n") + token + " we " + Words(3);
    Finished f = Writer(alex, {"agreements", "edit"}, text, "agreements");
    if (f.code == 0) agreement_tokens_.push_back(token);
  }
}

// A burst of writes on one device, then the SIGKILL of a serve while the
// burst is being carried to it (or out of it).
void Torture::BurstThenKillServe() {
  std::vector<Device*> up;
  for (auto& d : devs_) {
    if (d.serve_pid > 0) up.push_back(&d);
  }
  if (up.empty()) return;
  const int writes = Uniform(2, 5);
  Log("  burst of " + std::to_string(writes) + " writes");
  for (int i = 0; i < writes; ++i) WriterAction();
  std::this_thread::sleep_for(milliseconds(Uniform(0, 300)));
  Device& victim = *up[static_cast<std::size_t>(Uniform(0, static_cast<int>(up.size()) - 1))];
  Log("  kill serve of " + victim.dir + " after the burst");
  KillServe(victim);
}

void Torture::OneShotSync() {
  Device& d = devs_[static_cast<std::size_t>(Uniform(0, static_cast<int>(devs_.size()) - 1))];
  std::optional<milliseconds> kill_after;
  if (Chance(0.5)) kill_after = milliseconds(Uniform(0, std::max(200, Typical(sync_ms_))));
  Finished f =
      Await(Spawn({HEARTH_BIN, "--home", d.home.string(), "sync", "--timeout", "3"}, false), "",
            kill_after, milliseconds(30'000));
  Log("  " + d.dir + " sync" +
      (kill_after ? " (kill at " + std::to_string(kill_after->count()) + " ms)" : "") + " -> " +
      std::to_string(f.code) + " in " + std::to_string(static_cast<int>(f.ms)) + " ms");
  if (f.over_cap) {
    ++n_.over_cap;
  } else if (f.code == kKilled) {
    ++n_.sync_kills;
  } else if (f.code == 0 || f.code == 3) {
    sync_ms_.push_back(f.ms);
    ++n_.syncs_completed;
  } else {
    Fail("'sync' on " + d.dir + " exited " + std::to_string(f.code) + ": " + f.out + f.err);
  }
}

void Torture::RunRound(int round) {
  Log("round " + std::to_string(round));
  const int actions = Uniform(4, 8);
  for (int a = 0; a < actions; ++a) {
    std::vector<Device*> up, down;
    for (auto& d : devs_) (d.serve_pid > 0 ? up : down).push_back(&d);
    const int pick = Uniform(0, 99);
    if (pick < 55) {
      WriterAction();
    } else if (pick < 63) {
      BurstThenKillServe();
    } else if (pick < 70 && !up.empty()) {
      Device& d = *up[static_cast<std::size_t>(Uniform(0, static_cast<int>(up.size()) - 1))];
      Log("  kill serve of " + d.dir);
      KillServe(d);
    } else if (pick < 78 && !down.empty()) {
      Device& d = *down[static_cast<std::size_t>(Uniform(0, static_cast<int>(down.size()) - 1))];
      Log("  restart serve of " + d.dir);
      StartServe(d);
    } else if (pick < 82 && relay_pid_ > 0) {
      Log("  kill relay");
      KillRelay();
    } else if (pick < 86 && relay_pid_ < 0) {
      Log("  restart relay");
      StartRelay();
    } else if (pick < 94) {
      OneShotSync();
    } else {
      std::this_thread::sleep_for(milliseconds(Uniform(50, 400)));
    }
    CheckDeaths();
  }
  // Bring some of what is down back, so that the next round starts mixed.
  for (auto& d : devs_) {
    if (d.serve_pid < 0 && Chance(0.5)) {
      Log("  restart serve of " + d.dir);
      StartServe(d);
    }
  }
  if (relay_pid_ < 0 && Chance(0.5)) {
    Log("  restart relay");
    StartRelay();
  }
  ++n_.rounds;
}

// ---- the end: settle, compare, check ----

View Torture::ReadView(const Device& d) {
  View v;
  // `status` first: it also writes a check-in reveal a killed process left due.
  auto st = Hearth(d, {"status", "--json"});
  auto list = Hearth(d, {"list", "--json"});
  auto agreements = Hearth(d, {"agreements", "--json"});
  for (const auto* r : {&st, &list, &agreements}) {
    if (r->exit_code != 0) {
      v.error = "exit " + std::to_string(r->exit_code) + ": " + r->err;
      return v;
    }
  }
  try {
    const json s = json::parse(st.out);
    json roster = {{"members", json::array()}, {"devices", json::array()}};
    for (const auto& m : s["members"]) roster["members"].push_back({m["id"], m["name"]});
    for (const auto& dev : s["devices"])
      roster["devices"].push_back({dev["id"], dev["name"], dev["member"]});
    std::sort(roster["members"].begin(), roster["members"].end());
    std::sort(roster["devices"].begin(), roster["devices"].end());
    v.roster = roster;
    for (const auto& f : s["forks"]) v.forks.push_back(f.dump());
    for (json item : json::parse(list.out)) {
      // What legitimately differs per device, or with the hour of the check.
      for (const char* k : {"mine", "current_period", "streak", "kept_last_4", "kept_last_12"})
        item.erase(k);
      v.items[item["id"].get<std::string>()] = item;
    }
    v.agreements = json::parse(agreements.out)["text"].get<std::string>();
  } catch (const std::exception& e) {
    v.error = std::string("unreadable JSON: ") + e.what();
    return v;
  }
  v.ok = true;
  return v;
}

// What a device of `member` should hold of `item`, for comparing devices of
// different members: nothing of a private entry; of a check-in that not
// every member answered yet, who answered (the partner's answers are sealed).
std::optional<json> Comparable(json item, bool same_member) {
  if (same_member) return item;
  if (item.value("private", false)) return std::nullopt;
  if (item["kind"] == "checkin" && item["answers"].size() < 2) {
    json who = json::array();
    for (const auto& a : item["answers"]) who.push_back(a["member"]);
    item["answers"] = who;
  }
  return item;
}

std::string Torture::Compare(std::size_t a, std::size_t b, const View& va, const View& vb) {
  const bool same = devs_[a].member == devs_[b].member;
  std::map<std::string, json> ia, ib;
  for (const auto& [id, item] : va.items) {
    if (auto c = Comparable(item, same)) ia[id] = *c;
  }
  for (const auto& [id, item] : vb.items) {
    if (auto c = Comparable(item, same)) ib[id] = *c;
  }
  std::ostringstream why;
  const std::string pair = devs_[a].dir + " and " + devs_[b].dir;
  for (const auto& [id, item] : ia) {
    auto it = ib.find(id);
    if (it == ib.end()) {
      why << pair << ": item " << id << " is only on " << devs_[a].dir << ": "
          << item.dump().substr(0, 300);
      return why.str();
    }
    if (it->second != item) {
      why << pair << ": item " << id << " differs:\n    " << devs_[a].dir << ": "
          << item.dump().substr(0, 400) << "\n    " << devs_[b].dir << ": "
          << it->second.dump().substr(0, 400);
      return why.str();
    }
  }
  for (const auto& [id, item] : ib) {
    if (!ia.contains(id)) {
      why << pair << ": item " << id << " is only on " << devs_[b].dir << ": "
          << item.dump().substr(0, 300);
      return why.str();
    }
  }
  if (va.agreements != vb.agreements) return pair + ": the agreements differ";
  if (va.roster != vb.roster)
    return pair + ": the rosters differ: " + va.roster.dump() + " / " + vb.roster.dump();
  return "";
}

// Empty when all devices agree; else the first difference.
std::string Torture::Disagreement(const std::vector<View>& views) {
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (!views[i].ok) return devs_[i].dir + " could not be read: " + views[i].error;
  }
  for (std::size_t a = 0; a < views.size(); ++a) {
    for (std::size_t b = a + 1; b < views.size(); ++b) {
      std::string why = Compare(a, b, views[a], views[b]);
      if (!why.empty()) return why;
    }
  }
  return "";
}

// Restarts what is down and polls until all devices agree twice in a row.
void Torture::Settle() {
  if (relay_pid_ < 0) StartRelay();
  for (auto& d : devs_) {
    if (d.serve_pid < 0) StartServe(d);
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o_.settle_seconds);
  std::vector<View> previous;
  std::string why = "not read yet";
  while (Clock::now() < deadline) {
    std::vector<View> views;
    for (const auto& d : devs_) views.push_back(ReadView(d));
    why = Disagreement(views);
    if (why.empty() && !previous.empty() && Disagreement(previous).empty()) {
      bool same = true;
      for (std::size_t i = 0; i < views.size(); ++i) {
        same = same && views[i].items == previous[i].items &&
               views[i].agreements == previous[i].agreements;
      }
      if (same) {
        Log("settled in " +
            std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()) +
            " ms");
        return;
      }
    }
    previous = std::move(views);
    CheckDeaths();
    std::this_thread::sleep_for(milliseconds(300));
  }
  ++differ_;
  Fail("the devices did not agree within " + std::to_string(o_.settle_seconds) + " s: " + why);
}

// Whether `token` is one of the words of `text`.
bool HasWord(const std::string& text, const std::string& token) {
  std::size_t at = 0;
  while ((at = text.find(token, at)) != std::string::npos) {
    const bool starts = at == 0 || std::isspace(static_cast<unsigned char>(text[at - 1]));
    const std::size_t end = at + token.size();
    const bool ends = end == text.size() || std::isspace(static_cast<unsigned char>(text[end]));
    if (starts && ends) return true;
    at = end;
  }
  return false;
}

const json* FindItem(const View& v, const std::string& id) {
  if (id.size() == 16) {
    auto it = v.items.find(id);
    return it == v.items.end() ? nullptr : &it->second;
  }
  const json* found = nullptr;
  for (const auto& [full, item] : v.items) {
    if (full.compare(0, id.size(), id) == 0) found = &item;
  }
  return found;
}

void Torture::CheckAcknowledged(const std::vector<View>& views) {
  auto lost = [&](const std::string& what, const std::vector<std::string>& where) {
    ++lost_;
    std::string devices;
    for (const auto& w : where) devices += (devices.empty() ? "" : ", ") + w;
    Fail("LOST: " + what + " (missing on " + devices + ")");
  };
  for (const Expected& e : items_) {
    std::vector<std::string> missing_item;
    std::map<std::string, std::vector<std::string>> missing_token, missing_period;
    std::vector<std::string> still_there;
    for (std::size_t i = 0; i < devs_.size(); ++i) {
      const bool may_hold = !e.is_private || devs_[i].member == e.member;
      const json* item = FindItem(views[i], e.id);
      if (!may_hold) {
        if (item)
          Fail("LEAK: private entry " + e.id + " of " + e.member + " is on " + devs_[i].dir);
        continue;
      }
      if (e.delete_acked) {
        if (item) still_there.push_back(devs_[i].dir);
        continue;
      }
      if (!item) {
        // A delete that was killed may have been saved.
        if (!e.delete_tried) missing_item.push_back(devs_[i].dir);
        continue;
      }
      const std::string text = (*item)["text"].get<std::string>();
      for (const auto& t : e.tokens) {
        if (!HasWord(text, t)) missing_token[t].push_back(devs_[i].dir);
      }
      for (const auto& p : e.periods) {
        bool has = false;
        for (const auto& ft : (*item)["follow_through"]) has = has || ft["period"] == p;
        if (!has) missing_period[p].push_back(devs_[i].dir);
      }
    }
    if (!missing_item.empty())
      lost(e.kind + " " + e.id + " (" + e.tokens.front() + ")", missing_item);
    for (const auto& [t, where] : missing_token)
      lost("the edit " + t + " of " + e.kind + " " + e.id, where);
    for (const auto& [p, where] : missing_period)
      lost("the follow-through for " + p + " of " + e.id, where);
    if (!still_there.empty()) lost("the deletion of " + e.kind + " " + e.id, still_there);
  }
  for (const auto& [prefix, members] : checkins_) {
    for (const auto& member : members) {
      std::vector<std::string> where;
      for (std::size_t i = 0; i < devs_.size(); ++i) {
        const json* item = FindItem(views[i], prefix);
        bool has = false;
        if (item) {
          for (const auto& a : (*item)["answers"]) has = has || a["member"] == member;
        }
        if (!has) where.push_back(devs_[i].dir);
      }
      if (!where.empty()) lost("the check-in " + prefix + " answered by " + member, where);
    }
  }
  // Once both partners answered a check-in, no device holds it sealed.
  for (std::size_t i = 0; i < devs_.size(); ++i) {
    for (const auto& [id, item] : views[i].items) {
      if (item["kind"] != "checkin" || item["answers"].size() < 2) continue;
      for (const auto& a : item["answers"]) {
        if (a["sealed"] == true) {
          Fail("check-in " + id + " answered by both is still sealed on " + devs_[i].dir + " (" +
               a["member"].get<std::string>() + "'s answers)");
        }
      }
    }
  }
  for (const auto& t : agreement_tokens_) {
    std::vector<std::string> where;
    for (std::size_t i = 0; i < devs_.size(); ++i) {
      if (!HasWord(views[i].agreements, t)) where.push_back(devs_[i].dir);
    }
    if (!where.empty()) lost("the agreements line " + t, where);
  }
}

std::string IntegrityCheck(const fs::path& db) {
  try {
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
    return d.execAndGet("PRAGMA integrity_check").getString();
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Torture::CheckStores() {
  for (const auto& d : devs_) {
    auto r = Hearth(d, {"verify"});
    if (r.exit_code != 0)
      Fail("hearth verify on " + d.dir + " exited " + std::to_string(r.exit_code) + ": " + r.err);
    const std::string check = IntegrityCheck(d.home / "hearth.db");
    if (check != "ok") Fail("integrity_check of " + d.dir + "/hearth.db: " + check);
  }
  const std::string check = IntegrityCheck(base_ / "relay" / "relay.db");
  if (check != "ok") Fail("integrity_check of relay/relay.db: " + check);
}

void Torture::StopAll() {
  for (auto& d : devs_) {
    if (d.serve_pid > 0) {
      const int code = Stop(d.serve_pid, SIGTERM);
      if (code != 0)
        Fail("the serve of " + d.dir + " ended with status " + std::to_string(code) +
             " on SIGTERM");
      d.serve_pid = -1;
    }
  }
  if (relay_pid_ > 0) {
    const int code = Stop(relay_pid_, SIGTERM);
    if (code != 0) Fail("the relay ended with status " + std::to_string(code) + " on SIGTERM");
    relay_pid_ = -1;
  }
}

void Torture::Summary(double seconds) {
  std::ostringstream s;
  s << "TORTURE seed=" << o_.seed << " devices=" << devs_.size() << " rounds=" << n_.rounds
    << " writer_kills=" << n_.writer_kills << " serve_kills=" << n_.serve_kills
    << " relay_kills=" << n_.relay_kills << " sync_kills=" << n_.sync_kills << " acked=" << n_.acked
    << " lost=" << lost_ << " differ=" << differ_ << " refused=" << n_.refused
    << " syncs=" << n_.syncs_completed << " seconds=" << static_cast<int>(seconds)
    << " result=" << (failures_.empty() ? "ok" : "FAILED");
  std::string kinds;
  for (const auto& [k, c] : n_.acked_by_kind) kinds += " " + k + "=" + std::to_string(c);
  Log("acknowledged by kind:" + kinds);
  if (n_.over_cap) Log(std::to_string(n_.over_cap) + " command(s) ran past 30 s and were killed");
  log_ << s.str() << "\n";
  std::cout << s.str() << std::endl;
}

int Torture::Run() {
  const auto start = Clock::now();
  if (!o_.keep.empty()) {
    base_ = fs::absolute(o_.keep);
  } else {
    base_ = fs::temp_directory_path() /
            ("hearth-torture-" + std::to_string(::getpid()) + "-" + std::to_string(o_.seed));
  }
  fs::remove_all(base_);
  fs::create_directories(base_);
  log_.open(base_ / "torture.log");
  Log("hearth_torture seed " + std::to_string(o_.seed) + ", " + std::to_string(o_.rounds) +
      " rounds, " + std::to_string(o_.devices) + " devices, in " + base_.string());
  if (Setup()) {
    for (int r = 0; r < o_.rounds; ++r) RunRound(r);
    Settle();
    StopAll();
    std::vector<View> views;
    for (const auto& d : devs_) views.push_back(ReadView(d));
    if (failures_.empty()) {
      // After a clean stop nothing may have moved.
      const std::string why = Disagreement(views);
      if (!why.empty()) {
        ++differ_;
        Fail("after the nodes stopped: " + why);
      }
    }
    bool readable = true;
    for (const auto& v : views) readable = readable && v.ok;
    if (readable) {
      CheckAcknowledged(views);
      for (std::size_t i = 0; i < views.size(); ++i) {
        for (const auto& f : views[i].forks)
          Fail("a fork is recorded on " + devs_[i].dir + ": " + f);
      }
    }
    CheckStores();
  }
  // Nothing of ours outlives the run.
  for (auto& d : devs_) {
    if (d.serve_pid > 0) Stop(d.serve_pid, SIGKILL);
  }
  if (relay_pid_ > 0) Stop(relay_pid_, SIGKILL);
  Summary(std::chrono::duration<double>(Clock::now() - start).count());
  if (!failures_.empty()) {
    std::cerr << "hearth_torture: seed " << o_.seed << " FAILED:\n";
    for (const auto& f : failures_) std::cerr << "  " << f << "\n";
    std::cerr << "The run is kept in " << base_.string()
              << " (torture.log, the homes, the serve logs).\n";
    return 1;
  }
  log_.close();
  if (o_.keep.empty()) fs::remove_all(base_);
  return 0;
}

int Usage() {
  std::cerr << "usage: hearth_torture --seed S --rounds R [--devices 2|3] [--keep DIR] [--settle "
               "SECONDS] "
               "[--verbose]\n";
  return 2;
}

}  // namespace
}  // namespace hearth::torture

int main(int argc, char** argv) {
  using hearth::torture::Options;
  Options o;
  bool have_seed = false, have_rounds = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--seed") {
        o.seed = std::stoull(next());
        have_seed = true;
      } else if (a == "--rounds") {
        o.rounds = std::stoi(next());
        have_rounds = true;
      } else if (a == "--devices") {
        o.devices = std::stoi(next());
      } else if (a == "--keep") {
        o.keep = next();
      } else if (a == "--settle") {
        o.settle_seconds = std::stoi(next());
      } else if (a == "--verbose") {
        o.verbose = true;
      } else {
        return hearth::torture::Usage();
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "hearth_torture: " << e.what() << "\n";
    return hearth::torture::Usage();
  }
  if (!have_seed || !have_rounds || o.rounds < 0 || (o.devices != 2 && o.devices != 3) ||
      o.settle_seconds < 1) {
    return hearth::torture::Usage();
  }
  // A killed child's stdin pipe must not kill the driver; no passphrase or
  // clock override leaks in from the caller's environment.
  std::signal(SIGPIPE, SIG_IGN);
  ::unsetenv("HEARTH_PASSPHRASE");
  ::unsetenv("HEARTH_NOW");
  ::unsetenv("HEARTH_HOME");
  // LAN discovery on a beacon port of this run's own, and a short mailbox
  // interval so that the relay's mailboxes are in use all the time.
  ::setenv("HEARTH_DISCOVERY_PORT", std::to_string(40000 + ::getpid() % 20000).c_str(), 1);
  ::setenv("HEARTH_MAILBOX_INTERVAL_MS", "1000", 1);
  try {
    return hearth::torture::Torture(o).Run();
  } catch (const std::exception& e) {
    // The children die with the driver (PR_SET_PDEATHSIG); the run's directory stays.
    std::cerr << "hearth_torture: seed " << o.seed << " FAILED: unexpected error: " << e.what()
              << "\n";
    return 1;
  }
}
