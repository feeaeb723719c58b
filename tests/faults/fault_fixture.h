// The fixture of the fault and flood tests: NetTest's temporary homes and
// real processes (tests/cli/net_fixture.h), plus a quick backlog, processes
// under resource limits, and the checks every fault ends with: the store
// verifies, no fork was recorded, and the entries are exactly the expected
// ones, none missing, none twice.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "tests/cli/net_fixture.h"
#include "tests/faults/fault_proxy.h"
#include "tests/faults/fault_support.h"

namespace hearth::testing::faults {

class FaultTest : public NetTest {
 protected:
  void SetUp() override {
    NetTest::SetUp();
    // The homes go on tmpfs when there is one: SQLite's fsyncs cost nothing
    // there, so a backlog of thousands of entries takes about a second. The
    // files are still real SQLite files in a real file system.
    fs::path scratch = fs::temp_directory_path();
    if (const char* dir = std::getenv("HEARTH_FAULT_TMP"); dir != nullptr && *dir != '\0') {
      scratch = dir;
    } else if (::access("/dev/shm", W_OK) == 0) {
      scratch = "/dev/shm";
    }
    fs::remove_all(base_);
    base_ = scratch / base_.filename();
    fs::remove_all(base_);
    fs::create_directories(base_);
  }

  // Sam's space with Alex as partner and Sam's second device "sam2",
  // paired through a serve that is gone again when this returns.
  void PairWithSecondDevice() {
    Init("sam", "Sam");
    Serve("sam");
    auto a = Hearth("alex", {"join", Invite("sam", "partner"), "--name", "Alex", "--no-passphrase"});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    auto b = Hearth("sam2", {"join", Invite("sam", "device"), "--no-passphrase"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    StopChild();
  }

  // Writes `count` entries of about `bytes` bytes on `home` (texts "PREFIX-N ...").
  void Backlog(const std::string& home, int count, int bytes, const std::string& prefix) {
    auto r = RunProcess({FAULT_BACKLOG_WRITER_BIN, Home(home).string(), std::to_string(count), std::to_string(bytes),
                         prefix});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Every item's text on `home`, counted (a multiset shows duplicates).
  std::multiset<std::string> Texts(const std::string& home) {
    std::multiset<std::string> out;
    for (const auto& item : List(home)) out.insert(item["text"].get<std::string>());
    return out;
  }
  // How many items' texts start with `prefix` + "-".
  std::size_t CountPrefix(const std::string& home, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& t : Texts(home)) n += t.rfind(prefix + "-", 0) == 0 ? 1 : 0;
    return n;
  }

  ProcessResult Sync(const std::string& home, const std::string& peer, double timeout_s = 20) {
    std::ostringstream t;
    t << timeout_s;
    return Hearth(home, {"sync", "--peer", peer, "--timeout", t.str()});
  }

  // The store opens, every record and item verifies, no fork was recorded.
  void ExpectSound(const std::string& home) {
    auto v = Hearth(home, {"verify"});
    EXPECT_EQ(v.exit_code, 0) << home << ": " << v.out << v.err;
    auto st = Hearth(home, {"status", "--json"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    EXPECT_EQ(json::parse(st.out)["forks"].size(), 0u) << home;
  }

  // A message for a person: one line, no more.
  static bool OneLine(const std::string& err) { return !err.empty() && err.find('\n') == err.size() - 1; }

  // `hearth serve` under `limits`; returns its address and sets `pid`.
  // With `merge_stderr`, its stderr is read with its stdout (Output()).
  std::string ServeLimited(const std::string& home, const Limits& limits, int* pid,
                           std::vector<std::string> extra = {}, bool merge_stderr = false) {
    std::vector<std::string> args = {HEARTH_BIN, "--home", Home(home).string(), "serve", "--listen", "127.0.0.1:0",
                                     "--no-discovery"};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c = SpawnLimited(args, {{"HEARTH_PASSPHRASE", "\x01unset"}}, limits, merge_stderr);
    children_.push_back(c);
    if (pid != nullptr) *pid = c.pid;
    return AfterPrefix(c, "Listening on ");
  }
  int LastChildPid() const { return children_.empty() ? -1 : children_.back().pid; }

  // The largest file in `home` (SQLite's database and its WAL).
  std::uintmax_t LargestFile(const std::string& home) {
    std::uintmax_t most = 0;
    for (const auto& e : fs::directory_iterator(Home(home))) {
      if (e.is_regular_file()) most = std::max(most, e.file_size());
    }
    return most;
  }
};

}  // namespace hearth::testing::faults
