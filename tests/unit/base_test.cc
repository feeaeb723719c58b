#include <gtest/gtest.h>

#include "core/base/bytes.h"
#include "core/base/dates.h"

namespace hearth {
namespace {

TEST(Dates, CivilRoundTripAcrossEras) {
  for (std::int64_t d = -800000; d <= 800000; d += 37) {
    EXPECT_EQ(DaysFromCivil(CivilFromDays(d)), d);
  }
  EXPECT_EQ(DaysFromCivil({1970, 1, 1}), 0);
  EXPECT_EQ(FormatDate(DaysFromCivil({2024, 2, 29})), "2024-02-29");
}

TEST(Dates, ParseRejectsImpossibleDates) {
  EXPECT_TRUE(ParseDate("2024-02-29"));
  EXPECT_FALSE(ParseDate("2023-02-29"));
  EXPECT_FALSE(ParseDate("2026-13-01"));
  EXPECT_FALSE(ParseDate("2026-1-01"));
  EXPECT_FALSE(ParseDate("26-01-01xx"));
  EXPECT_FALSE(ParseDate(""));
}

TEST(Dates, IsoWeeksAtYearBoundaries) {
  // Published ISO 8601 examples: 2021-01-03 is in 2020-W53; 2026-11-22 in 2026-W47;
  // 2024-12-30 in 2025-W01; 2027-01-01 in 2026-W53.
  EXPECT_EQ(WeekPeriod(*ParseDate("2021-01-03")), "2020-W53");
  EXPECT_EQ(WeekPeriod(*ParseDate("2021-01-04")), "2021-W01");
  EXPECT_EQ(WeekPeriod(*ParseDate("2026-11-22")), "2026-W47");
  EXPECT_EQ(WeekPeriod(*ParseDate("2026-11-23")), "2026-W48");
  EXPECT_EQ(WeekPeriod(*ParseDate("2024-12-30")), "2025-W01");
  EXPECT_EQ(WeekPeriod(*ParseDate("2027-01-01")), "2026-W53");
  EXPECT_EQ(MonthPeriod(*ParseDate("2026-11-22")), "2026-11");
}

TEST(Dates, Timestamps) {
  auto ms = ParseTimestamp("2026-11-22T10:04:05Z");
  ASSERT_TRUE(ms);
  EXPECT_EQ(FormatTimestamp(*ms), "2026-11-22T10:04:05Z");
  EXPECT_FALSE(ParseTimestamp("2026-11-22T25:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2026-11-22 10:04:05"));
}

TEST(Bytes, HexRoundTrip) {
  Bytes b = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(ToHex(b), "007fff10");
  EXPECT_EQ(*FromHex("007FFF10"), b);
  EXPECT_FALSE(FromHex("0g"));
  EXPECT_FALSE(FromHex("abc"));
  EXPECT_EQ(IdToHex(0x0123456789abcdefULL), "0123456789abcdef");
}

}  // namespace
}  // namespace hearth
