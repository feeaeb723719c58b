#include "net/sync_session.h"

#include <cstring>

#include "sync.pb.h"

namespace hearth::net {

namespace {

Error Broken(const std::string& what) {
  return MakeError(Errc::kInvalidInput, "The peer broke the sync protocol: " + what + ".");
}

template <std::size_t N>
bool CopyExact(const std::string& in, std::array<std::uint8_t, N>& out) {
  if (in.size() != N) return false;
  std::memcpy(out.data(), in.data(), N);
  return true;
}

std::string AsString(ByteView b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

void FillHead(pb::FeedHeadMsg& m, const node::FeedHead& h) {
  m.set_feed(AsString(h.feed));
  m.set_length(h.length);
  if (h.length > 0) m.set_hash(AsString(h.hash));
}

}  // namespace

SyncSession::SyncSession(node::Node& node, node::RosterDevice peer) : node_(node), peer_(std::move(peer)) {}

void SyncSession::Send(const pb::SyncMessage& message) {
  std::string out;
  message.SerializeToString(&out);
  outbox_.emplace_back(out.begin(), out.end());
}

Status SyncSession::Start() {
  if (started_) return {};
  started_ = true;
  HEARTH_ASSIGN_OR_RETURN(auto heads, node_.HeadsFor(peer_));
  pb::SyncMessage m;
  auto* h = m.mutable_heads();
  h->set_complete(true);
  for (const auto& head : heads) {
    FillHead(*h->add_feeds(), head);
    announced_[head.feed] = head.length;
  }
  Send(m);
  return {};
}

Status SyncSession::LocalChanged() {
  if (!started_) return {};
  HEARTH_ASSIGN_OR_RETURN(auto heads, node_.HeadsFor(peer_));
  pb::SyncMessage m;
  auto* h = m.mutable_heads();
  for (const auto& head : heads) {
    auto it = announced_.find(head.feed);
    if (it != announced_.end() && it->second >= head.length) continue;
    FillHead(*h->add_feeds(), head);
    announced_[head.feed] = head.length;
  }
  if (h->feeds_size() > 0) {
    Send(m);
    // The peer has not caught up with this yet: a one-shot sync waits for
    // its next CaughtUp (so a record written mid-session, such as a
    // check-in reveal, is delivered before the session ends).
    peer_caught_up_ = false;
  }
  return {};
}

Status SyncSession::Receive(ByteView message) {
  if (message.size() > kMaxSyncMessage) return Broken("a message is too large");
  pb::SyncMessage m;
  if (!m.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    return Broken("a message does not parse");
  }
  switch (m.body_case()) {
    case pb::SyncMessage::kHeads:
      return OnHeads(m.heads());
    case pb::SyncMessage::kWant:
      return OnWant(m.want());
    case pb::SyncMessage::kRecords:
      return OnRecords(m.records());
    case pb::SyncMessage::kCaughtUp:
      if (!heard_heads_) return Broken("it was caught up before offering anything");
      peer_caught_up_ = true;
      return {};
    default:
      // A message kind from a newer version: ignore it (forward compatible).
      return {};
  }
}

Status SyncSession::OnHeads(const pb::Heads& heads) {
  if (heads.feeds_size() > static_cast<int>(kMaxFeedsOffered)) return Broken("it offered too many feeds");
  for (const auto& f : heads.feeds()) {
    node::FeedHead h;
    if (!CopyExact(f.feed(), h.feed)) return Broken("a feed id has the wrong size");
    h.length = f.length();
    if (h.length > 0 && !CopyExact(f.hash(), h.hash)) return Broken("a head hash has the wrong size");
    if (h.length == 0 && !f.hash().empty()) return Broken("an empty feed has a hash");
    HEARTH_TRY(node_.CheckPeerHead(h));
    auto& known = offered_[h.feed];
    if (h.length >= known.length) known = h;
  }
  heard_heads_ = true;
  // New heads ask for a new CaughtUp once they are fetched (the peer waits for it).
  sent_caught_up_ = false;
  HEARTH_TRY(RequestMissing());
  return MaybeCaughtUp();
}

Status SyncSession::RequestMissing() {
  for (const auto& [f, theirs] : offered_) {
    if (wanted_.contains(f) || !node_.Accepts(f)) continue;
    HEARTH_ASSIGN_OR_RETURN(auto mine, node_.HeadOf(f));
    const std::uint64_t have = mine ? mine->length : 0;
    if (theirs.length <= have) continue;
    pb::SyncMessage m;
    m.mutable_want()->set_feed(AsString(f));
    m.mutable_want()->set_from_seq(have + 1);
    Send(m);
    wanted_.insert(f);
  }
  return {};
}

Status SyncSession::OnWant(const pb::Want& want) {
  feed::FeedId f;
  if (!CopyExact(want.feed(), f)) return Broken("a wanted feed id has the wrong size");
  if (want.from_seq() == 0) return Broken("it wanted record 0");
  pb::SyncMessage m;
  auto* r = m.mutable_records();
  r->set_feed(want.feed());
  r->set_first_seq(want.from_seq());
  // A feed this peer may not hold is answered like one we do not have.
  if (node_.MaySend(f, peer_)) {
    HEARTH_ASSIGN_OR_RETURN(auto records, node_.ReadRecords(f, want.from_seq(), kBatchBytes));
    for (const auto& rec : records) {
      auto* out = r->add_records();
      out->set_body(AsString(rec.body));
      if (rec.signature) out->set_signature(AsString(*rec.signature));
    }
    stats_.records_sent += records.size();
    // The peer holds what it asked after, and will hold this batch once it
    // applies it (the channel is reliable; a lost connection starts over).
    auto& theirs = offered_[f];
    if (theirs.length < want.from_seq() - 1 + records.size()) {
      theirs.feed = f;
      theirs.length = want.from_seq() - 1 + records.size();
    }
  }
  Send(m);
  return {};
}

Status SyncSession::OnRecords(const pb::Records& batch) {
  feed::FeedId f;
  if (!CopyExact(batch.feed(), f)) return Broken("a batch's feed id has the wrong size");
  if (!wanted_.contains(f)) return Broken("it sent records that were not asked for");
  if (batch.records_size() > static_cast<int>(node::kMaxRecordsPerBatch)) {
    return Broken("a batch holds too many records");
  }
  wanted_.erase(f);
  std::vector<feed::Record> records;
  records.reserve(static_cast<std::size_t>(batch.records_size()));
  for (const auto& r : batch.records()) {
    if (r.body().size() > feed::kMaxBody) return Broken("a record is too large");
    feed::Record rec;
    rec.body.assign(r.body().begin(), r.body().end());
    if (!r.signature().empty()) {
      rec.signature.emplace();
      if (!CopyExact(r.signature(), *rec.signature)) return Broken("a signature has the wrong size");
    }
    records.push_back(std::move(rec));
  }
  if (!records.empty()) {
    auto outcome = node_.ApplyRecords(f, batch.first_seq(), records);
    if (!outcome.ok()) {
      // A gap (the batch starts past our head) is harmless: ask again below.
      if (outcome.error().code != Errc::kInvalidInput) return outcome.error();
    } else {
      stats_.records_received += outcome->applied;
      stats_.duplicates += outcome->duplicates;
      // The node answered with a record of its own (a check-in reveal): offer it.
      if (outcome->wrote) HEARTH_TRY(LocalChanged());
    }
  } else if (auto it = offered_.find(f); it != offered_.end()) {
    // The peer has nothing for us after all (it may not send this feed).
    HEARTH_ASSIGN_OR_RETURN(auto mine, node_.HeadOf(f));
    it->second.length = mine ? mine->length : 0;
  }
  HEARTH_TRY(RequestMissing());
  return MaybeCaughtUp();
}

bool SyncSession::CaughtUp() const { return heard_heads_ && wanted_.empty(); }

Status SyncSession::MaybeCaughtUp() {
  if (sent_caught_up_ || !CaughtUp()) return {};
  // Wants are only skipped for feeds we hold up to the offer or do not accept.
  sent_caught_up_ = true;
  pb::SyncMessage m;
  m.mutable_caught_up();
  Send(m);
  return {};
}

Result<std::uint64_t> SyncSession::PeerLacks() {
  HEARTH_ASSIGN_OR_RETURN(auto heads, node_.HeadsFor(peer_));
  std::uint64_t lacking = 0;
  for (const auto& h : heads) {
    auto it = offered_.find(h.feed);
    const std::uint64_t theirs = it == offered_.end() ? 0 : it->second.length;
    if (h.length > theirs) lacking += h.length - theirs;
  }
  return lacking;
}

}  // namespace hearth::net
