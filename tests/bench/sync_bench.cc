// Benchmark: sync between real `hearth` processes on loopback.
//
//   sync_bench HEARTH_BIN JOURNAL_BENCH_BIN [--ops N] [--pushes P]
//
// 1. builds a 100,000-op journal (journal_bench --keep), starts `hearth serve`
//    on it, and times `hearth join` of a new own device: the initial sync of
//    everything (seconds, ops/s, MB/s of records), and the serve's peak memory;
// 2. with `hearth serve` running on both, times write-to-visible: from the
//    moment a `hearth write` process on one home returns (its record is
//    committed) to the moment the record is in the other home's database;
// 3. stops the second serve, writes 10 ops on the first, runs `hearth sync`,
//    and reports the bytes exchanged beyond the new records themselves.
// Prints a Markdown table (docs/benchmarks.md keeps the latest run).
#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace fs = std::filesystem;
using namespace hearth::testing;
using Clk = std::chrono::steady_clock;

namespace {

const std::map<std::string, std::string> kEnv = {{"HEARTH_PASSPHRASE", "\x01unset"}};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "sync_bench: %s\n", what.c_str());
  std::exit(1);
}

ProcessResult Run(const std::vector<std::string>& argv) {
  auto r = RunProcess(argv, kEnv, "", true);
  if (r.exit_code != 0) Die(argv[3] + " failed: " + r.err);
  return r;
}

std::string StartServe(const std::string& bin, const fs::path& home, std::vector<std::string> extra, Child& child) {
  std::vector<std::string> args = {bin, "--home", home.string(), "serve", "--listen", "127.0.0.1:0", "--no-discovery"};
  args.insert(args.end(), extra.begin(), extra.end());
  child = SpawnChild(args, kEnv);
  std::string out;
  const auto deadline = Clk::now() + std::chrono::seconds(20);
  while (out.find('\n') == std::string::npos && Clk::now() < deadline) {
    out += DrainNonBlocking(child.stdout_fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto at = out.find("Listening on ");
  if (at == std::string::npos) Die("serve did not start: " + out);
  return out.substr(at + 13, out.find('\n', at) - at - 13);
}

long PeakKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::int64_t Scalar(const fs::path& home, const std::string& sql) {
  SQLite::Database db((home / "hearth.db").string(), SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: sync_bench HEARTH_BIN JOURNAL_BENCH_BIN [--ops N] [--pushes P]\n");
    return 2;
  }
  const std::string bin = argv[1];
  const std::string journal_bench = argv[2];
  std::string ops = "100000";
  int pushes = 50;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--ops") ops = argv[i + 1];
    if (std::string(argv[i]) == "--pushes") pushes = std::stoi(argv[i + 1]);
  }
  const fs::path base = fs::temp_directory_path() / ("hearth-sync-bench-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  const fs::path a = base / "a", b = base / "b";
  auto gen = RunProcess({journal_bench, bin, "--ops", ops, "--runs", "1", "--keep", a.string()}, kEnv, "", true);
  if (gen.exit_code != 0) Die("journal_bench failed: " + gen.err);
  const std::int64_t records = Scalar(a, "SELECT count(*) FROM records");
  const std::int64_t record_bytes = Scalar(a, "SELECT sum(length(body) + length(signature)) FROM records");

  // 1. Initial sync to a new own device.
  Child serve_a;
  const std::string addr_a = StartServe(bin, a, {}, serve_a);
  const std::string code = Run({bin, "--home", a.string(), "invite", "device"}).out;
  const auto t0 = Clk::now();
  Run({bin, "--home", b.string(), "join", code.substr(0, code.find('\n')), "--device-name", "new", "--no-passphrase"});
  const double join_s = std::chrono::duration<double>(Clk::now() - t0).count();
  const long peak_kib = PeakKiB(serve_a.pid);
  const std::int64_t got = Scalar(b, "SELECT count(*) FROM records");
  if (got < records) Die("the new device holds " + std::to_string(got) + " of " + std::to_string(records) + " records");

  // 2. Write-to-visible on a live session.
  Child serve_b;
  StartServe(bin, b, {"--peer", addr_a}, serve_b);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the session opens
  std::vector<double> latency;
  SQLite::Database bdb((b / "hearth.db").string(), SQLite::OPEN_READONLY);
  for (int i = 0; i < pushes; ++i) {
    const std::int64_t before = bdb.execAndGet("SELECT count(*) FROM records").getInt64();
    Run({bin, "--home", a.string(), "write", "live " + std::to_string(i)});
    const auto written = Clk::now();
    while (bdb.execAndGet("SELECT count(*) FROM records").getInt64() == before) {
      if (Clk::now() - written > std::chrono::seconds(10)) Die("a live write never arrived");
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    latency.push_back(std::chrono::duration<double, std::milli>(Clk::now() - written).count());
  }
  ::kill(serve_b.pid, SIGTERM);
  WaitChild(serve_b.pid);

  // 3. Bytes for a 10-op difference: five entries of two ops each.
  for (int i = 0; i < 5; ++i) Run({bin, "--home", a.string(), "write", "delta " + std::to_string(i)});
  const std::int64_t new_bytes = Scalar(a, "SELECT sum(length(body) + length(signature)) FROM records WHERE rowid > "
                                           "(SELECT max(rowid) FROM records) - 5");
  const std::string line = Run({bin, "--home", b.string(), "sync", "--peer", addr_a}).out;
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\\((\\d+) bytes in, (\\d+) bytes out"))) Die("sync said: " + line);
  // The XX handshake before the counters start: 1 type byte + frames of 32, 96
  // and 64 bytes (e; e, s, tag; s, tag) with 2-byte lengths = 199 bytes.
  const long handshake = 199;
  const long wire = std::stol(m[1]) + std::stol(m[2]) + handshake;
  ::kill(serve_a.pid, SIGTERM);
  WaitChild(serve_a.pid);

  const double ops_n = std::stod(ops);
  std::printf("| measure | value | goal |\n|---|---|---|\n");
  std::printf("| initial sync to a new device (`hearth join`, %s ops, %lld records, %.1f MB) | %.2f s (%.0f ops/s, %.1f MB/s) | < 2 s |\n",
              ops.c_str(), static_cast<long long>(records), record_bytes / 1e6, join_s, ops_n / join_s,
              record_bytes / 1e6 / join_s);
  std::printf("| peak memory of `hearth serve` (sender) during it | %.1f MiB (VmHWM) | - |\n", peak_kib / 1024.0);
  std::printf("| write-to-visible on a live session (%d writes) | median %.1f ms, p99 %.1f ms | median < 50 ms |\n",
              pushes, Percentile(latency, 0.5), Percentile(latency, 0.99));
  std::printf("| bytes for a 10-op difference (5 records, %lld bytes of records) | %ld bytes in all, %lld beyond the records | < 4 KiB beyond |\n",
              static_cast<long long>(new_bytes), wire, static_cast<long long>(wire - new_bytes));
  fs::remove_all(base);
  return 0;
}
