// Integration tests: the real `hearth` binary on a temporary home.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/support/process.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;
using testing::RunProcess;

const std::string kUnset = "\x01unset";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file under a directory, with its bytes: to prove "nothing changed".
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = ReadAll(e.path());
  }
  return out;
}

// Runs hearth on a pseudo-terminal (stdin is a terminal, /dev/tty works),
// typing `typed` once the first output (a prompt) has appeared when `wait_prompt`.
struct PtyResult {
  int exit_code = -1;
  std::string out;
};
PtyResult RunOnPty(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                   const std::string& typed, bool wait_prompt = false) {
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    for (const auto& [k, v] : env) {
      if (v == "\x01unset") {
        ::unsetenv(k.c_str());
      } else {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(HEARTH_BIN));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(HEARTH_BIN, argv.data());
    ::_exit(127);
  }
  PtyResult r;
  char buf[512];
  ssize_t n = 0;
  if (wait_prompt && (n = ::read(master, buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
  if (!typed.empty()) (void)!::write(master, typed.data(), typed.size());
  while ((n = ::read(master, buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("hearth-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    home_ = base_ / "home";
    runtime_ = base_ / "runtime";
    fs::create_directories(runtime_);
    ::chmod(runtime_.c_str(), 0700);
  }
  void TearDown() override { fs::remove_all(base_); }

  ProcessResult Hearth(std::vector<std::string> args, const std::string& stdin_text = "",
                       std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {HEARTH_BIN, "--home", home_.string()});
    env.emplace("HEARTH_NOW", "2026-11-22T10:00:00Z");
    env.emplace("XDG_RUNTIME_DIR", runtime_.string());
    env.emplace("HEARTH_PASSPHRASE", kUnset);
    env.emplace("EDITOR", "false");
    env.emplace("VISUAL", kUnset);
    return RunProcess(args, env, stdin_text, stdin_text.empty());
  }

  void InitPlain(const std::string& name = "Alex", std::map<std::string, std::string> env = {}) {
    auto r = Hearth({"init", "--name", name, "--device-name", "alex-laptop", "--no-passphrase"}, "",
                    std::move(env));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // The 16-hex id printed by a write command ("Saved entry ID.").
  static std::string IdOf(const ProcessResult& r) {
    std::smatch m;
    static const std::regex kId("([0-9a-f]{16})\\.");
    EXPECT_TRUE(std::regex_search(r.out, m, kId)) << r.out << r.err;
    return m.size() > 1 ? m[1].str() : std::string();
  }

  json ListJson(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "list");
    args.push_back("--json");
    auto r = Hearth(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  // Asserts exit status, a one-line message on stderr, and an unchanged home.
  void ExpectRefused(std::vector<std::string> args, int code, const std::string& needle,
                     const std::string& stdin_text = "",
                     std::map<std::string, std::string> env = {}) {
    auto before = Snapshot(home_);
    auto r = Hearth(args, stdin_text, env);
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("hearth: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    const auto after = Snapshot(home_);
    EXPECT_TRUE(after == before) << "the home changed";
    for (const auto& [path, bytes] : after) {
      if (!before.contains(path) || before.at(path) != bytes) ADD_FAILURE() << "changed: " << path;
    }
    for (const auto& [path, bytes] : before) {
      if (!after.contains(path)) ADD_FAILURE() << "removed: " << path;
    }
  }

  fs::path base_, home_, runtime_;
};

TEST_F(CliTest, InitMakesAPrivateHomeAndRefusesASecondSpace) {
  InitPlain();
  struct stat st {};
  ASSERT_EQ(::stat(home_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((home_ / "keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((home_ / "hearth.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ExpectRefused({"init", "--name", "Again", "--no-passphrase"}, 1, "already exists");
}

TEST_F(CliTest, WriteFromArgumentStdinAndEditor) {
  InitPlain();
  auto a = Hearth({"write", "from the argument", "--title", "Arg", "--mood", "4", "--tag", "t1",
                   "--tag", "t2"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = Hearth({"write"}, "from stdin\n\n");
  ASSERT_EQ(b.exit_code, 0) << b.err;

  // The editor: a script that records where it was asked to write and the
  // file's mode, then writes the text.
  const fs::path log = base_ / "editor.log";
  const fs::path script = base_ / "editor.sh";
  std::ofstream(script) << "#!/bin/sh\necho \"$1\" > " << log.string()
                        << "\nstat -c %a \"$1\" >> " << log.string()
                        << "\nprintf 'from the editor\\n' > \"$1\"\n";
  fs::permissions(script, fs::perms::owner_all);
  // No stdin and no argument: $EDITOR. A pty makes stdin a terminal.
  auto pty = RunOnPty({"--home", home_.string(), "write"},
                     {{"EDITOR", script.string()}, {"VISUAL", "\x01unset"},
                      {"XDG_RUNTIME_DIR", runtime_.string()}, {"HEARTH_NOW", "2026-11-22T10:00:00Z"}},
                     "");
  ASSERT_EQ(pty.exit_code, 0) << pty.out;
  std::istringstream lines(ReadAll(log));
  std::string path, mode;
  std::getline(lines, path);
  std::getline(lines, mode);
  EXPECT_EQ(path.rfind(runtime_.string(), 0), 0u) << path;  // in the RAM-backed directory
  EXPECT_EQ(mode, "600");
  EXPECT_FALSE(fs::exists(path)) << "the editor's file was left behind";
  EXPECT_TRUE(fs::is_empty(runtime_)) << "the editor's folder was left behind";

  json items = ListJson({"--kind", "entry"});
  ASSERT_EQ(items.size(), 3u);
  std::set<std::string> texts;
  for (const auto& it : items) texts.insert(it["text"].get<std::string>());
  EXPECT_TRUE(texts.count("from the argument") && texts.count("from stdin") &&
              texts.count("from the editor"));
  for (const auto& it : items) {
    if (it["text"] == "from the argument") {
      EXPECT_EQ(it["title"], "Arg");
      EXPECT_EQ(it["mood"], 4);
      EXPECT_EQ(it["tags"], json({"t1", "t2"}));
      EXPECT_EQ(it["author"], "Alex");
      EXPECT_EQ(it["created"], "2026-11-22T10:00:00Z");
      EXPECT_EQ(it["date"], "2026-11-22");
      EXPECT_EQ(it["private"], false);
    }
  }
}

TEST_F(CliTest, EditorFailureSavesNothing) {
  InitPlain();
  auto pty = RunOnPty({"--home", home_.string(), "write"},
                     {{"EDITOR", "false"}, {"VISUAL", "\x01unset"}, {"XDG_RUNTIME_DIR", runtime_.string()}},
                     "");
  EXPECT_EQ(pty.exit_code, 1) << pty.out;
  EXPECT_NE(pty.out.find("nothing was saved"), std::string::npos) << pty.out;
  EXPECT_TRUE(ListJson().empty());
  EXPECT_TRUE(fs::is_empty(runtime_));
}

TEST_F(CliTest, AppreciationCommitmentFollowThrough) {
  InitPlain();
  auto a = Hearth({"appreciate", "You listened without fixing"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto c = Hearth({"commit", "Phone-free dinners", "--every", "week", "--owner", "both"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::string cid = IdOf(c);
  auto st = json::parse(Hearth({"status", "--json"}).out);
  ASSERT_EQ(st["commitments_due"].size(), 1u);
  auto keep = Hearth({"keep", cid.substr(0, 6), "--note", "Tuesday and Friday"});
  ASSERT_EQ(keep.exit_code, 0) << keep.err;
  EXPECT_NE(keep.out.find("2026-W47"), std::string::npos);
  auto miss = Hearth({"miss", cid}, "", {{"HEARTH_NOW", "2026-12-01T09:00:00Z"}});
  ASSERT_EQ(miss.exit_code, 0) << miss.err;
  auto shown = json::parse(Hearth({"show", cid, "--json"}).out);
  EXPECT_EQ(shown["kind"], "commitment");
  EXPECT_EQ(shown["owner"], "both");
  EXPECT_EQ(shown["rhythm"], "week");
  ASSERT_EQ(shown["follow_through"].size(), 2u);
  EXPECT_EQ(shown["follow_through"][0],
            json({{"period", "2026-W47"}, {"kept", true}, {"note", "Tuesday and Friday"}}));
  EXPECT_EQ(shown["follow_through"][1]["kept"], false);
  st = json::parse(Hearth({"status", "--json"}).out);
  EXPECT_TRUE(st["commitments_due"].empty());
  // keep on something that is not a commitment.
  ExpectRefused({"keep", IdOf(a)}, 1, "not a commitment");
  ExpectRefused({"commit", "x", "--every", "fortnight"}, 1, "--every");
}

TEST_F(CliTest, RenegotiateKeepsHistoryAndSignalsCanBeTurnedOff) {
  InitPlain();
  auto c = Hearth({"commit", "Cook every evening", "--every", "day"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::string old_id = IdOf(c);
  ASSERT_EQ(Hearth({"miss", old_id, "--note", "too tired"}).exit_code, 0);
  ExpectRefused({"renegotiate", old_id, "Cook twice a week", "--every", "fortnight"}, 1, "--every");
  ExpectRefused({"renegotiate", old_id, "Cook twice a week", "--owner", "neighbour"}, 1, "--owner");
  auto r = Hearth({"renegotiate", old_id.substr(0, 6), "Cook twice a week", "--every", "week"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("keeps its follow-through as history"), std::string::npos) << r.out;
  auto old_view = json::parse(Hearth({"show", old_id, "--json"}).out);
  ASSERT_EQ(old_view["follow_through"].size(), 1u);
  EXPECT_EQ(old_view["follow_through"][0]["note"], "too tired");
  ASSERT_TRUE(old_view["replaced_by"].is_string());
  auto new_view = json::parse(Hearth({"show", old_view["replaced_by"].get<std::string>(), "--json"}).out);
  EXPECT_EQ(new_view["text"], "Cook twice a week");
  EXPECT_EQ(new_view["rhythm"], "week");
  EXPECT_EQ(new_view["replaces"], old_id);
  ExpectRefused({"keep", old_id}, 1, "renegotiated");
  ExpectRefused({"signals", "maybe"}, 1, "hearth signals on");
  ASSERT_EQ(Hearth({"signals", "off"}).exit_code, 0);
  EXPECT_FALSE(json::parse(Hearth({"status", "--json"}).out)["signals_enabled"].get<bool>());
  ASSERT_EQ(Hearth({"signals", "on"}).exit_code, 0);
  EXPECT_TRUE(json::parse(Hearth({"status", "--json"}).out)["signals_enabled"].get<bool>());
}

TEST_F(CliTest, CheckinFromFileStdinAndTerminal) {
  InitPlain();
  const fs::path answers = base_ / "answers.txt";
  std::ofstream(answers) << "7\nCooking together\nYour humour\nAn early night\n\n";
  auto r = Hearth({"checkin", "--answers-file", answers.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = json::parse(Hearth({"status", "--json"}).out);
  EXPECT_EQ(st["checkin"]["due"], false);
  auto list = ListJson({"--kind", "checkin"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["answers"][0]["connection"], 7);
  EXPECT_EQ(list[0]["answers"][0]["went_well"], "Cooking together");
  EXPECT_EQ(list[0]["answers"][0]["unresolved"], "");
  ExpectRefused({"checkin"}, 1, "from 1 to 10", "eleven\n");

  // Interactive, on a terminal: the prompts are shown and answered.
  auto pty = RunOnPty({"--home", home_.string(), "checkin"}, {{"HEARTH_NOW", "2026-11-22T11:00:00Z"}},
                     "9\nA quiet Sunday\nYour patience\nA hug\nThe holidays\n");
  const std::string& out = pty.out;
  ASSERT_EQ(pty.exit_code, 0) << out;
  EXPECT_NE(out.find("How connected do you feel"), std::string::npos) << out;
  EXPECT_NE(out.find("anything unresolved"), std::string::npos) << out;
  list = ListJson({"--kind", "checkin"});
  ASSERT_EQ(list.size(), 1u);  // the same week's check-in, answers updated
  EXPECT_EQ(list[0]["answers"][0]["connection"], 9);
  EXPECT_EQ(list[0]["answers"][0]["unresolved"], "The holidays");
}

TEST_F(CliTest, AgreementsShowAndEdit) {
  InitPlain();
  auto empty = Hearth({"agreements"});
  ASSERT_EQ(empty.exit_code, 0);
  EXPECT_NE(empty.out.find("no agreements yet"), std::string::npos);
  ASSERT_EQ(Hearth({"agreements", "edit"}, "We take a break when voices rise.\n").exit_code, 0);
  auto shown = Hearth({"agreements", "show"});
  EXPECT_EQ(shown.out, "We take a break when voices rise.\n");
  EXPECT_EQ(json::parse(Hearth({"agreements", "--json"}).out)["text"],
            "We take a break when voices rise.");
  EXPECT_EQ(Hearth({"agreements", "shout"}).exit_code, 2);
  // An empty pipe does not wipe the document, and it cannot be deleted.
  ExpectRefused({"agreements", "edit"}, 1, "empty", "\n");
  std::int64_t raw = 0;
  {
    SQLite::Database d((home_ / "hearth.db").string(), SQLite::OPEN_READONLY);
    raw = d.execAndGet("SELECT id FROM items WHERE kind = 5").getInt64();
  }
  // A read-only connection leaves the WAL files behind; let hearth settle them first.
  ASSERT_EQ(Hearth({"agreements"}).exit_code, 0);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(raw));
  ExpectRefused({"delete", hex}, 1, "cannot be deleted");
  EXPECT_EQ(Hearth({"agreements"}).out, "We take a break when voices rise.\n");
}

TEST_F(CliTest, TagsDoNotSwallowTheText) {
  InitPlain();
  auto r = Hearth({"write", "--tag", "walks", "We walked", "--tag", "lake"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json items = ListJson();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["text"], "We walked");
  EXPECT_EQ(items[0]["tags"], json({"lake", "walks"}));
}

TEST_F(CliTest, ACheckinIsNotLostToAWrongPassphraseAndSkipsKeepEarlierAnswers) {
  const std::map<std::string, std::string> good = {{"HEARTH_PASSPHRASE", "open sesame"}};
  ASSERT_EQ(Hearth({"init", "--name", "Jo"}, "", good).exit_code, 0);
  // The passphrase is checked before any answer is read.
  ExpectRefused({"checkin"}, 4, "passphrase is wrong", "6\nfine\n", {{"HEARTH_PASSPHRASE", "nope"}});
  ASSERT_EQ(Hearth({"checkin"}, "6\nThe picnic\nYour laugh\nSleep\nMoney\n", good).exit_code, 0);
  ASSERT_EQ(Hearth({"checkin"}, "7\n\n\nMore sleep\n\n", good).exit_code, 0);
  auto list = json::parse(Hearth({"list", "--json", "--kind", "checkin"}, "", good).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["answers"][0]["connection"], 7);
  EXPECT_EQ(list[0]["answers"][0]["went_well"], "The picnic");
  EXPECT_EQ(list[0]["answers"][0]["need"], "More sleep");
  EXPECT_EQ(list[0]["answers"][0]["unresolved"], "Money");
}

TEST_F(CliTest, ListFiltersShowEditDeleteSearch) {
  InitPlain();
  ASSERT_EQ(Hearth({"write", "old memory", "--memory", "--date", "2020-05-01", "--tag", "trip"}).exit_code, 0);
  const std::string e2 = IdOf(Hearth({"write", "tea in the garden", "--tag", "home"}));
  ASSERT_EQ(Hearth({"appreciate", "the garden you planted"}).exit_code, 0);
  ASSERT_EQ(Hearth({"commit", "Weekly walk"}).exit_code, 0);

  EXPECT_EQ(ListJson().size(), 4u);
  EXPECT_EQ(ListJson({"--kind", "appreciation"}).size(), 1u);
  EXPECT_EQ(ListJson({"--kind", "entry", "--kind", "commitment"}).size(), 3u);
  EXPECT_EQ(ListJson({"--tag", "trip"}).size(), 1u);
  EXPECT_EQ(ListJson({"--from", "2026-01-01"}).size(), 3u);
  EXPECT_EQ(ListJson({"--to", "2021-01-01"}).size(), 1u);
  EXPECT_EQ(ListJson({"--author", "alex"}).size(), 4u);
  json two = ListJson({"-n", "2"});
  ASSERT_EQ(two.size(), 2u);
  json all = ListJson();
  EXPECT_EQ(all.back()["text"], "old memory");  // newest first
  EXPECT_EQ(all.back()["memory"], true);
  EXPECT_EQ(all.back()["date"], "2020-05-01");

  auto text = Hearth({"list"});
  EXPECT_NE(text.out.find("tea in the garden"), std::string::npos);

  auto show = Hearth({"show", e2.substr(0, 8)});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("tea in the garden"), std::string::npos);

  ASSERT_EQ(Hearth({"edit", e2, "tea and cake in the garden"}).exit_code, 0);
  EXPECT_EQ(json::parse(Hearth({"show", e2, "--json"}).out)["text"], "tea and cake in the garden");
  ASSERT_EQ(Hearth({"edit", e2}, "edited from stdin\n").exit_code, 0);
  EXPECT_EQ(json::parse(Hearth({"show", e2, "--json"}).out)["text"], "edited from stdin");

  auto found = json::parse(Hearth({"search", "GARDEN", "--json"}).out);
  ASSERT_EQ(found.size(), 1u);  // the appreciation; the entry no longer says garden
  EXPECT_EQ(found[0]["kind"], "appreciation");
  EXPECT_EQ(json::parse(Hearth({"search", "trip", "--json"}).out).size(), 1u);  // tags too
  EXPECT_NE(Hearth({"search", "nothing-like-this"}).out.find("No match"), std::string::npos);

  ASSERT_EQ(Hearth({"delete", e2}).exit_code, 0);
  EXPECT_EQ(ListJson().size(), 3u);
  ExpectRefused({"show", e2}, 1, "No item");
}

TEST_F(CliTest, RememberOnThisDayAndOtherwiseAPastAppreciation) {
  // The space starts in the past: the hybrid clock never runs backwards, so
  // an item can only be dated earlier than the space's own history by --date.
  InitPlain("Alex", {{"HEARTH_NOW", "2025-03-03T09:00:00Z"}});
  auto none = Hearth({"remember"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("Nothing to remember yet"), std::string::npos);
  ASSERT_EQ(Hearth({"appreciate", "you carried the bags"}, "", {{"HEARTH_NOW", "2025-03-03T10:00:00Z"}}).exit_code, 0);
  auto past = json::parse(Hearth({"remember", "--json"}).out);
  ASSERT_EQ(past.size(), 1u);
  EXPECT_EQ(past[0]["text"], "you carried the bags");
  ASSERT_EQ(Hearth({"write", "our first dance", "--memory", "--date", "2019-11-22"}).exit_code, 0);
  ASSERT_EQ(Hearth({"write", "another day", "--date", "2019-11-23"}).exit_code, 0);
  auto r = Hearth({"remember"});
  EXPECT_NE(r.out.find("On this day"), std::string::npos);
  EXPECT_NE(r.out.find("our first dance"), std::string::npos);
  EXPECT_EQ(r.out.find("another day"), std::string::npos);
}

TEST_F(CliTest, StatusShowsDeviceMembersAndDue) {
  InitPlain();
  auto st = json::parse(Hearth({"status", "--json"}).out);
  EXPECT_EQ(st["member"]["name"], "Alex");
  EXPECT_EQ(st["device"]["name"], "alex-laptop");
  EXPECT_EQ(st["members"].size(), 1u);
  EXPECT_EQ(st["devices"].size(), 1u);
  EXPECT_EQ(st["checkin"]["due"], true);
  EXPECT_EQ(st["checkin"]["period"], "2026-W47");
  EXPECT_EQ(st["passphrase"], false);
  auto text = Hearth({"status"});
  EXPECT_NE(text.out.find("check-in is due"), std::string::npos);
}

TEST_F(CliTest, PassphraseProtectsTheSpace) {
  const std::map<std::string, std::string> good = {{"HEARTH_PASSPHRASE", "a long walk home"}};
  auto init = Hearth({"init", "--name", "Robin"}, "", good);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ASSERT_EQ(Hearth({"write", "guarded words"}, "", good).exit_code, 0);
  ExpectRefused({"list"}, 4, "passphrase is wrong", "", {{"HEARTH_PASSPHRASE", "a short walk"}});
  ExpectRefused({"write", "should not land"}, 4, "passphrase is wrong", "",
                {{"HEARTH_PASSPHRASE", "wrong"}});
  ExpectRefused({"list"}, 4, "passphrase", "");  // none given, no terminal
  const fs::path pf = base_ / "pass.txt";
  std::ofstream(pf) << "a long walk home\n";
  auto r = Hearth({"--passphrase-file", pf.string(), "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 1u);
  EXPECT_EQ(json::parse(Hearth({"status", "--json"}, "", good).out)["passphrase"], true);

  // Asked on the terminal when nothing else gives it.
  auto pty = RunOnPty({"--home", home_.string(), "list"}, {{"HEARTH_PASSPHRASE", "\x01unset"}},
                     "a long walk home\n", /*wait_prompt=*/true);
  const std::string& out = pty.out;
  EXPECT_EQ(pty.exit_code, 0) << out;
  EXPECT_NE(out.find("Passphrase:"), std::string::npos);
  EXPECT_NE(out.find("guarded words"), std::string::npos);
  EXPECT_EQ(out.find("a long walk home"), std::string::npos) << "the passphrase was echoed";
}

TEST_F(CliTest, InvalidInputIsRefusedWithAClearMessageAndNothingChanges) {
  InitPlain();
  const std::string id = IdOf(Hearth({"write", "an entry"}));
  ExpectRefused({"write", "x", "--mood", "9"}, 1, "mood");
  ExpectRefused({"write", "x", "--mood", "0"}, 1, "mood");
  ExpectRefused({"write", ""}, 1, "empty");
  ExpectRefused({"write"}, 1, "empty", "   \n");
  ExpectRefused({"appreciate", " "}, 1, "empty");
  ExpectRefused({"write", "x", "--date", "2026-02-30"}, 1, "not a date");
  ExpectRefused({"write", "x", "--memory"}, 1, "--date");
  ExpectRefused({"show", "0123456789abcdef"}, 1, "No item");
  ExpectRefused({"show", "not-hex"}, 1, "not an item id");
  ExpectRefused({"edit", "0123456789abcdef", "x"}, 1, "No item");
  ExpectRefused({"list", "--kind", "diary"}, 1, "Unknown kind");
  ExpectRefused({"list", "--author", "Nobody"}, 1, "No member");
  ExpectRefused({"search", " "}, 1, "empty");
  // An ambiguous prefix: write until two ids share a first digit (at most 17).
  std::map<char, int> first{{id[0], 1}};
  char shared = 0;
  while (shared == 0) {
    const std::string next = IdOf(Hearth({"appreciate", "thanks"}));
    if (++first[next[0]] > 1) shared = next[0];
  }
  ExpectRefused({"show", std::string(1, shared)}, 1, "matches");
  // A home that does not exist: refused, and not created.
  const fs::path real_home = home_;
  home_ = base_ / "missing";
  ExpectRefused({"list"}, 1, "No Hearth space");
  EXPECT_FALSE(fs::exists(home_));
  home_ = real_home;
  // Usage errors exit 2.
  EXPECT_EQ(Hearth({"write", "x", "--mood", "high"}).exit_code, 2);
  EXPECT_EQ(Hearth({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Hearth({}).exit_code, 2);
  EXPECT_EQ(Hearth({"--help"}).exit_code, 0);
  EXPECT_EQ(Hearth({"write", "--help"}).exit_code, 0);
}

TEST_F(CliTest, NoMarkerAppearsInAnyFileUnderTheHome) {
  const std::map<std::string, std::string> env = {};
  auto init = Hearth({"init", "--name", "MARKERmemberNAME", "--device-name", "MARKERdeviceNAME",
                      "--no-passphrase"});
  ASSERT_EQ(init.exit_code, 0);
  const std::string e = IdOf(Hearth({"write", "MARKERentryTEXT", "--title", "MARKERentryTITLE",
                                     "--tag", "MARKERtagNAME"}));
  ASSERT_EQ(Hearth({"write", "MARKERprivateTEXT", "--private"}).exit_code, 0);
  ASSERT_EQ(Hearth({"edit", e, "MARKEReditedTEXT"}).exit_code, 0);
  ASSERT_EQ(Hearth({"appreciate", "MARKERappreciationTEXT"}).exit_code, 0);
  const std::string c = IdOf(Hearth({"commit", "MARKERcommitmentTEXT"}));
  ASSERT_EQ(Hearth({"keep", c, "--note", "MARKERnoteTEXT"}).exit_code, 0);
  ASSERT_EQ(Hearth({"checkin"}, "5\nMARKERanswerTEXT\n\n\n\n").exit_code, 0);
  ASSERT_EQ(Hearth({"agreements", "edit"}, "MARKERagreementTEXT\n").exit_code, 0);
  ASSERT_EQ(Hearth({"search", "MARKER"}).exit_code, 0);
  const std::vector<std::string> markers = {
      "MARKERmemberNAME", "MARKERdeviceNAME",      "MARKERentryTEXT",      "MARKERentryTITLE",
      "MARKERtagNAME",    "MARKERprivateTEXT",     "MARKEReditedTEXT",     "MARKERappreciationTEXT",
      "MARKERcommitmentTEXT", "MARKERnoteTEXT",    "MARKERanswerTEXT",     "MARKERagreementTEXT",
      "MARKER"};
  // While a reader holds the database open the WAL is not checkpointed away:
  // scan both with and without one.
  SQLite::Database holder((home_ / "hearth.db").string(), SQLite::OPEN_READONLY);
  holder.exec("BEGIN");
  (void)holder.execAndGet("SELECT count(*) FROM records").getInt();
  ASSERT_EQ(Hearth({"write", "MARKERlateTEXT"}).exit_code, 0);
  int files = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [path, bytes] : Snapshot(home_)) {
      ++files;
      for (const auto& m : markers) {
        EXPECT_EQ(bytes.find(m), std::string::npos) << m << " found in " << path;
      }
      EXPECT_EQ(bytes.find("MARKERlateTEXT"), std::string::npos) << path;
    }
    if (pass == 0) holder.exec("COMMIT");
  }
  EXPECT_GE(files, 3);  // keys, database and at least its WAL
  // And the content is really there, readable through hearth.
  EXPECT_EQ(json::parse(Hearth({"search", "MARKER", "--json"}).out).size(), 6u);
}

TEST_F(CliTest, AFlippedByteInAStoredRecordIsDetected) {
  InitPlain();
  ASSERT_EQ(Hearth({"write", "one"}).exit_code, 0);
  ASSERT_EQ(Hearth({"write", "two"}).exit_code, 0);
  ASSERT_EQ(Hearth({"write", "three"}).exit_code, 0);
  ASSERT_EQ(Hearth({"verify"}).exit_code, 0);
  const std::string db = (home_ / "hearth.db").string();
  // Flip one byte in the middle of record 2's ciphertext.
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    SQLite::Statement q(d, "SELECT body FROM records WHERE seq = 2");
    ASSERT_TRUE(q.executeStep());
    std::string body(static_cast<const char*>(q.getColumn(0).getBlob()),
                     static_cast<std::size_t>(q.getColumn(0).getBytes()));
    body[body.size() / 2 + 60] ^= 0x01;
    q.reset();
    SQLite::Statement u(d, "UPDATE records SET body = ? WHERE seq = 2");
    u.bind(1, body.data(), static_cast<int>(body.size()));
    u.exec();
  }
  auto r = Hearth({"verify"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("/2"), std::string::npos) << r.err;  // names record 2
  EXPECT_NE(r.err.find("ampered"), std::string::npos) << r.err;

  // Flip a byte in the newest record: the next write refuses to chain onto it.
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("UPDATE records SET signature = zeroblob(64) WHERE seq = 4");
  }
  ExpectRefused({"write", "four"}, 4, "tampered");

  // A flipped byte in an item's sealed state: reading it fails loudly.
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("UPDATE items SET state = substr(state, 1, 30) || x'00' || substr(state, 32) WHERE kind = 1");
  }
  ExpectRefused({"list"}, 4, "damaged");
}

TEST_F(CliTest, ACorruptDatabaseOrKeyFileIsReportedNotCrashedOn) {
  InitPlain();
  ASSERT_EQ(Hearth({"write", "precious"}).exit_code, 0);
  const fs::path keys = home_ / "keys";
  const std::string original = ReadAll(keys);
  std::ofstream(keys, std::ios::binary | std::ios::trunc) << original.substr(0, 20);
  ExpectRefused({"list"}, 4, "key file is damaged");
  std::ofstream(keys, std::ios::binary | std::ios::trunc) << original;
  const fs::path db = home_ / "hearth.db";
  fs::remove(home_ / "hearth.db-wal");
  fs::remove(home_ / "hearth.db-shm");
  std::ofstream(db, std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
  auto r = Hearth({"list"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hearth
