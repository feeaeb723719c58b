// Sealed check-ins across two real nodes (real `hearth` processes over
// loopback): before the second partner answers, the first partner's answers
// cannot be read on the second partner's device, not through the CLI and not
// from its database with its own keys; once both have answered and synced,
// both devices show both.
#include <fstream>

#include "core/base/clock.h"
#include "core/node/node.h"
#include "tests/cli/net_fixture.h"

namespace hearth::testing {
namespace {

class PracticesNetTest : public NetTest {
 protected:
  std::string AnswersFile(const std::string& name, const std::string& lines) {
    const fs::path p = base_ / name;
    std::ofstream(p) << lines;
    return p.string();
  }
  json Show(const std::string& home, const std::string& id) {
    auto r = Hearth(home, {"show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }
  static const json* AnswersOf(const json& checkin, const std::string& member) {
    for (const auto& a : checkin["answers"]) {
      if (a["member"] == member) return &a;
    }
    return nullptr;
  }
  // Every plaintext the home's own keys can decrypt from its database.
  std::string Readable(const std::string& home) {
    SystemClock clock;
    auto n = node::Node::Open(Home(home), std::nullopt, clock);
    EXPECT_TRUE(n.ok()) << n.error().message;
    if (!n.ok()) return {};
    auto plain = (*n)->ReadablePlaintexts();
    EXPECT_TRUE(plain.ok());
    std::string all;
    for (const Bytes& b : *plain) all.append(b.begin(), b.end());
    return all;
  }
  static std::string FileBytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(PracticesNetTest, AnswersStaySealedUntilBothHaveAnsweredThenBothSeeBoth) {
  PairPartners();
  const std::string sam_addr = Serve("sam");
  // A control: text in the clear does show up in what Alex's keys can read.
  ASSERT_EQ(Hearth("sam", {"appreciate", "Thank you for the soup"}).exit_code, 0);
  const std::vector<std::string> sam_words = {"Our walk along the canal", "Your patience with my mother",
                                              "A quiet evening without screens", "The holiday plans"};
  auto r = Hearth("sam", {"checkin", "--answers-file",
                          AnswersFile("sam.txt", "7\n" + sam_words[0] + "\n" + sam_words[1] + "\n" + sam_words[2] +
                                                     "\n" + sam_words[3] + "\n")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sealed until your partner answers"), std::string::npos) << r.out;
  r = Hearth("alex", {"sync", "--peer", sam_addr});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Alex's device holds Sam's answers, sealed.
  auto list = List("alex");
  std::string id;
  for (const auto& item : list) {
    if (item["kind"] == "checkin") id = item["id"];
  }
  ASSERT_FALSE(id.empty()) << list.dump();
  json before = Show("alex", id);
  const json* sam_there = AnswersOf(before, "Sam");
  ASSERT_NE(sam_there, nullptr) << before.dump();
  EXPECT_TRUE((*sam_there)["sealed"].get<bool>());
  EXPECT_TRUE((*sam_there)["connection"].is_null());
  const std::string readable = Readable("alex");
  EXPECT_NE(readable.find("Thank you for the soup"), std::string::npos) << "the control must be readable";
  for (const auto& w : sam_words) {
    EXPECT_EQ(before.dump().find(w), std::string::npos) << w;
    EXPECT_EQ(readable.find(w), std::string::npos) << "readable on Alex's device before Alex answered: " << w;
    EXPECT_EQ(FileBytes(Home("alex") / "hearth.db").find(w), std::string::npos) << w;
  }
  auto status = Hearth("alex", {"status", "--json"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_TRUE(json::parse(status.out)["checkin"]["due"].get<bool>());
  EXPECT_TRUE(json::parse(status.out)["checkin"]["partner_answered"].get<bool>());
  // Sam's own device reads Sam's answers.
  json at_sam = Show("sam", id);
  ASSERT_NE(AnswersOf(at_sam, "Sam"), nullptr);
  EXPECT_EQ((*AnswersOf(at_sam, "Sam"))["went_well"], sam_words[0]);

  // Alex answers, then one sync round: Alex's answers and key go to Sam, Sam's
  // device releases Sam's key in answer, and it comes back in the same round.
  r = Hearth("alex", {"checkin", "--answers-file",
                      AnswersFile("alex.txt", "8\nDinner with friends\nYour laugh\nMore sleep\n\n")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Hearth("alex", {"sync", "--peer", sam_addr});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string home : {"alex", "sam"}) {
    json after = Show(home, id);
    const json* s = AnswersOf(after, "Sam");
    const json* a = AnswersOf(after, "Alex");
    ASSERT_NE(s, nullptr) << home << after.dump();
    ASSERT_NE(a, nullptr) << home << after.dump();
    EXPECT_FALSE((*s)["sealed"].get<bool>()) << home;
    EXPECT_FALSE((*a)["sealed"].get<bool>()) << home;
    EXPECT_EQ((*s)["connection"], 7) << home;
    EXPECT_EQ((*s)["unresolved"], sam_words[3]) << home;
    EXPECT_EQ((*a)["connection"], 8) << home;
    EXPECT_EQ((*a)["went_well"], "Dinner with friends") << home;
  }
  StopChild();
  EXPECT_EQ(Hearth("sam", {"verify"}).exit_code, 0);
  EXPECT_EQ(Hearth("alex", {"verify"}).exit_code, 0);
}

TEST_F(PracticesNetTest, TheRhythmIsSharedAndStatusSaysWhenTheNextIsDue) {
  PairPartners();
  const std::string sam_addr = Serve("sam");
  auto r = Hearth("alex", {"checkin", "--every", "month"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Hearth("alex", {"checkin", "--every", "fortnight"}).exit_code, 1);
  ASSERT_EQ(Hearth("alex", {"sync", "--peer", sam_addr}).exit_code, 0);
  auto status = Hearth("sam", {"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const json st = json::parse(status.out);
  EXPECT_EQ(st["checkin"]["every"], "month");
  EXPECT_EQ(st["checkin"]["period"].get<std::string>().size(), 7u);  // YYYY-MM
  EXPECT_TRUE(st["checkin"]["due"].get<bool>());
  auto text = Hearth("sam", {"status"});
  EXPECT_NE(text.out.find("A check-in is due this month"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace hearth::testing
