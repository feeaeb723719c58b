// `hearth export` end to end: a real node written through the real `hearth`
// binary (with HEARTH_NOW walking through the weeks), exported in every
// format, and each file checked by the tools a reader would use: pdfinfo and
// pdftotext for the PDF, the JSON Schema validator and Hearth's own reader for
// the JSON, and plain text search for Markdown and HTML.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/export/document.h"
#include "tests/support/process.h"

namespace hearth::testing {
namespace {

namespace fs = std::filesystem;

class ExportCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hearth-export-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  ProcessResult Hearth(std::vector<std::string> args, const std::string& now = "2026-11-22T10:00:00Z") {
    args.insert(args.begin(), {HEARTH_BIN, "--home", (dir_ / "home").string()});
    return RunProcess(args, {{"HEARTH_PASSPHRASE", "\x01unset"}, {"HEARTH_NOW", now}}, "", true);
  }
  void Ok(std::vector<std::string> args, const std::string& now = "2026-11-22T10:00:00Z") {
    auto r = Hearth(args, now);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string PdfText(const fs::path& pdf) {
    auto r = RunProcess({"/usr/bin/pdftotext", "-enc", "UTF-8", pdf.string(), "-"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  // A month of a couple's journal on one device (the partner has not joined:
  // appreciations go to "your partner").
  void WriteMonth() {
    Ok({"init", "--name", "Alice", "--no-passphrase"}, "2026-10-01T09:00:00Z");
    Ok({"commit", "Walk together after dinner", "--every", "week", "--owner", "both"}, "2026-10-01T09:05:00Z");
    auto list = Hearth({"list", "--kind", "commitment", "--json"}, "2026-10-01T09:06:00Z");
    commitment_ = list.out.substr(list.out.find("\"id\": \"") + 7, 8);
    const char* days[] = {"2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02"};
    int i = 0;
    for (const char* d : days) {
      const std::string at = std::string(d) + "T20:00:00Z";
      Ok({"appreciate", "Merci pour le dîner, mon cœur — week " + std::to_string(i)}, at);
      Ok({i % 2 ? "miss" : "keep", commitment_}, at);
      const std::string answers = (dir_ / "answers.txt").string();
      std::ofstream(answers) << (6 + i) << "\nThe walk by the lake\n\nשבת שקטה\n\n";
      Ok({"checkin", "--answers-file", answers}, at);
      ++i;
    }
    Ok({"write", "We cooked together and laughed about the soup 🍲", "--title", "Sunday dinner", "--tag", "home"},
       "2026-10-11T19:00:00Z");
    Ok({"write", "A note about work, tagged otherwise", "--tag", "work"}, "2026-10-14T19:00:00Z");
    Ok({"write", "My private reflection about the move", "--private"}, "2026-10-20T19:00:00Z");
    Ok({"write", "Remember the night train to Lisbon?", "--memory", "--date", "2019-10-20"}, "2026-10-21T19:00:00Z");
    Ok({"write", "Something from before the period", "--date", "2026-09-01"}, "2026-10-22T19:00:00Z");
  }
  fs::path dir_;
  std::string commitment_;
};

TEST_F(ExportCliTest, PdfHoldsThePeriodsItemsAndLeavesOutWhatWasNotAskedFor) {
  WriteMonth();
  const fs::path pdf = dir_ / "out.pdf";
  auto r = Hearth({"export", "--format", "pdf", "--from", "2026-10-01", "--to", "2026-11-30", "--out", pdf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = RunProcess({"/usr/bin/pdfinfo", pdf.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("(A4)"), std::string::npos) << info.out;
  const std::string text = PdfText(pdf);
  for (const char* expected : {"Merci pour le dîner, mon cœur — week 0", "Merci pour le dîner, mon cœur — week 4",
                               "Walk together after dinner", "Sunday dinner", "The walk by the lake",
                               "A note about work"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected;
  }
  EXPECT_EQ(text.find("My private reflection"), std::string::npos) << "private without --include-private";
  EXPECT_EQ(text.find("Something from before the period"), std::string::npos);
  // Letter, only entries tagged "home", and my private entries.
  r = Hearth({"export", "--format", "pdf", "--kind", "entry", "--tag", "home", "--paper", "letter", "--out",
              pdf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  info = RunProcess({"/usr/bin/pdfinfo", pdf.string()});
  EXPECT_NE(info.out.find("(letter)"), std::string::npos) << info.out;
  const std::string home_only = PdfText(pdf);
  EXPECT_NE(home_only.find("Sunday dinner"), std::string::npos);
  EXPECT_EQ(home_only.find("A note about work"), std::string::npos);
  EXPECT_EQ(home_only.find("Merci pour le"), std::string::npos);
  r = Hearth({"export", "--format", "pdf", "--kind", "entry", "--include-private", "--out", pdf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(PdfText(pdf).find("My private reflection about the move"), std::string::npos);
}

TEST_F(ExportCliTest, JsonIsCompleteValidAndReadsBackToTheSameDocument) {
  WriteMonth();
  const fs::path out = dir_ / "out.json";
  auto r = Hearth({"export", "--format", "json", "--from", "2026-10-01", "--to", "2026-11-30", "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = Read(out);
  auto doc = exporter::ParseJson(text);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(exporter::RenderJson(*doc), text);  // every field survives the round trip
  EXPECT_EQ(doc->checkins, 5u);
  ASSERT_EQ(doc->commitments.size(), 1u);
  EXPECT_EQ(doc->commitments[0].kept, 3u);
  EXPECT_EQ(doc->commitments[0].missed, 2u);
  ASSERT_EQ(doc->scores.size(), 1u);
  EXPECT_EQ(doc->scores[0].points.size(), 5u);
  EXPECT_EQ(doc->scores[0].points.back().score, 10);
  const fs::path schema = fs::path(HEARTH_SOURCE_DIR) / "docs" / "export-schema.json";
  auto v = RunProcess({"/usr/bin/python3", "-c",
                       "import json,sys,jsonschema\n"
                       "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
                       out.string(), schema.string()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
}

TEST_F(ExportCliTest, MarkdownAndHtmlGoToStandardOutputOrAFile) {
  WriteMonth();
  auto md = Hearth({"export", "--format", "md", "--kind", "appreciation"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("Merci pour le dîner, mon cœur — week 3"), std::string::npos);
  EXPECT_EQ(md.out.find("Sunday dinner"), std::string::npos);
  // The memory (about 2019, shared in the period) stands under a month of the
  // period, not under a heading of its own from 2019.
  auto all = Hearth({"export", "--format", "md", "--from", "2026-10-01", "--to", "2026-11-30"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto memory = all.out.find("Remember the night train to Lisbon?");
  ASSERT_NE(memory, std::string::npos);
  EXPECT_EQ(all.out.find("2019\n"), std::string::npos) << "a memory opened a month heading of its own";
  const auto heading = all.out.rfind("\n### ", memory);
  ASSERT_NE(heading, std::string::npos);
  EXPECT_NE(all.out.substr(heading, all.out.find('\n', heading + 1) - heading).find("2026"), std::string::npos);
  const fs::path html = dir_ / "out.html";
  auto r = Hearth({"export", "--format", "html", "--out", html.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = Read(html);
  EXPECT_NE(page.find("שבת שקטה"), std::string::npos);
  EXPECT_NE(page.find("class=\"chart\""), std::string::npos);
  EXPECT_EQ(fs::status(html).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST_F(ExportCliTest, BadRequestsFailClearlyAndWriteNothing) {
  WriteMonth();
  const fs::path out = dir_ / "never.pdf";
  struct Case {
    std::vector<std::string> args;
    int code;
    const char* says;
  };
  const std::vector<Case> cases = {
      {{"export", "--format", "docx", "--out", out.string()}, 1, "--format must be md, html, pdf or json"},
      {{"export", "--format", "pdf", "--kind", "diary", "--out", out.string()}, 1, "Unknown kind 'diary'"},
      {{"export", "--format", "pdf", "--from", "2026-13-01", "--out", out.string()}, 1, "is not a date for --from"},
      {{"export", "--format", "pdf", "--from", "2026-11-01", "--to", "2026-10-01", "--out", out.string()}, 1,
       "--from is after --to"},
      {{"export", "--format", "pdf", "--paper", "a3", "--out", out.string()}, 1, "--paper must be a4 or letter"},
      {{"export", "--format", "pdf", "--author", "Nobody", "--out", out.string()}, 1, "No member named 'Nobody'"},
      {{"export", "--format", "json", "--out", (dir_ / "no-such-dir" / "x.json").string()}, 1, "Could not write"},
  };
  for (const auto& c : cases) {
    auto r = Hearth(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args[2] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace hearth::testing
