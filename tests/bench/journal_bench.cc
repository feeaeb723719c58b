// Benchmark: a generated ten-year journal of about 100,000 ops (20,000 items
// with edits), then the real `hearth` binary timed from cold process starts.
//
//   journal_bench HEARTH_BIN [--ops N] [--runs R] [--keep DIR]
//
// Prints a Markdown table (docs/benchmarks.md keeps the latest run). Goals:
// bulk append >= 100,000 ops/s; list -n 20 and search < 100 ms; write < 30 ms.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
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

const std::vector<std::string> kWords = {
    "we",      "walked", "talked", "dinner",   "morning", "coffee", "tired",  "laughed",
    "work",    "sunday", "kids",   "garden",   "rain",    "music",  "quiet",  "argument",
    "sorry",   "hug",    "plans",  "weekend",  "friends", "cooked", "movie",  "late",
    "early",   "happy",  "worried", "grateful", "listened", "patient", "home", "trip"};

std::string Sentence(std::mt19937_64& rng, int words) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i) s += ' ';
    s += kWords[rng() % kWords.size()];
  }
  // A rare word that search looks for (about 1 item in 200).
  if (rng() % 200 == 0) s += " lighthouse";
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double median_ms, min_ms, max_ms;
};

Timing TimeCommand(const std::vector<std::string>& argv, int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clk::now();
    auto r = testing::RunProcess(argv, {{"HEARTH_PASSPHRASE", "\x01unset"}}, "", true);
    auto t1 = Clk::now();
    if (r.exit_code != 0) {
      std::fprintf(stderr, "command failed (%d): %s\n", r.exit_code, r.err.c_str());
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return {Median(ms), *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end())};
}

std::uintmax_t DirSize(const fs::path& dir) {
  std::uintmax_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: journal_bench HEARTH_BIN [--ops N] [--runs R] [--keep DIR]\n");
    return 2;
  }
  const std::string hearth_bin = argv[1];
  std::size_t target_ops = 100000;
  int runs = 11;
  std::string keep;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--ops") target_ops = std::stoul(argv[i + 1]);
    if (a == "--runs") runs = std::stoi(argv[i + 1]);
    if (a == "--keep") keep = argv[i + 1];
  }
  const fs::path home = keep.empty() ? fs::temp_directory_path() / ("hearth-bench-" + std::to_string(::getpid()))
                                     : fs::path(keep);
  fs::remove_all(home);
  SystemClock clock;
  auto created = node::Node::Init(home, {"Bench", "bench-box", std::nullopt}, clock);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 1;
  }
  auto node = std::move(created).value();

  // Generate: one record per person-sized action (create an item, or edit one).
  std::mt19937_64 rng(42);
  const std::int64_t today = DayOfMs(clock.NowMs());
  std::vector<std::vector<model::Op>> actions;
  std::vector<model::ItemId> ids;
  std::map<model::ItemId, std::uint32_t> typed;  // characters typed into each item's text
  const std::uint64_t device = node->device_tag();
  std::size_t ops = 0;
  const std::size_t items_goal = target_ops / 5;
  while (ops < target_ops) {
    std::vector<model::Op> a;
    if (ids.size() < items_goal && (ids.empty() || rng() % 5 != 0)) {
      const model::ItemId id = node::Node::NewItemId();
      ids.push_back(id);
      const auto roll = rng() % 20;
      const model::Kind kind = roll < 13 ? model::Kind::kEntry
                               : roll < 18 ? model::Kind::kAppreciation
                                           : model::Kind::kCommitment;
      a.push_back({0, id, model::CreateItem{kind, node->member_id(), false}});
      const std::string text = Sentence(rng, 20 + static_cast<int>(rng() % 60));
      typed[id] = static_cast<std::uint32_t>(crdt::Utf8ToU32(text).size());
      a.push_back({0, id, model::InsertText{{model::Field::kText}, 0, std::nullopt, std::nullopt, text}});
      a.push_back({0, id, model::SetField{model::Field::kDate,
                                          today - static_cast<std::int64_t>(rng() % 3650)}});
      if (kind == model::Kind::kEntry) {
        a.push_back({0, id, model::SetField{model::Field::kMood, static_cast<std::int64_t>(1 + rng() % 5)}});
        a.push_back({0, id, model::AddTag{kWords[rng() % kWords.size()]}});
      }
    } else {
      // An edit: a sentence typed at the end of the text (a sequence-CRDT run).
      const model::ItemId id = ids[rng() % ids.size()];
      const std::string more = " " + Sentence(rng, 30);
      std::uint32_t& n = typed[id];
      a.push_back({0, id, model::InsertText{{model::Field::kText}, n, crdt::CharId{device, n - 1}, std::nullopt, more}});
      n += static_cast<std::uint32_t>(crdt::Utf8ToU32(more).size());
    }
    ops += a.size();
    actions.push_back(std::move(a));
  }

  // Bulk append: every action as its own signed record, 1,000 records per transaction.
  auto t0 = Clk::now();
  for (std::size_t i = 0; i < actions.size(); i += 1000) {
    std::vector<std::vector<model::Op>> chunk(
        std::make_move_iterator(actions.begin() + static_cast<long>(i)),
        std::make_move_iterator(actions.begin() + static_cast<long>(std::min(actions.size(), i + 1000))));
    if (Status s = node->CommitBatches(std::move(chunk), feed::Scope::kShared); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      return 1;
    }
  }
  const double append_s = std::chrono::duration<double>(Clk::now() - t0).count();
  const std::size_t records = actions.size();
  node.reset();

  const std::string h = home.string();
  const Timing list = TimeCommand({hearth_bin, "--home", h, "list", "-n", "20"}, runs);
  const Timing list_json = TimeCommand({hearth_bin, "--home", h, "list", "-n", "20", "--json"}, runs);
  const Timing search = TimeCommand({hearth_bin, "--home", h, "search", "lighthouse"}, runs);
  const Timing write = TimeCommand({hearth_bin, "--home", h, "write", "a quiet evening together"}, runs);
  const Timing verify = TimeCommand({hearth_bin, "--home", h, "verify"}, 3);
  const auto size = DirSize(home);

  std::printf("| measure | value | goal |\n|---|---|---|\n");
  std::printf("| journal | %zu ops in %zu records, %zu items | 100,000 ops |\n", ops, records, ids.size());
  std::printf("| bulk append | %.0f ops/s (%.2f s; %.0f records/s) | >= 100,000 ops/s |\n", ops / append_s,
              append_s, records / append_s);
  auto row = [](const char* what, const Timing& t, const char* goal) {
    std::printf("| %s | median %.1f ms (min %.1f, max %.1f) | %s |\n", what, t.median_ms, t.min_ms,
                t.max_ms, goal);
  };
  row("`hearth list -n 20`", list, "< 100 ms");
  row("`hearth list -n 20 --json`", list_json, "< 100 ms");
  row("`hearth search lighthouse`", search, "< 100 ms");
  row("`hearth write TEXT` (no passphrase)", write, "< 30 ms");
  row("`hearth verify` (every record)", verify, "-");
  std::printf("| home size on disk | %.1f MiB (%.0f bytes/op) | - |\n", size / 1048576.0,
              static_cast<double>(size) / static_cast<double>(ops));
  if (keep.empty()) fs::remove_all(home);
  return 0;
}
