// Floods against a real `hearth serve` and a real `hearth-relay`: many
// connections held open or opened and closed at once, frames that claim
// more than they carry, messages over the limit, bytes trickled without
// end, and the servers' own descriptor limit reached. Memory must stay
// bounded, every such connection must be closed by a limit or a timeout,
// the server must not crash or spin, and a legitimate sync must still work.
//
// Sizes come from the environment for scripts/floods (the long version):
// HEARTH_FLOOD_CONNECTIONS (held connections, default 1000),
// HEARTH_FLOOD_CHURN (connect-and-close cycles, default 2000),
// HEARTH_FLOOD_FRAMES (connections with a partial 65,535-byte frame, default 500).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <thread>

#include "core/base/clock.h"
#include "core/node/node.h"
#include "net/relay/protocol.h"
#include "tests/faults/fault_fixture.h"
#include "tests/faults/raw_client.h"

namespace hearth::testing::faults {
namespace {

// The memory a flood may add to a server: a fixed part plus a little per
// connection (a socket, a coroutine frame, a timer). A byte a peer claims
// but does not send must cost nothing.
long AllowedGrowthKib(long fixed_kib, long per_connection_kib, std::size_t connections) {
  return kMemoryAllowanceFactor * (fixed_kib + per_connection_kib * static_cast<long>(connections));
}

// Sends `client` a message that claims 5 MiB (over the 4 MiB limit) and
// returns how many ms the server took to close the connection (it must).
double ClaimOverTheLimit(RawNoiseClient& client) {
  Bytes claim;
  PutU32Be(claim, 5u << 20);
  Append(claim, Bytes(1000, 7));
  if (!client.SendPlain(claim)) {
    ADD_FAILURE() << "could not send the 5 MiB claim";
    return -1;
  }
  const auto sent = Clock::now();
  EXPECT_TRUE(client.ClosedByServer(std::chrono::seconds(5))) << "a 5 MiB claim was not refused";
  return MsSince(sent);
}

// Sockets opened by a flood; closed when it goes.
class Flood {
 public:
  ~Flood() { CloseAll(); }
  // Opens `n` connections to `address`, each sending `first` (maybe nothing).
  // Returns how many connected.
  std::size_t Open(const std::string& address, std::size_t n, const std::string& first) {
    for (std::size_t i = 0; i < n; ++i) {
      const int fd = ConnectTcp(address);
      if (fd < 0) continue;
      if (!first.empty()) (void)WriteAll(fd, first.data(), first.size());
      fds_.push_back(fd);
    }
    return fds_.size();
  }
  // Waits up to `timeout` for the server to close them; returns how many it closed.
  std::size_t ClosedByServer(std::chrono::milliseconds timeout) {
    std::vector<bool> closed(fds_.size(), false);
    std::size_t n = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<pollfd> p(fds_.size());
    while (n < fds_.size() && std::chrono::steady_clock::now() < deadline) {
      for (std::size_t i = 0; i < fds_.size(); ++i) p[i] = {closed[i] ? -1 : fds_[i], POLLIN, 0};
      if (::poll(p.data(), p.size(), 100) <= 0) continue;
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (closed[i] || p[i].revents == 0) continue;
        char buf[4096];
        const ssize_t got = ::recv(fds_[i], buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          closed[i] = true;
          ++n;
        }
      }
    }
    return n;
  }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  std::vector<int>& fds() { return fds_; }

 private:
  std::vector<int> fds_;
};

// CPU seconds `pid` used per second of wall time over `window`.
double CpuShare(int pid, std::chrono::milliseconds window) {
  const double before = CpuSeconds(pid);
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  return (CpuSeconds(pid) - before) / (MsSince(start) / 1000.0);
}

std::string Frame65535Start() {
  // A frame that claims 65,535 bytes and carries 100.
  return std::string("\xff\xff", 2) + std::string(100, 'x');
}

class FloodTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    fd_limit_ = RaiseFdLimit();
    connections_ = static_cast<std::size_t>(EnvLong("HEARTH_FLOOD_CONNECTIONS", 1000));
    churn_ = static_cast<std::size_t>(EnvLong("HEARTH_FLOOD_CHURN", 2000));
    frames_ = static_cast<std::size_t>(EnvLong("HEARTH_FLOOD_FRAMES", 500));
    ASSERT_GT(fd_limit_, connections_ + frames_ + 200) << "raise the hard descriptor limit (ulimit -Hn)";
  }
  // A small change on Alex that a sync must carry to Sam.
  void ExpectLegitimateSync(const std::string& sam, const std::string& label, double* ms = nullptr,
                            const std::string& from = "alex") {
    const std::string text = "legitimate sync " + label;
    ASSERT_EQ(Hearth(from, {"write", text}).exit_code, 0);
    const auto start = Clock::now();
    auto r = Sync(from, sam, 20);
    if (ms != nullptr) *ms = MsSince(start);
    EXPECT_EQ(r.exit_code, 0) << label << ": " << r.out << r.err;
    EXPECT_TRUE(Shows("sam", text)) << label;
  }
  std::string StartRelayLimited(const std::string& dir, const Limits& limits, std::vector<std::string> extra,
                                int* pid) {
    std::vector<std::string> args = {HEARTH_RELAY_BIN, "--listen", "127.0.0.1:0", "--data", (base_ / dir).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c = SpawnLimited(args, {}, limits);
    children_.push_back(c);
    *pid = c.pid;
    return AfterPrefix(c, "Relay address: ");
  }

  rlim_t fd_limit_ = 0;
  std::size_t connections_ = 0, churn_ = 0, frames_ = 0;
};

TEST_F(FloodTest, ServeStaysBoundedUnderHeldAndChurnedConnectionsAndKeepsSyncing) {
  PairPartners();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sam = Serve("sam");
  const int pid = LastChildPid();
  const Memory before = ReadMemory(pid);
  const int fds_before = CountFds(pid);
  MemorySampler sampler(pid, std::chrono::milliseconds(25));
  // Held: connections that never say a word.
  Flood held;
  const auto start = Clock::now();
  EXPECT_EQ(held.Open(sam, connections_, ""), connections_);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int fds_peak = CountFds(pid);
  double sync_ms = 0;
  ExpectLegitimateSync(sam, "while held", &sync_ms);
  // Churn: connect and close at once, half of them after a garbage byte.
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < churn_; ++i) {
    const int fd = ConnectTcp(sam);
    if (fd < 0) continue;
    if (i % 2 == 0) {
      const char b = static_cast<char>(rng());
      (void)WriteAll(fd, &b, 1);
    }
    ::close(fd);
  }
  ExpectLegitimateSync(sam, "after churn");
  // The silent ones are closed by the 10 s watchdog on the first byte.
  const std::size_t closed = held.ClosedByServer(std::chrono::seconds(15));
  const double closed_ms = MsSince(start);
  sampler.Stop();
  const Memory after = ReadMemory(pid);
  std::printf("%zu held + %zu churned connections: serve RSS %ld KiB before, peak %ld KiB, after %ld KiB "
              "(VmHWM %ld KiB); fds %d -> %d; %zu closed by serve after %.0f ms; legit sync %.0f ms\n",
              connections_, churn_, before.rss_kib, sampler.peak_kib(), after.rss_kib, after.hwm_kib, fds_before,
              fds_peak, closed, closed_ms, sync_ms);
  Figure("serve_flood.connections", static_cast<double>(connections_), "connections");
  Figure("serve_flood.rss_before", static_cast<double>(before.rss_kib), "KiB");
  Figure("serve_flood.rss_peak", static_cast<double>(sampler.peak_kib()), "KiB");
  Figure("serve_flood.vmhwm", static_cast<double>(after.hwm_kib), "KiB");
  Figure("serve_flood.legit_sync_ms", sync_ms, "ms");
  Figure("serve_flood.closed_after_ms", closed_ms, "ms");
  Figure("serve_flood.kib_per_connection",
         static_cast<double>(sampler.peak_kib() - before.rss_kib) / static_cast<double>(connections_), "KiB");
  EXPECT_EQ(closed, connections_) << "silent connections left open";
  EXPECT_LT(sampler.peak_kib() - before.rss_kib, AllowedGrowthKib(8 * 1024, 8, connections_));
  EXPECT_TRUE(Alive(pid));
  held.CloseAll();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(CountFds(pid), fds_before + 2) << "descriptors leaked";
}

TEST_F(FloodTest, ServeRefusesPartialOversizedAndEndlessFramesWithBoundedMemory) {
  PairWithSecondDevice();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sam = Serve("sam");
  const int pid = LastChildPid();
  const Memory before = ReadMemory(pid);
  MemorySampler sampler(pid, std::chrono::milliseconds(25));
  const auto start = Clock::now();
  // Before the handshake: frames that claim 65,535 bytes and carry 100,
  // on sync and join connections.
  Flood partial;
  partial.Open(sam, frames_ / 2, "S" + Frame65535Start());
  partial.Open(sam, frames_ - frames_ / 2, "J" + std::string("HRTJ\x01", 5) + std::string(16, 'i') +
                                               Frame65535Start());
  // Endless: a handshake trickled a byte at a time, forever.
  Flood endless;
  endless.Open(sam, 20, "S");
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (int fd : endless.fds()) (void)::send(fd, "\x01", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  // After the handshake, as Alex's device: a message that claims 5 MiB
  // (over the 4 MiB limit), and one that claims 4 MiB and never ends.
  SystemClock clock;
  auto alex = node::Node::Open(Home("alex"), std::nullopt, clock);
  ASSERT_TRUE(alex.ok()) << alex.error().message;
  std::string error;
  auto big = RawNoiseClient::SyncSession(sam, (*alex)->dh_key(), 0, &error);
  ASSERT_TRUE(big) << error;
  const double big_closed_ms = ClaimOverTheLimit(*big);
  big.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Alex's session slot is free again
  auto endless_message = RawNoiseClient::SyncSession(sam, (*alex)->dh_key(), 0, &error);
  ASSERT_TRUE(endless_message) << error;
  Bytes most;
  PutU32Be(most, 4u << 20);
  ASSERT_TRUE(endless_message->SendPlain(most));
  for (int i = 0; i < 3 * 1024 / 60; ++i) ASSERT_TRUE(endless_message->SendPlain(Bytes(60'000, 1)));

  // The raw client holds Alex's session (one per device): Sam's other
  // device syncs meanwhile.
  double sync_ms = 0;
  ExpectLegitimateSync(sam, "during the frame flood", &sync_ms, "sam2");
  // The partial and the trickled handshakes end at the 10 s handshake watchdog.
  const std::size_t partial_closed = partial.ClosedByServer(std::chrono::seconds(15));
  const std::size_t endless_closed = endless.ClosedByServer(std::chrono::seconds(5));
  const double closed_ms = MsSince(start);
  stop = true;
  trickle.join();
  sampler.Stop();
  const Memory after = ReadMemory(pid);
  std::printf("%zu partial 65,535-byte frames, 20 trickled handshakes, a 5 MiB claim (closed in %.0f ms) and a "
              "3 MiB-so-far message: serve RSS %ld KiB before, peak %ld KiB (VmHWM %ld KiB); %zu + %zu closed after "
              "%.0f ms; legit sync %.0f ms\n",
              frames_, big_closed_ms, before.rss_kib, sampler.peak_kib(), after.hwm_kib, partial_closed,
              endless_closed, closed_ms, sync_ms);
  Figure("serve_frames.partial_frames", static_cast<double>(frames_), "connections");
  Figure("serve_frames.rss_before", static_cast<double>(before.rss_kib), "KiB");
  Figure("serve_frames.rss_peak", static_cast<double>(sampler.peak_kib()), "KiB");
  Figure("serve_frames.vmhwm", static_cast<double>(after.hwm_kib), "KiB");
  Figure("serve_frames.oversized_closed_ms", big_closed_ms, "ms");
  Figure("serve_frames.closed_after_ms", closed_ms, "ms");
  EXPECT_EQ(partial_closed, frames_);
  EXPECT_EQ(endless_closed, 20u);
  // The fixed part holds the authenticated 4 MiB message's first 3 MiB.
  EXPECT_LT(sampler.peak_kib() - before.rss_kib, AllowedGrowthKib(8 * 1024, 4, frames_));
  EXPECT_TRUE(Alive(pid));
}

TEST_F(FloodTest, ServeAtItsDescriptorLimitNeitherCrashesNorSpinsAndRecovers) {
  if (kSanitized) GTEST_SKIP() << "at the descriptor limit the sanitizer runtime itself fails (EMFILE)";
  PairPartners();
  ASSERT_FALSE(HasFatalFailure());
  int pid = -1;
  const rlim_t limit = 128;
  const std::string sam = ServeLimited("sam", Limits{std::nullopt, limit}, &pid);
  ASSERT_FALSE(sam.empty());
  const double idle_share = CpuShare(pid, std::chrono::milliseconds(1000));
  // More connections than serve has descriptors: the rest wait in the
  // listen queue and accept() fails with EMFILE.
  Flood flood;
  flood.Open(sam, 3 * limit, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int fds_at_limit = CountFds(pid);
  const double full_share = CpuShare(pid, std::chrono::milliseconds(2000));
  std::printf("serve under RLIMIT_NOFILE %llu with %llu connections waiting: %d fds, CPU %.0f%% (idle %.0f%%)\n",
              static_cast<unsigned long long>(limit), static_cast<unsigned long long>(3 * limit), fds_at_limit,
              100 * full_share, 100 * idle_share);
  Figure("serve_fd_limit.cpu_percent", 100 * full_share, "%");
  EXPECT_TRUE(Alive(pid)) << "serve died at its descriptor limit";
  EXPECT_LT(full_share, 0.25) << "serve spins at its descriptor limit";
  // The flood goes; serve comes back by itself.
  flood.CloseAll();
  double sync_ms = 0;
  ExpectLegitimateSync(sam, "after the descriptor limit", &sync_ms);
  Figure("serve_fd_limit.recovered_sync_ms", sync_ms, "ms");
  EXPECT_TRUE(Alive(pid));
}

// ---- the relay ----

class RelayFloodTest : public FloodTest {
 protected:
  // The relay's address and key, and Sam's mailbox exchange through it.
  std::string relay_, host_port_;
  crypto::PublicKey key_{};
  int pid_ = -1;
  void StartRelayWith(const Limits& limits, std::vector<std::string> extra) {
    relay_ = StartRelayLimited("relay", limits, std::move(extra), &pid_);
    ASSERT_FALSE(relay_.empty());
    auto parsed = relay::ParseRelayAddress(relay_);
    ASSERT_TRUE(parsed.ok());
    host_port_ = parsed->host_port;
    key_ = parsed->key;
  }
  void ExpectRelayWorks(const std::string& label, double* ms = nullptr) {
    const std::string text = "through the relay " + label;
    ASSERT_EQ(Hearth("sam", {"write", text}).exit_code, 0);
    const auto start = Clock::now();
    auto put = Hearth("sam", {"sync", "--relay", relay_, "--timeout", "10"});
    auto got = Hearth("alex", {"sync", "--relay", relay_, "--timeout", "10"});
    if (ms != nullptr) *ms = MsSince(start);
    EXPECT_EQ(put.exit_code, 0) << label << ": " << put.out << put.err;
    EXPECT_EQ(got.exit_code, 0) << label << ": " << got.out << got.err;
    EXPECT_TRUE(Shows("alex", text)) << label;
  }
};

TEST_F(RelayFloodTest, RelayStaysBoundedUnderConnectionAndFrameFloodsAndKeepsRelaying) {
  ASSERT_TRUE(crypto::Init().ok());
  PairPartners();
  ASSERT_FALSE(HasFatalFailure());
  // Shorter timeouts than the defaults (10 s, 120 s) keep the test short;
  // the limits themselves are the defaults.
  StartRelayWith({}, {"--handshake-timeout", "3", "--idle-timeout", "4"});
  ASSERT_FALSE(HasFatalFailure());
  const Memory before = ReadMemory(pid_);
  MemorySampler sampler(pid_, std::chrono::milliseconds(25));
  const auto start = Clock::now();
  Flood held, partial, churned_ok;
  EXPECT_EQ(held.Open(host_port_, connections_, ""), connections_);
  partial.Open(host_port_, frames_, Frame65535Start());
  for (std::size_t i = 0; i < churn_; ++i) {
    const int fd = ConnectTcp(host_port_);
    if (fd >= 0) ::close(fd);
  }
  double sync_ms = 0;
  ExpectRelayWorks("during the flood", &sync_ms);
  // After the handshake (anyone can make one: the relay's key is public):
  // a message that claims 5 MiB, and one within the limit that never ends.
  std::string error;
  auto big = RawNoiseClient::RelaySession(host_port_, key_, &error);
  ASSERT_TRUE(big) << error;
  const double big_closed_ms = ClaimOverTheLimit(*big);
  auto endless = RawNoiseClient::RelaySession(host_port_, key_, &error);
  ASSERT_TRUE(endless) << error;
  Bytes most;
  PutU32Be(most, 60'000);
  ASSERT_TRUE(endless->SendPlain(most));
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      (void)endless->SendPlain(Bytes(1, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const auto endless_start = Clock::now();
  const bool endless_closed = endless->ClosedByServer(std::chrono::seconds(10));
  const double endless_ms = MsSince(endless_start);
  stop = true;
  trickle.join();
  const std::size_t held_closed = held.ClosedByServer(std::chrono::seconds(8));
  const std::size_t partial_closed = partial.ClosedByServer(std::chrono::seconds(4));
  const double closed_ms = MsSince(start);
  ExpectRelayWorks("after the flood");
  sampler.Stop();
  const Memory after = ReadMemory(pid_);
  std::printf("relay: %zu held, %zu partial 65,535-byte frames, %zu churned; 5 MiB claim closed in %.0f ms, endless "
              "message closed in %.0f ms; RSS %ld KiB before, peak %ld KiB (VmHWM %ld KiB); %zu + %zu closed after "
              "%.0f ms; exchange through the relay %.0f ms\n",
              connections_, frames_, churn_, big_closed_ms, endless_ms, before.rss_kib, sampler.peak_kib(),
              after.hwm_kib, held_closed, partial_closed, closed_ms, sync_ms);
  Figure("relay_flood.rss_before", static_cast<double>(before.rss_kib), "KiB");
  Figure("relay_flood.rss_peak", static_cast<double>(sampler.peak_kib()), "KiB");
  Figure("relay_flood.vmhwm", static_cast<double>(after.hwm_kib), "KiB");
  Figure("relay_flood.oversized_closed_ms", big_closed_ms, "ms");
  Figure("relay_flood.endless_closed_ms", endless_ms, "ms");
  Figure("relay_flood.exchange_ms", sync_ms, "ms");
  Figure("relay_flood.kib_per_connection",
         static_cast<double>(sampler.peak_kib() - before.rss_kib) / static_cast<double>(connections_ + frames_), "KiB");
  EXPECT_TRUE(endless_closed) << "a message trickled without end was never closed";
  EXPECT_EQ(held_closed, connections_);
  EXPECT_EQ(partial_closed, frames_);
  EXPECT_LT(sampler.peak_kib() - before.rss_kib, AllowedGrowthKib(8 * 1024, 12, connections_ + frames_));
  EXPECT_TRUE(Alive(pid_));
}

TEST_F(RelayFloodTest, RelayAtItsDescriptorLimitNeitherCrashesNorSpinsAndRecovers) {
  if (kSanitized) GTEST_SKIP() << "at the descriptor limit the sanitizer runtime itself fails (EMFILE)";
  ASSERT_TRUE(crypto::Init().ok());
  PairPartners();
  ASSERT_FALSE(HasFatalFailure());
  const rlim_t limit = 128;
  StartRelayWith(Limits{std::nullopt, limit}, {"--handshake-timeout", "3"});
  ASSERT_FALSE(HasFatalFailure());
  Flood flood;
  flood.Open(host_port_, 3 * limit, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double full_share = CpuShare(pid_, std::chrono::milliseconds(2000));
  std::printf("relay under RLIMIT_NOFILE %llu with %llu connections waiting: %d fds, CPU %.0f%%\n",
              static_cast<unsigned long long>(limit), static_cast<unsigned long long>(3 * limit), CountFds(pid_),
              100 * full_share);
  Figure("relay_fd_limit.cpu_percent", 100 * full_share, "%");
  EXPECT_TRUE(Alive(pid_)) << "the relay died at its descriptor limit";
  EXPECT_LT(full_share, 0.25) << "the relay spins at its descriptor limit";
  flood.CloseAll();
  ExpectRelayWorks("after the descriptor limit");
  EXPECT_TRUE(Alive(pid_));
}

}  // namespace
}  // namespace hearth::testing::faults
