// Fuzz target: the relay protocol (net/relay/), on both ends, over real
// loopback connections with real Noise_NK handshakes in one io_context:
//
//   the server: a real relay Server with a real MailboxStore (SQLite in a
//   scratch directory) reads requests from a harness client;
//   the client: a real relay::Connection, dialed to a harness relay, reads
//   events and answers it never asked for or did;
//   the address: ParseRelayAddress, as `hearth relay set` reads it.
//
// Input: a mode byte, then
//   0  server: steps until the input ends, each a tag byte:
//        tag % 3 == 0  a piece (4-byte length) sent as one request;
//        tag % 3 == 1  a valid Open of fixed mailbox key (tag / 3) % 2,
//                      signed over this connection's handshake hash;
//        tag % 3 == 2  an empty message (a keep-alive);
//      then the harness reads every answer until the relay hangs up;
//   1  client: a byte choosing two calls (Open, Listen, Heads, Get, Put,
//      NextEvent, ConnectPipe, AcceptPipe), then the events the relay sends
//      as pieces (4-byte length); after the two calls the client reads
//      events until the connection ends;
//   2  text for ParseRelayAddress.
//
// Properties: the relay answers every request with an event a client can
// parse and forgets every connection once it closed; the client fails only
// with the errors its header promises and accepts only answers within the
// protocol's bounds; an address that parses prints back to itself.
#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio/as_tuple.hpp>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "net/relay/client.h"
#include "net/relay/server.h"
#include "net/relay/store.h"
#include "relay.pb.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/loopback.h"

namespace hearth::fuzz {
namespace {

namespace noise = net::noise;
using relay::RelayEvent;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kHandshakeTimeout{5000};
constexpr std::chrono::seconds kRunLimit{20};
constexpr std::size_t kMaxEventsRead = 64;
constexpr std::size_t kWipeStoreEvery = 5000;

const crypto::SigningKey& MailboxKey(int i) {
  static const crypto::SigningKey keys[] = {FixedSigningKey("mailbox-0"), FixedSigningKey("mailbox-1")};
  return keys[i];
}

Bytes Prologue() { return Bytes(relay::kRelayPrologue.begin(), relay::kRelayPrologue.end()); }

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

struct World {
  asio::io_context io;
  Loopback loopback{io};  // where the harness relay listens (client mode)
  crypto::DhKey fake_relay_key = FixedDhKey("fake-relay");
  std::unique_ptr<relay::MailboxStore> store;
  std::unique_ptr<relay::Server> server;
  tcp::endpoint server_at;
  std::size_t server_inputs = 0;
};

World& TheWorld() {
  static World world;
  return world;
}

// ---- the server, fed by a harness client ----

awaitable<void> DriveServer(ByteView data, bool& done) {
  World& w = TheWorld();
  Pieces steps(data, 4);
  tcp::socket socket(w.io);
  auto [connect_ec] = co_await socket.async_connect(w.server_at, kTuple);
  HEARTH_FUZZ_CHECK(!connect_ec, "the relay does not accept connections");
  noise::HandshakeConfig config{noise::Pattern::kNK, noise::Role::kInitiator, nullptr, std::nullopt, Prologue(),
                                std::nullopt, w.server->public_key()};
  auto channel = co_await net::Handshake(std::move(socket), std::move(config), {}, nullptr, kHandshakeTimeout);
  HEARTH_FUZZ_CHECK(channel.ok(), "the relay failed a proper handshake");
  net::SecureChannel& ch = *channel;

  bool sending = true;
  while (sending) {
    const auto tag = steps.Byte();
    if (!tag) break;
    Bytes request;
    if (*tag % 3 == 0) {
      auto piece = steps.Next();
      if (!piece) break;
      request.assign(piece->begin(), piece->end());
    } else if (*tag % 3 == 1) {
      const crypto::SigningKey& key = MailboxKey((*tag / 3) % 2);
      const crypto::Signature sig = key.Sign(relay::OpenChallenge(ch.handshake_hash()));
      relay::pb::Request open;
      open.mutable_open()->set_key(key.public_key().data(), key.public_key().size());
      open.mutable_open()->set_signature(sig.data(), sig.size());
      const std::string s = open.SerializeAsString();
      request.assign(s.begin(), s.end());
    }
    // The relay may hang up at any point (a refused request): stop sending.
    sending = (co_await ch.Send(request)).ok();
  }
  boost::system::error_code ignored;
  ch.socket().shutdown(tcp::socket::shutdown_send, ignored);

  // Every answer is an event a client can read.
  while (true) {
    auto answer = co_await ch.Receive();
    if (!answer.ok()) break;
    relay::pb::Event event;
    HEARTH_FUZZ_CHECK(event.ParseFromArray(answer->data(), static_cast<int>(answer->size())),
                      "the relay sent an event that does not parse");
    HEARTH_FUZZ_CHECK(event.body_case() != relay::pb::Event::BODY_NOT_SET, "the relay sent an empty event");
    if (event.has_opened()) {
      const auto m0 = relay::MailboxOf(MailboxKey(0).public_key());
      const auto m1 = relay::MailboxOf(MailboxKey(1).public_key());
      const std::string& got = event.opened().mailbox();
      const bool known = got.size() == m0.size() && (std::memcmp(got.data(), m0.data(), m0.size()) == 0 ||
                                                     std::memcmp(got.data(), m1.data(), m1.size()) == 0);
      HEARTH_FUZZ_CHECK(known, "the relay opened a mailbox nobody proved");
    }
  }
  CloseAbortively(ch.socket());
  done = true;
}

void FuzzServer(ByteView data) {
  World& w = TheWorld();
  bool done = false;
  asio::co_spawn(w.io, DriveServer(data, done), &Rethrow);
  HEARTH_FUZZ_CHECK(RunUntil(w.io, done, kRunLimit), "the relay did not answer in time");
  // The relay forgets the connection: nothing of it stays behind.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((w.server->stats().connections > 0 || w.server->stats().listeners > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    w.io.run_for(std::chrono::milliseconds(1));
  }
  HEARTH_FUZZ_CHECK(w.server->stats().connections == 0 && w.server->stats().listeners == 0,
                    "the relay kept a closed connection");
  // The mailboxes only ever grow under fuzzing: empty them now and then.
  if (++w.server_inputs % kWipeStoreEvery == 0) {
    const std::int64_t far_future = std::int64_t{1} << 50;
    HEARTH_FUZZ_CHECK(w.store->Expire(far_future).ok(), "the relay's store could not expire its blobs");
  }
}

// ---- the client, fed by a harness relay ----

awaitable<void> FakeRelay(Pieces events, const bool& client_done, bool& done) {
  World& w = TheWorld();
  auto [accept_ec, socket] = co_await w.loopback.acceptor().async_accept(kTuple);
  HEARTH_FUZZ_CHECK(!accept_ec, "the harness relay could not accept");
  noise::HandshakeConfig config{noise::Pattern::kNK, noise::Role::kResponder, &w.fake_relay_key, std::nullopt,
                                Prologue(), std::nullopt};
  auto channel = co_await net::Handshake(std::move(socket), std::move(config), {}, nullptr, kHandshakeTimeout);
  if (channel.ok()) {
    while (auto event = events.Next()) {
      if (!(co_await channel->Send(*event)).ok()) break;
    }
    boost::system::error_code ignored;
    channel->socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Hang up only once the client is done with what was sent.
    asio::steady_timer wait(w.io);
    while (!client_done) {
      wait.expires_after(std::chrono::milliseconds(1));
      co_await wait.async_wait(kTuple);
    }
    CloseAbortively(channel->socket());
  }
  done = true;
}

void CheckClientError(const Error& e) {
  const Errc c = e.code;
  HEARTH_FUZZ_CHECK(c == Errc::kInvalidInput || c == Errc::kNetwork || c == Errc::kAuth || c == Errc::kRefused,
                    "the client failed with an error its header does not promise");
}

// Set once a call found the connection gone. The client, like the product
// code, makes no call after that: with Asio 1.26 a read on a socket whose
// earlier read ended at end-of-stream never completes (the epoll reactor
// waits for an edge that already came).
bool connection_ended = false;

template <typename T>
bool Judge(const Result<T>& r) {
  if (!r.ok()) {
    CheckClientError(r.error());
    if (r.error().code == Errc::kNetwork) connection_ended = true;
  }
  return r.ok();
}

awaitable<void> DriveClient(std::uint8_t plan, bool& done) {
  World& w = TheWorld();
  const relay::RelayAddress address{net::FormatAddress(w.loopback.endpoint()), w.fake_relay_key.public_key()};
  auto connection = co_await relay::Connection::Dial(address, kHandshakeTimeout);
  if (!connection.ok()) {
    CheckClientError(connection.error());
    done = true;
    co_return;
  }
  relay::Connection& c = *connection;
  connection_ended = false;
  const relay::MailboxId mailbox = relay::MailboxOf(MailboxKey(0).public_key());
  relay::StreamId stream{};
  stream.fill(7);
  for (int call : {plan & 7, (plan >> 3) & 7}) {
    if (connection_ended) break;
    switch (call) {
      case 0: {
        auto opened = co_await c.Open(MailboxKey(0));
        if (Judge(opened)) HEARTH_FUZZ_CHECK(*opened == mailbox, "Open gave another mailbox");
        break;
      }
      case 1:
        (void)Judge(co_await c.Listen(mailbox));
        break;
      case 2: {
        auto heads = co_await c.Heads(mailbox);
        if (Judge(heads)) {
          for (std::size_t i = 0; i < heads->streams.size(); ++i) {
            const relay::StreamHead& h = heads->streams[i];
            HEARTH_FUZZ_CHECK(h.first >= 1 && h.last >= h.first, "Heads accepted an impossible stream");
            if (i > 0) HEARTH_FUZZ_CHECK(heads->streams[i - 1].stream < h.stream, "Heads accepted disorder");
          }
        }
        break;
      }
      case 3: {
        auto run = co_await c.Get(mailbox, stream, 5, relay::kMaxGetBytes);
        if (Judge(run)) {
          HEARTH_FUZZ_CHECK(run->blobs.size() <= relay::kMaxBlobsPerGet, "Get accepted too many blobs");
          HEARTH_FUZZ_CHECK(run->blobs.empty() ? run->first_seq == 0 : run->first_seq >= 5,
                            "Get accepted blobs from before what it asked");
          for (const Bytes& b : run->blobs) {
            HEARTH_FUZZ_CHECK(!b.empty() && b.size() <= relay::kMaxBlob, "Get accepted a blob of a wrong size");
          }
        }
        break;
      }
      case 4: {
        const std::vector<Bytes> blobs = {Bytes{1, 2, 3}, Bytes{4}};
        auto added = co_await c.Put(mailbox, stream, 1, blobs);
        if (Judge(added)) HEARTH_FUZZ_CHECK(*added <= blobs.size(), "Put accepted more places than it sent");
        break;
      }
      case 5: {
        auto event = co_await c.NextEvent();
        if (Judge(event)) HEARTH_FUZZ_CHECK(event->message.size() <= 300, "an event's message is too long");
        break;
      }
      case 6:
        (void)Judge(co_await c.ConnectPipe(mailbox, 42));
        break;
      default:
        (void)Judge(co_await c.AcceptPipe(mailbox, 42));
        break;
    }
  }
  for (std::size_t i = 0; i < kMaxEventsRead && !connection_ended; ++i) {
    auto event = co_await c.NextEvent();
    if (!Judge(event)) break;
  }
  CloseAbortively(c.channel().socket());
  done = true;
}

void FuzzClient(ByteView data) {
  World& w = TheWorld();
  Pieces input(data, 4);
  const std::uint8_t plan = input.Byte().value_or(0);
  bool client_done = false, relay_done = false;
  asio::co_spawn(w.io, FakeRelay(input, client_done, relay_done), &Rethrow);
  asio::co_spawn(w.io, DriveClient(plan, client_done), &Rethrow);
  HEARTH_FUZZ_CHECK(RunUntil(w.io, client_done, kRunLimit), "the client did not finish");
  HEARTH_FUZZ_CHECK(RunUntil(w.io, relay_done, kRunLimit), "the harness relay did not finish");
}

// ---- the address ----

void FuzzAddress(std::string_view text) {
  auto a = relay::ParseRelayAddress(text);
  if (!a.ok()) {
    HEARTH_FUZZ_CHECK(a.error().code == Errc::kInvalidInput, "a bad relay address was not kInvalidInput");
    return;
  }
  auto back = relay::ParseRelayAddress(relay::FormatRelayAddress(*a));
  HEARTH_FUZZ_CHECK(back.ok() && back->host_port == a->host_port && back->key == a->key,
                    "a relay address does not print back");
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace hearth;
  using namespace hearth::fuzz;
  if (!crypto::Init().ok()) std::abort();
  World& w = TheWorld();
  auto store = relay::MailboxStore::Open(ScratchDir("relay") / "mailboxes.db", relay::StoreLimits{});
  if (!store.ok()) {
    std::fprintf(stderr, "fuzz_relay: %s\n", store.error().message.c_str());
    std::abort();
  }
  w.store = std::move(store).value();
  relay::RelayLimits limits;
  limits.pipe_timeout_ms = 20;  // a Connect that waits for nobody ends soon
  w.server = std::make_unique<relay::Server>(w.io, FixedDhKey("relay"), limits, w.store.get());
  if (!w.server->Listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)).ok()) std::abort();
  w.server->Start();
  w.server_at = w.server->local_endpoint();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearth::fuzz;
  if (size == 0) return 0;
  const hearth::ByteView input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzServer(input);
      break;
    case 1:
      FuzzClient(input);
      break;
    default:
      FuzzAddress(hearth::AsChars(input));
      break;
  }
  return 0;
}
