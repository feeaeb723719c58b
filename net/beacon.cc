#include "net/beacon.h"

#include <algorithm>
#include <array>
#include <cassert>

#include "core/crypto/crypto.h"

namespace hearth::net {

// Packet layout (docs/discovery.md), 31 bytes:
//
//   offset  size  field
//   0       4     magic "HRTH"
//   4       1     version, 1
//   5       16    tag
//   21      2     TCP port, big-endian
//   23      8     nonce, random per beacon
//
// tag = first 16 bytes of
//       BLAKE2b-256(discovery key (32) || "hearth/beacon/v1" || window (u64 LE) ||
//                   port (u16 BE) || nonce (8)),   window = unix seconds / 300.
//
// Why a hash over key || message and not BLAKE2b's keyed mode: the crypto module offers
// only the unkeyed hash, and for BLAKE2b the secret-prefix construction is a sound PRF,
// because BLAKE2b marks its final block and so has no length extension (the weakness
// that makes key || message unsafe with SHA-256). Every field has a fixed size, so the
// concatenation is unambiguous. The port is inside the tag so that nobody without the
// key can redirect a captured beacon to another port.

namespace {

constexpr std::string_view kMagic = "HRTH";
constexpr std::uint8_t kVersion = 1;
constexpr std::string_view kDomain = "hearth/beacon/v1";
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kNonceSize = 8;

constexpr std::size_t kMagicOffset = 0;
constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kTagOffset = 5;
constexpr std::size_t kPortOffset = kTagOffset + kTagSize;
constexpr std::size_t kNonceOffset = kPortOffset + 2;
static_assert(kNonceOffset + kNonceSize == kBeaconSize);

using Tag = std::array<std::uint8_t, kTagSize>;

Tag ComputeTag(ByteView key, std::uint64_t window, std::uint16_t port, ByteView nonce) {
  Bytes window_le;
  PutU64Le(window_le, window);
  const std::array<std::uint8_t, 2> port_be = {static_cast<std::uint8_t>(port >> 8),
                                               static_cast<std::uint8_t>(port)};
  crypto::Digest digest = crypto::Hash({key, AsBytes(kDomain), window_le, port_be, nonce});
  Tag tag;
  std::copy_n(digest.begin(), kTagSize, tag.begin());
  return tag;
}

// Compares without an early exit, so the time taken does not reveal how many leading
// bytes of a forged tag were right.
bool TagsEqual(ByteView a, const Tag& b) {
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < kTagSize; ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace

Bytes MakeBeacon(ByteView discovery_key, std::uint64_t unix_seconds, std::uint16_t port) {
  assert(discovery_key.size() == kDiscoveryKeySize);
  std::array<std::uint8_t, kNonceSize> nonce;
  crypto::RandomBytes(nonce);
  Tag tag = ComputeTag(discovery_key, unix_seconds / kBeaconWindowSeconds, port, nonce);

  Bytes out;
  out.reserve(kBeaconSize);
  Append(out, AsBytes(kMagic));
  out.push_back(kVersion);
  Append(out, tag);
  out.push_back(static_cast<std::uint8_t>(port >> 8));
  out.push_back(static_cast<std::uint8_t>(port));
  Append(out, nonce);
  return out;
}

std::optional<std::uint16_t> MatchBeacon(ByteView discovery_key, ByteView datagram,
                                         std::uint64_t unix_seconds) {
  if (discovery_key.size() != kDiscoveryKeySize) return std::nullopt;
  // The size check comes first: every read below is within kBeaconSize bytes.
  if (datagram.size() != kBeaconSize) return std::nullopt;
  if (AsChars(datagram.subspan(kMagicOffset, kMagic.size())) != kMagic) return std::nullopt;
  if (datagram[kVersionOffset] != kVersion) return std::nullopt;

  ByteView tag = datagram.subspan(kTagOffset, kTagSize);
  auto port = static_cast<std::uint16_t>((datagram[kPortOffset] << 8) | datagram[kPortOffset + 1]);
  ByteView nonce = datagram.subspan(kNonceOffset, kNonceSize);

  // The sender's window may be one behind or ahead of ours (clock skew). Window 0 has
  // no predecessor; window + 1 cannot wrap, since a window is at most 2^64 / 300.
  const std::uint64_t window = unix_seconds / kBeaconWindowSeconds;
  const std::uint64_t first = window == 0 ? 0 : window - 1;
  for (std::uint64_t w = first; w <= window + 1; ++w) {
    if (TagsEqual(tag, ComputeTag(discovery_key, w, port, nonce))) return port;
  }
  return std::nullopt;
}

}  // namespace hearth::net
