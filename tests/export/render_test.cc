// The export's Markdown, HTML and JSON renderers and its charts, on the
// hand-built SampleDocument (tests/export/sample_document.h), checked with
// the real tools a reader would use: python3-jsonschema against
// docs/export-schema.json, and headless Chromium for the HTML (offline: no
// request made on behalf of the page, no console message, charts rendered).
// Each external check also runs on a deliberately broken input, to show it
// can fail.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/export/charts.h"
#include "cli/export/document.h"
#include "core/base/dates.h"
#include "tests/export/sample_document.h"
#include "tests/support/process.h"

namespace hearth::exporter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::kAccented;
using testing::kArabic;
using testing::kEmoji;
using testing::kHebrew;
using testing::kPrivateText;
using testing::SampleDocument;

// ---- helpers ----

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hearth-export-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

node::ItemView Item(std::uint64_t id, model::Kind kind, std::int64_t day, const std::string& text) {
  node::ItemView v;
  v.id = id;
  v.kind = kind;
  v.author = "Alice";
  v.author_id = 0x1111111111111111ULL;
  v.mine = true;
  v.day = day;
  v.created_ms = day * 86'400'000 + 123;
  v.text = text;
  return v;
}

// The sample, as exported without --include-private.
Document WithoutPrivate(Document d) {
  d.items.erase(std::remove_if(d.items.begin(), d.items.end(), [](const node::ItemView& v) { return v.is_private; }),
                d.items.end());
  d.private_entries = 0;
  d.filters.include_private = false;
  return d;
}

// Every field that is optional, or that only some kinds use, set.
Document EverythingSet() {
  Document d = SampleDocument(3);
  d.filters.kinds = {model::Kind::kEntry, model::Kind::kAppreciation, model::Kind::kCommitment,
                     model::Kind::kCheckin, model::Kind::kAgreements};
  d.filters.tags = {"home", "cooking", "\xD7\x91\xD7\x99\xD7\xAA"};
  d.filters.author = "Samír";
  node::ItemView c = Item(0xfedcba9876543210ULL, model::Kind::kCommitment, d.to_day, "Call your mother \"weekly\"");
  c.created_ms = 1'795'338'000'999;
  c.owner = model::Owner::kPartner;
  c.rhythm = model::Rhythm::kMonth;
  c.follow_through = {{"2026-09", true, "Twice!"}, {"2026-10", false, ""}, {"2026-11", true, "\n"}};
  c.stats = {1, 2, 3, 4, 5, 6};
  c.current_period = "2026-11";
  c.replaces = 0x0000000000000001ULL;
  c.replaced_by = 0xffffffffffffffffULL;
  d.items.push_back(c);
  node::ItemView k = Item(0x0000000000000000ULL, model::Kind::kCheckin, d.to_day, "Check-in 2026-W47");
  k.period = "2026-W47";
  k.answers = {{"Alice", 0x1111111111111111ULL, {"7", "", "x", "", ""}, false},
               {"Samír", 0x2222222222222222ULL, {"", "", "", "", ""}, true}};
  d.items.push_back(k);
  node::ItemView e = Item(0x0123456789abcdefULL, model::Kind::kEntry, d.from_day, "Text\r\nwith CRLF and \t tab");
  e.title = "A \\ title";
  e.mood = 1;
  e.tags = {"a", "b"};
  e.memory = true;
  e.is_private = true;
  e.to = "stray";  // a field outside its kind still round-trips
  d.items.push_back(e);
  CommitmentSummary cs;
  cs.id = c.id;
  cs.text = c.text;
  cs.owner = "Samír";
  cs.rhythm = "month";
  cs.kept = 2;
  cs.missed = 1;
  cs.not_recorded = 4;
  cs.periods = {{"2026-09", PeriodState::kKept}, {"2026-10", PeriodState::kMissed}, {"2026-11", PeriodState::kNotRecorded}};
  cs.stats = c.stats;
  d.commitments.push_back(cs);
  d.commitments.push_back({0x42, "daily stretch", "Alice", "day", 1, 0, 0, {{"2026-11-20", PeriodState::kKept}}, {}});
  return d;
}

// Every optional unset, every list empty (but not an empty Document).
Document EverythingUnset() {
  Document d;
  d.space_id = "00000000000000000000000000000000";
  d.exporter = "Alice";
  d.members = {"Alice"};
  d.generated_ms = 1'795'338'000'000;
  d.from_day = DaysFromCivil({2026, 11, 1});
  d.to_day = DaysFromCivil({2026, 11, 22});
  node::ItemView e = Item(5, model::Kind::kEntry, d.to_day, "");
  d.items.push_back(e);
  d.entries = 1;
  return d;
}

// ---- JSON ----

TEST(JsonRoundTrip, SampleDocument) {
  const Document d = SampleDocument(12);
  const auto back = ParseJson(RenderJson(d));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, d);
  EXPECT_EQ(RenderJson(*back), RenderJson(d));
}

TEST(JsonRoundTrip, EmptyDocument) {
  const Document d;
  const auto back = ParseJson(RenderJson(d));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, d);
}

TEST(JsonRoundTrip, EveryOptionalSet) {
  const Document d = EverythingSet();
  const auto back = ParseJson(RenderJson(d));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, d);
  // created_ms is kept to the millisecond.
  EXPECT_NE(RenderJson(d).find("\"2026-11-22T00:00:00.123Z\""), std::string::npos);
}

TEST(JsonRoundTrip, EveryOptionalUnset) {
  const Document d = EverythingUnset();
  const std::string text = RenderJson(d);
  const auto back = ParseJson(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, d);
  const json j = json::parse(text);
  EXPECT_TRUE(j["filters"]["from"].is_null());
  EXPECT_TRUE(j["filters"]["author"].is_null());
  EXPECT_TRUE(j["items"][0]["mood"].is_null());
  EXPECT_TRUE(j["items"][0]["replaces"].is_null());
}

TEST(JsonRoundTrip, KeysMatchTheItemJsonOfDocsJsonMd) {
  const json j = json::parse(RenderJson(SampleDocument(2)));
  EXPECT_EQ(j["format"], "hearth-export");
  EXPECT_EQ(j["version"], 1);
  for (const char* key : {"id", "kind", "author", "mine", "created", "date", "text", "title", "mood", "tags",
                          "private", "memory", "to", "owner", "rhythm", "follow_through", "period", "answers"}) {
    EXPECT_TRUE(j["items"][0].contains(key)) << key;
  }
}

// Runs python3-jsonschema (Debian's) on `doc` against docs/export-schema.json.
hearth::testing::ProcessResult Validate(const std::string& doc) {
  TempDir dir;
  WriteFile(dir.path() / "doc.json", doc);
  return hearth::testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import json, sys, jsonschema\n"
       "schema = json.load(open(sys.argv[1], encoding='utf-8'))\n"
       "doc = json.load(open(sys.argv[2], encoding='utf-8'))\n"
       "jsonschema.Draft202012Validator.check_schema(schema)\n"
       "jsonschema.Draft202012Validator(schema).validate(doc)\n",
       std::string(HEARTH_SOURCE_DIR) + "/docs/export-schema.json", (dir.path() / "doc.json").string()});
}

TEST(JsonSchema, ExportsValidate) {
  for (const Document& d : {SampleDocument(12), Document{}, EverythingSet(), EverythingUnset()}) {
    const auto r = Validate(RenderJson(d));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST(JsonSchema, BrokenDocumentsFail) {
  json j = json::parse(RenderJson(SampleDocument(2)));
  json diary = j;
  diary["items"][0]["kind"] = "diary";
  auto r = Validate(diary.dump());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("diary"), std::string::npos) << r.err;

  json extra = j;
  extra["items"][0]["colour"] = "red";
  EXPECT_NE(Validate(extra.dump()).exit_code, 0);

  json bad_id = j;
  bad_id["items"][0]["id"] = "12345";
  EXPECT_NE(Validate(bad_id.dump()).exit_code, 0);
}

struct Mutation {
  const char* name;
  std::function<void(json&)> change;
  const char* key;  // named in the message
};

TEST(JsonParse, RefusesMalformedInputWithoutThrowing) {
  const std::string good = RenderJson(EverythingSet());
  ASSERT_TRUE(ParseJson(good).ok());
  const std::vector<Mutation> cases = {
      {"wrong format", [](json& j) { j["format"] = "other-export"; }, "format"},
      {"wrong version", [](json& j) { j["version"] = 2; }, "version"},
      {"version as text", [](json& j) { j["version"] = "1"; }, "version"},
      {"top level array", [](json& j) { j = json::array(); }, "must be a JSON object"},
      {"unknown key", [](json& j) { j["extra"] = 1; }, "extra"},
      {"missing key", [](json& j) { j["items"][0].erase("text"); }, "items[0].text"},
      {"bad id", [](json& j) { j["items"][0]["id"] = "xyz"; }, "items[0].id"},
      {"uppercase id", [](json& j) { j["items"][0]["id"] = "0123456789ABCDEF"; }, "items[0].id"},
      {"17-digit id", [](json& j) { j["items"][0]["id"] = "0123456789abcdef0"; }, "items[0].id"},
      {"bad replaces", [](json& j) { j["items"][0]["replaces"] = 7; }, "items[0].replaces"},
      {"string for number", [](json& j) { j["summary"]["entries"] = "3"; }, "summary.entries"},
      {"negative count", [](json& j) { j["summary"]["entries"] = -1; }, "summary.entries"},
      {"fractional count", [](json& j) { j["summary"]["entries"] = 1.5; }, "summary.entries"},
      {"number for string", [](json& j) { j["items"][1]["text"] = 5; }, "items[1].text"},
      {"unknown kind", [](json& j) { j["items"][0]["kind"] = "diary"; }, "items[0].kind"},
      {"unknown owner", [](json& j) { j["items"][0]["owner"] = "nobody"; }, "items[0].owner"},
      {"unknown rhythm", [](json& j) { j["summary"]["commitments"][0]["rhythm"] = "year"; },
       "summary.commitments[0].rhythm"},
      {"unknown state", [](json& j) { j["summary"]["commitments"][0]["periods"][0]["state"] = "done"; },
       "summary.commitments[0].periods[0].state"},
      {"bad date", [](json& j) { j["from"] = "2026-02-30"; }, "from"},
      {"date with time", [](json& j) { j["items"][0]["date"] = "2026-11-22T00:00:00Z"; }, "items[0].date"},
      {"time without ms", [](json& j) { j["generated"] = "2026-11-22T12:00:00Z"; }, "generated"},
      {"bad hour", [](json& j) { j["generated"] = "2026-11-22T24:00:00.000Z"; }, "generated"},
      {"bad period", [](json& j) { j["items"][0]["period"] = "2026-W99"; }, "items[0].period"},
      {"mood out of range", [](json& j) { j["items"][0]["mood"] = 9; }, "items[0].mood"},
      {"score out of range", [](json& j) { j["charts"]["connection"][0]["points"][0]["score"] = 11; },
       "charts.connection[0].points[0].score"},
      {"stats over 32 bits", [](json& j) { j["items"][0]["stats"]["streak"] = 4294967296ULL; },
       "items[0].stats.streak"},
      {"row per member", [](json& j) { j["charts"]["appreciations_per_week"]["counts"].erase(0); },
       "charts.appreciations_per_week.counts"},
      {"count per week", [](json& j) { j["charts"]["appreciations_per_week"]["counts"][0].push_back(1); },
       "charts.appreciations_per_week.counts[0]"},
      {"sealed as text", [](json& j) { j["items"][j["items"].size() - 2]["answers"][0]["sealed"] = "yes"; },
       "sealed"},
      {"items not an array", [](json& j) { j["items"] = json::object(); }, "items"},
      {"bad space", [](json& j) { j["space"] = "xyz"; }, "space"},
      {"filters kind", [](json& j) { j["filters"]["kinds"][0] = "memory"; }, "filters.kinds[0]"},
      {"string over 1 MiB", [](json& j) { j["items"][0]["text"] = std::string(1024 * 1024 + 1, 'a'); },
       "items[0].text"},
      {"too many elements", [](json& j) { j["members"] = json(std::vector<std::string>(1'000'001, "")); },
       "members"},
  };
  for (const auto& c : cases) {
    json j = json::parse(good);
    c.change(j);
    Result<Document> r = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(r = ParseJson(j.dump())) << c.name;
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, Errc::kInvalidInput) << c.name;
    EXPECT_NE(r.error().message.find(c.key), std::string::npos) << c.name << ": " << r.error().message;
    EXPECT_EQ(std::count(r.error().message.begin(), r.error().message.end(), '\n'), 0) << c.name;
  }
}

TEST(JsonParse, RefusesWhatIsNotAnExport) {
  const std::string good = RenderJson(SampleDocument(2));
  const std::vector<std::string> inputs = {
      "",
      "not json",
      "{",
      "null",
      "42",
      "\"hearth-export\"",
      good.substr(0, good.size() / 2),   // truncated
      good.substr(0, good.size() - 3),   // truncated near the end
      good + "garbage",
      std::string(100'000, '['),         // nesting
      "{\"format\": \"hearth-export\", \"version\": 1}",
      std::string("{\"a\": \"\xff\"}"),  // invalid UTF-8
  };
  for (const auto& in : inputs) {
    Result<Document> r = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(r = ParseJson(in)) << in.substr(0, 40);
    ASSERT_FALSE(r.ok()) << in.substr(0, 40);
    EXPECT_EQ(r.error().code, Errc::kInvalidInput);
    EXPECT_FALSE(r.error().message.empty());
  }
}

// ---- Markdown ----

TEST(MarkdownRender, HoldsTheItemsHeadingsAndSummary) {
  const Document d = SampleDocument(12);
  const std::string md = RenderMarkdown(d);
  for (const char* s : {"# Our journal", "## Summary", "## Charts", "### Connection score over time",
                        "### Appreciations per week", "### Follow-through", "## Items", "### November 2026",
                        "### September 2026", "#### Entry: Sunday dinner", "#### Memory: Lisbon"}) {
    EXPECT_NE(md.find(s), std::string::npos) << s;
  }
  for (const char* s : {kAccented, kEmoji, kHebrew, kArabic, kPrivateText, "Walk together after dinner on Sundays"}) {
    EXPECT_NE(md.find(s), std::string::npos) << s;
  }
  EXPECT_NE(md.find(PeriodLabel(d)), std::string::npos);
  EXPECT_NE(md.find("Appreciations Alice \u2192 Samír: 6"), std::string::npos);
  EXPECT_NE(md.find("- Private entries: 1"), std::string::npos);
  EXPECT_NE(md.find(node::CheckinPrompts()[1]), std::string::npos);
  // The follow-through marks: 12 weeks, kept ✓ missed ✗ not recorded ·.
  EXPECT_NE(md.find("| \u2713 \u2713 \u2713 \u2717 \u00b7 \u2713 \u2713 \u2717 \u2713 \u00b7 \u2713 \u2717 |"),
            std::string::npos);
}

TEST(MarkdownRender, EscapesUserTextThatWouldChangeMeaning) {
  Document d = SampleDocument(1);
  d.items.push_back(Item(99, model::Kind::kEntry, d.to_day,
                         "# not a heading\n- not a list\n1. not a list either\n> not a quote\n"
                         "    four spaces\n*stars* and <b>tags</b> and [link](x)\n---"));
  d.commitments[0].text = "Walk | talk";
  const std::string md = RenderMarkdown(d);
  EXPECT_NE(md.find("\n\\# not a heading\\\n"), std::string::npos) << md;
  EXPECT_NE(md.find("\n\\- not a list\\\n"), std::string::npos);
  EXPECT_NE(md.find("\n1\\. not a list either\\\n"), std::string::npos);
  EXPECT_NE(md.find("\n\\> not a quote\\\n"), std::string::npos);
  EXPECT_NE(md.find("\nfour spaces\\\n"), std::string::npos);
  EXPECT_NE(md.find("\\*stars\\* and \\<b\\>tags\\</b\\> and \\[link\\](x)"), std::string::npos);
  EXPECT_NE(md.find("\n\\---\n"), std::string::npos);
  EXPECT_NE(md.find("| Walk \\| talk |"), std::string::npos);
  EXPECT_EQ(md.find("\n# not"), std::string::npos);
  EXPECT_EQ(md.find("\n- not"), std::string::npos);
}

TEST(MarkdownRender, LeavesOutPrivateTextWhenNotIncluded) {
  const std::string md = RenderMarkdown(WithoutPrivate(SampleDocument(12)));
  EXPECT_EQ(md.find(kPrivateText), std::string::npos);
  EXPECT_EQ(md.find("Private entries"), std::string::npos);
  EXPECT_NE(md.find(kAccented), std::string::npos);
}

TEST(MarkdownRender, EmptyDocumentSaysSo) {
  const std::string md = RenderMarkdown(Document{});
  EXPECT_NE(md.find("No check-ins in this period."), std::string::npos);
  EXPECT_NE(md.find("No appreciations in this period."), std::string::npos);
  EXPECT_NE(md.find("No commitments in this period."), std::string::npos);
}

TEST(MarkdownRender, StatesNarrowingFilters) {
  Document d = SampleDocument(2);
  EXPECT_EQ(RenderMarkdown(d).find("Filtered:"), std::string::npos);
  d.filters.kinds = {model::Kind::kEntry, model::Kind::kCheckin};
  d.filters.tags = {"home"};
  d.filters.author = "Alice";
  EXPECT_NE(RenderMarkdown(d).find("Filtered: Only entries and check-ins, tagged \u201chome\u201d and written by "
                                   "Alice."),
            std::string::npos);
}

// ---- HTML ----

TEST(HtmlRender, EscapesUserText) {
  Document d = SampleDocument(2);
  node::ItemView v = Item(77, model::Kind::kEntry, d.to_day, "<script>alert(1)</script> & \"quotes\" 'single'");
  v.title = "<b>bold?</b>";
  d.items.push_back(v);
  d.members[1] = "Sam<i>";
  const std::string html = RenderHtml(d);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bold?&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(Lower(html).find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("Sam<i>"), std::string::npos);
  EXPECT_NE(html.find("Sam&lt;i&gt;"), std::string::npos);
}

TEST(HtmlRender, IsOneSelfContainedFile) {
  const std::string html = RenderHtml(SampleDocument(12));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg class=\"chart\""), 3u);
  EXPECT_EQ(Count(html, "<title>"), 4u);  // the page's and one per chart
  EXPECT_GE(Count(html, "role=\"img\" aria-label=\""), 3u);
  EXPECT_GE(Count(html, "dir=\"auto\""), 40u);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("@page"), std::string::npos);
  // Nothing that could make a request: no address, no source, no url(), no
  // import, no link. The only address allowed would be the SVG namespace,
  // which inline SVG does not need, so it is removed before looking.
  std::string lower = Lower(html);
  const std::string xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (std::size_t at; (at = lower.find(xmlns)) != std::string::npos;) lower.erase(at, xmlns.size());
  for (const char* s : {"http://", "https://", "//", "src=", "url(", "@import", "href", "<link", "<script",
                        "<img", "<iframe", "<object", "<embed", "@font-face"}) {
    EXPECT_EQ(lower.find(s), std::string::npos) << s;
  }
}

TEST(HtmlRender, KeepsEveryScriptVerbatim) {
  const std::string html = RenderHtml(SampleDocument(12));
  for (const char* s : {kAccented, kEmoji, kHebrew, kArabic, kPrivateText, "Samír"}) {
    EXPECT_NE(html.find(s), std::string::npos) << s;
  }
  // Each item's text sits in an element with dir="auto".
  EXPECT_NE(html.find(std::string("<p dir=\"auto\">") + kHebrew + "</p>"), std::string::npos);
  EXPECT_NE(html.find(std::string("<p dir=\"auto\">") + kArabic + "</p>"), std::string::npos);
}

TEST(HtmlRender, ShowsSummaryCheckinsAndFollowThrough) {
  Document d = EverythingSet();
  node::ItemView& e = d.items.back();
  e.text = "First line\nsecond line\n\nNew paragraph";
  const std::string html = RenderHtml(d);
  EXPECT_NE(html.find("<p dir=\"auto\">First line<br>second line</p><p dir=\"auto\">New paragraph</p>"),
            std::string::npos);
  EXPECT_NE(html.find("<bdi>Samír</bdi>\u2019s answers are still sealed."), std::string::npos);
  EXPECT_NE(html.find(node::CheckinPrompts()[4]), std::string::npos);
  EXPECT_NE(html.find("\u2717 missed"), std::string::npos);
  EXPECT_NE(html.find("Twice!"), std::string::npos);
  EXPECT_NE(html.find("Appreciations <bdi>Alice</bdi> \u2192 <bdi>Samír</bdi>"), std::string::npos);
  EXPECT_NE(html.find("Private entries"), std::string::npos);
  EXPECT_NE(html.find("Filtered: "), std::string::npos);
  EXPECT_NE(html.find(">67 %<"), std::string::npos);  // stats {1, 2, 3, 4, 5}: kept 2 of the last 4 recorded 3
  EXPECT_EQ(RenderHtml(WithoutPrivate(SampleDocument(12))).find(kPrivateText), std::string::npos);
}

TEST(HtmlRender, EmptyDocumentDrawsSentences) {
  const std::string html = RenderHtml(Document{});
  EXPECT_EQ(Count(html, "<svg class=\"chart\""), 3u);
  EXPECT_NE(html.find("No check-ins in this period."), std::string::npos);
  EXPECT_NE(html.find("No appreciations in this period."), std::string::npos);
  EXPECT_NE(html.find("No commitments in this period."), std::string::npos);
}

// ---- HTML in headless Chromium ----

constexpr const char* kChromium = "/usr/bin/chromium";

struct ChromiumRun {
  int exit_code = -1;
  std::string dom;
  std::vector<std::string> console;        // console messages and page errors (stderr lines)
  std::vector<std::string> page_requests;  // network activity on behalf of the page
  std::string problem;                     // set when the run itself could not be checked
};

// Loads `html` with `file://` in a fresh headless Chromium (no network: every
// host name resolves to nothing) and reports what the page did.
//
// Console: with --enable-logging=stderr, every console message and uncaught
// error of the page is logged as a line containing "CONSOLE" (for example
// `[...:INFO:CONSOLE:4] "boom", source: file:///.../page.html (4)`).
//
// Network: the net log (--log-net-log) holds the browser's own background
// requests too (the component updater at update.googleapis.com, the account
// check at accounts.google.com), whatever the flags. Those carry no initiator
// and a network isolation key that is not the page's. Every request made on
// behalf of a page loaded from a file carries the page's origin instead: its
// network_isolation_key / network_anonymization_key / site_for_cookies
// read `file://`, and its initiator is the page's origin (`null` for a
// file, or `file://`), not "not an origin". The file itself is read without
// the network stack and never appears. So: an event whose parameters mention
// `file://`, or a URL_REQUEST_START_JOB whose initiator is an origin, is the
// page's network activity, and there must be none.
ChromiumRun RunChromium(const fs::path& dir, const fs::path& html, const fs::path& screenshot = {}) {
  ChromiumRun run;
  const fs::path profile = dir / ("profile-" + html.stem().string());
  const fs::path netlog = dir / ("net-" + html.stem().string() + ".json");
  std::vector<std::string> argv = {"/usr/bin/timeout",
                                   "120",
                                   kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-extensions",
                                   "--host-resolver-rules=MAP * ~NOTFOUND",
                                   "--user-data-dir=" + profile.string(),
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--log-net-log=" + netlog.string(),
                                   "--dump-dom"};
  if (!screenshot.empty()) {
    argv.push_back("--screenshot=" + screenshot.string());
    argv.push_back("--window-size=1000,2400");
    argv.push_back("--hide-scrollbars");
  }
  argv.push_back("file://" + html.string());
  const hearth::testing::ProcessResult r = hearth::testing::RunProcess(argv, {}, "", true);
  run.exit_code = r.exit_code;
  run.dom = r.out;
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);) {
    if (line.find("CONSOLE") != std::string::npos) run.console.push_back(line);
  }
  json log;
  try {
    log = json::parse(ReadFile(netlog));
  } catch (const std::exception& e) {
    run.problem = std::string("the net log could not be read: ") + e.what();
    return run;
  }
  if (!log.contains("constants") || !log.contains("events") || !log["events"].is_array()) {
    run.problem = "the net log has no constants or events";
    return run;
  }
  std::map<int, std::string> event_names;
  for (const auto& [name, number] : log["constants"]["logEventTypes"].items()) event_names[number.get<int>()] = name;
  if (event_names.empty()) run.problem = "the net log names no event types";
  const std::string self = "file://" + html.string();
  for (const auto& e : log["events"]) {
    if (!e.contains("params") || !e["params"].is_object()) continue;
    const std::string type = e.contains("type") ? event_names[e["type"].get<int>()] : "";
    std::string url = e["params"].value("url", "");
    if (url == self) continue;
    bool page = false;
    for (const auto& [key, value] : e["params"].items()) {
      if (value.is_string() && value.get<std::string>().find("file://") != std::string::npos) page = true;
    }
    if (type == "URL_REQUEST_START_JOB" && e["params"].contains("initiator") &&
        e["params"]["initiator"] != "not an origin") {
      page = true;
    }
    if (page) run.page_requests.push_back(type + " " + (url.empty() ? e["params"].dump() : url));
  }
  return run;
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.substr(0, 300) + "\n";
  return out;
}

class HtmlChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kChromium)) GTEST_SKIP() << "headless Chromium (" << kChromium << ") is not installed";
  }
  TempDir dir_;
};

TEST_F(HtmlChromium, LoadsOfflineQuietlyWithItsCharts) {
  const fs::path html = dir_.path() / "export.html";
  const fs::path png = dir_.path() / "export.png";
  WriteFile(html, RenderHtml(SampleDocument(12)));
  const ChromiumRun run = RunChromium(dir_.path(), html, png);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  EXPECT_TRUE(run.page_requests.empty()) << Lines(run.page_requests);
  EXPECT_TRUE(run.console.empty()) << Lines(run.console);
  EXPECT_EQ(Count(run.dom, "<svg class=\"chart\""), 3u) << run.dom.substr(0, 400);
  EXPECT_NE(run.dom.find(kHebrew), std::string::npos);
  EXPECT_GE(Count(run.dom, "<polyline"), 2u);
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 10'000u);
  // For a person to look at: the sample in every text format.
  if (const char* out = std::getenv("HEARTH_EXPORT_SAMPLES_DIR"); out && *out) {
    const Document d = SampleDocument(12);
    WriteFile(fs::path(out) / "sample.html", RenderHtml(d));
    WriteFile(fs::path(out) / "sample.md", RenderMarkdown(d));
    WriteFile(fs::path(out) / "sample.json", RenderJson(d));
    fs::copy_file(png, fs::path(out) / "sample.png", fs::copy_options::overwrite_existing);
    // A year, with a long commitment text and a daily commitment: the charts at their densest.
    Document year = SampleDocument(52);
    year.commitments.push_back(EverythingSet().commitments[0]);
    CommitmentSummary daily = year.commitments[0];
    daily.text = std::string("Say one kind thing every day, even on the hard days when we are tired and ") + kHebrew;
    daily.rhythm = "day";
    daily.periods.clear();
    for (std::int64_t day = year.to_day - 89; day <= year.to_day; ++day) {
      daily.periods.push_back({FormatDate(day), day % 5 == 0 ? PeriodState::kMissed
                                                : day % 7 == 0 ? PeriodState::kNotRecorded
                                                               : PeriodState::kKept});
    }
    year.commitments.push_back(daily);
    WriteFile(fs::path(out) / "year.html", RenderHtml(year));
  }
  // The screenshot in docs/ is refreshed on request only (it is a source file).
  if (const char* update = std::getenv("HEARTH_UPDATE_SCREENSHOTS"); update && std::string(update) == "1") {
    fs::create_directories(fs::path(HEARTH_SOURCE_DIR) / "docs/images");
    fs::copy_file(png, fs::path(HEARTH_SOURCE_DIR) / "docs/images/export-html.png",
                  fs::copy_options::overwrite_existing);
  }
}

// The checker itself: a page that fetches an image must be caught.
TEST_F(HtmlChromium, CatchesARequestMadeByThePage) {
  const fs::path html = dir_.path() / "fetches.html";
  WriteFile(html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>x</title></head><body>"
            "<svg class=\"chart\"><title>a</title></svg><img src=\"http://127.0.0.1:9/x.png\" alt=\"\"></body></html>");
  const ChromiumRun run = RunChromium(dir_.path(), html);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  EXPECT_TRUE(run.console.empty()) << Lines(run.console);
  ASSERT_FALSE(run.page_requests.empty());
  EXPECT_NE(Lines(run.page_requests).find("URL_REQUEST_START_JOB http://127.0.0.1:9/x.png"), std::string::npos)
      << Lines(run.page_requests);
}

// The checker itself: a console message must be caught.
TEST_F(HtmlChromium, CatchesAConsoleError) {
  const fs::path html = dir_.path() / "logs.html";
  WriteFile(html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>x</title></head><body>"
            "<script>console.error('boom from the page');</script></body></html>");
  const ChromiumRun run = RunChromium(dir_.path(), html);
  ASSERT_TRUE(run.problem.empty()) << run.problem;
  EXPECT_TRUE(run.page_requests.empty()) << Lines(run.page_requests);
  ASSERT_EQ(run.console.size(), 1u) << Lines(run.console);
  EXPECT_NE(run.console[0].find("boom from the page"), std::string::npos);
}

// ---- charts ----

// Records what a chart draws.
class RecordingCanvas : public Canvas {
 public:
  struct Op {
    std::string what;
    double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    Color color;
    std::string text;
  };
  void Line(double x1, double y1, double x2, double y2, Color c, double) override {
    ops.push_back({"line", x1, y1, x2, y2, c, ""});
  }
  void Polyline(const std::vector<std::pair<double, double>>& points, Color c, double) override {
    for (const auto& [x, y] : points) ops.push_back({"point", x, y, x, y, c, ""});
    ++polylines;
    polyline_colors.push_back(c);
    polyline_points.push_back(points.size());
  }
  void Rect(double x, double y, double w, double h, Color fill) override {
    ops.push_back({"rect", x, y, x + w, y + h, fill, ""});
  }
  void Circle(double cx, double cy, double r, Color fill) override {
    ops.push_back({"circle", cx - r, cy - r, cx + r, cy + r, fill, ""});
  }
  void Text(double x, double y, const std::string& utf8, double size, Color c, Align) override {
    ops.push_back({"text", x, y - size, x, y, c, utf8});
  }
  std::vector<Op> ops;
  int polylines = 0;
  std::vector<Color> polyline_colors;
  std::vector<std::size_t> polyline_points;
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const auto& op : ops) {
      if (op.what == "text") out.push_back(op.text);
    }
    return out;
  }
};

using SizeFn = ChartSize (*)(const Document&, double);
using DrawFn = void (*)(Canvas&, const Document&, double);
struct ChartFns {
  const char* name;
  SizeFn size;
  DrawFn draw;
};
const ChartFns kCharts[] = {{"connection", ConnectionChartSize, DrawConnectionChart},
                            {"appreciations", AppreciationChartSize, DrawAppreciationChart},
                            {"follow-through", FollowThroughChartSize, DrawFollowThroughChart}};

bool SameColor(Color a, Color b) {
  return std::fabs(a.r - b.r) < 1e-9 && std::fabs(a.g - b.g) < 1e-9 && std::fabs(a.b - b.b) < 1e-9;
}

TEST(ChartsLayout, StayInsideTheirBox) {
  Document long_text = SampleDocument(52);
  long_text.commitments[0].text = std::string(400, 'w');
  for (const Document& d : {SampleDocument(1), SampleDocument(12), long_text, EverythingSet(), Document{}}) {
    for (double width : {300.0, 495.0, 560.0}) {
      for (const auto& chart : kCharts) {
        RecordingCanvas c;
        const ChartSize size = chart.size(d, width);
        chart.draw(c, d, width);
        EXPECT_EQ(size.width, width);
        EXPECT_GT(size.height, 0);
        ASSERT_FALSE(c.ops.empty()) << chart.name;
        for (const auto& op : c.ops) {
          EXPECT_GE(std::min(op.x1, op.x2), -0.01) << chart.name << " " << op.what << " " << op.text;
          EXPECT_LE(std::max(op.x1, op.x2), width + 0.01) << chart.name << " " << op.what << " " << op.text;
          EXPECT_GE(std::min(op.y1, op.y2), -0.01) << chart.name << " " << op.what << " " << op.text;
          EXPECT_LE(std::max(op.y1, op.y2), size.height + 0.01) << chart.name << " " << op.what;
        }
      }
    }
  }
}

TEST(ChartsLayout, EmptyChartsSaySo) {
  const Document d;
  const char* sentences[] = {"No check-ins in this period.", "No appreciations in this period.",
                             "No commitments in this period."};
  for (std::size_t i = 0; i < std::size(kCharts); ++i) {
    RecordingCanvas c;
    kCharts[i].draw(c, d, 495);
    ASSERT_EQ(c.ops.size(), 1u) << kCharts[i].name;
    EXPECT_EQ(c.ops[0].text, sentences[i]);
  }
}

TEST(ChartsLayout, ConnectionDrawsOneSeriesPerMemberInItsColour) {
  const Document d = SampleDocument(12);
  RecordingCanvas c;
  DrawConnectionChart(c, d, 495);
  ASSERT_EQ(c.polylines, 2);
  EXPECT_TRUE(SameColor(c.polyline_colors[0], MemberColor(0)));
  EXPECT_TRUE(SameColor(c.polyline_colors[1], MemberColor(1)));
  EXPECT_EQ(c.polyline_points[0], 12u);
  const auto texts = c.Texts();
  for (const char* s : {"Alice", "Samír", "1", "5", "10"}) {
    EXPECT_NE(std::find(texts.begin(), texts.end(), s), texts.end()) << s;
  }
  // A higher score is drawn higher (smaller y): Alice's scores are 5,6,7,...
  std::vector<double> ys;
  for (const auto& op : c.ops) {
    if (op.what == "point" && SameColor(op.color, MemberColor(0))) ys.push_back(op.y1);
  }
  ASSERT_GE(ys.size(), 2u);
  EXPECT_LT(ys[1], ys[0]);
}

TEST(ChartsLayout, AppreciationBarsFollowTheCounts) {
  const Document d = SampleDocument(12);
  RecordingCanvas c;
  DrawAppreciationChart(c, d, 495);
  std::size_t bars[2] = {0, 0};
  for (const auto& op : c.ops) {
    if (op.what != "rect" || op.y1 < 20) continue;  // not the legend's square marker
    for (std::size_t m = 0; m < 2; ++m) bars[m] += SameColor(op.color, MemberColor(m));
  }
  EXPECT_EQ(bars[0], 6u);  // one appreciation every other week each
  EXPECT_EQ(bars[1], 6u);
}

TEST(ChartsLayout, FollowThroughTruncatesByCodePoints) {
  Document d = SampleDocument(12);
  std::string hebrew;
  for (int i = 0; i < 60; ++i) hebrew += kHebrew;
  d.commitments[0].text = hebrew;
  RecordingCanvas c;
  DrawFollowThroughChart(c, d, 495);
  const auto texts = c.Texts();
  auto it = std::find_if(texts.begin(), texts.end(), [](const std::string& t) {
    return t.size() >= 3 && t.compare(t.size() - 3, 3, "\u2026") == 0;
  });
  ASSERT_NE(it, texts.end());
  // Valid UTF-8 (cut between code points) and a prefix of the text.
  const std::string kept = it->substr(0, it->size() - 3);
  EXPECT_EQ(hebrew.compare(0, kept.size(), kept), 0);
  EXPECT_NE(static_cast<unsigned char>(hebrew[kept.size()]) & 0xc0, 0x80);
  EXPECT_NE(std::find(texts.begin(), texts.end(), PercentOrDash(d.commitments[0].kept,
                                                                 d.commitments[0].kept + d.commitments[0].missed)),
            texts.end());
  // Short text is not cut.
  RecordingCanvas c2;
  DrawFollowThroughChart(c2, SampleDocument(12), 495);
  const auto texts2 = c2.Texts();
  EXPECT_NE(std::find(texts2.begin(), texts2.end(), "Walk together after dinner on Sundays"), texts2.end());
}

// Relative luminance (WCAG) and a deuteranopia simulation (Machado et al.
// 2009, severity 1) of a colour.
double Linear(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }
double Luminance(Color c) { return 0.2126 * Linear(c.r) + 0.7152 * Linear(c.g) + 0.0722 * Linear(c.b); }
Color Deuteranopia(Color c) {
  const double r = Linear(c.r), g = Linear(c.g), b = Linear(c.b);
  return {0.367322 * r + 0.860646 * g - 0.227968 * b, 0.280085 * r + 0.672501 * g + 0.047413 * b,
          -0.011820 * r + 0.042940 * g + 0.968881 * b};
}
double Distance(Color a, Color b) {
  return std::sqrt((a.r - b.r) * (a.r - b.r) + (a.g - b.g) * (a.g - b.g) + (a.b - b.b) * (a.b - b.b));
}

TEST(ChartsColors, StayDistinctInGreyscaleAndForRedGreenBlindness) {
  EXPECT_GT(std::fabs(Luminance(MemberColor(0)) - Luminance(MemberColor(1))), 0.12);
  EXPECT_GT(Distance(Deuteranopia(MemberColor(0)), Deuteranopia(MemberColor(1))), 0.3);
  // The follow-through marks: kept and missed fills.
  RecordingCanvas c;
  DrawFollowThroughChart(c, SampleDocument(12), 495);
  std::vector<Color> fills;
  for (const auto& op : c.ops) {
    if (op.what == "rect" &&
        std::none_of(fills.begin(), fills.end(), [&](Color f) { return SameColor(f, op.color); })) {
      fills.push_back(op.color);
    }
  }
  ASSERT_EQ(fills.size(), 2u);  // kept and missed; not recorded is an outline
  EXPECT_GT(std::fabs(Luminance(fills[0]) - Luminance(fills[1])), 0.25);
  EXPECT_GT(Distance(Deuteranopia(fills[0]), Deuteranopia(fills[1])), 0.3);
}

}  // namespace
}  // namespace hearth::exporter
