// relay_bench HEARTH_RELAY_BIN [PAIRS...]: load on one real `hearth-relay`
// process over loopback. For each N (default 100 and 1000) it joins N pairs
// of devices through the relay (each pair its own mailbox, each device a
// listening connection plus one pipe end: 4 connections per pair), then
//   - live: every pair sends kLiveRecords record-sized messages one way
//     through its pipe, all pairs at once, at most kWindow in flight per pair;
//     reports records per second and the one-way forwarding latency (sender
//     and receiver share this process's clock);
//   - mailbox: every pair leaves kStoredRecords blobs in its mailbox (Puts of
//     kPutBatch) and the partner fetches them all (Gets);
//   - memory: the relay's resident set before and with every connection open,
//     per connection.
// Bounded: each phase stops at a deadline and says so. Results and the
// command are in docs/benchmarks.md.
#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "net/relay/client.h"
#include "tests/support/process.h"

namespace {

using namespace hearth;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using relay::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr int kLiveRecords = 200;     // per pair
constexpr int kWindow = 8;            // in flight per pair
constexpr std::size_t kRecordSize = 300;  // a typical small record on the wire
constexpr int kStoredRecords = 100;   // per pair
constexpr int kPutBatch = 50;
constexpr std::chrono::milliseconds kTimeout{30'000};

std::size_t RssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Pair {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  relay::MailboxId mailbox{};
  std::unique_ptr<relay::Connection> listen_a, listen_b;
  std::optional<tcp::socket> a, b;  // the pipe's two ends
};

struct Run {
  relay::RelayAddress address;
  std::vector<Pair> pairs;
  std::vector<double> latencies_ms;
  std::size_t live_delivered = 0;
  std::size_t stored = 0, fetched = 0;
  std::size_t failures = 0;
  std::string first_failure;

  void Fail(const std::string& why) {
    if (failures++ == 0) first_failure = why;
  }

  // Both devices of pair `p` present, and a pipe between them.
  asio::awaitable<void> Join(Pair& p) {
    auto a = co_await relay::Connection::Dial(address, kTimeout);
    auto b = co_await relay::Connection::Dial(address, kTimeout);
    if (!a.ok() || !b.ok()) co_return Fail("dial");
    auto mailbox = co_await a->Open(p.key);
    if (!mailbox.ok() || !(co_await b->Open(p.key)).ok()) co_return Fail("open");
    p.mailbox = *mailbox;
    if (!(co_await a->Listen(p.mailbox)).ok() || !(co_await b->Listen(p.mailbox)).ok()) co_return Fail("listen");
    p.listen_a = std::make_unique<relay::Connection>(std::move(*a));
    p.listen_b = std::make_unique<relay::Connection>(std::move(*b));
    auto told = co_await p.listen_a->NextEvent();  // B arrived: A dials it
    if (!told.ok() || told->kind != relay::RelayEvent::Kind::kPeer) co_return Fail("peer event");
    auto connector = co_await relay::Connection::Dial(address, kTimeout);
    auto acceptor = co_await relay::Connection::Dial(address, kTimeout);
    if (!connector.ok() || !acceptor.ok()) co_return Fail("dial pipe");
    auto m1 = co_await connector->Open(p.key);
    auto m2 = co_await acceptor->Open(p.key);
    if (!m1.ok() || !m2.ok()) co_return Fail("open pipe");
    // Connect is answered only once the other side accepted: both at once.
    const std::uint64_t token = told->id;
    auto connect_side = [&]() -> asio::awaitable<void> {
      auto s = co_await connector->ConnectPipe(p.mailbox, token);
      if (!s.ok()) co_return Fail("connect: " + s.error().message);
      p.a.emplace(std::move(*s));
    };
    auto accept_side = [&]() -> asio::awaitable<void> {
      auto incoming = co_await p.listen_b->NextEvent();
      if (!incoming.ok() || incoming->kind != relay::RelayEvent::Kind::kIncoming) co_return Fail("incoming event");
      auto s = co_await acceptor->AcceptPipe(p.mailbox, incoming->id);
      if (!s.ok()) co_return Fail("accept: " + s.error().message);
      p.b.emplace(std::move(*s));
    };
    using namespace asio::experimental::awaitable_operators;
    co_await (connect_side() && accept_side());
  }

  // kLiveRecords messages from a to b, each carrying its send time.
  asio::awaitable<void> Live(Pair& p) {
    if (!p.a || !p.b) co_return;
    struct Flow {
      explicit Flow(asio::any_io_executor ex) : credit(ex, Clock::time_point::max()) {}
      int sent = 0, received = 0;
      bool stop = false;
      asio::steady_timer credit;  // the writer waits here for the window to open
    };
    auto flow = std::make_shared<Flow>(co_await asio::this_coro::executor);
    asio::co_spawn(
        flow->credit.get_executor(),
        [flow, &sock = *p.a]() -> asio::awaitable<void> {
          std::vector<std::uint8_t> msg(kRecordSize);
          while (flow->sent < kLiveRecords && !flow->stop) {
            if (flow->sent - flow->received >= kWindow) {
              co_await flow->credit.async_wait(kTuple);
              continue;
            }
            const auto now = Clock::now().time_since_epoch().count();
            std::memcpy(msg.data(), &now, sizeof now);
            auto [ec, n] = co_await asio::async_write(sock, asio::buffer(msg), kTuple);
            if (ec) co_return;
            ++flow->sent;
          }
        },
        asio::detached);
    std::vector<std::uint8_t> msg(kRecordSize);
    while (flow->received < kLiveRecords) {
      auto [ec, n] = co_await asio::async_read(*p.b, asio::buffer(msg), kTuple);
      if (ec) {
        flow->stop = true;
        flow->credit.cancel();
        co_return Fail("pipe read");
      }
      Clock::rep stamp;
      std::memcpy(&stamp, msg.data(), sizeof stamp);
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch() -
                                                                        Clock::duration(stamp))
                                 .count());
      ++flow->received;
      ++live_delivered;
      flow->credit.cancel();
    }
  }

  // kStoredRecords blobs left by A's side, then fetched by B's.
  asio::awaitable<void> Mailbox(Pair& p) {
    auto a = co_await relay::Connection::Dial(address, kTimeout);
    auto b = co_await relay::Connection::Dial(address, kTimeout);
    if (!a.ok() || !b.ok()) co_return Fail("dial mailbox");
    if (!(co_await a->Open(p.key)).ok() || !(co_await b->Open(p.key)).ok()) co_return Fail("open mailbox");
    relay::StreamId stream{};
    crypto::RandomBytes(stream);
    for (int first = 1; first <= kStoredRecords; first += kPutBatch) {
      std::vector<Bytes> blobs(kPutBatch, Bytes(kRecordSize, 0x5a));
      auto put = co_await a->Put(p.mailbox, stream, static_cast<std::uint64_t>(first), blobs);
      if (!put.ok()) co_return Fail("put: " + put.error().message);
      stored += blobs.size();
    }
    std::uint64_t next = 1;
    while (next <= kStoredRecords) {
      auto got = co_await b->Get(p.mailbox, stream, next, 1 << 20);
      if (!got.ok() || got->blobs.empty()) co_return Fail("get");
      next = got->first_seq + got->blobs.size();
      fetched += got->blobs.size();
    }
  }
};

// Runs `body` for every pair at once on `io`; returns the seconds it took.
template <typename F>
double ForAll(asio::io_context& io, Run& run, F body) {
  std::size_t done = 0;
  io.restart();  // the previous phase may have run out of work
  const auto start = Clock::now();
  for (auto& p : run.pairs) {
    asio::co_spawn(io, [&, pp = &p]() -> asio::awaitable<void> {
      co_await body(*pp);
      ++done;
    }, asio::detached);
  }
  const auto deadline = start + std::chrono::seconds(120);
  while (done < run.pairs.size() && Clock::now() < deadline) io.run_for(std::chrono::milliseconds(50));
  if (done < run.pairs.size()) run.Fail("deadline passed with " + std::to_string(run.pairs.size() - done) + " pairs unfinished");
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int Bench(const std::string& relay_bin, int n) {
  const fs::path dir = fs::temp_directory_path() / ("hearth-relay-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto limit = std::to_string(8 * n + 100);
  auto child = testing::SpawnChild({relay_bin, "--listen", "127.0.0.1:0", "--data", dir.string(),
                                    "--max-connections", limit, "--max-connections-per-address", limit,
                                    "--rate", "100000", "--mailbox-bytes", "1073741824"});
  std::string out;
  const auto started = Clock::now();
  while (out.find('\n') == std::string::npos && Clock::now() - started < std::chrono::seconds(10)) {
    out += testing::DrainNonBlocking(child.stdout_fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto at = out.find("Relay address: ");
  if (at == std::string::npos) {
    std::cerr << "relay_bench: the relay did not start\n";
    return 1;
  }
  auto address = relay::ParseRelayAddress(out.substr(at + 15, out.find('\n', at) - at - 15));
  if (!address.ok()) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::size_t rss_idle = RssKiB(child.pid);

  asio::io_context io;
  Run run;
  run.address = *address;
  run.pairs.resize(static_cast<std::size_t>(n));
  const double join_s = ForAll(io, run, [&](Pair& p) { return run.Join(p); });
  const std::size_t rss_connected = RssKiB(child.pid);
  const std::size_t connections = 4 * static_cast<std::size_t>(n);
  const double live_s = ForAll(io, run, [&](Pair& p) { return run.Live(p); });
  const double mailbox_s = ForAll(io, run, [&](Pair& p) { return run.Mailbox(p); });
  const std::size_t rss_end = RssKiB(child.pid);

  std::printf("N = %d pairs (%zu connections)\n", n, connections);
  std::printf("  join (presence + pipe):   %.2f s\n", join_s);
  std::printf("  live:    %zu records of %zu bytes in %.2f s = %.0f records/s; one-way latency p50 %.2f ms, p99 %.2f ms\n",
              run.live_delivered, kRecordSize, live_s, static_cast<double>(run.live_delivered) / live_s,
              Percentile(run.latencies_ms, 0.5), Percentile(run.latencies_ms, 0.99));
  std::printf("  mailbox: %zu records left and %zu fetched in %.2f s = %.0f records/s each way\n", run.stored,
              run.fetched, mailbox_s, static_cast<double>(run.fetched) / mailbox_s);
  std::printf("  relay memory: %.1f MiB idle, %.1f MiB with every connection open (%.1f KiB per connection), %.1f MiB at the end\n",
              static_cast<double>(rss_idle) / 1024, static_cast<double>(rss_connected) / 1024,
              static_cast<double>(rss_connected - rss_idle) / static_cast<double>(connections),
              static_cast<double>(rss_end) / 1024);
  if (run.failures > 0) std::printf("  FAILURES: %zu (first: %s)\n", run.failures, run.first_failure.c_str());
  std::fflush(stdout);
  for (auto& p : run.pairs) {
    boost::system::error_code ec;
    if (p.a) p.a->close(ec);
    if (p.b) p.b->close(ec);
  }
  run.pairs.clear();
  io.run_for(std::chrono::milliseconds(100));
  ::kill(child.pid, SIGTERM);
  testing::WaitChild(child.pid);
  fs::remove_all(dir);
  return run.failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: relay_bench HEARTH_RELAY_BIN [PAIRS...]\n";
    return 2;
  }
  if (!crypto::Init().ok()) return 1;
  // 4 connections per pair on each side of loopback.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000};
  int rc = 0;
  for (int n : sizes) {
    if (n < 1 || n > 5000) {
      std::cerr << "relay_bench: PAIRS must be between 1 and 5000\n";
      return 2;
    }
    rc |= Bench(argv[1], n);
  }
  return rc;
}
