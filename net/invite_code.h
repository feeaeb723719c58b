// hearth::net — invite codes: the one line a partner reads aloud or retypes to pair.
//
// An invite code carries what a joining device needs to reach the inviter and to prove
// it holds the invite: a format version, what the invite is for (a partner or another
// device of the inviter), a 160-bit random secret, up to four addresses of the inviter
// and a checksum that catches typing mistakes. The byte layout and the text form are
// specified in docs/pairing.md, section "Invite code"; this module is pure (no sockets,
// no clock) and every function is thread-safe once crypto::Init() has returned.
//
// The secret is the invite: whoever holds the code can pair. Callers keep it out of logs
// and store only InviteId() next to the pending invite.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/result.h"

namespace hearth::net {

inline constexpr std::uint8_t kInviteVersion = 1;
inline constexpr std::size_t kInviteSecretSize = 20;  // 160 bits
inline constexpr std::size_t kMaxInviteEndpoints = 4;
inline constexpr std::size_t kInviteIdSize = 16;

// Who the invite lets in. A version-1 code carries one of these two values; new kinds
// come with a new format version.
enum class InviteKind : std::uint8_t {
  kPartner = 1,  // the inviter's partner, who becomes the second member of the space
  kDevice = 2,   // another device of the inviting member
};

// An IP address and TCP port. For IPv4 only the first 4 bytes of `addr` are used and
// the other 12 are zero (ParseEndpoint and DecodeInvite always leave them zero).
struct Endpoint {
  std::array<std::uint8_t, 16> addr{};
  bool v6 = false;
  std::uint16_t port = 0;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct InviteCode {
  InviteKind kind = InviteKind::kPartner;
  std::array<std::uint8_t, kInviteSecretSize> secret{};
  std::vector<Endpoint> endpoints;  // at most kMaxInviteEndpoints are encoded

  friend bool operator==(const InviteCode&, const InviteCode&) = default;
};

// A fresh invite with a random secret. Only the first kMaxInviteEndpoints endpoints
// are kept.
InviteCode NewInvite(InviteKind kind, std::vector<Endpoint> endpoints);

// The text form, e.g. "hearth-2....-.....-...": Crockford base32 in groups of five.
// Only the first kMaxInviteEndpoints endpoints are encoded.
std::string EncodeInvite(const InviteCode& code);

// `bytes` in the invite code's base32 alphabet (Crockford's), most significant
// bit first, without checksum or grouping (for tools and tests).
std::string Base32(ByteView bytes);

// Reads a code as a person typed it: case does not matter, O is read as 0, I and L as 1,
// spaces and dashes are ignored and the "hearth-" prefix is optional. Fails with
// kInvalidInput and a message starting "This invite code is mistyped" when a character
// is not in the alphabet, the length is impossible or the checksum does not match, and
// with "This invite code is from a newer Hearth" when the version is above ours.
Result<InviteCode> DecodeInvite(std::string_view text);

// A public handle for an invite: the first 16 bytes of
// BLAKE2b-256("hearth/invite-id/v1" || secret). A node files a pending invite under
// this id, so its store never holds the secret in the clear; it reveals nothing about
// the secret.
using InviteIdBytes = std::array<std::uint8_t, kInviteIdSize>;
InviteIdBytes InviteId(const InviteCode& code);

// "1.2.3.4:5" or "[2001:db8::1]:5".
std::string FormatEndpoint(const Endpoint& endpoint);

// The inverse of FormatEndpoint. IPv6 addresses must be in brackets; the port must be
// 1 to 65535. Fails with kInvalidInput.
Result<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace hearth::net
