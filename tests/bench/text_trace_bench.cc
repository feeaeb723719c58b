// text_trace_bench FILE.json.gz [--runs N]
//
// Replays a sequential editing trace (the format of josephg/editing-traces,
// described in ../shared/data/editing-traces/README.md) with hearth's text
// CRDT and prints:
//   replay   every patch applied as a local edit (median of N runs)
//   memory   the process's peak resident memory during one replay (the
//            trace's own arrays included), and the bytes the document holds
//   encoded  the whole document with its history (every run, tombstone and
//            deleted text), and without the deleted text
//   load     decoding that encoding back into a document (median)
//   merge    replica A applied the first half of the trace, replica B (a copy
//            of A) the second half; the time for A to apply B's operations as
//            remote ones (median)
// Every result is checked against the trace's endContent; the exit status is
// 1 if any differs. The last line is machine-readable for
// scripts/text-trace-compare. docs/benchmarks.md has the figures.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/crdt/text.h"
#include "tests/support/trace.h"

namespace {

using hearth::crdt::Text;
using hearth::crdt::TextOp;
using hearth::trace::LoadTrace;
using hearth::trace::Patch;
using hearth::trace::Trace;
using Clock = std::chrono::steady_clock;

void Replay(const Trace& t, Text& doc, std::size_t from, std::size_t to, hearth::crdt::Agent agent,
            std::vector<TextOp>* out) {
  const std::u32string_view ins(t.inserted);
  for (std::size_t i = from; i < to; ++i) {
    const Patch& p = t.patches[i];
    if (p.del > 0) doc.Delete(p.pos, p.del, out);
    if (p.ins_len > 0) doc.Insert(agent, p.pos, ins.substr(p.ins_off, p.ins_len), out);
  }
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The process's peak resident set (VmHWM), in KiB; ResetPeak starts it afresh.
long PeakKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
void ResetPeak() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

bool Check(const Text& doc, const Trace& t, const char* what) {
  if (doc.ToU32() == t.end) return true;
  std::fprintf(stderr, "text_trace_bench: %s: the final text differs from the trace's endContent (%zu vs %zu characters)\n",
               what, doc.size(), t.end.size());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      path = argv[i];
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: text_trace_bench FILE.json.gz [--runs N]\n");
    return 2;
  }
  Trace trace;
  std::string error;
  if (!LoadTrace(path, trace, error)) {
    std::fprintf(stderr, "text_trace_bench: %s\n", error.c_str());
    return 2;
  }
  std::printf("trace: %s: %zu patches, %zu characters inserted, final text %zu characters\n", path.c_str(),
              trace.patches.size(), trace.inserted.size(), trace.end.size());
  bool ok = true;

  // Memory first, in a quiet process: the high-water mark of one replay.
  ResetPeak();
  const long base_kib = PeakKiB();
  const std::size_t heap_before = mallinfo2().uordblks;
  double doc_mib;
  long peak_kib;
  {
    Text doc;
    Replay(trace, doc, 0, trace.patches.size(), 1, nullptr);
    peak_kib = PeakKiB();
    doc_mib = static_cast<double>(mallinfo2().uordblks - heap_before) / 1048576.0;
    ok = Check(doc, trace, "replay") && ok;
  }

  std::vector<double> replay;
  Text doc;
  for (int r = 0; r < runs; ++r) {
    Text d;
    const auto t0 = Clock::now();
    Replay(trace, d, 0, trace.patches.size(), 1, nullptr);
    replay.push_back(Ms(Clock::now() - t0));
    if (r + 1 == runs) doc = std::move(d);
  }
  ok = Check(doc, trace, "replay") && ok;

  const std::string encoded = doc.Encode(true);
  const std::string encoded_live = doc.Encode(false);
  std::vector<double> load;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = Clock::now();
    auto back = Text::Decode(encoded);
    std::string text = back ? back.value().ToUtf8() : std::string();
    load.push_back(Ms(Clock::now() - t0));
    if (!back) {
      std::fprintf(stderr, "text_trace_bench: load: %s\n", back.error().message.c_str());
      ok = false;
      break;
    }
    ok = Check(back.value(), trace, "load") && ok;
    ok = ok && back.value() == doc;
  }

  std::vector<double> merge;
  const std::size_t half = trace.patches.size() / 2;
  std::size_t merge_ops = 0;
  for (int r = 0; r < runs; ++r) {
    Text a;
    Replay(trace, a, 0, half, 1, nullptr);
    auto b_or = Text::Decode(a.Encode());
    if (!b_or) {
      ok = false;
      break;
    }
    Text b = std::move(b_or.value());
    std::vector<TextOp> ops;
    Replay(trace, b, half, trace.patches.size(), 2, &ops);
    merge_ops = ops.size();
    const auto t0 = Clock::now();
    for (const TextOp& op : ops) a.Apply(op);
    merge.push_back(Ms(Clock::now() - t0));
    ok = Check(a, trace, "merge") && ok;
    if (!(a == b)) {
      std::fprintf(stderr, "text_trace_bench: merge: the two replicas differ\n");
      ok = false;
    }
  }

  std::printf("replay:  %.2f ms median of %d (%.0f ns per patch)\n", Median(replay), runs,
              Median(replay) * 1e6 / static_cast<double>(trace.patches.size()));
  std::printf("memory:  peak resident %.1f MiB during a replay (%.1f MiB before it); the document holds %.2f MiB in %zu runs\n",
              static_cast<double>(peak_kib) / 1024.0, static_cast<double>(base_kib) / 1024.0, doc_mib,
              doc.run_count());
  std::printf("encoded: %zu bytes with its whole history (%zu without the deleted text)\n", encoded.size(),
              encoded_live.size());
  std::printf("load:    %.2f ms median of %d\n", Median(load), runs);
  std::printf("merge:   %.2f ms median of %d (%zu remote ops from the second half)\n", Median(merge), runs,
              merge_ops);
  std::printf("hearth replay_ms=%.2f encoded_bytes=%zu load_ms=%.2f merge_ms=%.2f memory_mb=%.1f\n", Median(replay),
              encoded.size(), Median(load), Median(merge), static_cast<double>(peak_kib) / 1024.0);
  if (!ok) {
    std::fprintf(stderr, "text_trace_bench: FAILED: a result differs from the trace's endContent\n");
    return 1;
  }
  return 0;
}
