// hearth::relay — what a device and a hearth-relay agree on: the relay's
// address string, mailbox ids and the proof that opens one, error codes and
// limits, and what the store-and-forward mailbox holds. No sockets here. The relay's code (net/relay/) includes nothing of
// the model, the CRDTs, the feeds or storage: it moves opaque bytes.
// docs/relay-protocol.md is the specification.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::relay {

inline constexpr std::uint16_t kDefaultRelayPort = 47476;
inline constexpr std::string_view kRelayPrologue = "hearth/relay/v1";
inline constexpr std::size_t kMailboxIdSize = 32;
using MailboxId = std::array<std::uint8_t, kMailboxIdSize>;
// A stream of a mailbox: an opaque id chosen by clients. The relay keeps
// blobs at places (mailbox, stream, seq), seq counting from 1.
inline constexpr std::size_t kStreamIdSize = 32;
using StreamId = std::array<std::uint8_t, kStreamIdSize>;

// The largest blob: a sealed record of the largest entry, with room to spare.
inline constexpr std::size_t kMaxBlob = (1 << 20) + 4096;
inline constexpr std::size_t kMaxBlobsPerPut = 1024;
// A Get answers with at most this many blobs, and this many bytes of them
// (but always one blob, however large, when one is held).
inline constexpr std::size_t kMaxBlobsPerGet = 1024;
inline constexpr std::size_t kMaxGetBytes = 1 << 20;
// Seqs are stored as SQLite integers: the last place of a Put must fit.
inline constexpr std::uint64_t kMaxSeq = INT64_MAX;

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
  kQuotaFull = 8,     // a Put that would take the mailbox over its bytes
  kStorage = 9,       // the relay's disk or database failed; nothing was kept
};

// The held places of one stream: seqs `first` to `last` (maybe with gaps).
struct StreamHead {
  StreamId stream{};
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool operator==(const StreamHead&) const = default;
};

// A mailbox as Heads shows it: its streams sorted by id, and its bytes.
struct MailboxHeadsView {
  std::vector<StreamHead> streams;
  std::uint64_t bytes_used = 0;
  std::uint64_t bytes_quota = 0;
};

// Blobs of consecutive places of a stream, the first at `first_seq`; zero
// and no blobs when nothing is held there.
struct BlobRun {
  std::uint64_t first_seq = 0;
  std::vector<Bytes> blobs;
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
  std::size_t pipe_buffer = 16 * 1024;      // bytes in flight per direction of a pipe (docs/benchmarks.md: memory per connection)
  // A message on a connection that opened a mailbox: one largest blob in a
  // Put, with room for the protobuf around it. Strangers stay at max_message.
  std::size_t max_store_message = (1 << 21) + (1 << 16);
  std::uint32_t expiry_sweep_ms = 3'600'000;  // how often expired blobs are deleted
};

// Limits of the store-and-forward mailbox (net/relay/store.h).
struct StoreLimits {
  std::uint64_t mailbox_bytes = 256ull << 20;  // blob bytes one mailbox may hold
  std::size_t streams_per_mailbox = 1024;
  std::int64_t expiry_s = 90ll * 24 * 3600;     // a blob is deleted this long after it was stored
};

}  // namespace hearth::relay
