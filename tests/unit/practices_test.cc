// The couple's practices on one node, with a fixed clock walked through
// weeks: follow-through (streaks, kept rates, renegotiation), the check-in
// rhythm, remembering, and the gentle signals of `status`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/base/dates.h"
#include "core/node/node.h"

namespace hearth::node {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kDayMs = 86'400'000;

class PracticesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hearth-practices-" + std::to_string(::getpid()) + "-" +
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
  void GoToDay(const std::string& date) { clock_ = FixedClock(*ParseTimestamp(date + "T10:00:00Z")); }
  void Days(int n) { clock_.Advance(n * kDayMs); }
  ItemView Get(ItemId id) {
    auto v = node_->Get(id);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : ItemView{};
  }
  std::vector<std::string> Signals() {
    auto s = node_->GetStatus();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? s->signals : std::vector<std::string>{};
  }
  static bool Mentions(const std::vector<std::string>& lines, const std::string& words) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(words) != std::string::npos; });
  }

  FixedClock clock_{*ParseTimestamp("2026-09-07T10:00:00Z")};  // a Monday
  fs::path home_;
  std::unique_ptr<Node> node_;
};

TEST_F(PracticesTest, AWeeklyCommitmentHasOneRecordPerWeekAStreakAndKeptRates) {
  auto id = node_->Commit("Walk together after dinner", model::Rhythm::kWeek, model::Owner::kBoth);
  ASSERT_TRUE(id.ok());
  // Weeks 1-8: kept, kept, missed, (nothing), kept, kept, kept, and in week 8
  // first "missed" then "kept": one record per week, the later one counts.
  const std::vector<int> plan = {1, 1, 0, -1, 1, 1, 1};
  for (int week : plan) {
    if (week >= 0) {
      ASSERT_TRUE(node_->FollowThrough(*id, week == 1, "").ok());
    }
    Days(7);
  }
  ASSERT_TRUE(node_->FollowThrough(*id, false, "first").ok());
  Days(2);
  auto period = node_->FollowThrough(*id, true, "made it after all");
  ASSERT_TRUE(period.ok());
  ItemView v = Get(*id);
  EXPECT_EQ(v.follow_through.size(), 7u);  // 8 weeks, one unrecorded, one recorded twice
  EXPECT_EQ(v.follow_through.back().note, "made it after all");
  EXPECT_EQ(v.current_period, *period);
  EXPECT_EQ(v.stats.streak, 4u);  // weeks 5-8
  EXPECT_EQ(v.stats.missed_in_a_row, 0u);
  EXPECT_EQ(v.stats.kept4, 4u);
  EXPECT_EQ(v.stats.recorded4, 4u);
  EXPECT_EQ(v.stats.kept12, 6u);
  EXPECT_EQ(v.stats.recorded12, 7u);
  // A new week: not recorded yet, so the window ends at last week; the streak holds.
  Days(7);
  v = Get(*id);
  EXPECT_EQ(v.stats.streak, 4u);
  EXPECT_EQ(v.stats.recorded4, 4u);
  // Missing it breaks the streak at once.
  ASSERT_TRUE(node_->FollowThrough(*id, false, "").ok());
  v = Get(*id);
  EXPECT_EQ(v.stats.streak, 0u);
  EXPECT_EQ(v.stats.missed_in_a_row, 1u);
  EXPECT_EQ(v.stats.kept4, 3u);
  EXPECT_EQ(v.stats.recorded4, 4u);
}

TEST_F(PracticesTest, AMonthlyCommitmentCountsMonths) {
  auto id = node_->Commit("A day out together", model::Rhythm::kMonth, model::Owner::kAuthor);
  ASSERT_TRUE(id.ok());
  for (const char* day : {"2026-09-03", "2026-09-28", "2026-10-10", "2026-11-30"}) {
    GoToDay(day);
    ASSERT_TRUE(node_->FollowThrough(*id, true, "").ok());
  }
  ItemView v = Get(*id);
  ASSERT_EQ(v.follow_through.size(), 3u);
  EXPECT_EQ(v.follow_through[0].period, "2026-09");
  EXPECT_EQ(v.follow_through[2].period, "2026-11");
  EXPECT_EQ(v.stats.streak, 3u);
  EXPECT_EQ(v.stats.recorded12, 3u);
}

TEST_F(PracticesTest, RenegotiatingKeepsTheHistoryAndMovesFollowThroughOn) {
  auto old_id = node_->Commit("Cook dinner every evening", model::Rhythm::kDay, model::Owner::kAuthor);
  ASSERT_TRUE(old_id.ok());
  ASSERT_TRUE(node_->FollowThrough(*old_id, false, "too tired").ok());
  Days(1);
  ASSERT_TRUE(node_->FollowThrough(*old_id, false, "").ok());
  auto new_id = node_->Renegotiate(*old_id, "Cook dinner twice a week", model::Rhythm::kWeek, std::nullopt);
  ASSERT_TRUE(new_id.ok()) << new_id.error().message;
  const ItemView old_view = Get(*old_id);
  EXPECT_EQ(old_view.text, "Cook dinner every evening");
  EXPECT_EQ(old_view.follow_through.size(), 2u);
  EXPECT_EQ(old_view.follow_through[0].note, "too tired");
  EXPECT_EQ(old_view.replaced_by, *new_id);
  const ItemView new_view = Get(*new_id);
  EXPECT_EQ(new_view.replaces, *old_id);
  EXPECT_EQ(new_view.rhythm, model::Rhythm::kWeek);
  EXPECT_EQ(new_view.owner, model::Owner::kAuthor);
  EXPECT_TRUE(new_view.follow_through.empty());
  // The old one takes no more records and is no longer due; the new one is.
  auto refused = node_->FollowThrough(*old_id, true, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kRefused);
  EXPECT_FALSE(node_->Renegotiate(*old_id, "again", std::nullopt, std::nullopt).ok());
  auto status = node_->GetStatus();
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->commitments_due.size(), 1u);
  EXPECT_EQ(status->commitments_due[0].id, *new_id);
  EXPECT_TRUE(node_->FollowThrough(*new_id, true, "").ok());
  // Survives a reopen and verify (the history is in the records).
  node_.reset();
  auto n = Node::Open(home_, std::nullopt, clock_);
  ASSERT_TRUE(n.ok());
  node_ = std::move(n).value();
  EXPECT_TRUE(node_->Verify().ok());
  EXPECT_EQ(Get(*old_id).replaced_by, *new_id);
}

TEST_F(PracticesTest, CheckinsFollowTheCouplesRhythm) {
  auto s = node_->GetStatus();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->checkin_rhythm, model::Rhythm::kWeek);
  EXPECT_EQ(s->checkin_period, "2026-W37");
  EXPECT_TRUE(s->checkin_due);
  EXPECT_EQ(FormatDate(s->checkin_next_day), "2026-09-14");
  ASSERT_TRUE(node_->SetCheckinRhythm(model::Rhythm::kMonth).ok());
  EXPECT_FALSE(node_->SetCheckinRhythm(model::Rhythm::kDay).ok());
  auto id = node_->CheckIn({"7", "a good month", "", "", ""});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(Get(*id).period, "2026-09");
  s = node_->GetStatus();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->checkin_due);
  EXPECT_EQ(s->checkin_period, "2026-09");
  EXPECT_EQ(FormatDate(s->checkin_next_day), "2026-10-01");
  // Answering again in the same month edits the same check-in.
  Days(10);
  auto again = node_->CheckIn({"8", "a good month, and a better week", "", "", ""});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  const ItemView v = Get(*id);
  ASSERT_EQ(v.answers.size(), 1u);
  EXPECT_FALSE(v.answers[0].sealed);  // this member's own answers open on its devices
  EXPECT_EQ(v.answers[0].answers[0], "8");
  EXPECT_EQ(v.answers[0].answers[1], "a good month, and a better week");
  Days(30);
  s = node_->GetStatus();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->checkin_due);
  EXPECT_EQ(s->checkin_period, "2026-10");
}

TEST_F(PracticesTest, AnswersAreStoredSealedEvenOnTheAuthorsDevice) {
  const std::string secret = "I would like more unhurried evenings";
  ASSERT_TRUE(node_->CheckIn({"6", "", "", secret, ""}).ok());
  auto plain = node_->ReadablePlaintexts();
  ASSERT_TRUE(plain.ok());
  ASSERT_FALSE(plain->empty());
  for (const Bytes& b : *plain) {
    const std::string s(b.begin(), b.end());
    EXPECT_EQ(s.find(secret), std::string::npos) << "an answer is readable without its seal key";
  }
  // The check that it is absent can find text that is there.
  ASSERT_TRUE(node_->Appreciate("Thank you for the unhurried evenings").ok());
  plain = node_->ReadablePlaintexts();
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(std::any_of(plain->begin(), plain->end(), [](const Bytes& b) {
    return std::string(b.begin(), b.end()).find("Thank you for the unhurried") != std::string::npos;
  }));
}

TEST_F(PracticesTest, RememberFindsThisDayInEarlierYearsElseSomethingFromThePast) {
  GoToDay("2026-11-22");
  auto none = node_->RandomMemory();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EntryDraft memory;
  memory.text = "Our first dance in the kitchen";
  memory.memory = true;
  memory.date = *ParseDate("2019-11-22");
  ASSERT_TRUE(node_->Write(memory).ok());
  EntryDraft other;
  other.text = "A rainy walk";
  other.date = *ParseDate("2021-11-23");  // a day later: not "this day"
  ASSERT_TRUE(node_->Write(other).ok());
  auto today = node_->OnThisDay();
  ASSERT_TRUE(today.ok());
  ASSERT_EQ(today->size(), 1u);
  EXPECT_EQ((*today)[0].text, "Our first dance in the kitchen");
  // On another day nothing matches; a random memory or appreciation comes back instead.
  GoToDay("2026-12-03");
  ASSERT_TRUE(node_->Appreciate("Thanks for fixing the bike").ok());
  Days(1);
  today = node_->OnThisDay();
  ASSERT_TRUE(today.ok());
  EXPECT_TRUE(today->empty());
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    auto one = node_->RandomMemory();
    ASSERT_TRUE(one.ok());
    ASSERT_TRUE(one->has_value());
    seen.insert((*one)->text);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"Our first dance in the kitchen", "Thanks for fixing the bike"}));
}

TEST_F(PracticesTest, GentleSignalsNoticeAndCanBeTurnedOff) {
  EXPECT_TRUE(Signals().empty());
  // Twelve weeks of two appreciations a week, weekly check-ins with falling
  // scores at the end, and a commitment missed twice in a row.
  auto commitment = node_->Commit("Phones away at dinner", model::Rhythm::kWeek, model::Owner::kAuthor);
  ASSERT_TRUE(commitment.ok());
  const std::vector<int> scores = {7, 7, 8, 7, 8, 8, 7, 8, 8, 7, 5, 4};
  for (int w = 0; w < 12; ++w) {
    ASSERT_TRUE(node_->Appreciate("thanks " + std::to_string(w)).ok());
    Days(2);
    ASSERT_TRUE(node_->Appreciate("and thanks again " + std::to_string(w)).ok());
    ASSERT_TRUE(node_->CheckIn({std::to_string(scores[static_cast<std::size_t>(w)]), "", "", "", ""}).ok());
    ASSERT_TRUE(node_->FollowThrough(*commitment, w < 10, "").ok());
    Days(5);
  }
  auto lines = Signals();
  EXPECT_TRUE(Mentions(lines, "connection scores have eased down over the last three check-ins (7, 5, 4)"))
      << testing::PrintToString(lines);
  EXPECT_TRUE(Mentions(lines, "\"Phones away at dinner\" has been hard to keep lately (missed 2 weeks in a row)"));
  EXPECT_TRUE(Mentions(lines, "hearth renegotiate"));
  EXPECT_FALSE(Mentions(lines, "Appreciations have been quieter"));
  EXPECT_FALSE(Mentions(lines, "since your last check-in"));
  // Three quiet weeks: no appreciations, no check-ins.
  Days(21);
  lines = Signals();
  EXPECT_TRUE(Mentions(lines, "Appreciations have been quieter these two weeks (0, usually about 4)"))
      << testing::PrintToString(lines);
  EXPECT_TRUE(Mentions(lines, "It has been about 3 weeks since your last check-in"));
  // Kind words only.
  for (const auto& l : lines) {
    for (const char* harsh : {"fail", "bad", "wrong", "should have", "blame", "never"}) {
      EXPECT_EQ(l.find(harsh), std::string::npos) << l;
    }
  }
  ASSERT_TRUE(node_->SetSignals(false).ok());
  auto s = node_->GetStatus();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->signals_enabled);
  EXPECT_TRUE(s->signals.empty());
  ASSERT_TRUE(node_->SetSignals(true).ok());
  EXPECT_FALSE(Signals().empty());
}

}  // namespace
}  // namespace hearth::node
