// hearth::net pairing messages — what travels inside the XXpsk3 session that
// an invite code keys (docs/pairing.md, "The pairing session").
//
//   JoinRequest (joiner -> inviter, in handshake message 3):
//     version(1)=1 | member id(8 LE; 0 for a partner, who is a new member)
//     | sign key(32) | dh key(32) | private feed key(32)
//     | device name length(1) | device name | member name length(1) | member name
//   Grant (inviter -> joiner, first transport message):
//     version(1)=1 | kind(1: 1 partner, 2 own device) | space id(16) | space key(32)
//     | [own device: member id(8 LE) | member key(32)]
//     | shared feed count(1) | private feed count(1) | feeds(32 each)
//
// Decoders check every length and count against the bytes present and the
// bounds below before reading, and refuse trailing bytes.
#pragma once

#include <optional>
#include <string>

#include "core/base/result.h"
#include "core/crypto/crypto.h"
#include "core/node/node.h"

namespace hearth::net {

struct JoinRequest {
  node::NewDevice device;             // member = 0 for a partner (the inviter assigns nothing)
  std::optional<std::string> member_name;  // partners only
};

Bytes EncodeJoinRequest(const JoinRequest& request);
Result<JoinRequest> DecodeJoinRequest(ByteView bytes);

crypto::SecretBytes EncodeGrant(const node::SpaceGrant& grant);
Result<node::SpaceGrant> DecodeGrant(ByteView bytes);

// The pre-handshake exchange: the joiner names the invite (a public id), the
// inviter answers with one status byte.
enum class InviteAnswer : std::uint8_t { kProceed = 0, kUnknown = 1, kUsed = 2, kExpired = 3 };
inline constexpr std::size_t kInviteHelloSize = 4 + 1 + 16;  // "HRTJ" | version | invite id

}  // namespace hearth::net
