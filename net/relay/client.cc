#include "net/relay/client.h"

#include <boost/asio/as_tuple.hpp>

#include "relay.pb.h"

namespace hearth::relay {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// The largest control event; only Blobs and MailboxHeads answers may be larger.
constexpr std::size_t kMaxEvent = 64 * 1024;

Bytes Encode(const pb::Request& r) {
  Bytes b(r.ByteSizeLong());
  r.SerializeToArray(b.data(), static_cast<int>(b.size()));
  return b;
}

template <std::size_t N>
std::string Str(const std::array<std::uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

Error Wrong(std::string_view what) {
  return MakeError(Errc::kInvalidInput, "The relay answered " + std::string(what) + " wrongly.");
}

Result<RelayEvent> Decode(ByteView message) {
  pb::Event e;
  if (message.size() > kMaxEvent || !e.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
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
  } else if (e.has_opened() || e.has_spliced() || e.has_stored() || e.has_mailbox_heads() || e.has_blobs()) {
    // Answers, handled by the request that expects them; seen here they are
    // out of order.
    return MakeError(Errc::kInvalidInput, "The relay answered a request that was not made.");
  } else {
    return MakeError(Errc::kInvalidInput, "The relay sent an unknown event.");
  }
  return out;
}

// The relay's answer to a request: an Event that is not a Failure (a
// Failure becomes the error it stands for). Answers are control-sized but
// for Blobs and MailboxHeads, which may carry more.
awaitable<Result<pb::Event>> ReadAnswer(net::SecureChannel& ch, std::size_t limit = kMaxEvent) {
  auto m = co_await ch.Receive();
  if (!m.ok()) co_return m.error();
  pb::Event e;
  if (m->size() > limit || m->size() > static_cast<std::size_t>(INT32_MAX) || !e.ParseFromArray(m->data(), static_cast<int>(m->size()))) {
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
  // A full mailbox is a refusal that retrying will not fix; storage trouble
  // at the relay is like a network failure: try again later.
  const Errc code = event.code == RelayErrc::kBadProof || event.code == RelayErrc::kNotOpened ? Errc::kAuth
                    : event.code == RelayErrc::kMalformed                                      ? Errc::kInvalidInput
                    : event.code == RelayErrc::kQuotaFull                                      ? Errc::kRefused
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
  // Blobs answers are up to a few MiB; the answer reader bounds the rest.
  ch->set_max_message(net::kMaxAppMessage);
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

awaitable<Result<std::uint32_t>> Connection::Listen(const MailboxId& mailbox) {
  pb::Request r;
  r.mutable_listen()->set_mailbox(Str(mailbox));
  HEARTH_CO_TRY(co_await ch_.Send(Encode(r)));
  auto e = co_await ReadAnswer(ch_);
  if (!e.ok()) co_return e.error();
  if (!e->has_listening() || e->listening().mailbox() != Str(mailbox)) {
    co_return MakeError(Errc::kInvalidInput, "The relay answered Listen wrongly.");
  }
  co_return e->listening().present();
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

awaitable<Result<MailboxHeadsView>> Connection::Heads(const MailboxId& mailbox) {
  pb::Request r;
  r.mutable_heads()->set_mailbox(Str(mailbox));
  HEARTH_CO_TRY(co_await ch_.Send(Encode(r)));
  // A thousand streams come close to a control message's 64 KiB.
  auto e = co_await ReadAnswer(ch_, net::kMaxAppMessage);
  if (!e.ok()) co_return e.error();
  if (!e->has_mailbox_heads() || e->mailbox_heads().mailbox() != Str(mailbox)) co_return Wrong("the heads request");
  const auto& h = e->mailbox_heads();
  MailboxHeadsView v;
  v.bytes_used = h.bytes_used();
  v.bytes_quota = h.bytes_quota();
  v.streams.reserve(static_cast<std::size_t>(h.streams_size()));
  for (const auto& s : h.streams()) {
    StreamHead head;
    if (s.stream().size() != head.stream.size() || s.first() < 1 || s.last() < s.first()) {
      co_return Wrong("the heads request");
    }
    std::memcpy(head.stream.data(), s.stream().data(), head.stream.size());
    head.first = s.first();
    head.last = s.last();
    // Sorted and without repeats, as promised.
    if (!v.streams.empty() && !(v.streams.back().stream < head.stream)) co_return Wrong("the heads request");
    v.streams.push_back(head);
  }
  co_return v;
}

awaitable<Result<std::uint32_t>> Connection::Put(const MailboxId& mailbox, const StreamId& stream,
                                                 std::uint64_t first_seq, const std::vector<Bytes>& blobs) {
  // The relay judges the request (and refuses a malformed one); this side
  // only checks what it can send at all.
  pb::Request r;
  auto* p = r.mutable_put();
  p->set_mailbox(Str(mailbox));
  p->set_stream(Str(stream));
  p->set_first_seq(first_seq);
  for (const Bytes& b : blobs) p->add_blobs(std::string(b.begin(), b.end()));
  if (r.ByteSizeLong() > net::kMaxAppMessage) {
    co_return MakeError(Errc::kInvalidInput, "These blobs are too large for one message to the relay.");
  }
  HEARTH_CO_TRY(co_await ch_.Send(Encode(r)));
  r.Clear();
  auto e = co_await ReadAnswer(ch_);
  if (!e.ok()) co_return e.error();
  if (!e->has_stored()) co_return Wrong("the put");
  const auto& s = e->stored();
  if (s.stream() != Str(stream) || s.first_seq() != first_seq || s.count() != blobs.size() || s.added() > s.count()) {
    co_return Wrong("the put");
  }
  co_return s.added();
}

awaitable<Result<BlobRun>> Connection::Get(const MailboxId& mailbox, const StreamId& stream, std::uint64_t from_seq,
                                           std::size_t max_bytes) {
  pb::Request r;
  auto* g = r.mutable_get();
  g->set_mailbox(Str(mailbox));
  g->set_stream(Str(stream));
  g->set_from_seq(from_seq);
  g->set_max_bytes(static_cast<std::uint32_t>(std::min<std::size_t>(max_bytes, UINT32_MAX)));
  HEARTH_CO_TRY(co_await ch_.Send(Encode(r)));
  auto e = co_await ReadAnswer(ch_, net::kMaxAppMessage);
  if (!e.ok()) co_return e.error();
  if (!e->has_blobs() || e->blobs().stream() != Str(stream)) co_return Wrong("the get");
  auto& b = *e->mutable_blobs();
  const auto n = static_cast<std::size_t>(b.blobs_size());
  // Nothing held (first_seq 0 and no blobs), or a run that starts at or
  // after from_seq and whose last place does not overflow.
  const bool none = b.first_seq() == 0 && n == 0;
  const bool run = n >= 1 && n <= kMaxBlobsPerGet && b.first_seq() >= from_seq && b.first_seq() >= 1 &&
                   b.first_seq() - 1 <= kMaxSeq - n;
  if (!none && !run) co_return Wrong("the get");
  BlobRun out;
  out.first_seq = b.first_seq();
  out.blobs.reserve(n);
  for (std::string& blob : *b.mutable_blobs()) {
    if (blob.empty() || blob.size() > kMaxBlob) co_return Wrong("the get");
    out.blobs.emplace_back(blob.begin(), blob.end());
    std::string().swap(blob);  // one copy of a MiB at a time, not two
  }
  co_return out;
}

awaitable<Status> Connection::Ping() { co_return co_await ch_.Send({}); }

awaitable<Status> Connection::SendRaw(ByteView request) { co_return co_await ch_.Send(request); }

}  // namespace hearth::relay
