// The export's three charts, drawn once against a small vector Canvas that
// both the HTML (inline SVG) and the PDF (cairo) writers implement, so the
// charts look the same in both.
//
//   - connection score over time, one line per partner (1..10);
//   - appreciations per week, one bar per partner per week;
//   - follow-through per commitment, one square per period (kept, missed,
//     not recorded) with the kept rate.
//
// Coordinates are in points (1/72 inch), origin top left, y down. Colours are
// chosen to stay distinct in greyscale print and for red-green colour blindness.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli/export/document.h"

namespace hearth::exporter {

struct Color {
  double r = 0, g = 0, b = 0;  // 0..1
};

class Canvas {
 public:
  enum class Align { kStart, kMiddle, kEnd };
  virtual ~Canvas() = default;
  virtual void Line(double x1, double y1, double x2, double y2, Color c, double width) = 0;
  virtual void Polyline(const std::vector<std::pair<double, double>>& points, Color c, double width) = 0;
  virtual void Rect(double x, double y, double w, double h, Color fill) = 0;
  virtual void Circle(double cx, double cy, double r, Color fill) = 0;
  // `y` is the text's baseline; `size` in points; UTF-8, any script.
  virtual void Text(double x, double y, const std::string& utf8, double size, Color c, Align align) = 0;
};

// The colour of the i-th member's series (the exporter is member 0).
Color MemberColor(std::size_t i);

// Each chart fills the box (0, 0, width, height()) of the canvas; the caller
// translates. A chart with no data draws a short sentence saying so.
struct ChartSize {
  double width = 0, height = 0;
};
ChartSize ConnectionChartSize(const Document& doc, double width);
void DrawConnectionChart(Canvas& canvas, const Document& doc, double width);
ChartSize AppreciationChartSize(const Document& doc, double width);
void DrawAppreciationChart(Canvas& canvas, const Document& doc, double width);
ChartSize FollowThroughChartSize(const Document& doc, double width);
void DrawFollowThroughChart(Canvas& canvas, const Document& doc, double width);

}  // namespace hearth::exporter
