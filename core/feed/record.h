// hearth::feed — the record: one signed, encrypted op batch in a device's
// append-only feed. Byte layout in docs/record-format.md.
//
//   body      = header || ciphertext
//   header    = version(1) scope(1) seq(8 LE) feed(32) prev(32) nonce(24) ct_len(4 LE)
//   ciphertext= XChaCha20-Poly1305(key(scope), nonce, plaintext=OpBatch, ad=header)
//   hash      = BLAKE2b-256("hearth/record/v1" || body)
//   signature = Ed25519(feed key, "hearth/head/v1" || feed || seq(8 LE) || hash)
//               (optional: see "signed heads" below)
//
// Seq starts at 1; prev of seq 1 is 32 zero bytes. Because each record's
// prev is the hash of the one before, a signature on record n vouches for
// records 1..n. So a device signs the last record of every transaction (and
// at least every kMaxUnsignedRun + 1 records) instead of every record. A
// record is accepted only if its header parses within bounds, its prev equals
// the hash of the record before it, it is covered by a later (or its own)
// valid signature, and its ciphertext opens. Records are stored as received
// and never re-encoded.
#pragma once

#include <cstdint>
#include <optional>

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

// Longest run of unsigned records a feed may contain before a signed one.
// It bounds how much a receiver must hold before it can trust anything.
inline constexpr std::uint64_t kMaxUnsignedRun = 255;
// and longest in bytes (record bodies): what a receiver may buffer per feed.
inline constexpr std::size_t kMaxUnsignedBytes = 1 << 20;

struct Record {
  Bytes body;
  std::optional<crypto::Signature> signature;  // absent: covered by a later record's
};

// The 64-bit tag of a feed (its first 8 bytes, big-endian): how ops name devices.
std::uint64_t DeviceTag(const FeedId& feed);

crypto::Digest RecordHash(ByteView body);
Bytes HeadMessage(const FeedId& feed, std::uint64_t seq, const crypto::Digest& hash);

// Parses and bounds-checks the header of `body`.
Result<Header> ParseHeader(ByteView body);

// The record key for a scope, derived from the space or member key.
crypto::SymmetricKey RecordKey(const crypto::SymmetricKey& scope_key);

enum class Signing { kSign, kUnsigned };

// Builds record `seq` of the signer's feed; signs its head unless kUnsigned.
Record Seal(const crypto::SigningKey& signer, const crypto::SymmetricKey& record_key, Scope scope,
            std::uint64_t seq, const crypto::Digest& prev, ByteView plaintext,
            Signing signing = Signing::kSign);

// Checks a record against its expected place (seq, prev) in `feed`: header,
// chain and, if it carries one, its signature. Does not decrypt. kIntegrity on
// any mismatch. An unsigned record is only trustworthy once a later signed
// record is verified after it: use FeedVerifier to walk a feed.
Status Verify(const Record& record, const FeedId& feed, std::uint64_t seq,
              const crypto::Digest& prev);

// Walks a feed in order from a trusted point (seq 1, or a head already
// verified), checking each record with Verify, and tracks which records a
// signature covers.
class FeedVerifier {
 public:
  explicit FeedVerifier(const FeedId& feed, std::uint64_t next_seq = 1, const crypto::Digest& prev = {})
      : feed_(feed), next_seq_(next_seq), prev_(prev), confirmed_(next_seq - 1) {}

  // The next record of the feed. kIntegrity if it is out of place, breaks the
  // chain, has a bad signature, or makes the unsigned run too long (more than
  // kMaxUnsignedRun records or kMaxUnsignedBytes of bodies).
  Status Add(const Record& record);
  // kIntegrity unless every record added so far is covered by a signature.
  Status Finish() const;

  std::uint64_t next_seq() const { return next_seq_; }
  const crypto::Digest& prev() const { return prev_; }
  // The highest seq covered by a verified signature.
  std::uint64_t confirmed() const { return confirmed_; }

 private:
  FeedId feed_;
  std::uint64_t next_seq_;
  crypto::Digest prev_;
  std::uint64_t confirmed_;
  std::size_t unsigned_bytes_ = 0;
};

// Decrypts a record's op batch (after Verify). kIntegrity if the tag fails.
Result<Bytes> OpenBody(ByteView body, const crypto::SymmetricKey& record_key);

}  // namespace hearth::feed
