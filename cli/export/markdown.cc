// The export as GitHub-flavoured Markdown (docs/export.md).
//
// Same content as the HTML and PDF: the cover summary, the three charts'
// data as compact tables (Markdown has no vector graphics), then the items
// grouped by month. User text is escaped so it reads as written: characters
// that would start a heading, quote, list, code fence or table at a line's
// start are backslash-escaped, as are inline emphasis, links, code spans and
// HTML; `|` is escaped inside table cells. Line breaks inside a paragraph are
// kept as hard breaks (a trailing backslash).
#include <algorithm>
#include <map>
#include <sstream>

#include "cli/export/document.h"
#include "core/base/dates.h"

namespace hearth::exporter {
namespace {


bool IsAsciiAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Escapes characters with inline meaning: \ ` * _ [ ] < > and an & that
// would start an entity (&amp; &#38;). `in_table` also escapes |.
std::string EscapeInline(std::string_view s, bool in_table) {
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '<':
      case '>':
      case '~':
        out += '\\';
        out += c;
        break;
      case '&':
        if (i + 1 < s.size() && (s[i + 1] == '#' || IsAsciiAlnum(s[i + 1]))) out += '\\';
        out += c;
        break;
      case '|':
        if (in_table) out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

// One line of user text: leading blanks dropped (four would start a code
// block), a block marker at the start escaped, the rest escaped inline.
std::string EscapeLine(std::string_view line) {
  std::size_t start = 0;
  while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
  line.remove_prefix(start);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty()) return "";
  std::string prefix;
  // An ordered-list marker: digits then "." or ")".
  std::size_t digits = 0;
  while (digits < line.size() && digits < 10 && line[digits] >= '0' && line[digits] <= '9') ++digits;
  if (digits > 0 && digits < line.size() && (line[digits] == '.' || line[digits] == ')')) {
    return std::string(line.substr(0, digits)) + "\\" + line[digits] + EscapeInline(line.substr(digits + 1), false);
  }
  switch (line[0]) {
    case '#':
    case '>':
    case '-':
    case '+':
    case '=':
    case '|':
    case ':':
      prefix = "\\";
      prefix += line[0];
      line.remove_prefix(1);
      break;
    default:
      break;
  }
  return prefix + EscapeInline(line, false);
}

// Paragraphs (split on blank lines), each line escaped, line breaks kept.
std::string Paragraphs(const std::string& text) {
  std::vector<std::vector<std::string>> paragraphs(1);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string escaped = EscapeLine(line);
    if (escaped.empty()) {
      if (!paragraphs.back().empty()) paragraphs.emplace_back();
    } else {
      paragraphs.back().push_back(std::move(escaped));
    }
  }
  if (paragraphs.back().empty()) paragraphs.pop_back();
  std::string out;
  for (const auto& p : paragraphs) {
    for (std::size_t i = 0; i < p.size(); ++i) out += p[i] + (i + 1 < p.size() ? "\\\n" : "\n");
    out += "\n";
  }
  return out;
}

// A table cell: one line, escaped.
std::string Cell(const std::string& s) {
  std::string flat = s;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  std::replace(flat.begin(), flat.end(), '\r', ' ');
  std::replace(flat.begin(), flat.end(), '\t', ' ');
  return EscapeInline(flat, true);
}

// A name or other short user text outside tables.
std::string Inline(const std::string& s) {
  std::string flat = s;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  return EscapeInline(flat, false);
}

// Inline text in a heading: a "#" could end it (a closing sequence).
std::string HeadingText(const std::string& s) {
  std::string out;
  for (char c : Inline(s)) {
    if (c == '#') out += '\\';
    out += c;
  }
  return out;
}


// "Filtered: Only entries and check-ins, tagged “home”." when the filters narrow the content.
std::string FilterLine(const Document& doc) { return FilterSentence(doc, [](const std::string& t) { return Inline(t); }); }

std::string OwnerLabel(const Document& doc, const node::ItemView& v) {
  switch (v.owner) {
    case model::Owner::kBoth:
      return "both of you";
    case model::Owner::kPartner:
      for (const auto& m : doc.members) {
        if (m != v.author) return m;
      }
      return "the partner";
    case model::Owner::kAuthor:
      break;
  }
  return v.author;
}

std::string Marks(const CommitmentSummary& c) {
  std::string out;
  for (const auto& p : c.periods) {
    if (!out.empty()) out += ' ';
    out += p.state == PeriodState::kKept ? "\u2713" : p.state == PeriodState::kMissed ? "\u2717" : "\u00b7";
  }
  return out;
}

void Summary(std::ostringstream& o, const Document& doc) {
  o << "## Summary\n\n";
  for (const auto& a : doc.appreciations) {
    o << "- Appreciations " << Inline(a.from) << " \u2192 " << Inline(a.to) << ": " << a.count << "\n";
  }
  o << "- Entries: " << doc.entries << "\n";
  o << "- Memories: " << doc.memories << "\n";
  if (doc.private_entries > 0) o << "- Private entries: " << doc.private_entries << "\n";
  o << "- Check-ins: " << doc.checkins << "\n\n";
  if (!doc.commitments.empty()) {
    o << "| Commitment | Kept by | Rhythm | Kept | Missed | Not recorded | Streak | Kept rate, last 4 | Kept rate, last 12 |\n";
    o << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (const auto& c : doc.commitments) {
      o << "| " << Cell(c.text) << " | " << Cell(c.owner) << " | " << RhythmAdjective(c.rhythm) << " | " << c.kept
        << " | " << c.missed << " | " << c.not_recorded << " | " << RhythmCount(c.rhythm, c.stats.streak) << " | "
        << PercentOrDash(c.stats.kept4, c.stats.recorded4) << " | "
        << PercentOrDash(c.stats.kept12, c.stats.recorded12) << " |\n";
    }
    o << "\n";
  }
  const std::string filters = FilterLine(doc);
  if (!filters.empty()) o << filters << "\n\n";
}

void Charts(std::ostringstream& o, const Document& doc) {
  o << "## Charts\n\n";
  o << "### Connection score over time\n\n";
  // One row per check-in period, one column per member.
  struct Row {
    std::int64_t day;
    std::map<std::size_t, int> scores;
  };
  std::map<std::string, Row> rows;
  for (std::size_t s = 0; s < doc.scores.size(); ++s) {
    for (const auto& p : doc.scores[s].points) {
      auto [it, fresh] = rows.try_emplace(p.period, Row{p.day, {}});
      it->second.day = std::min(it->second.day, p.day);
      it->second.scores[s] = p.score;
    }
  }
  if (rows.empty()) {
    o << "No check-ins in this period.\n\n";
  } else {
    std::vector<std::pair<std::string, Row>> ordered(rows.begin(), rows.end());
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.second.day < b.second.day; });
    o << "| Week | Date |";
    for (const auto& s : doc.scores) o << " " << Cell(s.member) << " |";
    o << "\n| --- | --- |";
    for (std::size_t s = 0; s < doc.scores.size(); ++s) o << " ---: |";
    o << "\n";
    for (const auto& [period, row] : ordered) {
      o << "| " << Cell(period) << " | " << LongDate(row.day) << " |";
      for (std::size_t s = 0; s < doc.scores.size(); ++s) {
        auto it = row.scores.find(s);
        o << " " << (it == row.scores.end() ? std::string("\u2013") : std::to_string(it->second)) << " |";
      }
      o << "\n";
    }
    o << "\nScores run from 1 (not connected) to 10 (very connected).\n\n";
  }

  o << "### Appreciations per week\n\n";
  const WeeklyCounts& w = doc.appreciations_per_week;
  std::uint64_t total = 0;
  for (const auto& row : w.counts) {
    for (auto n : row) total += n;
  }
  if (w.weeks.empty() || total == 0) {
    o << "No appreciations in this period.\n\n";
  } else {
    o << "| Week of |";
    for (const auto& m : w.members) o << " " << Cell(m) << " |";
    o << "\n| --- |";
    for (std::size_t m = 0; m < w.members.size(); ++m) o << " ---: |";
    o << "\n";
    for (std::size_t k = 0; k < w.weeks.size(); ++k) {
      o << "| " << LongDate(w.weeks[k]) << " |";
      for (std::size_t m = 0; m < w.members.size(); ++m) {
        o << " " << (m < w.counts.size() && k < w.counts[m].size() ? w.counts[m][k] : 0) << " |";
      }
      o << "\n";
    }
    o << "\n";
  }

  o << "### Follow-through\n\n";
  if (doc.commitments.empty()) {
    o << "No commitments in this period.\n\n";
  } else {
    o << "| Commitment | Periods | Follow-through | Kept rate |\n| --- | --- | --- | ---: |\n";
    for (const auto& c : doc.commitments) {
      std::string range = c.periods.empty() ? "\u2013"
                          : c.periods.size() == 1
                              ? c.periods.front().period
                              : c.periods.front().period + " \u2013 " + c.periods.back().period;
      o << "| " << Cell(c.text) << " | " << Cell(range) << " | " << (c.periods.empty() ? "\u2013" : Marks(c))
        << " | " << PercentOrDash(c.kept, c.kept + c.missed) << " |\n";
    }
    o << "\n\u2713 kept, \u2717 missed, \u00b7 not recorded (oldest period first).\n\n";
  }
}

void Item(std::ostringstream& o, const Document& doc, const node::ItemView& v) {
  const auto& prompts = node::CheckinPrompts();
  std::string heading = KindLabel(v.kind);
  if (v.kind == model::Kind::kEntry && v.memory) heading = "Memory";
  if (v.kind == model::Kind::kEntry && !v.title.empty()) heading += ": " + HeadingText(v.title);
  if (v.kind == model::Kind::kCheckin) heading = HeadingText(v.text.empty() ? "Check-in " + v.period : v.text);
  o << "#### " << heading << "\n\n";
  std::string meta = "*" + LongDate(v.day) + "* \u00b7 ";
  if (v.kind == model::Kind::kCheckin) {
    std::vector<std::string> names;
    for (const auto& a : v.answers) names.push_back(Inline(a.member));
    meta += names.empty() ? "no answers yet" : "answered by " + JoinWords(names, "and");
  } else {
    meta += "by " + Inline(v.author);
  }
  if (v.kind == model::Kind::kAppreciation) meta += " to " + Inline(v.to);
  if (v.is_private) meta += " \u00b7 **private** (only " + Inline(v.author) + " can read it in Hearth)";
  if (v.kind == model::Kind::kEntry && v.memory) meta += " \u00b7 a memory";
  o << meta << "\n\n";

  if (v.kind != model::Kind::kCheckin) o << Paragraphs(v.text);
  if (v.kind == model::Kind::kEntry) {
    std::vector<std::string> extra;
    if (v.mood) extra.push_back("Mood: " + std::to_string(*v.mood) + "/5");
    if (!v.tags.empty()) {
      std::string tags = "Tags: ";
      for (std::size_t i = 0; i < v.tags.size(); ++i) tags += (i ? ", " : "") + Inline(v.tags[i]);
      extra.push_back(tags);
    }
    if (!extra.empty()) {
      for (std::size_t i = 0; i < extra.size(); ++i) o << extra[i] << (i + 1 < extra.size() ? " \u00b7 " : "");
      o << "\n\n";
    }
  }
  if (v.kind == model::Kind::kCommitment) {
    o << "Kept by " << Inline(OwnerLabel(doc, v)) << ", " << RhythmAdjective(v.rhythm) << ".";
    if (v.replaces) o << " It renegotiates an earlier commitment.";
    if (v.replaced_by) o << " It was later renegotiated.";
    o << "\n\n";
    if (!v.follow_through.empty()) {
      for (const auto& f : v.follow_through) {
        o << "- " << Inline(f.period) << ": " << (f.kept ? "kept" : "missed");
        if (!f.note.empty()) o << " \u2014 " << Inline(f.note);
        o << "\n";
      }
      o << "\n";
    }
  }
  if (v.kind == model::Kind::kCheckin) {
    for (const auto& a : v.answers) {
      o << "**" << Inline(a.member) << "**\n\n";
      if (a.sealed) {
        o << "*" << Inline(a.member) << "'s answers are still sealed.*\n\n";
        continue;
      }
      for (std::size_t i = 0; i < prompts.size() && i < a.answers.size(); ++i) {
        const std::string& answer = a.answers[i];
        o << "> *" << prompts[i] << "*\\\n";
        if (answer.empty()) {
          o << "> (skipped)\n\n";
          continue;
        }
        // The answer as a quote; each line escaped, breaks kept.
        std::istringstream in(answer);
        std::string line;
        std::vector<std::string> lines;
        while (std::getline(in, line)) {
          const std::string e = EscapeLine(line);
          if (!e.empty()) lines.push_back(e);
        }
        if (i == 0 && lines.size() == 1) lines[0] += " / 10";  // the connection score
        for (std::size_t l = 0; l < lines.size(); ++l) {
          o << "> " << lines[l] << (l + 1 < lines.size() ? "\\\n" : "\n");
        }
        o << "\n";
      }
    }
  }
}

}  // namespace

std::string RenderMarkdown(const Document& doc) {
  std::ostringstream o;
  o << "# Our journal\n\n";
  std::vector<std::string> members;
  for (const auto& m : doc.members) members.push_back(Inline(m));
  if (!members.empty()) o << "**" << JoinWords(members, "and") << "**\\\n";
  o << PeriodLabel(doc) << "\\\n";
  o << "Prepared by " << Inline(doc.exporter) << " on " << LongDate(DayOfMs(doc.generated_ms)) << " with Hearth.\n\n";
  Summary(o, doc);
  Charts(o, doc);
  o << "## Items\n\n";
  if (doc.items.empty()) o << "Nothing was written in this period.\n\n";
  std::string month;
  for (const auto& v : doc.items) {
    const std::string m = MonthHeading(ExportDay(v));
    if (m != month) {
      o << "### " << m << "\n\n";
      month = m;
    }
    Item(o, doc, v);
  }
  std::string out = o.str();
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

}  // namespace hearth::exporter
