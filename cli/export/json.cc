// The export as JSON: complete, so ParseJson(RenderJson(doc)) == doc.
//
// The format is specified key by key in docs/export.md and by the JSON Schema
// docs/export-schema.json. Item keys share their names with the `--json`
// item documents (docs/json.md) where they overlap; every item carries every
// ItemView field, whatever its kind, so nothing is lost.
//
// ParseJson reads untrusted input: it never throws (nlohmann's exceptions and
// its own are caught at its edge) and refuses, with one sentence naming the
// key, anything this writer would not produce: a wrong type, a missing or
// unknown key, an unknown name, a malformed id, date or period, an
// out-of-range number, a string over 1 MiB, an array over 1,000,000 elements,
// nesting deeper than the format's own.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/export/document.h"
#include "core/base/bytes.h"
#include "core/base/dates.h"

namespace hearth::exporter {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kFormatName = "hearth-export";
constexpr int kVersion = 1;
constexpr std::size_t kMaxInputBytes = 256u * 1024 * 1024;  // the whole file
constexpr std::size_t kMaxStringBytes = 1024 * 1024;
constexpr std::size_t kMaxElements = 1'000'000;             // any one array
constexpr int kMaxDepth = 8;                                // the format nests 6 deep
constexpr std::int64_t kMsPerDay = 86'400'000;

// ---- names ----

struct KindName {
  model::Kind kind;
  const char* name;
};
constexpr KindName kKinds[] = {{model::Kind::kEntry, "entry"},
                               {model::Kind::kAppreciation, "appreciation"},
                               {model::Kind::kCommitment, "commitment"},
                               {model::Kind::kCheckin, "checkin"},
                               {model::Kind::kAgreements, "agreements"}};

std::string NameOf(model::Kind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";  // never in an export; refused by ParseJson
}

std::string NameOf(model::Owner owner) {
  switch (owner) {
    case model::Owner::kPartner:
      return "partner";
    case model::Owner::kBoth:
      return "both";
    case model::Owner::kAuthor:
      break;
  }
  return "author";
}

std::string NameOf(model::Rhythm rhythm) {
  switch (rhythm) {
    case model::Rhythm::kDay:
      return "day";
    case model::Rhythm::kMonth:
      return "month";
    case model::Rhythm::kWeek:
      break;
  }
  return "week";
}

std::string NameOf(PeriodState state) {
  switch (state) {
    case PeriodState::kKept:
      return "kept";
    case PeriodState::kMissed:
      return "missed";
    case PeriodState::kNotRecorded:
      break;
  }
  return "not_recorded";
}

// 2026-11-22T09:00:00.123Z: the exact millisecond.
std::string TimestampMs(std::int64_t ms) {
  const std::int64_t day = DayOfMs(ms);
  const std::int64_t in_day = ms - day * kMsPerDay;
  std::string s = FormatTimestamp(ms);  // ...THH:MM:SSZ
  std::string millis = std::to_string(in_day % 1000);
  millis.insert(0, 3 - millis.size(), '0');
  s.insert(s.size() - 1, "." + millis);
  return s;
}

// ---- writing ----

ordered_json DateOrNull(const std::optional<std::int64_t>& day) {
  return day ? ordered_json(FormatDate(*day)) : ordered_json(nullptr);
}

ordered_json IdOrNull(std::uint64_t id) { return id ? ordered_json(IdToHex(id)) : ordered_json(nullptr); }

ordered_json StatsJson(const node::FollowThroughStats& s) {
  return ordered_json{{"streak", s.streak},
                      {"kept4", s.kept4},
                      {"recorded4", s.recorded4},
                      {"kept12", s.kept12},
                      {"recorded12", s.recorded12},
                      {"missed_in_a_row", s.missed_in_a_row}};
}

ordered_json ItemJson(const node::ItemView& v) {
  ordered_json j;
  j["id"] = IdToHex(v.id);
  j["kind"] = NameOf(v.kind);
  j["author"] = v.author;
  j["author_id"] = IdToHex(v.author_id);
  j["mine"] = v.mine;
  j["created"] = TimestampMs(v.created_ms);
  j["date"] = FormatDate(v.day);
  j["text"] = v.text;
  j["title"] = v.title;
  j["mood"] = v.mood ? ordered_json(*v.mood) : ordered_json(nullptr);
  j["tags"] = v.tags;
  j["private"] = v.is_private;
  j["memory"] = v.memory;
  j["to"] = v.to;
  j["owner"] = NameOf(v.owner);
  j["rhythm"] = NameOf(v.rhythm);
  ordered_json ft = ordered_json::array();
  for (const auto& f : v.follow_through) {
    ft.push_back(ordered_json{{"period", f.period}, {"kept", f.kept}, {"note", f.note}});
  }
  j["follow_through"] = std::move(ft);
  j["stats"] = StatsJson(v.stats);
  j["current_period"] = v.current_period;
  j["replaces"] = IdOrNull(v.replaces);
  j["replaced_by"] = IdOrNull(v.replaced_by);
  j["period"] = v.period;
  ordered_json answers = ordered_json::array();
  for (const auto& a : v.answers) {
    answers.push_back(ordered_json{
        {"member", a.member}, {"member_id", IdToHex(a.member_id)}, {"sealed", a.sealed}, {"answers", a.answers}});
  }
  j["answers"] = std::move(answers);
  return j;
}

// ---- reading ----

// Thrown inside this file only, caught by ParseJson.
struct Invalid {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw Invalid{"The export's key \"" + path + "\" " + what + "."};
}

// Refuses nesting deeper than kMaxDepth before nlohmann builds anything.
bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool IsLowerHex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An object whose keys are exactly `keys` (each one required).
class Obj {
 public:
  Obj(const json& j, std::string path, std::initializer_list<const char*> keys) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) {
      if (path_.empty()) throw Invalid{"The export must be a JSON object."};
      Fail(path_, "must be an object");
    }
    for (const auto& item : j_.items()) {
      const std::string& key = item.key();
      if (std::find_if(keys.begin(), keys.end(), [&](const char* k) { return key == k; }) == keys.end()) {
        Fail(Sub(key), "is not part of the format");
      }
    }
    for (const char* k : keys) {
      if (!j_.contains(k)) Fail(Sub(k), "is missing");
    }
  }

  std::string Sub(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const json& At(const char* key) const { return j_.at(key); }

  std::string String(const char* key) const { return StringAt(At(key), Sub(key)); }
  bool Bool(const char* key) const {
    if (!At(key).is_boolean()) Fail(Sub(key), "must be true or false");
    return At(key).get<bool>();
  }
  std::uint64_t Count(const char* key, std::uint64_t max = ~0ULL) const { return CountAt(At(key), Sub(key), max); }
  std::int64_t Date(const char* key) const { return DateAt(At(key), Sub(key)); }
  std::optional<std::int64_t> DateOrNull(const char* key) const {
    if (At(key).is_null()) return std::nullopt;
    return Date(key);
  }
  std::uint64_t Id(const char* key) const { return IdAt(At(key), Sub(key)); }
  std::uint64_t IdOrZero(const char* key) const {
    if (At(key).is_null()) return 0;
    return Id(key);
  }
  std::string Period(const char* key, bool may_be_empty) const {
    return PeriodAt(At(key), Sub(key), may_be_empty);
  }
  const json& Array(const char* key) const { return ArrayAt(At(key), Sub(key)); }
  std::vector<std::string> Strings(const char* key) const {
    std::vector<std::string> out;
    const json& a = Array(key);
    for (std::size_t i = 0; i < a.size(); ++i) out.push_back(StringAt(a[i], Index(Sub(key), i)));
    return out;
  }

  static std::string Index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

  static std::string StringAt(const json& j, const std::string& path) {
    if (!j.is_string()) Fail(path, "must be a string");
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() > kMaxStringBytes) Fail(path, "is longer than 1 MiB");
    return s;
  }
  static std::uint64_t CountAt(const json& j, const std::string& path, std::uint64_t max) {
    if (!j.is_number_unsigned()) Fail(path, "must be a whole number, 0 or more");
    const std::uint64_t v = j.get<std::uint64_t>();
    if (v > max) Fail(path, "must be at most " + std::to_string(max));
    return v;
  }
  static std::int64_t DateAt(const json& j, const std::string& path) {
    const auto day = ParseDate(StringAt(j, path));
    if (!day) Fail(path, "must be a date, YYYY-MM-DD (from 1900 on)");
    return *day;
  }
  static std::uint64_t IdAt(const json& j, const std::string& path) {
    const std::string s = StringAt(j, path);
    if (s.size() != 16 || !IsLowerHex(s)) Fail(path, "must be 16 lowercase hex digits");
    return std::stoull(s, nullptr, 16);
  }
  static std::string PeriodAt(const json& j, const std::string& path, bool may_be_empty) {
    const std::string s = StringAt(j, path);
    if (s.empty() && may_be_empty) return s;
    const std::string_view v = s;
    const bool day = ParseDate(v).has_value();
    const bool month = v.size() == 7 && v[4] == '-' && ParseDate(std::string(v) + "-01").has_value();
    const bool week = v.size() == 8 && v[4] == '-' && v[5] == 'W' && AllDigits(v.substr(0, 4)) &&
                      AllDigits(v.substr(6, 2)) && v.substr(6, 2) >= "01" && v.substr(6, 2) <= "53";
    if (!day && !month && !week) Fail(path, "must be a period: YYYY-MM-DD, YYYY-Www or YYYY-MM");
    return s;
  }
  static const json& ArrayAt(const json& j, const std::string& path) {
    if (!j.is_array()) Fail(path, "must be an array");
    if (j.size() > kMaxElements) Fail(path, "holds more than 1,000,000 elements");
    return j;
  }

 private:
  const json& j_;
  std::string path_;
};

model::Kind KindAt(const json& j, const std::string& path) {
  const std::string s = Obj::StringAt(j, path);
  for (const auto& k : kKinds) {
    if (s == k.name) return k.kind;
  }
  Fail(path, "must be entry, appreciation, commitment, checkin or agreements");
}

model::Owner OwnerAt(const json& j, const std::string& path) {
  const std::string s = Obj::StringAt(j, path);
  for (auto o : {model::Owner::kAuthor, model::Owner::kPartner, model::Owner::kBoth}) {
    if (s == NameOf(o)) return o;
  }
  Fail(path, "must be author, partner or both");
}

model::Rhythm RhythmAt(const json& j, const std::string& path) {
  const std::string s = Obj::StringAt(j, path);
  for (auto r : {model::Rhythm::kDay, model::Rhythm::kWeek, model::Rhythm::kMonth}) {
    if (s == NameOf(r)) return r;
  }
  Fail(path, "must be day, week or month");
}

PeriodState StateAt(const json& j, const std::string& path) {
  const std::string s = Obj::StringAt(j, path);
  for (auto st : {PeriodState::kKept, PeriodState::kMissed, PeriodState::kNotRecorded}) {
    if (s == NameOf(st)) return st;
  }
  Fail(path, "must be kept, missed or not_recorded");
}

std::int64_t TimestampAt(const json& j, const std::string& path) {
  const std::string s = Obj::StringAt(j, path);
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (s.size() != 24 || s[19] != '.' || !AllDigits(std::string_view(s).substr(20, 3)) || s[23] != 'Z') {
    Fail(path, "must be a UTC time with milliseconds, YYYY-MM-DDTHH:MM:SS.mmmZ");
  }
  const auto seconds = ParseTimestamp(s.substr(0, 19) + "Z");
  if (!seconds) Fail(path, "must be a UTC time with milliseconds, YYYY-MM-DDTHH:MM:SS.mmmZ");
  return *seconds + std::stoll(s.substr(20, 3));
}

node::FollowThroughStats StatsAt(const json& j, const std::string& path) {
  const Obj o(j, path, {"streak", "kept4", "recorded4", "kept12", "recorded12", "missed_in_a_row"});
  constexpr std::uint64_t kMax = 0xffffffffULL;
  node::FollowThroughStats s;
  s.streak = static_cast<std::uint32_t>(o.Count("streak", kMax));
  s.kept4 = static_cast<std::uint32_t>(o.Count("kept4", kMax));
  s.recorded4 = static_cast<std::uint32_t>(o.Count("recorded4", kMax));
  s.kept12 = static_cast<std::uint32_t>(o.Count("kept12", kMax));
  s.recorded12 = static_cast<std::uint32_t>(o.Count("recorded12", kMax));
  s.missed_in_a_row = static_cast<std::uint32_t>(o.Count("missed_in_a_row", kMax));
  return s;
}

node::ItemView ItemAt(const json& j, const std::string& path) {
  const Obj o(j, path,
              {"id", "kind", "author", "author_id", "mine", "created", "date", "text", "title", "mood", "tags",
               "private", "memory", "to", "owner", "rhythm", "follow_through", "stats", "current_period", "replaces",
               "replaced_by", "period", "answers"});
  node::ItemView v;
  v.id = o.Id("id");
  v.kind = KindAt(o.At("kind"), o.Sub("kind"));
  v.author = o.String("author");
  v.author_id = o.Id("author_id");
  v.mine = o.Bool("mine");
  v.created_ms = TimestampAt(o.At("created"), o.Sub("created"));
  v.day = o.Date("date");
  v.text = o.String("text");
  v.title = o.String("title");
  if (!o.At("mood").is_null()) {
    const json& m = o.At("mood");
    if (!m.is_number_integer() || m.get<std::int64_t>() < 1 || m.get<std::int64_t>() > 5) {
      Fail(o.Sub("mood"), "must be null or a whole number from 1 to 5");
    }
    v.mood = m.get<std::int64_t>();
  }
  v.tags = o.Strings("tags");
  v.is_private = o.Bool("private");
  v.memory = o.Bool("memory");
  v.to = o.String("to");
  v.owner = OwnerAt(o.At("owner"), o.Sub("owner"));
  v.rhythm = RhythmAt(o.At("rhythm"), o.Sub("rhythm"));
  const json& ft = o.Array("follow_through");
  for (std::size_t i = 0; i < ft.size(); ++i) {
    const Obj f(ft[i], Obj::Index(o.Sub("follow_through"), i), {"period", "kept", "note"});
    v.follow_through.push_back({f.Period("period", false), f.Bool("kept"), f.String("note")});
  }
  v.stats = StatsAt(o.At("stats"), o.Sub("stats"));
  v.current_period = o.Period("current_period", true);
  v.replaces = o.IdOrZero("replaces");
  v.replaced_by = o.IdOrZero("replaced_by");
  v.period = o.Period("period", true);
  const json& answers = o.Array("answers");
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const Obj a(answers[i], Obj::Index(o.Sub("answers"), i), {"member", "member_id", "sealed", "answers"});
    v.answers.push_back({a.String("member"), a.Id("member_id"), a.Strings("answers"), a.Bool("sealed")});
  }
  return v;
}

Filters FiltersAt(const json& j, const std::string& path) {
  const Obj o(j, path, {"from", "to", "kinds", "tags", "author", "include_private"});
  Filters f;
  f.from_day = o.DateOrNull("from");
  f.to_day = o.DateOrNull("to");
  const json& kinds = o.Array("kinds");
  for (std::size_t i = 0; i < kinds.size(); ++i) f.kinds.push_back(KindAt(kinds[i], Obj::Index(o.Sub("kinds"), i)));
  f.tags = o.Strings("tags");
  if (!o.At("author").is_null()) f.author = o.String("author");
  f.include_private = o.Bool("include_private");
  return f;
}

CommitmentSummary CommitmentAt(const json& j, const std::string& path) {
  const Obj o(j, path,
              {"id", "text", "owner", "rhythm", "kept", "missed", "not_recorded", "periods", "stats"});
  CommitmentSummary c;
  c.id = o.Id("id");
  c.text = o.String("text");
  c.owner = o.String("owner");
  c.rhythm = NameOf(RhythmAt(o.At("rhythm"), o.Sub("rhythm")));
  c.kept = o.Count("kept");
  c.missed = o.Count("missed");
  c.not_recorded = o.Count("not_recorded");
  const json& periods = o.Array("periods");
  for (std::size_t i = 0; i < periods.size(); ++i) {
    const Obj p(periods[i], Obj::Index(o.Sub("periods"), i), {"period", "state"});
    c.periods.push_back({p.Period("period", false), StateAt(p.At("state"), p.Sub("state"))});
  }
  c.stats = StatsAt(o.At("stats"), o.Sub("stats"));
  return c;
}

Document DocumentAt(const json& j) {
  const Obj top(j, "",
                {"format", "version", "space", "exporter", "members", "generated", "from", "to", "filters", "summary",
                 "charts", "checkin_prompts", "items"});
  if (!top.At("format").is_string() || top.At("format").get<std::string>() != kFormatName) {
    Fail("format", "must be \"hearth-export\"");
  }
  if (!top.At("version").is_number_integer() || top.At("version").get<std::int64_t>() != kVersion) {
    Fail("version", "must be 1 (this Hearth reads version 1 only)");
  }
  Document d;
  d.space_id = top.String("space");
  if (!d.space_id.empty() && (d.space_id.size() != 32 || !IsLowerHex(d.space_id))) {
    Fail("space", "must be 32 lowercase hex digits");
  }
  d.exporter = top.String("exporter");
  d.members = top.Strings("members");
  d.generated_ms = TimestampAt(top.At("generated"), "generated");
  d.from_day = top.Date("from");
  d.to_day = top.Date("to");
  d.filters = FiltersAt(top.At("filters"), "filters");
  (void)top.Strings("checkin_prompts");  // for readers; not part of the Document

  const Obj summary(top.At("summary"), "summary",
                    {"entries", "memories", "private_entries", "checkins", "appreciations", "commitments"});
  d.entries = summary.Count("entries");
  d.memories = summary.Count("memories");
  d.private_entries = summary.Count("private_entries");
  d.checkins = summary.Count("checkins");
  const json& flows = summary.Array("appreciations");
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const Obj f(flows[i], Obj::Index("summary.appreciations", i), {"from", "to", "count"});
    d.appreciations.push_back({f.String("from"), f.String("to"), f.Count("count")});
  }
  const json& commitments = summary.Array("commitments");
  for (std::size_t i = 0; i < commitments.size(); ++i) {
    d.commitments.push_back(CommitmentAt(commitments[i], Obj::Index("summary.commitments", i)));
  }

  const Obj charts(top.At("charts"), "charts", {"connection", "appreciations_per_week"});
  const json& series = charts.Array("connection");
  for (std::size_t i = 0; i < series.size(); ++i) {
    const Obj s(series[i], Obj::Index("charts.connection", i), {"member", "points"});
    ScoreSeries out{s.String("member"), {}};
    const json& points = s.Array("points");
    for (std::size_t k = 0; k < points.size(); ++k) {
      const Obj p(points[k], Obj::Index(s.Sub("points"), k), {"date", "period", "score"});
      const std::uint64_t score = p.Count("score", 10);
      if (score < 1) Fail(p.Sub("score"), "must be a whole number from 1 to 10");
      out.points.push_back({p.Date("date"), p.Period("period", false), static_cast<int>(score)});
    }
    d.scores.push_back(std::move(out));
  }
  const Obj weekly(charts.At("appreciations_per_week"), "charts.appreciations_per_week",
                   {"weeks", "members", "counts"});
  WeeklyCounts& w = d.appreciations_per_week;
  const json& weeks = weekly.Array("weeks");
  for (std::size_t i = 0; i < weeks.size(); ++i) {
    w.weeks.push_back(Obj::DateAt(weeks[i], Obj::Index(weekly.Sub("weeks"), i)));
  }
  w.members = weekly.Strings("members");
  const json& rows = weekly.Array("counts");
  if (rows.size() != w.members.size()) Fail(weekly.Sub("counts"), "must hold one row per member");
  for (std::size_t m = 0; m < rows.size(); ++m) {
    const std::string row_path = Obj::Index(weekly.Sub("counts"), m);
    const json& row = Obj::ArrayAt(rows[m], row_path);
    if (row.size() != w.weeks.size()) Fail(row_path, "must hold one count per week");
    std::vector<std::uint64_t> counts;
    for (std::size_t k = 0; k < row.size(); ++k) counts.push_back(Obj::CountAt(row[k], Obj::Index(row_path, k), ~0ULL));
    w.counts.push_back(std::move(counts));
  }

  const json& items = top.Array("items");
  for (std::size_t i = 0; i < items.size(); ++i) d.items.push_back(ItemAt(items[i], Obj::Index("items", i)));
  return d;
}

}  // namespace

std::string RenderJson(const Document& doc) {
  ordered_json j;
  j["format"] = kFormatName;
  j["version"] = kVersion;
  j["space"] = doc.space_id;
  j["exporter"] = doc.exporter;
  j["members"] = doc.members;
  j["generated"] = TimestampMs(doc.generated_ms);
  j["from"] = FormatDate(doc.from_day);
  j["to"] = FormatDate(doc.to_day);

  ordered_json f;
  f["from"] = DateOrNull(doc.filters.from_day);
  f["to"] = DateOrNull(doc.filters.to_day);
  f["kinds"] = ordered_json::array();
  for (model::Kind k : doc.filters.kinds) f["kinds"].push_back(NameOf(k));
  f["tags"] = doc.filters.tags;
  f["author"] = doc.filters.author ? ordered_json(*doc.filters.author) : ordered_json(nullptr);
  f["include_private"] = doc.filters.include_private;
  j["filters"] = std::move(f);

  ordered_json s;
  s["entries"] = doc.entries;
  s["memories"] = doc.memories;
  s["private_entries"] = doc.private_entries;
  s["checkins"] = doc.checkins;
  s["appreciations"] = ordered_json::array();
  for (const auto& a : doc.appreciations) {
    s["appreciations"].push_back(ordered_json{{"from", a.from}, {"to", a.to}, {"count", a.count}});
  }
  s["commitments"] = ordered_json::array();
  for (const auto& c : doc.commitments) {
    ordered_json periods = ordered_json::array();
    for (const auto& p : c.periods) periods.push_back(ordered_json{{"period", p.period}, {"state", NameOf(p.state)}});
    s["commitments"].push_back(ordered_json{{"id", IdToHex(c.id)},
                                            {"text", c.text},
                                            {"owner", c.owner},
                                            {"rhythm", c.rhythm},
                                            {"kept", c.kept},
                                            {"missed", c.missed},
                                            {"not_recorded", c.not_recorded},
                                            {"periods", std::move(periods)},
                                            {"stats", StatsJson(c.stats)}});
  }
  j["summary"] = std::move(s);

  ordered_json charts;
  charts["connection"] = ordered_json::array();
  for (const auto& series : doc.scores) {
    ordered_json points = ordered_json::array();
    for (const auto& p : series.points) {
      points.push_back(ordered_json{{"date", FormatDate(p.day)}, {"period", p.period}, {"score", p.score}});
    }
    charts["connection"].push_back(ordered_json{{"member", series.member}, {"points", std::move(points)}});
  }
  ordered_json weekly;
  weekly["weeks"] = ordered_json::array();
  for (std::int64_t w : doc.appreciations_per_week.weeks) weekly["weeks"].push_back(FormatDate(w));
  weekly["members"] = doc.appreciations_per_week.members;
  weekly["counts"] = doc.appreciations_per_week.counts;
  charts["appreciations_per_week"] = std::move(weekly);
  j["charts"] = std::move(charts);

  j["checkin_prompts"] = node::CheckinPrompts();
  j["items"] = ordered_json::array();
  for (const auto& v : doc.items) j["items"].push_back(ItemJson(v));
  // Invalid UTF-8 (never in a Document built from a node) becomes U+FFFD rather than throwing.
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Result<Document> ParseJson(std::string_view text) {
  if (text.size() > kMaxInputBytes) {
    return MakeError(Errc::kInvalidInput, "The export is larger than 256 MiB.");
  }
  if (!NestingWithin(text, kMaxDepth)) {
    return MakeError(Errc::kInvalidInput, "The export nests arrays or objects deeper than its format does.");
  }
  try {
    const json j = json::parse(text.begin(), text.end());
    return DocumentAt(j);
  } catch (const Invalid& e) {
    return MakeError(Errc::kInvalidInput, e.message);
  } catch (const json::parse_error& e) {
    return MakeError(Errc::kInvalidInput,
                     "The export is not valid JSON (at byte " + std::to_string(e.byte) + ").");
  } catch (const std::exception& e) {
    return MakeError(Errc::kInvalidInput, std::string("The export could not be read: ") + e.what() + ".");
  } catch (...) {
    return MakeError(Errc::kInvalidInput, "The export could not be read.");
  }
}

}  // namespace hearth::exporter
