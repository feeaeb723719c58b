// The relay in-process over loopback: real sockets, real Noise_NK, a real
// relay Server and clients. Pipes, mailbox proofs, every limit, and the
// store-and-forward mailbox on a real SQLite file.
#include <gtest/gtest.h>

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <filesystem>
#include <random>

#include <sqlite3.h>  // to play a failing disk under the relay's store

#include "net/relay/client.h"
#include "net/relay/key_file.h"
#include "net/relay/server.h"
#include "net/relay/store.h"

namespace hearth::relay {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kTimeout{5000};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().ok()); }
  void TearDown() override { StopRelay(); }

  // Starts a relay with `limits` (and `store`, if any) on a free loopback port.
  void StartRelay(RelayLimits limits = {}, MailboxStore* store = nullptr) {
    server_ = std::make_unique<Server>(io_, crypto::DhKey::Generate(), limits, store);
    ASSERT_TRUE(server_->Listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)).ok());
    server_->Start();
    address_ = {net::FormatAddress(server_->local_endpoint()), server_->public_key()};
  }
  // Stops the relay and lets its coroutines see their connections closed
  // before it goes, so that another can start on the same io_context.
  void StopRelay() {
    if (!server_) return;
    server_->Stop();
    io_.restart();
    // Its coroutines point to it: wait until they ended (the aborted accept
    // and sweep run, and no connection is left).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    bool settled = false;
    while (!settled && std::chrono::steady_clock::now() < deadline) {
      settled = io_.run_for(std::chrono::milliseconds(10)) == 0 && server_->stats().connections == 0;
    }
    if (settled) {
      server_.reset();
    } else {
      // A test that timed out left connections waiting: they go with io_,
      // and must not outlive the server they point to.
      (void)server_.release();
    }
    io_.restart();
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

  // A pipe through the relay between two devices of `key`'s mailbox: the
  // connecting side's socket first, then the accepting side's.
  awaitable<std::pair<tcp::socket, tcp::socket>> Pipe(const crypto::SigningKey& key) {
    Connection a = co_await Dial();
    Connection b = co_await Dial();
    auto m = co_await a.Open(key);
    EXPECT_TRUE(m.ok() && (co_await b.Open(key)).ok());
    EXPECT_TRUE((co_await a.Listen(*m)).ok());
    EXPECT_TRUE((co_await b.Listen(*m)).ok());
    auto peer = co_await a.NextEvent();
    EXPECT_TRUE(peer.ok() && peer->kind == RelayEvent::Kind::kPeer);
    Connection a_pipe = co_await Dial();
    EXPECT_TRUE((co_await a_pipe.Open(key)).ok());
    std::optional<Result<tcp::socket>> a_sock, b_sock;
    using namespace asio::experimental::awaitable_operators;
    auto connect = [&]() -> awaitable<void> { a_sock = co_await a_pipe.ConnectPipe(*m, peer->id); };
    auto accept = [&]() -> awaitable<void> {
      auto incoming = co_await b.NextEvent();
      EXPECT_TRUE(incoming.ok() && incoming->kind == RelayEvent::Kind::kIncoming);
      Connection b_pipe = co_await Dial();
      EXPECT_TRUE((co_await b_pipe.Open(key)).ok());
      b_sock = co_await b_pipe.AcceptPipe(*m, incoming->id);
    };
    co_await (connect() && accept());
    EXPECT_TRUE(a_sock->ok() && b_sock->ok());
    co_return std::make_pair(std::move(**a_sock), std::move(**b_sock));
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
    auto e = co_await c.Listen(target);
    EXPECT_FALSE(e.ok());
    if (!e.ok()) {
      EXPECT_EQ(e.error().code, Errc::kAuth) << e.error().message;
    }
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
      auto second = co_await l2.Listen(*m);
      EXPECT_TRUE(second.ok() && *second == 1) << "l2 finds l1 present";
      auto full = co_await l3.Listen(*m);
      EXPECT_FALSE(full.ok());
      if (!full.ok()) {
        EXPECT_NE(full.error().message.find("Too many devices"), std::string::npos) << full.error().message;
      }
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

TEST_F(RelayTest, APipeFilterSeesEveryByteAndCanChangeThem) {
  StartRelay();
  // Flips one bit at byte 1000 going to the accepting side, and adds a byte
  // to each chunk coming back: what a tampering operator could do.
  std::size_t seen[2] = {0, 0};
  server_->set_pipe_filter([&](int direction, ByteView chunk) {
    Bytes out(chunk.begin(), chunk.end());
    const std::size_t before = seen[direction];
    seen[direction] += chunk.size();
    if (direction == 0 && before <= 1000 && 1000 < seen[0]) out[1000 - before] ^= 0x10;
    if (direction == 1) out.push_back('!');
    return out;
  });
  const auto key = crypto::SigningKey::Generate();
  Run([&]() -> awaitable<void> {
    auto [a, b] = co_await Pipe(key);
    Bytes there(200'000);
    std::mt19937_64 rng(11);
    for (auto& c : there) c = static_cast<std::uint8_t>(rng());
    Bytes got(there.size());
    using namespace asio::experimental::awaitable_operators;
    auto& sender = a;  // lambdas capture these (clang 14 cannot capture a structured binding)
    auto& receiver = b;
    auto send = [&]() -> awaitable<void> { co_await asio::async_write(sender, asio::buffer(there), kTuple); };
    auto recv = [&]() -> awaitable<void> { co_await asio::async_read(receiver, asio::buffer(got), kTuple); };
    co_await (send() && recv());
    Bytes expected = there;
    expected[1000] ^= 0x10;
    EXPECT_EQ(got, expected);
    EXPECT_EQ(seen[0], there.size());
    // One write back is read as one chunk here (loopback), and grows by one.
    const std::string ping = "ping";
    co_await asio::async_write(b, asio::buffer(ping), kTuple);
    std::string back(5, '\0');
    auto [ec, n] = co_await asio::async_read(a, asio::buffer(back), kTuple);
    EXPECT_FALSE(ec);
    EXPECT_EQ(back, "ping!");
    EXPECT_EQ(seen[1], ping.size());
  });
  EXPECT_EQ(server_->stats().bytes_piped, 200'000u + 5u);
}

// The relay with a store in a temporary directory (DIR/relay.db).
class RelayStoreTest : public RelayTest {
 protected:
  void SetUp() override {
    RelayTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() /
           ("hearth-relay-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    RelayTest::TearDown();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenStore(StoreLimits limits = {}) {
    auto s = MailboxStore::Open(dir_ / "relay.db", limits);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void StartStoreRelay(StoreLimits store_limits = {}, RelayLimits limits = Fast()) {
    OpenStore(store_limits);
    StartRelay(limits, store_.get());
  }
  static RelayLimits Fast() {
    RelayLimits l;
    l.requests_per_second = 1000;
    return l;
  }
  // A connection with `key`'s mailbox opened.
  awaitable<Connection> DialOpened(const crypto::SigningKey& key) {
    Connection c = co_await Dial();
    auto m = co_await c.Open(key);
    EXPECT_TRUE(m.ok() && *m == MailboxOf(key.public_key()));
    co_return c;
  }
  static StreamId Stream(std::uint8_t n) {
    StreamId s;
    s.fill(n);
    return s;
  }
  static Bytes Blob(std::string_view text) { return Bytes(text.begin(), text.end()); }
  static Bytes Blob(std::size_t size, std::uint8_t fill) { return Bytes(size, fill); }
  // A list of blobs (g++ 12 cannot keep a braced list across a co_await).
  template <typename... B>
  static std::vector<Bytes> Blobs(B... blobs) {
    std::vector<Bytes> v;
    (v.push_back(std::move(blobs)), ...);
    return v;
  }
  static std::int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::filesystem::path dir_;
  std::unique_ptr<MailboxStore> store_;
};

// True when `r` failed with `code` and a message containing `words`.
template <typename T>
::testing::AssertionResult FailedWith(const Result<T>& r, Errc code, std::string_view words) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded";
  if (r.error().code != code || r.error().message.find(words) == std::string::npos) {
    return ::testing::AssertionFailure() << "code " << static_cast<int>(r.error().code) << ": " << r.error().message;
  }
  return ::testing::AssertionSuccess();
}

TEST_F(RelayStoreTest, PutHeadsGetRoundTripKeepsTheFirstBlobAtAPlace) {
  StartStoreRelay();
  const auto key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const StreamId s = Stream(7);
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    const Bytes a = Blob("first"), b = Blob("second blob"), d = Blob("third, the longest of the three");
    auto put = co_await c.Put(m, s, 1, Blobs(a, b, d));
    EXPECT_TRUE(put.ok() && *put == 3u) << (put.ok() ? "" : put.error().message);
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok());
    if (heads.ok()) {
      EXPECT_EQ(heads->streams, (std::vector<StreamHead>{{s, 1, 3}}));
      EXPECT_EQ(heads->bytes_used, a.size() + b.size() + d.size());
      EXPECT_EQ(heads->bytes_quota, StoreLimits{}.mailbox_bytes);
    }
    auto got = co_await c.Get(m, s, 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs == (std::vector<Bytes>{a, b, d}));

    // A held place keeps its first blob; a Put that reaches past the end
    // adds only the new places.
    auto again = co_await c.Put(m, s, 2, Blobs(Blob("an impostor")));
    EXPECT_TRUE(again.ok() && *again == 0u);
    const Bytes e = Blob("fourth");
    auto more = co_await c.Put(m, s, 3, Blobs(Blob("another impostor"), e));
    EXPECT_TRUE(more.ok() && *more == 1u);
    got = co_await c.Get(m, s, 2, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 2 && got->blobs == (std::vector<Bytes>{b, d, e}));

    // A small max_bytes still brings one blob, and no more than fits.
    got = co_await c.Get(m, s, 1, 1);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs == (std::vector<Bytes>{a}));
    got = co_await c.Get(m, s, 1, a.size() + b.size() + d.size() - 1);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs == (std::vector<Bytes>{a, b}));

    // A gap (5 and 6 missing): a run stops before it, and a Get from inside
    // it starts at the next held place.
    const Bytes f = Blob("seventh");
    EXPECT_TRUE((co_await c.Put(m, s, 7, Blobs(f))).ok());
    got = co_await c.Get(m, s, 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs.size() == 4u);
    got = co_await c.Get(m, s, 5, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 7 && got->blobs == (std::vector<Bytes>{f}));
    // Past the end, and in a stream nobody wrote: nothing.
    got = co_await c.Get(m, s, 8, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 0 && got->blobs.empty());
    got = co_await c.Get(m, Stream(8), 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 0 && got->blobs.empty());

    // Streams come sorted by id.
    EXPECT_TRUE((co_await c.Put(m, Stream(1), 5, Blobs(Blob("x")))).ok());
    heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->streams == (std::vector<StreamHead>{{Stream(1), 5, 5}, {s, 1, 7}}));
  });
  EXPECT_EQ(server_->stats().blobs_stored, 3u + 1u + 1u + 1u);
  EXPECT_EQ(server_->stats().blobs_served, 3u + 3u + 1u + 2u + 4u + 1u);
}

TEST_F(RelayStoreTest, AFullMailboxRefusesThePutWholeAndKeepsWhatItHeld) {
  StoreLimits limits;
  limits.mailbox_bytes = 1000;
  limits.streams_per_mailbox = 2;
  StartStoreRelay(limits);
  const auto key = crypto::SigningKey::Generate();
  const auto other_key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const MailboxId other = MailboxOf(other_key.public_key());
  const StreamId s = Stream(1);
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    const Bytes held = Blob(600, 'a');
    EXPECT_TRUE((co_await c.Put(m, s, 1, Blobs(held))).ok());
    // 600 + 300 + 200 > 1000: none of the two is kept.
    auto full = co_await c.Put(m, s, 2, Blobs(Blob(300, 'b'), Blob(200, 'c')));
    EXPECT_TRUE(FailedWith(full, Errc::kRefused, "mailbox is full"));
    // The connection stays usable, and shows only what was there before.
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->bytes_used == 600u && heads->bytes_quota == 1000u &&
                heads->streams == (std::vector<StreamHead>{{s, 1, 1}}));
    auto got = co_await c.Get(m, s, 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs == (std::vector<Bytes>{held}));
    // Exactly full is fine; a retry of held places needs no room.
    auto exact = co_await c.Put(m, s, 2, Blobs(Blob(400, 'd')));
    EXPECT_TRUE(exact.ok() && *exact == 1u);
    auto retry = co_await c.Put(m, s, 1, Blobs(Blob(600, 'e'), Blob(400, 'f')));
    EXPECT_TRUE(retry.ok() && *retry == 0u);
    EXPECT_TRUE(FailedWith(co_await c.Put(m, Stream(2), 1, Blobs(Blob("x"))), Errc::kRefused, "mailbox is full"));
    auto used = store_->BytesUsed(m);
    EXPECT_TRUE(used.ok() && *used == 1000u);

    // Another mailbox has its own quota, and its own bound on streams.
    Connection o = co_await DialOpened(other_key);
    EXPECT_TRUE((co_await o.Put(other, s, 1, Blobs(Blob(900, 'g')))).ok());
    EXPECT_TRUE((co_await o.Put(other, Stream(2), 1, Blobs(Blob("h")))).ok());
    EXPECT_TRUE(FailedWith(co_await o.Put(other, Stream(3), 1, Blobs(Blob("i"))), Errc::kNetwork, "as many streams"));
    EXPECT_TRUE((co_await o.Put(other, Stream(2), 2, Blobs(Blob("j")))).ok());  // an existing stream grows
    heads = co_await o.Heads(other);
    EXPECT_TRUE(heads.ok() && heads->bytes_used == 902u && heads->streams.size() == 2u);
  });
}

TEST_F(RelayStoreTest, BlobsSurviveARestartAndExpireAfterTheirTime) {
  const auto key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const std::vector<Bytes> blobs = {Blob("kept"), Blob(70'000, 'k'), Blob("through a restart")};
  StartStoreRelay();
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    EXPECT_TRUE((co_await c.Put(m, Stream(1), 1, blobs)).ok());
    EXPECT_TRUE((co_await c.Put(m, Stream(2), 4, Blobs(Blob("x")))).ok());
  });
  StopRelay();
  store_.reset();

  // Left by a relay long ago: the sweep at start deletes it.
  const std::int64_t expiry = StoreLimits{}.expiry_s;
  OpenStore();
  auto old = store_->Put(m, Stream(3), 1, {Blob("stale")}, Now() - expiry - 60);
  ASSERT_TRUE(old.ok() && old->ok() && old->added == 1u);
  StartRelay(Fast(), store_.get());
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    auto got = co_await c.Get(m, Stream(1), 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 1 && got->blobs == blobs);
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() &&
                heads->streams == (std::vector<StreamHead>{{Stream(1), 1, 3}, {Stream(2), 4, 4}}));
  });

  // Not yet expired, then expired.
  auto early = store_->Expire(Now() + expiry - 60);
  EXPECT_TRUE(early.ok() && *early == 0u);
  auto late = store_->Expire(Now() + expiry + 60);
  EXPECT_TRUE(late.ok() && *late == 4u);
  auto used = store_->BytesUsed(m);
  EXPECT_TRUE(used.ok() && *used == 0u);
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->streams.empty() && heads->bytes_used == 0u);
    auto got = co_await c.Get(m, Stream(1), 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->first_seq == 0 && got->blobs.empty());
  });
}

TEST_F(RelayStoreTest, AStrangerCanNeitherReadNorFillAMailbox) {
  StartStoreRelay();
  const auto key = crypto::SigningKey::Generate();
  const auto stranger = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const StreamId s = Stream(1);
  Run([&]() -> awaitable<void> {
    Connection owner = co_await DialOpened(key);
    EXPECT_TRUE((co_await owner.Put(m, s, 1, Blobs(Blob("private")))).ok());
    // Each refusal closes the stranger's connection: one per try. The
    // stranger has a mailbox of its own open, not this one.
    {
      Connection c = co_await DialOpened(stranger);
      EXPECT_TRUE(FailedWith(co_await c.Put(m, s, 2, Blobs(Blob("junk"))), Errc::kAuth, "opened on this connection"));
    }
    {
      Connection c = co_await DialOpened(stranger);
      EXPECT_TRUE(FailedWith(co_await c.Get(m, s, 1, 1 << 20), Errc::kAuth, "opened on this connection"));
    }
    {
      Connection c = co_await Dial();  // nothing opened at all
      EXPECT_TRUE(FailedWith(co_await c.Heads(m), Errc::kAuth, "opened on this connection"));
    }
    auto got = co_await owner.Get(m, s, 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->blobs == (std::vector<Bytes>{Blob("private")}));
    auto heads = co_await owner.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->streams == (std::vector<StreamHead>{{s, 1, 1}}));
  });
  EXPECT_GE(server_->stats().refused, 3u);
  EXPECT_EQ(server_->stats().blobs_stored, 1u);
}

TEST_F(RelayStoreTest, MalformedPutsAreRefusedAndTheRelayKeepsServing) {
  RelayLimits limits = Fast();
  limits.max_message = 4096;
  StartStoreRelay({}, limits);
  const auto key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const StreamId s = Stream(1);
  Run([&]() -> awaitable<void> {
    // A stream id of 31 bytes: Request{put: Put{mailbox, stream, first_seq 1, blob "x"}} by hand.
    {
      Connection c = co_await DialOpened(key);
      Bytes put;
      put.push_back(0x0a);
      put.push_back(32);
      Append(put, m);
      put.push_back(0x12);
      put.push_back(31);
      Append(put, Bytes(31, 1));
      Append(put, Bytes{0x18, 1, 0x22, 1, 'x'});
      Bytes req{0x2a, static_cast<std::uint8_t>(put.size())};
      Append(req, put);
      EXPECT_TRUE((co_await c.SendRaw(req)).ok());
      auto e = co_await c.NextEvent();
      EXPECT_TRUE(e.ok() && e->kind == RelayEvent::Kind::kFailure && e->code == RelayErrc::kMalformed);
    }
    struct Case {
      const char* what;
      std::uint64_t first_seq;
      std::vector<Bytes> blobs;
    };
    const std::vector<Case> cases = {
        {"seq 0", 0, {Blob("x")}},
        {"no blobs", 1, {}},
        {"too many blobs", 1, std::vector<Bytes>(kMaxBlobsPerPut + 1, Blob("x"))},
        {"an empty blob", 1, {Blob("x"), Bytes{}}},
        {"a blob over kMaxBlob", 1, {Blob(kMaxBlob + 1, 'x')}},
        {"seqs that overflow", UINT64_MAX, {Blob("x"), Blob("y")}},
        {"seqs past kMaxSeq", kMaxSeq, {Blob("x"), Blob("y")}},
    };
    for (const Case& bad : cases) {
      Connection c = co_await DialOpened(key);
      EXPECT_TRUE(FailedWith(co_await c.Put(m, s, bad.first_seq, bad.blobs), Errc::kInvalidInput, "A Put needs"))
          << bad.what;
    }
    {
      Connection c = co_await DialOpened(key);
      EXPECT_TRUE(FailedWith(co_await c.Get(m, s, 0, 100), Errc::kInvalidInput, "A Get needs"));
    }
    // 8 KiB is too much for a stranger...
    const Bytes mid = Blob(8192, 'm');
    {
      Connection c = co_await Dial();
      EXPECT_TRUE(FailedWith(co_await c.Put(m, s, 1, Blobs(mid)), Errc::kNetwork, "larger than this relay accepts"));
    }
    // ...but fine once the mailbox is open, up to one largest blob.
    Connection c = co_await DialOpened(key);
    const Bytes largest = Blob(kMaxBlob, 'L');
    auto ok = co_await c.Put(m, s, 1, Blobs(mid, largest));
    EXPECT_TRUE(ok.ok() && *ok == 2u) << (ok.ok() ? "" : ok.error().message);
    // The largest blob comes whole, on its own, even when less was asked.
    auto got = co_await c.Get(m, s, 2, 10);
    EXPECT_TRUE(got.ok() && got->first_seq == 2 && got->blobs.size() == 1u && got->blobs[0] == largest);
    // Nothing of the malformed Puts was kept.
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->streams == (std::vector<StreamHead>{{s, 1, 2}}) &&
                heads->bytes_used == mid.size() + largest.size());
  });
  EXPECT_EQ(server_->stats().blobs_stored, 2u);
}

TEST_F(RelayStoreTest, AStorageFailureKeepsNothingOfThePutAndSaysSo) {
  StartStoreRelay();
  const auto key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  const StreamId s = Stream(1);
  // A second connection to the file makes every write of seq 3 fail, as a
  // failing disk would halfway through a Put.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "relay.db").c_str(), &db), SQLITE_OK);
  auto exec = [&](const char* sql) { EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql; };
  exec("CREATE TRIGGER fail BEFORE INSERT ON blobs WHEN NEW.seq = 3 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END");
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    const std::vector<Bytes> blobs = {Blob("one"), Blob("two"), Blob("three"), Blob("four")};
    EXPECT_TRUE(FailedWith(co_await c.Put(m, s, 1, blobs), Errc::kNetwork, "nothing was kept"));
    // Seqs 1 and 2 went in before the failure, and out again with it.
    auto heads = co_await c.Heads(m);
    EXPECT_TRUE(heads.ok() && heads->streams.empty() && heads->bytes_used == 0u);
    exec("DROP TRIGGER fail");
    auto put = co_await c.Put(m, s, 1, blobs);
    EXPECT_TRUE(put.ok() && *put == 4u);
    auto got = co_await c.Get(m, s, 1, 1 << 20);
    EXPECT_TRUE(got.ok() && got->blobs == blobs);
  });
  sqlite3_close(db);
  EXPECT_EQ(server_->stats().blobs_stored, 4u);
}

TEST_F(RelayStoreTest, ARelayWithoutAStoreSaysSo) {
  StartRelay(Fast());
  const auto key = crypto::SigningKey::Generate();
  const MailboxId m = MailboxOf(key.public_key());
  Run([&]() -> awaitable<void> {
    Connection c = co_await DialOpened(key);
    EXPECT_TRUE(FailedWith(co_await c.Put(m, Stream(1), 1, Blobs(Blob("x"))), Errc::kNetwork, "keeps no mailboxes"));
    EXPECT_TRUE(FailedWith(co_await c.Heads(m), Errc::kNetwork, "keeps no mailboxes"));
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
