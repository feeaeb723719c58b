#include "tests/export/sample_document.h"

#include <algorithm>

#include "core/base/dates.h"

namespace hearth::exporter::testing {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

node::ItemView Item(std::uint64_t id, model::Kind kind, const std::string& author, bool mine,
                    std::int64_t day, const std::string& text) {
  node::ItemView v;
  v.id = id;
  v.kind = kind;
  v.author = author;
  v.author_id = mine ? 0x1111111111111111ULL : 0x2222222222222222ULL;
  v.mine = mine;
  v.day = day;
  v.created_ms = day * kMsPerDay + 9 * 3'600'000 + static_cast<std::int64_t>(id % 1000);
  v.text = text;
  return v;
}

// The appreciation counts each way, and the items oldest first (as
// BuildDocument leaves them).
void Finish(Document& d) {
  std::uint64_t a_to_s = 0, s_to_a = 0;
  for (const auto& v : d.items) {
    if (v.kind == model::Kind::kAppreciation) (v.mine ? a_to_s : s_to_a) += 1;
  }
  d.appreciations = {{"Alice", "Samír", a_to_s}, {"Samír", "Alice", s_to_a}};
  std::stable_sort(d.items.begin(), d.items.end(), [](const node::ItemView& x, const node::ItemView& y) {
    return x.day != y.day ? x.day < y.day : x.created_ms < y.created_ms;
  });
}

}  // namespace

Document SampleDocument(int weeks) {
  if (weeks < 1) weeks = 1;
  const std::int64_t last = DaysFromCivil({2026, 11, 22});
  const std::int64_t first = last - 7 * weeks + 1;
  Document d;
  d.space_id = "0123456789abcdef0123456789abcdef";
  d.exporter = "Alice";
  d.members = {"Alice", "Samír"};
  d.generated_ms = last * kMsPerDay + 12 * 3'600'000;
  d.from_day = first;
  d.to_day = last;
  d.filters.from_day = first;
  d.filters.to_day = last;
  std::uint64_t id = 0x1000000000000000ULL;
  const std::int64_t monday0 = first - ((first + 3) % 7 + 7) % 7;  // day 0 (1970-01-01) was a Thursday
  for (int w = 0; w < weeks; ++w) {
    const std::int64_t monday = monday0 + 7 * w;
    d.appreciations_per_week.weeks.push_back(monday);
  }
  d.appreciations_per_week.members = d.members;
  d.appreciations_per_week.counts.assign(2, std::vector<std::uint64_t>(d.appreciations_per_week.weeks.size(), 0));
  ScoreSeries alice{"Alice", {}}, sam{"Samír", {}};
  node::ItemView commitment =
      Item(++id, model::Kind::kCommitment, "Alice", true, first, "Walk together after dinner on Sundays");
  commitment.owner = model::Owner::kBoth;
  commitment.rhythm = model::Rhythm::kWeek;
  commitment.current_period = WeekPeriod(last);
  d.items.push_back(commitment);
  CommitmentSummary cs{commitment.id, commitment.text, "both", "week", 0, 0, 0, {}, {}};
  for (int w = 0; w < weeks; ++w) {
    const std::int64_t day = first + 7 * w;
    const std::size_t week_index = static_cast<std::size_t>(w);
    // An appreciation each way most weeks, in turn in several scripts.
    const char* texts[] = {kEmoji, kAccented, kHebrew, kArabic};
    node::ItemView a = Item(++id, model::Kind::kAppreciation, w % 2 ? "Samír" : "Alice", w % 2 == 0, day,
                            texts[w % 4]);
    a.to = w % 2 ? "Alice" : "Samír";
    d.items.push_back(a);
    d.appreciations_per_week.counts[w % 2][week_index] += 1;
    if (w % 3 == 0) {
      node::ItemView e = Item(++id, model::Kind::kEntry, "Alice", true, day + 1, "We cooked together. " + std::string(kAccented));
      e.title = "Sunday dinner";
      e.mood = 4;
      e.tags = {"cooking", "home"};
      d.items.push_back(e);
      ++d.entries;
    }
    node::ItemView c = Item(++id, model::Kind::kCheckin, "Alice", true, day + 2, "Check-in " + WeekPeriod(day + 2));
    c.period = WeekPeriod(day + 2);
    const int sa = 5 + (w % 5), ss = 8 - (w % 4);
    c.answers.push_back({"Alice", 0x1111111111111111ULL,
                         {std::to_string(sa), "The walk on Sunday", kEmoji, "More time without phones", ""}, false});
    c.answers.push_back({"Samír", 0x2222222222222222ULL,
                         {std::to_string(ss), "Dinner with your parents", kHebrew, "", "The holiday plans"}, false});
    d.items.push_back(c);
    ++d.checkins;
    alice.points.push_back({day + 2, c.period, sa});
    sam.points.push_back({day + 2, c.period, ss});
    const PeriodState st = w % 4 == 3 ? PeriodState::kMissed : (w % 5 == 4 ? PeriodState::kNotRecorded : PeriodState::kKept);
    cs.periods.push_back({WeekPeriod(day), st});
    if (st == PeriodState::kKept) ++cs.kept;
    if (st == PeriodState::kMissed) ++cs.missed;
    if (st == PeriodState::kNotRecorded) ++cs.not_recorded;
    if (st != PeriodState::kNotRecorded) {
      d.items[0].follow_through.push_back({WeekPeriod(day), st == PeriodState::kKept, st == PeriodState::kMissed ? "Rain" : ""});
    }
  }
  node::ItemView memory = Item(++id, model::Kind::kEntry, "Samír", false, first + 3, "Remember the night train to Lisbon?");
  memory.memory = true;
  memory.title = "Lisbon";
  d.items.push_back(memory);
  ++d.memories;
  node::ItemView priv = Item(++id, model::Kind::kEntry, "Alice", true, last, kPrivateText);
  priv.is_private = true;
  d.items.push_back(priv);
  ++d.private_entries;
  d.filters.include_private = true;
  cs.stats = {2, 3, 4, 8, 11};
  d.items[0].stats = cs.stats;
  d.commitments.push_back(cs);
  d.scores = {alice, sam};
  Finish(d);
  return d;
}

Document LargeDocument(std::size_t items, int weeks) {
  Document d = SampleDocument(weeks);
  const std::int64_t days = d.to_day - d.from_day + 1;
  const std::int64_t monday0 = d.appreciations_per_week.weeks.front();
  const char* scripts[] = {kAccented, kEmoji, kHebrew, kArabic};
  std::uint64_t id = 0x2000000000000000ULL;
  for (std::size_t n = 0; d.items.size() < items; ++n) {
    const bool mine = n % 2 == 0;
    const std::string author = mine ? "Alice" : "Samír";
    const std::int64_t day = d.from_day + static_cast<std::int64_t>((n * 7919) % static_cast<std::size_t>(days));
    if (n % 3 == 0) {
      node::ItemView a = Item(++id, model::Kind::kAppreciation, author, mine, day, scripts[n % 4]);
      a.to = mine ? "Samír" : "Alice";
      const auto week = static_cast<std::size_t>((day - monday0) / 7);
      if (week < d.appreciations_per_week.weeks.size()) d.appreciations_per_week.counts[mine ? 0 : 1][week] += 1;
      d.items.push_back(a);
    } else {
      node::ItemView e = Item(++id, model::Kind::kEntry, author, mine, day,
                              "Entry " + std::to_string(n) +
                                  ". We talked about the week ahead and the plans for the holidays; it felt "
                                  "easier than the last time. We agreed to keep Sunday evenings free, and to "
                                  "call our parents on Saturdays instead.\n\n" +
                                  std::string(kAccented) + ". " + scripts[n % 4]);
      e.title = "Evening " + std::to_string(n);
      e.mood = static_cast<std::int64_t>(n % 5 + 1);
      e.tags = {"home", n % 2 ? "plans" : "family"};
      d.items.push_back(e);
      ++d.entries;
    }
  }
  Finish(d);
  return d;
}

}  // namespace hearth::exporter::testing
