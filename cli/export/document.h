// hearth::exporter — the document a couple brings to a therapy session.
//
// BuildDocument() reads a chosen period and kinds from a Node into a
// Document: a cover summary, the data of three charts, and the items. The
// renderers (markdown.cc, html.cc, json.cc, pdf.cc) turn one Document into
// one file; they read nothing else, so every format shows the same content.
// The JSON form is complete: ParseJson(RenderJson(doc)) == doc
// (docs/export.md, docs/export-schema.json).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/node/node.h"

namespace hearth::exporter {

enum class Format { kMarkdown, kHtml, kPdf, kJson };
enum class Paper { kA4, kLetter };

// What was asked for (kept in the document, so a reader knows what it holds).
struct Filters {
  std::optional<std::int64_t> from_day, to_day;  // inclusive day numbers; none: from the first / to today
  std::vector<model::Kind> kinds;                // empty: entry, appreciation, commitment, checkin
  std::vector<std::string> tags;                 // an item matches when it has any of them; empty: all
  std::optional<std::string> author;             // a member's name
  bool include_private = false;                  // the exporter's own private entries
  friend bool operator==(const Filters&, const Filters&) = default;
};

// Appreciations written by `from` for `to` in the period.
struct AppreciationFlow {
  std::string from, to;
  std::uint64_t count = 0;
  friend bool operator==(const AppreciationFlow&, const AppreciationFlow&) = default;
};

// One period of a commitment inside the exported period.
enum class PeriodState : int { kNotRecorded = 0, kKept = 1, kMissed = 2 };
struct PeriodMark {
  std::string period;  // 2026-W47, 2026-11, 2026-11-22
  PeriodState state = PeriodState::kNotRecorded;
  friend bool operator==(const PeriodMark&, const PeriodMark&) = default;
};

struct CommitmentSummary {
  model::ItemId id = 0;
  std::string text;
  std::string owner;   // who keeps it: a member's name, or "both"
  std::string rhythm;  // day, week, month
  std::uint64_t kept = 0, missed = 0, not_recorded = 0;  // periods inside the exported period
  std::vector<PeriodMark> periods;                       // inside the exported period, oldest first
  node::FollowThroughStats stats;                        // as of the export's last day
  friend bool operator==(const CommitmentSummary&, const CommitmentSummary&) = default;
};

struct ScorePoint {
  std::int64_t day = 0;  // the check-in's first day
  std::string period;
  int score = 0;         // 1..10
  friend bool operator==(const ScorePoint&, const ScorePoint&) = default;
};
struct ScoreSeries {
  std::string member;
  std::vector<ScorePoint> points;  // oldest first
  friend bool operator==(const ScoreSeries&, const ScoreSeries&) = default;
};

// Appreciations per ISO week, by author: counts[m][w] is member m's count in
// week w (weeks[w] is that week's Monday, as a day number).
struct WeeklyCounts {
  std::vector<std::int64_t> weeks;
  std::vector<std::string> members;
  std::vector<std::vector<std::uint64_t>> counts;  // [member][week]
  friend bool operator==(const WeeklyCounts&, const WeeklyCounts&) = default;
};

struct Document {
  std::string space_id;
  std::string exporter;              // the member who exported it
  std::vector<std::string> members;  // the couple, the exporter first
  std::int64_t generated_ms = 0;
  std::int64_t from_day = 0, to_day = 0;  // the period shown (filled in when the filters leave it open)
  Filters filters;
  // The cover summary, over the items that passed the filters.
  std::uint64_t entries = 0, memories = 0, private_entries = 0, checkins = 0;
  std::vector<AppreciationFlow> appreciations;  // each way (from each member to the other)
  std::vector<CommitmentSummary> commitments;   // every commitment shown
  // The charts' data.
  std::vector<ScoreSeries> scores;   // connection score over time, per member
  WeeklyCounts appreciations_per_week;
  // The items, oldest first (by day, then creation).
  std::vector<node::ItemView> items;
  friend bool operator==(const Document&, const Document&) = default;
};

Result<Document> BuildDocument(node::Node& node, const Filters& filters);

// The day an item stands at in an export: the day it is about, except that a
// memory stands at the day it was shared (its own date, often years ago, is
// shown with it). Items are ordered and grouped by month on this day.
std::int64_t ExportDay(const node::ItemView& item);

// Renderers. Text formats return the file's bytes; PDF writes `out`.
std::string RenderMarkdown(const Document& doc);
std::string RenderHtml(const Document& doc);
std::string RenderJson(const Document& doc);
// kInvalidInput with a one-line reason when `text` is not an export of this
// format (every length and count bounded, every field checked).
Result<Document> ParseJson(std::string_view text);
Status RenderPdf(const Document& doc, Paper paper, const std::string& out);

// Shared wording, so every format says the same thing.
std::string KindLabel(model::Kind kind);           // "Entry", "Appreciation", ...
std::string KindPlural(model::Kind kind);          // "entries", "appreciations", ...
std::string PeriodLabel(const Document& doc);      // "1 September 2026 – 22 November 2026"
std::string LongDate(std::int64_t day);            // "22 November 2026"
std::string MonthHeading(std::int64_t day);        // "November 2026"
std::string RhythmAdjective(model::Rhythm r);      // "daily", "weekly", "monthly"
std::string RhythmAdjective(const std::string& rhythm);  // the same from "day", "week", "month"
std::string RhythmCount(const std::string& rhythm, std::uint64_t n);  // "1 week", "3 months"
std::string PercentOrDash(std::uint64_t part, std::uint64_t whole);  // "75 %" or "–"
// "a, b and c", with `word` before the last part.
std::string JoinWords(const std::vector<std::string>& parts, const std::string& word);
// "Filtered: Only entries and check-ins, tagged “home” and written by Alice."
// when the filters narrow the content, else "". `escape` renders a piece of
// user text (a tag, a name) for the format.
std::string FilterSentence(const Document& doc, const std::function<std::string(const std::string&)>& escape);

}  // namespace hearth::exporter
