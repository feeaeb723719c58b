// Real `hearth` processes editing the same text while apart, then syncing
// over loopback: both edits survive, character by character, and every
// device ends with the same text (the sequence CRDT, docs/text-crdt.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/net_fixture.h"

namespace hearth::testing {
namespace {

class TextNetTest : public NetTest {
 protected:
  ProcessResult HearthIn(const std::string& home, std::vector<std::string> args, const std::string& input) {
    args.insert(args.begin(), {HEARTH_BIN, "--home", Home(home).string()});
    return RunProcess(args, {{"HEARTH_PASSPHRASE", "\x01unset"}}, input);
  }
  std::string Agreements(const std::string& home) {
    auto r = Hearth(home, {"agreements", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["text"].get<std::string>();
  }
  std::string TextOf(const std::string& home, const std::string& id) {
    auto r = Hearth(home, {"show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["text"].get<std::string>();
  }
};

const char* kAgreements =
    "We put phones away at dinner.\n"
    "When a talk gets hard, we take a break and come back within a day.\n"
    "We say thank you for small things.\n";

TEST_F(TextNetTest, PartnersEditTheAgreementsApartAndBothEditsSurvive) {
  PairPartners();
  ASSERT_EQ(HearthIn("sam", {"agreements", "edit"}, kAgreements).exit_code, 0);
  {
    const std::string sam = Serve("sam");
    ASSERT_EQ(Hearth("alex", {"sync", "--peer", sam}).exit_code, 0);
    StopChild();
  }
  ASSERT_EQ(Agreements("alex"), Agreements("sam"));

  // Apart (no node running): Sam changes the first paragraph and the middle
  // sentence; Alex changes the last paragraph and the same middle sentence.
  auto a = HearthIn("sam", {"agreements", "edit"},
                    "We put phones away at dinner and at breakfast.\n"
                    "When a talk gets hard, we take a short break and come back within a day.\n"
                    "We say thank you for small things.\n");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = HearthIn("alex", {"agreements", "edit"},
                    "We put phones away at dinner.\n"
                    "When a talk gets hard, we take a break and come back within a day, gently.\n"
                    "We say thank you for small things, out loud.\n");
  ASSERT_EQ(b.exit_code, 0) << b.err;

  const std::string sam = Serve("sam");
  auto r = Hearth("alex", {"sync", "--peer", sam});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string want =
      "We put phones away at dinner and at breakfast.\n"
      "When a talk gets hard, we take a short break and come back within a day, gently.\n"
      "We say thank you for small things, out loud.";
  EXPECT_EQ(Agreements("sam"), want);
  EXPECT_EQ(Agreements("alex"), want);
  EXPECT_EQ(Hearth("sam", {"verify"}).exit_code, 0);
  EXPECT_EQ(Hearth("alex", {"verify"}).exit_code, 0);
}

TEST_F(TextNetTest, TwoDevicesEditTheSameEntryApartAndBothEditsSurvive) {
  Init("sam", "Sam");
  auto w = Hearth("sam", {"write", "--title", "Our trip",
                          "We drove to the coast on Friday.\n\nThe rain stopped when we reached the beach.\n\n"
                          "On Sunday we cooked together."});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const std::string id = w.out.substr(w.out.find("entry ") + 6, 16);
  {
    Serve("sam");
    ASSERT_EQ(Hearth("phone", {"join", Invite("sam", "device"), "--no-passphrase"}).exit_code, 0);
    StopChild();
  }
  ASSERT_EQ(TextOf("phone", id), TextOf("sam", id));

  // Apart: the laptop rewrites the first paragraph and a word in the middle
  // sentence; the phone adds to the last paragraph and changes the same
  // middle sentence elsewhere.
  auto a = Hearth("sam", {"edit", id,
                          "We drove to the sea coast early on Friday.\n\nThe rain finally stopped when we reached "
                          "the beach.\n\nOn Sunday we cooked together."});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = Hearth("phone", {"edit", id,
                            "We drove to the coast on Friday.\n\nThe rain stopped when we reached the empty beach."
                            "\n\nOn Sunday we cooked together, then danced in the kitchen."});
  ASSERT_EQ(b.exit_code, 0) << b.err;

  const std::string sam = Serve("sam");
  auto r = Hearth("phone", {"sync", "--peer", sam});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string want =
      "We drove to the sea coast early on Friday.\n\nThe rain finally stopped when we reached the empty beach.\n\n"
      "On Sunday we cooked together, then danced in the kitchen.";
  EXPECT_EQ(TextOf("sam", id), want);
  EXPECT_EQ(TextOf("phone", id), want);
  EXPECT_EQ(Hearth("phone", {"verify"}).exit_code, 0);
}

}  // namespace
}  // namespace hearth::testing
