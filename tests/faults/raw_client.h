// Raw clients for the flood and stall tests: blocking loopback sockets and
// the sans-IO Noise core (net/noise.h), no Asio and no sync session. A test
// decides byte by byte what they send and whether they read, which a real
// node would never let it do: frames that claim more than they carry,
// messages over the limit, requests without end, a reader that stops.
//
// Threading: one thread per client.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/crypto/crypto.h"
#include "net/noise.h"

namespace hearth::testing::faults {

class RawNoiseClient {
 public:
  // Connects to `address` ("127.0.0.1:PORT") and runs the handshake as
  // initiator: Noise XX with `key` after a 'S' byte (a sync session with
  // `hearth serve`), or Noise NK to the relay's `relay_key`. `receive_buffer`
  // (bytes, 0: the kernel's default) is set before connecting, to keep what
  // the kernel buffers for a client that stops reading small. nullptr, with
  // `error` set, when any step fails.
  static std::unique_ptr<RawNoiseClient> SyncSession(const std::string& address, const crypto::DhKey& key,
                                                     int receive_buffer, std::string* error);
  static std::unique_ptr<RawNoiseClient> RelaySession(const std::string& address, const crypto::PublicKey& relay_key,
                                                      std::string* error);
  ~RawNoiseClient();
  RawNoiseClient(const RawNoiseClient&) = delete;
  RawNoiseClient& operator=(const RawNoiseClient&) = delete;

  // One application message: a 4-byte length and `message`, encrypted in
  // Noise frames of at most 65,519 plaintext bytes.
  bool SendMessage(ByteView message);
  // `plain` as it is (no message length added), encrypted in frames: the
  // start of a message that claims more than follows, for instance.
  bool SendPlain(ByteView plain);
  // A sync Want: "send me `feed` from `from_seq`" (proto/sync.proto, encoded here).
  bool SendWant(ByteView feed, std::uint64_t from_seq);
  // Reads (and drops) up to `max_bytes` within `timeout`; the bytes read.
  std::size_t Drain(std::size_t max_bytes, std::chrono::milliseconds timeout);
  // True once the server closed the connection (checked without blocking
  // longer than `timeout`; reads and drops what is pending).
  bool ClosedByServer(std::chrono::milliseconds timeout);
  int fd() const { return fd_; }

 private:
  RawNoiseClient(int fd, net::noise::Handshake::Transport transport);
  int fd_;
  net::noise::Handshake::Transport transport_;
};

// Runs the initiator's side of `config`'s handshake over the connected `fd`
// (2-byte framed messages). Shared by both kinds of client.
std::optional<net::noise::Handshake::Transport> InitiatorHandshake(int fd, net::noise::HandshakeConfig config,
                                                                   std::string* error);

}  // namespace hearth::testing::faults
