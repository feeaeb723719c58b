#include <gtest/gtest.h>

#include <random>

#include "core/crdt/crdt.h"

namespace hearth::crdt {
namespace {

TEST(HybridClock, NeverGoesBackwards) {
  HybridClock c;
  std::uint64_t a = c.Tick(1000);
  std::uint64_t b = c.Tick(1000);  // same millisecond
  std::uint64_t d = c.Tick(500);   // the wall clock stepped back
  EXPECT_LT(a, b);
  EXPECT_LT(b, d);
  EXPECT_EQ(HybridClock::WallMs(a), 1000);
  c.Observe(std::uint64_t{5000} << 16);
  EXPECT_GT(c.Tick(1000), std::uint64_t{5000} << 16);
  EXPECT_EQ(HybridClock(0).Tick(2000), std::uint64_t{2000} << 16);
}

TEST(LwwRegister, LaterStampWinsAndTiesGoToDeviceOrder) {
  LwwRegister<int> r;
  EXPECT_TRUE(r.Set({10, 1}, 1));
  EXPECT_FALSE(r.Set({9, 9}, 2));
  EXPECT_TRUE(r.Set({10, 2}, 3));  // same clock, higher device
  EXPECT_EQ(r.value, 3);
  EXPECT_FALSE(r.Set({10, 2}, 4));  // a duplicate changes nothing
  EXPECT_EQ(r.value, 3);
}

TEST(AddWinsSet, ConcurrentAddSurvivesRemove) {
  AddWinsSet<std::string> a, b;
  a.Add("walk", {1, 1});
  b = a;
  // Replica a removes what it saw; replica b concurrently re-adds.
  a.Remove(a.Dots("walk"));
  b.Add("walk", {2, 2});
  AddWinsSet<std::string> m1 = a, m2 = b;
  m1.Add("walk", {2, 2});
  m2.Remove({{1, 1}});
  EXPECT_TRUE(m1.Contains("walk"));
  EXPECT_EQ(m1, m2);
}

TEST(AddWinsSet, RemoveBeforeItsAddStaysRemoved) {
  AddWinsSet<std::string> s;
  s.Remove({{1, 1}});
  s.Add("x", {1, 1});
  EXPECT_FALSE(s.Contains("x"));
}

}  // namespace
}  // namespace hearth::crdt
