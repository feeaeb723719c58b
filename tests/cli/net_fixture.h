// The fixture of the multi-process network tests: temporary homes, real
// `hearth` and `hearth-relay` processes on loopback, and helpers to drive them.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/process.h"

namespace hearth::testing {


namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Every file under a home, concatenated (to prove a refused action changed nothing).
inline std::string Snapshot(const fs::path& home) {
  std::string all;
  if (!fs::exists(home)) return "(none)";
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(home)) {
    if (e.is_regular_file() && e.path().filename() != "serve.pid") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    all += f.filename().string() + ":" + std::string(std::istreambuf_iterator<char>(in), {});
  }
  return all;
}

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("hearth-net-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override {
    for (const auto& c : children_) {
      ::kill(c.pid, SIGTERM);
      WaitChild(c.pid);
    }
    fs::remove_all(base_);
  }
  fs::path Home(const std::string& name) { return base_ / name; }

  ProcessResult Hearth(const std::string& home, std::vector<std::string> args) {
    args.insert(args.begin(), {HEARTH_BIN, "--home", Home(home).string()});
    return RunProcess(args, {{"HEARTH_PASSPHRASE", "\x01unset"}}, "", true);
  }
  void Init(const std::string& home, const std::string& name) {
    auto r = Hearth(home, {"init", "--name", name, "--no-passphrase"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Starts `hearth serve` on a free loopback port; returns its address.
  // Without `discover`, LAN discovery is off so that only the given peers meet.
  std::string Serve(const std::string& home, std::vector<std::string> extra = {}, bool discover = false,
                    const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> args = {HEARTH_BIN, "--home", Home(home).string(), "serve", "--listen", listen};
    if (!discover) args.push_back("--no-discovery");
    args.insert(args.end(), extra.begin(), extra.end());
    // A beacon port of this test process's own, away from any real node's.
    const std::string beacon_port = std::to_string(40000 + ::getpid() % 20000);
    Child c = SpawnChild(args, {{"HEARTH_PASSPHRASE", "\x01unset"}, {"HEARTH_DISCOVERY_PORT", beacon_port}});
    children_.push_back(c);
    return AfterPrefix(c, "Listening on ");
  }
  // The rest of the child's first line after `prefix` (waits up to 10 s).
  static std::string AfterPrefix(const Child& c, const std::string& prefix) {
    std::string out;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (out.find('\n') == std::string::npos && Clock::now() < deadline) {
      out += DrainNonBlocking(c.stdout_fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto at = out.find(prefix);
    EXPECT_NE(at, std::string::npos) << out;
    if (at == std::string::npos) return "";
    return out.substr(at + prefix.size(), out.find('\n', at) - at - prefix.size());
  }
  std::string Invite(const std::string& home, const std::string& kind, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"invite", kind};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Hearth(home, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  json List(const std::string& home) {
    auto r = Hearth(home, {"list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out.empty() ? "[]" : r.out);
  }
  bool Shows(const std::string& home, const std::string& text) {
    for (const auto& item : List(home)) {
      if (item["text"] == text) return true;
    }
    return false;
  }
  // Polls until `home` shows `text`; returns the milliseconds it took, or -1.
  double WaitFor(const std::string& home, const std::string& text, int timeout_ms = 5000) {
    const auto start = Clock::now();
    while (Clock::now() - start < std::chrono::milliseconds(timeout_ms)) {
      if (Shows(home, text)) return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // Starts `hearth-relay` with its data in `dir`; returns the address it
  // prints (HOST:PORT/KEY).
  std::string StartRelay(const std::string& dir, const std::string& listen = "127.0.0.1:0",
                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {HEARTH_RELAY_BIN, "--listen", listen, "--data", (base_ / dir).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c = SpawnChild(args);
    children_.push_back(c);
    return AfterPrefix(c, "Relay address: ");
  }
  // Stops the child started last but `back` (0: the last) with `sig`.
  void StopChild(std::size_t back = 0, int sig = SIGTERM) {
    ASSERT_LT(back, children_.size());
    const auto it = children_.end() - 1 - static_cast<std::ptrdiff_t>(back);
    ::kill(it->pid, sig);
    WaitChild(it->pid);
    ::close(it->stdout_fd);
    children_.erase(it);
  }
  // Sam's space with Alex as partner, paired through a serve that is gone
  // again when this returns.
  void PairPartners() {
    Init("sam", "Sam");
    Serve("sam");
    const std::string code = Invite("sam", "partner");
    auto r = Hearth("alex", {"join", code, "--name", "Alex", "--no-passphrase"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    StopChild();
  }

  fs::path base_;
  std::vector<Child> children_;
};

}  // namespace hearth::testing
