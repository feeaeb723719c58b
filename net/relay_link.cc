#include "net/relay_link.h"

#include <map>
#include <optional>

namespace hearth::net {

namespace {

constexpr std::string_view kStreamContext = "hearth/relay-stream/v1";
constexpr std::string_view kBlobContext = "hearth/relay-blob/v1";
// What one Get asks for and one Put carries (a single larger record still
// travels alone).
constexpr std::size_t kGetBytes = 1 << 20;
constexpr std::size_t kPutBytes = 1 << 20;
// Passes over the mailbox: records fetched can add devices (and so feeds) to
// the roster, whose streams the next pass reads.
constexpr int kMaxPasses = 4;

Bytes BlobAd(const relay::StreamId& stream, std::uint64_t seq) {
  Bytes ad(kBlobContext.begin(), kBlobContext.end());
  Append(ad, stream);
  PutU64Le(ad, seq);
  return ad;
}

std::string Short(const feed::FeedId& f) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 4; ++i) {
    s += kHex[f[i] >> 4];
    s += kHex[f[i] & 15];
  }
  return s;
}

}  // namespace

relay::StreamId StreamOf(const node::MailboxKeys& keys, const feed::FeedId& feed) {
  return crypto::Hash({keys.streams.view(), AsBytes(kStreamContext), feed});
}

Bytes SealRecord(const node::MailboxKeys& keys, const relay::StreamId& stream, std::uint64_t seq,
                 const feed::Record& record) {
  // flag (1: a signature follows) || signature? || body
  Bytes plain;
  plain.reserve(1 + crypto::kSignatureSize + record.body.size());
  plain.push_back(record.signature ? 1 : 0);
  if (record.signature) Append(plain, *record.signature);
  Append(plain, record.body);
  const crypto::Nonce nonce = crypto::RandomNonce();
  Bytes blob(nonce.begin(), nonce.end());
  Append(blob, crypto::Seal(keys.seal, nonce, plain, BlobAd(stream, seq)));
  return blob;
}

Result<feed::Record> OpenRecord(const node::MailboxKeys& keys, const relay::StreamId& stream, std::uint64_t seq,
                                ByteView blob) {
  auto changed = [] {
    return MakeError(Errc::kIntegrity, "The relay returned a record that was changed or moved; nothing of it was applied.");
  };
  crypto::Nonce nonce;
  if (blob.size() < nonce.size() + crypto::kTagSize + 1) return changed();
  std::memcpy(nonce.data(), blob.data(), nonce.size());
  auto plain = crypto::Open(keys.seal, nonce, blob.subspan(nonce.size()), BlobAd(stream, seq));
  if (!plain || plain->empty() || (*plain)[0] > 1) return changed();
  feed::Record record;
  std::size_t at = 1;
  if ((*plain)[0] == 1) {
    crypto::Signature sig;
    if (plain->size() < 1 + sig.size()) return changed();
    std::memcpy(sig.data(), plain->data() + 1, sig.size());
    record.signature = sig;
    at += sig.size();
  }
  record.body.assign(plain->begin() + static_cast<std::ptrdiff_t>(at), plain->end());
  if (record.body.size() > feed::kMaxBody) return changed();
  return record;
}

awaitable<MailboxReport> ExchangeMailbox(node::Node& node, relay::Connection& connection,
                                         const node::MailboxKeys& keys) {
  MailboxReport report;
  auto fail = [&](Error e) -> MailboxReport& {
    report.failure = std::move(e);
    return report;
  };
  auto id = co_await connection.Open(keys.open);
  if (!id.ok()) co_return fail(id.error());
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    auto heads = co_await connection.Heads(*id);
    if (!heads.ok()) co_return fail(heads.error());
    std::map<relay::StreamId, relay::StreamHead> held;
    for (const auto& h : heads->streams) held[h.stream] = h;
    bool roster_grew = false;
    for (const feed::FeedId& f : node.MailboxFeeds(keys.member)) {
      const relay::StreamId stream = StreamOf(keys, f);
      auto head = node.HeadOf(f);
      if (!head.ok()) co_return fail(head.error());
      std::uint64_t local = *head ? (*head)->length : 0;
      const auto it = held.find(stream);
      const std::uint64_t last = it == held.end() ? 0 : it->second.last;

      // Fetch what the mailbox holds past our head, applying each run that
      // ends on a signature as soon as it is complete.
      if (last > local) {
        std::vector<feed::Record> pending;
        std::uint64_t next = local + 1;
        while (next <= last) {
          auto run = co_await connection.Get(*id, stream, next, kGetBytes);
          if (!run.ok()) co_return fail(run.error());
          if (run->blobs.empty()) break;  // expired since Heads
          if (run->first_seq != next) {
            report.notes.push_back("The relay no longer holds records " + std::to_string(next) + " to " +
                                   std::to_string(run->first_seq - 1) + " of device " + Short(f) +
                                   "; they will come from a device that has them.");
            break;
          }
          // A blob that does not open stops the fetch; the signed runs
          // before it are still applied (they passed every check).
          std::optional<Error> bad;
          for (const Bytes& blob : run->blobs) {
            auto record = OpenRecord(keys, stream, next, blob);
            if (!record.ok()) {
              bad = record.error();
              break;
            }
            pending.push_back(std::move(*record));
            ++next;
          }
          std::size_t signed_end = pending.size();
          while (signed_end > 0 && !pending[signed_end - 1].signature) --signed_end;
          if (signed_end > 0) {
            std::vector<feed::Record> batch(std::make_move_iterator(pending.begin()),
                                            std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(signed_end)));
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(signed_end));
            auto applied = node.ApplyRecords(f, local + 1, batch);
            if (!applied.ok()) co_return fail(applied.error());
            report.fetched += applied->applied;
            roster_grew |= applied->roster_changed;
            local += batch.size();
          } else if (pending.size() > feed::kMaxUnsignedRun + 1) {
            co_return fail(MakeError(Errc::kIntegrity, "The relay returned a run of records no signature covers; "
                                                       "nothing of it was applied."));
          }
          if (bad) co_return fail(*bad);
        }
        // Records past the last signature wait for the rest of their run.
      }

      // Leave what the mailbox lacks, in whole signed runs from its head on.
      std::uint64_t from = last + 1;
      while (from <= local) {
        auto records = node.ReadRecords(f, from, kPutBytes);
        if (!records.ok()) co_return fail(records.error());
        if (records->empty()) break;
        std::size_t i = 0;
        while (i < records->size()) {
          std::vector<Bytes> blobs;
          std::size_t bytes = 0;
          for (; i < records->size() && blobs.size() < relay::kMaxBlobsPerPut; ++i) {
            const auto& r = (*records)[i];
            if (!blobs.empty() && bytes + r.body.size() > kPutBytes) break;
            blobs.push_back(SealRecord(keys, stream, from + blobs.size(), r));
            bytes += blobs.back().size();
          }
          auto stored = co_await connection.Put(*id, stream, from, blobs);
          if (!stored.ok()) co_return fail(stored.error());
          report.put += *stored;
          from += blobs.size();
        }
      }
    }
    if (!roster_grew) break;
  }
  co_return report;
}

}  // namespace hearth::net
