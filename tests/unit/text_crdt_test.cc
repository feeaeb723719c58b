// The sequence CRDT (core/crdt/text.h): local editing, runs, diff-based
// edits, the encoding, and seeded convergence properties: 2 to 5 replicas
// editing concurrently (often at the same places and on deleted ranges),
// operations delivered in random orders with duplicates; every replica ends
// identical and no two concurrent runs interleave. The seed is printed on
// failure; HEARTH_TEXT_SEEDS raises the number of seeds per shard.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/crdt/text.h"

namespace hearth::crdt {
namespace {

std::u32string U(const std::string& s) { return Utf8ToU32(s); }

std::vector<TextOp> Insert(Text& t, Agent a, std::size_t pos, const std::string& s) {
  std::vector<TextOp> ops;
  EXPECT_TRUE(t.Insert(a, pos, U(s), &ops));
  return ops;
}

void ApplyAll(Text& t, const std::vector<TextOp>& ops) {
  for (const TextOp& op : ops) ASSERT_TRUE(t.Apply(op));
}

TEST(TextCrdt, LocalEditingReadsBack) {
  Text t;
  Insert(t, 7, 0, "hello world");
  Insert(t, 7, 5, ",");
  t.Delete(0, 1);
  Insert(t, 7, 0, "H");
  EXPECT_EQ(t.ToUtf8(), "Hello, world");
  t.Delete(5, 100);
  EXPECT_EQ(t.ToUtf8(), "Hello");
  Insert(t, 7, 999, "!");  // clamped to the end
  EXPECT_EQ(t.ToUtf8(), "Hello!");
  EXPECT_EQ(t.size(), 6u);
}

TEST(TextCrdt, UnicodeCountsCodePoints) {
  Text t;
  Insert(t, 1, 0, "café 💛 שלום");
  t.Delete(3, 1);  // the é
  Insert(t, 1, 3, "e");
  EXPECT_EQ(t.ToUtf8(), "cafe 💛 שלום");
  t.Delete(5, 1);  // the emoji, one code point
  EXPECT_EQ(t.ToUtf8(), "cafe  שלום");
}

TEST(TextCrdt, TypingIsOneRunAndOneOp) {
  Text t;
  std::vector<TextOp> ops;
  const std::string s = "a sentence typed one key at a time";
  for (std::size_t i = 0; i < s.size(); ++i) t.Insert(3, i, U(s.substr(i, 1)), &ops);
  EXPECT_EQ(t.ToUtf8(), s);
  EXPECT_EQ(t.run_count(), 1u);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(std::get<InsertOp>(ops[0]).text, U(s));
  // Backspacing four characters is one delete op, and leaves two runs.
  std::vector<TextOp> dels;
  for (int i = 0; i < 4; ++i) t.Delete(t.size() - 1, 1, &dels);
  ASSERT_EQ(dels.size(), 1u);
  EXPECT_EQ(std::get<DeleteOp>(dels[0]).len, 4u);
  EXPECT_EQ(t.run_count(), 2u);
  Text other;
  ApplyAll(other, ops);
  ApplyAll(other, dels);
  EXPECT_EQ(other.ToUtf8(), t.ToUtf8());
  EXPECT_TRUE(other == t);
}

TEST(TextCrdt, ConcurrentRunsAtOnePlaceDoNotInterleave) {
  for (bool backwards : {false, true}) {
    SCOPED_TRACE(backwards ? "typed backwards" : "typed forwards");
    Text base;
    auto start = Insert(base, 1, 0, "[]");
    Text a = base, b = base;
    std::vector<TextOp> from_a, from_b;
    const std::string wa = "hello", wb = "WORLD";
    for (std::size_t i = 0; i < 5; ++i) {
      const std::size_t at = backwards ? 1 : 1 + i;
      const std::size_t k = backwards ? 4 - i : i;
      a.Insert(2, at, U(wa.substr(k, 1)), &from_a);
      b.Insert(3, at, U(wb.substr(k, 1)), &from_b);
    }
    EXPECT_EQ(a.ToUtf8(), "[hello]");
    ApplyAll(a, from_b);
    ApplyAll(b, from_a);
    EXPECT_EQ(a.ToUtf8(), b.ToUtf8());
    EXPECT_TRUE(a.ToUtf8() == "[helloWORLD]" || a.ToUtf8() == "[WORLDhello]") << a.ToUtf8();
  }
}

TEST(TextCrdt, OutOfOrderOperationsWaitForWhatTheyNeed) {
  Text src;
  std::vector<TextOp> ops;
  src.Insert(1, 0, U("abc"), &ops);
  src.Insert(1, 1, U("X"), &ops);
  src.Delete(0, 2, &ops);
  src.Insert(2, 2, U("yz"), &ops);
  Text dst;
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) ASSERT_TRUE(dst.Apply(*it));
  EXPECT_EQ(dst.parked(), 0u);
  EXPECT_EQ(dst.ToUtf8(), src.ToUtf8());
  EXPECT_TRUE(dst == src);
}

// A writer's characters are stored by the spans of seqs held, so seqs that
// arrive with gaps (far ahead, or filled in later) read back exactly and
// cost only their own characters (the replayed crashers
// records/text-*-far-* check the memory under fuzz_replay's budget).
TEST(TextCrdt, SeqsArrivingWithGapsReadBackAndJoin) {
  Text src;
  std::vector<TextOp> ops;
  src.Insert(1, 0, U("ac"), &ops);  // writer 1: seqs 0, 1
  src.Insert(2, 1, U("b"), &ops);   // writer 2: seq 0, between a and c
  src.Insert(2, 3, U("d"), &ops);   // writer 2: seq 1, after c
  src.Insert(2, 0, U(">"), &ops);   // writer 2: seq 2, before a
  src.Delete(2, 1, &ops);           // b: a tombstone
  ASSERT_EQ(src.ToUtf8(), ">acd");

  // Writer 2's seq 2 and seq 1 arrive before its seq 0: a gap, filled last.
  Text dst;
  ASSERT_EQ(ops.size(), 5u);
  for (std::size_t i : {0u, 4u, 2u, 3u}) ASSERT_TRUE(dst.Apply(ops[i])) << i;
  EXPECT_EQ(dst.parked(), 1u);  // the delete waits for b
  EXPECT_EQ(dst.ToUtf8(), ">acd");  // writer 2 holds seqs 1 and 2, not 0
  ASSERT_TRUE(dst.Apply(ops[1]));
  EXPECT_EQ(dst.parked(), 0u);
  EXPECT_EQ(dst.ToUtf8(), ">acd");
  EXPECT_TRUE(dst == src);
  EXPECT_EQ(dst.Encode(), src.Encode());

  // A run from the far end of a writer's seqs: held, read and encoded as
  // its two characters, next to a writer that has the first ones.
  ASSERT_TRUE(dst.Apply(InsertOp{CharId{2, kMaxTextChars - 2}, CharId{2, 1}, std::nullopt, U("!?")}));
  EXPECT_EQ(dst.ToUtf8(), ">acd!?");
  EXPECT_EQ(dst.NextSeq(2), kMaxTextChars);
  EXPECT_EQ(dst.total_chars(), 7u);
  for (bool keep_deleted : {true, false}) {
    auto back = Text::Decode(dst.Encode(keep_deleted));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->ToUtf8(), ">acd!?");
    EXPECT_TRUE(*back == dst);
  }
  // Re-encoding a decoded text whose deleted text was dropped keeps it dropped.
  auto dropped = Text::Decode(dst.Encode(false));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->Encode(), dst.Encode(false));
}

TEST(TextCrdt, RefusesOverlappingAndOversizedRuns) {
  Text t;
  Insert(t, 5, 0, "abc");
  ASSERT_TRUE(t.Apply(InsertOp{CharId{6, 5}, std::nullopt, std::nullopt, U("ab")}));
  const Text before = t;
  EXPECT_TRUE(t.Apply(InsertOp{CharId{5, 1}, std::nullopt, std::nullopt, U("zz")}));  // a duplicate id
  EXPECT_FALSE(t.Apply(InsertOp{CharId{6, 3}, std::nullopt, std::nullopt, U("xyz")}));  // overlaps 6:5
  EXPECT_FALSE(t.Apply(InsertOp{CharId{9, kMaxTextChars - 1}, std::nullopt, std::nullopt, U("zz")}));
  EXPECT_FALSE(t.Apply(DeleteOp{CharId{5, kMaxTextChars}, 2}));
  EXPECT_TRUE(t == before);
  EXPECT_EQ(t.ToUtf8(), before.ToUtf8());
}

TEST(TextCrdt, EditFromKeepsWhatOthersChangedMeanwhile) {
  Text base;
  auto init = Insert(base, 1, 0, "First paragraph.\nSecond paragraph.\n");
  Text mine = base, theirs = base;
  const auto opened_ids = mine.VisibleIds();
  const std::u32string opened = mine.ToU32();
  // They change the second paragraph while I have the first open.
  std::vector<TextOp> their_ops;
  theirs.Insert(2, theirs.size() - 2, U(", with their words"), &their_ops);
  ApplyAll(mine, their_ops);
  // My whole-buffer save of the version I opened.
  auto mine_ops = mine.EditFrom(1, opened_ids, opened, U("First paragraph, changed by me.\nSecond paragraph.\n"));
  ASSERT_TRUE(mine_ops.ok()) << mine_ops.error().message;
  ApplyAll(theirs, mine_ops.value());
  EXPECT_EQ(mine.ToUtf8(), "First paragraph, changed by me.\nSecond paragraph, with their words.\n");
  EXPECT_TRUE(mine == theirs);
  // A char-level diff: one insert, no retyping of unchanged text.
  ASSERT_EQ(mine_ops.value().size(), 1u);
}

TEST(TextCrdt, EditFromReplacesAndDeletes) {
  Text t;
  Insert(t, 1, 0, "The quick brown fox jumps over the lazy dog");
  const auto ids = t.VisibleIds();
  const auto opened = t.ToU32();
  auto ops = t.EditFrom(2, ids, opened, U("The quick red fox jumped over the dog"));
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(t.ToUtf8(), "The quick red fox jumped over the dog");
  Text again;
  Insert(again, 1, 0, "The quick brown fox jumps over the lazy dog");
  ApplyAll(again, ops.value());
  EXPECT_TRUE(again == t);
  // Ids this text never held are refused.
  std::vector<CharId> foreign{CharId{42, 0}};
  EXPECT_FALSE(t.EditFrom(2, foreign, U("x"), U("y")).ok());
}

TEST(TextCrdt, EditFromGivesTheEditedTextForSmallAndHugeDiffs) {
  std::mt19937_64 rng(7);
  for (int changes : {1, 10, 300, 3000}) {
    SCOPED_TRACE(std::to_string(changes) + " changes");
    std::u32string base;
    for (int i = 0; i < 5000; ++i) base.push_back(U'a' + static_cast<char32_t>(rng() % 26));
    Text t;
    ASSERT_TRUE(t.Insert(1, 0, base));
    std::u32string edited = base;
    for (int c = 0; c < changes; ++c) {
      const std::size_t at = rng() % (edited.size() + 1);
      if (rng() % 2 == 0 && at < edited.size()) {
        edited.erase(at, 1 + rng() % 3);
      } else {
        edited.insert(at, 1 + rng() % 3, U'A' + static_cast<char32_t>(rng() % 26));
      }
    }
    auto ops = t.EditFrom(2, t.VisibleIds(), base, edited);
    ASSERT_TRUE(ops.ok());
    EXPECT_EQ(t.ToU32(), edited);
    Text other;
    ASSERT_TRUE(other.Insert(1, 0, base));
    ApplyAll(other, ops.value());
    EXPECT_TRUE(other == t);
  }
}

TEST(TextCrdt, EncodingRoundTripsAndIsCanonical) {
  Text a, b;
  std::vector<TextOp> ops;
  a.Insert(10, 0, U("héllo wörld, 💛"), &ops);
  a.Delete(2, 3, &ops);
  a.Insert(20, 4, U("ABC"), &ops);
  a.Delete(0, 1, &ops);
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) ASSERT_TRUE(b.Apply(*it));
  const std::string enc = a.Encode();
  EXPECT_EQ(enc, b.Encode());
  auto back = Text::Decode(enc);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().ToUtf8(), a.ToUtf8());
  EXPECT_TRUE(back.value() == a);
  EXPECT_EQ(back.value().Encode(), enc);
  // A decoded text keeps editing and merging like the original.
  std::vector<TextOp> more;
  back.value().Insert(30, 0, U(">"), &more);
  ApplyAll(a, more);
  EXPECT_EQ(a.ToUtf8(), back.value().ToUtf8());
  // Without deleted text, it still merges, and stays smaller.
  auto slim = Text::Decode(a.Encode(false));
  ASSERT_TRUE(slim.ok());
  EXPECT_TRUE(slim.value() == a);
  EXPECT_LT(a.Encode(false).size(), a.Encode().size());
}

TEST(TextCrdt, DamagedEncodingsAreRefusedNotTrusted) {
  Text t;
  Insert(t, 1, 0, std::string(300, 'x') + "tail");
  t.Delete(10, 20);
  Insert(t, 2, 5, "in the middle");
  const std::string enc = t.Encode();
  for (std::size_t n = 0; n < enc.size(); ++n) {
    auto r = Text::Decode(enc.substr(0, n));
    EXPECT_FALSE(r.ok()) << "truncated at " << n;
  }
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string bad = enc;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = Text::Decode(bad);
    if (r.ok()) {
      // What decodes must still be a working text.
      r.value().Insert(3, 0, U("ok"));
      EXPECT_EQ(r.value().ToU32().substr(0, 2), U("ok"));
    }
  }
}

// ---- convergence properties ----

struct LoggedOp {
  TextOp op;
  std::size_t author;
  std::set<std::size_t> known;  // ops the author had applied when it made this one
};

struct Replica {
  Text text;
  Agent agent;
  std::set<std::size_t> applied;
};

std::string RandomWord(std::mt19937_64& rng) {
  static const char* kPieces[] = {"a", "bc", "def", "ghij", "é", "💛", "xyz", "KLMNO"};
  std::string s;
  const int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) s += kPieces[rng() % 8];
  return s;
}

// Positions cluster: the start, the end, and a few hot spots.
std::size_t RandomPos(std::mt19937_64& rng, std::size_t size) {
  switch (rng() % 4) {
    case 0:
      return 0;
    case 1:
      return size;
    case 2:
      return size / 2;
    default:
      return size == 0 ? 0 : rng() % (size + 1);
  }
}

void Deliver(Replica& r, std::size_t i, const std::vector<LoggedOp>& log) {
  ASSERT_TRUE(r.text.Apply(log[i].op));
  r.applied.insert(i);
}

void RunSeed(std::uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: HEARTH_TEXT_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  const std::size_t n = 2 + rng() % 4;
  std::vector<Replica> rs(n);
  for (std::size_t i = 0; i < n; ++i) rs[i].agent = (rng() % 3 == 0) ? i + 1 : rng();
  std::vector<LoggedOp> log;
  const int rounds = 4 + static_cast<int>(rng() % 8);
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < n; ++i) {
      Replica& r = rs[i];
      const int edits = static_cast<int>(rng() % 5);
      for (int e = 0; e < edits; ++e) {
        std::vector<TextOp> ops;
        if (r.text.size() > 0 && rng() % 3 == 0) {
          const std::size_t pos = RandomPos(rng, r.text.size() - 1);
          r.text.Delete(pos, 1 + rng() % 6, &ops);
        } else if (rng() % 4 == 0 && r.text.size() > 0) {
          // A whole-buffer save through the diff.
          const auto ids = r.text.VisibleIds();
          std::u32string edited = r.text.ToU32();
          const std::size_t at = RandomPos(rng, edited.size());
          edited.insert(at, Utf8ToU32(RandomWord(rng)));
          if (edited.size() > 3) edited.erase(rng() % (edited.size() - 2), rng() % 3);
          auto made = r.text.EditFrom(r.agent, ids, r.text.ToU32(), edited);
          ASSERT_TRUE(made.ok());
          ASSERT_EQ(r.text.ToU32(), edited);
          ops = made.value();
        } else {
          ASSERT_TRUE(r.text.Insert(r.agent, RandomPos(rng, r.text.size()), Utf8ToU32(RandomWord(rng)), &ops));
        }
        for (TextOp& op : ops) {
          log.push_back(LoggedOp{std::move(op), i, r.applied});
          r.applied.insert(log.size() - 1);
        }
      }
    }
    // Partial delivery: each replica gets a random subset, shuffled, with duplicates.
    for (Replica& r : rs) {
      std::vector<std::size_t> pick;
      for (std::size_t k = 0; k < log.size(); ++k) {
        if (rng() % 3 == 0) pick.push_back(k);
        if (rng() % 10 == 0) pick.push_back(k);
      }
      std::shuffle(pick.begin(), pick.end(), rng);
      for (std::size_t k : pick) Deliver(r, k, log);
    }
  }
  // Everything to everyone, shuffled, with duplicates.
  for (Replica& r : rs) {
    std::vector<std::size_t> all(log.size());
    for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
    for (std::size_t k = 0; k < log.size() / 4; ++k) all.push_back(rng() % log.size());
    std::shuffle(all.begin(), all.end(), rng);
    for (std::size_t k : all) Deliver(r, k, log);
  }
  const std::string want = rs[0].text.Encode();
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("replica " + std::to_string(i));
    EXPECT_EQ(rs[i].text.parked(), 0u);
    EXPECT_EQ(rs[i].text.ToU32(), rs[0].text.ToU32());
    EXPECT_EQ(rs[i].text.Encode(), want);
    EXPECT_TRUE(rs[i].text == rs[0].text);
  }
  auto decoded = Text::Decode(want);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded.value() == rs[0].text);

  // No interleaving: between two characters of one insert op there is only
  // text from ops whose authors had seen that op (inserted later, inside it).
  const auto layout = rs[0].text.Layout();
  std::map<CharId, std::size_t> where;
  for (std::size_t p = 0; p < layout.size(); ++p) where[layout[p].first] = p;
  std::map<std::pair<Agent, std::uint32_t>, std::size_t> op_of;  // run start -> op index
  for (std::size_t k = 0; k < log.size(); ++k) {
    if (const auto* ins = std::get_if<InsertOp>(&log[k].op)) op_of[{ins->id.agent, ins->id.seq}] = k;
  }
  auto owner = [&](CharId c) {
    auto it = op_of.upper_bound({c.agent, c.seq});
    --it;
    return it->second;
  };
  for (std::size_t k = 0; k < log.size(); ++k) {
    const auto* ins = std::get_if<InsertOp>(&log[k].op);
    if (ins == nullptr || ins->text.size() < 2) continue;
    const std::size_t first = where.at(ins->id);
    const std::size_t last = where.at(CharId{ins->id.agent, ins->id.seq + static_cast<std::uint32_t>(ins->text.size()) - 1});
    ASSERT_LE(first, last);
    for (std::size_t p = first; p <= last; ++p) {
      const CharId c = layout[p].first;
      if (c.agent == ins->id.agent && c.seq >= ins->id.seq && c.seq < ins->id.seq + ins->text.size()) continue;
      const std::size_t other = owner(c);
      ASSERT_TRUE(log[other].known.contains(k))
          << "op " << other << " interleaved into concurrent op " << k;
    }
  }
}

class TextConvergence : public ::testing::TestWithParam<int> {};

TEST_P(TextConvergence, ReplicasConvergeWithoutInterleaving) {
  if (const char* one = std::getenv("HEARTH_TEXT_SEED")) {
    if (GetParam() == 0) RunSeed(std::strtoull(one, nullptr, 10));
    return;
  }
  int per_shard = 20;
  if (const char* s = std::getenv("HEARTH_TEXT_SEEDS")) per_shard = std::max(1, std::atoi(s));
  for (int i = 0; i < per_shard; ++i) {
    RunSeed(static_cast<std::uint64_t>(GetParam()) * 1000003u + static_cast<std::uint64_t>(i));
    if (HasFatalFailure() || HasFailure()) return;
  }
}

// 25 shards x 20 seeds = 500 seeds in CTest.
INSTANTIATE_TEST_SUITE_P(Seeds, TextConvergence, ::testing::Range(0, 25));

}  // namespace
}  // namespace hearth::crdt
