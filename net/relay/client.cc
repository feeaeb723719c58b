#include "net/relay/client.h"

#include <boost/asio/as_tuple.hpp>

#include "relay.pb.h"

namespace hearth::relay {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Bytes Encode(const pb::Request& r) {
  Bytes b(r.ByteSizeLong());
  r.SerializeToArray(b.data(), static_cast<int>(b.size()));
  return b;
}

std::string Str(const MailboxId& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

Result<RelayEvent> Decode(ByteView message) {
  pb::Event e;
  if (message.size() > 64 * 1024 || !e.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    return MakeError(Errc::kInvalidInput, "The relay sent a message Hearth could not read.");
  }
  RelayEvent out;
  auto mailbox = [&](const std::string& s) {
    if (s.size() == out.mailbox.size()) std::memcpy(out.mailbox.data(), s.data(), s.size());
  };
  if (e.has_peer()) {
    out.kind = RelayEvent::Kind::kPeer;
    mailbox(e.peer().mailbox());
    out.id = e.peer().token();
  } else if (e.has_incoming()) {
    out.kind = RelayEvent::Kind::kIncoming;
    mailbox(e.incoming().mailbox());
    out.id = e.incoming().pipe();
  } else if (e.has_failure()) {
    out.kind = RelayEvent::Kind::kFailure;
    out.code = static_cast<RelayErrc>(e.failure().code());
    out.message = e.failure().message().substr(0, 300);
  } else if (e.has_opened() || e.has_spliced()) {
    // Answers, handled by the request that expects them; seen here they are
    // out of order.
    return MakeError(Errc::kInvalidInput, "The relay answered a request that was not made.");
  } else {
    return MakeError(Errc::kInvalidInput, "The relay sent an unknown event.");
  }
  return out;
}

// The relay's answer to a request: an Event that is not a Failure (a
// Failure becomes the error it stands for).
awaitable<Result<pb::Event>> ReadAnswer(net::SecureChannel& ch) {
  auto m = co_await ch.Receive();
  if (!m.ok()) co_return m.error();
  pb::Event e;
  if (m->size() > 64 * 1024 || !e.ParseFromArray(m->data(), static_cast<int>(m->size()))) {
    co_return MakeError(Errc::kInvalidInput, "The relay sent a message Hearth could not read.");
  }
  if (e.has_failure()) {
    co_return RelayFailure(RelayEvent{RelayEvent::Kind::kFailure, {}, 0, static_cast<RelayErrc>(e.failure().code()),
                                      e.failure().message().substr(0, 300)});
  }
  co_return e;
}

}  // namespace

Error RelayFailure(const RelayEvent& event) {
  const Errc code = event.code == RelayErrc::kBadProof || event.code == RelayErrc::kNotOpened ? Errc::kAuth
                    : event.code == RelayErrc::kMalformed                                      ? Errc::kInvalidInput
                                                                                                : Errc::kNetwork;
  return MakeError(code, "The relay refused: " + event.message);
}

awaitable<Result<Connection>> Connection::Dial(const RelayAddress& relay, std::chrono::milliseconds timeout) {
  auto ep = net::ParseAddress(relay.host_port);
  if (!ep.ok()) co_return ep.error();
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  {
    net::Watchdog dog(s, timeout);
    auto [ec] = co_await s.async_connect(*ep, kTuple);
    if (ec || dog.fired()) co_return MakeError(Errc::kNetwork, "Could not reach the relay at " + relay.host_port + ".");
  }
  net::noise::HandshakeConfig cfg{net::noise::Pattern::kNK, net::noise::Role::kInitiator, nullptr, std::nullopt,
                                  Bytes(kRelayPrologue.begin(), kRelayPrologue.end()), std::nullopt, relay.key};
  auto ch = co_await net::Handshake(std::move(s), std::move(cfg), {}, nullptr, timeout);
  if (!ch.ok()) {
    if (ch.error().code == Errc::kAuth) {
      co_return MakeError(Errc::kAuth, "The relay at " + relay.host_port + " does not hold the key in its address.");
    }
    co_return ch.error();
  }
  co_return Connection(std::move(*ch));
}

awaitable<Result<MailboxId>> Connection::Open(const crypto::SigningKey& mailbox_key) {
  pb::Request r;
  const auto& pub = mailbox_key.public_key();
  r.mutable_open()->set_key(std::string(reinterpret_cast<const char*>(pub.data()), pub.size()));
  const crypto::Signature sig = mailbox_key.Sign(OpenChallenge(ch_.handshake_hash()));
  r.mutable_open()->set_signature(std::string(reinterpret_cast<const char*>(sig.data()), sig.size()));
  HEARTH_CO_TRY(co_await ch_.Send(Encode(r)));
  auto e = co_await ReadAnswer(ch_);
  if (!e.ok()) co_return e.error();
  const MailboxId expected = MailboxOf(pub);
  if (!e->has_opened() || e->opened().mailbox() != Str(expected)) {
    co_return MakeError(Errc::kInvalidInput, "The relay answered the mailbox proof wrongly.");
  }
  co_return expected;
}

awaitable<Status> Connection::Listen(const MailboxId& mailbox) {
  pb::Request r;
  r.mutable_listen()->set_mailbox(Str(mailbox));
  co_return co_await ch_.Send(Encode(r));
}

awaitable<Result<RelayEvent>> Connection::NextEvent() {
  while (true) {
    auto m = co_await ch_.Receive();
    if (!m.ok()) co_return m.error();
    if (m->empty()) continue;
    co_return Decode(*m);
  }
}

awaitable<Result<tcp::socket>> Connection::Pipe(Bytes request) {
  HEARTH_CO_TRY(co_await ch_.Send(request));
  auto e = co_await ReadAnswer(ch_);
  if (!e.ok()) co_return e.error();
  if (!e->has_spliced()) co_return MakeError(Errc::kInvalidInput, "The relay did not join the pipe.");
  // From here on the socket carries the other device's bytes.
  co_return std::move(ch_.socket());
}

awaitable<Result<tcp::socket>> Connection::ConnectPipe(const MailboxId& mailbox, std::uint64_t token) {
  pb::Request r;
  r.mutable_connect()->set_mailbox(Str(mailbox));
  r.mutable_connect()->set_peer(token);
  co_return co_await Pipe(Encode(r));
}

awaitable<Result<tcp::socket>> Connection::AcceptPipe(const MailboxId& mailbox, std::uint64_t pipe) {
  pb::Request r;
  r.mutable_accept()->set_mailbox(Str(mailbox));
  r.mutable_accept()->set_pipe(pipe);
  co_return co_await Pipe(Encode(r));
}

awaitable<Status> Connection::Ping() { co_return co_await ch_.Send({}); }

awaitable<Status> Connection::SendRaw(ByteView request) { co_return co_await ch_.Send(request); }

}  // namespace hearth::relay
