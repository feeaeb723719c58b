// Node-level tests on a real SQLite file in a temporary home.
#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>

#include "core/base/dates.h"
#include "core/node/node.h"

namespace hearth::node {
namespace {

namespace fs = std::filesystem;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hearth-node-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    auto n = Node::Init(home_, {"Sam", "laptop", std::nullopt}, clock_);
    ASSERT_TRUE(n.ok()) << n.error().message;
    node_ = std::move(n).value();
  }
  void TearDown() override {
    node_.reset();
    fs::remove_all(home_);
  }
  std::unique_ptr<Node> Reopen() {
    node_.reset();
    auto n = Node::Open(home_, std::nullopt, clock_);
    EXPECT_TRUE(n.ok());
    return n.ok() ? std::move(n).value() : nullptr;
  }
  FixedClock clock_{*ParseTimestamp("2026-11-22T10:00:00Z")};
  fs::path home_;
  std::unique_ptr<Node> node_;
};

TEST_F(NodeTest, WriteEditDeleteAndReopen) {
  EntryDraft d;
  d.text = "first";
  d.tags = {"a", "b", "a"};
  d.mood = 3;
  auto id = node_->Write(d);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(node_->Edit(*id, "second").ok());
  node_ = Reopen();
  auto v = node_->Get(*id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->text, "second");
  EXPECT_EQ(v->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*v->mood, 3);
  ASSERT_TRUE(node_->Delete(*id).ok());
  EXPECT_EQ(node_->Get(*id).error().code, Errc::kNotFound);
  auto report = node_->Verify();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->records, 4u);  // roster, write, edit, delete
}

TEST_F(NodeTest, InputIsCheckedBeforeAnythingIsWritten) {
  EntryDraft d;
  d.text = "   ";
  EXPECT_EQ(node_->Write(d).error().code, Errc::kInvalidInput);
  d.text = "ok";
  d.mood = 9;
  EXPECT_EQ(node_->Write(d).error().code, Errc::kInvalidInput);
  d.mood.reset();
  d.text = std::string("\xff\xfe", 2);
  EXPECT_EQ(node_->Write(d).error().code, Errc::kInvalidInput);
  d.text = "x";
  d.memory = true;
  EXPECT_EQ(node_->Write(d).error().code, Errc::kInvalidInput);
  EXPECT_EQ(node_->CheckIn({"11", "", "", "", ""}).error().code, Errc::kInvalidInput);
  EXPECT_EQ(node_->CheckIn({"5"}).error().code, Errc::kInvalidInput);
  auto status = node_->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->records_here, 1u);  // only the roster record
}

TEST_F(NodeTest, FollowThroughIsOnePerPeriod) {
  auto c = node_->Commit("walk together", model::Rhythm::kWeek, model::Owner::kBoth);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(node_->GetStatus()->commitments_due.size(), 1u);
  EXPECT_EQ(*node_->FollowThrough(*c, false, "rain"), "2026-W47");
  EXPECT_EQ(*node_->FollowThrough(*c, true, "did it after all"), "2026-W47");
  clock_.Advance(7LL * 86400 * 1000);
  EXPECT_EQ(*node_->FollowThrough(*c, true, ""), "2026-W48");
  auto v = node_->Get(*c);
  ASSERT_EQ(v->follow_through.size(), 2u);
  EXPECT_TRUE(v->follow_through[0].kept);
  EXPECT_EQ(v->follow_through[0].note, "did it after all");
  EXPECT_TRUE(node_->GetStatus()->commitments_due.empty());
}

TEST_F(NodeTest, PrefixResolution) {
  std::vector<ItemId> ids;
  for (int i = 0; i < 17; ++i) ids.push_back(*node_->Appreciate("thanks " + std::to_string(i)));
  // 17 ids over 16 first hex digits: some first digit is shared (pigeonhole).
  std::map<char, int> first;
  for (ItemId id : ids) first[IdToHex(id)[0]]++;
  char shared = 0;
  for (auto [c, n] : first) {
    if (n > 1) shared = c;
  }
  ASSERT_NE(shared, 0);
  EXPECT_EQ(node_->Resolve(std::string(1, shared)).error().code, Errc::kAmbiguous);
  EXPECT_EQ(*node_->Resolve(IdToHex(ids[3])), ids[3]);
  EXPECT_EQ(*node_->Resolve(IdToHex(ids[3]).substr(0, 12)), ids[3]);
  EXPECT_EQ(node_->Resolve("xyz").error().code, Errc::kInvalidInput);
}

TEST_F(NodeTest, TamperedItemRowAndRecordAreDetected) {
  auto id = node_->Appreciate("the soup you made");
  ASSERT_TRUE(id.ok());
  node_.reset();
  {
    SQLite::Database db((home_ / "hearth.db").string(), SQLite::OPEN_READWRITE);
    // Moving an item to another day changes a plaintext column bound into the seal.
    db.exec("UPDATE items SET day = day - 1 WHERE kind = 2");
  }
  node_ = Reopen();
  auto list = node_->List({});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().code, Errc::kIntegrity);
}

TEST_F(NodeTest, SharedItemsWrittenByTwoDevicesMergeToOneCheckin) {
  ASSERT_TRUE(node_->CheckIn({"7", "dinner", "", "rest", ""}).ok());
  ASSERT_TRUE(node_->CheckIn({"8", "dinner and a walk", "", "rest", ""}).ok());
  auto list = node_->List({{Kind::kCheckin}, {}, {}, {}, {}, 0});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].answers[0].answers[0], "8");
  EXPECT_FALSE(node_->GetStatus()->checkin_due);
}

}  // namespace
}  // namespace hearth::node
