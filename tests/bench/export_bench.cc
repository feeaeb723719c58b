// Benchmark: the therapy export of a ten-year, 100,000-op journal.
//
//   export_bench HEARTH_BIN JOURNAL_BENCH_BIN [--runs R] [--keep]
//
// Builds the journal with journal_bench (--keep), adds ten years of weekly
// check-ins from both partners' answers and weekly follow-through on two
// commitments, then times the real `hearth export` in every format from a
// cold process start (median of R runs), and reports the PDF's pages and size
// (pdfinfo). Goal (issue 6): the whole journal to PDF in under 5 s; the
// program exits 1 when the PDF's median misses it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/base/dates.h"
#include "core/node/node.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using namespace hearth;
using Clk = std::chrono::steady_clock;

namespace {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  std::size_t bytes = 0;
};

Timing TimeExport(const std::string& hearth, const fs::path& home, const std::string& format,
                  const fs::path& out, int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    fs::remove(out);
    const auto t0 = Clk::now();
    auto r = testing::RunProcess({hearth, "--home", home.string(), "export", "--format", format, "--out", out.string()},
                                 {{"HEARTH_PASSPHRASE", "\x01unset"}}, "", true);
    const auto t1 = Clk::now();
    if (r.exit_code != 0) {
      std::fprintf(stderr, "export %s failed (%d): %s\n", format.c_str(), r.exit_code, r.err.c_str());
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back(), static_cast<std::size_t>(fs::file_size(out))};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: export_bench HEARTH_BIN JOURNAL_BENCH_BIN [--runs R] [--keep]\n");
    return 2;
  }
  const std::string hearth = argv[1];
  const std::string journal_bench = argv[2];
  int runs = 5;
  bool keep = false;
  for (int i = 3; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
    if (std::string(argv[i]) == "--keep") keep = true;
  }
  const fs::path dir = fs::temp_directory_path() / ("hearth-export-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path home = dir / "home";
  auto made = testing::RunProcess({journal_bench, hearth, "--ops", "100000", "--runs", "1", "--keep", home.string()});
  if (made.exit_code != 0) {
    std::fprintf(stderr, "journal_bench failed: %s\n", made.err.c_str());
    return 1;
  }
  // Ten years of weekly practice, written the way the commands write it.
  const std::int64_t today = DayOfMs(SystemClock().NowMs());
  FixedClock clock((today - 3640) * 86'400'000LL + 10 * 3'600'000LL);
  auto opened = node::Node::Open(home, std::nullopt, clock);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  auto node = std::move(opened).value();
  auto walk = node->Commit("Walk together after dinner", model::Rhythm::kWeek, model::Owner::kBoth);
  auto date = node->Commit("Plan a date night", model::Rhythm::kWeek, model::Owner::kAuthor);
  if (!walk.ok() || !date.ok()) return 1;
  std::mt19937_64 rng(7);
  std::size_t weeks = 0;
  for (std::int64_t day = today - 3640; day <= today; day += 7, clock.Advance(7 * 86'400'000LL)) {
    const std::string score = std::to_string(4 + rng() % 7);
    if (!node->CheckIn({score, "The walk by the lake", "Your patience", "More time on weekends", ""}).ok() ||
        !node->FollowThrough(*walk, rng() % 4 != 0, "").ok() || !node->FollowThrough(*date, rng() % 3 != 0, "").ok()) {
      std::fprintf(stderr, "writing the practices failed\n");
      return 1;
    }
    ++weeks;
  }
  node.reset();

  std::printf("| format | median (min, max) | file | goal |\n|---|---|---|---|\n");
  bool goal_met = true;
  for (const char* format : {"pdf", "html", "md", "json"}) {
    const fs::path out = dir / (std::string("export.") + format);
    const Timing t = TimeExport(hearth, home, format, out, runs);
    std::string pages;
    if (std::string(format) == "pdf") {
      auto info = testing::RunProcess({"/usr/bin/pdfinfo", out.string()});
      const auto at = info.out.find("Pages:");
      if (at != std::string::npos) {
        pages = ", " + std::to_string(std::stol(info.out.substr(at + 6))) + " pages";
      }
    }
    if (std::string(format) == "pdf" && t.median_ms >= 5000) goal_met = false;
    std::printf("| `hearth export --format %s` | %.0f ms (%.0f, %.0f) | %.1f MiB%s | %s |\n", format, t.median_ms,
                t.min_ms, t.max_ms, static_cast<double>(t.bytes) / 1048576.0, pages.c_str(),
                std::string(format) == "pdf" ? "< 5 s" : "-");
  }
  std::printf("\nJournal: about 100,000 ops from journal_bench, plus %zu weekly check-ins and %zu follow-through "
              "records.\n", weeks, 2 * weeks);
  if (keep) {
    std::printf("Kept the journal in %s\n", home.c_str());
  } else {
    fs::remove_all(dir);
  }
  if (!goal_met) {
    std::fprintf(stderr, "The PDF export missed its goal (a median under 5 s).\n");
    return 1;
  }
  return 0;
}
