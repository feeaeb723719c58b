// hearth::net::SyncSession — the sync protocol between two devices, sans-IO.
//
// A session is one conversation with one peer device over an already
// authenticated channel (a Noise session whose remote static key is a roster
// device). It takes whole messages in (Receive) and leaves whole messages in
// its outbox; it never touches a socket or a clock. The adapters in
// net/tcp_session.* carry the messages; the simulation test drives it
// directly. The protocol is specified in docs/sync-protocol.md:
//
//   1. each side sends Heads (complete) for every feed the peer may hold;
//   2. for each offered feed it accepts and is behind on, a side sends Want
//      (one outstanding per feed) and the other answers with one Records
//      batch (whole signed runs, at most kBatchBytes), applied in one
//      transaction; the next Want follows the apply (backpressure);
//   3. a side that holds everything it was offered sends CaughtUp;
//   4. live: after local changes, Heads (partial) announces the feeds that grew.
//
// Threading: one thread (the Node's).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/node/node.h"

namespace hearth::pb {
class Heads;
class Want;
class Records;
class SyncMessage;
}  // namespace hearth::pb

namespace hearth::net {

// Bounds on what a peer may send (checked before use).
inline constexpr std::size_t kBatchBytes = 256 * 1024;  // record bodies per batch, soft
inline constexpr std::size_t kMaxSyncMessage = 4 * 1024 * 1024;  // also the transport's bound
inline constexpr std::size_t kMaxFeedsOffered = 1024;

struct SyncStats {
  std::uint64_t records_received = 0;
  std::uint64_t records_sent = 0;
  std::uint64_t duplicates = 0;
};

class SyncSession {
 public:
  SyncSession(node::Node& node, node::RosterDevice peer);

  // Queues the opening Heads.
  Status Start();
  // One message from the peer. An error means the session must end: the peer
  // broke the protocol (kInvalidInput) or sent data that failed its checks
  // (kIntegrity, kAuth). Nothing of a failed batch is stored.
  Status Receive(ByteView message);
  // Local records were written (by this process or another): announce the
  // feeds that grew since they were last announced to this peer.
  Status LocalChanged();

  // Messages to send, in order.
  std::deque<Bytes>& outbox() { return outbox_; }
  bool HasOutgoing() const { return !outbox_.empty(); }

  // This side holds everything the peer offered that it accepts.
  bool CaughtUp() const;
  // Both sides said CaughtUp: a one-shot sync may end.
  bool Complete() const { return sent_caught_up_ && peer_caught_up_; }
  // Records this side holds and may send that the peer has not announced.
  Result<std::uint64_t> PeerLacks();

  const node::RosterDevice& peer() const { return peer_; }
  const SyncStats& stats() const { return stats_; }

 private:
  Status OnHeads(const pb::Heads& heads);
  Status OnWant(const pb::Want& want);
  Status OnRecords(const pb::Records& records);
  Status RequestMissing();
  Status MaybeCaughtUp();
  void Send(const pb::SyncMessage& message);

  node::Node& node_;
  node::RosterDevice peer_;
  std::map<feed::FeedId, node::FeedHead> offered_;   // the peer's latest heads
  std::map<feed::FeedId, std::uint64_t> announced_;  // what we told the peer we hold
  std::set<feed::FeedId> wanted_;                    // outstanding Wants
  std::deque<Bytes> outbox_;
  bool started_ = false;
  bool heard_heads_ = false;
  bool sent_caught_up_ = false;
  bool peer_caught_up_ = false;
  SyncStats stats_;
};

}  // namespace hearth::net
