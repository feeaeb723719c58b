// The export as one self-contained HTML5 file (docs/export.md).
//
// Nothing is fetched: no fonts, scripts, images or stylesheets by address,
// and no JavaScript at all; a Content-Security-Policy of default-src 'none'
// (inline styles allowed) makes any such request fail even if one slipped
// in. The charts are inline <svg> drawn by an SvgCanvas through charts.h, so
// they match the PDF's. Every piece of user text is escaped (& < > " ') and
// sits in an element with dir="auto", so Hebrew and Arabic paragraphs run
// right to left; names are isolated with <bdi>. The style sheet is tuned for
// screen and for print (@media print: no split items or charts).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/export/charts.h"
#include "cli/export/document.h"
#include "core/base/dates.h"

namespace hearth::exporter {
namespace {

constexpr double kChartWidth = 495;  // points; the SVG scales to the column

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";  // U+FFFD: NUL is not allowed in HTML text
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A name, isolated so a right-to-left name does not reorder the sentence around it.
std::string Name(const std::string& s) { return "<bdi>" + Esc(s) + "</bdi>"; }

std::string Num(double v) {
  if (std::fabs(v) < 0.005) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string HexColor(Color c) {
  auto byte = [](double v) { return static_cast<unsigned>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", byte(c.r), byte(c.g), byte(c.b));
  return buf;
}

// The Canvas as SVG elements, in points (the viewBox maps them to the page).
class SvgCanvas : public Canvas {
 public:
  void Line(double x1, double y1, double x2, double y2, Color c, double width) override {
    out_ << "<line x1=\"" << Num(x1) << "\" y1=\"" << Num(y1) << "\" x2=\"" << Num(x2) << "\" y2=\"" << Num(y2)
         << "\" stroke=\"" << HexColor(c) << "\" stroke-width=\"" << Num(width) << "\"/>";
  }
  void Polyline(const std::vector<std::pair<double, double>>& points, Color c, double width) override {
    out_ << "<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\" stroke=\"" << HexColor(c)
         << "\" stroke-width=\"" << Num(width) << "\" points=\"";
    for (std::size_t i = 0; i < points.size(); ++i) {
      out_ << (i ? " " : "") << Num(points[i].first) << "," << Num(points[i].second);
    }
    out_ << "\"/>";
  }
  void Rect(double x, double y, double w, double h, Color fill) override {
    out_ << "<rect x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" width=\"" << Num(w) << "\" height=\"" << Num(h)
         << "\" fill=\"" << HexColor(fill) << "\"/>";
  }
  void Circle(double cx, double cy, double r, Color fill) override {
    out_ << "<circle cx=\"" << Num(cx) << "\" cy=\"" << Num(cy) << "\" r=\"" << Num(r) << "\" fill=\""
         << HexColor(fill) << "\"/>";
  }
  void Text(double x, double y, const std::string& utf8, double size, Color c, Align align) override {
    const char* anchor = align == Align::kStart ? "start" : align == Align::kMiddle ? "middle" : "end";
    out_ << "<text x=\"" << Num(x) << "\" y=\"" << Num(y) << "\" font-size=\"" << Num(size) << "\" fill=\""
         << HexColor(c) << "\" text-anchor=\"" << anchor << "\">" << Esc(utf8) << "</text>";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

using DrawFn = void (*)(Canvas&, const Document&, double);
using SizeFn = ChartSize (*)(const Document&, double);

std::string Chart(const Document& doc, const std::string& title, const std::string& description, SizeFn size,
                  DrawFn draw) {
  const ChartSize s = size(doc, kChartWidth);
  SvgCanvas canvas;
  draw(canvas, doc, kChartWidth);
  std::ostringstream o;
  // No xmlns: inline SVG in HTML needs none.
  o << "<svg class=\"chart\" role=\"img\" aria-label=\"" << Esc(description) << "\" viewBox=\"0 0 "
    << Num(s.width) << " " << Num(s.height) << "\" width=\"" << Num(s.width) << "\" height=\"" << Num(s.height)
    << "\"><title>" << Esc(title) << "</title>" << canvas.str() << "</svg>";
  return o.str();
}

// The filters, in words (HTML), when they narrow the content; else "".
std::string FilterLine(const Document& doc) {
  return FilterSentence(doc, [](const std::string& t) { return "<bdi>" + Esc(t) + "</bdi>"; });
}

// Text as paragraphs (split on blank lines), line breaks kept.
std::string Paragraphs(const std::string& text) {
  std::vector<std::vector<std::string>> paragraphs(1);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (!paragraphs.back().empty()) paragraphs.emplace_back();
    } else {
      paragraphs.back().push_back(line);
    }
  }
  if (paragraphs.back().empty()) paragraphs.pop_back();
  std::string out;
  for (const auto& p : paragraphs) {
    out += "<p dir=\"auto\">";
    for (std::size_t i = 0; i < p.size(); ++i) out += (i ? "<br>" : "") + Esc(p[i]);
    out += "</p>";
  }
  return out;
}

std::string OwnerLabel(const Document& doc, const node::ItemView& v) {
  switch (v.owner) {
    case model::Owner::kBoth:
      return "both of you";
    case model::Owner::kPartner:
      for (const auto& m : doc.members) {
        if (m != v.author) return Name(m);
      }
      return "the partner";
    case model::Owner::kAuthor:
      break;
  }
  return Name(v.author);
}

const char* kStyle = R"css(
:root { --ink: #24292f; --muted: #5f6b76; --rule: #d8dde2; --soft: #f5f6f4; --accent: #1b6b6b; --warm: #8a4513; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0 auto; max-width: 46rem; padding: 2.5rem 1.5rem 4rem; color: var(--ink);
  font: 17px/1.6 "Charter", "Bitstream Charter", "Iowan Old Style", Georgia, "DejaVu Serif", serif; }
h1, h2, h3, h4, .meta, .eyebrow, table, figcaption, .legend, .tags, .follow, .note, .filters, .kind {
  font-family: "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
h1 { font-size: 2.3rem; font-weight: 600; margin: 0.2rem 0 0.4rem; letter-spacing: -0.01em; }
h2 { font-size: 1.35rem; font-weight: 600; margin: 2.6rem 0 0.8rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.05rem; font-weight: 600; margin: 1.8rem 0 0.6rem; color: var(--accent); }
h4 { font-size: 1.1rem; font-weight: 600; margin: 0.2rem 0 0.4rem; }
p { margin: 0 0 0.7rem; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.12em; font-size: 0.75rem; color: var(--muted); margin: 0; }
.cover .members { font-size: 1.25rem; margin: 0; }
.cover .period { margin: 0.2rem 0 0; color: var(--muted); }
.cover .prepared { margin: 0.2rem 0 0; color: var(--muted); font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; line-height: 1.4; }
th, td { text-align: start; vertical-align: top; padding: 0.35rem 0.6rem 0.35rem 0; border-bottom: 1px solid var(--rule); }
thead th { font-weight: 600; color: var(--muted); border-bottom: 1.5px solid var(--ink); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; padding-left: 0.6rem; }
td.n { white-space: nowrap; }
table.counts { min-width: 18rem; margin-bottom: 1.2rem; }
table.counts th { font-weight: normal; }
table.commitments { width: 100%; }
table.commitments .sub { color: var(--muted); font-size: 0.8rem; }
.filters, .note { color: var(--muted); font-size: 0.85rem; }
figure { margin: 0 0 1.8rem; }
figure h3 { margin-top: 1.2rem; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font-family: "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
figcaption { color: var(--muted); font-size: 0.8rem; margin-top: 0.3rem; }
.month > h3 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.12em; color: var(--muted);
  margin: 2.2rem 0 0.4rem; }
.item { padding: 1rem 0 0.9rem; border-top: 1px solid var(--rule); }
.meta { font-size: 0.82rem; color: var(--muted); margin-bottom: 0.3rem; }
.kind { display: inline-block; font-size: 0.7rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.1em;
  color: var(--accent); margin-right: 0.4rem; }
.badge { display: inline-block; font-size: 0.7rem; border: 1px solid currentColor; border-radius: 0.7rem;
  padding: 0 0.45rem; margin-left: 0.3rem; line-height: 1.4; }
.badge.private { color: var(--warm); }
.badge.memory { color: var(--accent); }
.text p { margin: 0 0 0.6rem; }
.tags { font-size: 0.8rem; color: var(--muted); margin: 0.2rem 0 0; }
.tags span { background: var(--soft); border-radius: 0.25rem; padding: 0.05rem 0.4rem; margin-right: 0.3rem; }
.follow { list-style: none; padding: 0; margin: 0.3rem 0 0; font-size: 0.85rem; }
.follow li { padding: 0.1rem 0; }
.mark { display: inline-block; width: 4.8rem; font-weight: 600; }
.mark.kept { color: var(--accent); }
.mark.missed { color: var(--warm); }
table.answers { width: 100%; margin-top: 0.4rem; table-layout: fixed; font-size: 0.88rem; }
table.answers th[scope=row] { width: 34%; font-weight: normal; color: var(--muted); padding-right: 1rem; }
table.answers td { font-family: "Charter", "Bitstream Charter", "Iowan Old Style", Georgia, "DejaVu Serif", serif;
  font-size: 0.95rem; padding-right: 1rem; }
.skipped, .sealed { color: var(--muted); font-style: italic; }
bdi { unicode-bidi: isolate; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@page { size: auto; margin: 16mm 15mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  .cover { break-after: page; page-break-after: always; }
  .item, figure, tr, svg.chart { break-inside: avoid; page-break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
)css";

void Cover(std::ostringstream& o, const Document& doc) {
  o << "<header class=\"cover\">\n";
  o << "<p class=\"eyebrow\">Hearth \u00b7 journal export</p>\n";
  o << "<h1>Our journal</h1>\n";
  std::vector<std::string> members;
  for (const auto& m : doc.members) members.push_back(Name(m));
  if (!members.empty()) o << "<p class=\"members\">" << JoinWords(members, "and") << "</p>\n";
  o << "<p class=\"period\">" << Esc(PeriodLabel(doc)) << "</p>\n";
  o << "<p class=\"prepared\">Prepared by " << Name(doc.exporter) << " on "
    << LongDate(DayOfMs(doc.generated_ms)) << " with Hearth.</p>\n";

  o << "<section class=\"summary\">\n<h2>Summary</h2>\n<table class=\"counts\"><tbody>\n";
  for (const auto& a : doc.appreciations) {
    o << "<tr><th scope=\"row\">Appreciations " << Name(a.from) << " \u2192 " << Name(a.to)
      << "</th><td class=\"n\">" << a.count << "</td></tr>\n";
  }
  o << "<tr><th scope=\"row\">Entries</th><td class=\"n\">" << doc.entries << "</td></tr>\n";
  o << "<tr><th scope=\"row\">Memories</th><td class=\"n\">" << doc.memories << "</td></tr>\n";
  if (doc.private_entries > 0) {
    o << "<tr><th scope=\"row\">Private entries</th><td class=\"n\">" << doc.private_entries << "</td></tr>\n";
  }
  o << "<tr><th scope=\"row\">Check-ins</th><td class=\"n\">" << doc.checkins << "</td></tr>\n";
  o << "</tbody></table>\n";
  if (!doc.commitments.empty()) {
    o << "<table class=\"commitments\"><thead><tr><th>Commitment</th><th class=\"n\">Kept</th>"
         "<th class=\"n\">Missed</th><th class=\"n\">Not recorded</th><th class=\"n\">Streak</th>"
         "<th class=\"n\">Kept rate, last 4</th><th class=\"n\">Kept rate, last 12</th></tr></thead><tbody>\n";
    for (const auto& c : doc.commitments) {
      o << "<tr><td><span dir=\"auto\">" << Esc(c.text) << "</span><br><span class=\"sub\">kept by "
        << Name(c.owner) << " \u00b7 " << RhythmAdjective(c.rhythm) << "</span></td><td class=\"n\">" << c.kept
        << "</td><td class=\"n\">" << c.missed << "</td><td class=\"n\">" << c.not_recorded
        << "</td><td class=\"n\">" << RhythmCount(c.rhythm, c.stats.streak) << "</td><td class=\"n\">"
        << PercentOrDash(c.stats.kept4, c.stats.recorded4) << "</td><td class=\"n\">"
        << PercentOrDash(c.stats.kept12, c.stats.recorded12) << "</td></tr>\n";
    }
    o << "</tbody></table>\n";
    o << "<p class=\"note\">Kept, missed and not recorded count the periods inside this export; the streak and "
         "kept rates are as of its last day.</p>\n";
  }
  const std::string filters = FilterLine(doc);
  if (!filters.empty()) o << "<p class=\"filters\">" << filters << "</p>\n";
  o << "</section>\n</header>\n";
}

void Charts(std::ostringstream& o, const Document& doc) {
  std::vector<std::string> names;
  for (const auto& m : doc.members) names.push_back(m);
  const std::string who = names.empty() ? "" : " for " + JoinWords(names, "and");
  o << "<section class=\"charts\">\n<h2>Charts</h2>\n";
  o << "<figure><h3>Connection score over time</h3>"
    << Chart(doc, "Connection score over time",
             "Line chart: each check-in's connection score, from 1 to 10" + who + ".", ConnectionChartSize,
             DrawConnectionChart)
    << "<figcaption>The answer to \u201c" << Esc(node::CheckinPrompts()[0])
    << "\u201d in each week's check-in.</figcaption></figure>\n";
  o << "<figure><h3>Appreciations per week</h3>"
    << Chart(doc, "Appreciations per week", "Bar chart: appreciations written each week" + who + ".",
             AppreciationChartSize, DrawAppreciationChart)
    << "<figcaption>Appreciations each of you wrote, by week (weeks start on Monday).</figcaption></figure>\n";
  o << "<figure><h3>Follow-through</h3>"
    << Chart(doc, "Follow-through",
             "Follow-through of each commitment: one square per period, kept, missed or not recorded, and "
             "the kept rate.",
             FollowThroughChartSize, DrawFollowThroughChart)
    << "<figcaption>One square per period, oldest first; the kept rate counts the periods recorded."
       "</figcaption></figure>\n";
  o << "</section>\n";
}

void Answers(std::ostringstream& o, const node::ItemView& v) {
  if (v.answers.empty()) {
    o << "<p class=\"note\">Nobody has answered yet.</p>\n";
    return;
  }
  const auto& prompts = node::CheckinPrompts();
  o << "<table class=\"answers\"><thead><tr><th scope=\"col\"><span class=\"sr\">Prompt</span></th>";
  for (const auto& a : v.answers) o << "<th scope=\"col\">" << Name(a.member) << "</th>";
  o << "</tr></thead><tbody>\n";
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    o << "<tr><th scope=\"row\">" << Esc(prompts[p]) << "</th>";
    for (const auto& a : v.answers) {
      if (a.sealed) {
        if (p == 0) {
          o << "<td class=\"sealed\" rowspan=\"" << prompts.size() << "\">" << Name(a.member)
            << "\u2019s answers are still sealed.</td>";
        }
        continue;
      }
      const std::string answer = p < a.answers.size() ? a.answers[p] : "";
      if (answer.empty()) {
        o << "<td class=\"skipped\">skipped</td>";
      } else if (p == 0) {
        o << "<td dir=\"auto\"><strong>" << Esc(answer) << "</strong> / 10</td>";
      } else {
        o << "<td dir=\"auto\">" << Paragraphs(answer) << "</td>";
      }
    }
    o << "</tr>\n";
  }
  o << "</tbody></table>\n";
}

void Item(std::ostringstream& o, const Document& doc, const node::ItemView& v) {
  const char* kind_class = v.kind == model::Kind::kEntry          ? "entry"
                           : v.kind == model::Kind::kAppreciation ? "appreciation"
                           : v.kind == model::Kind::kCommitment   ? "commitment"
                           : v.kind == model::Kind::kCheckin      ? "checkin"
                                                                  : "other";
  o << "<article class=\"item " << kind_class << "\">\n<div class=\"meta\"><span class=\"kind\">"
    << Esc(KindLabel(v.kind)) << "</span><time datetime=\"" << FormatDate(v.day) << "\">" << LongDate(v.day)
    << "</time>";
  if (v.kind == model::Kind::kCheckin) {
    std::vector<std::string> names;
    for (const auto& a : v.answers) names.push_back(Name(a.member));
    if (!names.empty()) o << " \u00b7 answered by " << JoinWords(names, "and");
  } else {
    o << " \u00b7 by " << Name(v.author);
    if (v.kind == model::Kind::kAppreciation) o << " to " << Name(v.to);
  }
  if (v.memory) o << "<span class=\"badge memory\">memory</span>";
  if (v.is_private) o << "<span class=\"badge private\">private</span>";
  o << "</div>\n";
  if (v.kind == model::Kind::kCheckin) {
    o << "<h4 dir=\"auto\">" << Esc(v.text.empty() ? "Check-in " + v.period : v.text) << "</h4>\n";
    Answers(o, v);
    o << "</article>\n";
    return;
  }
  if (!v.title.empty()) o << "<h4 dir=\"auto\">" << Esc(v.title) << "</h4>\n";
  o << "<div class=\"text\" dir=\"auto\">" << Paragraphs(v.text) << "</div>\n";
  if (v.kind == model::Kind::kEntry && (v.mood || !v.tags.empty())) {
    o << "<p class=\"tags\">";
    if (v.mood) o << "Mood " << *v.mood << "/5" << (v.tags.empty() ? "" : " \u00b7 ");
    for (const auto& t : v.tags) o << "<span dir=\"auto\">" << Esc(t) << "</span>";
    o << "</p>\n";
  }
  if (v.kind == model::Kind::kCommitment) {
    o << "<p class=\"note\">Kept by " << OwnerLabel(doc, v) << ", " << RhythmAdjective(v.rhythm) << ".";
    if (v.replaces) o << " It renegotiates an earlier commitment.";
    if (v.replaced_by) o << " It was renegotiated later.";
    o << "</p>\n";
    if (!v.follow_through.empty()) {
      o << "<ul class=\"follow\">\n";
      for (const auto& f : v.follow_through) {
        o << "<li><span class=\"mark " << (f.kept ? "kept\">\u2713 kept" : "missed\">\u2717 missed") << "</span>"
          << Esc(f.period);
        if (!f.note.empty()) o << " \u2014 <span dir=\"auto\">" << Esc(f.note) << "</span>";
        o << "</li>\n";
      }
      o << "</ul>\n";
    }
  }
  o << "</article>\n";
}

}  // namespace

std::string RenderHtml(const Document& doc) {
  std::ostringstream o;
  std::vector<std::string> names;
  for (const auto& m : doc.members) names.push_back(m);
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
    << "<meta name=\"referrer\" content=\"no-referrer\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<meta name=\"color-scheme\" content=\"light\">\n"
    << "<title>Our journal" << (names.empty() ? "" : " \u00b7 " + Esc(JoinWords(names, "and"))) << " \u00b7 "
    << Esc(PeriodLabel(doc)) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  Cover(o, doc);
  Charts(o, doc);
  o << "<main class=\"items\">\n<h2>Journal</h2>\n";
  if (doc.items.empty()) o << "<p class=\"note\">Nothing was written in this period.</p>\n";
  std::string month;
  for (const auto& v : doc.items) {
    const std::string m = MonthHeading(ExportDay(v));
    if (m != month) {
      if (!month.empty()) o << "</section>\n";
      o << "<section class=\"month\">\n<h3>" << m << "</h3>\n";
      month = m;
    }
    Item(o, doc, v);
  }
  if (!month.empty()) o << "</section>\n";
  o << "</main>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace hearth::exporter
