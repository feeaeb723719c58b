// Support for the fault and flood tests: processes started under resource
// limits, readings of a process's memory, CPU time and sockets from /proc,
// raw loopback sockets, and the FIGURE lines the tests print for
// docs/reliability.md.
//
// Everything here is for one test thread, except MemorySampler, which runs
// its own thread and is read once it is stopped.
#pragma once

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace hearth::testing::faults {

// Whether this build runs under AddressSanitizer (then the servers it spawns
// do too). At the descriptor limit the sanitizers' runtime cannot open the
// pipe it probes memory with (EMFILE) and reports false errors, so the
// descriptor-limit tests run in the plain build only. And ASan's redzones
// and quarantine of freed memory inflate every server's memory, so the
// bounds on memory growth are four times looser there; the figures of
// record (docs/reliability.md) come from the plain build.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif
inline constexpr long kMemoryAllowanceFactor = kSanitized ? 4 : 1;

// ---- figures ----

// Prints "FIGURE <name>=<value> <unit>" on stdout, one line, so that a
// script can collect the measurements of a run (scripts/floods does).
void Figure(const std::string& name, double value, const std::string& unit);
// An integer from the environment (tests take bigger sizes from
// scripts/floods this way), else `fallback`.
long EnvLong(const char* name, long fallback);

// ---- processes under limits ----

// Resource limits a child gets before exec. Each set field becomes both the
// soft and the hard limit. With `fsize`, SIGXFSZ is ignored in the child, so
// a write past the limit fails with EFBIG, as a full disk fails a write,
// instead of killing the process.
struct Limits {
  std::optional<rlim_t> fsize;   // RLIMIT_FSIZE, bytes
  std::optional<rlim_t> nofile;  // RLIMIT_NOFILE, descriptors
};

// RunProcess (tests/support/process.h) under `limits`; stdin is /dev/null.
ProcessResult RunLimited(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const Limits& limits);
// SpawnChild under `limits`; with `merge_stderr`, the child's stderr goes
// to the same pipe as its stdout.
Child SpawnLimited(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                   const Limits& limits, bool merge_stderr = false);
// Changes a running process's soft file size limit (prlimit(2)); `bytes`
// RLIM_INFINITY lifts it up to the hard limit. False when the kernel
// refused. Start the process with Limits::fsize (RLIM_INFINITY will do), or
// SIGXFSZ kills it at the first write past the limit.
bool SetFileSizeLimit(int pid, rlim_t bytes);
// Raises this process's soft descriptor limit to its hard limit; returns
// the soft limit now in force.
rlim_t RaiseFdLimit();

// ---- /proc readings ----

struct Memory {
  long rss_kib = -1;  // VmRSS
  long hwm_kib = -1;  // VmHWM: the peak resident set since exec
};
Memory ReadMemory(int pid);
// User plus system CPU time the process has used, in seconds.
double CpuSeconds(int pid);
// Open descriptors of the process.
int CountFds(int pid);
bool Alive(int pid);

// Samples a process's VmRSS every `every` on a thread of its own; the
// readings are valid once Stop() returned.
class MemorySampler {
 public:
  MemorySampler(int pid, std::chrono::milliseconds every);
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;
  void Stop();
  long first_kib() const { return first_; }
  long peak_kib() const { return peak_; }
  long last_kib() const { return last_; }

 private:
  int pid_;
  std::chrono::milliseconds every_;
  std::atomic<bool> stop_{false};
  long first_ = -1, peak_ = -1, last_ = -1;
  std::thread thread_;
};

// The state of the TCP socket bound locally to `local_port` and connected to
// `remote_port` on loopback, from /proc/net/tcp: 1 ESTABLISHED, 4 FIN_WAIT1,
// 7 CLOSE, and so on; -1 when no such socket exists. `inode` is 0 for a
// socket no process holds any more (closed, the kernel finishing it alone).
struct TcpSocket {
  int state = -1;
  unsigned long inode = 0;
};
TcpSocket FindTcpSocket(std::uint16_t local_port, std::uint16_t remote_port);

// ---- raw sockets ----

// A blocking TCP connection to "HOST:PORT" (IPv4); -1 on failure.
int ConnectTcp(const std::string& host_port);
std::uint16_t PortOf(const std::string& host_port);
// Writes all of `data` (blocking); false on error.
bool WriteAll(int fd, const void* data, std::size_t size);
// Waits up to `timeout` for the peer to close `fd` (reading and dropping
// whatever arrives); true when it did.
bool WaitClosedByPeer(int fd, std::chrono::milliseconds timeout);

// The milliseconds since `start`.
double MsSince(std::chrono::steady_clock::time_point start);

}  // namespace hearth::testing::faults
