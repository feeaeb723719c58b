// Tests for net/invite_code.h and net/beacon.h: the pure halves of pairing and LAN
// discovery. Formats: docs/pairing.md ("Invite code") and docs/discovery.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "core/base/bytes.h"
#include "core/crypto/crypto.h"
#include "net/beacon.h"
#include "net/invite_code.h"

namespace hearth::net {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kMistyped = "This invite code is mistyped";
constexpr std::string_view kNewer =
    "This invite code is from a newer Hearth; update Hearth to use it.";

class InviteBeaconTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().ok()); }
};

Endpoint V4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  Endpoint e;
  e.addr[0] = a;
  e.addr[1] = b;
  e.addr[2] = c;
  e.addr[3] = d;
  e.port = port;
  return e;
}

Endpoint V6(std::string_view text) {
  Result<Endpoint> e = ParseEndpoint(text);
  EXPECT_TRUE(e.ok()) << text;
  return e.ok() ? *e : Endpoint{};
}

std::vector<Endpoint> MixedEndpoints(std::size_t n) {
  const std::vector<Endpoint> all = {V4(192, 168, 1, 20, 41234),
                                     V6("[fe80::1c2a:3bff:fe4d:5e6f]:7"), V4(10, 0, 0, 1, 1),
                                     V6("[2001:db8::ff]:65535")};
  return {all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n)};
}

// A code with a fixed secret, so the exhaustive tests are deterministic.
InviteCode SampleCode() {
  InviteCode code;
  code.kind = InviteKind::kPartner;
  for (std::size_t i = 0; i < code.secret.size(); ++i) {
    code.secret[i] = static_cast<std::uint8_t>(0x5a ^ (i * 37));
  }
  code.endpoints = MixedEndpoints(2);
  return code;
}

// An independent base32 encoder (bit by bit), used as the oracle for the layout.
std::string TestBase32(ByteView bytes) {
  std::string out;
  std::size_t bits = bytes.size() * 8;
  for (std::size_t start = 0; start < bits; start += 5) {
    int v = 0;
    for (std::size_t i = start; i < start + 5; ++i) {
      int bit = i < bits ? (bytes[i / 8] >> (7 - i % 8)) & 1 : 0;
      v = v * 2 + bit;
    }
    out.push_back(kAlphabet[static_cast<std::size_t>(v)]);
  }
  return out;
}

// The text of an arbitrary body with a correct checksum appended.
std::string TextWithChecksum(Bytes body) {
  crypto::Digest digest = crypto::Hash({body});
  body.insert(body.end(), digest.begin(), digest.begin() + 4);
  return "hearth-" + TestBase32(body);
}

// The layout of docs/pairing.md, written out by hand.
Bytes BodyOf(std::uint8_t header, const InviteCode& code) {
  Bytes body = {header};
  body.insert(body.end(), code.secret.begin(), code.secret.end());
  body.push_back(static_cast<std::uint8_t>(code.endpoints.size()));
  for (const Endpoint& e : code.endpoints) {
    body.push_back(e.v6 ? 6 : 4);
    body.insert(body.end(), e.addr.begin(), e.addr.begin() + (e.v6 ? 16 : 4));
    body.push_back(static_cast<std::uint8_t>(e.port >> 8));
    body.push_back(static_cast<std::uint8_t>(e.port));
  }
  return body;
}

std::string Ungrouped(std::string_view text) {
  std::string out;
  for (char c : text.substr(std::string_view("hearth-").size())) {
    if (c != '-') out.push_back(c);
  }
  return out;
}

void ExpectMistyped(std::string_view text, const std::string& what) {
  Result<InviteCode> r = DecodeInvite(text);
  ASSERT_FALSE(r.ok()) << what << ": " << text;
  EXPECT_EQ(r.error().code, Errc::kInvalidInput);
  EXPECT_TRUE(r.error().message.starts_with(kMistyped)) << what << ": " << r.error().message;
}

// ---- invite codes ---------------------------------------------------------------------

TEST_F(InviteBeaconTest, RoundTripsWithZeroToFourEndpoints) {
  for (InviteKind kind : {InviteKind::kPartner, InviteKind::kDevice}) {
    for (std::size_t n = 0; n <= kMaxInviteEndpoints; ++n) {
      InviteCode code = NewInvite(kind, MixedEndpoints(n));
      std::string text = EncodeInvite(code);
      Result<InviteCode> back = DecodeInvite(text);
      ASSERT_TRUE(back.ok()) << text << ": " << back.error().message;
      EXPECT_EQ(*back, code) << text;
    }
  }
}

TEST_F(InviteBeaconTest, TextIsPrefixedGroupsOfFive) {
  std::string text = EncodeInvite(SampleCode());
  ASSERT_TRUE(text.starts_with("hearth-2"));  // version 1 always begins with '2'
  std::string_view rest = std::string_view(text).substr(7);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i % 6 == 5) {
      EXPECT_EQ(rest[i], '-') << text;
    } else {
      EXPECT_NE(kAlphabet.find(rest[i]), std::string_view::npos) << text;
    }
  }
  // The shortest code (no endpoint) is 26 bytes, 42 characters.
  EXPECT_EQ(Ungrouped(EncodeInvite(NewInvite(InviteKind::kDevice, {}))).size(), 42u);
}

TEST_F(InviteBeaconTest, EncodingFollowsTheDocumentedLayout) {
  for (std::size_t n = 0; n <= kMaxInviteEndpoints; ++n) {
    InviteCode code = NewInvite(InviteKind::kDevice, MixedEndpoints(n));
    EXPECT_EQ(Ungrouped(EncodeInvite(code)), Ungrouped(TextWithChecksum(BodyOf(0x12, code))));
  }
}

TEST_F(InviteBeaconTest, DecodingForgivesWhatPeopleTypeDifferently) {
  const InviteCode code = SampleCode();
  const std::string text = EncodeInvite(code);

  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  std::string spaced = text;
  std::replace(spaced.begin(), spaced.end(), '-', ' ');
  const std::string bare = Ungrouped(text);
  std::string look_alike = bare;
  const char* ones = "IiLl";
  for (std::size_t i = 0; i < look_alike.size(); ++i) {
    if (look_alike[i] == '0') look_alike[i] = (i % 2 == 0) ? 'O' : 'o';
    if (look_alike[i] == '1') look_alike[i] = ones[i % 4];
  }
  ASSERT_NE(look_alike, bare) << "the sample should contain a 0 or a 1";

  for (const std::string& variant :
       {lower, upper, spaced, bare, look_alike, "  " + text + "\n", "hearth " + bare,
        "HEARTH-" + bare, bare.substr(0, 10) + " - " + bare.substr(10)}) {
    Result<InviteCode> back = DecodeInvite(variant);
    ASSERT_TRUE(back.ok()) << variant << ": " << back.error().message;
    EXPECT_EQ(*back, code) << variant;
  }
}

TEST_F(InviteBeaconTest, EverySingleCharacterSubstitutionIsDetected) {
  const std::string text = EncodeInvite(SampleCode());
  int tried = 0;
  for (std::size_t pos = 7; pos < text.size(); ++pos) {
    if (text[pos] == '-') continue;
    for (char other : kAlphabet) {
      if (other == text[pos]) continue;
      std::string bad = text;
      bad[pos] = other;
      ExpectMistyped(bad, "position " + std::to_string(pos) + " as " + other);
      ++tried;
    }
    for (char stray : {'U', 'u', '*', '.', '\0', '\xc3'}) {
      std::string bad = text;
      bad[pos] = stray;
      ExpectMistyped(bad, "stray character at " + std::to_string(pos));
    }
  }
  EXPECT_EQ(tried, 31 * static_cast<int>(Ungrouped(text).size()));
}

TEST_F(InviteBeaconTest, TruncationAndExtensionAreDetected) {
  const std::string bare = Ungrouped(EncodeInvite(SampleCode()));
  for (std::size_t pos = 0; pos < bare.size(); ++pos) {
    std::string dropped = bare;
    dropped.erase(pos, 1);
    ExpectMistyped(dropped, "dropped " + std::to_string(pos));
    for (char extra : kAlphabet) {
      std::string inserted = bare;
      inserted.insert(pos, 1, extra);
      ExpectMistyped(inserted, "inserted at " + std::to_string(pos));
    }
  }
  for (std::size_t keep = 0; keep < bare.size(); ++keep) {
    ExpectMistyped(bare.substr(0, keep), "kept " + std::to_string(keep));
  }
  for (char extra : kAlphabet) ExpectMistyped(bare + extra, "appended");
  ExpectMistyped(bare + "00000000", "appended 5 zero bytes");
  ExpectMistyped("", "empty");
  ExpectMistyped("hearth-", "prefix only");
  ExpectMistyped("- -", "separators only");
}

TEST_F(InviteBeaconTest, NonZeroPaddingBitsAreRejected) {
  // 0 endpoints: 26 bytes = 208 bits in 42 characters, so the last one has 2 pad bits.
  InviteCode code = NewInvite(InviteKind::kPartner, {});
  std::string bare = Ungrouped(EncodeInvite(code));
  std::size_t last = kAlphabet.find(bare.back());
  ASSERT_EQ(last & 3u, 0u);
  bare.back() = kAlphabet[last | 1u];
  ExpectMistyped(bare, "padding bits set");
}

TEST_F(InviteBeaconTest, NewerVersionsAreReportedAsSuch) {
  const InviteCode code = SampleCode();
  for (std::uint8_t version : {2, 3, 15}) {
    Result<InviteCode> r =
        DecodeInvite(TextWithChecksum(BodyOf(static_cast<std::uint8_t>(version << 4 | 1), code)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kInvalidInput);
    EXPECT_EQ(r.error().message, kNewer);
  }
  // A newer version may have another body entirely; the envelope alone is enough.
  Result<InviteCode> r = DecodeInvite(TextWithChecksum({0x21}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, kNewer);
}

TEST_F(InviteBeaconTest, MalformedBodiesWithAValidChecksumAreRejected) {
  const InviteCode code = SampleCode();
  const Bytes good = BodyOf(0x11, code);
  ASSERT_TRUE(DecodeInvite(TextWithChecksum(good)).ok());

  ExpectMistyped(TextWithChecksum(BodyOf(0x01, code)), "version 0");
  for (std::uint8_t kind : {0, 3, 15}) {
    ExpectMistyped(TextWithChecksum(BodyOf(static_cast<std::uint8_t>(0x10 | kind), code)),
                   "kind " + std::to_string(kind));
  }
  const std::size_t count_at = 21;
  for (std::uint8_t count : {3, 5, 200, 255}) {  // more or fewer than the two present
    Bytes body = good;
    body[count_at] = count;
    ExpectMistyped(TextWithChecksum(body), "count " + std::to_string(count));
  }
  for (std::uint8_t family : {0, 5, 16, 255}) {
    Bytes body = good;
    body[count_at + 1] = family;
    ExpectMistyped(TextWithChecksum(body), "family " + std::to_string(family));
  }
  for (std::size_t size = 0; size < good.size(); ++size) {
    ExpectMistyped(TextWithChecksum(Bytes(good.begin(), good.begin() + size)),
                   "body cut to " + std::to_string(size));
  }
  Bytes longer = good;
  longer.push_back(0);
  ExpectMistyped(TextWithChecksum(longer), "trailing byte");
}

TEST_F(InviteBeaconTest, NewInviteMakesFreshSecretsAndKeepsFourEndpoints) {
  std::vector<Endpoint> five = MixedEndpoints(4);
  five.push_back(V4(127, 0, 0, 1, 80));
  InviteCode a = NewInvite(InviteKind::kPartner, five);
  InviteCode b = NewInvite(InviteKind::kPartner, five);
  EXPECT_NE(a.secret, b.secret);
  EXPECT_EQ(a.endpoints, MixedEndpoints(4));

  // EncodeInvite also encodes at most four, whatever the caller put in the struct.
  a.endpoints = five;
  Result<InviteCode> back = DecodeInvite(EncodeInvite(a));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->endpoints, MixedEndpoints(4));
}

TEST_F(InviteBeaconTest, InviteIdDependsOnlyOnTheSecret) {
  InviteCode a = SampleCode();
  InviteCode same_secret = a;
  same_secret.kind = InviteKind::kDevice;
  same_secret.endpoints.clear();
  EXPECT_EQ(InviteId(a), InviteId(same_secret));

  InviteCode other = a;
  other.secret[0] ^= 1;
  EXPECT_NE(InviteId(a), InviteId(other));

  crypto::Digest digest = crypto::Hash({AsBytes("hearth/invite-id/v1"), a.secret});
  const InviteIdBytes id = InviteId(a);
  EXPECT_TRUE(std::equal(id.begin(), id.end(), digest.begin()));
}

TEST_F(InviteBeaconTest, EndpointsFormatAndParse) {
  EXPECT_EQ(FormatEndpoint(V4(1, 2, 3, 4, 5)), "1.2.3.4:5");
  EXPECT_EQ(FormatEndpoint(V6("[::1]:5")), "[::1]:5");
  for (std::string_view text :
       {"1.2.3.4:5", "255.255.255.255:65535", "[::1]:5", "[2001:db8::ff]:443",
        "[fe80::1c2a:3bff:fe4d:5e6f]:47474", "[::ffff:1.2.3.4]:9"}) {
    Result<Endpoint> e = ParseEndpoint(text);
    ASSERT_TRUE(e.ok()) << text;
    EXPECT_EQ(FormatEndpoint(*e), text);
  }
  Result<Endpoint> v4 = ParseEndpoint("10.0.0.1:80");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(*v4, V4(10, 0, 0, 1, 80));

  for (std::string_view bad : {"",
                               "1.2.3.4",
                               "1.2.3.4:",
                               "1.2.3.4:0",
                               "1.2.3.4:65536",
                               "1.2.3.4:123456",
                               "1.2.3.4:-1",
                               "1.2.3.4:+1",
                               "1.2.3.4:8x",
                               "1.2.3:5",
                               "1.2.3.4.5:5",
                               "256.1.1.1:5",
                               "host:80",
                               "::1:5",
                               "[::1]5",
                               "[::1]:",
                               "[::1",
                               "[1.2.3.4]:5",
                               "[fe80::1%eth0]:5",
                               ":5",
                               "[]:5"}) {
    Result<Endpoint> e = ParseEndpoint(bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_EQ(e.error().code, Errc::kInvalidInput);
    }
  }
}

// ---- beacons --------------------------------------------------------------------------

Bytes TestKey(std::uint8_t fill) { return Bytes(kDiscoveryKeySize, fill); }

// The middle of a window, far from the epoch.
constexpr std::uint64_t kWindow = 5'700'000;
constexpr std::uint64_t kMidWindow = kWindow * kBeaconWindowSeconds + 150;

TEST_F(InviteBeaconTest, BeaconHasTheDocumentedShape) {
  Bytes beacon = MakeBeacon(TestKey(7), kMidWindow, 0xBEEF);
  ASSERT_EQ(beacon.size(), kBeaconSize);
  EXPECT_EQ(AsChars(ByteView(beacon).first(4)), "HRTH");
  EXPECT_EQ(beacon[4], 1);
  EXPECT_EQ(beacon[21], 0xBE);
  EXPECT_EQ(beacon[22], 0xEF);
}

TEST_F(InviteBeaconTest, BeaconMatchesInItsWindowAndTheAdjacentOnes) {
  const Bytes key = TestKey(7);
  Bytes beacon = MakeBeacon(key, kMidWindow, 41234);
  const std::uint64_t start = kWindow * kBeaconWindowSeconds;
  for (std::uint64_t now :
       {kMidWindow, start, start + 299, start - 1, start - 300, start + 300, start + 599}) {
    EXPECT_EQ(MatchBeacon(key, beacon, now), 41234) << now;
  }
  for (std::uint64_t now : {start - 301, start - 600, start + 600, kMidWindow + 600,
                            kMidWindow - 600, std::uint64_t{0}}) {
    EXPECT_EQ(MatchBeacon(key, beacon, now), std::nullopt) << now;
  }
}

TEST_F(InviteBeaconTest, BeaconAtTheEpochAndAtTheEndOfTime) {
  const Bytes key = TestKey(9);
  Bytes first = MakeBeacon(key, 0, 80);
  EXPECT_EQ(MatchBeacon(key, first, 0), 80);
  EXPECT_EQ(MatchBeacon(key, first, 599), 80);
  EXPECT_EQ(MatchBeacon(key, first, 600), std::nullopt);

  const std::uint64_t end = std::numeric_limits<std::uint64_t>::max();
  Bytes last = MakeBeacon(key, end, 80);
  EXPECT_EQ(MatchBeacon(key, last, end), 80);
  EXPECT_EQ(MatchBeacon(key, last, end - kBeaconWindowSeconds), 80);
}

TEST_F(InviteBeaconTest, BeaconDoesNotMatchUnderAnotherKey) {
  Bytes beacon = MakeBeacon(TestKey(7), kMidWindow, 41234);
  EXPECT_EQ(MatchBeacon(TestKey(8), beacon, kMidWindow), std::nullopt);
  Bytes close_key = TestKey(7);
  close_key[31] ^= 0x80;
  EXPECT_EQ(MatchBeacon(close_key, beacon, kMidWindow), std::nullopt);
  // A key of the wrong size matches nothing.
  EXPECT_EQ(MatchBeacon(ByteView(TestKey(7)).first(31), beacon, kMidWindow), std::nullopt);
  EXPECT_EQ(MatchBeacon({}, beacon, kMidWindow), std::nullopt);
}

TEST_F(InviteBeaconTest, TwoBeaconsOfOneNodeDiffer) {
  const Bytes key = TestKey(7);
  std::set<Bytes> seen;
  std::set<Bytes> tags;
  for (int i = 0; i < 100; ++i) {
    Bytes beacon = MakeBeacon(key, kMidWindow, 41234);
    EXPECT_TRUE(seen.insert(beacon).second);
    EXPECT_TRUE(tags.insert(Bytes(beacon.begin() + 5, beacon.begin() + 21)).second);
    EXPECT_EQ(MatchBeacon(key, beacon, kMidWindow), 41234);
  }
}

TEST_F(InviteBeaconTest, EveryChangedByteIsRejected) {
  const Bytes key = TestKey(7);
  const Bytes beacon = MakeBeacon(key, kMidWindow, 41234);
  for (std::size_t i = 0; i < beacon.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = beacon;
      bad[i] ^= static_cast<std::uint8_t>(1 << bit);
      EXPECT_EQ(MatchBeacon(key, bad, kMidWindow), std::nullopt)
          << "byte " << i << " bit " << bit;  // the port and nonce are inside the tag
    }
  }
}

TEST_F(InviteBeaconTest, MalformedDatagramsOfEveryLengthAreRejected) {
  const Bytes key = TestKey(7);
  const Bytes beacon = MakeBeacon(key, kMidWindow, 41234);
  const std::uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (std::size_t size = 0; size <= 64; ++size) {
    // Exactly `size` bytes on the heap, so a sanitizer sees any read past the end.
    Bytes noise(size);
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(MatchBeacon(key, noise, kMidWindow), std::nullopt) << size;

    // A real beacon cut short or extended.
    if (size == kBeaconSize) continue;
    Bytes resized = beacon;
    resized.resize(size, 0);
    EXPECT_EQ(MatchBeacon(key, resized, kMidWindow), std::nullopt) << size;
  }
  // Noise with the right size, magic and version still fails on the tag.
  for (int i = 0; i < 1000; ++i) {
    Bytes noise(kBeaconSize);
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
    std::copy_n(beacon.begin(), 5, noise.begin());
    EXPECT_EQ(MatchBeacon(key, noise, kMidWindow), std::nullopt);
  }
}

}  // namespace
}  // namespace hearth::net
