// Fuzz target: LAN discovery beacons (net/beacon.h), as a node reads every
// datagram that arrives on the beacon port.
//
// Input: a mode byte, then
//   0  a datagram, matched under the fixed discovery key at the fixed time
//      make_corpus made its beacons for;
//   1  the receiver's clock (8 bytes) and a datagram;
//   2  a sender's clock (8 bytes), a receiver's clock (8 bytes) and a port
//      (2 bytes): a beacon made with the real MakeBeacon must match exactly
//      when the two clocks are at most one window apart.
//
// Properties: a match gives the port written in the datagram, and only a
// datagram of the beacon size, magic and version can match; a key of the
// wrong size never matches.
#include <cstdlib>
#include <cstring>

#include "net/beacon.h"
#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {
namespace {

// Make_corpus's beacons were made at this time.
constexpr std::uint64_t kSeedTime = 1'795'000'000;

const crypto::SymmetricKey& DiscoveryKey() {
  static const crypto::SymmetricKey key = FixedSymmetricKey("discovery-key");
  return key;
}

std::uint64_t TakeU64(ByteView& data) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8 && !data.empty(); ++i) {
    v = (v << 8) | data[0];
    data = data.subspan(1);
  }
  return v;
}

void CheckDatagram(ByteView datagram, std::uint64_t now) {
  const auto port = net::MatchBeacon(DiscoveryKey().view(), datagram, now);
  if (port) {
    HEARTH_FUZZ_CHECK(datagram.size() == net::kBeaconSize, "a datagram of the wrong size matched");
    HEARTH_FUZZ_CHECK(std::memcmp(datagram.data(), "HRTH", 4) == 0 && datagram[4] == 1,
                      "a datagram without the magic and version matched");
    HEARTH_FUZZ_CHECK(*port == ((datagram[21] << 8) | datagram[22]), "a match gave another port");
  }
  // A key of the wrong size never matches anything.
  HEARTH_FUZZ_CHECK(!net::MatchBeacon(DiscoveryKey().view().first(31), datagram, now),
                    "a short key matched");
}

void CheckWindows(ByteView data) {
  const std::uint64_t sent_at = TakeU64(data);
  const std::uint64_t now = TakeU64(data);
  const auto port = static_cast<std::uint16_t>(TakeU64(data));
  const Bytes beacon = net::MakeBeacon(DiscoveryKey().view(), sent_at, port);
  HEARTH_FUZZ_CHECK(beacon.size() == net::kBeaconSize, "a beacon has the wrong size");
  const std::uint64_t w_sent = sent_at / net::kBeaconWindowSeconds;
  const std::uint64_t w_now = now / net::kBeaconWindowSeconds;
  const bool near = (w_sent > w_now ? w_sent - w_now : w_now - w_sent) <= 1;
  const auto matched = net::MatchBeacon(DiscoveryKey().view(), beacon, now);
  HEARTH_FUZZ_CHECK(matched.has_value() == near, "a beacon matched in the wrong windows");
  if (matched) HEARTH_FUZZ_CHECK(*matched == port, "a beacon gave another port");
  CheckDatagram(beacon, now);
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
  hearth::ByteView input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckDatagram(input, kSeedTime);
      break;
    case 1: {
      const std::uint64_t now = TakeU64(input);
      CheckDatagram(input, now);
      break;
    }
    default:
      CheckWindows(input);
      break;
  }
  return 0;
}
