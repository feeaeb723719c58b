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

// Search reads in storage order but must answer in `list` order: newest day
// first, then newest creation; the limit keeps the newest matches.
TEST_F(NodeTest, SearchAnswersNewestFirstAndHonoursTheLimit) {
  const std::int64_t today = DayOfMs(clock_.NowMs());
  std::vector<std::pair<std::int64_t, std::string>> written = {
      {today - 30, "Walk by the LAKE"}, {today - 2, "lake again"}, {today - 400, "the lake house"},
      {today - 2, "lakeside dinner"},   {today - 9, "no match here"}};
  for (const auto& [day, text] : written) {
    EntryDraft d;
    d.text = text;
    d.date = day;
    ASSERT_TRUE(node_->Write(d).ok());
    clock_.Advance(1);
  }
  auto found = node_->Search("lake", 0);
  ASSERT_TRUE(found.ok());
  std::vector<std::string> texts;
  for (const auto& v : *found) texts.push_back(v.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"lakeside dinner", "lake again", "Walk by the LAKE",
                                             "the lake house"}));
  auto two = node_->Search("LAKE", 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].text, "lake again");
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

// A bulk commit signs its last record and at least every kMaxUnsignedRun + 1;
// verify still catches a change to any record and a stripped head signature.
TEST_F(NodeTest, BulkCommitSignsHeadsAndVerifyCatchesEveryChange) {
  std::vector<std::vector<model::Op>> batches;
  for (int i = 0; i < 600; ++i) {
    const model::ItemId id = Node::NewItemId();
    batches.push_back({{0, id, model::CreateItem{model::Kind::kEntry, node_->member_id(), false}},
                       {0, id, model::SetField{model::Field::kText, "entry " + std::to_string(i)}}});
  }
  ASSERT_TRUE(node_->CommitBatches(std::move(batches), feed::Scope::kShared).ok());
  node_.reset();
  const std::string db_file = (home_ / "hearth.db").string();
  {
    SQLite::Database db(db_file, SQLite::OPEN_READONLY);
    // Roster record 1 and then 600 records: signed at 257, 513 and 601 only.
    SQLite::Statement q(db, "SELECT seq FROM records WHERE length(signature) = 64 ORDER BY seq");
    std::vector<std::int64_t> signed_seqs;
    while (q.executeStep()) signed_seqs.push_back(q.getColumn(0).getInt64());
    EXPECT_EQ(signed_seqs, (std::vector<std::int64_t>{1, 257, 513, 601}));
  }
  node_ = Reopen();
  ASSERT_TRUE(node_->Verify().ok());
  node_.reset();
  fs::copy_file(db_file, db_file + ".good");
  const auto tamper_then_verify = [&](const std::string& sql) {
    fs::copy_file(db_file + ".good", db_file, fs::copy_options::overwrite_existing);
    {
      SQLite::Database db(db_file, SQLite::OPEN_READWRITE);
      db.exec(sql);
    }
    node_ = Reopen();
    auto report = node_->Verify();
    node_.reset();
    return report.ok() ? Errc::kInternal : report.error().code;
  };
  // A byte inside an unsigned record's ciphertext.
  EXPECT_EQ(tamper_then_verify("UPDATE records SET body = substr(body, 1, 150) || "
                               "(CASE WHEN substr(body, 151, 1) = x'00' THEN x'01' ELSE x'00' END) || "
                               "substr(body, 152) WHERE seq = 300"),
            Errc::kIntegrity);
  // The head's signature removed: nothing vouches for the tail any more.
  EXPECT_EQ(tamper_then_verify("UPDATE records SET signature = x'' WHERE seq = 601"), Errc::kIntegrity);
  // The tail cut off after an unsigned record.
  EXPECT_EQ(tamper_then_verify("DELETE FROM records WHERE seq > 560"), Errc::kIntegrity);
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

TEST_F(NodeTest, ASaveFromAStaleBufferKeepsWhatWasSavedMeanwhile) {
  auto id = node_->Write({"Morning: coffee together.\nEvening: a walk by the river.", "Sunday", {}, {}, false, {}, false});
  ASSERT_TRUE(id.ok()) << id.error().message;
  // One editor opens the entry and keeps it open...
  auto stale = node_->OpenText(*id);
  ASSERT_TRUE(stale.ok());
  // ...while another saves a change to the second line.
  ASSERT_TRUE(node_->Edit(*id, "Morning: coffee together.\nEvening: a long walk by the river.").ok());
  // The first editor saves its whole buffer, changed on the first line only.
  auto saved = node_->Edit(*id, *stale, "Morning: coffee and pancakes together.\nEvening: a walk by the river.");
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto item = node_->Get(*id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->text, "Morning: coffee and pancakes together.\nEvening: a long walk by the river.");
  EXPECT_EQ(item->title, "Sunday");
  // Both survive a reopen (the sequence state is sealed at rest), and verify rebuilds it from the records.
  node_ = Reopen();
  ASSERT_TRUE(node_);
  EXPECT_EQ(node_->Get(*id)->text, "Morning: coffee and pancakes together.\nEvening: a long walk by the river.");
  EXPECT_TRUE(node_->Verify().ok());
  // Saving the same text again writes nothing.
  auto opened = node_->OpenText(*id);
  ASSERT_TRUE(opened.ok());
  const auto before = node_->GetStatus()->records_here;
  ASSERT_TRUE(node_->Edit(*id, *opened, opened->text).ok());
  EXPECT_EQ(node_->GetStatus()->records_here, before);
}

TEST_F(NodeTest, SearchFindsWordsInLongTexts) {
  std::string text;
  while (text.size() < 20000) text += "a long day of ordinary words ";
  text += "lighthouse";
  auto id = node_->Write({text, "", {}, {}, false, {}, false});
  ASSERT_TRUE(id.ok());
  auto found = node_->Search("lighthouse", 10);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, *id);
}

TEST_F(NodeTest, AgreementsAndAnswersAreEditedNotReplaced) {
  ASSERT_TRUE(node_->SetAgreements("We listen first.\nWe sleep on hard talks.").ok());
  auto stale = node_->OpenAgreements();
  ASSERT_TRUE(stale.ok());
  ASSERT_TRUE(node_->SetAgreements("We listen first.\nWe sleep on hard talks.\nWe say thank you.").ok());
  ASSERT_TRUE(node_->SetAgreements(*stale, "We always listen first.\nWe sleep on hard talks.").ok());
  EXPECT_EQ(*node_->Agreements(), "We always listen first.\nWe sleep on hard talks.\nWe say thank you.");
  // Answering the week's check-in again edits the written answers.
  ASSERT_TRUE(node_->CheckIn({"6", "the walk", "", "more sleep", ""}).ok());
  ASSERT_TRUE(node_->CheckIn({"7", "the long walk", "", "", "money"}).ok());
  auto list = node_->List({{Kind::kCheckin}, {}, {}, {}, {}, 0});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  const auto& answers = (*list)[0].answers[0].answers;
  EXPECT_EQ(answers[0], "7");
  EXPECT_EQ(answers[1], "the long walk");
  EXPECT_EQ(answers[3], "more sleep");
  EXPECT_EQ(answers[4], "money");
}

}  // namespace
}  // namespace hearth::node
