// The receiver's disk fills up in the middle of a sync, two ways:
// - the receiving process runs under RLIMIT_FSIZE with SIGXFSZ ignored, so a
//   write past the limit fails with EFBIG inside SQLite;
// - the receiver's home is on a real file system that fills up: a tmpfs of a
//   set size, mounted in a private mount namespace (unshare(1)), so writes
//   fail with ENOSPC. Where the machine refuses namespaces (some containers)
//   that test is skipped and says why.
// The command must end with one clear line, the store must still open and
// verify, nothing stored before may be lost, and once there is room again a
// sync brings everything.
#include <fstream>
#include <iterator>

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

  // A `hearth sync` that the full disk stopped: exit code `rc` and stderr
  // `err`, one clear line about the disk, some entries kept but not all.
  // Then, with room again: the store is sound, nothing was lost, and the
  // next sync from `sam` brings the rest.
  void ExpectStoppedByTheDiskThenComplete(int rc, const std::string& err, std::size_t got, const std::string& sam) {
    EXPECT_NE(rc, 0) << "the disk never filled";
    EXPECT_LT(rc, 128) << "killed by a signal";
    EXPECT_TRUE(OneLine(err)) << err;
    EXPECT_NE(err.find("disk"), std::string::npos) << "the message should name the disk: " << err;
    EXPECT_LT(got, static_cast<std::size_t>(kBacklog));
    ExpectSound("alex");
    ExpectNothingLost();
    auto again = Sync("alex", sam);
    EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
    ExpectComplete();
    ExpectSound("alex");
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
  Figure("disk_full_sync.entries_before_full", static_cast<double>(got), "entries");
  // Checked without the limit.
  ExpectStoppedByTheDiskThenComplete(r.exit_code, r.err, got, sam);
}

// The script run inside `unshare --user --map-root-user --mount`: mounts a
// tmpfs of $SIZE bytes on $MNT, copies Alex's home there, syncs from the
// peer, records what happened, and copies the home back out to $OUT/home
// (the mount goes away with the namespace).
constexpr const char* kFullFsScript = R"(set -e
mount -t tmpfs -o "size=$SIZE" hearth-full "$MNT"
cp -a "$HOME_IN/." "$MNT/"
set +e
"$HEARTH" --home "$MNT" sync --peer "$PEER" --timeout 20 >"$OUT/sync.out" 2>"$OUT/sync.err"
echo $? >"$OUT/sync.rc"
df -B1 --output=avail "$MNT" | tail -n 1 >"$OUT/avail"
set -e
mkdir -p "$OUT/home"
cp -a "$MNT/." "$OUT/home/"
)";

std::uintmax_t TreeBytes(const fs::path& dir) {
  std::uintmax_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(DiskFullTest, ASyncOntoAFileSystemThatFillsGetsENOSPCEndsInOneLineAndLosesNothing) {
  const fs::path mnt = base_ / "mnt";
  const fs::path out = base_ / "full-fs";
  fs::create_directories(mnt);
  fs::create_directories(out);
  const std::string unshare = "/usr/bin/unshare";
  auto probe = RunProcess({unshare, "--user", "--map-root-user", "--mount", "/bin/sh", "-c",
                           "mount -t tmpfs -o size=64k probe \"$0\"", mnt.string()});
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "this machine does not allow a private tmpfs (unshare --user --mount): " << probe.err;
  }
  SetUpSpace();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sam = Serve("sam");
  // The room is shared by the database and its WAL, which both grow.
  const std::uintmax_t size = TreeBytes(Home("alex")) + 4 * kRoom;
  const auto start = Clock::now();
  auto r = RunProcess({unshare, "--user", "--map-root-user", "--mount", "/bin/sh", "-c", kFullFsScript},
                      {{"SIZE", std::to_string(size)},
                       {"MNT", mnt.string()},
                       {"HOME_IN", Home("alex").string()},
                       {"OUT", out.string()},
                       {"HEARTH", HEARTH_BIN},
                       {"PEER", sam},
                       {"HEARTH_PASSPHRASE", "\x01unset"}});
  const double ms = MsSince(start);
  ASSERT_EQ(r.exit_code, 0) << "the namespace script failed: " << r.err;
  const int rc = std::stoi(ReadAll(out / "sync.rc"));
  const std::string err = ReadAll(out / "sync.err");
  const std::string avail = ReadAll(out / "avail");
  // What the full file system holds becomes Alex's home again.
  fs::remove_all(Home("alex"));
  fs::rename(out / "home", Home("alex"));
  const std::size_t got = CountPrefix("alex", "backlog");
  std::printf("tmpfs of %ju bytes: exit %d after %.0f ms, stderr \"%s\", %s bytes left free, Alex holds %zu of %d\n",
              size, rc, ms, err.c_str(), avail.substr(0, avail.find('\n')).c_str(), got, kBacklog);
  EXPECT_GT(got, 0u) << "the file system should fill in the middle of the sync, not at its first write";
  Figure("disk_full_enospc.entries_before_full", static_cast<double>(got), "entries");
  // Checked on a disk with room.
  ExpectStoppedByTheDiskThenComplete(rc, err, got, sam);
}

TEST_F(DiskFullTest, AServeWhoseDiskFillsKeepsRunningAndTakesEverythingOnceThereIsRoom) {
  SetUpSpace();
  ASSERT_FALSE(HasFatalFailure());
  int alex_pid = -1;
  // Started with SIGXFSZ ignored (and no limit yet).
  const std::string alex = ServeLimited("alex", Limits{RLIM_INFINITY, std::nullopt}, &alex_pid, {}, true);
  ASSERT_FALSE(alex.empty());
  const int alex_output = children_.back().stdout_fd;
  std::string said;  // what Alex's serve printed, stderr included
  auto lines_about_the_disk = [&] {
    said += DrainNonBlocking(alex_output);
    std::size_t n = 0;
    for (std::size_t at = 0; (at = said.find(" stopped: The disk", at)) != std::string::npos; ++at) ++n;
    return n;
  };
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
  // Sam only sees the connection close: Alex's serve says why, once.
  for (int i = 0; i < 100 && lines_about_the_disk() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::printf("Alex's serve said: \"%s\"\n", said.c_str());
  EXPECT_EQ(lines_about_the_disk(), 1u) << said;
  EXPECT_NE(said.find("disk"), std::string::npos) << said;
  ExpectSound("alex");
  ExpectNothingLost();
  // Trying again while the disk is still full changes nothing and harms nothing.
  auto still = Sync("sam", alex);
  EXPECT_NE(still.exit_code, 0);
  EXPECT_TRUE(Alive(alex_pid));
  EXPECT_EQ(CountPrefix("alex", "backlog"), got);
  EXPECT_EQ(lines_about_the_disk(), 1u) << "the same failure again is not news: " << said;
  // Room again, the same serve process: the next sync completes.
  ASSERT_TRUE(SetFileSizeLimit(alex_pid, RLIM_INFINITY));
  auto again = Sync("sam", alex);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  ExpectComplete();
  ExpectSound("alex");
}

}  // namespace
}  // namespace hearth::testing::faults
