#include "core/codec/codec.h"

#include "hearth.pb.h"

namespace hearth::codec {

namespace {

Bytes ToBytes(const std::string& s) {
  ByteView b = AsBytes(s);
  return Bytes(b.begin(), b.end());
}


using model::Field;
using model::Kind;

void ToPb(const crdt::Stamp& s, pb::Stamp* out) {
  out->set_hlc(s.hlc);
  out->set_device(s.device);
}
crdt::Stamp FromPb(const pb::Stamp& s) { return {s.hlc(), s.device()}; }

void ToPb(const model::Value& v, pb::Value* out) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out->set_int_value(*i);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    out->set_text_value(*s);
  } else if (const auto* b = std::get_if<Bytes>(&v)) {
    out->set_bytes_value(std::string(AsChars(*b)));
  }
}

model::Value FromPb(const pb::Value& v) {
  switch (v.v_case()) {
    case pb::Value::kIntValue:
      return v.int_value();
    case pb::Value::kTextValue:
      return v.text_value();
    case pb::Value::kBytesValue: {
      ByteView b = AsBytes(v.bytes_value());
      return Bytes(b.begin(), b.end());
    }
    default:
      return std::monostate{};
  }
}

void ToPb(const crdt::CharId& c, pb::CharId* out) {
  out->set_device(c.agent);
  out->set_seq(c.seq);
}
crdt::CharId FromPb(const pb::CharId& c) { return {c.device(), c.seq()}; }

template <typename Pb>
void SlotToPb(const model::TextSlot& slot, Pb* out) {
  out->set_field(static_cast<std::uint32_t>(slot.field));
  out->set_member(slot.member);
  out->set_prompt(slot.prompt);
}
// A slot read from the wire; nullopt for a field that holds no sequence text.
template <typename Pb>
std::optional<model::TextSlot> SlotFromPb(const Pb& p) {
  if (p.field() < 1 || p.field() > model::kMaxField || !model::IsTextSlot(static_cast<Field>(p.field()))) {
    return std::nullopt;
  }
  const auto field = static_cast<Field>(p.field());
  if (field != Field::kAnswer) return model::TextSlot{field, 0, 0};
  return model::TextSlot{field, p.member(), p.prompt()};
}

bool ValidField(std::uint32_t f) { return f >= 1 && f <= model::kMaxField; }
bool ValidKind(std::uint32_t k) { return k >= 1 && k <= model::kMaxKind; }

Error Damaged() { return MakeError(Errc::kIntegrity, "A record's content is damaged."); }

}  // namespace

Bytes EncodeOpBatch(const std::vector<model::Op>& ops) {
  pb::OpBatch batch;
  for (const model::Op& op : ops) {
    pb::Op* p = batch.add_ops();
    p->set_hlc(op.hlc);
    p->set_item(op.item);
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, model::CreateItem>) {
            auto* c = p->mutable_create();
            c->set_kind(static_cast<std::uint32_t>(body.kind));
            c->set_author_member(body.author);
            c->set_is_private(body.is_private);
          } else if constexpr (std::is_same_v<T, model::SetField>) {
            auto* s = p->mutable_set();
            s->set_field(static_cast<std::uint32_t>(body.field));
            ToPb(body.value, s->mutable_value());
          } else if constexpr (std::is_same_v<T, model::AddTag>) {
            p->mutable_add_tag()->set_tag(body.tag);
          } else if constexpr (std::is_same_v<T, model::RemoveTag>) {
            auto* r = p->mutable_remove_tag();
            r->set_tag(body.tag);
            for (const auto& s : body.observed) ToPb(s, r->add_observed());
          } else if constexpr (std::is_same_v<T, model::SetFollowThrough>) {
            auto* f = p->mutable_follow_through();
            f->set_period(body.period);
            f->set_kept(body.kept);
            f->set_note(body.note);
          } else if constexpr (std::is_same_v<T, model::SetAnswer>) {
            auto* a = p->mutable_answer();
            a->set_member(body.member);
            a->set_prompt(body.prompt);
            a->set_text(body.text);
          } else if constexpr (std::is_same_v<T, model::InsertText>) {
            auto* t = p->mutable_insert_text();
            SlotToPb(body.slot, t);
            t->set_seq(body.seq);
            if (body.left) ToPb(*body.left, t->mutable_left());
            if (body.right) ToPb(*body.right, t->mutable_right());
            t->set_text(body.text);
          } else if constexpr (std::is_same_v<T, model::DeleteText>) {
            auto* t = p->mutable_delete_text();
            SlotToPb(body.slot, t);
            ToPb(body.first, t->mutable_first());
            t->set_len(body.len);
          } else if constexpr (std::is_same_v<T, model::SealAnswers>) {
            auto* a = p->mutable_seal_answers();
            a->set_member(body.member);
            a->set_sealed(body.sealed.data(), body.sealed.size());
          } else if constexpr (std::is_same_v<T, model::RevealKey>) {
            auto* r = p->mutable_reveal_key();
            r->set_member(body.member);
            r->set_key(body.key.data(), body.key.size());
          }
        },
        op.body);
  }
  Bytes out(batch.ByteSizeLong());
  batch.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<std::vector<model::Op>> DecodeOpBatch(ByteView bytes) {
  pb::OpBatch batch;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !batch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Damaged();
  }
  if (static_cast<std::size_t>(batch.ops_size()) > kMaxOpsPerBatch) return Damaged();
  std::vector<model::Op> ops;
  ops.reserve(static_cast<std::size_t>(batch.ops_size()));
  for (const pb::Op& p : batch.ops()) {
    model::Op op;
    op.hlc = p.hlc();
    op.item = p.item();
    switch (p.body_case()) {
      case pb::Op::kCreate:
        if (!ValidKind(p.create().kind())) continue;
        op.body = model::CreateItem{static_cast<Kind>(p.create().kind()),
                                    p.create().author_member(), p.create().is_private()};
        break;
      case pb::Op::kSet:
        if (!ValidField(p.set().field())) continue;
        op.body = model::SetField{static_cast<Field>(p.set().field()), FromPb(p.set().value())};
        break;
      case pb::Op::kAddTag:
        op.body = model::AddTag{p.add_tag().tag()};
        break;
      case pb::Op::kRemoveTag: {
        if (static_cast<std::size_t>(p.remove_tag().observed_size()) > kMaxObservedPerRemove) {
          return Damaged();
        }
        model::RemoveTag r{p.remove_tag().tag(), {}};
        for (const auto& s : p.remove_tag().observed()) r.observed.push_back(FromPb(s));
        op.body = std::move(r);
        break;
      }
      case pb::Op::kFollowThrough:
        op.body = model::SetFollowThrough{p.follow_through().period(), p.follow_through().kept(),
                                          p.follow_through().note()};
        break;
      case pb::Op::kAnswer:
        op.body = model::SetAnswer{p.answer().member(), p.answer().prompt(), p.answer().text()};
        break;
      case pb::Op::kInsertText: {
        const auto& t = p.insert_text();
        auto slot = SlotFromPb(t);
        if (!slot) continue;
        model::InsertText ins{*slot, t.seq(), std::nullopt, std::nullopt, t.text()};
        if (t.has_left()) ins.left = FromPb(t.left());
        if (t.has_right()) ins.right = FromPb(t.right());
        op.body = std::move(ins);
        break;
      }
      case pb::Op::kDeleteText: {
        const auto& t = p.delete_text();
        auto slot = SlotFromPb(t);
        if (!slot) continue;
        op.body = model::DeleteText{*slot, FromPb(t.first()), t.len()};
        break;
      }
      case pb::Op::kSealAnswers:
        op.body = model::SealAnswers{p.seal_answers().member(), ToBytes(p.seal_answers().sealed())};
        break;
      case pb::Op::kRevealKey:
        if (p.reveal_key().key().size() != kSealKeySize) continue;
        op.body = model::RevealKey{p.reveal_key().member(), ToBytes(p.reveal_key().key())};
        break;
      default:
        continue;  // an op kind from a newer version: skipped, not an error
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

Bytes EncodeItem(const model::Item& item) {
  pb::ItemState s;
  s.set_id(item.id);
  s.set_kind(static_cast<std::uint32_t>(item.kind));
  ToPb(item.created, s.mutable_created());
  s.set_author_member(item.author);
  s.set_is_private(item.is_private);
  s.set_has_create(item.has_create);
  for (const auto& [field, reg] : item.fields) {
    auto* f = s.add_fields();
    f->set_field(static_cast<std::uint32_t>(field));
    ToPb(reg.at, f->mutable_reg()->mutable_at());
    ToPb(reg.value, f->mutable_reg()->mutable_value());
  }
  for (const auto& [dot, tag] : item.tags.adds()) {
    auto* t = s.add_tags();
    t->set_tag(tag);
    ToPb(dot, t->mutable_dot());
  }
  for (const auto& dot : item.tags.removed()) ToPb(dot, s.add_removed_tags());
  for (const auto& [period, reg] : item.follow_through) {
    auto* f = s.add_follow_through();
    f->set_period(period);
    ToPb(reg.at, f->mutable_at());
    f->set_kept(reg.value.kept);
    f->set_note(reg.value.note);
  }
  for (const auto& [key, reg] : item.answers) {
    auto* a = s.add_answers();
    a->set_member(key.first);
    a->set_prompt(key.second);
    ToPb(reg.at, a->mutable_reg()->mutable_at());
    a->mutable_reg()->mutable_value()->set_text_value(reg.value);
  }
  for (const auto& [at, sealed] : item.sealed) {
    auto* r = s.add_sealed();
    ToPb(at, r->mutable_at());
    r->set_member(sealed.member);
    r->set_sealed(sealed.sealed.data(), sealed.sealed.size());
  }
  for (const auto& [member, reg] : item.revealed) {
    auto* r = s.add_revealed();
    r->set_member(member);
    ToPb(reg.at, r->mutable_at());
    r->set_key(reg.value.data(), reg.value.size());
  }
  for (const auto& [slot, text] : item.texts) {
    auto* t = s.add_texts();
    SlotToPb(slot, t);
    // Not deflated: search's prefilter looks for the query in the plain bytes.
    t->set_crdt(text.Encode(false, false));
  }
  Bytes out(s.ByteSizeLong());
  s.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Result<model::Item> DecodeItem(ByteView bytes) {
  pb::ItemState s;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(Errc::kIntegrity, "A stored item is damaged.");
  }
  model::Item item;
  item.id = s.id();
  item.kind = s.kind() <= model::kMaxKind ? static_cast<Kind>(s.kind()) : Kind::kUnknown;
  item.created = FromPb(s.created());
  item.author = s.author_member();
  item.is_private = s.is_private();
  item.has_create = s.has_create();
  for (const auto& f : s.fields()) {
    if (!ValidField(f.field())) continue;
    item.fields[static_cast<Field>(f.field())] = {FromPb(f.reg().at()), FromPb(f.reg().value())};
  }
  std::map<crdt::Stamp, std::string> adds;
  for (const auto& t : s.tags()) adds.emplace(FromPb(t.dot()), t.tag());
  std::set<crdt::Stamp> removed;
  for (const auto& r : s.removed_tags()) removed.insert(FromPb(r));
  item.tags = crdt::AddWinsSet<std::string>::FromParts(std::move(adds), std::move(removed));
  for (const auto& f : s.follow_through()) {
    item.follow_through[f.period()] = {FromPb(f.at()), {f.kept(), f.note()}};
  }
  for (const auto& a : s.answers()) {
    item.answers[{a.member(), a.prompt()}] = {FromPb(a.reg().at()), a.reg().value().text_value()};
  }
  for (const auto& r : s.sealed()) item.sealed[FromPb(r.at())] = {r.member(), ToBytes(r.sealed())};
  for (const auto& r : s.revealed()) item.revealed[r.member()] = {FromPb(r.at()), ToBytes(r.key())};
  for (const auto& t : s.texts()) {
    auto slot = SlotFromPb(t);
    if (!slot) continue;
    auto text = crdt::Text::Decode(t.crdt());
    if (!text.ok()) return MakeError(Errc::kIntegrity, "A stored item is damaged.");
    item.texts[*slot] = std::move(text.value());
  }
  return item;
}

}  // namespace hearth::codec
