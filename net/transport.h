// hearth::net transport — Noise sessions over TCP with Boost.Asio coroutines.
//
// On the wire, every Noise message is one frame: a 2-byte big-endian length
// and that many bytes (at most 65,535, Noise's limit). Application messages
// (sync messages, pairing messages) are a stream inside the encrypted
// transport: a 4-byte big-endian length and the message, cut into Noise
// messages of at most 65,519 plaintext bytes. Every length is checked before
// anything is allocated; docs/sync-protocol.md has the layout.
//
// Timeouts: the caller arms a Watchdog around anything that waits on the
// peer; when it fires, the socket is closed and the pending read fails.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio.hpp>
#include <chrono>
#include <memory>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "net/noise.h"

namespace hearth::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// The largest application message (a sync batch, net/sync_session.h, must fit).
inline constexpr std::size_t kMaxAppMessage = 4 * 1024 * 1024;

// "1.2.3.4:5", "[::1]:5" or "localhost:5".
Result<tcp::endpoint> ParseAddress(std::string_view text);
std::string FormatAddress(const tcp::endpoint& endpoint);

// Opens, binds (with SO_REUSEADDR) and starts `acceptor` listening at `at`;
// kNetwork with the reason when any step fails.
Status ListenOn(tcp::acceptor& acceptor, const tcp::endpoint& at);

// Closes `socket` unless Disarm() (or destruction) comes first.
class Watchdog {
 public:
  Watchdog(tcp::socket& socket, std::chrono::milliseconds timeout);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  // Starts the countdown again (activity seen).
  void Rearm();
  // Stops the countdown for good.
  void Disarm();
  bool fired() const { return *fired_; }

 private:
  tcp::socket& socket_;
  std::chrono::milliseconds timeout_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
  void Start();
};

awaitable<Result<Bytes>> ReadFrame(tcp::socket& socket);
awaitable<Status> WriteFrame(tcp::socket& socket, ByteView frame);

// An established Noise transport over a socket.
class SecureChannel {
 public:
  SecureChannel(tcp::socket socket, noise::Handshake::Transport transport, crypto::PublicKey remote_static)
      : socket_(std::move(socket)), transport_(std::move(transport)), remote_(remote_static) {}

  // The next application message. kNetwork when the connection ends,
  // kIntegrity when a frame fails to decrypt, kInvalidInput on a bad length.
  awaitable<Result<Bytes>> Receive();
  awaitable<Status> Send(ByteView message);

  tcp::socket& socket() { return socket_; }
  // Zero for a peer that has none (the initiator of Noise_NK, seen by the responder).
  const crypto::PublicKey& remote_static() const { return remote_; }
  // Noise's handshake hash: the same on both ends, unique to this session.
  ByteView handshake_hash() const { return handshake_hash_; }
  void set_handshake_hash(Bytes h) { handshake_hash_ = std::move(h); }
  // The largest message Receive() accepts (at most kMaxAppMessage).
  void set_max_message(std::size_t n) { max_message_ = std::min(n, kMaxAppMessage); }
  // Bytes on the wire since the handshake (frames with their length prefixes).
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
  tcp::socket socket_;
  noise::Handshake::Transport transport_;
  crypto::PublicKey remote_;
  Bytes handshake_hash_;
  std::size_t max_message_ = kMaxAppMessage;
  Bytes inbox_;  // decrypted bytes not yet consumed
};

// Runs a Noise handshake over `socket` (XX for sessions, XXpsk3 for pairing,
// NK to a relay).
// `payload` rides in our last handshake message (message 3 for the
// initiator, message 2 for the responder); the peer's arrives in `received`.
// kAuth when the peer fails the handshake, kNetwork when the connection fails.
// The whole handshake must finish within `timeout` (the socket is closed
// otherwise, and the result is kNetwork).
awaitable<Result<SecureChannel>> Handshake(tcp::socket socket, noise::HandshakeConfig config,
                                           ByteView payload, Bytes* received, std::chrono::milliseconds timeout);

}  // namespace hearth::net
