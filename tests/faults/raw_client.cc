#include "tests/faults/raw_client.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tests/faults/fault_support.h"

namespace hearth::testing::faults {

namespace noise = net::noise;

namespace {

bool ReadExact(int fd, std::uint8_t* out, std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (n > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t got = ::recv(fd, out, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

bool WriteFrame(int fd, ByteView message) {
  Bytes frame{static_cast<std::uint8_t>(message.size() >> 8), static_cast<std::uint8_t>(message.size() & 0xff)};
  Append(frame, message);
  return WriteAll(fd, frame.data(), frame.size());
}

std::optional<Bytes> ReadFrame(int fd) {
  std::uint8_t len[2];
  if (!ReadExact(fd, len, 2, std::chrono::seconds(10))) return std::nullopt;
  Bytes frame((static_cast<std::size_t>(len[0]) << 8) | len[1]);
  if (!frame.empty() && !ReadExact(fd, frame.data(), frame.size(), std::chrono::seconds(10))) return std::nullopt;
  return frame;
}

int Dial(const std::string& address, int receive_buffer, std::string* error) {
  // ConnectTcp sets nothing before connect(); a receive buffer must be set
  // before the handshake to shape the TCP window, so dial by hand.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(PortOf(address));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    *error = "connect failed";
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<noise::Handshake::Transport> InitiatorHandshake(int fd, noise::HandshakeConfig config,
                                                              std::string* error) {
  auto hs = noise::Handshake::Start(std::move(config));
  if (!hs.ok()) {
    *error = hs.error().message;
    return std::nullopt;
  }
  while (!hs->Finished()) {
    if (hs->IsMyTurn()) {
      auto m = hs->WriteMessage({});
      if (!m.ok() || !WriteFrame(fd, *m)) {
        *error = "could not send a handshake message";
        return std::nullopt;
      }
    } else {
      auto frame = ReadFrame(fd);
      if (!frame) {
        *error = "the server sent no handshake answer";
        return std::nullopt;
      }
      if (!hs->ReadMessage(*frame).ok()) {
        *error = "the server's handshake message did not verify";
        return std::nullopt;
      }
    }
  }
  auto t = hs->Split();
  if (!t.ok()) {
    *error = t.error().message;
    return std::nullopt;
  }
  return std::move(*t);
}

RawNoiseClient::RawNoiseClient(int fd, noise::Handshake::Transport transport)
    : fd_(fd), transport_(std::move(transport)) {}

RawNoiseClient::~RawNoiseClient() { ::close(fd_); }

std::unique_ptr<RawNoiseClient> RawNoiseClient::SyncSession(const std::string& address, const crypto::DhKey& key,
                                                            int receive_buffer, std::string* error) {
  const int fd = Dial(address, receive_buffer, error);
  if (fd < 0) return nullptr;
  const std::uint8_t kind = 'S';
  const std::string prologue = "hearth/sync/v1";
  noise::HandshakeConfig cfg{noise::Pattern::kXX, noise::Role::kInitiator, &key, std::nullopt,
                             Bytes(prologue.begin(), prologue.end()), std::nullopt};
  std::optional<noise::Handshake::Transport> t;
  if (WriteAll(fd, &kind, 1)) t = InitiatorHandshake(fd, std::move(cfg), error);
  if (!t) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<RawNoiseClient>(new RawNoiseClient(fd, std::move(*t)));
}

std::unique_ptr<RawNoiseClient> RawNoiseClient::RelaySession(const std::string& address,
                                                             const crypto::PublicKey& relay_key, std::string* error) {
  const int fd = Dial(address, 0, error);
  if (fd < 0) return nullptr;
  const std::string prologue = "hearth/relay/v1";
  noise::HandshakeConfig cfg{noise::Pattern::kNK, noise::Role::kInitiator, nullptr,
                             std::nullopt,        Bytes(prologue.begin(), prologue.end()),
                             std::nullopt,        relay_key};
  auto t = InitiatorHandshake(fd, std::move(cfg), error);
  if (!t) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<RawNoiseClient>(new RawNoiseClient(fd, std::move(*t)));
}

bool RawNoiseClient::SendPlain(ByteView plain) {
  Bytes wire;
  for (std::size_t off = 0; off < plain.size(); off += noise::CipherState::kMaxPlaintextSize) {
    const std::size_t n = std::min(noise::CipherState::kMaxPlaintextSize, plain.size() - off);
    auto ct = transport_.send.Encrypt({}, plain.subspan(off, n));
    if (!ct.ok()) return false;
    wire.push_back(static_cast<std::uint8_t>(ct->size() >> 8));
    wire.push_back(static_cast<std::uint8_t>(ct->size() & 0xff));
    Append(wire, *ct);
  }
  return WriteAll(fd_, wire.data(), wire.size());
}

bool RawNoiseClient::SendMessage(ByteView message) {
  Bytes plain;
  PutU32Be(plain, static_cast<std::uint32_t>(message.size()));
  Append(plain, message);
  return SendPlain(plain);
}

bool RawNoiseClient::SendWant(ByteView feed, std::uint64_t from_seq) {
  // SyncMessage{want (2): Want{feed (1): bytes, from_seq (2): varint}}
  Bytes want{0x0a, static_cast<std::uint8_t>(feed.size())};
  Append(want, feed);
  want.push_back(0x10);
  for (std::uint64_t v = from_seq;; v >>= 7) {
    if (v < 0x80) {
      want.push_back(static_cast<std::uint8_t>(v));
      break;
    }
    want.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
  }
  Bytes message{0x12, static_cast<std::uint8_t>(want.size())};
  Append(message, want);
  return SendMessage(message);
}

std::size_t RawNoiseClient::Drain(std::size_t max_bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t total = 0;
  std::uint8_t buf[16384];
  while (total < max_bytes) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, max_bytes - total), 0);
    if (got <= 0) break;
    total += static_cast<std::size_t>(got);
  }
  return total;
}

bool RawNoiseClient::ClosedByServer(std::chrono::milliseconds timeout) { return WaitClosedByPeer(fd_, timeout); }

}  // namespace hearth::testing::faults
