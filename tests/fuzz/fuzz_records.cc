// Fuzz target: what a device reads from a peer's records and from its own
// database: record headers and feed verification (core/feed/record.h), op
// batches and stored items (core/codec/codec.h), sequence texts
// (core/crdt/text.h), and the model folding decoded ops (core/model).
//
// Input: a mode byte, then
//   0  one record body: ParseHeader, Verify against its own place, and (with
//      the fixed record key) OpenBody and everything below;
//   1  a feed from seq 1: pieces (4-byte length) of [flags][signature if
//      flags & 1][body], walked with FeedVerifier under the fixed feed key;
//   2  an op batch: DecodeOpBatch, then re-encoding and folding (below);
//   3  a stored item: DecodeItem, then EncodeItem and DecodeItem again;
//   4  a sequence text: Text::Decode, then Encode and Decode again.
//
// Properties: a header that parses says what its bytes say and verifies at
// its own place and nowhere else; decode(encode(x)) == x for items and
// texts, and encoding a decoded op batch is stable; folding an op batch
// into items twice changes nothing the second time (ops get distinct
// stamps first), and the items survive their storage encoding.
#include <algorithm>
#include <cstdlib>
#include <map>

#include "core/codec/codec.h"
#include "core/crdt/text.h"
#include "core/feed/record.h"
#include "core/model/model.h"
#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {
namespace {

constexpr std::uint64_t kDevice = 0x0123456789abcdefull;

const crypto::SymmetricKey& RecordKey() {
  static const crypto::SymmetricKey key = feed::RecordKey(FixedSymmetricKey("space-key"));
  return key;
}

const crypto::SigningKey& FeedKey() {
  static const crypto::SigningKey key = FixedSigningKey("feed");
  return key;
}

void CheckItemRoundTrip(const model::Item& item) {
  const Bytes encoded = codec::EncodeItem(item);
  auto back = codec::DecodeItem(encoded);
  HEARTH_FUZZ_CHECK(back.ok(), "an encoded item does not decode");
  HEARTH_FUZZ_CHECK(*back == item, "an item changed through its storage encoding");
  HEARTH_FUZZ_CHECK(codec::EncodeItem(*back) == encoded, "an item's encoding is not stable");
}

void CheckOps(std::vector<model::Op> ops) {
  const Bytes once = codec::EncodeOpBatch(ops);
  auto again = codec::DecodeOpBatch(once);
  HEARTH_FUZZ_CHECK(again.ok(), "an encoded op batch does not decode");
  HEARTH_FUZZ_CHECK(codec::EncodeOpBatch(*again) == once, "an op batch's encoding is not stable");

  // Stamps must be distinct for Apply to be idempotent; a real batch gets
  // them from the writer's clock.
  for (std::size_t i = 0; i < ops.size(); ++i) ops[i].hlc = (std::uint64_t{1} << 20) + i;
  std::map<model::ItemId, model::Item> items;
  for (const model::Op& op : ops) {
    model::Item& item = items[op.item];
    item.id = op.item;
    model::Apply(item, op, kDevice);
  }
  std::map<model::ItemId, model::Item> twice = items;
  for (const model::Op& op : ops) model::Apply(twice[op.item], op, kDevice);
  HEARTH_FUZZ_CHECK(twice == items, "applying the same ops again changed an item");
  for (const auto& entry : items) {
    const model::Item& item = entry.second;
    // Readers of an item must cope with whatever the ops left.
    (void)item.Text(model::Field::kText);
    (void)item.Answers();
    (void)item.day();
    for (const auto& text : item.texts) (void)text.second.ToUtf8();
    CheckItemRoundTrip(item);
  }
}

void FuzzOpBatch(ByteView bytes) {
  auto ops = codec::DecodeOpBatch(bytes);
  if (!ops.ok()) {
    HEARTH_FUZZ_CHECK(ops.error().code == Errc::kIntegrity, "a bad op batch was not kIntegrity");
    return;
  }
  CheckOps(std::move(*ops));
}

void OpenAndFold(ByteView body) {
  auto plain = feed::OpenBody(body, RecordKey());
  if (!plain.ok()) {
    HEARTH_FUZZ_CHECK(plain.error().code == Errc::kIntegrity, "a record that does not open was not kIntegrity");
    return;
  }
  FuzzOpBatch(*plain);
}

void FuzzRecord(ByteView body) {
  auto header = feed::ParseHeader(body);
  if (!header.ok()) {
    HEARTH_FUZZ_CHECK(header.error().code == Errc::kIntegrity, "a bad header was not kIntegrity");
    return;
  }
  const feed::Header& h = *header;
  HEARTH_FUZZ_CHECK(h.version == feed::kRecordVersion && body[0] == h.version, "the version is misread");
  HEARTH_FUZZ_CHECK(static_cast<std::uint8_t>(h.scope) == body[1], "the scope is misread");
  HEARTH_FUZZ_CHECK(GetU64Le(body.data() + 2) == h.seq, "the seq is misread");
  HEARTH_FUZZ_CHECK(std::equal(h.feed.begin(), h.feed.end(), body.begin() + 10), "the feed is misread");
  HEARTH_FUZZ_CHECK(std::size_t{h.ct_len} + feed::kHeaderSize == body.size(), "the length is misread");
  const feed::Record record{Bytes(body.begin(), body.end()), std::nullopt};
  HEARTH_FUZZ_CHECK(feed::Verify(record, h.feed, h.seq, h.prev).ok(), "a record fails at its own place");
  HEARTH_FUZZ_CHECK(!feed::Verify(record, h.feed, h.seq + 1, h.prev).ok(), "a record verifies elsewhere");
  OpenAndFold(body);
}

void FuzzFeed(ByteView data) {
  Pieces pieces(data, 4);
  feed::FeedVerifier verifier(FeedKey().public_key());
  while (auto piece = pieces.Next()) {
    Pieces fields(*piece, 0);
    const std::uint8_t flags = fields.Byte().value_or(0);
    feed::Record record;
    ByteView rest = fields.Rest();
    if ((flags & 1) != 0) {
      if (rest.size() < crypto::kSignatureSize) break;
      record.signature.emplace();
      std::copy_n(rest.begin(), crypto::kSignatureSize, record.signature->begin());
      rest = rest.subspan(crypto::kSignatureSize);
    }
    record.body.assign(rest.begin(), rest.end());
    const std::uint64_t next = verifier.next_seq();
    Status added = verifier.Add(record);
    if (!added.ok()) {
      HEARTH_FUZZ_CHECK(added.error().code == Errc::kIntegrity, "a bad record was not kIntegrity");
      HEARTH_FUZZ_CHECK(verifier.next_seq() == next, "a refused record moved the verifier");
      break;
    }
    HEARTH_FUZZ_CHECK(verifier.next_seq() == next + 1, "an accepted record did not move the verifier");
    HEARTH_FUZZ_CHECK(verifier.prev() == feed::RecordHash(record.body), "the chain does not follow the record");
    OpenAndFold(record.body);
  }
  HEARTH_FUZZ_CHECK(verifier.confirmed() < verifier.next_seq(), "a signature covers records not yet seen");
  (void)verifier.Finish();
}

void FuzzItem(ByteView bytes) {
  auto item = codec::DecodeItem(bytes);
  if (!item.ok()) {
    HEARTH_FUZZ_CHECK(item.error().code == Errc::kIntegrity, "a bad item was not kIntegrity");
    return;
  }
  (void)item->Text(model::Field::kTitle);
  (void)item->Answers();
  CheckItemRoundTrip(*item);
}

void FuzzText(ByteView bytes) {
  auto text = crdt::Text::Decode(AsChars(bytes));
  if (!text.ok()) {
    HEARTH_FUZZ_CHECK(text.error().code == Errc::kIntegrity, "a bad text was not kIntegrity");
    return;
  }
  const crdt::Text& t = *text;
  HEARTH_FUZZ_CHECK(t.size() <= t.total_chars(), "more visible characters than characters");
  HEARTH_FUZZ_CHECK(crdt::Utf8ToU32(t.ToUtf8()).size() == t.size(), "the visible text has the wrong length");
  for (bool keep_deleted : {true, false}) {
    for (bool deflate : {false, true}) {
      const std::string encoded = t.Encode(keep_deleted, deflate);
      auto back = crdt::Text::Decode(encoded);
      HEARTH_FUZZ_CHECK(back.ok(), "an encoded text does not decode");
      HEARTH_FUZZ_CHECK(*back == t, "a text changed through its encoding");
      HEARTH_FUZZ_CHECK(back->ToU32() == t.ToU32(), "a text reads differently after its encoding");
    }
  }
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
  switch (data[0] % 5) {
    case 0:
      FuzzRecord(input);
      break;
    case 1:
      FuzzFeed(input);
      break;
    case 2:
      FuzzOpBatch(input);
      break;
    case 3:
      FuzzItem(input);
      break;
    default:
      FuzzText(input);
      break;
  }
  return 0;
}
