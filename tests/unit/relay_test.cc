// The relay in-process over loopback: real sockets, real Noise_NK, a real
// relay Server and clients. Pipes, mailbox proofs, and every limit.
#include <gtest/gtest.h>

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <filesystem>
#include <random>

#include "net/relay/client.h"
#include "net/relay/key_file.h"
#include "net/relay/server.h"

namespace hearth::relay {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kTimeout{5000};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().ok()); }

  // Starts a relay with `limits` on a free loopback port.
  void StartRelay(RelayLimits limits = {}) {
    server_ = std::make_unique<Server>(io_, crypto::DhKey::Generate(), limits);
    ASSERT_TRUE(server_->Listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)).ok());
    server_->Start();
    address_ = {net::FormatAddress(server_->local_endpoint()), server_->public_key()};
  }
  // Runs `body` to completion (or fails the test after 20 s).
  void Run(std::function<awaitable<void>()> body) {
    bool done = false;
    asio::co_spawn(io_, [&]() -> awaitable<void> {
      co_await body();
      done = true;
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(done) << "timed out";
  }
  awaitable<Connection> Dial() {
    auto c = co_await Connection::Dial(address_, kTimeout);
    EXPECT_TRUE(c.ok()) << c.error().message;
    co_return std::move(*c);
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  RelayAddress address_;
};

TEST(RelayAddressTest, FormatsAndParsesAndRefusesGarbage) {
  ASSERT_TRUE(crypto::Init().ok());
  RelayAddress a{"127.0.0.1:47476", crypto::DhKey::Generate().public_key()};
  auto back = ParseRelayAddress(FormatRelayAddress(a));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->host_port, a.host_port);
  EXPECT_EQ(back->key, a.key);
  for (const char* bad : {"", "127.0.0.1:47476", "127.0.0.1:47476/abcd", "noport/" , "/00"}) {
    EXPECT_FALSE(ParseRelayAddress(bad).ok()) << bad;
  }
}

TEST_F(RelayTest, TwoDevicesOfAMailboxGetAPipeThatCarriesBytesUnchanged) {
  StartRelay();
  const auto mailbox_key = crypto::SigningKey::Generate();
  Run([&]() -> awaitable<void> {
    Connection a = co_await Dial();
    Connection b = co_await Dial();
    auto ma = co_await a.Open(mailbox_key);
    auto mb = co_await b.Open(mailbox_key);
    EXPECT_TRUE(ma.ok() && mb.ok());
    EXPECT_EQ(*ma, MailboxOf(mailbox_key.public_key()));
    EXPECT_TRUE((co_await a.Listen(*ma)).ok());
    EXPECT_TRUE((co_await b.Listen(*mb)).ok());
    // A was there first: it hears of B and opens the pipe.
    auto peer = co_await a.NextEvent();
    EXPECT_TRUE(peer.ok() && peer->kind == RelayEvent::Kind::kPeer);
    Connection a_pipe = co_await Dial();
    EXPECT_TRUE((co_await a_pipe.Open(mailbox_key)).ok());
    std::optional<Result<tcp::socket>> a_sock, b_sock;
    using namespace asio::experimental::awaitable_operators;
    auto connect = [&]() -> awaitable<void> { a_sock = co_await a_pipe.ConnectPipe(*ma, peer->id); };
    auto accept = [&]() -> awaitable<void> {
      auto incoming = co_await b.NextEvent();
      EXPECT_TRUE(incoming.ok() && incoming->kind == RelayEvent::Kind::kIncoming);
      Connection b_pipe = co_await Dial();
      EXPECT_TRUE((co_await b_pipe.Open(mailbox_key)).ok());
      b_sock = co_await b_pipe.AcceptPipe(*mb, incoming->id);
    };
    co_await (connect() && accept());
    EXPECT_TRUE(a_sock->ok() && b_sock->ok());
    // 1 MiB each way, unchanged, through the relay.
    Bytes there(1 << 20), back(1 << 20);
    std::mt19937_64 rng(5);
    for (auto& c : there) c = static_cast<std::uint8_t>(rng());
    for (auto& c : back) c = static_cast<std::uint8_t>(rng());
    Bytes got_there(there.size()), got_back(back.size());
    auto& sa = **a_sock;
    auto& sb = **b_sock;
    auto send_a = [&]() -> awaitable<void> { co_await asio::async_write(sa, asio::buffer(there), kTuple); };
    auto send_b = [&]() -> awaitable<void> { co_await asio::async_write(sb, asio::buffer(back), kTuple); };
    auto recv_b = [&]() -> awaitable<void> { co_await asio::async_read(sb, asio::buffer(got_there), kTuple); };
    auto recv_a = [&]() -> awaitable<void> { co_await asio::async_read(sa, asio::buffer(got_back), kTuple); };
    co_await (send_a() && send_b() && recv_a() && recv_b());
    EXPECT_EQ(got_there, there);
    EXPECT_EQ(got_back, back);
    EXPECT_EQ(server_->stats().pipes, 1u);
  });
}

TEST_F(RelayTest, AStrangerCanNeitherUseAMailboxNorForgeItsProof) {
  StartRelay();
  const auto space = crypto::SigningKey::Generate();
  const auto stranger = crypto::SigningKey::Generate();
  const MailboxId target = MailboxOf(space.public_key());
  Run([&]() -> awaitable<void> {
    // Listening in a mailbox never opened on this connection.
    Connection c = co_await Dial();
    EXPECT_TRUE((co_await c.Open(stranger)).ok());
    EXPECT_TRUE((co_await c.Listen(target)).ok());
    auto e = co_await c.NextEvent();
    EXPECT_TRUE(e.ok() && e->kind == RelayEvent::Kind::kFailure && e->code == RelayErrc::kNotOpened);
    // A proof made for another connection (another handshake hash).
    Connection d = co_await Dial();
    Connection other = co_await Dial();
    const Bytes sig = [&] {
      const auto raw = space.Sign(OpenChallenge(other.channel().handshake_hash()));
      return Bytes(raw.begin(), raw.end());
    }();
    // Hand-built Open with that replayed signature.
    Bytes req;
    req.push_back(0x0a);  // field 1 (open), length-delimited
    req.push_back(2 + 32 + 2 + 64);
    req.push_back(0x0a);
    req.push_back(32);
    Append(req, space.public_key());
    req.push_back(0x12);
    req.push_back(64);
    Append(req, sig);
    EXPECT_TRUE((co_await d.SendRaw(req)).ok());
    auto f = co_await d.NextEvent();
    EXPECT_TRUE(f.ok() && f->kind == RelayEvent::Kind::kFailure && f->code == RelayErrc::kBadProof);
  });
  EXPECT_GE(server_->stats().refused, 2u);
}

TEST_F(RelayTest, GarbageAndOversizedMessagesLeaveTheRelayServingOthers) {
  RelayLimits limits;
  limits.max_message = 4096;
  StartRelay(limits);
  const auto key = crypto::SigningKey::Generate();
  Run([&]() -> awaitable<void> {
    // Raw garbage instead of a handshake, on several connections.
    std::mt19937_64 rng(9);
    for (int i = 0; i < 10; ++i) {
      tcp::socket s(io_);
      auto [ec] = co_await s.async_connect(server_->local_endpoint(), kTuple);
      EXPECT_FALSE(ec);
      Bytes junk(1 + rng() % 3000);
      for (auto& c : junk) c = static_cast<std::uint8_t>(rng());
      co_await asio::async_write(s, asio::buffer(junk), kTuple);
    }
    // A well-formed session with a garbage request, then an oversized one.
    Connection g = co_await Dial();
    Bytes garbage(3, 0xff);
    EXPECT_TRUE((co_await g.SendRaw(garbage)).ok());
    auto e = co_await g.NextEvent();
    EXPECT_TRUE(e.ok() && e->code == RelayErrc::kMalformed);
    Connection big = co_await Dial();
    Bytes oversized(8192, 0x0a);
    EXPECT_TRUE((co_await big.SendRaw(oversized)).ok());
    auto b = co_await big.NextEvent();
    EXPECT_TRUE(b.ok() && b->code == RelayErrc::kTooLarge);
    // Still serving.
    Connection ok = co_await Dial();
    EXPECT_TRUE((co_await ok.Open(key)).ok());
  });
}

TEST_F(RelayTest, EachLimitGivesAClearErrorNotACrash) {
  RelayLimits limits;
  limits.connections_per_address = 3;
  limits.requests_per_second = 2;
  limits.pipe_timeout_ms = 200;
  limits.listeners_per_mailbox = 2;
  StartRelay(limits);
  const auto key = crypto::SigningKey::Generate();
  Run([&]() -> awaitable<void> {
    {
      // Rate: a burst of 2 s worth (4 requests) passes, the next is refused.
      Connection c = co_await Dial();
      for (int i = 0; i < 4; ++i) EXPECT_TRUE((co_await c.Open(key)).ok()) << i;
      auto fifth = co_await c.Open(key);
      EXPECT_FALSE(fifth.ok());
      if (!fifth.ok()) {
        EXPECT_NE(fifth.error().message.find("slow down"), std::string::npos) << fifth.error().message;
      }
    }
    {
      // Listeners per mailbox, and a pipe nobody accepts.
      Connection l1 = co_await Dial();
      Connection l2 = co_await Dial();
      Connection l3 = co_await Dial();
      auto m = co_await l1.Open(key);
      EXPECT_TRUE((co_await l2.Open(key)).ok());
      EXPECT_TRUE((co_await l3.Open(key)).ok());
      EXPECT_TRUE((co_await l1.Listen(*m)).ok());
      EXPECT_TRUE((co_await l2.Listen(*m)).ok());
      EXPECT_TRUE((co_await l3.Listen(*m)).ok());
      auto full = co_await l3.NextEvent();
      EXPECT_TRUE(full.ok() && full->code == RelayErrc::kTooMany) << (full.ok() ? full->message : "");
      // Connections per address: l1, l2 (l3 is closed by now) and one more
      // are fine; the next is refused with a message.
      auto peer = co_await l1.NextEvent();
      EXPECT_TRUE(peer.ok() && peer->kind == RelayEvent::Kind::kPeer);
      Connection p = co_await Dial();
      EXPECT_TRUE((co_await p.Open(key)).ok());
      Connection over = co_await Dial();
      auto refused = co_await over.NextEvent();
      EXPECT_TRUE(refused.ok() && refused->code == RelayErrc::kTooMany);
      // The pipe to l2 is never accepted: it times out with a clear error.
      auto pipe = co_await p.ConnectPipe(*m, peer->id);
      EXPECT_FALSE(pipe.ok());
      if (!pipe.ok()) {
        EXPECT_NE(pipe.error().message.find("did not answer"), std::string::npos) << pipe.error().message;
      }
    }
  });
}

TEST_F(RelayTest, ASilentClientIsClosedAfterTheHandshakeTimeout) {
  RelayLimits limits;
  limits.handshake_timeout_ms = 200;
  StartRelay(limits);
  Run([&]() -> awaitable<void> {
    tcp::socket s(io_);
    co_await s.async_connect(server_->local_endpoint(), kTuple);
    const auto start = std::chrono::steady_clock::now();
    std::uint8_t b;
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(&b, 1), kTuple);
    EXPECT_TRUE(ec);  // closed by the relay, not by this test
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  });
}

TEST(RelayKeyTest, TheKeyIsCreatedOnceAndKeptAndAWrongFileIsRefused) {
  ASSERT_TRUE(crypto::Init().ok());
  const auto dir = std::filesystem::temp_directory_path() / ("hearth-relay-key-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto first = LoadOrCreateKey(dir);
  ASSERT_TRUE(first.ok());
  auto again = LoadOrCreateKey(dir);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->public_key(), again->public_key());
  EXPECT_EQ(std::filesystem::status(dir / "relay.key").permissions() & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
  std::filesystem::resize_file(dir / "relay.key", 31);
  EXPECT_FALSE(LoadOrCreateKey(dir).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "relay.key"), 31u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::relay
