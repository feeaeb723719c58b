// The receiver's disk fills up in the middle of a sync. The receiving
// process runs under RLIMIT_FSIZE with SIGXFSZ ignored, so a write past the
// limit fails with EFBIG inside SQLite, as a full disk fails it with ENOSPC.
// The command must end with one clear line, the store must still open and
// verify, nothing stored before may be lost, and once there is room again a
// sync brings everything.
#include "tests/faults/fault_fixture.h"

namespace hearth::testing::faults {
namespace {

constexpr int kBacklog = 3000;
constexpr int kEntryBytes = 1000;
constexpr rlim_t kRoom = 600 * 1024;  // bytes a file may grow past its size before the sync

class DiskFullTest : public FaultTest {
 protected:
  void SetUpSpace() {
    PairPartners();
    if (HasFatalFailure()) return;
    Backlog("sam", kBacklog, kEntryBytes, "backlog");
    if (HasFatalFailure()) return;
    // What Alex held before: none of it may be lost.
    Backlog("alex", 40, 300, "alex-before");
    if (HasFatalFailure()) return;
    expected_ = Texts("sam");
    alex_before_ = Texts("alex");
  }
  // Alex still holds everything it held before, and only authentic items.
  void ExpectNothingLost() {
    const auto now = Texts("alex");
    for (const auto& t : alex_before_) EXPECT_EQ(now.count(t), 1u) << "lost: " << t.substr(0, 40);
    for (const auto& t : now) {
      EXPECT_TRUE(expected_.count(t) == 1 || alex_before_.count(t) == 1) << "unknown item: " << t.substr(0, 40);
    }
  }
  void ExpectComplete() {
    auto now = Texts("alex");
    for (const auto& t : alex_before_) now.erase(t);
    EXPECT_TRUE(now == expected_) << "Alex holds " << now.size() << " of Sam's " << expected_.size();
  }

  std::multiset<std::string> expected_, alex_before_;
};

TEST_F(DiskFullTest, ASyncThatFillsTheDiskEndsInOneLineAndLosesNothing) {
  SetUpSpace();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sam = Serve("sam");
  const rlim_t limit = LargestFile("alex") + kRoom;
  const auto start = Clock::now();
  auto r = RunLimited({HEARTH_BIN, "--home", Home("alex").string(), "sync", "--peer", sam, "--timeout", "20"},
                      {{"HEARTH_PASSPHRASE", "\x01unset"}}, Limits{limit, std::nullopt});
  const double ms = MsSince(start);
  const std::size_t got = CountPrefix("alex", "backlog");
  std::printf("file size limit %llu bytes: exit %d after %.0f ms, stdout \"%s\", stderr \"%s\", Alex holds %zu of %d\n",
              static_cast<unsigned long long>(limit), r.exit_code, ms, r.out.c_str(), r.err.c_str(), got, kBacklog);
  EXPECT_NE(r.exit_code, 0) << "the limit never bit";
  EXPECT_LT(r.exit_code, 128) << "killed by a signal";
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("disk"), std::string::npos) << "the message should name the disk: " << r.err;
  EXPECT_LT(got, static_cast<std::size_t>(kBacklog));
  Figure("disk_full_sync.entries_before_full", static_cast<double>(got), "entries");
  // Without the limit: the store opens and verifies; nothing was lost.
  ExpectSound("alex");
  ExpectNothingLost();
  // Room again: a sync brings the rest.
  auto again = Sync("alex", sam);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  ExpectComplete();
  ExpectSound("alex");
}

TEST_F(DiskFullTest, AServeWhoseDiskFillsKeepsRunningAndTakesEverythingOnceThereIsRoom) {
  SetUpSpace();
  ASSERT_FALSE(HasFatalFailure());
  int alex_pid = -1;
  // Started with SIGXFSZ ignored (and no limit yet).
  const std::string alex = ServeLimited("alex", Limits{RLIM_INFINITY, std::nullopt}, &alex_pid);
  ASSERT_FALSE(alex.empty());
  // The limit is set on the running serve, then Sam pushes the backlog.
  const rlim_t limit = LargestFile("alex") + kRoom;
  ASSERT_TRUE(SetFileSizeLimit(alex_pid, limit));
  auto r = Sync("sam", alex);
  const std::size_t got = CountPrefix("alex", "backlog");
  std::printf("serve under a file size limit of %llu bytes: Sam's sync exit %d, \"%s\"; Alex's serve holds %zu of %d\n",
              static_cast<unsigned long long>(limit), r.exit_code, r.err.c_str(), got, kBacklog);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_TRUE(Alive(alex_pid)) << "Alex's serve died of the full disk";
  EXPECT_LT(got, static_cast<std::size_t>(kBacklog));
  ExpectSound("alex");
  ExpectNothingLost();
  // Trying again while the disk is still full changes nothing and harms nothing.
  auto still = Sync("sam", alex);
  EXPECT_NE(still.exit_code, 0);
  EXPECT_TRUE(Alive(alex_pid));
  EXPECT_EQ(CountPrefix("alex", "backlog"), got);
  // Room again, the same serve process: the next sync completes.
  ASSERT_TRUE(SetFileSizeLimit(alex_pid, RLIM_INFINITY));
  auto again = Sync("sam", alex);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  ExpectComplete();
  ExpectSound("alex");
}

}  // namespace
}  // namespace hearth::testing::faults
