#include "net/transport.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>

namespace hearth::net {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Error Closed() { return MakeError(Errc::kNetwork, "The connection to the peer was lost."); }

}  // namespace

Watchdog::Watchdog(tcp::socket& socket, std::chrono::milliseconds timeout)
    : socket_(socket), timeout_(timeout), timer_(socket.get_executor()) {
  Start();
}

Watchdog::~Watchdog() { timer_.cancel(); }

void Watchdog::Disarm() { timer_.cancel(); }

void Watchdog::Rearm() {
  timer_.cancel();
  Start();
}

void Watchdog::Start() {
  timer_.expires_after(timeout_);
  auto fired = fired_;
  tcp::socket* socket = &socket_;
  timer_.async_wait([fired, socket](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the wait ended in time
    *fired = true;
    boost::system::error_code ignored;
    socket->close(ignored);
  });
}

awaitable<Result<Bytes>> ReadFrame(tcp::socket& socket) {
  std::uint8_t len_bytes[2];
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(len_bytes), kTuple);
  if (ec) co_return Closed();
  const std::size_t len = (static_cast<std::size_t>(len_bytes[0]) << 8) | len_bytes[1];
  // The frame grows as its bytes arrive (to at most twice what came, never
  // past its length): a peer that claims 65,535 bytes and sends a few costs
  // a few bytes, so many such connections cannot add up to much memory.
  Bytes frame;
  std::size_t got = 0;
  while (got < len) {
    frame.resize(std::min(len, std::max({frame.size(), 2 * got, std::size_t{4096}})));
    auto [ec2, n2] = co_await socket.async_read_some(asio::buffer(frame.data() + got, frame.size() - got), kTuple);
    if (ec2) co_return Closed();
    got += n2;
  }
  co_return frame;
}

awaitable<Status> WriteFrame(tcp::socket& socket, ByteView frame) {
  if (frame.size() > noise::kMaxMessageSize) {
    co_return MakeError(Errc::kInternal, "A frame is larger than Noise allows.");
  }
  Bytes out;
  out.reserve(frame.size() + 2);
  out.push_back(static_cast<std::uint8_t>(frame.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(frame.size() & 0xff));
  Append(out, frame);
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), kTuple);
  if (ec) co_return Closed();
  co_return Status{};
}

awaitable<Result<Bytes>> SecureChannel::Receive() {
  while (true) {
    if (inbox_.size() >= 4) {
      const std::size_t len = (static_cast<std::size_t>(inbox_[0]) << 24) |
                              (static_cast<std::size_t>(inbox_[1]) << 16) |
                              (static_cast<std::size_t>(inbox_[2]) << 8) | inbox_[3];
      if (len > max_message_) {
        co_return MakeError(Errc::kInvalidInput, "The peer sent a message larger than allowed.");
      }
      if (inbox_.size() >= 4 + len) {
        Bytes message(inbox_.begin() + 4, inbox_.begin() + 4 + static_cast<long>(len));
        inbox_.erase(inbox_.begin(), inbox_.begin() + 4 + static_cast<long>(len));
        co_return message;
      }
    }
    auto frame = co_await ReadFrame(socket_);
    if (!frame.ok()) co_return frame.error();
    bytes_in_ += frame->size() + 2;
    auto plain = transport_.receive.Decrypt({}, *frame);
    if (!plain.ok()) {
      co_return MakeError(Errc::kIntegrity, "The peer sent data that failed decryption; the connection was closed.");
    }
    Append(inbox_, *plain);
  }
}

awaitable<Status> SecureChannel::Send(ByteView message) {
  if (message.size() > kMaxAppMessage) co_return MakeError(Errc::kInternal, "A message is too large to send.");
  Bytes stream;
  stream.reserve(message.size() + 4);
  PutU32Be(stream, static_cast<std::uint32_t>(message.size()));
  Append(stream, message);
  Bytes wire;
  for (std::size_t off = 0; off < stream.size(); off += noise::CipherState::kMaxPlaintextSize) {
    const std::size_t n = std::min(noise::CipherState::kMaxPlaintextSize, stream.size() - off);
    auto ct = transport_.send.Encrypt({}, ByteView(stream).subspan(off, n));
    if (!ct.ok()) co_return ct.error();
    wire.push_back(static_cast<std::uint8_t>(ct->size() >> 8));
    wire.push_back(static_cast<std::uint8_t>(ct->size() & 0xff));
    Append(wire, *ct);
  }
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(wire), kTuple);
  if (ec) co_return Closed();
  bytes_out_ += wire.size();
  co_return Status{};
}

awaitable<Result<SecureChannel>> Handshake(tcp::socket socket, noise::HandshakeConfig config,
                                           ByteView payload, Bytes* received, std::chrono::milliseconds timeout) {
  // Armed on this frame's socket: a watchdog on the caller's socket would
  // watch a moved-from object.
  Watchdog dog(socket, timeout);
  // Messages are small and answered: without this, Nagle's algorithm and
  // the peer's delayed acknowledgements hold some of them back for ~40 ms.
  boost::system::error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  const bool initiator = config.role == noise::Role::kInitiator;
  const noise::Pattern config_pattern = config.pattern;
  auto hs = noise::Handshake::Start(std::move(config));
  if (!hs.ok()) co_return hs.error();
  // Messages alternate from the initiator (odd steps); `payload` rides in
  // the last message this side writes.
  const std::size_t steps = noise::MessageCount(config_pattern);
  for (std::size_t step = 1; step <= steps; ++step) {
    const bool mine = (step % 2 == 1) == initiator;
    const bool last_mine = mine && step + 2 > steps;
    if (mine) {
      auto msg = hs->WriteMessage(last_mine ? payload : ByteView{});
      if (!msg.ok()) co_return msg.error();
      HEARTH_CO_TRY(co_await WriteFrame(socket, *msg));
    } else {
      auto frame = co_await ReadFrame(socket);
      if (!frame.ok()) co_return frame.error();
      auto got = hs->ReadMessage(*frame);
      if (!got.ok()) {
        co_return MakeError(Errc::kAuth, "The peer failed the secure handshake: wrong space, wrong code, or not a Hearth node.");
      }
      if (!got->empty() && received != nullptr) *received = std::move(*got);
    }
  }
  // NK's responder learns no static key from the initiator: it stays zero.
  const bool anonymous_peer = config_pattern == noise::Pattern::kNK && !initiator;
  auto remote = hs->RemoteStatic();
  const ByteView h = hs->HandshakeHash();
  Bytes hash(h.begin(), h.end());
  auto transport = hs->Split();
  if (!transport.ok() || (!remote && !anonymous_peer)) {
    co_return MakeError(Errc::kAuth, "The secure handshake did not complete.");
  }
  SecureChannel ch(std::move(socket), std::move(*transport), remote.value_or(crypto::PublicKey{}));
  ch.set_handshake_hash(std::move(hash));
  co_return ch;
}

std::string FormatAddress(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

Result<tcp::endpoint> ParseAddress(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) {
    return MakeError(Errc::kInvalidInput, "'" + std::string(text) + "' is not ADDRESS:PORT.");
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(std::string(text.substr(colon + 1)), &used);
    if (used != text.size() - colon - 1) port = 70000;
  } catch (...) {
    port = 70000;
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec || port > 65535) {
    return MakeError(Errc::kInvalidInput, "'" + std::string(text) + "' is not ADDRESS:PORT.");
  }
  return tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

Status ListenOn(tcp::acceptor& acceptor, const tcp::endpoint& at) {
  boost::system::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(Errc::kNetwork, "Could not listen on " + FormatAddress(at) + ": " + ec.message() + ".");
  return {};
}

}  // namespace hearth::net
