#include "net/pairing.h"

#include <cstring>

namespace hearth::net {

namespace {

constexpr std::uint8_t kVersion = 1;

Error Bad(const char* what) {
  return MakeError(Errc::kInvalidInput, std::string("The pairing peer sent a malformed ") + what + ".");
}

// Reads from a byte view with bounds checks.
class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool Take(std::span<std::uint8_t> out) {
    if (b_.size() - pos_ < out.size()) return false;
    std::memcpy(out.data(), b_.data() + pos_, out.size());
    pos_ += out.size();
    return true;
  }
  bool Byte(std::uint8_t& v) { return Take({&v, 1}); }
  bool U64(std::uint64_t& v) {
    std::uint8_t raw[8];
    if (!Take(raw)) return false;
    v = GetU64Le(raw);
    return true;
  }
  bool String(std::string& s, std::size_t max) {
    std::uint8_t len = 0;
    if (!Byte(len) || len > max || b_.size() - pos_ < len) return false;
    s.assign(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return true;
  }
  bool Done() const { return pos_ == b_.size(); }

 private:
  ByteView b_;
  std::size_t pos_ = 0;
};

void PutString(Bytes& out, const std::string& s) {
  const std::size_t n = std::min<std::size_t>(s.size(), 255);
  out.push_back(static_cast<std::uint8_t>(n));
  Append(out, AsBytes(std::string_view(s).substr(0, n)));
}

}  // namespace

Bytes EncodeJoinRequest(const JoinRequest& r) {
  Bytes out{kVersion};
  PutU64Le(out, r.device.member);
  Append(out, r.device.sign_key);
  Append(out, r.device.dh_key);
  Append(out, r.device.private_feed);
  PutString(out, r.device.name);
  PutString(out, r.member_name.value_or(""));
  return out;
}

Result<JoinRequest> DecodeJoinRequest(ByteView bytes) {
  Reader in(bytes);
  JoinRequest r;
  std::uint8_t version = 0;
  std::string member_name;
  if (!in.Byte(version) || version != kVersion || !in.U64(r.device.member) || !in.Take(r.device.sign_key) ||
      !in.Take(r.device.dh_key) || !in.Take(r.device.private_feed) ||
      !in.String(r.device.name, node::kMaxNameBytes) || !in.String(member_name, node::kMaxNameBytes) ||
      !in.Done()) {
    return Bad("join request");
  }
  if (!member_name.empty()) r.member_name = member_name;
  return r;
}

crypto::SecretBytes EncodeGrant(const node::SpaceGrant& g) {
  const std::size_t feeds = g.trusted_feeds.size() + g.trusted_private_feeds.size();
  const std::size_t size = 2 + 16 + 32 + (g.member ? 40 : 0) + 2 + 32 * feeds;
  crypto::SecretBytes out(size);
  std::uint8_t* p = out.data();
  *p++ = kVersion;
  *p++ = g.member ? 2 : 1;
  std::memcpy(p, g.space_id.data(), 16);
  p += 16;
  std::memcpy(p, g.space_key.view().data(), 32);
  p += 32;
  if (g.member) {
    for (int i = 0; i < 8; ++i) *p++ = static_cast<std::uint8_t>(g.member->first >> (8 * i));
    std::memcpy(p, g.member->second.view().data(), 32);
    p += 32;
  }
  *p++ = static_cast<std::uint8_t>(g.trusted_feeds.size());
  *p++ = static_cast<std::uint8_t>(g.trusted_private_feeds.size());
  for (const auto* list : {&g.trusted_feeds, &g.trusted_private_feeds}) {
    for (const auto& f : *list) {
      std::memcpy(p, f.data(), 32);
      p += 32;
    }
  }
  return out;
}

Result<node::SpaceGrant> DecodeGrant(ByteView bytes) {
  Reader in(bytes);
  std::uint8_t version = 0, kind = 0, shared = 0, priv = 0;
  node::SpaceGrant g{{}, crypto::SymmetricKey::Generate(), std::nullopt, {}, {}};
  crypto::SecretBytes key(32);
  if (!in.Byte(version) || version != kVersion || !in.Byte(kind) || (kind != 1 && kind != 2) ||
      !in.Take(g.space_id) || !in.Take({key.data(), key.size()})) {
    return Bad("grant");
  }
  g.space_key = *crypto::SymmetricKey::FromBytes(key.view());
  if (kind == 2) {
    std::uint64_t member = 0;
    crypto::SecretBytes member_key(32);
    if (!in.U64(member) || member == 0 || !in.Take({member_key.data(), member_key.size()})) return Bad("grant");
    g.member.emplace(member, *crypto::SymmetricKey::FromBytes(member_key.view()));
  }
  if (!in.Byte(shared) || !in.Byte(priv) || shared + priv > node::kMaxTrustedFeeds || (kind == 1 && priv > 0)) {
    return Bad("grant");
  }
  for (int i = 0; i < shared + priv; ++i) {
    feed::FeedId f;
    if (!in.Take(f)) return Bad("grant");
    (i < shared ? g.trusted_feeds : g.trusted_private_feeds).push_back(f);
  }
  if (!in.Done() || g.trusted_feeds.empty()) return Bad("grant");
  return g;
}

}  // namespace hearth::net
