// hearth::feed — the record: one signed, encrypted op batch in a device's
// append-only feed. Byte layout in docs/record-format.md.
//
//   body      = header || ciphertext
//   header    = version(1) scope(1) seq(8 LE) feed(32) prev(32) nonce(24) ct_len(4 LE)
//   ciphertext= XChaCha20-Poly1305(key(scope), nonce, plaintext=OpBatch, ad=header)
//   hash      = BLAKE2b-256("hearth/record/v1" || body)
//   signature = Ed25519(feed key, "hearth/head/v1" || feed || seq(8 LE) || hash)
//
// Seq starts at 1; prev of seq 1 is 32 zero bytes. A record is accepted only
// if its header parses within bounds, its prev equals the hash of the record
// before it, its signature verifies under the feed's key, and its ciphertext
// opens. Records are stored as received and never re-encoded.
#pragma once

#include <cstdint>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::feed {

enum class Scope : std::uint8_t {
  kShared = 0,   // encrypted under the space key: every device of the space
  kPrivate = 1,  // encrypted under the author's member key: the author's devices only
};

inline constexpr std::uint8_t kRecordVersion = 1;
inline constexpr std::size_t kHeaderSize = 1 + 1 + 8 + 32 + 32 + 24 + 4;
// Bound on one record's plaintext (an op batch). Larger batches are split.
inline constexpr std::size_t kMaxPlaintext = 1 << 20;
inline constexpr std::size_t kMaxBody = kHeaderSize + kMaxPlaintext + crypto::kTagSize;

using FeedId = crypto::PublicKey;  // the device's Ed25519 public key

struct Header {
  std::uint8_t version = kRecordVersion;
  Scope scope = Scope::kShared;
  std::uint64_t seq = 0;
  FeedId feed{};
  crypto::Digest prev{};
  crypto::Nonce nonce{};
  std::uint32_t ct_len = 0;
};

struct Record {
  Bytes body;
  crypto::Signature signature{};
};

// The 64-bit tag of a feed (its first 8 bytes, big-endian): how ops name devices.
std::uint64_t DeviceTag(const FeedId& feed);

crypto::Digest RecordHash(ByteView body);
Bytes HeadMessage(const FeedId& feed, std::uint64_t seq, const crypto::Digest& hash);

// Parses and bounds-checks the header of `body`.
Result<Header> ParseHeader(ByteView body);

// The record key for a scope, derived from the space or member key.
crypto::SymmetricKey RecordKey(const crypto::SymmetricKey& scope_key);

// Builds and signs record `seq` of the signer's feed.
Record Seal(const crypto::SigningKey& signer, const crypto::SymmetricKey& record_key, Scope scope,
            std::uint64_t seq, const crypto::Digest& prev, ByteView plaintext);

// Checks a record against its expected place (seq, prev) in `feed`: header,
// chain and signature. Does not decrypt. kIntegrity on any mismatch.
Status Verify(const Record& record, const FeedId& feed, std::uint64_t seq,
              const crypto::Digest& prev);

// Decrypts a record's op batch (after Verify). kIntegrity if the tag fails.
Result<Bytes> OpenBody(ByteView body, const crypto::SymmetricKey& record_key);

}  // namespace hearth::feed
