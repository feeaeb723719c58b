#include "tests/fuzz/sync_world.h"

#include <cstdio>

#include "core/base/dates.h"
#include "net/sync_session.h"
#include "sync.pb.h"
#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kHour = 3'600'000;

// Why building the world failed, for whoever sees stderr.
std::nullptr_t Failed(const char* step, const Error& e) {
  std::fprintf(stderr, "SyncWorld: %s: %s\n", step, e.message.c_str());
  return nullptr;
}

// How `viewer` knows `peer`: its roster entry, or what pairing told it.
node::RosterDevice SeenBy(node::Node& viewer, node::Node& peer) {
  if (auto d = viewer.DeviceByDhKey(peer.dh_key().public_key())) return *d;
  const node::NewDevice self = peer.Self();
  node::RosterDevice r;
  r.id = feed::DeviceTag(self.sign_key);
  r.member = self.member;
  r.name = self.name;
  r.sign_key = self.sign_key;
  r.dh_key = self.dh_key;
  r.private_feed = self.private_feed;
  return r;
}

template <typename T>
bool Ok(const char* step, const Result<T>& r) {
  if (!r.ok()) Failed(step, r.error());
  return r.ok();
}

}  // namespace

SyncWorld::SyncWorld() : clock_(*ParseTimestamp("2026-11-16T09:00:00Z")) {}
SyncWorld::~SyncWorld() = default;

Status SyncPair(node::Node& x, const node::RosterDevice& y_seen_by_x, node::Node& y,
                const node::RosterDevice& x_seen_by_y) {
  net::SyncSession sx(x, y_seen_by_x);
  net::SyncSession sy(y, x_seen_by_y);
  HEARTH_TRY(sx.Start());
  HEARTH_TRY(sy.Start());
  for (int round = 0; round < 10000 && (sx.HasOutgoing() || sy.HasOutgoing()); ++round) {
    while (sx.HasOutgoing()) {
      Bytes m = std::move(sx.outbox().front());
      sx.outbox().pop_front();
      HEARTH_TRY(sy.Receive(m));
    }
    while (sy.HasOutgoing()) {
      Bytes m = std::move(sy.outbox().front());
      sy.outbox().pop_front();
      HEARTH_TRY(sx.Receive(m));
    }
  }
  if (!sx.Complete() || !sy.Complete()) return MakeError(Errc::kInternal, "The sync did not complete.");
  return {};
}

std::unique_ptr<SyncWorld> SyncWorld::Create(const fs::path& root) {
  ResetSeededRandom();
  std::unique_ptr<SyncWorld> w(new SyncWorld());
  w->root_ = root;
  fs::create_directories(root);
  FixedClock& clock = w->clock_;

  auto a = node::Node::Init(root / "a-template", {"Sam", "sam-laptop", std::nullopt}, clock);
  if (!Ok("creating Sam's laptop", a)) return nullptr;
  w->a_ = std::move(a).value();
  auto b = node::Node::Join(root / "b", {"Alex", "alex-phone", std::nullopt}, w->a_->MakeGrant(false),
                            keys::GenerateForNewSpace(), clock);
  if (!Ok("creating Alex's phone", b)) return nullptr;
  w->b_ = std::move(b).value();
  node::Node& an = *w->a_;
  node::Node& bn = *w->b_;
  if (!Ok("pairing", an.AddDevice(bn.Self(), std::string("Alex")))) return nullptr;

  // Sam's side before the first sync.
  node::EntryDraft walk;
  walk.text = "A long walk by the river.";
  walk.title = "Sunday";
  walk.mood = 4;
  walk.tags = {"outside", "us"};
  if (!Ok("Sam's entry", an.Write(walk))) return nullptr;
  if (!Ok("Sam's agreements", an.SetAgreements("We talk before we sleep.\nPhones away at dinner."))) {
    return nullptr;
  }
  auto plan = an.Commit("Cook together on Fridays", model::Rhythm::kWeek, model::Owner::kBoth);
  if (!Ok("Sam's commitment", plan)) return nullptr;

  // Until the first sync, Alex's phone knows Sam's laptop from pairing only.
  w->b_seen_by_a_ = SeenBy(an, bn);
  w->a_seen_by_b_ = SeenBy(bn, an);
  if (!Ok("the first sync", SyncPair(an, w->b_seen_by_a_, bn, w->a_seen_by_b_))) return nullptr;
  w->b_seen_by_a_ = SeenBy(an, bn);
  w->a_seen_by_b_ = SeenBy(bn, an);

  // Sam answers this week's check-in; Alex's answers will come in b's
  // seeds, so that "a" releases its seal key in answer (a record of its own).
  clock.Advance(kHour);
  if (!Ok("Sam's check-in", an.CheckIn({"8", "The walk.", "", "More sleep.", ""}))) return nullptr;
  if (!Ok("the second sync", SyncPair(an, w->b_seen_by_a_, bn, w->a_seen_by_b_))) return nullptr;

  // Alex's side, which "a" has not seen yet: every kind of op.
  clock.Advance(kHour);
  node::EntryDraft dinner;
  dinner.text = "Dinner at the new place \u2014 tr\u00e8s bon \U0001F35C";
  dinner.mood = 5;
  dinner.tags = {"food"};
  auto entry = bn.Write(dinner);
  if (!Ok("Alex's entry", entry)) return nullptr;
  node::EntryDraft secret;
  secret.text = "Only mine.";
  secret.is_private = true;
  if (!Ok("Alex's private entry", bn.Write(secret))) return nullptr;
  if (!Ok("Alex's appreciation", bn.Appreciate("Thank you for the tea."))) return nullptr;
  if (!Ok("Alex's follow-through", bn.FollowThrough(*plan, true, "Pasta"))) return nullptr;
  if (!Ok("Alex's agreements",
          bn.SetAgreements("We talk before we sleep.\nPhones away at dinner and in bed."))) {
    return nullptr;
  }
  if (!Ok("Alex's edit", bn.Edit(*entry, "Dinner at the new place, tr\u00e8s bon."))) return nullptr;
  clock.Advance(kHour);
  if (!Ok("Alex's check-in", bn.CheckIn({"7", "Dinner.", "The tea.", "", "Money, soon."}))) return nullptr;
  auto renewed = bn.Renegotiate(*plan, "Cook together on Fridays and Sundays", std::nullopt, std::nullopt);
  if (!Ok("Alex's renegotiation", renewed)) return nullptr;
  auto typo = bn.Appreciate("A typo.");
  if (!Ok("Alex's typo", typo) || !Ok("Alex's deletion", bn.Delete(*typo))) return nullptr;

  auto keys = keys::Load(root / "b" / "keys", std::nullopt);
  if (!Ok("Alex's keys", keys)) return nullptr;
  w->b_keys_ = std::make_unique<keys::DeviceKeys>(std::move(keys).value());

  // "a" is kept as it is now, and used from a copy.
  w->a_.reset();
  if (!Ok("opening a copy of Sam's laptop", w->ResetA())) return nullptr;
  return w;
}

Status SyncWorld::ResetA() {
  a_.reset();
  const fs::path live = root_ / "a";
  std::error_code ec;
  fs::remove_all(live, ec);
  fs::copy(root_ / "a-template", live, fs::copy_options::recursive, ec);
  if (ec) return MakeError(Errc::kStorage, "Could not copy the template home: " + ec.message());
  HEARTH_ASSIGN_OR_RETURN(a_, node::Node::Open(live, std::nullopt, clock_));
  return {};
}

std::vector<Bytes> SyncWorld::DeliverAsB(const node::FeedHead& head, const std::vector<Draft>& drafts) const {
  const crypto::SymmetricKey record_key = feed::RecordKey(b_keys_->space_key);
  const feed::FeedId& f = b_feed();
  const std::string feed_id(reinterpret_cast<const char*>(f.data()), f.size());
  pb::SyncMessage records;
  records.mutable_records()->set_feed(feed_id);
  records.mutable_records()->set_first_seq(head.length + 1);
  crypto::Digest prev = head.hash;
  std::uint64_t seq = head.length;
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    const bool sign = drafts[i].sign || i + 1 == drafts.size();
    const feed::Record r = feed::Seal(b_keys_->sign, record_key, feed::Scope::kShared, ++seq, prev,
                                      drafts[i].plaintext, sign ? feed::Signing::kSign : feed::Signing::kUnsigned);
    prev = feed::RecordHash(r.body);
    auto* out = records.mutable_records()->add_records();
    out->set_body(r.body.data(), r.body.size());
    if (r.signature) out->set_signature(r.signature->data(), r.signature->size());
  }
  pb::SyncMessage heads;
  auto* h = heads.mutable_heads()->add_feeds();
  h->set_feed(feed_id);
  h->set_length(seq);
  if (seq > 0) h->set_hash(prev.data(), prev.size());
  pb::SyncMessage caught_up;
  caught_up.mutable_caught_up();
  std::vector<Bytes> out;
  for (const pb::SyncMessage* m : {&heads, &records, &caught_up}) {
    const std::string s = m->SerializeAsString();
    out.emplace_back(s.begin(), s.end());
  }
  return out;
}

}  // namespace hearth::fuzz
