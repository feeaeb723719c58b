// The PDF renderer (cli/export/pdf.cc), checked on the hand-built
// SampleDocument with poppler's own tools: pdfinfo for the pages and the
// metadata, pdftotext for the text a reader (or a screen reader) gets back.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "cli/export/document.h"
#include "core/base/dates.h"
#include "core/node/node.h"
#include "tests/export/sample_document.h"
#include "tests/support/process.h"

namespace hearth::exporter {
namespace {

namespace fs = std::filesystem;
using hearth::testing::RunProcess;
using testing::kAccented;
using testing::kArabic;
using testing::kEmoji;
using testing::kHebrew;
using testing::kPrivateText;
using testing::SampleDocument;

class PdfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/hearth-pdf-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Renders `doc` to `name` in the test's directory; fails the test on error.
  std::string Render(const Document& doc, const std::string& name, Paper paper = Paper::kA4) {
    const std::string out = Path(name);
    const Status s = RenderPdf(doc, paper, out);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return out;
  }

  fs::path dir_;
};

// The full path of a program on PATH (RunProcess does not search it).
std::string Tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  ADD_FAILURE() << name << " is not installed (Debian: poppler-utils)";
  return name;
}

std::string Info(const std::string& pdf) {
  const auto r = RunProcess({Tool("pdfinfo"), pdf});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::string Text(const std::string& pdf, bool layout = false) {
  std::vector<std::string> argv = {Tool("pdftotext"), "-enc", "UTF-8"};
  if (layout) argv.push_back("-layout");
  argv.push_back(pdf);
  argv.push_back("-");
  const auto r = RunProcess(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The value of one "Name:   value" line of pdfinfo's output ("" when absent).
std::string Field(const std::string& info, const std::string& name) {
  std::smatch m;
  const std::regex line("(^|\n)" + name + R"(:\s*([^\n]*))");
  return std::regex_search(info, m, line) ? m[2].str() : "";
}

int Pages(const std::string& info) {
  const std::string pages = Field(info, "Pages");
  return pages.empty() ? -1 : std::stoi(pages);
}

std::size_t Count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(PdfTest, A4HasItsPageSizeTitleAndSeveralPages) {
  const Document doc = SampleDocument();
  const std::string info = Info(Render(doc, "a4.pdf"));
  EXPECT_EQ(Field(info, "Page size"), "595.28 x 841.89 pts (A4)") << info;
  EXPECT_GE(Pages(info), 2) << info;
  EXPECT_EQ(Field(info, "Title"), "Hearth \u2014 " + PeriodLabel(doc)) << info;
  EXPECT_EQ(Field(info, "Creator"), "Hearth") << info;
}

TEST_F(PdfTest, LetterHasItsPageSize) {
  const Document doc = SampleDocument();
  const std::string info = Info(Render(doc, "letter.pdf", Paper::kLetter));
  EXPECT_EQ(Field(info, "Page size"), "612 x 792 pts (letter)") << info;
  EXPECT_GE(Pages(info), 2) << info;
  EXPECT_NE(Field(info, "Title").find(PeriodLabel(doc)), std::string::npos) << info;
}

TEST_F(PdfTest, TextInEveryScriptCanBeExtracted) {
  const std::string text = Text(Render(SampleDocument(), "sample.pdf"));
  EXPECT_NE(text.find(kAccented), std::string::npos);
  EXPECT_NE(text.find(kHebrew), std::string::npos);
  EXPECT_NE(text.find(kArabic), std::string::npos);
  // The emoji come from a colour font that cairo 1.16 draws as pictures, not
  // glyphs: pdftotext gives back the text around them (as two blocks, or
  // "tea      and" with -layout) and nothing for the emoji themselves.
  EXPECT_NE(text.find("Thank you for the tea"), std::string::npos);
  EXPECT_NE(text.find("and the hug"), std::string::npos);
  EXPECT_NE(text.find("Sunday dinner"), std::string::npos);
  EXPECT_NE(text.find("Remember the night train to Lisbon?"), std::string::npos);
  EXPECT_NE(text.find("Walk together after dinner on Sundays"), std::string::npos);
  EXPECT_NE(text.find(node::CheckinPrompts()[1]), std::string::npos);
  EXPECT_NE(text.find("The walk on Sunday"), std::string::npos);
  EXPECT_NE(text.find("Dinner with your parents"), std::string::npos);
  EXPECT_NE(text.find(kPrivateText), std::string::npos);  // included by the sample's filters
}

TEST_F(PdfTest, CoverShowsTheSummaryFigures) {
  const Document doc = SampleDocument();
  const std::string text = Text(Render(doc, "cover.pdf"), /*layout=*/true);
  // The cover is the first page (pages end with a form feed).
  const std::string cover = text.substr(0, text.find('\f'));
  EXPECT_NE(cover.find("Our journal"), std::string::npos) << cover;
  EXPECT_NE(cover.find("Alice & Samír"), std::string::npos) << cover;
  EXPECT_NE(cover.find(PeriodLabel(doc)), std::string::npos) << cover;
  EXPECT_NE(cover.find("Prepared by Alice on 22 November 2026"), std::string::npos) << cover;
  EXPECT_NE(cover.find("Alice\u2019s private entries are included."), std::string::npos) << cover;
  ASSERT_EQ(doc.appreciations.size(), 2u);
  for (const auto& a : doc.appreciations) {
    const std::regex line(a.from + " \u2192 " + a.to + R"( +)" + std::to_string(a.count) + "\n");
    EXPECT_TRUE(std::regex_search(cover, line)) << a.from << " -> " << a.to << "\n" << cover;
  }
  EXPECT_TRUE(
      std::regex_search(cover, std::regex("Entries +" + std::to_string(doc.entries) + "\n")))
      << cover;
  EXPECT_TRUE(
      std::regex_search(cover, std::regex("Check-ins +" + std::to_string(doc.checkins) + "\n")))
      << cover;
  EXPECT_TRUE(std::regex_search(cover, std::regex("Private entries +1\n"))) << cover;
  // The commitment's row: kept, missed, not recorded, streak, last 4 and 12;
  // under its text, how often and who keeps it.
  const CommitmentSummary& c = doc.commitments.at(0);
  const std::regex row(
      c.text + " +" + std::to_string(c.kept) + " +" + std::to_string(c.missed) + " +" +
      std::to_string(c.not_recorded) + " +" + std::to_string(c.stats.streak) + " +" +
      PercentOrDash(c.stats.kept4, c.stats.recorded4) + " +" +
      PercentOrDash(c.stats.kept12, c.stats.recorded12) + "\n *Weekly, kept by both\n");
  EXPECT_TRUE(std::regex_search(cover, row)) << cover;
}

TEST_F(PdfTest, PrivateEntryLeftOutIsNowhere) {
  Document doc = SampleDocument();
  std::erase_if(doc.items, [](const node::ItemView& v) { return v.is_private; });
  doc.private_entries = 0;
  doc.filters.include_private = false;
  const std::string text = Text(Render(doc, "shared.pdf"), /*layout=*/true);
  EXPECT_EQ(text.find(kPrivateText), std::string::npos);
  EXPECT_EQ(text.find("Private entries"), std::string::npos);
  EXPECT_EQ(text.find("private"), std::string::npos);
  EXPECT_NE(text.find("Sunday dinner"), std::string::npos);  // the rest is there
}

TEST_F(PdfTest, FiltersThatNarrowAreStated) {
  Document doc = SampleDocument();
  doc.filters.kinds = {model::Kind::kCheckin, model::Kind::kAppreciation};
  doc.filters.tags = {"home"};
  doc.filters.author = "Samír";
  doc.filters.include_private = false;
  const std::string text = Text(Render(doc, "filtered.pdf"));
  EXPECT_NE(text.find("Filtered: Only appreciations and check-ins, tagged \u201chome\u201d and written by Samír."),
            std::string::npos)
      << text.substr(0, 800);
}

TEST_F(PdfTest, UnwritablePathIsAStorageErrorAndLeavesNoFile) {
  const Document doc = SampleDocument(2);
  for (const std::string& out : {std::string("/proc/hearth-no/x.pdf"), Path("missing/dir/x.pdf")}) {
    const Status s = RenderPdf(doc, Paper::kA4, out);
    ASSERT_FALSE(s.ok()) << out;
    EXPECT_EQ(s.error().code, Errc::kStorage);
    EXPECT_EQ(s.error().message, "Could not write " + out + ": No such file or directory.");
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out + ".tmp"));
  }
  // A directory where the file should go: the temporary file is removed.
  const std::string out = Path("taken");
  fs::create_directory(out);
  const Status s = RenderPdf(doc, Paper::kA4, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kStorage);
  EXPECT_EQ(s.error().message.rfind("Could not write " + out + ": ", 0), 0u) << s.error().message;
  EXPECT_TRUE(fs::is_directory(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

// A disk that fills up mid-file (a file size limit, in a child process): the
// error names the cause, and neither the file nor its temporary is left.
TEST_F(PdfTest, FullDiskIsAStorageErrorAndLeavesNoFile) {
  const std::string out = Path("full.pdf");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{16 * 1024, 16 * 1024};
    setrlimit(RLIMIT_FSIZE, &limit);
    const Status s = RenderPdf(SampleDocument(), Paper::kA4, out);
    const bool expected = !s.ok() && s.error().code == Errc::kStorage &&
                          s.error().message == "Could not write " + out + ": File too large.";
    _exit(expected ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST_F(PdfTest, ReplacesAnEarlierExportAndLeavesNoTemporaryFile) {
  const std::string out = Render(SampleDocument(2), "again.pdf");
  const auto first = fs::file_size(out);
  Render(SampleDocument(12), "again.pdf");
  EXPECT_NE(fs::file_size(out), first);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(PdfTest, EmptyDocumentIsOnePageSayingSo) {
  Document doc;
  doc.exporter = "Alice";
  doc.members = {"Alice", "Samír"};
  doc.from_day = DaysFromCivil({2026, 11, 1});
  doc.to_day = DaysFromCivil({2026, 11, 22});
  doc.generated_ms = doc.to_day * 86'400'000;
  const std::string pdf = Render(doc, "empty.pdf");
  const std::string info = Info(pdf);
  EXPECT_EQ(Pages(info), 1) << info;
  const std::string text = Text(pdf);
  EXPECT_NE(text.find("There is nothing in this period."), std::string::npos) << text;
  EXPECT_NE(text.find("page 1"), std::string::npos) << text;
}

TEST_F(PdfTest, SealedAnswersAreNotShown) {
  Document doc = SampleDocument(1);
  auto checkin = std::find_if(doc.items.begin(), doc.items.end(), [](const node::ItemView& v) {
    return v.kind == model::Kind::kCheckin;
  });
  ASSERT_NE(checkin, doc.items.end());
  checkin->answers[1].sealed = true;
  checkin->answers[1].answers.assign(node::CheckinPrompts().size(), "");
  checkin->answers[0].answers[3] = "";  // a skipped answer: no prompt, no empty line
  const std::string text = Text(Render(doc, "sealed.pdf"));
  EXPECT_NE(text.find("Samír\u2019s answers are still sealed."), std::string::npos) << text;
  EXPECT_EQ(text.find("Dinner with your parents"), std::string::npos);
  EXPECT_EQ(text.find(node::CheckinPrompts()[3]), std::string::npos);
  EXPECT_EQ(text.find(node::CheckinPrompts()[4]), std::string::npos);  // skipped in the sample
  EXPECT_NE(text.find(node::CheckinPrompts()[2]), std::string::npos) << text;
}

// Every line of an item too long for one page arrives once, in order, and
// the page count shows it continued over several pages.
TEST_F(PdfTest, LongItemContinuesOnTheNextPagesWithoutLosingALine) {
  Document doc = SampleDocument(1);
  node::ItemView& entry = doc.items.at(2);
  ASSERT_EQ(entry.kind, model::Kind::kEntry);
  entry.text.clear();
  for (int i = 0; i < 300; ++i) {
    entry.text += "Line " + std::to_string(1000 + i) + " of a very long entry.\n";
    if (i % 10 == 9) entry.text += "\n";
  }
  const std::string pdf = Render(doc, "long.pdf");
  EXPECT_GE(Pages(Info(pdf)), 6);
  const std::string text = Text(pdf);
  std::size_t at = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string line = "Line " + std::to_string(1000 + i) + " of a very long entry.";
    EXPECT_EQ(Count(text, line), 1u) << line;
    const auto found = text.find(line, at);
    ASSERT_NE(found, std::string::npos) << line << " out of order";
    at = found;
  }
}

// Right-to-left paragraphs sit on the right margin: every Hebrew or Arabic
// word is in the right half of the page (pdftotext -bbox gives each word's box).
TEST_F(PdfTest, RightToLeftTextIsRightAligned) {
  const std::string pdf = Render(SampleDocument(4), "rtl.pdf");
  const auto r = RunProcess({Tool("pdftotext"), "-enc", "UTF-8", "-bbox", pdf, "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  static const std::regex kWord(
      R"re(<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>)re");
  int rtl = 0;
  double right = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), kWord);
       it != std::sregex_iterator(); ++it) {
    const std::string word = (*it)[3];
    const auto lead = static_cast<unsigned char>(word.empty() ? 0 : word[0]);
    if (lead != 0xD7 && lead != 0xD8 && lead != 0xD9) continue;  // Hebrew and Arabic letters
    ++rtl;
    EXPECT_GT(std::stod((*it)[1]), 595.28 / 2) << word;
    right = std::max(right, std::stod((*it)[2]));
  }
  EXPECT_GE(rtl, 4);
  EXPECT_NEAR(right, 595.28 - 50, 2.0);
}

TEST_F(PdfTest, InvalidUtf8AndControlCharactersStillRender) {
  Document doc = SampleDocument(1);
  doc.items.at(0).text = std::string("before\xff\xfe") + '\0' + "after <b>&amp; not markup</b>";
  const std::string text = Text(Render(doc, "invalid.pdf"));
  EXPECT_NE(text.find("after <b>&amp; not markup</b>"), std::string::npos) << text;
  EXPECT_NE(text.find("before"), std::string::npos);
}

// Not a timing assertion: renders a large journal (20,000 items) and prints
// how long it took; the bound is only there to catch a runaway.
TEST_F(PdfTest, LargeDocumentRenders) {
  const Document doc = testing::LargeDocument(20'000);
  const auto start = std::chrono::steady_clock::now();
  const std::string pdf = Render(doc, "large.pdf");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "RenderPdf of " << doc.items.size() << " items: " << seconds << " s, "
            << fs::file_size(pdf) / 1024 << " KiB\n";
  RecordProperty("seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 120);
  EXPECT_GT(Pages(Info(pdf)), 1000);
}

}  // namespace
}  // namespace hearth::exporter
