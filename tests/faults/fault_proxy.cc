#include "tests/faults/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tests/faults/fault_support.h"

namespace hearth::testing::faults {

struct FaultProxy::Link {
  int client = -1;
  int server = -1;
  FaultPlan plan;
  std::uint16_t server_side_port = 0;
  std::atomic<std::uint64_t> sent[2] = {0, 0};  // [0] to the server, [1] to the client
  std::atomic<bool> cut{false};
  std::atomic<bool> stalled{false};
  std::atomic<bool> abort{false};  // CloseAll, or the proxy is going away
  std::atomic<int> ended{0};
  std::mutex mu;  // guards closing the descriptors
  bool closed = false;

  // Wakes both pumps: each read or write fails from now on.
  void ShutDown() {
    std::lock_guard lock(mu);
    if (closed) return;
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
  }
  // Called by each pump as it ends; the last one closes the descriptors.
  void End() {
    if (ended.fetch_add(1) + 1 < 2) return;
    std::lock_guard lock(mu);
    closed = true;
    ::close(client);
    ::close(server);
  }
};

FaultProxy::FaultProxy(std::string target, FaultPlan plan) : target_(std::move(target)), plan_(std::move(plan)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ::listen(listen_fd_, 128);
  socklen_t len = sizeof sa;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  CloseAll();
  for (auto& t : threads_) t.join();
}

std::string FaultProxy::address() const { return "127.0.0.1:" + std::to_string(port_); }

void FaultProxy::set_plan(FaultPlan plan) {
  std::lock_guard lock(mu_);
  plan_ = std::move(plan);
}

int FaultProxy::connections() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(links_.size());
}

LinkReport FaultProxy::report(int i) const {
  std::lock_guard lock(mu_);
  if (links_.empty()) return {};
  const auto& l = i < 0 ? links_.back() : links_.at(static_cast<std::size_t>(i));
  LinkReport r;
  r.to_server = l->sent[0];
  r.to_client = l->sent[1];
  r.cut = l->cut;
  r.stalled = l->stalled;
  r.finished = l->ended == 2;
  r.server_side_port = l->server_side_port;
  return r;
}

void FaultProxy::CloseAll() {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(mu_);
    links = links_;
  }
  for (auto& l : links) {
    l->abort = true;
    l->ShutDown();
  }
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stop_) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    const int server = ConnectTcp(target_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto link = std::make_shared<Link>();
    link->client = client;
    link->server = server;
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    ::getsockname(server, reinterpret_cast<sockaddr*>(&sa), &len);
    link->server_side_port = ntohs(sa.sin_port);
    std::lock_guard lock(mu_);
    link->plan = plan_;
    links_.push_back(link);
    threads_.emplace_back([this, link] { Pump(link, false); });
    threads_.emplace_back([this, link] { Pump(link, true); });
  }
}

void FaultProxy::Pump(const std::shared_ptr<Link>& link, bool to_client) {
  const DirectionFaults& f = to_client ? link->plan.to_client : link->plan.to_server;
  const int from = to_client ? link->server : link->client;
  const int to = to_client ? link->client : link->server;
  std::atomic<std::uint64_t>& count = link->sent[to_client ? 1 : 0];
  // Throttled: chunks of about 20 ms worth of the rate.
  const std::size_t chunk = f.rate > 0 ? static_cast<std::size_t>(std::max<std::uint64_t>(1, f.rate / 50)) : 65536;
  std::vector<char> buf(std::min<std::size_t>(chunk, 65536));
  auto last_forward = std::chrono::steady_clock::time_point{};
  while (!stop_ && !link->abort) {
    const std::uint64_t at = count;
    if (at >= f.cut_after) {
      link->cut = true;
      break;
    }
    if (at >= f.stall_after) {
      // A hung peer: read nothing more, pass nothing on, close nothing.
      link->stalled = true;
      while (!stop_ && !link->abort) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      break;
    }
    pollfd p{from, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::size_t want = buf.size();
    want = static_cast<std::size_t>(std::min<std::uint64_t>(want, f.cut_after - at));
    want = static_cast<std::size_t>(std::min<std::uint64_t>(want, f.stall_after - at));
    const ssize_t n = ::recv(from, buf.data(), want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string out(buf.data(), static_cast<std::size_t>(n));
    const std::uint64_t end = at + static_cast<std::uint64_t>(n);
    if (f.flip_at >= at && f.flip_at < end) out[f.flip_at - at] = static_cast<char>(out[f.flip_at - at] ^ f.flip_mask);
    if (f.inject_at >= at && f.inject_at < end) out.insert(f.inject_at - at, f.inject);
    // Latency as a delay line would add it: the first chunk after a quiet
    // spell waits `latency`; chunks of a continuing stream follow it
    // without further waits (the delay shifts the stream, the rate is kept).
    const auto now = std::chrono::steady_clock::now();
    if (f.latency.count() > 0 && now - last_forward >= f.latency) std::this_thread::sleep_for(f.latency);
    if (!WriteAll(to, out.data(), out.size())) break;
    count = end;
    last_forward = std::chrono::steady_clock::now();
    if (f.rate > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<std::int64_t>(n) * 1'000'000 /
                                                            static_cast<std::int64_t>(f.rate)));
    }
  }
  // A stalled link keeps its sockets open until CloseAll: the other side
  // must find out by its own timeouts. Otherwise an end either way (cut,
  // EOF, error) ends both directions, as a lost connection would.
  if (!link->stalled || link->abort || stop_) link->ShutDown();
  link->End();
}

}  // namespace hearth::testing::faults
