// Store tests on real SQLite files: migrations from older schema versions and
// the statement cache under re-entrant use.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/storage/store.h"

namespace hearth::storage {
namespace {

namespace fs = std::filesystem;

std::string ReadSql(const std::string& name) {
  std::ifstream in(std::string(HEARTH_SOURCE_DIR) + "/core/storage/sql/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = fs::temp_directory_path() /
            ("hearth-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    Remove();
  }
  void TearDown() override { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file_.string() + suffix);
  }
  fs::path file_;
};

ItemRow Row(std::uint64_t id, std::int64_t day, std::uint64_t created) {
  return ItemRow{id, 1, day, created, 7, true, Bytes(40, static_cast<std::uint8_t>(id))};
}

// A home written by schema version 2 (items keyed by their random id) opens,
// is migrated in place, and keeps every row and its behaviour.
TEST_F(StoreTest, SchemaTwoHomeIsMigrated) {
  {
    SQLite::Database db(file_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(ReadSql("001_init.sql"));
    db.exec(ReadSql("002_items_by_kind.sql"));
    db.exec("PRAGMA user_version=2");
    db.exec("INSERT INTO items VALUES (-5, 1, 100, 30, 7, 1, x'0102'), (9, 6, 90, 10, 7, 1, x'03'), "
            "(12, 1, 100, 20, 7, 0, x'04')");
  }
  auto store = Store::Open(file_, false);
  ASSERT_TRUE(store.ok()) << store.error().message;
  Store& s = **store;
  auto row = s.GetItem(static_cast<std::uint64_t>(-5));
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->state, (Bytes{1, 2}));
  EXPECT_EQ((*row)->day, 100);
  // Newest first still follows day, then creation; live only by default.
  std::vector<std::uint64_t> order;
  ASSERT_TRUE(s.ScanItems({}, [&](ItemRow&& r) {
    order.push_back(r.id);
    return true;
  }).ok());
  EXPECT_EQ(order, (std::vector<std::uint64_t>{static_cast<std::uint64_t>(-5), 9}));
  // The id stays unique: a second put of the same id updates in place.
  ASSERT_TRUE(s.PutItem(Row(9, 95, 10)).ok());
  auto again = s.GetItem(9);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->day, 95);
  SQLite::Database check(file_.string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(check.execAndGet("SELECT count(*) FROM items").getInt(), 3);
  EXPECT_EQ(check.execAndGet("PRAGMA user_version").getInt(), 3);
}

// A callback that queries the store again while a scan is running gets its
// own statement, and cached statements never keep a read open afterwards.
TEST_F(StoreTest, ReentrantQueriesAndNoLingeringReads) {
  auto store = Store::Open(file_, true);
  ASSERT_TRUE(store.ok());
  Store& s = **store;
  for (std::uint64_t id = 1; id <= 20; ++id) ASSERT_TRUE(s.PutItem(Row(id, static_cast<std::int64_t>(id), id)).ok());
  int nested = 0;
  ItemQuery all;
  ASSERT_TRUE(s.ScanItems(all, [&](ItemRow&& r) {
    std::size_t inner = 0;
    EXPECT_TRUE(s.ScanItems(all, [&](ItemRow&&) { return ++inner < 3; }).ok());
    EXPECT_EQ(inner, 3u);
    auto same = s.GetItem(r.id);
    EXPECT_TRUE(same.ok() && same->has_value());
    ++nested;
    return true;
  }).ok());
  EXPECT_EQ(nested, 20);
  // Another connection can take the write lock and checkpoint: no statement of
  // `s` is left mid-read.
  SQLite::Database other(file_.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE; DELETE FROM items WHERE id = 1; COMMIT;");
  EXPECT_EQ(other.execAndGet("PRAGMA wal_checkpoint(TRUNCATE)").getInt(), 0);  // 0: not busy
  auto gone = s.GetItem(1);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

}  // namespace
}  // namespace hearth::storage
