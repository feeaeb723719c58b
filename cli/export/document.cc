#include "cli/export/document.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/base/dates.h"

namespace hearth::exporter {

std::string KindLabel(model::Kind kind) {
  switch (kind) {
    case model::Kind::kEntry:
      return "Entry";
    case model::Kind::kAppreciation:
      return "Appreciation";
    case model::Kind::kCommitment:
      return "Commitment";
    case model::Kind::kCheckin:
      return "Check-in";
    case model::Kind::kAgreements:
      return "Agreements";
    default:
      return "Item";
  }
}

std::string KindPlural(model::Kind kind) {
  switch (kind) {
    case model::Kind::kEntry:
      return "entries";
    case model::Kind::kAppreciation:
      return "appreciations";
    case model::Kind::kCommitment:
      return "commitments";
    case model::Kind::kCheckin:
      return "check-ins";
    default:
      return "other items";
  }
}

namespace {
const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};
}  // namespace

std::string LongDate(std::int64_t day) {
  const CivilDate c = CivilFromDays(day);
  return std::to_string(c.day) + " " + kMonths[(c.month - 1) % 12] + " " + std::to_string(c.year);
}

std::string MonthHeading(std::int64_t day) {
  const CivilDate c = CivilFromDays(day);
  return std::string(kMonths[(c.month - 1) % 12]) + " " + std::to_string(c.year);
}

std::string RhythmAdjective(model::Rhythm r) {
  return r == model::Rhythm::kDay ? "daily" : r == model::Rhythm::kMonth ? "monthly" : "weekly";
}

std::string RhythmAdjective(const std::string& rhythm) {
  return rhythm == "day" ? "daily" : rhythm == "month" ? "monthly" : "weekly";
}

std::string RhythmCount(const std::string& rhythm, std::uint64_t n) {
  const std::string unit = rhythm == "day" ? "day" : rhythm == "month" ? "month" : "week";
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

std::string JoinWords(const std::vector<std::string>& parts, const std::string& word) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " " + word + " " : ", ";
    out += parts[i];
  }
  return out;
}

std::string FilterSentence(const Document& doc, const std::function<std::string(const std::string&)>& escape) {
  std::vector<std::string> parts;
  std::vector<model::Kind> kinds = doc.filters.kinds;
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  if (!kinds.empty() && kinds.size() < 4) {  // all four kinds is everything
    std::vector<std::string> names;
    for (auto k : kinds) names.push_back(KindPlural(k));
    parts.push_back("only " + JoinWords(names, "and"));
  }
  if (!doc.filters.tags.empty()) {
    std::vector<std::string> tags;
    for (const auto& t : doc.filters.tags) tags.push_back("\u201c" + escape(t) + "\u201d");
    parts.push_back("tagged " + JoinWords(tags, "or"));
  }
  if (doc.filters.author) parts.push_back("written by " + escape(*doc.filters.author));
  if (parts.empty()) return "";
  std::string line = JoinWords(parts, "and");
  line[0] = static_cast<char>(line[0] - 'a' + 'A');  // every part starts with a lowercase ASCII word
  return "Filtered: " + line + ".";
}


std::string PeriodLabel(const Document& doc) {
  if (doc.from_day == doc.to_day) return LongDate(doc.from_day);
  return LongDate(doc.from_day) + " \u2013 " + LongDate(doc.to_day);
}

std::string PercentOrDash(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "\u2013";
  return std::to_string((part * 100 + whole / 2) / whole) + " %";
}

namespace {

bool Wanted(const Filters& f, model::Kind k) {
  return f.kinds.empty() || std::find(f.kinds.begin(), f.kinds.end(), k) != f.kinds.end();
}

bool HasAnyTag(const node::ItemView& v, const std::vector<std::string>& tags) {
  if (tags.empty()) return true;
  for (const auto& t : tags) {
    if (std::find(v.tags.begin(), v.tags.end(), t) != v.tags.end()) return true;
  }
  return false;
}

std::string OwnerLabel(const node::ItemView& c, const std::string& partner_of_author) {
  switch (c.owner) {
    case model::Owner::kBoth:
      return "both";
    case model::Owner::kPartner:
      return partner_of_author;
    default:
      return c.author;
  }
}

}  // namespace

std::int64_t ExportDay(const node::ItemView& item) { return item.memory ? DayOfMs(item.created_ms) : item.day; }

Result<Document> BuildDocument(node::Node& node, const Filters& filters) {
  if (filters.from_day && filters.to_day && *filters.from_day > *filters.to_day) {
    return MakeError(Errc::kInvalidInput, "--from is after --to.");
  }
  Document doc;
  doc.space_id = node.SpaceId();
  const std::vector<node::MemberView> members = node.Members();
  for (const auto& m : members) {
    if (m.me) doc.exporter = m.name;
  }
  doc.members.push_back(doc.exporter);
  for (const auto& m : members) {
    if (!m.me) doc.members.push_back(m.name);
  }
  const std::string partner = doc.members.size() > 1 ? doc.members[1] : std::string("your partner");
  const auto partner_of = [&](const std::string& who) { return who == doc.exporter ? partner : doc.exporter; };
  doc.generated_ms = node.NowMs();
  doc.filters = filters;
  const std::int64_t today = DayOfMs(doc.generated_ms);

  // Everything of the chosen kinds up to the last day; the period's start is
  // applied below (commitments made earlier still belong to the period).
  node::ListQuery q;
  for (model::Kind k : {model::Kind::kEntry, model::Kind::kAppreciation, model::Kind::kCommitment,
                        model::Kind::kCheckin}) {
    if (Wanted(filters, k)) q.kinds.push_back(k);
  }
  q.to_day = filters.to_day;
  q.author = filters.author;
  HEARTH_ASSIGN_OR_RETURN(std::vector<node::ItemView> all, node.List(q));
  std::int64_t first_day = today;
  for (const auto& v : all) first_day = std::min(first_day, v.day);
  doc.from_day = filters.from_day.value_or(first_day);
  doc.to_day = filters.to_day.value_or(std::max(today, doc.from_day));
  const std::int64_t last_day = std::min(doc.to_day, today);

  std::map<model::ItemId, std::int64_t> renegotiated_on;  // replaced commitment -> the day its successor began
  for (const auto& v : all) {
    if (v.kind == model::Kind::kCommitment && v.replaces != 0) renegotiated_on[v.replaces] = v.day;
  }
  for (auto& v : all) {
    if (v.is_private && (!filters.include_private || !v.mine)) continue;
    if (!HasAnyTag(v, filters.tags)) continue;
    if (v.kind == model::Kind::kCommitment) {
      // A commitment belongs to the period while it was held during it.
      const auto ended = renegotiated_on.find(v.id);
      const std::int64_t until = ended == renegotiated_on.end() ? last_day : ended->second - 1;
      if (v.day > doc.to_day || until < doc.from_day) continue;
      CommitmentSummary c;
      c.id = v.id;
      c.text = v.text;
      c.owner = OwnerLabel(v, partner_of(v.author));
      c.rhythm = v.rhythm == model::Rhythm::kDay ? "day" : v.rhythm == model::Rhythm::kMonth ? "month" : "week";
      std::map<std::string, bool> kept_in;
      for (const auto& f : v.follow_through) kept_in[f.period] = f.kept;
      const std::int64_t begin = std::max(doc.from_day, v.day);
      for (std::int64_t p = node::PeriodStart(v.rhythm, begin); p <= std::min(until, last_day);
           p = node::NextPeriodStart(v.rhythm, p)) {
        const std::string name = node::PeriodName(v.rhythm, p);
        auto it = kept_in.find(name);
        const PeriodState st = it == kept_in.end() ? PeriodState::kNotRecorded
                               : it->second       ? PeriodState::kKept
                                                  : PeriodState::kMissed;
        c.periods.push_back({name, st});
        (st == PeriodState::kKept ? c.kept : st == PeriodState::kMissed ? c.missed : c.not_recorded) += 1;
      }
      // A commitment nobody recorded anything for in the period keeps its
      // count of periods but no marks: a row of hundreds of empty squares
      // says less than "not recorded" does.
      if (c.kept + c.missed == 0) c.periods.clear();
      c.stats = node::StatsAsOf(v.follow_through, v.rhythm, std::min(until, last_day));
      v.stats = c.stats;
      doc.commitments.push_back(std::move(c));
      doc.items.push_back(std::move(v));
      continue;
    }
    const std::int64_t at = ExportDay(v);
    if (at < doc.from_day || at > doc.to_day) continue;
    switch (v.kind) {
      case model::Kind::kEntry:
        ++doc.entries;
        doc.memories += v.memory ? 1 : 0;
        doc.private_entries += v.is_private ? 1 : 0;
        break;
      case model::Kind::kCheckin:
        ++doc.checkins;
        break;
      default:
        break;
    }
    doc.items.push_back(std::move(v));
  }
  // In a check-in the exporter's answers come first, as everywhere else.
  for (auto& v : doc.items) {
    std::stable_partition(v.answers.begin(), v.answers.end(),
                          [&](const node::AnswerView& a) { return a.member == doc.exporter; });
  }
  // Oldest first, then by when it was written.
  std::stable_sort(doc.items.begin(), doc.items.end(), [](const node::ItemView& a, const node::ItemView& b) {
    return ExportDay(a) != ExportDay(b) ? ExportDay(a) < ExportDay(b) : a.created_ms < b.created_ms;
  });
  // Commitments in the order they were made.
  std::map<model::ItemId, std::int64_t> made;
  for (const auto& v : doc.items) made[v.id] = v.created_ms;
  std::stable_sort(doc.commitments.begin(), doc.commitments.end(),
                   [&](const CommitmentSummary& a, const CommitmentSummary& b) { return made[a.id] < made[b.id]; });

  // Appreciations each way, and per week per author.
  WeeklyCounts& weekly = doc.appreciations_per_week;
  weekly.members = doc.members;
  for (std::int64_t w = WeekStart(doc.from_day); w <= doc.to_day; w += 7) weekly.weeks.push_back(w);
  weekly.counts.assign(weekly.members.size(), std::vector<std::uint64_t>(weekly.weeks.size(), 0));
  std::map<std::pair<std::string, std::string>, std::uint64_t> flows;
  if (Wanted(filters, model::Kind::kAppreciation)) {
    for (std::size_t i = 0; i < doc.members.size(); ++i) {
      for (std::size_t j = 0; j < doc.members.size(); ++j) {
        if (i != j) flows[{doc.members[i], doc.members[j]}] = 0;
      }
    }
  }
  std::map<std::string, ScoreSeries> scores;
  for (const auto& v : doc.items) {
    if (v.kind == model::Kind::kAppreciation) {
      flows[{v.author, v.to}] += 1;
      const auto m = std::find(weekly.members.begin(), weekly.members.end(), v.author);
      const std::int64_t w = (WeekStart(v.day) - WeekStart(doc.from_day)) / 7;
      if (m != weekly.members.end() && w >= 0 && static_cast<std::size_t>(w) < weekly.weeks.size()) {
        weekly.counts[static_cast<std::size_t>(m - weekly.members.begin())][static_cast<std::size_t>(w)] += 1;
      }
    } else if (v.kind == model::Kind::kCheckin) {
      for (const auto& a : v.answers) {
        if (a.sealed || a.answers.empty()) continue;
        const std::string& s = a.answers[0];
        if (s.empty() || s.size() > 2 || !std::all_of(s.begin(), s.end(), ::isdigit)) continue;
        const int score = std::stoi(s);
        if (score < 1 || score > 10) continue;
        ScoreSeries& series = scores[a.member];
        series.member = a.member;
        series.points.push_back({PeriodFirstDay(v.period).value_or(v.day), v.period, score});
      }
    }
  }
  // Flows ordered from the exporter first (the map orders by name).
  for (const auto& from : doc.members) {
    for (const auto& [key, n] : flows) {
      if (key.first == from) doc.appreciations.push_back({key.first, key.second, n});
    }
  }
  for (const auto& m : doc.members) {
    if (auto it = scores.find(m); it != scores.end()) doc.scores.push_back(std::move(it->second));
  }
  return doc;
}

}  // namespace hearth::exporter
