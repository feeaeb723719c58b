// The export's three charts, drawn against the vector Canvas (charts.h).
//
// Every chart is laid out from the Document alone, in points, inside the box
// (0, 0, width, Size().height). The caller writes the chart's heading; a
// chart draws its legend, axes and marks. Text widths are estimated (the
// Canvas cannot measure text), generously, so labels never collide.
//
// Colours: the two members are a mid blue and an orange (distinct for
// red-green colour blindness, and of different lightness in greyscale); the
// second member's dots are squares, so the series stay apart even in a
// greyscale print. Follow-through marks do not use member colours: kept is a
// filled dark teal square, missed a light orange-brown square with a dark
// cross, not recorded a light grey outline — three shapes, not only three hues.
#include "cli/export/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/base/dates.h"

namespace hearth::exporter {
namespace {

constexpr Color Hex(std::uint32_t rgb) {
  return Color{static_cast<double>((rgb >> 16) & 0xff) / 255.0, static_cast<double>((rgb >> 8) & 0xff) / 255.0,
               static_cast<double>(rgb & 0xff) / 255.0};
}

constexpr Color kInk = Hex(0x333333);        // labels
constexpr Color kMutedInk = Hex(0x666666);   // axis labels
constexpr Color kGrid = Hex(0xdddddd);       // gridlines
constexpr Color kAxis = Hex(0x999999);       // axes
constexpr Color kKept = Hex(0x1b6b6b);       // dark teal
constexpr Color kMissedFill = Hex(0xe9b98c); // light orange-brown
constexpr Color kMissedInk = Hex(0x8a4513);  // dark orange-brown (the cross)
constexpr Color kNotRecorded = Hex(0xb8b8b8);

constexpr double kLabelSize = 8.0;   // axis labels
constexpr double kLegendSize = 9.0;  // legend and row labels
constexpr double kEmptyHeight = 24.0;

// Estimated advance of one code point at `size` points: generous for Latin
// text in a proportional sans face (most letters are narrower).
constexpr double kCharWidth = 0.56;

std::size_t CodePoints(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

double TextWidth(const std::string& s, double size) {
  return static_cast<double>(CodePoints(s)) * size * kCharWidth;
}

// At most `max` code points of `s`; when cut, the last one is "…". Line
// breaks become spaces (a chart label is one line).
std::string Truncate(const std::string& s, std::size_t max) {
  std::string flat = s;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  std::replace(flat.begin(), flat.end(), '\r', ' ');
  std::replace(flat.begin(), flat.end(), '\t', ' ');
  if (CodePoints(flat) <= max) return flat;
  if (max == 0) return "";
  std::size_t keep = max - 1, count = 0, i = 0;
  for (; i < flat.size(); ++i) {
    if ((static_cast<unsigned char>(flat[i]) & 0xc0) != 0x80) {
      if (count == keep) break;
      ++count;
    }
  }
  std::string out = flat.substr(0, i);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "\u2026";
}

std::string ShortDate(std::int64_t day) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const CivilDate c = CivilFromDays(day);
  return std::to_string(c.day) + " " + kMonths[(c.month - 1) % 12];
}

// A member's index in doc.members (its colour), or `fallback` when absent.
std::size_t MemberIndex(const Document& doc, const std::string& name, std::size_t fallback) {
  for (std::size_t i = 0; i < doc.members.size(); ++i) {
    if (doc.members[i] == name) return i;
  }
  return fallback;
}

// A series marker: a circle for member 0 (and every even index), a square
// for member 1 (every odd one), so the series differ in shape too.
void Marker(Canvas& c, std::size_t member, double x, double y, double r) {
  if (member % 2 == 0) {
    c.Circle(x, y, r, MemberColor(member));
  } else {
    c.Rect(x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8, MemberColor(member));
  }
}

void Outline(Canvas& c, double x, double y, double w, double h, Color color, double width) {
  c.Line(x, y, x + w, y, color, width);
  c.Line(x + w, y, x + w, y + h, color, width);
  c.Line(x + w, y + h, x, y + h, color, width);
  c.Line(x, y + h, x, y, color, width);
}

// A legend row at baseline `y`: marker + name per series, from the left.
void MemberLegend(Canvas& c, const Document& doc, const std::vector<std::string>& names, double y,
                  double width) {
  double x = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t m = MemberIndex(doc, names[i], i);
    const std::string label = Truncate(names[i], 24);
    const double w = 14 + TextWidth(label, kLegendSize) + 16;
    if (x > 0 && x + w > width) break;  // never wider than the chart
    c.Line(x, y - 3, x + 10, y - 3, MemberColor(m), 1.5);
    Marker(c, m, x + 5, y - 3, 2.8);
    c.Text(x + 14, y, label, kLegendSize, kInk, Canvas::Align::kStart);
    x += w;
  }
}

void Empty(Canvas& c, const std::string& sentence) {
  c.Text(0, 15, sentence, kLegendSize + 1, kMutedInk, Canvas::Align::kStart);
}

bool HasScores(const Document& doc) {
  return std::any_of(doc.scores.begin(), doc.scores.end(), [](const ScoreSeries& s) { return !s.points.empty(); });
}

bool HasAppreciations(const Document& doc) {
  const WeeklyCounts& w = doc.appreciations_per_week;
  if (w.weeks.empty()) return false;
  for (const auto& row : w.counts) {
    for (std::uint64_t n : row) {
      if (n > 0) return true;
    }
  }
  return false;
}

// Up to `max_labels` evenly spaced indices of 0..n-1, always the first and the last.
std::vector<std::size_t> LabelIndices(std::size_t n, std::size_t max_labels) {
  std::vector<std::size_t> out;
  if (n == 0 || max_labels == 0) return out;
  if (n <= max_labels) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  const std::size_t step = (n - 1 + max_labels - 2) / (max_labels - 1);
  for (std::size_t i = 0; i < n; i += step) out.push_back(i);
  if (out.back() != n - 1) {
    if (n - 1 - out.back() < step / 2 + 1 && out.size() > 1) out.pop_back();
    out.push_back(n - 1);
  }
  return out;
}

// A "nice" integer step so that 0..max needs at most 5 ticks.
std::uint64_t TickStep(std::uint64_t max) {
  for (std::uint64_t base = 1;; base *= 10) {
    for (std::uint64_t m : {1, 2, 5}) {
      if (max <= base * m * 5) return base * m;
    }
    if (base > (~0ULL) / 100) return base * 10;
  }
}

// Connection chart geometry.
constexpr double kConnLegend = 12;  // legend baseline
constexpr double kConnTop = 26;     // plot top (score 10)
constexpr double kConnPlot = 130;   // plot height
constexpr double kConnLeft = 24;    // room for the score labels
constexpr double kConnRight = 8;
constexpr double kConnBottom = 20;  // room for the date labels

// Appreciation chart geometry.
constexpr double kApprLegend = 12;
constexpr double kApprTop = 26;
constexpr double kApprPlot = 110;
constexpr double kApprLeft = 24;
constexpr double kApprRight = 8;
constexpr double kApprBottom = 20;

// Follow-through chart geometry.
constexpr double kFtLegend = 12;
constexpr double kFtTop = 20;        // first row's top
constexpr double kFtRowPad = 4;      // above and below a row's squares
constexpr double kFtMinRow = 20;     // a row is at least this tall
constexpr double kFtRate = 44;       // the kept-rate column, on the right
constexpr double kFtGap = 8;         // between the label and the squares
constexpr double kFtMaxPitch = 14;   // a square and its gap, at most...
constexpr double kFtMinPitch = 7.5;  // ...and at least: more periods wrap onto more lines

// Where the follow-through chart puts things; Size and Draw share it.
struct FtLayout {
  double label_w = 0;          // the text column
  double pitch = kFtMaxPitch;  // one square and its gap
  std::size_t per_line = 1;    // squares on one line
  std::vector<double> row_top, row_height;
  double height = 0;
};

FtLayout LayOutFollowThrough(const Document& doc, double width) {
  FtLayout l;
  l.label_w = std::max(60.0, width * 0.40);
  const double squares_w = std::max(kFtMinPitch, width - l.label_w - kFtGap - kFtRate);
  std::size_t most = 1;
  for (const auto& cs : doc.commitments) most = std::max(most, cs.periods.size());
  l.pitch = std::clamp(squares_w / static_cast<double>(most), kFtMinPitch, kFtMaxPitch);
  l.per_line = std::max<std::size_t>(1, static_cast<std::size_t>(squares_w / l.pitch));
  double y = kFtTop;
  for (const auto& cs : doc.commitments) {
    const std::size_t lines = std::max<std::size_t>(1, (cs.periods.size() + l.per_line - 1) / l.per_line);
    const double h = std::max(kFtMinRow, static_cast<double>(lines) * l.pitch + 2 * kFtRowPad);
    l.row_top.push_back(y);
    l.row_height.push_back(h);
    y += h;
  }
  l.height = y + 2;
  return l;
}

}  // namespace

Color MemberColor(std::size_t i) {
  static constexpr Color kColors[] = {
      Hex(0x1f77b4),  // blue: the exporter
      Hex(0xe08a1e),  // orange: the partner
      Hex(0x6a51a3),  // purple
      Hex(0x555555),  // dark grey
  };
  return kColors[i % std::size(kColors)];
}

ChartSize ConnectionChartSize(const Document& doc, double width) {
  if (!HasScores(doc)) return {width, kEmptyHeight};
  return {width, kConnTop + kConnPlot + kConnBottom};
}

void DrawConnectionChart(Canvas& c, const Document& doc, double width) {
  if (!HasScores(doc)) {
    Empty(c, "No check-ins in this period.");
    return;
  }
  std::vector<std::string> names;
  for (const auto& s : doc.scores) names.push_back(s.member);
  MemberLegend(c, doc, names, kConnLegend, width);

  const double left = kConnLeft, right = std::max(left + 10, width - kConnRight);
  const double top = kConnTop, bottom = kConnTop + kConnPlot;
  auto y_of = [&](double score) { return bottom - (std::clamp(score, 1.0, 10.0) - 1.0) / 9.0 * (bottom - top); };
  // The days shown: the document's period, widened to hold every point.
  std::int64_t first = doc.from_day, last = doc.to_day;
  for (const auto& s : doc.scores) {
    for (const auto& p : s.points) {
      first = std::min(first, p.day);
      last = std::max(last, p.day);
    }
  }
  auto x_of = [&](std::int64_t day) {
    if (last <= first) return (left + right) / 2;
    return left + static_cast<double>(day - first) / static_cast<double>(last - first) * (right - left);
  };

  for (int score : {1, 5, 10}) {
    const double y = y_of(score);
    c.Line(left, y, right, y, kGrid, 0.6);
    c.Text(left - 5, y + 3, std::to_string(score), kLabelSize, kMutedInk, Canvas::Align::kEnd);
  }
  c.Line(left, top - 4, left, bottom, kAxis, 0.8);
  c.Line(left, bottom, right, bottom, kAxis, 0.8);

  // Date labels: a few days spread over the period, never overlapping.
  const std::size_t days = static_cast<std::size_t>(last - first + 1);
  const std::size_t max_labels = std::clamp<std::size_t>(static_cast<std::size_t>((right - left) / 70), 2, 7);
  for (std::size_t i : LabelIndices(days, max_labels)) {
    const std::int64_t day = first + static_cast<std::int64_t>(i);
    const double x = x_of(day);
    c.Line(x, bottom, x, bottom + 3, kAxis, 0.8);
    const Canvas::Align align = days == 1 ? Canvas::Align::kMiddle
                                : i == 0        ? Canvas::Align::kStart
                                : i == days - 1 ? Canvas::Align::kEnd
                                                : Canvas::Align::kMiddle;
    c.Text(x, bottom + 13, ShortDate(day), kLabelSize, kMutedInk, align);
  }

  for (std::size_t s = 0; s < doc.scores.size(); ++s) {
    const std::size_t m = MemberIndex(doc, doc.scores[s].member, s);
    std::vector<std::pair<double, double>> points;
    for (const auto& p : doc.scores[s].points) points.emplace_back(x_of(p.day), y_of(p.score));
    if (points.size() > 1) c.Polyline(points, MemberColor(m), 1.6);
    const double r = points.size() > 60 ? 1.8 : 2.8;
    for (const auto& [x, y] : points) Marker(c, m, x, y, r);
  }
}

ChartSize AppreciationChartSize(const Document& doc, double width) {
  if (!HasAppreciations(doc)) return {width, kEmptyHeight};
  return {width, kApprTop + kApprPlot + kApprBottom};
}

void DrawAppreciationChart(Canvas& c, const Document& doc, double width) {
  if (!HasAppreciations(doc)) {
    Empty(c, "No appreciations in this period.");
    return;
  }
  const WeeklyCounts& w = doc.appreciations_per_week;
  MemberLegend(c, doc, w.members, kApprLegend, width);
  std::uint64_t max = 1;
  for (const auto& row : w.counts) {
    for (std::uint64_t n : row) max = std::max(max, n);
  }
  const std::uint64_t step = TickStep(max);
  // At least 0..2, so a week with one appreciation is not a full-height bar.
  const std::uint64_t top_value = std::max<std::uint64_t>(2, (max + step - 1) / step * step);
  const double left = kApprLeft, right = std::max(left + 10, width - kApprRight);
  const double top = kApprTop, bottom = kApprTop + kApprPlot;
  auto y_of = [&](std::uint64_t v) {
    return bottom - static_cast<double>(v) / static_cast<double>(top_value) * (bottom - top);
  };
  for (std::uint64_t v = 0; v <= top_value; v += step) {
    const double y = y_of(v);
    if (v > 0) c.Line(left, y, right, y, kGrid, 0.6);
    c.Text(left - 5, y + 3, std::to_string(v), kLabelSize, kMutedInk, Canvas::Align::kEnd);
  }
  c.Line(left, top - 4, left, bottom, kAxis, 0.8);

  const std::size_t weeks = w.weeks.size();
  const std::size_t series = std::max<std::size_t>(1, w.members.size());
  const double group = (right - left) / static_cast<double>(weeks);
  const double bar = std::min(14.0, group * 0.8 / static_cast<double>(series));
  const double gap = bar > 4 ? 1.0 : 0.0;
  for (std::size_t k = 0; k < weeks; ++k) {
    const double centre = left + group * (static_cast<double>(k) + 0.5);
    const double start = centre - (bar * static_cast<double>(series)) / 2;
    for (std::size_t s = 0; s < w.members.size() && s < w.counts.size(); ++s) {
      const std::uint64_t n = k < w.counts[s].size() ? w.counts[s][k] : 0;
      if (n == 0) continue;
      const double y = y_of(n);
      c.Rect(start + bar * static_cast<double>(s) + gap / 2, y, bar - gap, bottom - y,
             MemberColor(MemberIndex(doc, w.members[s], s)));
    }
  }
  c.Line(left, bottom, right, bottom, kAxis, 0.8);

  const std::size_t max_labels = std::clamp<std::size_t>(static_cast<std::size_t>((right - left) / 60), 2, 8);
  for (std::size_t k : LabelIndices(weeks, max_labels)) {
    const double x = left + group * (static_cast<double>(k) + 0.5);
    c.Text(x, bottom + 13, ShortDate(w.weeks[k]), kLabelSize, kMutedInk, Canvas::Align::kMiddle);
  }
}

ChartSize FollowThroughChartSize(const Document& doc, double width) {
  if (doc.commitments.empty()) return {width, kEmptyHeight};
  return {width, LayOutFollowThrough(doc, width).height};
}

void DrawFollowThroughChart(Canvas& c, const Document& doc, double width) {
  if (doc.commitments.empty()) {
    Empty(c, "No commitments in this period.");
    return;
  }
  // Legend: the three marks.
  double lx = 0;
  auto legend = [&](PeriodState state, const std::string& label) {
    const double s = 9;
    switch (state) {
      case PeriodState::kKept:
        c.Rect(lx, kFtLegend - s + 1, s, s, kKept);
        break;
      case PeriodState::kMissed:
        c.Rect(lx, kFtLegend - s + 1, s, s, kMissedFill);
        c.Line(lx + 1.5, kFtLegend - s + 2.5, lx + s - 1.5, kFtLegend - 0.5, kMissedInk, 1.3);
        c.Line(lx + s - 1.5, kFtLegend - s + 2.5, lx + 1.5, kFtLegend - 0.5, kMissedInk, 1.3);
        break;
      case PeriodState::kNotRecorded:
        Outline(c, lx + 0.5, kFtLegend - s + 1.5, s - 1, s - 1, kNotRecorded, 1);
        break;
    }
    c.Text(lx + s + 4, kFtLegend, label, kLegendSize, kInk, Canvas::Align::kStart);
    lx += s + 4 + TextWidth(label, kLegendSize) + 14;
  };
  legend(PeriodState::kKept, "kept");
  legend(PeriodState::kMissed, "missed");
  legend(PeriodState::kNotRecorded, "not recorded");
  c.Text(width, kFtLegend, "kept rate", kLabelSize, kMutedInk, Canvas::Align::kEnd);

  const FtLayout l = LayOutFollowThrough(doc, width);
  const double square = l.pitch * 0.8;
  const std::size_t max_chars =
      static_cast<std::size_t>(std::max(4.0, (l.label_w - 4) / (kLegendSize * kCharWidth)));
  for (std::size_t r = 0; r < doc.commitments.size(); ++r) {
    const CommitmentSummary& cs = doc.commitments[r];
    const double top = l.row_top[r] + kFtRowPad;
    // Text and rate sit on the first line of squares.
    const double first_mid = top + std::max(l.pitch, kFtMinRow - 2 * kFtRowPad) / 2;
    const double baseline = first_mid + 3;
    c.Text(0, baseline, Truncate(cs.text, max_chars), kLegendSize, kInk, Canvas::Align::kStart);
    const double lines_top = first_mid - l.pitch / 2;
    for (std::size_t p = 0; p < cs.periods.size(); ++p) {
      const double x = l.label_w + kFtGap + l.pitch * static_cast<double>(p % l.per_line);
      const double y = lines_top + l.pitch * static_cast<double>(p / l.per_line) + (l.pitch - square) / 2;
      switch (cs.periods[p].state) {
        case PeriodState::kKept:
          c.Rect(x, y, square, square, kKept);
          break;
        case PeriodState::kMissed: {
          c.Rect(x, y, square, square, kMissedFill);
          const double i = square * 0.2;
          c.Line(x + i, y + i, x + square - i, y + square - i, kMissedInk, 1.1);
          c.Line(x + square - i, y + i, x + i, y + square - i, kMissedInk, 1.1);
          break;
        }
        case PeriodState::kNotRecorded:
          Outline(c, x + 0.5, y + 0.5, square - 1, square - 1, kNotRecorded, 1.0);
          break;
      }
    }
    c.Text(width, baseline, PercentOrDash(cs.kept, cs.kept + cs.missed), kLegendSize, kInk, Canvas::Align::kEnd);
    if (r + 1 < doc.commitments.size()) {
      const double bottom = l.row_top[r] + l.row_height[r];
      c.Line(0, bottom, width, bottom, Hex(0xeeeeee), 0.5);
    }
  }
}

}  // namespace hearth::exporter
