// Kills writers with SIGKILL at random moments during bursts of writes,
// repeatedly; every write that returned success must still be there, and the
// store must open and verify. Seeded; the seed is printed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "core/base/dates.h"
#include "core/node/node.h"
#include "tests/support/process.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

TEST(Crash, SigkillDuringWritesLosesNothingAcknowledged) {
  const std::uint64_t seed =
      std::getenv("HEARTH_CRASH_SEED") ? std::stoull(std::getenv("HEARTH_CRASH_SEED"))
                                       : static_cast<std::uint64_t>(::getpid());
  const int rounds = std::getenv("HEARTH_CRASH_ROUNDS") ? std::stoi(std::getenv("HEARTH_CRASH_ROUNDS")) : 25;
  std::printf("crash test seed %llu, %d rounds\n", static_cast<unsigned long long>(seed), rounds);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const fs::path home = fs::temp_directory_path() / ("hearth-crash-" + std::to_string(::getpid()));
  fs::remove_all(home);
  SystemClock clock;
  {
    auto n = node::Node::Init(home, {"Kim", "desk", std::nullopt}, clock);
    ASSERT_TRUE(n.ok()) << n.error().message;
  }
  std::map<std::string, std::string> acked;  // id -> text
  int kills_mid_write = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string prefix = "r" + std::to_string(round);
    auto child = testing::SpawnChild({CRASH_WRITER_BIN, home.string(), prefix});
    // The kill comes at a random moment after the burst has begun (its first
    // write acknowledged), so a slow start (a sanitized build, a loaded
    // machine) does not turn every round into a kill before any write.
    std::string out;
    const auto started = std::chrono::steady_clock::now();
    while (out.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
      out += testing::DrainNonBlocking(child.stdout_fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const int delay_ms = std::uniform_int_distribution<int>(0, 100)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child.pid, SIGKILL);
    const int code = testing::WaitChild(child.pid);
    if (code == 128 + SIGKILL) ++kills_mid_write;
    out += testing::DrainNonBlocking(child.stdout_fd);
    std::istringstream lines(out);
    ::close(child.stdout_fd);
    std::string id;
    long n = 0;
    while (lines >> id >> n) acked[id] = prefix + "-" + std::to_string(n);

    // Every acknowledged write is there after every kill, and the store verifies.
    auto node = node::Node::Open(home, std::nullopt, clock);
    ASSERT_TRUE(node.ok()) << "round " << round << ": " << node.error().message;
    for (const auto& [aid, text] : acked) {
      auto resolved = (*node)->Resolve(aid);
      ASSERT_TRUE(resolved.ok()) << "round " << round << " lost " << text;
      auto item = (*node)->Get(*resolved);
      ASSERT_TRUE(item.ok());
      ASSERT_EQ(item->text, text);
    }
    auto report = (*node)->Verify();
    ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.error().message;
  }
  std::printf("%d kills during write bursts, %zu acknowledged writes, none lost\n", kills_mid_write,
              acked.size());
  EXPECT_EQ(kills_mid_write, rounds);
  EXPECT_GT(acked.size(), static_cast<std::size_t>(rounds));
  fs::remove_all(home);
}

}  // namespace
}  // namespace hearth
