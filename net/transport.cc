#include "net/transport.h"

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
  Bytes frame(len);
  if (len > 0) {
    auto [ec2, n2] = co_await asio::async_read(socket, asio::buffer(frame), kTuple);
    if (ec2) co_return Closed();
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
      if (len > kMaxAppMessage) {
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
                                           ByteView payload, Bytes* received) {
  const bool initiator = config.role == noise::Role::kInitiator;
  auto hs = noise::Handshake::Start(std::move(config));
  if (!hs.ok()) co_return hs.error();
  // XX has three messages: initiator writes 1 and 3, responder writes 2.
  for (int step = 1; step <= 3; ++step) {
    const bool mine = (step % 2 == 1) == initiator;
    const bool last_mine = initiator ? step == 3 : step == 2;
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
  auto remote = hs->RemoteStatic();
  auto transport = hs->Split();
  if (!transport.ok() || !remote) co_return MakeError(Errc::kAuth, "The secure handshake did not complete.");
  co_return SecureChannel(std::move(socket), std::move(*transport), *remote);
}

}  // namespace hearth::net
