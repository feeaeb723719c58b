// The two devices fuzz_sync and make_corpus share: Sam's laptop ("a", the
// device under test) and Alex's phone ("b", its partner's device, whose
// messages the seeds are). Both are real nodes on homes in a scratch
// directory, paired as `hearth` pairs them, with a history on both sides.
//
// Built from seeded randomness (fuzz_support.h) and a fixed clock, so the
// keys, ids and records come out the same in every process: a seed that
// make_corpus recorded from b verifies in the target.
//
// "a" is kept as a template and reopened from it by ResetA(): a fresh "a"
// lacks b's latest records, which b's seeds then deliver.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "core/base/clock.h"
#include "core/keys/keystore.h"
#include "core/node/node.h"

namespace hearth::fuzz {

class SyncWorld {
 public:
  // Needs InstallSeededRandom() and crypto::Init() first.
  static std::unique_ptr<SyncWorld> Create(const std::filesystem::path& root);
  ~SyncWorld();

  // The device under test, as the template left it after ResetA().
  node::Node& a() { return *a_; }
  node::Node& b() { return *b_; }
  // Throws away "a" and reopens a copy of the template.
  Status ResetA();

  // b as "a"'s roster knows it, and a as b's does.
  const node::RosterDevice& b_seen_by_a() const { return b_seen_by_a_; }
  const node::RosterDevice& a_seen_by_b() const { return a_seen_by_b_; }
  // b's keys (for sealing records into b's feed) and b's shared feed.
  const keys::DeviceKeys& b_keys() const { return *b_keys_; }
  const feed::FeedId& b_feed() const { return b_keys_->sign.public_key(); }
  FixedClock& clock() { return clock_; }

  // The messages b sends to deliver `drafts` (op batches) as the next
  // records of its shared feed after `head` (what "a" holds of it): Heads
  // offering them, one Records batch (a record is signed when its draft
  // says so, and the last one always) and CaughtUp.
  struct Draft {
    ByteView plaintext;
    bool sign = false;
  };
  std::vector<Bytes> DeliverAsB(const node::FeedHead& head, const std::vector<Draft>& drafts) const;

 private:
  SyncWorld();
  FixedClock clock_;
  std::filesystem::path root_;
  std::unique_ptr<node::Node> a_, b_;
  node::RosterDevice b_seen_by_a_, a_seen_by_b_;
  std::unique_ptr<keys::DeviceKeys> b_keys_;
};

// Runs sync sessions between `x` and `y` until both are caught up; kInternal
// if they never are.
Status SyncPair(node::Node& x, const node::RosterDevice& y_seen_by_x, node::Node& y,
                const node::RosterDevice& x_seen_by_y);

}  // namespace hearth::fuzz
