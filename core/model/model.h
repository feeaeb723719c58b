// hearth::model — the couple's journal as CRDT state materialized from ops.
//
// An Item is one thing in the space (an entry, an appreciation, a commitment,
// a check-in, the agreements document, a member, a device). Every change is
// an Op; Apply() folds an op into an item. Apply is commutative and idempotent
// across ops with distinct stamps, so any delivery order with duplicates ends
// in the same Item. Scalars are last-writer-wins registers, tags an add-wins
// set, follow-through one register per period, check-in answers one register
// per (member, prompt). Deletion is a register too (a tombstone).
//
// Validation of user input happens before ops are made (in node); Apply never
// trusts an op's content beyond its type, so a malformed remote op cannot
// break an item, only set odd values that readers clamp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/base/bytes.h"
#include "core/crdt/crdt.h"
#include "core/crdt/text.h"

namespace hearth::model {

using ItemId = std::uint64_t;
using MemberId = std::uint64_t;
using crdt::Stamp;

enum class Kind : std::uint32_t {
  kUnknown = 0,
  kEntry = 1,
  kAppreciation = 2,
  kCommitment = 3,
  kCheckin = 4,
  kAgreements = 5,
  kMember = 6,
  kDevice = 7,
  kSettings = 8,  // the space's shared settings (one item): the relay address
};
inline constexpr std::uint32_t kMaxKind = 8;

// Scalar fields. Numbers are part of the record format: never reuse one.
enum class Field : std::uint32_t {
  kText = 1,     // text: entry text, appreciation, commitment, agreements
  kTitle = 2,    // text: entry title
  kMood = 3,     // int 1..5
  kDate = 4,     // int: day number the item is about (entries: --date)
  kMemory = 5,   // int 0/1: a "remember when" entry
  kOwner = 6,    // int: Owner
  kRhythm = 7,   // int: Rhythm
  kTo = 8,       // int: member id an appreciation is for (0: the partner, unknown yet)
  kDeleted = 9,  // int 0/1: tombstone
  kName = 10,    // text: member or device name
  kMember = 11,  // int: member id a device belongs to
  kDhKey = 12,   // bytes: a device's X25519 public key
  kSignKey = 13, // bytes: a device's Ed25519 public key
  kPeriod = 14,  // text: the check-in's period, e.g. 2026-W47
  kPrivateFeed = 15,  // bytes: the Ed25519 key of a device's private feed
  kVouch = 16,   // bytes: a device's membership, proven with its member's key (node.cc)
  kRelay = 17,   // text: the space's relay address (settings)
  kAnswer = 18,  // sequence text only: a check-in answer, with TextSlot::member and ::prompt
  kCheckinEvery = 19,  // int: Rhythm of the couple's check-ins (settings; week when unset)
  kReplaces = 20,      // int: the commitment this one renegotiated (item id, as two's complement)
  kReplacedBy = 21,    // int: the commitment that renegotiated this one
};
inline constexpr std::uint32_t kMaxField = 21;

enum class Owner : std::int64_t { kAuthor = 0, kPartner = 1, kBoth = 2 };
enum class Rhythm : std::int64_t { kDay = 0, kWeek = 1, kMonth = 2 };

using Value = std::variant<std::monostate, std::int64_t, std::string, Bytes>;

struct CreateItem {
  Kind kind = Kind::kUnknown;
  MemberId author = 0;
  bool is_private = false;
};
struct SetField {
  Field field = Field::kText;
  Value value;
};
struct AddTag {
  std::string tag;
};
struct RemoveTag {
  std::string tag;
  std::vector<Stamp> observed;
};
struct SetFollowThrough {
  std::string period;
  bool kept = false;
  std::string note;
};
struct SetAnswer {
  MemberId member = 0;
  std::uint32_t prompt = 0;
  std::string text;
};

// Where an editable text lives in an item: a field (kText, kTitle) or, with
// field kAnswer, the answer of `member` to check-in prompt `prompt`.
struct TextSlot {
  Field field = Field::kText;
  MemberId member = 0;
  std::uint32_t prompt = 0;
  friend auto operator<=>(const TextSlot&, const TextSlot&) = default;
};
bool IsTextSlot(Field f);  // kText, kTitle, kAnswer

// Sequence-CRDT text ops (core/crdt/text.h). The agent of an insert is the
// writing device, like the device half of a stamp: it is never sent.
struct InsertText {
  TextSlot slot;
  std::uint32_t seq = 0;
  std::optional<crdt::CharId> left;
  std::optional<crdt::CharId> right;
  std::string text;  // UTF-8
};
struct DeleteText {
  TextSlot slot;
  crdt::CharId first;
  std::uint32_t len = 0;
};

// A member's check-in answers, sealed (docs/checkin-sealing.md): `sealed` is
// nonce || XChaCha20-Poly1305 ciphertext of an op batch (SetAnswer,
// InsertText, DeleteText on that member's answers) under a key only the
// member's own devices can derive, until one of them reveals it. The model
// keeps the ciphertext; node opens it where the key is known.
struct SealAnswers {
  MemberId member = 0;
  Bytes sealed;
};
// Reveals the key `member`'s answers to this check-in are sealed under.
struct RevealKey {
  MemberId member = 0;
  Bytes key;  // 32 bytes
};

using OpBody = std::variant<CreateItem, SetField, AddTag, RemoveTag, SetFollowThrough, SetAnswer, InsertText,
                            DeleteText, SealAnswers, RevealKey>;

struct Op {
  std::uint64_t hlc = 0;  // assigned when the op is committed
  ItemId item = 0;
  OpBody body;
};

struct FollowThroughValue {
  bool kept = false;
  std::string note;
  friend bool operator==(const FollowThroughValue&, const FollowThroughValue&) = default;
};

struct SealedAnswers {
  MemberId member = 0;
  Bytes sealed;
  friend bool operator==(const SealedAnswers&, const SealedAnswers&) = default;
};

struct Item {
  ItemId id = 0;
  Kind kind = Kind::kUnknown;
  bool has_create = false;  // false while only later ops have arrived
  Stamp created;            // the earliest create seen
  MemberId author = 0;
  bool is_private = false;
  std::map<Field, crdt::LwwRegister<Value>> fields;
  crdt::AddWinsSet<std::string> tags;
  std::map<std::string, crdt::LwwRegister<FollowThroughValue>> follow_through;
  std::map<std::pair<MemberId, std::uint32_t>, crdt::LwwRegister<std::string>> answers;
  std::map<TextSlot, crdt::Text> texts;  // editable texts, merged character by character
  std::map<Stamp, SealedAnswers> sealed;  // check-in answers still in their seal, by op stamp
  std::map<MemberId, crdt::LwwRegister<Bytes>> revealed;  // seal keys members have revealed

  friend bool operator==(const Item&, const Item&) = default;

  const Value* Get(Field f) const;
  // A text field: its sequence text when it has one, else the last-writer-wins
  // value written before texts became sequences. "" when unset or not text.
  std::string Text(Field f) const;
  // Check-in answers by (member, prompt), the same way.
  std::map<std::pair<MemberId, std::uint32_t>, std::string> Answers() const;
  // The sequence text in `slot`, or nullptr.
  const crdt::Text* SequenceText(const TextSlot& slot) const;
  std::optional<std::int64_t> Int(Field f) const;
  bool deleted() const { return Int(Field::kDeleted).value_or(0) != 0; }
  bool visible() const { return has_create && !deleted(); }
  std::int64_t created_ms() const { return crdt::HybridClock::WallMs(created.hlc); }
  // The day the item is about: its kDate field, else the day it was created.
  std::int64_t day() const;
};

// Folds `op`, written by the device with tag `device`, into `item`.
// `item.id` must equal `op.item`.
void Apply(Item& item, const Op& op, std::uint64_t device);

}  // namespace hearth::model
