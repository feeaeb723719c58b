// hearth::base — calendar arithmetic on civil dates (proleptic Gregorian, UTC).
// Days are counted from 1970-01-01 (day 0). No time zones: Hearth stores UTC
// and a date typed by the user is a civil date.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth {

struct CivilDate {
  int year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  friend bool operator==(const CivilDate&, const CivilDate&) = default;
};

std::int64_t DaysFromCivil(CivilDate d);
CivilDate CivilFromDays(std::int64_t days);
std::int64_t DayOfMs(std::int64_t ms);

// Parses exactly YYYY-MM-DD (a real calendar date) into a day number.
std::optional<std::int64_t> ParseDate(std::string_view text);
std::string FormatDate(std::int64_t day);
// ISO 8601 UTC timestamp with seconds: 2026-11-22T10:04:05Z.
std::string FormatTimestamp(std::int64_t ms);
// Parses YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ into milliseconds since the epoch.
std::optional<std::int64_t> ParseTimestamp(std::string_view text);

// Period labels for commitment rhythms.
std::string DayPeriod(std::int64_t day);    // 2026-11-22
std::string WeekPeriod(std::int64_t day);   // 2026-W47 (ISO 8601 week)
std::string MonthPeriod(std::int64_t day);  // 2026-11
// The first day of a period named as above (2026-11-22, 2026-W47, 2026-11);
// nullopt for anything else.
std::optional<std::int64_t> PeriodFirstDay(std::string_view period);
std::int64_t WeekStart(std::int64_t day);   // the Monday of the ISO week holding `day`
std::int64_t MonthStart(std::int64_t day);  // the first day of the month holding `day`

}  // namespace hearth
