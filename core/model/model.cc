#include "core/model/model.h"

#include "core/base/dates.h"

namespace hearth::model {

const Value* Item::Get(Field f) const {
  auto it = fields.find(f);
  return it == fields.end() ? nullptr : &it->second.value;
}

bool IsTextSlot(Field f) { return f == Field::kText || f == Field::kTitle || f == Field::kAnswer; }

const crdt::Text* Item::SequenceText(const TextSlot& slot) const {
  auto it = texts.find(slot);
  return it == texts.end() ? nullptr : &it->second;
}

std::map<std::pair<MemberId, std::uint32_t>, std::string> Item::Answers() const {
  std::map<std::pair<MemberId, std::uint32_t>, std::string> out;
  for (const auto& [key, reg] : answers) out[key] = reg.value;
  for (const auto& [slot, text] : texts) {
    if (slot.field == Field::kAnswer && text.total_chars() > 0) out[{slot.member, slot.prompt}] = text.ToUtf8();
  }
  return out;
}

std::string Item::Text(Field f) const {
  if (const crdt::Text* t = SequenceText(TextSlot{f, 0, 0}); t != nullptr && t->total_chars() > 0) {
    return t->ToUtf8();
  }
  const Value* v = Get(f);
  if (v == nullptr) return {};
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return {};
}

std::optional<std::int64_t> Item::Int(Field f) const {
  const Value* v = Get(f);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(v)) return *i;
  return std::nullopt;
}

std::int64_t Item::day() const {
  if (auto d = Int(Field::kDate)) return *d;
  return DayOfMs(created_ms());
}

namespace {

struct Applier {
  Item& item;
  Stamp stamp;

  void operator()(const CreateItem& c) const {
    // The earliest create decides; a later or duplicate create changes nothing,
    // so two devices creating the same shared item (a week's check-in) agree.
    if (item.has_create && !(stamp < item.created)) return;
    item.has_create = true;
    item.created = stamp;
    item.kind = c.kind;
    item.author = c.author;
    item.is_private = c.is_private;
  }
  void operator()(const SetField& s) const { item.fields[s.field].Set(stamp, s.value); }
  void operator()(const AddTag& a) const { item.tags.Add(a.tag, stamp); }
  void operator()(const RemoveTag& r) const { item.tags.Remove(r.observed); }
  void operator()(const SetFollowThrough& f) const {
    item.follow_through[f.period].Set(stamp, FollowThroughValue{f.kept, f.note});
  }
  void operator()(const SetAnswer& a) const {
    item.answers[{a.member, a.prompt}].Set(stamp, a.text);
  }
  // A text op the CRDT refuses (malformed ids) changes nothing.
  void operator()(const InsertText& t) const {
    ApplyText(t.slot, crdt::InsertOp{crdt::CharId{stamp.device, t.seq}, t.left, t.right, crdt::Utf8ToU32(t.text)});
  }
  void operator()(const DeleteText& t) const { ApplyText(t.slot, crdt::DeleteOp{t.first, t.len}); }
  void operator()(const SealAnswers& s) const { item.sealed[stamp] = SealedAnswers{s.member, s.sealed}; }
  void operator()(const RevealKey& r) const { item.revealed[r.member].Set(stamp, r.key); }
  // A slot that holds nothing after the op (it was refused) is not kept.
  void ApplyText(const TextSlot& slot, const crdt::TextOp& op) const {
    auto [it, added] = item.texts.try_emplace(slot);
    (void)it->second.Apply(op);
    if (added && it->second.total_chars() == 0 && it->second.parked() == 0) item.texts.erase(it);
  }
};

}  // namespace

void Apply(Item& item, const Op& op, std::uint64_t device) {
  std::visit(Applier{item, Stamp{op.hlc, device}}, op.body);
}

}  // namespace hearth::model
