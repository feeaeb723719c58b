#include "net/invite_code.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "core/base/bytes.h"
#include "core/crypto/crypto.h"

namespace hearth::net {

// Binary layout, version 1 (docs/pairing.md, "Invite code"); integers are big-endian:
//
//   offset  size  field
//   0       1     version << 4 | kind        version 1; kind 1 partner, 2 device
//   1       20    secret
//   21      1     endpoint count n           0..4
//   22      ...   n endpoints, each:
//                   1   family               4 or 6
//                   4|16 address             network byte order
//                   2   port                 big-endian
//   end-4   4     checksum                   first 4 bytes of BLAKE2b-256(all bytes before)
//
// Every version keeps the first byte's high nibble as the version and the trailing
// 4-byte checksum over everything before it, so a reader can tell a mistyped code from
// one made by a newer Hearth before it parses the rest.

namespace {

constexpr std::size_t kChecksumSize = 4;
constexpr std::uint8_t kFamilyV4 = 4;
constexpr std::uint8_t kFamilyV6 = 6;
constexpr std::string_view kTextPrefix = "hearth-";
constexpr std::size_t kGroupSize = 5;

// Crockford's base32 alphabet: digits and letters without I, L, O and U.
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

constexpr std::string_view kCheckAdvice = "check it letter by letter, or ask for a new one.";

Error Mistyped(std::string_view detail = {}) {
  std::string message = "This invite code is mistyped: ";
  if (!detail.empty()) {
    message += detail;
    message += "; ";
  }
  message += kCheckAdvice;
  return MakeError(Errc::kInvalidInput, std::move(message));
}

Error FromNewerHearth() {
  return MakeError(Errc::kInvalidInput,
                   "This invite code is from a newer Hearth; update Hearth to use it.");
}

// ---- Crockford base32 -------------------------------------------------------------

// The value of an upper-case symbol, reading O as 0 and I, L as 1; -1 if not a symbol.
int SymbolValue(char c) {
  if (c == 'O') return 0;
  if (c == 'I' || c == 'L') return 1;
  std::size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Bytes to symbols, most significant bit first; the last symbol is padded with zero
// bits.
std::string ToBase32(ByteView bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> bits) & 0x1f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

// Symbol values back to bytes. A valid encoding has fewer than 5 bits left over after
// the last whole byte, and those bits are zero; anything else means a symbol was added,
// dropped or changed.
std::optional<Bytes> FromBase32(const std::vector<std::uint8_t>& values) {
  std::size_t total_bits = values.size() * 5;
  std::size_t leftover = total_bits % 8;
  if (leftover >= 5) return std::nullopt;
  Bytes out;
  out.reserve(total_bits / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t v : values) {
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  std::uint32_t padding = buffer & ((1u << bits) - 1);
  if (padding != 0) return std::nullopt;
  return out;
}

char ToUpperAscii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool IsIgnored(char c) { return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Drops separators and upper-cases. The "HEARTH" prefix is then removed if present: it
// cannot be mistaken for data, because the first symbol of a code of any version below
// 8 is a digit (it holds the version's high bits).
std::string Normalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!IsIgnored(c)) out.push_back(ToUpperAscii(c));
  }
  constexpr std::string_view kUpperPrefix = "HEARTH";
  if (std::string_view(out).starts_with(kUpperPrefix)) out.erase(0, kUpperPrefix.size());
  return out;
}

Result<Bytes> TextToBytes(std::string_view text) {
  std::string symbols = Normalize(text);
  if (symbols.empty()) return Mistyped("it is empty");
  std::vector<std::uint8_t> values;
  values.reserve(symbols.size());
  for (char c : symbols) {
    int v = SymbolValue(c);
    if (v < 0) {
      bool printable = c > ' ' && c < 0x7f;
      return Mistyped(printable ? "'" + std::string(1, c) + "' is not used in invite codes"
                                : "it contains a character not used in invite codes");
    }
    values.push_back(static_cast<std::uint8_t>(v));
  }
  std::optional<Bytes> bytes = FromBase32(values);
  if (!bytes) return Mistyped("a character is missing, extra or wrong at the end");
  return *std::move(bytes);
}

// ---- binary form --------------------------------------------------------------------

std::array<std::uint8_t, kChecksumSize> Checksum(ByteView body) {
  crypto::Digest digest = crypto::Hash({body});
  std::array<std::uint8_t, kChecksumSize> out;
  std::copy_n(digest.begin(), kChecksumSize, out.begin());
  return out;
}

std::size_t AddressSize(bool v6) { return v6 ? 16 : 4; }

void PutEndpoint(Bytes& out, const Endpoint& e) {
  out.push_back(e.v6 ? kFamilyV6 : kFamilyV4);
  out.insert(out.end(), e.addr.begin(), e.addr.begin() + AddressSize(e.v6));
  out.push_back(static_cast<std::uint8_t>(e.port >> 8));
  out.push_back(static_cast<std::uint8_t>(e.port));
}

Bytes ToBinary(const InviteCode& code) {
  std::size_t count = std::min(code.endpoints.size(), kMaxInviteEndpoints);
  Bytes out;
  out.push_back(
      static_cast<std::uint8_t>((kInviteVersion << 4) | static_cast<std::uint8_t>(code.kind)));
  out.insert(out.end(), code.secret.begin(), code.secret.end());
  out.push_back(static_cast<std::uint8_t>(count));
  for (std::size_t i = 0; i < count; ++i) PutEndpoint(out, code.endpoints[i]);
  auto checksum = Checksum(out);
  out.insert(out.end(), checksum.begin(), checksum.end());
  return out;
}

// A cursor over the body that never reads past its end.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  // The next `n` bytes, or nullopt (and nothing consumed) if fewer remain.
  std::optional<ByteView> Take(std::size_t n) {
    if (n > data_.size() - pos_) return std::nullopt;
    ByteView out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};

std::optional<Endpoint> ReadEndpoint(Reader& reader) {
  auto family = reader.Take(1);
  if (!family || ((*family)[0] != kFamilyV4 && (*family)[0] != kFamilyV6)) return std::nullopt;
  Endpoint e;
  e.v6 = (*family)[0] == kFamilyV6;
  auto addr = reader.Take(AddressSize(e.v6));
  auto port = reader.Take(2);
  if (!addr || !port) return std::nullopt;
  std::copy(addr->begin(), addr->end(), e.addr.begin());
  e.port = static_cast<std::uint16_t>((*port)[0] << 8 | (*port)[1]);
  return e;
}

// Parses a version-1 body (everything before the checksum, already verified).
std::optional<InviteCode> ParseBodyV1(ByteView body) {
  Reader reader(body);
  auto header = reader.Take(1);
  auto secret = reader.Take(kInviteSecretSize);
  auto count = reader.Take(1);
  if (!header || !secret || !count) return std::nullopt;
  std::uint8_t kind = (*header)[0] & 0x0f;
  if (kind != static_cast<std::uint8_t>(InviteKind::kPartner) &&
      kind != static_cast<std::uint8_t>(InviteKind::kDevice)) {
    return std::nullopt;
  }
  if ((*count)[0] > kMaxInviteEndpoints) return std::nullopt;
  InviteCode code;
  code.kind = static_cast<InviteKind>(kind);
  std::copy(secret->begin(), secret->end(), code.secret.begin());
  for (std::size_t i = 0; i < (*count)[0]; ++i) {
    std::optional<Endpoint> e = ReadEndpoint(reader);
    if (!e) return std::nullopt;
    code.endpoints.push_back(*e);
  }
  if (!reader.AtEnd()) return std::nullopt;
  return code;
}

std::string GroupForReading(std::string_view symbols) {
  std::string out(kTextPrefix);
  for (std::size_t i = 0; i < symbols.size(); i += kGroupSize) {
    if (i > 0) out.push_back('-');
    out.append(symbols.substr(i, kGroupSize));
  }
  return out;
}

}  // namespace

std::string Base32(ByteView bytes) { return ToBase32(bytes); }

InviteCode NewInvite(InviteKind kind, std::vector<Endpoint> endpoints) {
  InviteCode code;
  code.kind = kind;
  crypto::RandomBytes(code.secret);
  if (endpoints.size() > kMaxInviteEndpoints) endpoints.resize(kMaxInviteEndpoints);
  code.endpoints = std::move(endpoints);
  return code;
}

std::string EncodeInvite(const InviteCode& code) {
  return GroupForReading(ToBase32(ToBinary(code)));
}

Result<InviteCode> DecodeInvite(std::string_view text) {
  HEARTH_ASSIGN_OR_RETURN(Bytes bytes, TextToBytes(text));
  // The shortest thing any version can be: a header byte and the checksum.
  if (bytes.size() < 1 + kChecksumSize) return Mistyped("it is too short");
  ByteView all(bytes);
  ByteView body = all.first(bytes.size() - kChecksumSize);
  ByteView checksum = all.last(kChecksumSize);
  auto expected = Checksum(body);
  if (!std::equal(checksum.begin(), checksum.end(), expected.begin())) return Mistyped();
  std::uint8_t version = body[0] >> 4;
  if (version > kInviteVersion) return FromNewerHearth();
  if (version < kInviteVersion) return Mistyped();
  std::optional<InviteCode> code = ParseBodyV1(body);
  if (!code) return Mistyped();
  return *std::move(code);
}

InviteIdBytes InviteId(const InviteCode& code) {
  crypto::Digest digest = crypto::Hash({AsBytes("hearth/invite-id/v1"), code.secret});
  InviteIdBytes id;
  std::copy_n(digest.begin(), kInviteIdSize, id.begin());
  return id;
}

std::string FormatEndpoint(const Endpoint& endpoint) {
  char buf[INET6_ADDRSTRLEN] = {};
  int family = endpoint.v6 ? AF_INET6 : AF_INET;
  if (inet_ntop(family, endpoint.addr.data(), buf, sizeof buf) == nullptr) return "?";
  std::string host(buf);
  if (endpoint.v6) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  auto invalid = [&] {
    return MakeError(Errc::kInvalidInput,
                     "\"" + std::string(text) +
                         "\" is not an address; write it as 1.2.3.4:port or [ipv6]:port.");
  };
  std::string_view host;
  std::string_view port_text;
  bool v6 = !text.empty() && text.front() == '[';
  if (v6) {
    std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return invalid();
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid();
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  // Digits only: from_chars alone would accept a leading minus sign or stop early.
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid();
  }
  unsigned port = 0;
  std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port == 0 || port > 65535) return invalid();

  Endpoint e;
  e.v6 = v6;
  e.port = static_cast<std::uint16_t>(port);
  std::string host_z(host);  // inet_pton needs a terminated string
  if (inet_pton(v6 ? AF_INET6 : AF_INET, host_z.c_str(), e.addr.data()) != 1) return invalid();
  return e;
}

}  // namespace hearth::net
