// The PDF form of the therapy export: cairo draws, pango lays the text out.
//
// The pages are filled from top to bottom by a small flow. Content is built
// in blocks (the cover's parts, one item with its month heading); a block is
// a list of units, each one laid-out line of text or one table row, and a
// page only ever ends between two units, so no line is cut. A unit marked
// keep_with_next stays on the page of the unit after it (a heading with its
// first lines, a prompt with its answer, the first two lines of a paragraph),
// and a short item moves whole to the next page rather than being split.
//
// User text always goes through pango_layout_set_text (never markup); styles
// are attribute ranges over byte offsets, so no escaping is needed. Each
// paragraph picks its own direction (pango's auto-dir), and left alignment
// is mirrored for right-to-left paragraphs, so Hebrew and Arabic sit on the
// right margin. Glyphs missing from DejaVu Sans (emoji) come from the
// fontconfig fallback (Noto Color Emoji).
//
// The file is written to `out + ".tmp"`, flushed and synced, then renamed
// over `out`: a failure leaves no file behind.

#include <cairo-pdf.h>
#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "cli/export/charts.h"
#include "cli/export/document.h"
#include "cli/json_view.h"
#include "core/base/dates.h"

namespace hearth::exporter {
namespace {

// ---- page geometry and look (points) ----

constexpr double kMargin = 50;           // left, right and top
constexpr double kBottomMargin = 58;     // the footer sits inside it
constexpr double kFooterBaseline = 30;   // from the bottom edge
constexpr double kItemIndent = 12;       // items' text, right of their colour bar
constexpr double kBarWidth = 2.5;        // the colour bar beside an item
constexpr double kItemGap = 16;          // between items
constexpr double kChartGap = 8;          // between a chart's heading and the chart
constexpr double kKeepWholeShare = 0.4;  // an item shorter than this share of a page is not split

constexpr Color kInk{0.13, 0.13, 0.15};
constexpr Color kMuted{0.40, 0.40, 0.44};
constexpr Color kFaint{0.78, 0.78, 0.80};
constexpr Color kKept{0.106, 0.420, 0.420};  // as in the follow-through chart
constexpr Color kMissed{0.541, 0.271, 0.075};

// `s` as valid UTF-8 without NUL bytes (pango accepts nothing else): `s`
// itself when it already is, else a copy in `scratch` where every invalid
// byte and NUL is U+FFFD.
std::string_view Clean(std::string_view s, std::string& scratch) {
  if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr)) return s;
  gchar* valid = g_utf8_make_valid(s.data(), static_cast<gssize>(s.size()));
  scratch.assign(valid);
  g_free(valid);
  return scratch;
}

// ---- owned C objects ----

struct CairoFree {
  void operator()(cairo_t* p) const { cairo_destroy(p); }
  void operator()(cairo_surface_t* p) const { cairo_surface_destroy(p); }
};
struct PangoFree {
  void operator()(PangoFontDescription* p) const { pango_font_description_free(p); }
  void operator()(PangoAttrList* p) const { pango_attr_list_unref(p); }
  void operator()(PangoLayout* p) const { g_object_unref(p); }
  void operator()(PangoContext* p) const { g_object_unref(p); }
};
using FontPtr = std::unique_ptr<PangoFontDescription, PangoFree>;
using AttrsPtr = std::unique_ptr<PangoAttrList, PangoFree>;
using LayoutPtr = std::unique_ptr<PangoLayout, PangoFree>;
using ContextPtr = std::unique_ptr<PangoContext, PangoFree>;

FontPtr MakeFont(double size, PangoWeight weight = PANGO_WEIGHT_NORMAL,
                 PangoStyle style = PANGO_STYLE_NORMAL) {
  FontPtr f(pango_font_description_new());
  pango_font_description_set_family(f.get(), "DejaVu Sans");
  pango_font_description_set_size(f.get(), static_cast<gint>(size * PANGO_SCALE));
  pango_font_description_set_weight(f.get(), weight);
  pango_font_description_set_style(f.get(), style);
  return f;
}

guint16 Channel(double v) { return static_cast<guint16>(std::clamp(v, 0.0, 1.0) * 65535.0 + 0.5); }

// Text made of runs with their own weight and colour, as one string and the
// attribute list that styles it.
class Styled {
 public:
  Styled() : attrs_(pango_attr_list_new()) {}
  Styled& Add(std::string_view text, PangoWeight weight = PANGO_WEIGHT_NORMAL,
              const Color* color = nullptr, double scale = 1) {
    std::string scratch;
    const std::string_view clean = Clean(text, scratch);
    const auto start = static_cast<guint>(text_.size());
    text_ += clean;
    const auto end = static_cast<guint>(text_.size());
    if (weight != PANGO_WEIGHT_NORMAL) Insert(pango_attr_weight_new(weight), start, end);
    if (color != nullptr) {
      Insert(pango_attr_foreground_new(Channel(color->r), Channel(color->g), Channel(color->b)),
             start, end);
    }
    if (scale != 1) Insert(pango_attr_scale_new(scale), start, end);
    return *this;
  }
  const std::string& text() const { return text_; }
  PangoAttrList* attrs() const { return attrs_.get(); }

 private:
  void Insert(PangoAttribute* a, guint start, guint end) {
    a->start_index = start;
    a->end_index = end;
    pango_attr_list_insert(attrs_.get(), a);
  }
  std::string text_;
  AttrsPtr attrs_;
};

// ---- drawing a line ----

// The colour a run's attributes give it, or `fallback`.
Color RunColor(const PangoGlyphItem* run, Color fallback) {
  for (GSList* a = run->item->analysis.extra_attrs; a != nullptr; a = a->next) {
    const auto* attr = static_cast<const PangoAttribute*>(a->data);
    if (attr->klass->type == PANGO_ATTR_FOREGROUND) {
      const PangoColor& c = reinterpret_cast<const PangoAttrColor*>(attr)->color;
      return {c.red / 65535.0, c.green / 65535.0, c.blue / 65535.0};
    }
  }
  return fallback;
}

// Draws one shaped run with its baseline's left end at (x, y), as glyphs
// with the text each cluster of them stands for, so viewers extract the
// text exactly (ligatures included). Glyphs always run left to right.
// Right-to-left runs are written in that visual order, each cluster carrying
// its characters reversed: pango_cairo would draw them in logical order,
// moving left after each, and viewers then extract words broken apart
// ("תו דה"). Glyphs in visual order are what word processors write, and what
// pdftotext, pdf.js and Acrobat turn back into logical order. Drawing the run
// here rather than through pango's renderer also skips its per-glyph work,
// which made up much of the export's drawing time.
class RunPainter {
 public:
  void Show(cairo_t* cr, const char* text, const PangoGlyphItem* run, double x, double y) {
    const PangoGlyphString* g = run->glyphs;
    const PangoItem* item = run->item;
    const bool rtl = item->analysis.level % 2 == 1;
    glyphs_.clear();
    clusters_.clear();
    utf8_.clear();
    const char* base = text + item->offset;
    for (int i = 0; i < g->num_glyphs;) {
      int j = i;
      while (j < g->num_glyphs && g->log_clusters[j] == g->log_clusters[i]) ++j;
      // The cluster's text ends where the logically next cluster starts: on
      // the right of it for left-to-right runs, on the left for the others.
      const int begin = g->log_clusters[i];
      const int end = rtl ? (i == 0 ? item->length : g->log_clusters[i - 1])
                          : (j == g->num_glyphs ? item->length : g->log_clusters[j]);
      const char* start = base + begin;
      const char* stop = base + std::max(begin, end);
      const std::size_t before = utf8_.size();
      if (rtl) {
        for (const char* p = stop; p > start;) {  // the cluster's characters, last first
          const char* prev = g_utf8_find_prev_char(start, p);
          if (prev == nullptr) prev = start;
          utf8_.append(prev, static_cast<std::size_t>(p - prev));
          p = prev;
        }
      } else {
        utf8_.append(start, static_cast<std::size_t>(stop - start));
      }
      int drawn = 0;
      for (int k = i; k < j; ++k) {
        const PangoGlyphInfo& info = g->glyphs[k];
        if (info.glyph != PANGO_GLYPH_EMPTY && (info.glyph & PANGO_GLYPH_UNKNOWN_FLAG) == 0) {
          glyphs_.push_back({info.glyph, x + info.geometry.x_offset / double{PANGO_SCALE},
                             y + info.geometry.y_offset / double{PANGO_SCALE}});
          ++drawn;
        }
        x += info.geometry.width / double{PANGO_SCALE};
      }
      const auto bytes = static_cast<int>(utf8_.size() - before);
      if (bytes > 0 || drawn > 0) clusters_.push_back({bytes, drawn});
      i = j;
    }
    if (glyphs_.empty()) return;
    cairo_set_scaled_font(
        cr, pango_cairo_font_get_scaled_font(reinterpret_cast<PangoCairoFont*>(item->analysis.font)));
    cairo_show_text_glyphs(cr, utf8_.data(), static_cast<int>(utf8_.size()), glyphs_.data(),
                           static_cast<int>(glyphs_.size()), clusters_.data(),
                           static_cast<int>(clusters_.size()),
                           static_cast<cairo_text_cluster_flags_t>(0));
  }

 private:
  // Reused from run to run.
  std::vector<cairo_glyph_t> glyphs_;
  std::vector<cairo_text_cluster_t> clusters_;
  std::string utf8_;
};

// Draws `line` with its origin (the left end of its baseline) at (x, y).
void ShowLine(cairo_t* cr, RunPainter& painter, PangoLayoutLine* line, double x, double y, Color color) {
  const char* text = pango_layout_get_text(line->layout);
  for (GSList* r = line->runs; r != nullptr; r = r->next) {
    const auto* run = static_cast<const PangoGlyphItem*>(r->data);
    const Color c = RunColor(run, color);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    painter.Show(cr, text, run, x, y);
    x += pango_glyph_string_get_width(run->glyphs) / double{PANGO_SCALE};
  }
}

// Draws `layout` with its top left corner at (x, y).
void ShowLayout(cairo_t* cr, PangoLayout* layout, double x, double y, Color color) {
  RunPainter painter;
  PangoLayoutIter* it = pango_layout_get_iter(layout);
  do {
    PangoRectangle logical;
    pango_layout_iter_get_line_extents(it, nullptr, &logical);
    ShowLine(cr, painter, pango_layout_iter_get_line_readonly(it), x + logical.x / double{PANGO_SCALE},
             y + pango_layout_iter_get_baseline(it) / double{PANGO_SCALE}, color);
  } while (pango_layout_iter_next_line(it));
  pango_layout_iter_free(it);
}

// ---- the flow ----

// One laid-out line drawn inside a unit.
struct Run {
  PangoLayoutLine* line = nullptr;
  double x = 0;         // of the line's origin, from the content's left edge
  double baseline = 0;  // from the unit's top
  Color color;
};

// The smallest piece of a page: never split across two.
struct Unit {
  double gap = 0;  // space above it, dropped at the top of a page
  double height = 0;
  bool keep_with_next = false;  // on the same page as the next unit of its block
  bool bar = false;             // beside the block's colour bar
  bool rule = false;            // a hairline across the content, in the unit's middle
  std::vector<Run> runs;
};

// A bookmark in the PDF's outline, made when the unit is placed.
struct Mark {
  std::size_t unit = 0;
  std::string name;
  int parent = CAIRO_PDF_OUTLINE_ROOT;
  int* id = nullptr;  // receives the outline id (for children)
  bool open = false;
  // When set, the parent is read from here as the mark is placed: blocks
  // laid out ahead name a parent whose outline entry is not made yet.
  const int* parent_at_place = nullptr;
};

struct TextStyle {
  const PangoFontDescription* font = nullptr;
  Color color = kInk;
  double leading = 0;  // added to each line, half above and half below
};

// Laid out and drawn at the top of each page a block continues on
// ("Check-in · 2026-11-18, continued"), only when it does.
struct Continued {
  Styled text;
  TextStyle style;
  double x = 0;
};

struct Block {
  std::vector<Unit> units;
  std::vector<Mark> marks;
  Color bar_color;
  bool keep_whole = false;  // move to the next page rather than split, when short
  std::optional<Continued> continued;
  std::vector<LayoutPtr> layouts;  // own the lines of the units' runs
};

// One cell of a table row.
struct Cell {
  std::string_view text;
  const TextStyle* style = nullptr;
  double x = 0, width = 0;  // from the content's left edge
  PangoAlignment align = PANGO_ALIGN_LEFT;
  PangoAttrList* attrs = nullptr;
};

// A context for laying out the document's text: points at 72 dpi, and the
// metrics unhinted (as `cr` draws them).
ContextPtr MakeContext(PangoFontMap* fonts, cairo_t* cr) {
  ContextPtr context(pango_font_map_create_context(fonts));
  pango_cairo_context_set_resolution(context.get(), 72);  // a font's size is in points
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
  pango_cairo_context_set_font_options(context.get(), options);
  cairo_font_options_destroy(options);
  pango_context_set_round_glyph_positions(context.get(), FALSE);
  pango_cairo_update_context(cr, context.get());
  return context;
}

// Lays text out into units of a block, with one PangoContext. The layouts it
// makes belong to the block, so a block and its context's font map must only
// be used by one thread at a time.
class Typesetter {
 public:
  Typesetter(PangoContext* context, double content_width)
      : context_(context), content_width_(content_width) {}

  double content_width() const { return content_width_; }

  // Takes `b`'s layouts back for reuse; `b` was laid out by this typesetter
  // and is no longer used.
  void Reclaim(Block& b) {
    for (LayoutPtr& layout : b.layouts) spare_.push_back(std::move(layout));
    b.layouts.clear();
  }

  // Appends one unit per line of `text`, laid out at `x` to the right edge. The first unit gets
  // `gap`; the last one `keep_with_next`. A paragraph never leaves one line alone at the bottom or
  // the top of a page.
  void AddText(Block& b, std::string_view text, const TextStyle& s, double x = 0, double gap = 0,
               bool keep_with_next = false, PangoAttrList* attrs = nullptr) {
    PangoLayout* layout = Layout(b, text, s, content_width_ - x, PANGO_ALIGN_LEFT, attrs);
    const std::size_t first = b.units.size();
    PangoLayoutIter* it = pango_layout_get_iter(layout);
    do {
      PangoRectangle logical;
      pango_layout_iter_get_line_extents(it, nullptr, &logical);
      const int baseline = pango_layout_iter_get_baseline(it);
      Unit u;
      u.height = logical.height / double{PANGO_SCALE} + s.leading;
      u.runs.push_back({pango_layout_iter_get_line_readonly(it),
                        x + logical.x / double{PANGO_SCALE},
                        s.leading / 2 + (baseline - logical.y) / double{PANGO_SCALE}, s.color});
      b.units.push_back(std::move(u));
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    const std::size_t n = b.units.size() - first;
    b.units[first].gap = gap;
    if (n >= 2) b.units[first].keep_with_next = true;
    if (n >= 3) b.units[b.units.size() - 2].keep_with_next = true;
    b.units.back().keep_with_next = keep_with_next;
  }

  void AddText(Block& b, const Styled& text, const TextStyle& s, double x = 0, double gap = 0,
               bool keep_with_next = false) {
    AddText(b, text.text(), s, x, gap, keep_with_next, text.attrs());
  }

  // Appends one unit holding every cell, as tall as its tallest cell; cells
  // are aligned on their first line, or on their last with `bottom_align`.
  void AddRow(Block& b, const std::vector<Cell>& cells, double gap, bool keep_with_next = false,
              bool bottom_align = false) {
    Unit u;
    u.gap = gap;
    u.keep_with_next = keep_with_next;
    std::vector<std::pair<std::size_t, double>> cell_runs;  // first run, height
    for (const Cell& c : cells) {
      cell_runs.emplace_back(u.runs.size(), 0);
      PangoLayout* layout = Layout(b, c.text, *c.style, c.width, c.align, c.attrs);
      double y = 0;
      PangoLayoutIter* it = pango_layout_get_iter(layout);
      do {
        PangoRectangle logical;
        pango_layout_iter_get_line_extents(it, nullptr, &logical);
        const int baseline = pango_layout_iter_get_baseline(it);
        u.runs.push_back({pango_layout_iter_get_line_readonly(it),
                          c.x + logical.x / double{PANGO_SCALE},
                          y + c.style->leading / 2 + (baseline - logical.y) / double{PANGO_SCALE},
                          c.style->color});
        y += logical.height / double{PANGO_SCALE} + c.style->leading;
      } while (pango_layout_iter_next_line(it));
      pango_layout_iter_free(it);
      cell_runs.back().second = y;
      u.height = std::max(u.height, y);
    }
    if (bottom_align) {
      for (std::size_t c = 0; c < cell_runs.size(); ++c) {
        const std::size_t end = c + 1 < cell_runs.size() ? cell_runs[c + 1].first : u.runs.size();
        for (std::size_t r = cell_runs[c].first; r < end; ++r) {
          u.runs[r].baseline += u.height - cell_runs[c].second;
        }
      }
    }
    b.units.push_back(std::move(u));
  }

  void AddRule(Block& b, double gap, bool keep_with_next) {
    Unit u;
    u.gap = gap;
    u.height = 1;
    u.rule = true;
    u.keep_with_next = keep_with_next;
    b.units.push_back(std::move(u));
  }

 private:
  // A new layout owned by `b`, `width` wide, holding `text` (made valid).
  PangoLayout* Layout(Block& b, std::string_view text, const TextStyle& s, double width,
                      PangoAlignment align, PangoAttrList* attrs) {
    if (spare_.empty()) {
      spare_.emplace_back(pango_layout_new(context_));
      pango_layout_set_wrap(spare_.back().get(), PANGO_WRAP_WORD_CHAR);
    }
    PangoLayout* layout = b.layouts.emplace_back(std::move(spare_.back())).get();
    spare_.pop_back();
    pango_layout_set_font_description(layout, s.font);
    pango_layout_set_width(layout, static_cast<int>(width * PANGO_SCALE));
    pango_layout_set_alignment(layout, align);
    pango_layout_set_attributes(layout, attrs);
    std::string scratch;
    const std::string_view clean = Clean(text, scratch);
    pango_layout_set_text(layout, clean.data(), static_cast<int>(clean.size()));
    return layout;
  }

  PangoContext* context_;
  double content_width_;
  std::vector<LayoutPtr> spare_;  // reclaimed, for Layout() to reuse
};

// Pages, the flow that fills them, and the pango objects every page shares.
class Writer {
 public:
  Writer(cairo_surface_t* surface, cairo_t* cr, double width, double height, std::string footer)
      : surface_(surface),
        cr_(cr),
        width_(width),
        height_(height),
        footer_(std::move(footer)),
        context_(MakeContext(pango_cairo_font_map_get_default(), cr)),
        typesetter_(context_.get(), content_width()) {
    footer_font_ = MakeFont(7.5);
    footer_layout_.reset(pango_layout_new(context_.get()));
    pango_layout_set_font_description(footer_layout_.get(), footer_font_.get());
  }

  double content_width() const { return width_ - 2 * kMargin; }
  double content_height() const { return height_ - kMargin - kBottomMargin; }
  cairo_t* cr() const { return cr_; }
  PangoContext* context() const { return context_.get(); }
  // Lays out with context(): for this thread's blocks.
  Typesetter& typesetter() { return typesetter_; }
  // False once drawing or writing failed (the rest would be lost anyway).
  bool ok() const {
    return cairo_status(cr_) == CAIRO_STATUS_SUCCESS &&
           cairo_surface_status(surface_) == CAIRO_STATUS_SUCCESS;
  }

  // Draws the block's units, starting new pages where needed. Only reads `b`.
  void Place(const Block& b) {
    double total = 0;
    for (const Unit& u : b.units) total += u.gap + u.height;
    if (b.keep_whole && has_content_ && y_ + total > bottom() &&
        total <= kKeepWholeShare * content_height()) {
      NewPage();
    }
    if (page_ == 0) NewPage();
    std::size_t next_mark = 0;
    bool item_started = false;  // a unit beside the bar is placed
    for (std::size_t i = 0; i < b.units.size(); ++i) {
      const Unit& u = b.units[i];
      bool fresh_page = false;
      if (has_content_ && y_ + u.gap + u.height > bottom()) {
        fresh_page = true;
      } else if (has_content_ && u.keep_with_next) {
        // The unit and the ones it keeps with must fit; when together they
        // are taller than a page, they are split after all.
        double need = u.gap + u.height;
        for (std::size_t j = i; j + 1 < b.units.size() && b.units[j].keep_with_next; ++j) {
          need += b.units[j + 1].gap + b.units[j + 1].height;
          if (need > content_height()) break;
        }
        fresh_page = y_ + need > bottom() && need <= content_height();
      }
      if (fresh_page) {
        NewPage();
        if (item_started && b.continued) {
          Block top;
          typesetter_.AddText(top, b.continued->text, b.continued->style, b.continued->x);
          for (Unit& t : top.units) {
            t.bar = true;
            Draw(t, b.bar_color);
            y_ += t.height;
          }
          y_ += 4;
          has_content_ = true;
        }
      }
      if (has_content_) y_ += u.gap;
      Draw(u, b.bar_color);
      for (; next_mark < b.marks.size() && b.marks[next_mark].unit == i; ++next_mark) {
        AddMark(b.marks[next_mark]);
      }
      y_ += u.height;
      has_content_ = true;
      item_started = item_started || u.bar;
    }
    CloseBar();
  }

  // A box `height` tall at the flow's position after `gap`, on a new page if
  // it does not fit on this one. Returns its top; the caller draws in it.
  double Reserve(double height, double gap) {
    if (page_ == 0) NewPage();
    if (has_content_ && y_ + gap + height > bottom()) NewPage();
    if (has_content_) y_ += gap;
    const double top = y_;
    y_ += height;
    has_content_ = true;
    return top;
  }

  // Whether `height` more (after a gap) fits on this page.
  bool Fits(double height) const { return !has_content_ || y_ + height <= bottom(); }

  void AddOutline(const std::string& name, int parent, int* id, bool open) {
    AddMark({0, name, parent, id, open});
  }

  // Ends this page (if one is started) and starts the next.
  void NewPage() {
    if (page_ > 0) {
      CloseBar();
      DrawFooter();
      cairo_show_page(cr_);
    }
    ++page_;
    y_ = kMargin;
    has_content_ = false;
  }

  // Draws the last page's footer; the surface's finish emits that page.
  void Finish() {
    if (page_ == 0) NewPage();
    CloseBar();
    DrawFooter();
  }

 private:
  double bottom() const { return height_ - kBottomMargin; }

  void Draw(const Unit& u, Color bar_color) {
    if (u.rule) {
      cairo_set_source_rgb(cr_, kFaint.r, kFaint.g, kFaint.b);
      cairo_set_line_width(cr_, 0.6);
      cairo_move_to(cr_, kMargin, y_ + u.height / 2);
      cairo_line_to(cr_, width_ - kMargin, y_ + u.height / 2);
      cairo_stroke(cr_);
    }
    for (const Run& r : u.runs) ShowLine(cr_, painter_, r.line, kMargin + r.x, y_ + r.baseline, r.color);
    if (u.bar) {
      if (!bar_open_) bar_top_ = y_;
      bar_open_ = true;
      bar_bottom_ = y_ + u.height;
      bar_color_ = bar_color;
    }
  }

  void CloseBar() {
    if (!bar_open_) return;
    bar_open_ = false;
    cairo_set_source_rgb(cr_, bar_color_.r, bar_color_.g, bar_color_.b);
    cairo_rectangle(cr_, kMargin, bar_top_ + 1, kBarWidth, bar_bottom_ - bar_top_ - 2);
    cairo_fill(cr_);
  }

  void AddMark(const Mark& m) {
    const std::string link = "page=" + std::to_string(page_) + " pos=[" +
                             std::to_string(static_cast<int>(kMargin)) + " " +
                             std::to_string(static_cast<int>(std::max(0.0, y_ - 6))) + "]";
    const int id = cairo_pdf_surface_add_outline(
        surface_, m.parent_at_place != nullptr ? *m.parent_at_place : m.parent, m.name.c_str(), link.c_str(),
        m.open ? CAIRO_PDF_OUTLINE_FLAG_OPEN : static_cast<cairo_pdf_outline_flags_t>(0));
    if (m.id != nullptr) *m.id = id;
  }

  void DrawFooter() {
    const std::string text = "Hearth \u00b7 " + footer_ + " \u00b7 page " + std::to_string(page_);
    pango_layout_set_text(footer_layout_.get(), text.data(), static_cast<int>(text.size()));
    PangoRectangle logical;
    pango_layout_get_extents(footer_layout_.get(), nullptr, &logical);
    const double baseline = pango_layout_get_baseline(footer_layout_.get()) / double{PANGO_SCALE};
    ShowLayout(cr_, footer_layout_.get(), (width_ - logical.width / double{PANGO_SCALE}) / 2,
               height_ - kFooterBaseline - baseline, kMuted);
  }

  cairo_surface_t* surface_;
  cairo_t* cr_;
  double width_, height_;
  std::string footer_;
  ContextPtr context_;
  Typesetter typesetter_;
  FontPtr footer_font_;
  LayoutPtr footer_layout_;
  RunPainter painter_;
  int page_ = 0;
  double y_ = 0;
  bool has_content_ = false;
  bool bar_open_ = false;
  double bar_top_ = 0, bar_bottom_ = 0;
  Color bar_color_;
};

// ---- the charts' canvas ----

class CairoCanvas final : public Canvas {
 public:
  CairoCanvas(cairo_t* cr, PangoContext* context)
      : cr_(cr), layout_(pango_layout_new(context)), font_(MakeFont(9)) {}

  void Line(double x1, double y1, double x2, double y2, Color c, double width) override {
    cairo_new_path(cr_);
    cairo_move_to(cr_, x1, y1);
    cairo_line_to(cr_, x2, y2);
    Stroke(c, width);
  }

  void Polyline(const std::vector<std::pair<double, double>>& points, Color c,
                double width) override {
    if (points.size() < 2) return;
    cairo_new_path(cr_);
    cairo_move_to(cr_, points[0].first, points[0].second);
    for (std::size_t i = 1; i < points.size(); ++i) {
      cairo_line_to(cr_, points[i].first, points[i].second);
    }
    Stroke(c, width);
  }

  void Rect(double x, double y, double w, double h, Color fill) override {
    if (w <= 0 || h <= 0) return;
    cairo_new_path(cr_);
    cairo_set_source_rgb(cr_, fill.r, fill.g, fill.b);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
  }

  void Circle(double cx, double cy, double r, Color fill) override {
    if (r <= 0) return;
    cairo_new_path(cr_);
    cairo_set_source_rgb(cr_, fill.r, fill.g, fill.b);
    cairo_arc(cr_, cx, cy, r, 0, 2 * G_PI);
    cairo_fill(cr_);
  }

  void Text(double x, double y, const std::string& utf8, double size, Color c,
            Align align) override {
    if (size <= 0 || utf8.empty()) return;
    pango_font_description_set_size(font_.get(), static_cast<gint>(size * PANGO_SCALE));
    pango_layout_set_font_description(layout_.get(), font_.get());
    std::string scratch;
    const std::string_view clean = Clean(utf8, scratch);
    pango_layout_set_text(layout_.get(), clean.data(), static_cast<int>(clean.size()));
    PangoRectangle logical;
    pango_layout_get_extents(layout_.get(), nullptr, &logical);
    double left = x - logical.x / double{PANGO_SCALE};
    const double w = logical.width / double{PANGO_SCALE};
    if (align == Align::kMiddle) left -= w / 2;
    if (align == Align::kEnd) left -= w;
    const double baseline = pango_layout_get_baseline(layout_.get()) / double{PANGO_SCALE};
    cairo_new_path(cr_);
    ShowLayout(cr_, layout_.get(), left, y - baseline, c);
  }

 private:
  void Stroke(Color c, double width) {
    cairo_set_source_rgb(cr_, c.r, c.g, c.b);
    cairo_set_line_width(cr_, width);
    cairo_set_line_cap(cr_, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr_);
  }

  cairo_t* cr_;
  LayoutPtr layout_;
  FontPtr font_;
};

// ---- laying out ahead ----

// Builds a run of blocks on two threads, the worker's and the caller's, while
// the caller places them: laying text out (shaping) is about half of the
// work, and it does not depend on where the blocks land.
//
// The blocks are built in chunks of kChunk, each by one thread with its own
// typesetter: the worker's has its own font map (pango objects are not
// thread-safe; separate font maps are). The worker builds chunks ahead in
// order; when the caller needs a chunk the worker is still building, it
// builds the next unclaimed one itself rather than wait. A chunk is used by
// one thread at a time: its builder, then the caller, which only reads a
// worker's chunk (draws its lines) and hands it back through Recycle() for
// the worker to free, so the worker's fonts are only referenced and released
// on the worker thread. Drawing a worker's line only reads its fonts' cairo
// scaled fonts, which laying it out has made, and which cairo shares between
// the two font maps (so the PDF embeds each font once) and guards itself.
// At most kAhead chunks are built and not recycled, which bounds memory.
// Which thread builds a chunk changes neither its blocks nor their order, so
// the output is the same as laid out on one thread.
class BlockPipeline {
 public:
  struct Chunk {
    std::vector<Block> blocks;  // empty once every block was handed out
    bool by_worker = false;
  };
  // Builds block `i` of `count` into an empty block, with `typesetter`; must
  // only read what stays unchanged while the pipeline lives, and not depend
  // on the blocks built before.
  using Build = std::function<void(Typesetter& typesetter, std::size_t i, Block&)>;

  // `context` is the worker's (from its own font map); `own` is the caller's.
  BlockPipeline(std::size_t count, ContextPtr context, Typesetter& own, Build build)
      : count_(count),
        chunks_((count + kChunk - 1) / kChunk),
        context_(std::move(context)),
        own_(own),
        build_(std::move(build)),
        worker_([this] { Run(); }) {}

  // Stops the worker, when it is not done, and waits for it.
  ~BlockPipeline() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  BlockPipeline(const BlockPipeline&) = delete;
  BlockPipeline& operator=(const BlockPipeline&) = delete;

  // The next chunk, in order; one without blocks once all were handed out.
  Chunk Next() {
    std::unique_lock lock(mutex_);
    while (true) {
      if (next_ == chunks_) return {};
      if (auto it = ready_.find(next_); it != ready_.end()) {
        Chunk chunk = std::move(it->second);
        ready_.erase(it);
        ++next_;
        return chunk;
      }
      if (claimed_ < chunks_ && (claimed_ == next_ || out_ < kAhead)) {
        // Ours is not claimed yet, or the worker is on it: build one here.
        const std::size_t k = claimed_++;
        ++out_;
        lock.unlock();
        Chunk chunk = BuildChunk(own_, k);
        lock.lock();
        ready_.emplace(k, std::move(chunk));
        continue;
      }
      changed_.wait(lock);
    }
  }

  // Gives a chunk from Next() back, once the caller no longer uses it.
  void Recycle(Chunk chunk) {
    if (!chunk.by_worker) {
      for (Block& b : chunk.blocks) own_.Reclaim(b);
    }
    {
      std::lock_guard lock(mutex_);
      --out_;
      if (chunk.by_worker) recycled_.push_back(std::move(chunk));
    }
    changed_.notify_all();
  }

 private:
  static constexpr std::size_t kChunk = 64;  // blocks per chunk
  // Chunks built and not yet recycled: enough for the worker to keep busy
  // while the caller draws the summary and the charts.
  static constexpr std::size_t kAhead = 32;

  Chunk BuildChunk(Typesetter& typesetter, std::size_t k) {
    Chunk chunk{std::vector<Block>(std::min(kChunk, count_ - k * kChunk)),
                &typesetter != &own_};
    for (std::size_t i = 0; i < chunk.blocks.size(); ++i) {
      build_(typesetter, k * kChunk + i, chunk.blocks[i]);
    }
    return chunk;
  }

  void Run() {
    Typesetter typesetter(context_.get(), own_.content_width());
    while (true) {
      std::vector<Chunk> recycled;
      std::size_t k = 0;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || claimed_ == chunks_ || out_ < kAhead; });
        if (stop_ || claimed_ == chunks_) return;
        k = claimed_++;
        ++out_;
        recycled.swap(recycled_);
      }
      // Their layouts are reused or freed here, on the worker thread.
      for (Chunk& c : recycled) {
        for (Block& b : c.blocks) typesetter.Reclaim(b);
      }
      recycled.clear();
      Chunk chunk = BuildChunk(typesetter, k);
      {
        std::lock_guard lock(mutex_);
        ready_.emplace(k, std::move(chunk));
      }
      changed_.notify_all();
    }
  }

  const std::size_t count_;
  const std::size_t chunks_;
  ContextPtr context_;  // the worker's only while it runs
  Typesetter& own_;
  const Build build_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::size_t, Chunk> ready_;  // built, not yet handed out, by index
  std::vector<Chunk> recycled_;         // the worker's, handed back, not yet freed
  std::size_t claimed_ = 0;             // chunks a thread has started building
  std::size_t next_ = 0;                // the chunk Next() hands out next
  std::size_t out_ = 0;                 // chunks claimed and not yet recycled
  bool stop_ = false;                   // the caller wants no more
  // Last: starts once the members above are ready, joins before they go.
  std::thread worker_;
};

// ---- the document ----

// Whether the filters show less than everything (kinds, tags or author).
bool Narrowed(const Filters& f) {
  std::vector<model::Kind> kinds = f.kinds;
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  const std::vector<model::Kind> all = {model::Kind::kEntry, model::Kind::kAppreciation,
                                        model::Kind::kCommitment, model::Kind::kCheckin};
  return (!kinds.empty() && kinds != all) || !f.tags.empty() || f.author.has_value();
}

// The filter sentence every format shows ("Filtered: Only ..."), and whether
// the exporter's private entries are included. Empty when nothing is filtered.
std::string FilterNote(const Document& doc) {
  std::string out = FilterSentence(doc, [](const std::string& t) { return t; });
  if (doc.filters.include_private) {
    if (!out.empty()) out += " ";
    out += doc.exporter + "\u2019s private entries are included.";
  }
  return out;
}

// "weekly" -> "Weekly" (the adjectives are ASCII).
std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// The parts of an item's header line, separated by middle dots.
std::string JoinMeta(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " \u00b7 ") + p;
  return out;
}

bool HasChartData(const Document& doc) {
  for (const auto& s : doc.scores) {
    if (!s.points.empty()) return true;
  }
  for (const auto& counts : doc.appreciations_per_week.counts) {
    for (auto n : counts) {
      if (n > 0) return true;
    }
  }
  return !doc.commitments.empty();
}

// The index of `name` among the members (for its colour), or none.
std::optional<std::size_t> MemberIndex(const Document& doc, const std::string& name) {
  for (std::size_t i = 0; i < doc.members.size(); ++i) {
    if (doc.members[i] == name) return i;
  }
  return std::nullopt;
}

class Composer {
 public:
  Composer(Writer& w, const Document& doc) : w_(w), t_(w.typesetter()), doc_(doc) {
    title_font_ = MakeFont(24, PANGO_WEIGHT_BOLD);
    names_font_ = MakeFont(15);
    period_font_ = MakeFont(11.5);
    h1_font_ = MakeFont(14, PANGO_WEIGHT_BOLD);
    h2_font_ = MakeFont(12.5, PANGO_WEIGHT_BOLD);
    body_font_ = MakeFont(10.5);
    item_title_font_ = MakeFont(11.5, PANGO_WEIGHT_BOLD);
    small_font_ = MakeFont(8.5);
    small_bold_font_ = MakeFont(8.5, PANGO_WEIGHT_BOLD);
    table_font_ = MakeFont(9);
    table_bold_font_ = MakeFont(9, PANGO_WEIGHT_BOLD);
    label_font_ = MakeFont(10.5, PANGO_WEIGHT_BOLD);
    prompt_font_ = MakeFont(9, PANGO_WEIGHT_NORMAL, PANGO_STYLE_ITALIC);
    title_ = {title_font_.get(), kInk, 0};
    names_ = {names_font_.get(), kInk, 2};
    period_ = {period_font_.get(), kInk, 2};
    h1_ = {h1_font_.get(), kInk, 0};
    h2_ = {h2_font_.get(), kInk, 0};
    body_ = {body_font_.get(), kInk, 3.5};
    item_title_ = {item_title_font_.get(), kInk, 2};
    small_ = {small_font_.get(), kMuted, 2};
    small_bold_ = {small_bold_font_.get(), kMuted, 1.5};
    table_ = {table_font_.get(), kInk, 2.5};
    label_ = {label_font_.get(), kInk, 2};
    prompt_ = {prompt_font_.get(), kMuted, 2};
    kept_ = {table_font_.get(), kKept, 2.5};
    missed_ = {table_bold_font_.get(), kMissed, 2.5};
  }

  void Compose() {
    // The items' blocks are laid out ahead on a second thread from the start
    // (it reads doc_ and the styles, which stay unchanged meanwhile), while
    // this thread draws the summary and the charts; Items() places them.
    std::optional<BlockPipeline> pipeline;
    if (!doc_.items.empty()) {
      const std::vector<node::ItemView>& items = doc_.items;
      PangoFontMap* fonts = pango_cairo_font_map_new();
      pipeline.emplace(items.size(), MakeContext(fonts, w_.cr()), t_,
                       [this, &items](Typesetter& t, std::size_t i, Block& b) {
                         const std::string label = MonthHeading(ExportDay(items[i]));
                         if (i == 0 || MonthHeading(ExportDay(items[i - 1])) != label) {
                           Mark month{0, label, CAIRO_PDF_OUTLINE_ROOT, nullptr, false};
                           month.parent_at_place = &journal_outline_;
                           b.marks.push_back(std::move(month));
                           t.AddText(b, label, h2_, 0, 26, true);
                           t.AddRule(b, 3, true);
                         }
                         Item(t, b, items[i]);
                       });
      g_object_unref(fonts);  // the context holds it
    }
    Cover();
    if (doc_.items.empty() && doc_.commitments.empty()) return;
    if (HasChartData(doc_)) Charts();
    if (pipeline) Items(*pipeline);
  }

 private:
  void Cover() {
    Block b;
    b.marks.push_back({0, "Summary", CAIRO_PDF_OUTLINE_ROOT, nullptr, false});
    t_.AddText(b, "Our journal", title_, 0, 0, true);
    std::string names;
    for (const auto& m : doc_.members) names += (names.empty() ? "" : " & ") + m;
    if (!names.empty()) t_.AddText(b, names, names_, 0, 4, true);
    t_.AddText(b, PeriodLabel(doc_), period_, 0, 14, true);
    t_.AddText(b,
               "Prepared by " + doc_.exporter + " on " + LongDate(DayOfMs(doc_.generated_ms)) +
                   " with Hearth.",
               small_, 0, 4, true);
    const std::string filters = FilterNote(doc_);
    if (!filters.empty()) t_.AddText(b, filters, small_, 0, 2, true);
    if (doc_.items.empty() && doc_.commitments.empty()) {
      t_.AddText(b,
                 Narrowed(doc_.filters) ? "There is nothing in this period that matches these "
                                          "filters."
                                        : "There is nothing in this period.",
                 body_, 0, 36);
      w_.Place(b);
      return;
    }

    // The summary: a label column and a right-aligned figure column.
    t_.AddText(b, "Summary", h1_, 0, 30, true);
    t_.AddRule(b, 4, true);
    const double label_w = 230, figure_x = 230, figure_w = 40;
    auto row = [&](const std::string& label, std::uint64_t n, double indent, double gap) {
      const std::string figure = std::to_string(n);
      t_.AddRow(b,
                {Cell{label, &body_, indent, label_w - indent},
                 Cell{figure, &body_, figure_x, figure_w, PANGO_ALIGN_RIGHT}},
                gap, true);
    };
    if (doc_.appreciations.empty()) {
      row("Appreciations", 0, 0, 6);
    } else {
      t_.AddText(b, "Appreciations", body_, 0, 6, true);
      for (const auto& a : doc_.appreciations) {
        row(a.from + " \u2192 " + a.to, a.count, 14, 0);
      }
    }
    row("Entries", doc_.entries, 0, 4);
    row("Memories", doc_.memories, 0, 0);
    if (doc_.private_entries > 0) row("Private entries", doc_.private_entries, 0, 0);
    row("Check-ins", doc_.checkins, 0, 0);
    b.units.back().keep_with_next = false;
    w_.Place(b);

    if (!doc_.commitments.empty()) CommitmentTable();
  }

  void CommitmentTable() {
    Block b;
    t_.AddText(b, "Commitments", h1_, 0, 30, true);
    t_.AddRule(b, 4, true);
    // Figure columns on the right; the commitment (its text, then who keeps
    // it and how often) takes the rest.
    struct Column {
      const char* title;
      double width;
    };
    const Column figures[] = {{"Kept", 40},   {"Missed", 44}, {"Not recorded", 54},
                              {"Streak", 44}, {"Last 4", 44}, {"Last 12", 48}};
    constexpr double kPad = 8;
    double used = 0;
    for (const auto& c : figures) used += c.width;
    std::vector<double> xs = {0, w_.content_width() - used};
    for (const auto& c : figures) xs.push_back(xs.back() + c.width);
    auto row = [&](const std::vector<std::string>& texts, const TextStyle* style,
                   PangoAttrList* first_attrs) {
      std::vector<Cell> out;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        if (i == 0) {
          out.push_back(Cell{texts[0], style, 0, xs[1] - kPad, PANGO_ALIGN_LEFT, first_attrs});
        } else {
          out.push_back(
              Cell{texts[i], style, xs[i] + kPad, xs[i + 1] - xs[i] - kPad, PANGO_ALIGN_RIGHT});
        }
      }
      return out;
    };
    std::vector<std::string> head = {"Commitment"};
    for (const auto& c : figures) head.push_back(c.title);
    t_.AddRow(b, row(head, &small_bold_, nullptr), 4, true, /*bottom_align=*/true);
    t_.AddRule(b, 2, true);
    for (const CommitmentSummary& c : doc_.commitments) {
      const node::FollowThroughStats& s = c.stats;
      Styled text;
      text.Add(c.text).Add("\n" + Capitalized(RhythmAdjective(c.rhythm)) + ", kept by " + c.owner,
                           PANGO_WEIGHT_NORMAL, &kMuted, 0.85);
      t_.AddRow(b,
                row({text.text(), std::to_string(c.kept), std::to_string(c.missed),
                     std::to_string(c.not_recorded), std::to_string(s.streak),
                     PercentOrDash(s.kept4, s.recorded4), PercentOrDash(s.kept12, s.recorded12)},
                    &table_, text.attrs()),
                6);
    }
    t_.AddText(b,
               "Kept, missed and not recorded count the commitment\u2019s periods inside the "
               "exported period. Streak, last 4 and last 12 are as of " +
                   LongDate(doc_.to_day) +
                   ": the periods kept in a row, and the share of the last 4 and 12 recorded "
                   "periods that were kept.",
               small_, 0, 10);
    w_.Place(b);
  }

  void Charts() {
    w_.NewPage();
    Block b;
    b.marks.push_back({0, "Charts", CAIRO_PDF_OUTLINE_ROOT, nullptr, false});
    t_.AddText(b, "Charts", h1_, 0, 0, true);
    t_.AddRule(b, 4, false);
    w_.Place(b);
    CairoCanvas canvas(w_.cr(), w_.context());
    const double width = w_.content_width();
    Chart(canvas, "Connection score over time", ConnectionChartSize(doc_, width).height, width,
          DrawConnectionChart);
    Chart(canvas, "Appreciations per week", AppreciationChartSize(doc_, width).height, width,
          DrawAppreciationChart);
    Chart(canvas, "Follow-through", FollowThroughChartSize(doc_, width).height, width,
          DrawFollowThroughChart);
  }

  // The chart under its heading, both on a new page when they do not fit.
  void Chart(CairoCanvas& canvas, const char* heading, double height, double width,
             void (*draw)(Canvas&, const Document&, double)) {
    if (!(height > 0)) return;
    // A chart taller than a page is drawn smaller rather than cut.
    const double scale = std::min(1.0, (w_.content_height() - 40) / height);
    Block b;
    t_.AddText(b, heading, h2_, 0, 26, false);
    double heading_height = 0;
    for (const Unit& u : b.units) heading_height += u.gap + u.height;
    if (!w_.Fits(heading_height + kChartGap + height * scale)) w_.NewPage();
    w_.Place(b);
    const double top = w_.Reserve(height * scale, kChartGap);
    cairo_t* cr = w_.cr();
    cairo_save(cr);
    cairo_translate(cr, kMargin, top);
    cairo_scale(cr, scale, scale);
    draw(canvas, doc_, width);
    cairo_restore(cr);
  }

  void Items(BlockPipeline& pipeline) {
    w_.NewPage();
    w_.AddOutline("Journal", CAIRO_PDF_OUTLINE_ROOT, &journal_outline_, true);
    Block intro;
    t_.AddText(intro, "Journal", h1_, 0, 0, true);
    t_.AddText(intro,
               Narrowed(doc_.filters) ? "What matches the filters in the period, oldest first."
                                      : "Everything in the period, oldest first.",
               small_, 0, 3, true);
    w_.Place(intro);
    bool ok = true;
    for (auto chunk = pipeline.Next(); ok && !chunk.blocks.empty(); chunk = pipeline.Next()) {
      for (const Block& b : chunk.blocks) {
        w_.Place(b);
        ok = w_.ok();
        if (!ok) break;
      }
      pipeline.Recycle(std::move(chunk));
    }
  }

  void Item(Typesetter& t, Block& b, const node::ItemView& v) {
    const auto index = MemberIndex(doc_, v.author);
    b.bar_color = index ? MemberColor(*index) : kFaint;
    b.keep_whole = true;
    const double x = kItemIndent;
    const std::size_t first = b.units.size();

    Styled head;
    head.Add(KindLabel(v.kind), PANGO_WEIGHT_BOLD).Add(" \u00b7 " + FormatDate(v.day));
    if (v.kind == model::Kind::kCheckin) {
      head.Add(" \u00b7 week " + v.period);
    } else {
      head.Add(" \u00b7 " + v.author);
      if (v.kind == model::Kind::kAppreciation) head.Add(" to " + v.to);
    }
    if (v.memory) head.Add(" \u00b7 memory");
    if (v.is_private) head.Add(" \u00b7 private", PANGO_WEIGHT_BOLD);
    t.AddText(b, head, small_, x, kItemGap, true);
    if (!v.title.empty()) t.AddText(b, v.title, item_title_, x, 3, true);
    b.continued.emplace();
    b.continued->text.Add(KindLabel(v.kind), PANGO_WEIGHT_BOLD)
        .Add(" \u00b7 " + FormatDate(v.day) + ", continued");
    b.continued->style = small_;
    b.continued->x = x;

    switch (v.kind) {
      case model::Kind::kCommitment:
        Commitment(t, b, v, x);
        break;
      case model::Kind::kCheckin:
        Checkin(t, b, v, x);
        break;
      default:
        if (!v.text.empty()) t.AddText(b, v.text, body_, x, 3);
        break;
    }

    std::vector<std::string> meta;
    if (v.mood) meta.push_back("Mood " + std::to_string(*v.mood) + "/5");
    if (!v.tags.empty()) {
      std::string tags;
      for (const auto& tag : v.tags) tags += (tags.empty() ? "#" : "  #") + tag;
      meta.push_back(tags);
    }
    if (!meta.empty()) {
      t.AddText(b, JoinMeta(meta), small_, x, 3);
    }
    for (std::size_t i = first; i < b.units.size(); ++i) b.units[i].bar = true;
  }

  std::string OwnerLabel(const node::ItemView& v) const {
    switch (v.owner) {
      case model::Owner::kBoth:
        return "both";
      case model::Owner::kPartner:
        for (const auto& m : doc_.members) {
          if (m != v.author) return m;
        }
        return "the partner";
      default:
        return v.author;
    }
  }

  void Commitment(Typesetter& t, Block& b, const node::ItemView& v, double x) {
    t.AddText(b, v.text, item_title_, x, 3, true);
    t.AddText(b, Capitalized(RhythmAdjective(v.rhythm)) + ", kept by " + OwnerLabel(v), small_, x,
               2, !v.follow_through.empty());
    if (v.replaces != 0) {
      t.AddText(b, "It renegotiates an earlier commitment.", small_, x, 0, false);
    }
    if (v.replaced_by != 0) {
      t.AddText(b, "It was later renegotiated.", small_, x, 0, false);
    }
    if (v.follow_through.empty()) return;
    t.AddText(b, "Follow-through", small_bold_, x, 6, true);
    // Records without a note share rows, in columns; one with a note has a
    // row of its own. Either way they read in order, left to right.
    constexpr double kPeriodWidth = 58, kStateWidth = 44, kColumn = kPeriodWidth + kStateWidth + 14;
    const auto columns =
        std::max<std::size_t>(1, static_cast<std::size_t>((t.content_width() - x) / kColumn));
    std::vector<Cell> row;
    auto flush = [&] {
      if (!row.empty()) t.AddRow(b, row, 1);
      row.clear();
    };
    for (const auto& f : v.follow_through) {
      const TextStyle* state = f.kept ? &kept_ : &missed_;
      const std::string_view word = f.kept ? "kept" : "missed";
      if (f.note.empty()) {
        const double cx = x + static_cast<double>(row.size() / 2) * kColumn;
        row.push_back(Cell{f.period, &table_, cx, kPeriodWidth});
        row.push_back(Cell{word, state, cx + kPeriodWidth, kStateWidth});
        if (row.size() / 2 == columns) flush();
      } else {
        flush();
        const double note_x = x + kPeriodWidth + kStateWidth;
        row.push_back(Cell{f.period, &table_, x, kPeriodWidth});
        row.push_back(Cell{word, state, x + kPeriodWidth, kStateWidth});
        row.push_back(Cell{f.note, &table_, note_x, t.content_width() - note_x});
        flush();
      }
    }
    flush();
  }

  void Checkin(Typesetter& t, Block& b, const node::ItemView& v, double x) {
    const auto& prompts = node::CheckinPrompts();
    const double indent = x + 10;
    for (const auto& a : v.answers) {
      const std::size_t group = b.units.size();
      const auto index = MemberIndex(doc_, a.member);
      TextStyle name = label_;
      name.color = index ? MemberColor(*index) : kInk;
      t.AddText(b, a.member, name, x, 8, true);
      if (a.sealed) {
        t.AddText(b, a.member + "\u2019s answers are still sealed.", prompt_, indent, 1, false);
        continue;
      }
      bool any = false;
      for (std::size_t i = 0; i < a.answers.size() && i < prompts.size(); ++i) {
        if (a.answers[i].empty()) continue;
        any = true;
        t.AddText(b, prompts[i], prompt_, indent, 4, true);
        std::string answer = a.answers[i];
        if (i == 0 && answer.find_first_not_of("0123456789") == std::string::npos) {
          answer += " / 10";  // the connection score
        }
        t.AddText(b, answer, body_, indent, 0, false);
      }
      if (!any) t.AddText(b, "No answers.", prompt_, indent, 1, false);
      // A member's answers stay on one page when they fit on one.
      for (std::size_t i = group; i + 1 < b.units.size(); ++i) b.units[i].keep_with_next = true;
    }
  }

  Writer& w_;
  Typesetter& t_;  // w_'s, for the blocks made on this thread
  const Document& doc_;
  int journal_outline_ = 0;  // the "Journal" outline entry, once Items() made it
  FontPtr title_font_, names_font_, period_font_, h1_font_, h2_font_, body_font_, item_title_font_,
      small_font_, small_bold_font_, table_font_, table_bold_font_, label_font_, prompt_font_;
  TextStyle title_, names_, period_, h1_, h2_, body_, item_title_, small_, small_bold_, table_,
      label_, prompt_, kept_, missed_;
};

// Where cairo's output goes: a file whose first write error is kept.
struct Sink {
  std::FILE* file = nullptr;
  int error = 0;
};

cairo_status_t WriteToSink(void* closure, const unsigned char* data, unsigned int length) {
  auto* sink = static_cast<Sink*>(closure);
  if (sink->error != 0) return CAIRO_STATUS_WRITE_ERROR;
  if (std::fwrite(data, 1, length, sink->file) != length) {
    sink->error = errno != 0 ? errno : EIO;
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

Error WriteError(const std::string& out, const std::string& reason) {
  return MakeError(Errc::kStorage, "Could not write " + out + ": " + reason + ".");
}

std::string Reason(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

Status RenderPdf(const Document& doc, Paper paper, const std::string& out) {
  const double width = paper == Paper::kA4 ? 595.28 : 612;
  const double height = paper == Paper::kA4 ? 841.89 : 792;
  const std::string tmp = out + ".tmp";
  errno = 0;
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) return WriteError(out, Reason(errno != 0 ? errno : EIO));
  Sink sink{file, 0};

  cairo_status_t status;
  {
    std::unique_ptr<cairo_surface_t, CairoFree> surface(
        cairo_pdf_surface_create_for_stream(&WriteToSink, &sink, width, height));
    const std::string period = PeriodLabel(doc);
    const std::string title = "Hearth \u2014 " + period;
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, title.c_str());
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "Hearth");
    if (doc.generated_ms > 0) {  // the same document gives the same file
      const std::string created = FormatTimestamp(doc.generated_ms);
      cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATE_DATE,
                                     created.c_str());
    }
    {
      std::unique_ptr<cairo_t, CairoFree> cr(cairo_create(surface.get()));
      Writer writer(surface.get(), cr.get(), width, height, period);
      Composer(writer, doc).Compose();
      writer.Finish();
    }
    cairo_surface_finish(surface.get());
    status = cairo_surface_status(surface.get());
  }

  int err = sink.error;
  if (std::fflush(file) != 0 && err == 0) err = errno;
  if (err == 0 && status == CAIRO_STATUS_SUCCESS && ::fsync(fileno(file)) != 0) err = errno;
  if (std::fclose(file) != 0 && err == 0) err = errno;
  if (err != 0 || status != CAIRO_STATUS_SUCCESS) {
    std::remove(tmp.c_str());
    return WriteError(out, err != 0 ? Reason(err) : cairo_status_to_string(status));
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    return WriteError(out, Reason(err));
  }
  return {};
}

}  // namespace hearth::exporter
