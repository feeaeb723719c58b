// Property: for random op sets, applying them in any order and with any
// duplicates gives the same items. Seeded; the seed is printed on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "core/codec/codec.h"
#include "core/model/model.h"

namespace hearth::model {
namespace {

struct Generated {
  std::uint64_t device;
  Op op;
};

std::vector<Generated> RandomOps(std::mt19937_64& rng) {
  const std::uint64_t devices[] = {0x1111, 0x2222, 0x3333};
  const ItemId items[] = {101, 102, 103};
  std::map<std::uint64_t, std::uint64_t> clocks;
  // What each device has observed so far of each item's tags (for removals).
  std::map<std::pair<std::uint64_t, ItemId>, std::vector<std::pair<std::string, Stamp>>> seen;
  std::vector<Generated> out;
  const int n = std::uniform_int_distribution<int>(5, 60)(rng);
  const std::vector<std::string> tags = {"walk", "us", "hard-day"};
  for (int i = 0; i < n; ++i) {
    const std::uint64_t dev = devices[rng() % 3];
    const ItemId item = items[rng() % 3];
    // Clocks collide across devices on purpose, so device tie-breaks are exercised.
    std::uint64_t& clock = clocks[dev];
    clock += 1 + rng() % 3;
    Op op{clock, item, {}};
    switch (rng() % 7) {
      case 0:
        op.body = CreateItem{Kind::kEntry, dev, (rng() % 4) == 0};
        break;
      case 1:
        op.body = SetField{Field::kText, "text " + std::to_string(rng() % 100)};
        break;
      case 2:
        op.body = SetField{Field::kMood, static_cast<std::int64_t>(1 + rng() % 5)};
        break;
      case 3: {
        const std::string& t = tags[rng() % tags.size()];
        op.body = AddTag{t};
        seen[{dev, item}].push_back({t, Stamp{clock, dev}});
        break;
      }
      case 4: {
        const std::string& t = tags[rng() % tags.size()];
        std::vector<Stamp> observed;
        // A device observes its own adds and, sometimes, others' adds.
        for (const auto& [key, adds] : seen) {
          if (key.second != item || (key.first != dev && rng() % 2)) continue;
          for (const auto& [tag, dot] : adds) {
            if (tag == t) observed.push_back(dot);
          }
        }
        op.body = RemoveTag{t, observed};
        break;
      }
      case 5:
        op.body = SetFollowThrough{"2026-W" + std::to_string(40 + rng() % 3), (rng() % 2) == 0,
                                   "note " + std::to_string(rng() % 9)};
        break;
      default:
        op.body = SetAnswer{dev, static_cast<std::uint32_t>(rng() % 5), "a" + std::to_string(rng() % 9)};
        break;
    }
    out.push_back({dev, std::move(op)});
  }
  return out;
}

std::map<ItemId, Item> ApplyAll(const std::vector<Generated>& ops) {
  std::map<ItemId, Item> items;
  for (const auto& g : ops) {
    Item& it = items[g.op.item];
    it.id = g.op.item;
    Apply(it, g.op, g.device);
  }
  return items;
}

TEST(ModelProperty, AnyOrderWithDuplicatesConverges) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto ops = RandomOps(rng);
    const auto reference = ApplyAll(ops);
    for (int round = 0; round < 5; ++round) {
      auto shuffled = ops;
      // Duplicate a random subset, then shuffle.
      const std::size_t extra = rng() % (ops.size() + 1);
      for (std::size_t i = 0; i < extra; ++i) shuffled.push_back(ops[rng() % ops.size()]);
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      ASSERT_EQ(ApplyAll(shuffled), reference) << "seed " << seed << " round " << round;
    }
    // The at-rest encoding round-trips every state exactly.
    for (const auto& [id, item] : reference) {
      auto back = codec::DecodeItem(codec::EncodeItem(item));
      ASSERT_TRUE(back.ok());
      ASSERT_EQ(*back, item) << "seed " << seed;
    }
  }
}

TEST(Model, EarliestCreateDecidesAndLaterOpsBeforeCreateAreKept) {
  Item it;
  it.id = 7;
  Apply(it, {5, 7, SetField{Field::kText, "early text"}}, 2);
  EXPECT_FALSE(it.visible());
  Apply(it, {9, 7, CreateItem{Kind::kCheckin, 222, false}}, 2);
  Apply(it, {3, 7, CreateItem{Kind::kCheckin, 111, false}}, 1);
  EXPECT_TRUE(it.visible());
  EXPECT_EQ(it.author, 111u);
  EXPECT_EQ(it.Text(Field::kText), "early text");
  Apply(it, {10, 7, SetField{Field::kDeleted, std::int64_t{1}}}, 1);
  EXPECT_FALSE(it.visible());
}

TEST(Codec, OpBatchRoundTripAndGarbage) {
  std::vector<Op> ops = {
      {1, 2, CreateItem{Kind::kCommitment, 3, true}},
      {4, 2, SetField{Field::kDhKey, Bytes{1, 2, 3}}},
      {5, 2, RemoveTag{"x", {{1, 2}, {3, 4}}}},
      {6, 2, SetFollowThrough{"2026-11", true, "kept"}},
      {7, 2, SetAnswer{9, 1, "fine"}},
  };
  auto back = codec::DecodeOpBatch(codec::EncodeOpBatch(ops));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), ops.size());
  EXPECT_EQ(codec::EncodeOpBatch(*back), codec::EncodeOpBatch(ops));
  Bytes garbage = {0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_FALSE(codec::DecodeOpBatch(garbage).ok());
}

}  // namespace
}  // namespace hearth::model
