#include "core/node/node.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cstring>
#include <functional>
#include <span>
#include <map>
#include <set>

#include "core/base/dates.h"
#include "core/codec/codec.h"
#include "core/keys/keystore.h"
#include "core/storage/store.h"

namespace hearth::node {

namespace fs = std::filesystem;
using model::Field;
using model::Item;
using model::Op;

namespace {

constexpr const char* kKeyFile = "keys";
constexpr const char* kDbFile = "hearth.db";
constexpr std::string_view kItemDomain = "hearth/item/v1";

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; });
}

Status CheckText(std::string_view what, std::string_view s, std::size_t max, bool required) {
  if (required && IsBlank(s)) return MakeError(Errc::kInvalidInput, "The " + std::string(what) + " is empty.");
  if (s.size() > max) {
    return MakeError(Errc::kInvalidInput, "The " + std::string(what) + " is too long (at most " +
                                              std::to_string(max) + " bytes).");
  }
  if (!ValidUtf8(s)) {
    return MakeError(Errc::kInvalidInput, "The " + std::string(what) + " is not valid UTF-8 text.");
  }
  return {};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Bytes ItemAd(const storage::ItemRow& r) {
  Bytes ad;
  Append(ad, AsBytes(kItemDomain));
  PutU64Le(ad, r.id);
  PutU32Le(ad, r.kind);
  PutU64Le(ad, static_cast<std::uint64_t>(r.day));
  PutU64Le(ad, r.created);
  PutU64Le(ad, r.author);
  ad.push_back(r.live ? 1 : 0);
  return ad;
}

ItemId DerivedId(const keys::SpaceId& space, std::string_view purpose) {
  crypto::Digest d = crypto::Hash({space, AsBytes(purpose)});
  ItemId id = GetU64Be(d.data());
  return id == 0 ? 1 : id;
}

Error NoItem(ItemId id) {
  return MakeError(Errc::kNotFound, "No item with id " + IdToHex(id) + ".");
}

}  // namespace

const std::vector<std::string>& CheckinPrompts() {
  static const std::vector<std::string> kPrompts = {
      "How connected do you feel to your partner right now, from 1 to 10?",
      "What went well between you since the last check-in?",
      "What is one thing you appreciate about your partner this week?",
      "What do you need from your partner this week?",
      "Is there anything unresolved you would like to talk about?",
  };
  return kPrompts;
}

std::int64_t PeriodStart(model::Rhythm r, std::int64_t day) {
  switch (r) {
    case model::Rhythm::kDay:
      return day;
    case model::Rhythm::kMonth:
      return MonthStart(day);
    default:
      return WeekStart(day);
  }
}

std::int64_t NextPeriodStart(model::Rhythm r, std::int64_t start) {
  switch (r) {
    case model::Rhythm::kDay:
      return start + 1;
    case model::Rhythm::kMonth:
      return MonthStart(MonthStart(start) + 31);
    default:
      return WeekStart(start) + 7;
  }
}

std::string PeriodName(model::Rhythm r, std::int64_t day) {
  switch (r) {
    case model::Rhythm::kDay:
      return DayPeriod(day);
    case model::Rhythm::kMonth:
      return MonthPeriod(day);
    default:
      return WeekPeriod(day);
  }
}

FollowThroughStats StatsAsOf(const std::vector<FollowThroughView>& records, model::Rhythm r, std::int64_t day) {
  std::map<std::string, bool> kept_in;
  for (const auto& f : records) kept_in[f.period] = f.kept;
  FollowThroughStats st;
  std::int64_t start = PeriodStart(r, day);
  if (!kept_in.contains(PeriodName(r, start))) start = PeriodStart(r, start - 1);
  bool streak = true, missing = true;
  for (int i = 0;; ++i, start = PeriodStart(r, start - 1)) {
    auto it = kept_in.find(PeriodName(r, start));
    const bool recorded = it != kept_in.end();
    const bool kept = recorded && it->second;
    streak = streak && kept;
    missing = missing && recorded && !kept;
    if (streak) ++st.streak;
    if (missing) ++st.missed_in_a_row;
    if (i < 12 && recorded) {
      ++st.recorded12;
      st.kept12 += kept ? 1 : 0;
      if (i < 4) {
        ++st.recorded4;
        st.kept4 += kept ? 1 : 0;
      }
    }
    if (i >= 11 && !streak && !missing) break;
  }
  return st;
}

struct Node::Impl {
  fs::path home;
  Clock* clock = nullptr;
  keys::DeviceKeys keys;
  std::unique_ptr<storage::Store> store;
  crypto::SymmetricKey shared_record_key;
  crypto::SymmetricKey private_record_key;
  crypto::SymmetricKey item_key;
  bool passphrase = false;
  // Roster cache: loaded at open, refreshed after a commit that touches it.
  std::map<MemberId, std::string> member_names;
  // Devices whose item carries both keys (the others cannot sign or connect).
  std::map<ItemId, RosterDevice> devices;
  // Feeds trusted before the roster names them (the inviter's, at join).
  std::set<feed::FeedId> trusted_feeds;
  std::set<feed::FeedId> trusted_private_feeds;  // a subset: private feeds of this member
  // This device's second feed, for private records: they must be able to
  // travel to this member's other devices without the partner's devices ever
  // holding them, so they cannot share a hash chain with shared records.
  crypto::SigningKey private_sign;

  Impl(fs::path h, Clock& c, keys::DeviceKeys k, std::unique_ptr<storage::Store> s, bool pass)
      : home(std::move(h)),
        clock(&c),
        keys(std::move(k)),
        store(std::move(s)),
        shared_record_key(feed::RecordKey(keys.space_key)),
        private_record_key(feed::RecordKey(keys.member_key)),
        item_key(keys.local_key.Derive(1, "hitems01")),
        passphrase(pass),
        private_sign(PrivateFeedKey(keys.sign)) {}

  static crypto::SigningKey PrivateFeedKey(const crypto::SigningKey& device) {
    auto seed = crypto::SymmetricKey::FromBytes(device.secret().subspan(0, crypto::kKeySize));
    return crypto::SigningKey::FromSeed(seed->Derive(1, "hprivfd1"));
  }

  const feed::FeedId& feed_id() const { return keys.sign.public_key(); }
  const feed::FeedId& private_feed_id() const { return private_sign.public_key(); }
  std::uint64_t tag() const { return feed::DeviceTag(feed_id()); }

  const crypto::SigningKey& Signer(feed::Scope scope) const {
    return scope == feed::Scope::kPrivate ? private_sign : keys.sign;
  }

  // ---- items at rest ----

  storage::ItemRow SealItem(const Item& item) {
    storage::ItemRow row;
    row.id = item.id;
    row.kind = static_cast<std::uint32_t>(item.kind);
    row.day = item.has_create ? item.day() : 0;
    row.created = item.created.hlc;
    row.author = item.author;
    row.live = item.visible();
    Bytes plain = codec::EncodeItem(item);
    crypto::Nonce nonce = crypto::RandomNonce();
    row.state.assign(nonce.begin(), nonce.end());
    Append(row.state, crypto::Seal(item_key, nonce, plain, ItemAd(row)));
    return row;
  }

  static Error DamagedItem(std::uint64_t id) {
    return MakeError(Errc::kIntegrity,
                     "Stored item " + IdToHex(id) + " is damaged or was tampered with.");
  }

  // The decrypted (still encoded) state of a row.
  Result<Bytes> DecryptItem(const storage::ItemRow& row) {
    if (row.state.size() < crypto::kNonceSize + crypto::kTagSize) return DamagedItem(row.id);
    crypto::Nonce nonce;
    std::memcpy(nonce.data(), row.state.data(), nonce.size());
    auto plain = crypto::Open(item_key, nonce, ByteView(row.state).subspan(crypto::kNonceSize),
                              ItemAd(row));
    if (!plain) return DamagedItem(row.id);
    return std::move(*plain);
  }

  static Result<Item> DecodeItem(const storage::ItemRow& row, ByteView plain) {
    auto item = codec::DecodeItem(plain);
    if (!item.ok() || item->id != row.id) return DamagedItem(row.id);
    return item;
  }

  Result<Item> OpenItem(const storage::ItemRow& row) {
    HEARTH_ASSIGN_OR_RETURN(Bytes plain, DecryptItem(row));
    return DecodeItem(row, plain);
  }

  Result<Item> LoadItem(ItemId id) {
    HEARTH_ASSIGN_OR_RETURN(auto row, store->GetItem(id));
    if (!row) {
      Item fresh;
      fresh.id = id;
      return fresh;
    }
    return OpenItem(*row);
  }

  Result<Item> LoadVisible(ItemId id) {
    HEARTH_ASSIGN_OR_RETURN(Item item, LoadItem(id));
    if (!item.visible() || item.kind == Kind::kMember || item.kind == Kind::kDevice) {
      return NoItem(id);
    }
    return item;
  }

  // ---- committing ----

  Result<crdt::HybridClock> LoadClock() {
    HEARTH_ASSIGN_OR_RETURN(auto raw, store->GetMeta("hlc"));
    if (!raw) return crdt::HybridClock(0);
    if (raw->size() != 8) return MakeError(Errc::kIntegrity, "The database's clock is damaged.");
    return crdt::HybridClock(GetU64Le(raw->data()));
  }

  // Notes a fork for `hearth status` (its own transaction).
  Status RecordFork(const feed::FeedId& f, std::uint64_t seq) {
    HEARTH_ASSIGN_OR_RETURN(auto txn, store->Begin());
    const std::string note = "fork at record " + std::to_string(seq);
    HEARTH_TRY(store->PutMeta("fork/" + ToHex(f), AsBytes(note)));
    return txn.Commit();
  }

  // The head of this device's own feed, checked before chaining onto it.
  Result<storage::FeedHead> CheckedOwnHead(const feed::FeedId& own) {
    HEARTH_ASSIGN_OR_RETURN(auto head, store->Head(own));
    if (!head) return storage::FeedHead{};
    HEARTH_ASSIGN_OR_RETURN(auto rec, store->GetRecord(own, head->seq));
    // Every transaction ends with a signed record, so the head is always signed.
    if (!rec || !rec->record.signature || feed::RecordHash(rec->record.body) != head->hash ||
        !crypto::VerifySignature(own, feed::HeadMessage(own, head->seq, head->hash),
                                 *rec->record.signature)) {
      return MakeError(Errc::kIntegrity,
                       "The newest record of this device is damaged or was tampered with; run "
                       "'hearth verify'.");
    }
    return *head;
  }

  // Builds a change from the state inside the write transaction (text edits
  // read the text they diff against there, so no other process can slip a
  // change in between). Gets the feed's device tag; leaves `ops` empty for
  // "no change".
  using Builder = std::function<Status(std::uint64_t device, std::vector<Op>& ops)>;

  Status Commit(std::vector<std::vector<Op>>& batches, feed::Scope scope, const Builder* build = nullptr) {
    HEARTH_ASSIGN_OR_RETURN(auto txn, store->Begin());
    HEARTH_ASSIGN_OR_RETURN(crdt::HybridClock hlc, LoadClock());
    const crypto::SigningKey& signer = Signer(scope);
    const feed::FeedId& own = signer.public_key();
    const std::uint64_t stamp_tag = feed::DeviceTag(own);
    if (build != nullptr) {
      std::vector<Op> built;
      HEARTH_TRY((*build)(stamp_tag, built));
      if (built.empty()) return {};
      batches.push_back(std::move(built));
    }
    HEARTH_ASSIGN_OR_RETURN(storage::FeedHead head, CheckedOwnHead(own));
    const crypto::SymmetricKey& key =
        scope == feed::Scope::kPrivate ? private_record_key : shared_record_key;
    Touched touched;
    // Sign the last record, and often enough that no unsigned run is longer
    // than feed::kMaxUnsignedRun records or kMaxUnsignedBytes (signing is most
    // of the cost of a record).
    std::uint64_t unsigned_run = 0;
    std::size_t unsigned_bytes = 0;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      std::vector<Op>& ops = batches[b];
      const std::int64_t now = clock->NowMs();
      for (Op& op : ops) op.hlc = hlc.Tick(now);
      Bytes plain = codec::EncodeOpBatch(ops);
      if (plain.size() > feed::kMaxPlaintext) {
        return MakeError(Errc::kInvalidInput, "The change is too large to store as one record.");
      }
      const std::size_t body_size = feed::kHeaderSize + plain.size() + crypto::kTagSize;
      const bool sign = b + 1 == batches.size() || unsigned_run == feed::kMaxUnsignedRun ||
                        unsigned_bytes + body_size > feed::kMaxUnsignedBytes;
      feed::Record rec = feed::Seal(signer, key, scope, head.seq + 1, head.hash, plain,
                                    sign ? feed::Signing::kSign : feed::Signing::kUnsigned);
      unsigned_run = sign ? 0 : unsigned_run + 1;
      unsigned_bytes = sign ? 0 : unsigned_bytes + body_size;
      crypto::Digest hash = feed::RecordHash(rec.body);
      HEARTH_TRY(store->PutRecord(own, head.seq + 1, hash, rec));
      head.seq += 1;
      head.hash = hash;
      HEARTH_TRY(ApplyOps(touched, ops, stamp_tag));
    }
    HEARTH_TRY(SaveTouched(touched, hlc));
    HEARTH_TRY(txn.Commit());
    if (touched.roster_changed) return LoadRoster();
    return {};
  }

  // Items changed by one transaction: each loaded once, changed by every op
  // for it, sealed and stored once at the end (SaveTouched).
  struct Touched {
    std::map<ItemId, Item> items;
    bool roster_changed = false;
  };

  Status ApplyOps(Touched& t, const std::vector<Op>& ops, std::uint64_t stamp_tag) {
    for (const Op& op : ops) {
      auto it = t.items.find(op.item);
      if (it == t.items.end()) {
        HEARTH_ASSIGN_OR_RETURN(Item loaded, LoadItem(op.item));
        it = t.items.emplace(op.item, std::move(loaded)).first;
      }
      model::Apply(it->second, op, stamp_tag);
      t.roster_changed |= it->second.kind == Kind::kMember || it->second.kind == Kind::kDevice;
    }
    return {};
  }

  Status SaveTouched(const Touched& t, const crdt::HybridClock& hlc) {
    for (const auto& [id, item] : t.items) HEARTH_TRY(store->PutItem(SealItem(item)));
    Bytes clock_bytes;
    PutU64Le(clock_bytes, hlc.last());
    return store->PutMeta("hlc", clock_bytes);
  }

  Status CommitOne(std::vector<Op> ops, feed::Scope scope) {
    std::vector<std::vector<Op>> batches;
    batches.push_back(std::move(ops));
    return Commit(batches, scope);
  }

  Status CommitBuilt(feed::Scope scope, const Builder& build) {
    std::vector<std::vector<Op>> batches;
    return Commit(batches, scope, &build);
  }

  // The version of a text to diff a save against, as it is now.
  static OpenedText Opened(const Item& item, const model::TextSlot& slot) {
    const crdt::Text* t = item.SequenceText(slot);
    if (t != nullptr && t->total_chars() > 0) return OpenedText{t->ToUtf8(), t->VisibleIds()};
    if (slot.field == Field::kAnswer) {
      auto answers = item.Answers();
      auto it = answers.find({slot.member, slot.prompt});
      return OpenedText{it == answers.end() ? std::string() : it->second, {}};
    }
    return OpenedText{item.Text(slot.field), {}};
  }

  // The ops that turn `opened` into `edited` in `slot` of `item`, typed by
  // `device`. A text written before texts were sequences (no ids) is replaced
  // whole by a sequence.
  static Status TextEdit(const Item& item, const model::TextSlot& slot, const OpenedText& opened,
                         const std::string& edited, std::uint64_t device, std::vector<Op>& ops) {
    crdt::Text text;
    if (const crdt::Text* t = item.SequenceText(slot)) text = *t;
    std::u32string before = crdt::Utf8ToU32(opened.text);
    std::span<const crdt::CharId> ids = opened.ids;
    if (ids.size() != before.size()) {
      ids = {};
      before.clear();
    }
    HEARTH_ASSIGN_OR_RETURN(auto made, text.EditFrom(device, ids, before, crdt::Utf8ToU32(edited)));
    for (const crdt::TextOp& op : made) {
      if (const auto* ins = std::get_if<crdt::InsertOp>(&op)) {
        ops.push_back({0, item.id, model::InsertText{slot, ins->id.seq, ins->left, ins->right,
                                                     crdt::U32ToUtf8(ins->text)}});
      } else {
        const auto& del = std::get<crdt::DeleteOp>(op);
        ops.push_back({0, item.id, model::DeleteText{slot, del.first, del.len}});
      }
    }
    return {};
  }

  // A new item's text: one run typed by this device.
  static Op NewText(ItemId id, model::TextSlot slot, const std::string& text) {
    return {0, id, model::InsertText{slot, 0, std::nullopt, std::nullopt, text}};
  }

  Status LoadRoster() {
    member_names.clear();
    devices.clear();
    storage::ItemQuery q;
    q.kinds = {static_cast<std::uint32_t>(Kind::kMember), static_cast<std::uint32_t>(Kind::kDevice)};
    q.newest_first = false;
    Status failed;
    HEARTH_TRY(store->ScanItems(q, [&](storage::ItemRow&& row) {
      auto item = OpenItem(row);
      if (!item.ok()) {
        failed = item.error();
        return false;
      }
      if (item->kind == Kind::kMember) {
        member_names[item->id] = item->Text(Field::kName);
      } else {
        const auto key_of = [&](Field f) { return KeyField(*item, f); };
        const auto sign = key_of(Field::kSignKey);
        const auto dh = key_of(Field::kDhKey);
        if (sign && dh) {
          devices[item->id] = RosterDevice{item->id, ProvenMember(*item), item->Text(Field::kName), *sign, *dh,
                                           key_of(Field::kPrivateFeed)};
        }
      }
      return true;
    }));
    HEARTH_TRY(failed);
    trusted_feeds.clear();
    trusted_private_feeds.clear();
    HEARTH_ASSIGN_OR_RETURN(auto trusted, store->MetaWithPrefix("trust/"));
    for (const auto& [key, value] : trusted) {
      feed::FeedId f;
      if (value.size() != f.size() + 1 || value.back() > 1) {
        return MakeError(Errc::kIntegrity, "The database's trusted feeds are damaged.");
      }
      std::memcpy(f.data(), value.data(), f.size());
      trusted_feeds.insert(f);
      if (value.back() == 1) trusted_private_feeds.insert(f);
    }
    return {};
  }

  // Proof that a device belongs to `member`: a keyed BLAKE2b-256 over its
  // keys, under a key derived from the member key. Only the member's own
  // devices hold that key, so a partner's device can claim a device for the
  // other member but cannot prove it; the other member's devices then treat
  // the claim as no member at all (no private feeds, no authorship).
  Bytes Vouch(MemberId member, const crypto::PublicKey& sign, const crypto::PublicKey& dh,
              const crypto::PublicKey& private_feed) const {
    const crypto::SymmetricKey k = keys.member_key.Derive(1, "hvouch01");
    Bytes id;
    PutU64Le(id, member);
    const crypto::Digest d = crypto::Hash({k.view(), AsBytes("hearth/vouch/v1"), id, sign, dh, private_feed});
    return Bytes(d.begin(), d.end());
  }

  static std::optional<crypto::PublicKey> KeyField(const Item& item, Field f) {
    const auto* v = item.Get(f);
    const auto* b = v ? std::get_if<Bytes>(v) : nullptr;
    if (b == nullptr || b->size() != crypto::kKeySize) return std::nullopt;
    crypto::PublicKey k;
    std::memcpy(k.data(), b->data(), k.size());
    return k;
  }

  // The member a device item belongs to as far as this device can tell: its
  // kMember, except that a claim on this device's own member counts only with
  // a valid proof (0 otherwise). Claims on the partner cannot be checked here
  // (the partner's key is not held) and are taken as written.
  MemberId ProvenMember(const Item& item) const {
    const auto member = static_cast<MemberId>(item.Int(Field::kMember).value_or(0));
    if (member != keys.member_id) return member;
    const auto sign = KeyField(item, Field::kSignKey);
    const auto dh = KeyField(item, Field::kDhKey);
    const auto private_feed = KeyField(item, Field::kPrivateFeed);
    const auto* v = item.Get(Field::kVouch);
    const auto* proof = v ? std::get_if<Bytes>(v) : nullptr;
    if (!sign || !dh || !private_feed || proof == nullptr) return 0;
    return crypto::SecureEqual(*proof, Vouch(member, *sign, *dh, *private_feed)) ? member : 0;
  }

  // The roster device that owns `feed` (its shared or private feed).
  const RosterDevice* FeedOwner(const feed::FeedId& feed) const {
    for (const auto& [id, d] : devices) {
      if (d.sign_key == feed || d.private_feed == feed) return &d;
    }
    return nullptr;
  }

  bool IsPrivateFeed(const feed::FeedId& feed) const {
    if (feed == private_feed_id() || trusted_private_feeds.contains(feed)) return true;
    const RosterDevice* owner = FeedOwner(feed);
    return owner != nullptr && owner->private_feed == feed;
  }

  std::string MemberName(MemberId id) const {
    auto it = member_names.find(id);
    return it == member_names.end() ? std::string("(unknown member)") : it->second;
  }

  // The other member of the space, if one has joined.
  std::optional<MemberId> Partner() const {
    for (const auto& [id, name] : member_names) {
      if (id != keys.member_id) return id;
    }
    return std::nullopt;
  }

  // ---- sealed check-in answers (docs/checkin-sealing.md) ----

  // The key this member's answers to check-in `item` are sealed under: only
  // the member's own devices hold the member key it is derived from.
  crypto::SymmetricKey SealKey(ItemId item) const { return keys.member_key.Derive(item, "hseal001"); }

  static Bytes SealAd(ItemId item, MemberId member) {
    const ByteView label = AsBytes(std::string_view("hearth/checkin-seal/v1"));
    Bytes ad(label.begin(), label.end());
    PutU64Le(ad, item);
    PutU64Le(ad, member);
    return ad;
  }

  // nonce || ciphertext of `inner` (this member's answer ops).
  Bytes SealOps(ItemId item, const std::vector<Op>& inner) const {
    const crypto::Nonce nonce = crypto::RandomNonce();
    Bytes out(nonce.begin(), nonce.end());
    const Bytes ct = crypto::Seal(SealKey(item), nonce, codec::EncodeOpBatch(inner), SealAd(item, keys.member_id));
    out.insert(out.end(), ct.begin(), ct.end());
    return out;
  }

  // The key `member`'s seals of `item` open with here, if this device has it.
  std::optional<crypto::SymmetricKey> OpeningKey(const Item& item, MemberId member) const {
    if (member == keys.member_id) return SealKey(item.id);
    auto it = item.revealed.find(member);
    if (it == item.revealed.end()) return std::nullopt;
    return crypto::SymmetricKey::FromBytes(it->second.value);
  }

  // An op found inside `member`'s seal may only touch that member's answers.
  static bool InnerOpAllowed(const Op& op, MemberId member) {
    const auto answer_slot = [&](const model::TextSlot& s) {
      return s.field == Field::kAnswer && s.member == member && s.prompt >= 1 && s.prompt < CheckinPrompts().size();
    };
    if (const auto* a = std::get_if<model::SetAnswer>(&op.body)) return a->member == member && a->prompt == 0;
    if (const auto* t = std::get_if<model::InsertText>(&op.body)) return answer_slot(t->slot);
    if (const auto* t = std::get_if<model::DeleteText>(&op.body)) return answer_slot(t->slot);
    return false;
  }

  // `item` with every seal this device can open applied, as if its ops had
  // been sent in the clear (each at its seal's stamp). Members whose seals
  // stay closed are added to `still_sealed`. A seal that does not open or
  // decode (a wrong revealed key, damage) stays closed: it never breaks the item.
  Item Unsealed(const Item& item, std::set<MemberId>* still_sealed = nullptr) const {
    Item out = item;
    std::map<MemberId, std::optional<crypto::SymmetricKey>> keys_of;
    for (const auto& [at, seal] : item.sealed) {
      auto k = keys_of.find(seal.member);
      if (k == keys_of.end()) k = keys_of.emplace(seal.member, OpeningKey(item, seal.member)).first;
      std::optional<Bytes> plain;
      if (k->second && seal.sealed.size() >= crypto::kNonceSize) {
        crypto::Nonce nonce;
        std::memcpy(nonce.data(), seal.sealed.data(), nonce.size());
        plain = crypto::Open(*k->second, nonce, ByteView(seal.sealed).subspan(nonce.size()),
                             SealAd(item.id, seal.member));
      }
      Result<std::vector<Op>> ops = MakeError(Errc::kIntegrity, "A seal does not open here.");
      if (plain) ops = codec::DecodeOpBatch(*plain);
      if (!ops.ok()) {
        if (still_sealed != nullptr) still_sealed->insert(seal.member);
        continue;
      }
      for (Op& op : *ops) {
        if (!InnerOpAllowed(op, seal.member)) continue;
        op.hlc = at.hlc;
        op.item = item.id;
        model::Apply(out, op, at.device);
      }
    }
    return out;
  }

  // The members who have answered check-in `item` (sealed or in the clear).
  static std::set<MemberId> Answered(const Item& item) {
    std::set<MemberId> who;
    for (const auto& [at, seal] : item.sealed) who.insert(seal.member);
    for (const auto& [key, answer] : item.Answers()) who.insert(key.first);
    return who;
  }

  // Whether this device should now reveal this member's key for check-in
  // `item`: this member has sealed answers there, every other member of the
  // space has answered too, and the key is not revealed yet.
  bool RevealDue(const Item& item) const {
    if (item.kind != Kind::kCheckin) return false;
    const MemberId me = keys.member_id;
    if (auto it = item.revealed.find(me); it != item.revealed.end() &&
                                          crypto::SecureEqual(it->second.value, SealKey(item.id).view())) {
      return false;
    }
    const std::set<MemberId> answered = Answered(item);
    bool mine = false;
    for (const auto& [at, seal] : item.sealed) mine |= seal.member == me;
    if (!mine) return false;
    bool partner = false;
    for (const auto& [id, name] : member_names) {
      if (id == me) continue;
      partner = true;
      if (!answered.contains(id)) return false;
    }
    return partner;
  }

  Op RevealOp(ItemId item) const {
    const crypto::SymmetricKey k = SealKey(item);
    return {0, item, model::RevealKey{keys.member_id, Bytes(k.view().begin(), k.view().end())}};
  }

  // Reveals this member's keys for the check-ins in `ids` that are due, in
  // one record. Returns whether anything was written.
  Result<bool> RevealWhereDue(const std::set<ItemId>& ids) {
    if (ids.empty()) return false;
    bool wrote = false;
    HEARTH_TRY(CommitBuilt(feed::Scope::kShared, [&](std::uint64_t, std::vector<Op>& ops) -> Status {
      for (ItemId id : ids) {
        HEARTH_ASSIGN_OR_RETURN(Item item, LoadItem(id));
        if (RevealDue(item)) ops.push_back(RevealOp(id));
      }
      wrote = !ops.empty();
      return {};
    }));
    return wrote;
  }

  // ---- rhythms ----

  model::Rhythm CheckinRhythm() {
    auto settings = LoadItem(SettingsId());
    if (!settings.ok()) return model::Rhythm::kWeek;
    const auto r = settings->Int(Field::kCheckinEvery).value_or(1);
    return r == static_cast<std::int64_t>(model::Rhythm::kMonth) ? model::Rhythm::kMonth : model::Rhythm::kWeek;
  }

  // ---- gentle signals (docs/user-guide.md, "Gentle signals") ----

  // Computed here from what this device holds, shown by `status` only, never
  // stored or sent. Worded as invitations, never as blame.
  Result<std::vector<std::string>> Signals(const std::vector<ItemView>& commitments, model::Rhythm rhythm,
                                           std::int64_t period_start) {
    std::vector<std::string> out;
    const std::int64_t today = Today();
    // Check-ins: scores per member in period order, and the last one held.
    storage::ItemQuery cq;
    cq.kinds = {static_cast<std::uint32_t>(Kind::kCheckin)};
    cq.newest_first = false;
    HEARTH_ASSIGN_OR_RETURN(auto checkins, Scan(cq, 0, [](const Item&) { return true; }));
    std::sort(checkins.begin(), checkins.end(),
              [](const ItemView& a, const ItemView& b) { return a.created_ms < b.created_ms; });
    std::map<MemberId, std::vector<int>> scores;
    std::optional<std::int64_t> last_checkin;
    for (const ItemView& c : checkins) {
      for (const AnswerView& a : c.answers) {
        last_checkin = std::max(last_checkin.value_or(c.day), c.day);  // sealed answers count as a check-in
        if (a.sealed || a.answers.empty()) continue;
        try {
          const int v = std::stoi(a.answers[0]);
          if (v >= 1 && v <= 10) scores[a.member_id].push_back(v);
        } catch (...) {
        }
      }
    }
    for (const auto& [member, list] : scores) {
      if (list.size() < 3) continue;
      const int a = list[list.size() - 3], b = list[list.size() - 2], c = list.back();
      if (!(a > b && b > c && a - c >= 2)) continue;
      const std::string figures = " (" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ")";
      if (member == keys.member_id) {
        out.push_back("Your connection scores have eased down over the last three check-ins" + figures +
                      ". Naming what would help you feel closer could be a kind place to start next time.");
      } else {
        out.push_back(MemberName(member) + "'s connection scores have eased down over the last three check-ins" +
                      figures + ". A gentle \"how are we doing?\" might be welcome.");
      }
    }
    if (last_checkin) {
      const std::int64_t last_start = PeriodStart(rhythm, *last_checkin);
      const std::int64_t two_periods_back = PeriodStart(rhythm, PeriodStart(rhythm, period_start - 1) - 1);
      if (last_start < two_periods_back) {
        const std::int64_t days = today - *last_checkin;
        const std::string since = rhythm == model::Rhythm::kMonth
                                      ? std::to_string(days / 30) + " months"
                                      : std::to_string(days / 7) + " weeks";
        out.push_back("It has been about " + since +
                      " since your last check-in. Even ten unhurried minutes together help: hearth checkin.");
      }
    }
    // Appreciations: the last two weeks against the twelve weeks before.
    storage::ItemQuery aq;
    aq.kinds = {static_cast<std::uint32_t>(Kind::kAppreciation)};
    aq.from_day = today - 13 - 84;
    HEARTH_ASSIGN_OR_RETURN(auto appreciations, Scan(aq, 0, [](const Item&) { return true; }));
    std::uint64_t recent = 0, before = 0;
    for (const ItemView& a : appreciations) (a.day > today - 14 ? recent : before) += 1;
    const double usual = static_cast<double>(before) / 6.0;  // per two weeks
    if (usual >= 2.0 && static_cast<double>(recent) < usual / 2.0) {
      out.push_back("Appreciations have been quieter these two weeks (" + std::to_string(recent) +
                    ", usually about " + std::to_string(static_cast<int>(usual + 0.5)) +
                    "). A small, specific thank-you can go a long way.");
    }
    // Commitments: the last two recorded periods (or more) missed in a row.
    for (const ItemView& c : commitments) {
      const std::uint32_t missed = c.stats.missed_in_a_row;
      if (c.replaced_by != 0 || missed < 2) continue;
      const std::string unit = c.rhythm == model::Rhythm::kDay ? "days" : c.rhythm == model::Rhythm::kMonth ? "months" : "weeks";
      std::string text = c.text;
      if (text.size() > 60) {
        std::size_t cut = 57;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // a whole character
        text = text.substr(0, cut) + "...";
      }
      out.push_back("\"" + text + "\" has been hard to keep lately (missed " + std::to_string(missed) + " " + unit +
                    " in a row). It may help to talk it over and shape it into something that fits your life now: "
                    "hearth renegotiate " + IdToHex(c.id).substr(0, 8) + ".");
    }
    return out;
  }

  // ---- reading ----

  ItemView View(const Item& stored) {
    // Only check-ins with seals need an opened copy; every other item is read in place.
    std::set<MemberId> sealed_members;
    std::optional<Item> opened;
    if (!stored.sealed.empty()) opened = Unsealed(stored, &sealed_members);
    const Item& item = opened ? *opened : stored;
    ItemView v;
    v.id = item.id;
    v.kind = item.kind;
    v.author_id = item.author;
    v.author = MemberName(item.author);
    v.mine = item.author == keys.member_id;
    v.created_ms = item.created_ms();
    v.day = item.day();
    v.text = item.Text(Field::kText);
    v.title = item.Text(Field::kTitle);
    v.mood = item.Int(Field::kMood);
    for (const auto& t : item.tags.Values()) v.tags.push_back(t);
    v.is_private = item.is_private;
    v.memory = item.Int(Field::kMemory).value_or(0) != 0;
    if (item.kind == Kind::kAppreciation) {
      const MemberId to = static_cast<MemberId>(item.Int(Field::kTo).value_or(0));
      if (to != 0) {
        v.to = MemberName(to);
      } else if (auto p = Partner(); p && *p != item.author) {
        v.to = MemberName(*p);
      } else if (item.author != keys.member_id) {
        v.to = MemberName(keys.member_id);
      } else {
        v.to = "your partner";
      }
    }
    const auto clamp = [](std::int64_t x, std::int64_t hi) { return x < 0 || x > hi ? 0 : x; };
    v.owner = static_cast<model::Owner>(clamp(item.Int(Field::kOwner).value_or(0), 2));
    v.rhythm = static_cast<model::Rhythm>(clamp(item.Int(Field::kRhythm).value_or(1), 2));
    for (const auto& [period, reg] : item.follow_through) {
      v.follow_through.push_back({period, reg.value.kept, reg.value.note});
    }
    if (item.kind == Kind::kCommitment) {
      v.stats = StatsAsOf(v.follow_through, v.rhythm, Today());
      v.current_period = PeriodName(v.rhythm, Today());
      v.replaces = static_cast<ItemId>(item.Int(Field::kReplaces).value_or(0));
      v.replaced_by = static_cast<ItemId>(item.Int(Field::kReplacedBy).value_or(0));
    }
    v.period = item.Text(Field::kPeriod);
    if (item.kind == Kind::kCheckin) {
      std::map<MemberId, AnswerView> by_member;
      for (const auto& [key, answer] : item.Answers()) {
        if (key.second >= CheckinPrompts().size()) continue;
        AnswerView& a = by_member[key.first];
        a.member_id = key.first;
        a.member = MemberName(key.first);
        a.answers.resize(CheckinPrompts().size());
        a.answers[key.second] = answer;
      }
      for (MemberId m : sealed_members) {
        AnswerView& a = by_member[m];
        a.member_id = m;
        a.member = MemberName(m);
        if (a.answers.size() != CheckinPrompts().size()) a.answers.assign(CheckinPrompts().size(), std::string());
        a.sealed = true;
      }
      for (auto& [id, a] : by_member) v.answers.push_back(std::move(a));
      if (v.text.empty()) {
        std::string names;
        for (const auto& a : v.answers) names += (names.empty() ? "" : " and ") + a.member;
        v.text = "Check-in " + v.period + (names.empty() ? "" : ", answered by " + names);
      }
    }
    return v;
  }

  // Scans visible items newest first; `keep` decides, `limit` 0 is unlimited.
  // `prefilter`, if given, sees the decrypted encoding first and may reject an
  // item without decoding it (it must never reject one that `keep` accepts).
  Result<std::vector<ItemView>> Scan(const storage::ItemQuery& q, std::size_t limit,
                                     const std::function<bool(const Item&)>& keep,
                                     const std::function<bool(const Bytes&)>& prefilter = nullptr) {
    std::vector<ItemView> out;
    Status failed;
    HEARTH_TRY(store->ScanItems(q, [&](storage::ItemRow&& row) {
      auto plain = DecryptItem(row);
      if (!plain.ok()) {
        failed = plain.error();
        return false;
      }
      if (prefilter && !prefilter(*plain)) return true;
      auto item = DecodeItem(row, *plain);
      if (!item.ok()) {
        failed = item.error();
        return false;
      }
      if (!item->visible() || !keep(*item)) return true;
      out.push_back(View(*item));
      return limit == 0 || out.size() < limit;
    }));
    if (!failed.ok()) return failed.error();
    return out;
  }

  static storage::ItemQuery JournalKinds() {
    storage::ItemQuery q;
    for (Kind k : {Kind::kEntry, Kind::kAppreciation, Kind::kCommitment, Kind::kCheckin}) {
      q.kinds.push_back(static_cast<std::uint32_t>(k));
    }
    return q;
  }

  std::int64_t Today() { return DayOfMs(clock->NowMs()); }
  ItemId CheckinId(const std::string& period) { return DerivedId(keys.space_id, "checkin/" + period); }
  ItemId AgreementsId() { return DerivedId(keys.space_id, "agreements"); }
  ItemId SettingsId() { return DerivedId(keys.space_id, "settings"); }

  bool OwnedByMe(const ItemView& c) const {
    switch (c.owner) {
      case model::Owner::kBoth:
        return true;
      case model::Owner::kPartner:
        return c.author_id != keys.member_id;
      default:
        return c.author_id == keys.member_id;
    }
  }

  std::string CurrentPeriod(model::Rhythm r) { return PeriodName(r, Today()); }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

MemberId Node::member_id() const { return impl_->keys.member_id; }
std::uint64_t Node::device_tag() const { return impl_->tag(); }

ItemId Node::NewItemId() {
  ItemId id = 0;
  while (id == 0) id = crypto::RandomU64();
  return id;
}

Result<std::unique_ptr<Node>> Node::Init(const fs::path& home, InitOptions options, Clock& clock) {
  HEARTH_TRY(crypto::Init());
  return Create(home, std::move(options), keys::GenerateForNewSpace(), true, nullptr, clock);
}

crypto::PublicKey Node::PrivateFeedOf(const crypto::SigningKey& device) {
  return Impl::PrivateFeedKey(device).public_key();
}

Result<std::unique_ptr<Node>> Node::Join(const fs::path& home, InitOptions options, SpaceGrant grant,
                                         keys::DeviceKeys k, Clock& clock) {
  HEARTH_TRY(crypto::Init());
  k.space_id = grant.space_id;
  k.space_key = std::move(grant.space_key);
  const bool own_device = grant.member.has_value();
  if (own_device) {
    k.member_id = grant.member->first;
    k.member_key = std::move(grant.member->second);
  }
  if (grant.trusted_feeds.size() + grant.trusted_private_feeds.size() > kMaxTrustedFeeds) {
    return MakeError(Errc::kInvalidInput, "The invite carries too many devices.");
  }
  return Create(home, std::move(options), std::move(k), !own_device, &grant, clock);
}

Result<std::unique_ptr<Node>> Node::Create(const fs::path& home, InitOptions options, keys::DeviceKeys k,
                                           bool new_member, const SpaceGrant* grant, Clock& clock) {
  if (new_member) HEARTH_TRY(CheckText("name", options.member_name, kMaxNameBytes, true));
  HEARTH_TRY(CheckText("device name", options.device_name, kMaxNameBytes, true));
  std::error_code ec;
  if (fs::exists(home / kKeyFile, ec) || fs::exists(home / kDbFile, ec)) {
    return MakeError(Errc::kRefused, "A Hearth space already exists in " + home.string() + ".");
  }
  const bool created_dir = !fs::exists(home, ec);
  fs::create_directories(home, ec);
  if (ec) {
    return MakeError(Errc::kStorage, "Could not create " + home.string() + ": " + ec.message() + ".");
  }
  ::chmod(home.c_str(), 0700);
  auto cleanup = [&] {
    std::error_code ignored;
    for (const char* f : {kKeyFile, "hearth.db", "hearth.db-wal", "hearth.db-shm", "keys.tmp"}) {
      fs::remove(home / f, ignored);
    }
    if (created_dir) fs::remove(home, ignored);
  };
  const bool pass = options.passphrase.has_value();
  if (Status s = keys::Save(home / kKeyFile, k, options.passphrase); !s.ok()) {
    cleanup();
    return s.error();
  }
  auto store = storage::Store::Open(home / kDbFile, true);
  if (!store.ok()) {
    cleanup();
    return store.error();
  }
  ::chmod((home / kDbFile).c_str(), 0600);
  auto node = std::unique_ptr<Node>(new Node(
      std::make_unique<Impl>(home, clock, std::move(k), std::move(store).value(), pass)));
  Impl& im = *node->impl_;
  if (grant != nullptr) {
    Status trusted;
    for (const feed::FeedId& f : grant->trusted_feeds) {
      if (trusted.ok()) trusted = node->TrustFeed(f, false);
    }
    for (const feed::FeedId& f : grant->trusted_private_feeds) {
      if (trusted.ok()) trusted = node->TrustFeed(f, true);
    }
    if (!trusted.ok()) {
      node.reset();
      cleanup();
      return trusted.error();
    }
  }
  // The roster gains this device (and, for a new member, the member).
  std::vector<Op> ops;
  const MemberId me = im.keys.member_id;
  if (new_member) {
    ops.push_back({0, me, model::CreateItem{Kind::kMember, me, false}});
    ops.push_back({0, me, model::SetField{Field::kName, options.member_name}});
  }
  NewDevice self{me, options.device_name, im.keys.sign.public_key(), im.keys.dh.public_key(),
                 im.private_feed_id()};
  AppendDeviceOps(ops, self, me, im.Vouch(me, self.sign_key, self.dh_key, self.private_feed));
  if (Status s = im.CommitOne(std::move(ops), feed::Scope::kShared); !s.ok()) {
    node.reset();
    cleanup();
    return s.error();
  }
  return node;
}

void Node::AppendDeviceOps(std::vector<model::Op>& ops, const NewDevice& d, MemberId author,
                           const std::optional<Bytes>& vouch) {
  const ItemId dev = feed::DeviceTag(d.sign_key);
  ops.push_back({0, dev, model::CreateItem{Kind::kDevice, author, false}});
  ops.push_back({0, dev, model::SetField{Field::kName, d.name}});
  ops.push_back({0, dev, model::SetField{Field::kMember, static_cast<std::int64_t>(d.member)}});
  ops.push_back({0, dev, model::SetField{Field::kSignKey, Bytes(d.sign_key.begin(), d.sign_key.end())}});
  ops.push_back({0, dev, model::SetField{Field::kDhKey, Bytes(d.dh_key.begin(), d.dh_key.end())}});
  ops.push_back(
      {0, dev, model::SetField{Field::kPrivateFeed, Bytes(d.private_feed.begin(), d.private_feed.end())}});
  if (vouch) ops.push_back({0, dev, model::SetField{Field::kVouch, *vouch}});
}

SpaceGrant Node::MakeGrant(bool own_device) const {
  const Impl& im = *impl_;
  SpaceGrant g{im.keys.space_id, *crypto::SymmetricKey::FromBytes(im.keys.space_key.view()), std::nullopt,
               {im.feed_id()}, {}};
  if (own_device) {
    g.member.emplace(im.keys.member_id, *crypto::SymmetricKey::FromBytes(im.keys.member_key.view()));
    g.trusted_private_feeds.push_back(im.private_feed_id());
  }
  // What this device trusts without the roster yet (it may not have synced
  // since it joined) passes on too.
  for (const feed::FeedId& f : im.trusted_feeds) {
    if (!im.trusted_private_feeds.contains(f)) {
      g.trusted_feeds.push_back(f);
    } else if (own_device) {
      g.trusted_private_feeds.push_back(f);
    }
  }
  for (const RosterDevice& d : Devices()) {
    if (d.sign_key != im.feed_id()) g.trusted_feeds.push_back(d.sign_key);
    if (own_device && d.member == im.keys.member_id && d.private_feed && *d.private_feed != im.private_feed_id()) {
      g.trusted_private_feeds.push_back(*d.private_feed);
    }
  }
  for (auto* list : {&g.trusted_feeds, &g.trusted_private_feeds}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  return g;
}

Status Node::AddDevice(const NewDevice& d, const std::optional<std::string>& new_member_name) {
  HEARTH_TRY(CheckText("device name", d.name, kMaxNameBytes, true));
  if (d.member == 0) return MakeError(Errc::kInvalidInput, "A device must belong to a member.");
  std::vector<Op> ops;
  if (new_member_name) {
    HEARTH_TRY(CheckText("name", *new_member_name, kMaxNameBytes, true));
    ops.push_back({0, d.member, model::CreateItem{Kind::kMember, member_id(), false}});
    ops.push_back({0, d.member, model::SetField{Field::kName, *new_member_name}});
  }
  // The device item is authored by this member. Only a device of this
  // member's own can be proven one (with the member key); a partner's device
  // is proven by the partner's own devices (docs/threat-model.md).
  AppendDeviceOps(ops, d, member_id(),
                  d.member == member_id()
                      ? std::optional<Bytes>(impl_->Vouch(d.member, d.sign_key, d.dh_key, d.private_feed))
                      : std::nullopt);
  return impl_->CommitOne(std::move(ops), feed::Scope::kShared);
}

Result<bool> Node::NeedsPassphrase(const fs::path& home) {
  HEARTH_TRY(crypto::Init());
  std::error_code ec;
  if (!fs::exists(home / kKeyFile, ec) || !fs::exists(home / kDbFile, ec)) {
    return MakeError(Errc::kNotFound,
                     "No Hearth space in " + home.string() + "; run 'hearth init' first.");
  }
  return keys::NeedsPassphrase(home / kKeyFile);
}

Result<std::unique_ptr<Node>> Node::Open(const fs::path& home,
                                         const std::optional<crypto::SecretBytes>& passphrase,
                                         Clock& clock) {
  HEARTH_TRY(crypto::Init());
  HEARTH_ASSIGN_OR_RETURN(bool needs, NeedsPassphrase(home));
  static const std::optional<crypto::SecretBytes> kNone;
  HEARTH_ASSIGN_OR_RETURN(keys::DeviceKeys k, keys::Load(home / kKeyFile, needs ? passphrase : kNone));
  HEARTH_ASSIGN_OR_RETURN(auto store, storage::Store::Open(home / kDbFile, false));
  auto node = std::unique_ptr<Node>(
      new Node(std::make_unique<Impl>(home, clock, std::move(k), std::move(store), needs)));
  HEARTH_TRY(node->impl_->LoadRoster());
  return node;
}

Result<ItemId> Node::Write(const EntryDraft& d) {
  HEARTH_TRY(CheckText("entry text", d.text, kMaxTextBytes, true));
  HEARTH_TRY(CheckText("title", d.title, kMaxTitleBytes, false));
  if (d.mood && (*d.mood < 1 || *d.mood > 5)) {
    return MakeError(Errc::kInvalidInput, "The mood must be a whole number from 1 to 5.");
  }
  if (d.tags.size() > kMaxTags) {
    return MakeError(Errc::kInvalidInput, "Too many tags (at most " + std::to_string(kMaxTags) + ").");
  }
  for (const auto& t : d.tags) HEARTH_TRY(CheckText("tag", t, kMaxTagBytes, true));
  if (d.memory && !d.date) {
    return MakeError(Errc::kInvalidInput, "A memory needs --date YYYY-MM-DD: the day it happened.");
  }
  const ItemId id = NewItemId();
  std::vector<Op> ops;
  ops.push_back({0, id, model::CreateItem{Kind::kEntry, member_id(), d.is_private}});
  ops.push_back(Impl::NewText(id, {Field::kText}, d.text));
  if (!d.title.empty()) ops.push_back(Impl::NewText(id, {Field::kTitle}, d.title));
  if (d.mood) ops.push_back({0, id, model::SetField{Field::kMood, *d.mood}});
  if (d.date) ops.push_back({0, id, model::SetField{Field::kDate, *d.date}});
  if (d.memory) ops.push_back({0, id, model::SetField{Field::kMemory, std::int64_t{1}}});
  std::set<std::string> seen;
  for (const auto& t : d.tags) {
    if (seen.insert(t).second) ops.push_back({0, id, model::AddTag{t}});
  }
  HEARTH_TRY(impl_->CommitOne(std::move(ops),
                              d.is_private ? feed::Scope::kPrivate : feed::Scope::kShared));
  return id;
}

Result<ItemId> Node::Appreciate(const std::string& text) {
  HEARTH_TRY(CheckText("appreciation", text, kMaxTextBytes, true));
  const ItemId id = NewItemId();
  std::vector<Op> ops;
  ops.push_back({0, id, model::CreateItem{Kind::kAppreciation, member_id(), false}});
  ops.push_back(Impl::NewText(id, {Field::kText}, text));
  if (auto p = impl_->Partner()) {
    ops.push_back({0, id, model::SetField{Field::kTo, static_cast<std::int64_t>(*p)}});
  }
  HEARTH_TRY(impl_->CommitOne(std::move(ops), feed::Scope::kShared));
  return id;
}

Result<ItemId> Node::Commit(const std::string& text, model::Rhythm rhythm, model::Owner owner) {
  HEARTH_TRY(CheckText("commitment", text, kMaxTextBytes, true));
  const ItemId id = NewItemId();
  std::vector<Op> ops;
  ops.push_back({0, id, model::CreateItem{Kind::kCommitment, member_id(), false}});
  ops.push_back(Impl::NewText(id, {Field::kText}, text));
  ops.push_back({0, id, model::SetField{Field::kRhythm, static_cast<std::int64_t>(rhythm)}});
  ops.push_back({0, id, model::SetField{Field::kOwner, static_cast<std::int64_t>(owner)}});
  HEARTH_TRY(impl_->CommitOne(std::move(ops), feed::Scope::kShared));
  return id;
}

Result<std::string> Node::FollowThrough(ItemId id, bool kept, const std::string& note) {
  HEARTH_TRY(CheckText("note", note, kMaxNoteBytes, false));
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadVisible(id));
  if (item.kind != Kind::kCommitment) {
    return MakeError(Errc::kRefused, "Item " + IdToHex(id) + " is not a commitment.");
  }
  const ItemView view = impl_->View(item);
  if (view.replaced_by != 0) {
    return MakeError(Errc::kRefused, "This commitment was renegotiated; record follow-through on " +
                                         IdToHex(view.replaced_by) + " instead.");
  }
  const std::string period = impl_->CurrentPeriod(view.rhythm);
  HEARTH_TRY(impl_->CommitOne({{0, id, model::SetFollowThrough{period, kept, note}}},
                              feed::Scope::kShared));
  return period;
}

Result<ItemId> Node::CheckIn(const std::vector<std::string>& answers) {
  const auto& prompts = CheckinPrompts();
  if (answers.size() != prompts.size()) {
    return MakeError(Errc::kInvalidInput, "A check-in has " + std::to_string(prompts.size()) +
                                              " answers, one per prompt; got " +
                                              std::to_string(answers.size()) + ".");
  }
  const std::string& score = answers[0];
  int n = 0;
  bool digits = !score.empty() && score.size() <= 2 &&
                std::all_of(score.begin(), score.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) n = std::stoi(score);
  if (!digits || n < 1 || n > 10) {
    return MakeError(Errc::kInvalidInput,
                     "The first answer (connection) must be a whole number from 1 to 10.");
  }
  for (std::size_t i = 1; i < answers.size(); ++i) {
    HEARTH_TRY(CheckText("answer", answers[i], kMaxTextBytes, false));
  }
  const std::string period = PeriodName(impl_->CheckinRhythm(), impl_->Today());
  const ItemId id = impl_->CheckinId(period);
  // The score is a number: a last-writer-wins register. The written answers
  // are texts; answering again in the same period edits them. A skipped
  // answer keeps what this member wrote earlier in the same period. All of
  // it travels sealed (docs/checkin-sealing.md): the ops go inside one
  // SealAnswers op, under a key only this member's devices can derive.
  const MemberId me = member_id();
  const Status saved = impl_->CommitBuilt(feed::Scope::kShared, [&](std::uint64_t device, std::vector<Op>& ops) -> Status {
    HEARTH_ASSIGN_OR_RETURN(Item stored, impl_->LoadItem(id));
    stored.id = id;
    const Item item = impl_->Unsealed(stored);
    std::vector<Op> inner;
    inner.push_back({0, id, model::SetAnswer{me, 0, answers[0]}});
    for (std::uint32_t i = 1; i < answers.size(); ++i) {
      if (answers[i].empty()) continue;
      const model::TextSlot slot{Field::kAnswer, me, i};
      HEARTH_TRY(Impl::TextEdit(item, slot, Impl::Opened(item, slot), answers[i], device, inner));
    }
    ops.push_back({0, id, model::CreateItem{Kind::kCheckin, me, false}});
    ops.push_back({0, id, model::SetField{Field::kPeriod, period}});
    model::SealAnswers seal{me, impl_->SealOps(id, inner)};
    // When the partner has answered already, this device releases the key
    // with the answers.
    stored.sealed[crdt::Stamp{~0ULL, device}] = model::SealedAnswers{me, seal.sealed};
    ops.push_back({0, id, std::move(seal)});
    if (impl_->RevealDue(stored)) ops.push_back(impl_->RevealOp(id));
    return {};
  });
  HEARTH_TRY(saved);
  return id;
}

Status Node::SetCheckinRhythm(model::Rhythm rhythm) {
  if (rhythm != model::Rhythm::kWeek && rhythm != model::Rhythm::kMonth) {
    return MakeError(Errc::kInvalidInput, "Check-ins can be weekly or monthly.");
  }
  const ItemId id = impl_->SettingsId();
  return impl_->CommitOne({{0, id, model::CreateItem{Kind::kSettings, member_id(), false}},
                           {0, id, model::SetField{Field::kCheckinEvery, static_cast<std::int64_t>(rhythm)}}},
                          feed::Scope::kShared);
}

model::Rhythm Node::CheckinRhythm() { return impl_->CheckinRhythm(); }

Result<ItemId> Node::Renegotiate(ItemId old_id, const std::string& text, std::optional<model::Rhythm> rhythm,
                                 std::optional<model::Owner> owner) {
  HEARTH_TRY(CheckText("commitment", text, kMaxTextBytes, true));
  HEARTH_ASSIGN_OR_RETURN(Item old, impl_->LoadVisible(old_id));
  if (old.kind != Kind::kCommitment) {
    return MakeError(Errc::kRefused, "Item " + IdToHex(old_id) + " is not a commitment.");
  }
  const ItemView before = impl_->View(old);
  if (before.replaced_by != 0) {
    return MakeError(Errc::kRefused, "This commitment was already renegotiated into " +
                                         IdToHex(before.replaced_by) + "; renegotiate that one.");
  }
  // Who keeps it stays the same people unless asked otherwise: "me" and
  // "partner" are relative to the author, who may be the other partner.
  model::Owner keeps = before.owner;
  if (!owner && before.author_id != member_id() && keeps != model::Owner::kBoth) {
    keeps = keeps == model::Owner::kAuthor ? model::Owner::kPartner : model::Owner::kAuthor;
  }
  if (owner) keeps = *owner;
  const ItemId id = NewItemId();
  std::vector<Op> ops;
  ops.push_back({0, id, model::CreateItem{Kind::kCommitment, member_id(), false}});
  ops.push_back(Impl::NewText(id, {Field::kText}, text));
  ops.push_back({0, id, model::SetField{Field::kRhythm, static_cast<std::int64_t>(rhythm.value_or(before.rhythm))}});
  ops.push_back({0, id, model::SetField{Field::kOwner, static_cast<std::int64_t>(keeps)}});
  ops.push_back({0, id, model::SetField{Field::kReplaces, static_cast<std::int64_t>(old_id)}});
  ops.push_back({0, old_id, model::SetField{Field::kReplacedBy, static_cast<std::int64_t>(id)}});
  HEARTH_TRY(impl_->CommitOne(std::move(ops), feed::Scope::kShared));
  return id;
}

Result<std::string> Node::Agreements() {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadItem(impl_->AgreementsId()));
  return item.Text(Field::kText);
}

Result<OpenedText> Node::OpenAgreements() {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadItem(impl_->AgreementsId()));
  return Impl::Opened(item, {Field::kText});
}

Status Node::SetAgreements(const OpenedText& opened, const std::string& text) {
  // Empty is refused: an empty pipe or an emptied editor must not wipe the document.
  HEARTH_TRY(CheckText("agreements document", text, kMaxTextBytes, true));
  const ItemId id = impl_->AgreementsId();
  const MemberId me = member_id();
  return impl_->CommitBuilt(feed::Scope::kShared, [&](std::uint64_t device, std::vector<Op>& ops) -> Status {
    HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadItem(id));
    item.id = id;
    HEARTH_TRY(Impl::TextEdit(item, {Field::kText}, opened, text, device, ops));
    if (!ops.empty() || !item.has_create) ops.insert(ops.begin(), {0, id, model::CreateItem{Kind::kAgreements, me, false}});
    return {};
  });
}

Status Node::SetAgreements(const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(OpenedText opened, OpenAgreements());
  return SetAgreements(opened, text);
}

Result<OpenedText> Node::OpenText(ItemId id) {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadVisible(id));
  return Impl::Opened(item, {Field::kText});
}

Status Node::Edit(ItemId id, const OpenedText& opened, const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadVisible(id));
  if (item.kind == Kind::kCheckin) {
    return MakeError(Errc::kRefused, "Check-in answers change by running 'hearth checkin' again.");
  }
  if (item.kind == Kind::kAgreements) {
    return MakeError(Errc::kRefused, "The agreements change with 'hearth agreements edit'.");
  }
  if (item.author != member_id()) {
    return MakeError(Errc::kRefused, "Only its author can edit item " + IdToHex(id) + ".");
  }
  HEARTH_TRY(CheckText("text", text, kMaxTextBytes, true));
  return impl_->CommitBuilt(item.is_private ? feed::Scope::kPrivate : feed::Scope::kShared,
                            [&](std::uint64_t device, std::vector<Op>& ops) -> Status {
                              HEARTH_ASSIGN_OR_RETURN(Item now, impl_->LoadItem(id));
                              now.id = id;
                              return Impl::TextEdit(now, {Field::kText}, opened, text, device, ops);
                            });
}

Status Node::Edit(ItemId id, const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(OpenedText opened, OpenText(id));
  return Edit(id, opened, text);
}

Status Node::Delete(ItemId id) {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadVisible(id));
  if (item.author != member_id() && item.kind != Kind::kCheckin && item.kind != Kind::kAgreements) {
    return MakeError(Errc::kRefused, "Only its author can delete item " + IdToHex(id) + ".");
  }
  if (item.kind == Kind::kCheckin) {
    return MakeError(Errc::kRefused, "A check-in belongs to both partners and cannot be deleted.");
  }
  if (item.kind == Kind::kAgreements) {
    return MakeError(Errc::kRefused, "The agreements belong to both partners and cannot be deleted.");
  }
  return impl_->CommitOne({{0, id, model::SetField{Field::kDeleted, std::int64_t{1}}}},
                          item.is_private ? feed::Scope::kPrivate : feed::Scope::kShared);
}

Result<ItemId> Node::Resolve(std::string_view prefix) {
  const std::string p = Lower(prefix);
  if (p.empty() || p.size() > 16 ||
      !std::all_of(p.begin(), p.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return MakeError(Errc::kInvalidInput, "'" + std::string(prefix) +
                                              "' is not an item id (1 to 16 hex digits).");
  }
  const int shift = 4 * (16 - static_cast<int>(p.size()));
  const std::uint64_t value = std::stoull(p, nullptr, 16);
  const std::uint64_t lo = shift == 64 ? 0 : value << shift;
  const std::uint64_t hi = lo | (shift == 0 ? 0 : ((std::uint64_t{1} << shift) - 1));
  HEARTH_ASSIGN_OR_RETURN(auto ids, impl_->store->IdsInRange(lo, hi, 16));
  std::vector<ItemId> visible;
  for (ItemId id : ids) {
    HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadItem(id));
    if (item.visible() && item.kind != Kind::kMember && item.kind != Kind::kDevice) {
      visible.push_back(id);
    }
  }
  if (visible.empty()) return MakeError(Errc::kNotFound, "No item with id " + std::string(prefix) + ".");
  if (visible.size() > 1) {
    return MakeError(Errc::kAmbiguous, "The id '" + std::string(prefix) + "' matches " +
                                           std::to_string(visible.size()) +
                                           " items; type more of it.");
  }
  return visible[0];
}

Result<ItemView> Node::Get(ItemId id) {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadVisible(id));
  return impl_->View(item);
}

Result<std::vector<ItemView>> Node::List(const ListQuery& query) {
  storage::ItemQuery q = Impl::JournalKinds();
  if (!query.kinds.empty()) {
    q.kinds.clear();
    for (Kind k : query.kinds) q.kinds.push_back(static_cast<std::uint32_t>(k));
  }
  q.from_day = query.from_day;
  q.to_day = query.to_day;
  if (query.author) {
    std::optional<MemberId> who;
    for (const auto& [id, name] : impl_->member_names) {
      if (Lower(name) == Lower(*query.author)) who = id;
    }
    if (!who) {
      return MakeError(Errc::kNotFound, "No member named '" + *query.author + "' in this space.");
    }
    q.author = who;
  }
  return impl_->Scan(q, query.limit, [&](const Item& item) {
    return !query.tag || item.tags.Contains(*query.tag);
  });
}

Result<std::vector<ItemView>> Node::Search(std::string_view query, std::size_t limit) {
  const std::string needle = Lower(query);
  if (IsBlank(needle)) return MakeError(Errc::kInvalidInput, "The search query is empty.");
  // Matching folds ASCII case only, and the encoding holds every searched
  // string as raw UTF-8, so an item whose folded bytes lack the needle cannot
  // match: skip decoding it. Folding into one reused buffer and then memmem
  // is several times faster than a search with a folding comparator.
  std::string folded;
  const auto prefilter = [&](const Bytes& plain) {
    folded.resize(plain.size());
    std::transform(plain.begin(), plain.end(), folded.begin(), [](std::uint8_t b) {
      return static_cast<char>(b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
    });
    return ::memmem(folded.data(), folded.size(), needle.data(), needle.size()) != nullptr;
  };
  // Matches are few, so reading the table in storage order (no index
  // lookups) and sorting the matches afterwards beats reading newest first.
  storage::ItemQuery q = Impl::JournalKinds();
  q.newest_first = false;
  std::erase(q.kinds, static_cast<std::uint32_t>(Kind::kCheckin));
  auto has = [&](const std::string& s) { return Lower(s).find(needle) != std::string::npos; };
  HEARTH_ASSIGN_OR_RETURN(auto found, impl_->Scan(q, 0, [&](const Item& item) {
    if (has(item.Text(Field::kText)) || has(item.Text(Field::kTitle))) return true;
    for (const auto& [dot, tag] : item.tags.adds()) {
      if (has(tag)) return true;
    }
    for (const auto& [period, reg] : item.follow_through) {
      if (has(reg.value.note)) return true;
    }
    return false;
  }, prefilter));
  // Check-in answers travel sealed, so the prefilter cannot see them: the
  // check-ins (a few a month) are opened and searched whole.
  storage::ItemQuery cq;
  cq.kinds = {static_cast<std::uint32_t>(Kind::kCheckin)};
  cq.newest_first = false;
  HEARTH_ASSIGN_OR_RETURN(auto checkins, impl_->Scan(cq, 0, [&](const Item& item) {
    for (const auto& [key, answer] : impl_->Unsealed(item).Answers()) {
      if (has(answer)) return true;
    }
    return false;
  }));
  found.insert(found.end(), checkins.begin(), checkins.end());
  // The order `list` uses: newest day first, then newest creation (storage
  // order is creation order, so reversed it breaks ties within a millisecond).
  std::reverse(found.begin(), found.end());
  std::stable_sort(found.begin(), found.end(), [](const ItemView& a, const ItemView& b) {
    return a.day != b.day ? a.day > b.day : a.created_ms > b.created_ms;
  });
  if (limit != 0 && found.size() > limit) found.resize(limit);
  return found;
}

Result<std::vector<ItemView>> Node::OnThisDay() {
  const std::int64_t today = impl_->Today();
  const CivilDate t = CivilFromDays(today);
  storage::ItemQuery q;
  q.kinds = {static_cast<std::uint32_t>(Kind::kEntry), static_cast<std::uint32_t>(Kind::kAppreciation)};
  q.to_day = today - 1;
  return impl_->Scan(q, 0, [&](const Item& item) {
    const CivilDate c = CivilFromDays(item.day());
    return c.month == t.month && c.day == t.day && c.year < t.year;
  });
}

Result<std::optional<ItemView>> Node::RandomMemory() {
  storage::ItemQuery q;
  q.kinds = {static_cast<std::uint32_t>(Kind::kEntry), static_cast<std::uint32_t>(Kind::kAppreciation)};
  q.to_day = impl_->Today() - 1;
  HEARTH_ASSIGN_OR_RETURN(auto all, impl_->Scan(q, 0, [](const Item& item) {
    return item.kind == Kind::kAppreciation || item.Int(Field::kMemory).value_or(0) != 0;
  }));
  if (all.empty()) return std::optional<ItemView>();
  return std::optional<ItemView>(all[crypto::RandomU64() % all.size()]);
}

std::vector<MemberView> Node::Members() const {
  std::vector<MemberView> out;
  for (const auto& [id, name] : impl_->member_names) out.push_back({id, name, id == member_id()});
  return out;
}

std::string Node::SpaceId() const { return ToHex(impl_->keys.space_id); }

Result<StatusView> Node::GetStatus() {
  Impl& im = *impl_;
  StatusView s;
  s.space_id = ToHex(im.keys.space_id);
  s.passphrase = im.passphrase;
  for (const auto& [id, name] : im.member_names) {
    MemberView m{id, name, id == member_id()};
    if (m.me) s.me = m;
    s.members.push_back(m);
  }
  for (const auto& [id, d] : im.devices) {
    DeviceView v{ToHex(d.sign_key), d.name, im.MemberName(d.member), id == im.tag()};
    if (v.this_device) s.device = v;
    s.devices.push_back(v);
  }
  HEARTH_ASSIGN_OR_RETURN(auto head, im.store->Head(im.feed_id()));
  HEARTH_ASSIGN_OR_RETURN(auto private_head, im.store->Head(im.private_feed_id()));
  s.records_here = (head ? head->seq : 0) + (private_head ? private_head->seq : 0);
  HEARTH_ASSIGN_OR_RETURN(auto peers, Peers());
  for (const auto& p : peers) {
    PeerView v;
    auto it = im.devices.find(p.device);
    v.device = it == im.devices.end() ? "device " + IdToHex(p.device).substr(0, 8) : it->second.name;
    v.member = it == im.devices.end() ? std::string() : im.MemberName(it->second.member);
    v.address = p.address;
    v.connected = p.connected;
    v.last_seen_ms = p.last_seen_ms;
    v.they_lack = p.they_lack;
    s.peers.push_back(std::move(v));
  }
  HEARTH_ASSIGN_OR_RETURN(s.forks, Forks());
  HEARTH_ASSIGN_OR_RETURN(s.records_total, im.store->RecordCount());
  const std::int64_t today = im.Today();
  s.checkin_rhythm = im.CheckinRhythm();
  const std::int64_t period_start = PeriodStart(s.checkin_rhythm, today);
  s.checkin_period = PeriodName(s.checkin_rhythm, today);
  s.checkin_next_day = NextPeriodStart(s.checkin_rhythm, period_start);
  const ItemId checkin_id = im.CheckinId(s.checkin_period);
  HEARTH_ASSIGN_OR_RETURN(Item checkin, im.LoadItem(checkin_id));
  // A reveal the last receive could not write (the process ended between
  // the two transactions) is written now.
  if (im.RevealDue(checkin)) {
    HEARTH_TRY(im.RevealWhereDue({checkin_id}));
    HEARTH_ASSIGN_OR_RETURN(checkin, im.LoadItem(checkin_id));
  }
  const std::set<MemberId> answered = Impl::Answered(checkin);
  s.checkin_due = !answered.contains(member_id());
  s.checkin_partner_answered = false;
  for (const auto& [id, name] : im.member_names) {
    if (id != member_id() && answered.contains(id)) s.checkin_partner_answered = true;
  }
  storage::ItemQuery q;
  q.kinds = {static_cast<std::uint32_t>(Kind::kCommitment)};
  HEARTH_ASSIGN_OR_RETURN(auto commitments, im.Scan(q, 0, [](const Item&) { return true; }));
  for (auto& c : commitments) {
    if (!im.OwnedByMe(c) || c.replaced_by != 0) continue;
    const std::string period = im.CurrentPeriod(c.rhythm);
    bool recorded = std::any_of(c.follow_through.begin(), c.follow_through.end(),
                                [&](const FollowThroughView& f) { return f.period == period; });
    if (!recorded) s.commitments_due.push_back(c);
  }
  HEARTH_ASSIGN_OR_RETURN(auto off, im.store->GetMeta("signals"));
  s.signals_enabled = !off || off->empty() || (*off)[0] != 0;
  if (s.signals_enabled) {
    HEARTH_ASSIGN_OR_RETURN(s.signals, im.Signals(commitments, s.checkin_rhythm, period_start));
  }
  return s;
}

Status Node::SetSignals(bool on) {
  HEARTH_ASSIGN_OR_RETURN(auto txn, impl_->store->Begin());
  HEARTH_TRY(impl_->store->PutMeta("signals", Bytes{static_cast<std::uint8_t>(on ? 1 : 0)}));
  return txn.Commit();
}

Result<std::vector<Bytes>> Node::ReadablePlaintexts() {
  Impl& im = *impl_;
  std::vector<Bytes> out;
  HEARTH_ASSIGN_OR_RETURN(auto feeds, im.store->Feeds());
  for (const feed::FeedId& f : feeds) {
    HEARTH_TRY(im.store->ForEachRecord(f, 1, [&](storage::StoredRecord&& r) -> Status {
      HEARTH_ASSIGN_OR_RETURN(feed::Header h, feed::ParseHeader(r.record.body));
      const crypto::SymmetricKey& key =
          h.scope == feed::Scope::kPrivate ? im.private_record_key : im.shared_record_key;
      auto plain = feed::OpenBody(r.record.body, key);
      if (plain.ok()) out.push_back(std::move(plain).value());
      return {};
    }));
  }
  storage::ItemQuery all;
  all.live_only = false;
  HEARTH_TRY(im.store->ScanItems(all, [&](storage::ItemRow&& row) {
    auto plain = im.DecryptItem(row);
    if (plain.ok()) out.push_back(std::move(plain).value());
    return true;
  }));
  return out;
}

Result<VerifyReport> Node::Verify() {
  Impl& im = *impl_;
  VerifyReport report;
  std::map<ItemId, Item> rebuilt;
  HEARTH_ASSIGN_OR_RETURN(auto feeds, im.store->Feeds());
  for (const feed::FeedId& f : feeds) {
    ++report.feeds;
    feed::FeedVerifier chain(f);
    const std::string who = "record " + ToHex(ByteView(f).subspan(0, 8));
    HEARTH_TRY(im.store->ForEachRecord(f, 1, [&](storage::StoredRecord&& r) -> Status {
      const std::string where = who + "/" + std::to_string(r.seq);
      if (r.seq != chain.next_seq()) {
        return MakeError(Errc::kIntegrity, "A record is missing before " + where + ".");
      }
      if (Status s = chain.Add(r.record); !s.ok()) {
        return MakeError(Errc::kIntegrity, "Tampered or corrupt data in " + where + ": " + s.error().message);
      }
      if (chain.prev() != r.hash) {
        return MakeError(Errc::kIntegrity, "Tampered or corrupt data in " + where + ".");
      }
      HEARTH_ASSIGN_OR_RETURN(feed::Header h, feed::ParseHeader(r.record.body));
      const crypto::SymmetricKey& key =
          h.scope == feed::Scope::kPrivate ? im.private_record_key : im.shared_record_key;
      auto plain = feed::OpenBody(r.record.body, key);
      if (!plain.ok()) {
        return MakeError(Errc::kIntegrity, "Tampered or corrupt data in " + where + ": it does not decrypt.");
      }
      auto ops = codec::DecodeOpBatch(*plain);
      if (!ops.ok()) return MakeError(Errc::kIntegrity, "Tampered or corrupt data in " + where + ".");
      for (const Op& op : *ops) {
        Item& item = rebuilt[op.item];
        item.id = op.item;
        model::Apply(item, op, feed::DeviceTag(f));
        ++report.ops;
      }
      ++report.records;
      return {};
    }));
    if (Status s = chain.Finish(); !s.ok()) {
      return MakeError(Errc::kIntegrity, "Tampered or corrupt data at the end of " + who + ": " +
                                             s.error().message);
    }
  }
  // The stored items must open and equal the rebuild.
  storage::ItemQuery all;
  all.live_only = false;
  Status failed;
  std::size_t seen = 0;
  HEARTH_TRY(im.store->ScanItems(all, [&](storage::ItemRow&& row) {
    auto item = im.OpenItem(row);
    if (!item.ok()) {
      failed = item.error();
      return false;
    }
    auto it = rebuilt.find(row.id);
    if (it == rebuilt.end() || !(it->second == *item)) {
      failed = MakeError(Errc::kIntegrity, "Stored item " + IdToHex(row.id) +
                                               " does not match the records; run 'hearth verify' "
                                               "after restoring a backup.");
      return false;
    }
    ++seen;
    return true;
  }));
  if (!failed.ok()) return failed.error();
  if (seen != rebuilt.size()) {
    return MakeError(Errc::kIntegrity, "Some items are missing from the database.");
  }
  report.items = seen;
  return report;
}

Status Node::CommitBatches(std::vector<std::vector<model::Op>> batches, feed::Scope scope) {
  return impl_->Commit(batches, scope);
}


// ---- sync ----

namespace {

std::string FeedName(const feed::FeedId& f) { return ToHex(ByteView(f).subspan(0, 8)); }

}  // namespace

const crypto::DhKey& Node::dh_key() const { return impl_->keys.dh; }

crypto::SymmetricKey Node::DiscoveryKey() const { return impl_->keys.space_key.Derive(1, "hdiscov1"); }

namespace {
MailboxKeys MailboxFrom(const crypto::SymmetricKey& root, std::string_view context, bool member) {
  return MailboxKeys{crypto::SigningKey::FromSeed(root.Derive(1, context)), root.Derive(2, context),
                     root.Derive(3, context), member};
}
}  // namespace

MailboxKeys Node::SharedMailbox() const { return MailboxFrom(impl_->keys.space_key, "hrelaysp", false); }
MailboxKeys Node::MemberMailbox() const { return MailboxFrom(impl_->keys.member_key, "hrelaymb", true); }

std::vector<feed::FeedId> Node::MailboxFeeds(bool member) const {
  const Impl& im = *impl_;
  std::set<feed::FeedId> out;
  if (member) {
    out.insert(im.private_feed_id());
    out.insert(im.trusted_private_feeds.begin(), im.trusted_private_feeds.end());
    for (const auto& [id, d] : im.devices) {
      if (d.member == im.keys.member_id && d.private_feed) out.insert(*d.private_feed);
    }
  } else {
    out.insert(im.feed_id());
    for (const feed::FeedId& f : im.trusted_feeds) {
      if (!im.trusted_private_feeds.contains(f)) out.insert(f);
    }
    for (const auto& [id, d] : im.devices) out.insert(d.sign_key);
  }
  return {out.begin(), out.end()};
}

Result<std::string> Node::SavedRelay() {
  HEARTH_ASSIGN_OR_RETURN(Item item, impl_->LoadItem(impl_->SettingsId()));
  return item.Text(Field::kRelay);
}

Status Node::SaveRelay(const std::string& address) {
  HEARTH_TRY(CheckText("relay address", address, 300, false));
  const ItemId id = impl_->SettingsId();
  std::vector<Op> ops;
  ops.push_back({0, id, model::CreateItem{Kind::kSettings, member_id(), false}});
  ops.push_back({0, id, model::SetField{Field::kRelay, address}});
  return impl_->CommitOne(std::move(ops), feed::Scope::kShared);
}

NewDevice Node::Self() const {
  const Impl& im = *impl_;
  std::string name;
  if (auto it = im.devices.find(im.tag()); it != im.devices.end()) name = it->second.name;
  return NewDevice{im.keys.member_id, name, im.keys.sign.public_key(), im.keys.dh.public_key(),
                   im.private_feed_id()};
}

std::vector<RosterDevice> Node::Devices() const {
  std::vector<RosterDevice> out;
  for (const auto& [id, d] : impl_->devices) out.push_back(d);
  return out;
}

std::optional<RosterDevice> Node::DeviceByDhKey(const crypto::PublicKey& dh) const {
  for (const auto& [id, d] : impl_->devices) {
    if (d.dh_key == dh) return d;
  }
  return std::nullopt;
}

bool Node::Accepts(const feed::FeedId& f) const {
  const Impl& im = *impl_;
  if (f == im.feed_id() || f == im.private_feed_id() || im.trusted_feeds.contains(f)) return true;
  const RosterDevice* owner = im.FeedOwner(f);
  if (owner == nullptr) return false;
  // Another member's private feed is never held here.
  return !im.IsPrivateFeed(f) || owner->member == im.keys.member_id;
}

bool Node::MaySend(const feed::FeedId& f, const RosterDevice& peer) const {
  return !impl_->IsPrivateFeed(f) || peer.member == impl_->keys.member_id;
}

Result<std::optional<FeedHead>> Node::HeadOf(const feed::FeedId& f) {
  HEARTH_ASSIGN_OR_RETURN(auto head, impl_->store->Head(f));
  if (!head) return std::optional<FeedHead>();
  return std::optional<FeedHead>(FeedHead{f, head->seq, head->hash});
}

Result<std::vector<FeedHead>> Node::HeadsFor(const RosterDevice& peer) {
  HEARTH_ASSIGN_OR_RETURN(auto feeds, impl_->store->Feeds());
  std::vector<FeedHead> out;
  for (const feed::FeedId& f : feeds) {
    if (!MaySend(f, peer)) continue;
    HEARTH_ASSIGN_OR_RETURN(auto head, HeadOf(f));
    if (head) out.push_back(*head);
  }
  return out;
}

Result<std::vector<feed::Record>> Node::ReadRecords(const feed::FeedId& f, std::uint64_t from_seq,
                                                    std::size_t max_bytes) {
  std::vector<feed::Record> out;
  // Stored seqs are SQLite integers: none lies past INT64_MAX, and a larger
  // seq (a peer's Want may carry any) would reach SQLite as a negative one.
  if (from_seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return out;
  std::size_t bytes = 0;
  std::size_t signed_end = 0;  // records up to here end on a signature
  std::uint64_t next = std::max<std::uint64_t>(from_seq, 1);
  constexpr int kChunk = 256;
  while (true) {
    HEARTH_ASSIGN_OR_RETURN(auto chunk, impl_->store->RecordRange(f, next, kChunk));
    for (auto& r : chunk) {
      if (r.seq != next) return MakeError(Errc::kIntegrity, "A record is missing from a stored feed.");
      // Stop at a run boundary once the budget is spent.
      if (signed_end > 0 && signed_end == out.size() && bytes + r.record.body.size() > max_bytes) {
        return out;
      }
      bytes += r.record.body.size();
      const bool is_signed = r.record.signature.has_value();
      out.push_back(std::move(r.record));
      if (is_signed) signed_end = out.size();
      ++next;
    }
    if (chunk.size() < static_cast<std::size_t>(kChunk)) break;
  }
  out.resize(signed_end);  // an unsigned tail cannot be verified by the receiver
  return out;
}

Status Node::CheckPeerHead(const FeedHead& theirs) {
  Impl& im = *impl_;
  if (theirs.length == 0) return {};
  HEARTH_ASSIGN_OR_RETURN(auto mine, im.store->Head(theirs.feed));
  if (!mine || mine->seq < theirs.length) return {};
  HEARTH_ASSIGN_OR_RETURN(auto rec, im.store->GetRecord(theirs.feed, theirs.length));
  if (rec && rec->hash != theirs.hash) {
    HEARTH_TRY(im.RecordFork(theirs.feed, theirs.length));
    return MakeError(Errc::kIntegrity, "Device " + FeedName(theirs.feed) +
                                           " has two different histories (a fork at record " +
                                           std::to_string(theirs.length) + "); it was not merged.");
  }
  return {};
}

Result<std::vector<std::string>> Node::Forks() {
  HEARTH_ASSIGN_OR_RETURN(auto rows, impl_->store->MetaWithPrefix("fork/"));
  std::vector<std::string> out;
  for (const auto& [key, value] : rows) out.push_back(key.substr(5) + " " + std::string(AsChars(value)));
  return out;
}

Status Node::TrustFeed(const feed::FeedId& f, bool private_feed) {
  HEARTH_ASSIGN_OR_RETURN(auto txn, impl_->store->Begin());
  Bytes value(f.begin(), f.end());
  value.push_back(private_feed ? 1 : 0);
  HEARTH_TRY(impl_->store->PutMeta("trust/" + ToHex(f), value));
  HEARTH_TRY(txn.Commit());
  return impl_->LoadRoster();
}

Result<std::int64_t> Node::DataVersion() { return impl_->store->DataVersion(); }

Result<ApplyOutcome> Node::ApplyRecords(const feed::FeedId& f, std::uint64_t first_seq,
                                        const std::vector<feed::Record>& records) {
  Impl& im = *impl_;
  if (!Accepts(f)) {
    return MakeError(Errc::kAuth, "Records arrived from device " + FeedName(f) +
                                      ", which is not in this space's roster; they were refused.");
  }
  ApplyOutcome outcome;
  if (records.empty()) return outcome;
  if (records.size() > kMaxRecordsPerBatch) {
    return MakeError(Errc::kInvalidInput, "A batch holds too many records.");
  }
  HEARTH_ASSIGN_OR_RETURN(auto txn, im.store->Begin());
  HEARTH_ASSIGN_OR_RETURN(auto stored, im.store->Head(f));
  const storage::FeedHead head = stored.value_or(storage::FeedHead{});
  if (first_seq == 0 || first_seq > head.seq + 1) {
    return MakeError(Errc::kInvalidInput, "A batch of records does not follow what is held here.");
  }
  // Places already held must hold the same records.
  std::size_t i = 0;
  for (std::uint64_t seq = first_seq; seq <= head.seq && i < records.size(); ++seq, ++i) {
    HEARTH_ASSIGN_OR_RETURN(auto mine, im.store->GetRecord(f, seq));
    if (!mine || mine->hash != feed::RecordHash(records[i].body)) {
      txn.Rollback();  // before recording the fork in its own transaction
      HEARTH_TRY(im.RecordFork(f, seq));
      return MakeError(Errc::kIntegrity, "Device " + FeedName(f) +
                                             " has two different histories (a fork at record " +
                                             std::to_string(seq) + "); it was not merged.");
    }
    ++outcome.duplicates;
  }
  if (i == records.size()) return outcome;
  const bool private_feed = im.IsPrivateFeed(f);
  const RosterDevice* owner = im.FeedOwner(f);
  feed::FeedVerifier chain(f, head.seq + 1, head.hash);
  HEARTH_ASSIGN_OR_RETURN(crdt::HybridClock hlc, im.LoadClock());
  Impl::Touched touched;
  std::set<MemberId> authors;  // of the items the batch creates
  const std::uint64_t stamp_tag = feed::DeviceTag(f);
  for (; i < records.size(); ++i) {
    const feed::Record& rec = records[i];
    if (Status s = chain.Add(rec); !s.ok()) {
      return MakeError(Errc::kIntegrity, "A record from device " + FeedName(f) + " failed its checks: " +
                                             s.error().message);
    }
    HEARTH_ASSIGN_OR_RETURN(feed::Header h, feed::ParseHeader(rec.body));
    if ((h.scope == feed::Scope::kPrivate) != private_feed) {
      return MakeError(Errc::kIntegrity, "A record from device " + FeedName(f) + " is in the wrong feed.");
    }
    const crypto::SymmetricKey& key = private_feed ? im.private_record_key : im.shared_record_key;
    auto plain = feed::OpenBody(rec.body, key);
    if (!plain.ok()) {
      return MakeError(Errc::kIntegrity, "A record from device " + FeedName(f) + " does not decrypt.");
    }
    HEARTH_ASSIGN_OR_RETURN(auto ops, codec::DecodeOpBatch(*plain));
    for (const Op& op : ops) {
      if (const auto* c = std::get_if<model::CreateItem>(&op.body)) authors.insert(c->author);
      // Sealing and revealing speak for a member too (docs/checkin-sealing.md).
      if (const auto* a = std::get_if<model::SealAnswers>(&op.body)) authors.insert(a->member);
      if (const auto* r = std::get_if<model::RevealKey>(&op.body)) authors.insert(r->member);
      hlc.Observe(op.hlc);
    }
    HEARTH_TRY(im.ApplyOps(touched, ops, stamp_tag));
    HEARTH_TRY(im.store->PutRecord(f, h.seq, chain.prev(), rec));
    ++outcome.applied;
  }
  if (Status s = chain.Finish(); !s.ok()) {
    return MakeError(Errc::kIntegrity, "A batch from device " + FeedName(f) + " does not end on a signature.");
  }
  // A device writes only in its own member's name. Its membership is judged
  // after the batch: a device's first record carries the proof of its own
  // membership along with the first items it creates.
  if (owner) {
    MemberId member = owner->member;
    if (member == 0) {
      if (auto it = touched.items.find(owner->id); it != touched.items.end()) member = im.ProvenMember(it->second);
    }
    // A private feed handed over at pairing by a device of this member is
    // this member's, even before its device's proof has arrived.
    if (member == 0 && im.trusted_private_feeds.contains(f)) member = im.keys.member_id;
    for (MemberId a : authors) {
      if (a != member) {
        return MakeError(Errc::kIntegrity, "A record from device " + FeedName(f) +
                                               " claims another member's authorship; it was refused.");
      }
    }
  }
  HEARTH_TRY(im.SaveTouched(touched, hlc));
  HEARTH_TRY(txn.Commit());
  outcome.roster_changed = touched.roster_changed;
  if (outcome.roster_changed) HEARTH_TRY(im.LoadRoster());
  // Judged with the roster as it is now: the partner's member may have
  // arrived in this very batch, or only now, after their answers.
  std::set<ItemId> reveal;
  for (const auto& [id, item] : touched.items) {
    if (im.RevealDue(item)) reveal.insert(id);
  }
  if (outcome.roster_changed) {
    storage::ItemQuery q;
    q.kinds = {static_cast<std::uint32_t>(Kind::kCheckin)};
    Status failed;
    HEARTH_TRY(im.store->ScanItems(q, [&](storage::ItemRow&& row) {
      auto item = im.OpenItem(row);
      if (!item.ok()) {
        failed = item.error();
        return false;
      }
      if (im.RevealDue(*item)) reveal.insert(item->id);
      return true;
    }));
    HEARTH_TRY(failed);
  }
  // The partner's answers arrived: this member's seal key for that check-in
  // is released now, in a record of this device's own (its own transaction;
  // `status` writes it should this process end in between).
  HEARTH_ASSIGN_OR_RETURN(outcome.wrote, im.RevealWhereDue(reveal));
  return outcome;
}


// ---- invites and peer notes ----

std::int64_t Node::NowMs() const { return impl_->clock->NowMs(); }

Status Node::AddInvite(const InviteId& id, bool own_device, std::int64_t expires_ms, ByteView secret) {
  if (secret.size() > crypto::kKeySize) return MakeError(Errc::kInternal, "An invite secret is too long.");
  Impl& im = *impl_;
  // kind(1) used(1) expires(8 LE) nonce(24) sealed(32 + 16); the secret is
  // sealed under the item key so the database never holds it readable.
  crypto::SecretBytes padded(crypto::kKeySize);
  std::memcpy(padded.data(), secret.data(), secret.size());
  Bytes value{static_cast<std::uint8_t>(own_device ? 2 : 1), 0};
  PutU64Le(value, static_cast<std::uint64_t>(expires_ms));
  const crypto::Nonce nonce = crypto::RandomNonce();
  Append(value, nonce);
  const std::string key = "invite/" + ToHex(id);
  Append(value, crypto::Seal(im.item_key, nonce, padded.view(), AsBytes(key)));
  HEARTH_ASSIGN_OR_RETURN(auto txn, im.store->Begin());
  HEARTH_TRY(im.store->PutMeta(key, value));
  return txn.Commit();
}

Result<std::optional<Node::Invite>> Node::GetInvite(const InviteId& id) {
  Impl& im = *impl_;
  const std::string key = "invite/" + ToHex(id);
  HEARTH_ASSIGN_OR_RETURN(auto value, im.store->GetMeta(key));
  if (!value) return std::optional<Invite>();
  constexpr std::size_t kSize = 2 + 8 + crypto::kNonceSize + crypto::kKeySize + crypto::kTagSize;
  if (value->size() != kSize || ((*value)[0] != 1 && (*value)[0] != 2)) {
    return MakeError(Errc::kIntegrity, "A stored invite is damaged.");
  }
  crypto::Nonce nonce;
  std::memcpy(nonce.data(), value->data() + 10, nonce.size());
  auto secret = crypto::OpenSecret(im.item_key, nonce, ByteView(*value).subspan(10 + nonce.size()), AsBytes(key));
  if (!secret) return MakeError(Errc::kIntegrity, "A stored invite is damaged.");
  auto sym = crypto::SymmetricKey::FromBytes(secret->view());
  Invite inv{(*value)[0] == 2, static_cast<std::int64_t>(GetU64Le(value->data() + 2)), (*value)[1] != 0,
             std::move(*sym)};
  return std::optional<Invite>(std::move(inv));
}

Status Node::MarkInviteUsed(const InviteId& id) {
  Impl& im = *impl_;
  const std::string key = "invite/" + ToHex(id);
  HEARTH_ASSIGN_OR_RETURN(auto txn, im.store->Begin());
  HEARTH_ASSIGN_OR_RETURN(auto value, im.store->GetMeta(key));
  if (!value || value->size() < 2) return MakeError(Errc::kNotFound, "No such invite.");
  (*value)[1] = 1;
  HEARTH_TRY(im.store->PutMeta(key, *value));
  return txn.Commit();
}

Status Node::NotePeer(const PeerNote& note) {
  Impl& im = *impl_;
  if (note.address.size() > 100) return MakeError(Errc::kInvalidInput, "A peer address is too long.");
  const std::string key = "peer/" + IdToHex(note.device);
  HEARTH_ASSIGN_OR_RETURN(auto txn, im.store->Begin());
  std::string address = note.address;
  if (address.empty()) {  // a peer that dialed in: keep the address it was last reached at
    HEARTH_ASSIGN_OR_RETURN(auto old, im.store->GetMeta(key));
    if (old && old->size() > 17) address = std::string(AsChars(ByteView(*old).subspan(17)));
  }
  Bytes value{static_cast<std::uint8_t>(note.connected ? 1 : 0)};
  PutU64Le(value, static_cast<std::uint64_t>(note.last_seen_ms));
  PutU64Le(value, note.they_lack);
  Append(value, AsBytes(address));
  HEARTH_TRY(im.store->PutMeta(key, value));
  return txn.Commit();
}

Result<std::vector<Node::PeerNote>> Node::Peers() {
  HEARTH_ASSIGN_OR_RETURN(auto rows, impl_->store->MetaWithPrefix("peer/"));
  std::vector<PeerNote> out;
  for (const auto& [key, value] : rows) {
    if (value.size() < 17 || key.size() != 5 + 16) continue;
    PeerNote n;
    n.device = std::strtoull(key.c_str() + 5, nullptr, 16);
    n.connected = value[0] != 0;
    n.last_seen_ms = static_cast<std::int64_t>(GetU64Le(value.data() + 1));
    n.they_lack = GetU64Le(value.data() + 9);
    n.address = std::string(AsChars(ByteView(value).subspan(17)));
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace hearth::node
