// Fuzz target: the messages of a pairing session (net/pairing.h), which a
// device reads from a peer that has only proven it holds an invite code:
// the joiner's JoinRequest and the inviter's Grant.
//
// Input: a mode byte (0: JoinRequest, 1: Grant), then the message.
//
// Properties: a message that decodes encodes to exactly the same bytes
// (the format has one encoding per value); a failure is kInvalidInput.
#include <algorithm>
#include <cstdlib>

#include "net/pairing.h"
#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {
namespace {

void CheckJoinRequest(ByteView bytes) {
  auto request = net::DecodeJoinRequest(bytes);
  if (!request.ok()) {
    HEARTH_FUZZ_CHECK(request.error().code == Errc::kInvalidInput, "a bad join request was not kInvalidInput");
    return;
  }
  HEARTH_FUZZ_CHECK(request->device.name.size() <= node::kMaxNameBytes, "a device name is too long");
  HEARTH_FUZZ_CHECK(!request->member_name || request->member_name->size() <= node::kMaxNameBytes,
                    "a member name is too long");
  const Bytes again = net::EncodeJoinRequest(*request);
  HEARTH_FUZZ_CHECK(std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()),
                    "a join request encodes differently");
}

void CheckGrant(ByteView bytes) {
  auto grant = net::DecodeGrant(bytes);
  if (!grant.ok()) {
    HEARTH_FUZZ_CHECK(grant.error().code == Errc::kInvalidInput, "a bad grant was not kInvalidInput");
    return;
  }
  HEARTH_FUZZ_CHECK(!grant->trusted_feeds.empty(), "a grant trusts no feed");
  HEARTH_FUZZ_CHECK(grant->trusted_feeds.size() + grant->trusted_private_feeds.size() <= node::kMaxTrustedFeeds,
                    "a grant trusts too many feeds");
  HEARTH_FUZZ_CHECK(grant->member || grant->trusted_private_feeds.empty(),
                    "a partner's grant hands over private feeds");
  const crypto::SecretBytes again = net::EncodeGrant(*grant);
  const ByteView encoded = again.view();
  HEARTH_FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()),
                    "a grant encodes differently");
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!hearth::crypto::Init().ok()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearth::fuzz;
  if (size == 0) return 0;
  const hearth::ByteView input(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    CheckJoinRequest(input);
  } else {
    CheckGrant(input);
  }
  return 0;
}
