#include "core/feed/record.h"

#include <algorithm>
#include <cstring>

namespace hearth::feed {

namespace {
constexpr std::string_view kRecordDomain = "hearth/record/v1";
constexpr std::string_view kHeadDomain = "hearth/head/v1";

Bytes EncodeHeader(const Header& h) {
  Bytes out;
  out.reserve(kHeaderSize);
  out.push_back(h.version);
  out.push_back(static_cast<std::uint8_t>(h.scope));
  PutU64Le(out, h.seq);
  Append(out, h.feed);
  Append(out, h.prev);
  Append(out, h.nonce);
  PutU32Le(out, h.ct_len);
  return out;
}

Error Damaged(std::uint64_t seq, std::string_view what) {
  return MakeError(Errc::kIntegrity, "Record " + std::to_string(seq) + " of a feed " +
                                         std::string(what) + ": the data was tampered with or is corrupt.");
}
}  // namespace

std::uint64_t DeviceTag(const FeedId& feed) { return GetU64Be(feed.data()); }

crypto::Digest RecordHash(ByteView body) { return crypto::Hash({AsBytes(kRecordDomain), body}); }

Bytes HeadMessage(const FeedId& feed, std::uint64_t seq, const crypto::Digest& hash) {
  Bytes m;
  m.reserve(kHeadDomain.size() + 32 + 8 + 32);
  Append(m, AsBytes(kHeadDomain));
  Append(m, feed);
  PutU64Le(m, seq);
  Append(m, hash);
  return m;
}

Result<Header> ParseHeader(ByteView body) {
  if (body.size() < kHeaderSize + crypto::kTagSize || body.size() > kMaxBody) {
    return MakeError(Errc::kIntegrity, "A record has an impossible size.");
  }
  Header h;
  const std::uint8_t* p = body.data();
  h.version = p[0];
  if (h.version != kRecordVersion) {
    return MakeError(Errc::kIntegrity, "A record has an unknown format version.");
  }
  if (p[1] > static_cast<std::uint8_t>(Scope::kPrivate)) {
    return MakeError(Errc::kIntegrity, "A record has an unknown scope.");
  }
  h.scope = static_cast<Scope>(p[1]);
  h.seq = GetU64Le(p + 2);
  std::memcpy(h.feed.data(), p + 10, 32);
  std::memcpy(h.prev.data(), p + 42, 32);
  std::memcpy(h.nonce.data(), p + 74, 24);
  h.ct_len = GetU32Le(p + 98);
  if (h.ct_len != body.size() - kHeaderSize) {
    return MakeError(Errc::kIntegrity, "A record's length field does not match its size.");
  }
  return h;
}

crypto::SymmetricKey RecordKey(const crypto::SymmetricKey& scope_key) {
  return scope_key.Derive(1, "hrecord1");
}

Record Seal(const crypto::SigningKey& signer, const crypto::SymmetricKey& record_key, Scope scope,
            std::uint64_t seq, const crypto::Digest& prev, ByteView plaintext, Signing signing) {
  Header h;
  h.scope = scope;
  h.seq = seq;
  h.feed = signer.public_key();
  h.prev = prev;
  h.nonce = crypto::RandomNonce();
  h.ct_len = static_cast<std::uint32_t>(plaintext.size() + crypto::kTagSize);
  Record r;
  r.body = EncodeHeader(h);
  Bytes ct = crypto::Seal(record_key, h.nonce, plaintext, ByteView(r.body));
  Append(r.body, ct);
  if (signing == Signing::kSign) r.signature = signer.Sign(HeadMessage(h.feed, seq, RecordHash(r.body)));
  return r;
}

Status Verify(const Record& record, const FeedId& feed, std::uint64_t seq,
              const crypto::Digest& prev) {
  HEARTH_ASSIGN_OR_RETURN(Header h, ParseHeader(record.body));
  if (h.feed != feed || h.seq != seq) return Damaged(seq, "is out of place");
  if (h.prev != prev) return Damaged(seq, "does not follow the record before it");
  if (record.signature &&
      !crypto::VerifySignature(feed, HeadMessage(feed, seq, RecordHash(record.body)), *record.signature)) {
    return Damaged(seq, "has a bad signature");
  }
  return {};
}

Status FeedVerifier::Add(const Record& record) {
  HEARTH_TRY(Verify(record, feed_, next_seq_, prev_));
  if (record.signature) {
    confirmed_ = next_seq_;
    unsigned_bytes_ = 0;
  } else {
    unsigned_bytes_ += record.body.size();
    if (next_seq_ - confirmed_ > kMaxUnsignedRun || unsigned_bytes_ > kMaxUnsignedBytes) {
      return Damaged(next_seq_, "ends too long a run of unsigned records");
    }
  }
  prev_ = RecordHash(record.body);
  ++next_seq_;
  return {};
}

Status FeedVerifier::Finish() const {
  if (confirmed_ + 1 != next_seq_) return Damaged(next_seq_ - 1, "is not covered by any signature");
  return {};
}

Result<Bytes> OpenBody(ByteView body, const crypto::SymmetricKey& record_key) {
  HEARTH_ASSIGN_OR_RETURN(Header h, ParseHeader(body));
  auto plain = crypto::Open(record_key, h.nonce, body.subspan(kHeaderSize),
                            body.subspan(0, kHeaderSize));
  if (!plain) return Damaged(h.seq, "failed decryption");
  return std::move(*plain);
}

}  // namespace hearth::feed
