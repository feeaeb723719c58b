#include "core/base/dates.h"

#include <chrono>
#include <cstdio>

#include "core/base/clock.h"

namespace hearth {

std::int64_t SystemClock::NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {
std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
constexpr std::int64_t kMsPerDay = 86'400'000;

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned DaysInMonth(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool ParseDigits(std::string_view s, int& out) {
  if (s.empty()) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}
}  // namespace

// Days-from-civil after the well-known era-based algorithm (H. Hinnant,
// "chrono-Compatible Low-Level Date Algorithms").
std::int64_t DaysFromCivil(CivilDate d) {
  const std::int64_t y = static_cast<std::int64_t>(d.year) - (d.month <= 2 ? 1 : 0);
  const std::int64_t era = FloorDiv(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (d.month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = FloorDiv(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const unsigned d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const unsigned m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return CivilDate{static_cast<int>(y + (m <= 2 ? 1 : 0)), m, d};
}

std::int64_t DayOfMs(std::int64_t ms) { return FloorDiv(ms, kMsPerDay); }

std::optional<std::int64_t> ParseDate(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  int y = 0, m = 0, d = 0;
  if (!ParseDigits(t.substr(0, 4), y) || !ParseDigits(t.substr(5, 2), m) ||
      !ParseDigits(t.substr(8, 2), d)) {
    return std::nullopt;
  }
  if (y < 1900 || m < 1 || m > 12 || d < 1 ||
      static_cast<unsigned>(d) > DaysInMonth(y, static_cast<unsigned>(m))) {
    return std::nullopt;
  }
  return DaysFromCivil({y, static_cast<unsigned>(m), static_cast<unsigned>(d)});
}

std::string FormatDate(std::int64_t day) {
  CivilDate c = CivilFromDays(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.year, c.month, c.day);
  return buf;
}

std::string FormatTimestamp(std::int64_t ms) {
  std::int64_t day = DayOfMs(ms);
  std::int64_t in_day = ms - day * kMsPerDay;
  std::int64_t secs = in_day / 1000;
  char buf[80];
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lldZ", FormatDate(day).c_str(),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

std::optional<std::int64_t> ParseTimestamp(std::string_view t) {
  auto day = ParseDate(t.substr(0, 10));
  if (!day) return std::nullopt;
  if (t.size() == 10) return *day * kMsPerDay;
  if (t.size() != 20 || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z') {
    return std::nullopt;
  }
  int h = 0, mi = 0, s = 0;
  if (!ParseDigits(t.substr(11, 2), h) || !ParseDigits(t.substr(14, 2), mi) ||
      !ParseDigits(t.substr(17, 2), s) || h > 23 || mi > 59 || s > 59) {
    return std::nullopt;
  }
  return *day * kMsPerDay + (h * 3600 + mi * 60 + s) * 1000LL;
}

std::string DayPeriod(std::int64_t day) { return FormatDate(day); }

std::string WeekPeriod(std::int64_t day) {
  // ISO 8601: weeks start on Monday; week 1 holds the year's first Thursday.
  const std::int64_t weekday = ((day + 3) % 7 + 7) % 7;  // Monday = 0; day 0 was a Thursday
  const std::int64_t thursday = day - weekday + 3;  // the Thursday of this ISO week
  const CivilDate t = CivilFromDays(thursday);
  const std::int64_t jan1 = DaysFromCivil({t.year, 1, 1});
  const std::int64_t week = (thursday - jan1) / 7 + 1;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-W%02lld", t.year, static_cast<long long>(week));
  return buf;
}

std::string MonthPeriod(std::int64_t day) {
  CivilDate c = CivilFromDays(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", c.year, c.month);
  return buf;
}

std::optional<std::int64_t> PeriodFirstDay(std::string_view period) {
  const auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    if (at + n > period.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (period[i] < '0' || period[i] > '9') return std::nullopt;
      v = v * 10 + (period[i] - '0');
    }
    return v;
  };
  const auto year = digits(0, 4);
  if (!year || period.size() < 7 || period[4] != '-') return std::nullopt;
  if (period.size() == 10) return ParseDate(period);
  if (period.size() == 7) {
    const auto month = digits(5, 2);
    if (!month || *month < 1 || *month > 12) return std::nullopt;
    return DaysFromCivil({*year, static_cast<unsigned>(*month), 1});
  }
  if (period.size() == 8 && period[5] == 'W') {
    const auto week = digits(6, 2);
    if (!week || *week < 1 || *week > 53) return std::nullopt;
    // ISO 8601: week 1 is the week holding 4 January.
    const std::int64_t first = WeekStart(DaysFromCivil({*year, 1, 4})) + 7 * (*week - 1);
    if (WeekPeriod(first) != period) return std::nullopt;  // a week 53 the year does not have
    return first;
  }
  return std::nullopt;
}

std::int64_t WeekStart(std::int64_t day) { return day - ((day + 3) % 7 + 7) % 7; }

std::int64_t MonthStart(std::int64_t day) {
  CivilDate c = CivilFromDays(day);
  c.day = 1;
  return DaysFromCivil(c);
}

}  // namespace hearth
