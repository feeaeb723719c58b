// hearth::relay — what a device and a hearth-relay agree on: the relay's
// address string, mailbox ids and the proof that opens one, error codes and
// limits. No sockets here. The relay's code (net/relay/) includes nothing of
// the model, the CRDTs, the feeds or storage: it moves opaque bytes.
// docs/relay-protocol.md is the specification.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::relay {

inline constexpr std::uint16_t kDefaultRelayPort = 47476;
inline constexpr std::string_view kRelayPrologue = "hearth/relay/v1";
inline constexpr std::size_t kMailboxIdSize = 32;
using MailboxId = std::array<std::uint8_t, kMailboxIdSize>;

// "HOST:PORT/KEY": where the relay listens and its static X25519 public key
// (64 hex digits), which clients pin. HOST is an IPv4 address, [IPv6] or
// localhost.
struct RelayAddress {
  std::string host_port;
  crypto::PublicKey key{};
};
std::string FormatRelayAddress(const RelayAddress& address);
Result<RelayAddress> ParseRelayAddress(std::string_view text);

// The id of the mailbox whose key is `key`.
MailboxId MailboxOf(const crypto::PublicKey& key);
// What an Open signs: a fixed context and the Noise handshake hash of the
// connection (so a proof is good on one connection only).
Bytes OpenChallenge(ByteView handshake_hash);

// Failure codes sent to clients (Failure.code).
enum class RelayErrc : std::uint32_t {
  kMalformed = 1,     // a request the relay could not parse, or out of order
  kNotOpened = 2,     // a mailbox used before a valid Open on this connection
  kBadProof = 3,      // an Open whose signature does not verify
  kTooMany = 4,       // a limit on connections, listeners or pipes
  kRateLimited = 5,   // too many requests too fast
  kTooLarge = 6,      // a message over the relay's size limit
  kNoSuchPeer = 7,    // Connect/Accept with a token the relay does not know (gone, expired)
};

// Limits, all configurable on the command line; defaults are safe for a
// small machine serving a few hundred couples.
struct RelayLimits {
  std::size_t connections_per_address = 32;
  std::size_t connections_total = 4096;
  std::size_t listeners_per_mailbox = 16;
  std::size_t max_message = 64 * 1024;  // a control message
  double requests_per_second = 20;      // per connection, with a burst of 2 s worth
  std::uint32_t handshake_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 120'000;  // a control connection with no message at all
  std::uint32_t pipe_timeout_ms = 30'000;   // a Connect not accepted in time
  std::size_t pipe_buffer = 64 * 1024;      // bytes in flight per direction of a pipe
};

}  // namespace hearth::relay
