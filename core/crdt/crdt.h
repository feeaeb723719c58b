// hearth::crdt — generic conflict-free replicated building blocks.
//
// Knows nothing about journals, crypto or storage. Every merge here is
// commutative, associative and idempotent: replicas that have seen the same
// set of updates, in any order and with any duplicates, hold equal state.
//
//   Stamp          (hybrid logical clock, device tag): a total order on updates.
//   HybridClock    issues stamps that never go backwards and stay close to wall time.
//   LwwRegister<T> last writer wins; equal clocks are ordered by device tag.
//   AddWinsSet<T>  an observed-remove set: a removal only cancels the adds it saw,
//                  so an add concurrent with a removal survives.
//
// Threading: plain values; no internal synchronisation.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace hearth::crdt {

// A hybrid logical clock value: wall milliseconds in the high 48 bits, a
// counter in the low 16. Device: a 64-bit tag of the writing device.
struct Stamp {
  std::uint64_t hlc = 0;
  std::uint64_t device = 0;
  friend auto operator<=>(const Stamp&, const Stamp&) = default;
};

class HybridClock {
 public:
  static constexpr int kCounterBits = 16;

  explicit HybridClock(std::uint64_t last = 0) : last_(last) {}

  // The clock value for a new local event at wall time `now_ms`: later than
  // every value issued or observed before, and equal to now_ms << 16 whenever
  // the wall clock is ahead of everything seen.
  std::uint64_t Tick(std::int64_t now_ms) {
    const std::uint64_t wall = now_ms <= 0 ? 0 : static_cast<std::uint64_t>(now_ms) << kCounterBits;
    last_ = wall > last_ ? wall : last_ + 1;
    return last_;
  }

  // Takes in a clock value seen in a remote update.
  void Observe(std::uint64_t remote) {
    if (remote > last_) last_ = remote;
  }

  std::uint64_t last() const { return last_; }

  static std::int64_t WallMs(std::uint64_t hlc) {
    return static_cast<std::int64_t>(hlc >> kCounterBits);
  }

 private:
  std::uint64_t last_;
};

template <typename T>
struct LwwRegister {
  Stamp at;
  T value{};

  // Applies a write; returns true if it became the current value.
  bool Set(Stamp stamp, T v) {
    if (stamp <= at) return false;  // real stamps are never {0, 0}
    at = stamp;
    value = std::move(v);
    return true;
  }
  friend bool operator==(const LwwRegister&, const LwwRegister&) = default;
};

template <typename T>
class AddWinsSet {
 public:
  // Adds `value` under the unique `dot` (the stamp of the add operation).
  void Add(const T& value, Stamp dot) {
    if (removed_.contains(dot)) return;
    adds_.emplace(dot, value);
  }

  // Removes exactly the adds that the remover had observed.
  void Remove(const std::vector<Stamp>& observed) {
    for (const Stamp& dot : observed) {
      removed_.insert(dot);
      adds_.erase(dot);
    }
  }

  bool Contains(const T& value) const {
    for (const auto& [dot, v] : adds_) {
      if (v == value) return true;
    }
    return false;
  }

  // The live dots of `value`: what a removal issued now must name.
  std::vector<Stamp> Dots(const T& value) const {
    std::vector<Stamp> out;
    for (const auto& [dot, v] : adds_) {
      if (v == value) out.push_back(dot);
    }
    return out;
  }

  std::set<T> Values() const {
    std::set<T> out;
    for (const auto& [dot, v] : adds_) out.insert(v);
    return out;
  }

  const std::map<Stamp, T>& adds() const { return adds_; }
  const std::set<Stamp>& removed() const { return removed_; }

  // Rebuilds a set from its stored parts (used by the storage codec).
  static AddWinsSet FromParts(std::map<Stamp, T> adds, std::set<Stamp> removed) {
    AddWinsSet s;
    s.adds_ = std::move(adds);
    s.removed_ = std::move(removed);
    return s;
  }

  friend bool operator==(const AddWinsSet&, const AddWinsSet&) = default;

 private:
  std::map<Stamp, T> adds_;  // live adds, by dot
  std::set<Stamp> removed_;  // dots cancelled by a removal (kept so a late add stays dead)
};

}  // namespace hearth::crdt
