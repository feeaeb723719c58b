// A TCP proxy on loopback that breaks the stream on purpose: it sits between
// a client (e.g. `hearth sync --peer PROXY`) and a server (`hearth serve`,
// `hearth-relay`) and, per direction, cuts the connection after N bytes,
// flips a bit, injects garbage, throttles with added latency, or stops
// reading and forwarding while keeping the connection open (a peer that
// hangs).
//
// The plan in force when a connection is accepted applies to that
// connection for its whole life; set_plan() changes it for the next ones.
// Offsets count the bytes of one connection in one direction, from 0.
//
// Threading: one thread accepts, and two threads pump each connection (one
// per direction, with blocking reads and writes). Every public method may be
// called from the test thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hearth::testing::faults {

inline constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

struct DirectionFaults {
  std::uint64_t cut_after = kNever;    // close both ends once this many bytes went this way
  std::uint64_t stall_after = kNever;  // then stop reading and forwarding this way; the sockets stay open
  std::uint64_t flip_at = kNever;      // XOR the byte at this offset with flip_mask
  std::uint8_t flip_mask = 0x01;
  std::uint64_t inject_at = kNever;    // insert `inject` before the byte at this offset
  std::string inject;
  std::uint64_t rate = 0;              // bytes per second; 0: as fast as the sockets go
  std::chrono::milliseconds latency{0};  // bytes arriving after a quiet spell are held this long
};

struct FaultPlan {
  DirectionFaults to_server;  // client -> server
  DirectionFaults to_client;  // server -> client
};

// What happened on one proxied connection.
struct LinkReport {
  std::uint64_t to_server = 0;  // bytes taken from the client and passed on (injected ones not counted)
  std::uint64_t to_client = 0;  // bytes taken from the server and passed on
  bool cut = false;             // a cut_after fired
  bool stalled = false;         // a stall_after fired
  bool finished = false;        // both directions ended
  std::uint16_t server_side_port = 0;  // the proxy's local port on its connection to the server
};

class FaultProxy {
 public:
  // Forwards to `target` ("127.0.0.1:PORT").
  explicit FaultProxy(std::string target, FaultPlan plan = {});
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string address() const;
  void set_plan(FaultPlan plan);
  // Connections accepted so far.
  int connections() const;
  // The report of connection `i` (0 the first), or of the latest when -1.
  LinkReport report(int i = -1) const;
  // Closes every connection now (a stalled one included).
  void CloseAll();

 private:
  struct Link;
  void AcceptLoop();
  void Pump(const std::shared_ptr<Link>& link, bool to_client);

  std::string target_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  FaultPlan plan_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace hearth::testing::faults
