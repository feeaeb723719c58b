// Fuzz target: invite codes as a person types them (net/invite_code.h) and
// the addresses a person gives on the command line (ParseEndpoint, and
// ParseAddress of net/transport.h).
//
// Input: a mode byte, then
//   0  text for DecodeInvite;
//   1  the binary body of a code: the harness appends its checksum and
//      writes it in the code's alphabet, so the fuzzer gets past the
//      checksum into the body's parser;
//   2  text for ParseEndpoint;
//   3  text for ParseAddress.
//
// Properties: a code that decodes encodes to a code that decodes to the
// same invite; a parsed address prints as text that parses to the same
// address; a failure is kInvalidInput.
#include <algorithm>
#include <cstdlib>

#include "net/invite_code.h"
#include "net/transport.h"
#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {
namespace {

void CheckInvite(std::string_view text) {
  auto code = net::DecodeInvite(text);
  if (!code.ok()) {
    HEARTH_FUZZ_CHECK(code.error().code == Errc::kInvalidInput, "a bad invite code was not kInvalidInput");
    return;
  }
  HEARTH_FUZZ_CHECK(code->endpoints.size() <= net::kMaxInviteEndpoints, "a code holds too many endpoints");
  const std::string again = net::EncodeInvite(*code);
  auto back = net::DecodeInvite(again);
  HEARTH_FUZZ_CHECK(back.ok(), "an encoded invite code does not decode");
  HEARTH_FUZZ_CHECK(*back == *code, "an invite changed through its text form");
  HEARTH_FUZZ_CHECK(net::InviteId(*back) == net::InviteId(*code), "an invite's id changed");
  for (const net::Endpoint& e : code->endpoints) {
    auto parsed = net::ParseEndpoint(net::FormatEndpoint(e));
    // Port 0 is refused on the command line but may sit in a code.
    if (e.port != 0) HEARTH_FUZZ_CHECK(parsed.ok() && *parsed == e, "an endpoint of a code does not print back");
  }
}


void CheckBody(ByteView body) {
  Bytes all(body.begin(), body.end());
  const crypto::Digest sum = crypto::Hash({body});
  all.insert(all.end(), sum.begin(), sum.begin() + 4);
  CheckInvite("hearth-" + hearth::net::Base32(all));
}

void CheckEndpoint(std::string_view text) {
  auto e = net::ParseEndpoint(text);
  if (!e.ok()) {
    HEARTH_FUZZ_CHECK(e.error().code == Errc::kInvalidInput, "a bad endpoint was not kInvalidInput");
    return;
  }
  HEARTH_FUZZ_CHECK(e->port != 0, "port 0 was accepted");
  if (!e->v6) {
    HEARTH_FUZZ_CHECK(std::all_of(e->addr.begin() + 4, e->addr.end(), [](std::uint8_t b) { return b == 0; }),
                      "an IPv4 endpoint has bytes past its address");
  }
  auto back = net::ParseEndpoint(net::FormatEndpoint(*e));
  HEARTH_FUZZ_CHECK(back.ok() && *back == *e, "an endpoint does not print back");
}

void CheckAddress(std::string_view text) {
  auto a = net::ParseAddress(text);
  if (!a.ok()) {
    HEARTH_FUZZ_CHECK(a.error().code == Errc::kInvalidInput, "a bad address was not kInvalidInput");
    return;
  }
  auto back = net::ParseAddress(net::FormatAddress(*a));
  HEARTH_FUZZ_CHECK(back.ok() && *back == *a, "an address does not print back");
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
  const std::string_view text = hearth::AsChars(input);
  switch (data[0] % 4) {
    case 0:
      CheckInvite(text);
      break;
    case 1:
      CheckBody(input);
      break;
    case 2:
      CheckEndpoint(text);
      break;
    default:
      CheckAddress(text);
      break;
  }
  return 0;
}
