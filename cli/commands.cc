#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <csignal>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "cli/export/document.h"
#include "cli/json_view.h"
#include "cli/terminal.h"
#include "core/base/dates.h"
#include "core/node/node.h"
#include "net/peer.h"
#include "net/relay/protocol.h"

namespace hearth::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxInput = node::kMaxTextBytes;

struct Globals {
  std::string home;
  std::optional<std::string> passphrase_file;
};

fs::path HomeDir(const Globals& g) {
  if (!g.home.empty()) return g.home;
  if (const char* h = std::getenv("HEARTH_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return fs::path(x) / "hearth";
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".local" / "share" / "hearth";
}

// The clock: the system's, unless HEARTH_NOW fixes it (for tests and demos).
Result<std::unique_ptr<Clock>> MakeClock() {
  if (const char* now = std::getenv("HEARTH_NOW"); now && *now) {
    auto ms = ParseTimestamp(now);
    if (!ms) {
      return MakeError(Errc::kInvalidInput,
                       "HEARTH_NOW must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ.");
    }
    return std::unique_ptr<Clock>(std::make_unique<FixedClock>(*ms));
  }
  return std::unique_ptr<Clock>(std::make_unique<SystemClock>());
}

// State shared by the commands of one run.
struct Session {
  Globals globals;
  std::unique_ptr<Clock> clock;
  std::unique_ptr<node::Node> node;

  Status Open() {
    const fs::path home = HomeDir(globals);
    HEARTH_ASSIGN_OR_RETURN(bool needs, node::Node::NeedsPassphrase(home));
    std::optional<crypto::SecretBytes> pass;
    if (needs) {
      HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes p, GetPassphrase(globals.passphrase_file));
      pass = std::move(p);
    }
    HEARTH_ASSIGN_OR_RETURN(node, node::Node::Open(home, pass, *clock));
    return {};
  }
};

void PrintJson(const json& j) { std::cout << j.dump(2) << "\n"; }

Result<std::int64_t> ParseDay(const std::string& text, const std::string& option) {
  auto d = ParseDate(text);
  if (!d) {
    return MakeError(Errc::kInvalidInput,
                     "'" + text + "' is not a date for " + option + " (use YYYY-MM-DD).");
  }
  return *d;
}

Result<model::Rhythm> ParseRhythm(const std::string& every) {
  if (every == "day") return model::Rhythm::kDay;
  if (every == "week") return model::Rhythm::kWeek;
  if (every == "month") return model::Rhythm::kMonth;
  return MakeError(Errc::kInvalidInput, "--every must be day, week or month, not '" + every + "'.");
}

Result<model::Owner> ParseOwner(const std::string& owner) {
  if (owner == "me") return model::Owner::kAuthor;
  if (owner == "partner") return model::Owner::kPartner;
  if (owner == "both") return model::Owner::kBoth;
  return MakeError(Errc::kInvalidInput, "--owner must be me, partner or both, not '" + owner + "'.");
}

// Text from the argument, else stdin when it is not a terminal, else $EDITOR.
Result<std::string> TextFrom(const std::optional<std::string>& arg, const std::string& initial) {
  if (arg) return *arg;
  if (!StdinIsTerminal()) {
    HEARTH_ASSIGN_OR_RETURN(std::string s, ReadStdin(kMaxInput));
    return TrimEnd(std::move(s));
  }
  HEARTH_ASSIGN_OR_RETURN(std::string s, EditInEditor(initial, kMaxInput));
  return TrimEnd(std::move(s));
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

namespace asio = boost::asio;
constexpr const char* kServeFile = "serve.pid";

std::string DefaultDeviceName() {
  char host[256] = {};
  return ::gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "this device";
}

// "10m", "90s", "2h", "1d" or plain seconds.
Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    n = -1;
  }
  const std::string unit = used < text.size() ? text.substr(used) : "s";
  long long mult = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : -1;
  if (n <= 0 || mult < 0 || n > 7 * 86400 / mult) {
    return MakeError(Errc::kInvalidInput, "'" + text + "' is not a duration like 10m, 2h or 90s (at most 7d).");
  }
  return std::chrono::seconds(n * mult);
}

// A duration in milliseconds from the environment, for tests: unset, not a
// number or outside [lo, hi] leaves the default.
std::optional<std::chrono::milliseconds> EnvMs(const char* name, long lo, long hi) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0' || v < lo || v > hi) return std::nullopt;
  return std::chrono::milliseconds(v);
}

// `hearth serve` leaves "PID ADDRESS" here while it runs (no content).
void WriteServeFile(const fs::path& home, const net::tcp::endpoint& at) {
  std::ofstream(home / kServeFile) << ::getpid() << " " << net::FormatAddress(at) << "\n";
}

// The relay `serve` and `sync` use: --relay, else the one saved in the
// space, unless --no-relay.
Result<std::optional<relay::RelayAddress>> ChooseRelay(node::Node& node, const std::string& flag, bool no_relay) {
  if (no_relay) return std::optional<relay::RelayAddress>();
  if (!flag.empty()) {
    auto a = relay::ParseRelayAddress(flag);
    if (!a.ok()) return a.error();
    return std::optional<relay::RelayAddress>(*a);
  }
  HEARTH_ASSIGN_OR_RETURN(std::string saved, node.SavedRelay());
  if (saved.empty()) return std::optional<relay::RelayAddress>();
  auto a = relay::ParseRelayAddress(saved);
  if (!a.ok()) {
    return MakeError(Errc::kInvalidInput, "The relay address saved in the space is not valid (" + a.error().message +
                                              "); save a new one with 'hearth relay set'.");
  }
  return std::optional<relay::RelayAddress>(*a);
}

std::optional<net::tcp::endpoint> RunningServe(const fs::path& home) {
  std::ifstream in(home / kServeFile);
  long pid = 0;
  std::string address;
  if (!(in >> pid >> address) || pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return std::nullopt;
  auto ep = net::ParseAddress(address);
  if (!ep.ok()) return std::nullopt;
  return *ep;
}

// The addresses an invite names for a listener at `at`.
std::vector<net::Endpoint> EndpointsFor(const net::tcp::endpoint& at) {
  if (!at.address().is_unspecified()) {
    auto e = net::ParseEndpoint(net::FormatAddress(at));
    if (e.ok()) return {*e};
  }
  return net::LocalEndpoints(at.port());
}

using Handler = std::function<Status(Session&)>;

}  // namespace

int Run(int argc, char** argv) {
  if (Status s = crypto::Init(); !s.ok()) {
    std::cerr << "hearth: " << s.error().message << "\n";
    return ExitCode(s.error().code);
  }
  CLI::App app{"Hearth: a private, end-to-end encrypted journal for two.", "hearth"};
  app.require_subcommand(1);
  app.fallthrough();
  Session session;
  app.add_option("--home", session.globals.home,
                 "The node's home directory (default: $HEARTH_HOME, $XDG_DATA_HOME/hearth, "
                 "~/.local/share/hearth)");
  app.add_option("--passphrase-file", session.globals.passphrase_file,
                 "Read the passphrase from the first line of this file");
  std::map<CLI::App*, Handler> handlers;

  // ---- init ----
  auto* init = app.add_subcommand("init", "Create this device and a new space");
  std::string init_name, init_device;
  bool no_pass = false;
  init->add_option("--name", init_name, "How your partner sees you")->required();
  init->add_option("--device-name", init_device, "A name for this device (default: host name)");
  init->add_flag("--no-passphrase", no_pass, "Keep the keys without a passphrase (file mode 0600)");
  handlers[init] = [&](Session& s) -> Status {
    if (init_device.empty()) init_device = DefaultDeviceName();
    node::InitOptions opts{init_name, init_device, std::nullopt};
    if (!no_pass) {
      HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes p, GetNewPassphrase(s.globals.passphrase_file));
      opts.passphrase = std::move(p);
    }
    const fs::path home = HomeDir(s.globals);
    HEARTH_ASSIGN_OR_RETURN(auto n, node::Node::Init(home, std::move(opts), *s.clock));
    std::cout << "Created a new Hearth space in " << home.string() << ". You are " << init_name
              << ", on " << init_device << ".\n";
    return {};
  };

  // ---- write ----
  auto* write = app.add_subcommand("write", "Write a journal entry");
  std::optional<std::string> write_text;
  node::EntryDraft draft;
  std::optional<std::int64_t> write_mood;
  std::optional<std::string> write_date;
  write->add_option("text", write_text, "The entry (default: stdin, else $EDITOR)");
  write->add_flag("--private", draft.is_private, "Only your own devices can read it");
  write->add_option("--title", draft.title, "A title");
  write->add_option("--mood", write_mood, "How you feel, 1 (low) to 5 (high)");
  write->add_option("--tag", draft.tags, "A tag (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  write->add_option("--date", write_date, "The day it is about, YYYY-MM-DD");
  write->add_flag("--memory", draft.memory, "A 'remember when' memory of --date");
  handlers[write] = [&](Session& s) -> Status {
    draft.mood = write_mood;
    if (write_date) {
      HEARTH_ASSIGN_OR_RETURN(draft.date, ParseDay(*write_date, "--date"));
    }
    if (draft.mood && (*draft.mood < 1 || *draft.mood > 5)) {
      return MakeError(Errc::kInvalidInput, "The mood must be a whole number from 1 to 5.");
    }
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(draft.text, TextFrom(write_text, ""));
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Write(draft));
    std::cout << "Saved " << (draft.memory ? "memory" : "entry") << " " << IdToHex(id) << ".\n";
    return {};
  };

  // ---- appreciate ----
  auto* appreciate = app.add_subcommand("appreciate", "Appreciate your partner");
  std::string appreciation;
  appreciate->add_option("text", appreciation, "What you appreciate")->required();
  handlers[appreciate] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Appreciate(appreciation));
    std::cout << "Saved appreciation " << IdToHex(id) << ".\n";
    return {};
  };

  // ---- commit ----
  auto* commit = app.add_subcommand("commit", "Make a commitment");
  std::string commit_text, every = "week", owner = "me";
  commit->add_option("text", commit_text, "What you commit to")->required();
  commit->add_option("--every", every, "Rhythm: day, week or month (default week)");
  commit->add_option("--owner", owner, "Who keeps it: me, partner or both (default me)");
  handlers[commit] = [&](Session& s) -> Status {
    HEARTH_ASSIGN_OR_RETURN(model::Rhythm rhythm, ParseRhythm(every));
    HEARTH_ASSIGN_OR_RETURN(model::Owner keeper, ParseOwner(owner));
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Commit(commit_text, rhythm, keeper));
    std::cout << "Saved commitment " << IdToHex(id) << ".\n";
    return {};
  };

  // ---- keep / miss ----
  std::string ft_id, ft_note;
  for (bool kept : {true, false}) {
    auto* sub = app.add_subcommand(kept ? "keep" : "miss",
                                   kept ? "Record that you kept a commitment this period"
                                        : "Record that you missed a commitment this period");
    sub->add_option("id", ft_id, "The commitment's id (a unique prefix is enough)")->required();
    sub->add_option("--note", ft_note, "A note");
    handlers[sub] = [&, kept](Session& s) -> Status {
      HEARTH_TRY(s.Open());
      HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Resolve(ft_id));
      HEARTH_ASSIGN_OR_RETURN(auto period, s.node->FollowThrough(id, kept, ft_note));
      std::cout << (kept ? "Kept" : "Missed") << " for " << period << ".\n";
      return {};
    };
  }

  // ---- checkin ----
  auto* checkin = app.add_subcommand("checkin", "Answer this period's check-in");
  std::optional<std::string> answers_file, checkin_every;
  checkin->add_option("--answers-file", answers_file, "Answers, one per line in prompt order");
  checkin->add_option("--every", checkin_every,
                      "Set how often the two of you check in: week (the default) or month; answers nothing");
  handlers[checkin] = [&](Session& s) -> Status {
    if (checkin_every) {
      if (*checkin_every != "week" && *checkin_every != "month") {
        return MakeError(Errc::kInvalidInput, "--every must be week or month, not '" + *checkin_every + "'.");
      }
      HEARTH_TRY(s.Open());
      HEARTH_TRY(s.node->SetCheckinRhythm(*checkin_every == "week" ? model::Rhythm::kWeek : model::Rhythm::kMonth));
      std::cout << "Check-ins are now " << (*checkin_every == "week" ? "weekly" : "monthly")
                << " for both of you (it reaches your partner at the next sync).\n";
      return {};
    }
    // Unlock first, so a wrong passphrase never costs the answers.
    HEARTH_TRY(s.Open());
    const auto& prompts = node::CheckinPrompts();
    std::vector<std::string> answers;
    if (answers_file || !StdinIsTerminal()) {
      std::string text;
      if (answers_file) {
        HEARTH_ASSIGN_OR_RETURN(text, ReadTextFile(*answers_file, kMaxInput));
      } else {
        HEARTH_ASSIGN_OR_RETURN(text, ReadStdin(kMaxInput));
      }
      answers = SplitLines(text);
      if (answers.size() > prompts.size()) {
        return MakeError(Errc::kInvalidInput, "The answers have " + std::to_string(answers.size()) +
                                                  " lines; a check-in has " +
                                                  std::to_string(prompts.size()) + " prompts.");
      }
      answers.resize(prompts.size());
    } else {
      std::cout << "This " << RhythmName(s.node->CheckinRhythm())
                << "'s check-in. Your answers stay sealed until your partner has answered too.\n"
                << "Press Enter to skip a question (all but the first).\n";
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        std::cout << "\n" << prompts[i] << "\n> " << std::flush;
        std::string line;
        if (!std::getline(std::cin, line)) line.clear();
        line = TrimEnd(line);
        // The connection score is asked again until it is a number from 1 to 10.
        while (i == 0 && std::cin && !(line.size() <= 2 && !line.empty() &&
                                       std::all_of(line.begin(), line.end(), ::isdigit) &&
                                       std::stoi(line) >= 1 && std::stoi(line) <= 10)) {
          std::cout << "Please answer with a whole number from 1 to 10.\n> " << std::flush;
          if (!std::getline(std::cin, line)) line.clear();
          line = TrimEnd(line);
        }
        answers.push_back(line);
      }
    }
    for (auto& a : answers) a = TrimEnd(a);
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->CheckIn(answers));
    std::cout << "Saved your check-in " << IdToHex(id).substr(0, 8) << ". Thank you for taking the time.\n";
    HEARTH_ASSIGN_OR_RETURN(auto view, s.node->Get(id));
    bool partner = false, partner_open = false;
    for (const auto& a : view.answers) {
      if (a.member_id == s.node->member_id()) continue;
      partner = true;
      partner_open = !a.sealed;
    }
    if (!partner) {
      std::cout << "Your answers are sealed until your partner answers this check-in too.\n";
    } else if (partner_open) {
      std::cout << "Your partner's answers are open: 'hearth show " << IdToHex(id).substr(0, 8) << "'.\n";
    } else {
      std::cout << "Your partner has answered too. Their answers open once their device has received yours "
                   "(at the next sync).\n";
    }
    return {};
  };

  // ---- renegotiate ----
  auto* reneg = app.add_subcommand("renegotiate", "Reshape a commitment; the old one and its history stay");
  std::string reneg_id, reneg_text;
  std::optional<std::string> reneg_every, reneg_owner;
  reneg->add_option("id", reneg_id, "The commitment's id (a unique prefix is enough)")->required();
  reneg->add_option("text", reneg_text, "The commitment as you agree on it now")->required();
  reneg->add_option("--every", reneg_every, "Rhythm: day, week or month (default: as before)");
  reneg->add_option("--owner", reneg_owner, "Who keeps it: me, partner or both (default: the same people)");
  handlers[reneg] = [&](Session& s) -> Status {
    std::optional<model::Rhythm> r;
    std::optional<model::Owner> o;
    if (reneg_every) {
      HEARTH_ASSIGN_OR_RETURN(r, ParseRhythm(*reneg_every));
    }
    if (reneg_owner) {
      HEARTH_ASSIGN_OR_RETURN(o, ParseOwner(*reneg_owner));
    }
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto old_id, s.node->Resolve(reneg_id));
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Renegotiate(old_id, reneg_text, r, o));
    std::cout << "Renegotiated: the commitment is now " << IdToHex(id).substr(0, 8) << ". The old one ("
              << IdToHex(old_id).substr(0, 8) << ") keeps its follow-through as history.\n";
    return {};
  };

  // ---- signals ----
  auto* signals_cmd = app.add_subcommand("signals", "Turn the gentle signals in 'hearth status' on or off (this device)");
  std::string signals_state;
  signals_cmd->add_option("state", signals_state, "on or off")->required();
  handlers[signals_cmd] = [&](Session& s) -> Status {
    if (signals_state != "on" && signals_state != "off") {
      return MakeError(Errc::kInvalidInput, "Say 'hearth signals on' or 'hearth signals off'.");
    }
    HEARTH_TRY(s.Open());
    HEARTH_TRY(s.node->SetSignals(signals_state == "on"));
    std::cout << (signals_state == "on" ? "Gentle signals are on: 'hearth status' shows them on this device.\n"
                                        : "Gentle signals are off on this device.\n");
    return {};
  };

  // ---- agreements ----
  auto* agreements = app.add_subcommand("agreements", "The shared agreements document");
  std::string agreements_action = "show";
  bool agreements_json = false;
  agreements->add_option("action", agreements_action, "show (default) or edit")
      ->check(CLI::IsMember({"show", "edit"}));
  agreements->add_flag("--json", agreements_json, "Print JSON");
  handlers[agreements] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(std::string current, s.node->Agreements());
    if (agreements_action == "edit") {
      // The save is diffed against this opened version, so what the partner
      // changes while the editor is open is kept.
      HEARTH_ASSIGN_OR_RETURN(node::OpenedText opened, s.node->OpenAgreements());
      HEARTH_ASSIGN_OR_RETURN(std::string text, TextFrom(std::nullopt, opened.text));
      if (text == opened.text) {
        std::cout << "No change to the agreements.\n";
        return {};
      }
      HEARTH_TRY(s.node->SetAgreements(opened, text));
      std::cout << "Saved the agreements.\n";
      return {};
    }
    if (agreements_json) {
      PrintJson({{"text", current}});
    } else if (current.empty()) {
      std::cout << "There are no agreements yet. Write them together with 'hearth agreements edit'.\n";
    } else {
      std::cout << current << "\n";
    }
    return {};
  };

  // ---- relay ----
  auto* relay_cmd = app.add_subcommand("relay", "The relay saved in the space, which every device of it uses");
  std::string relay_action = "show";
  std::string relay_value;
  relay_cmd->add_option("action", relay_action, "show (default), set ADDRESS, or clear")
      ->check(CLI::IsMember({"show", "set", "clear"}));
  relay_cmd->add_option("address", relay_value, "The relay's address as hearth-relay prints it (HOST:PORT/KEY)");
  handlers[relay_cmd] = [&](Session& s) -> Status {
    if (relay_action == "set") {
      if (relay_value.empty()) return MakeError(Errc::kInvalidInput, "Give the relay's address: 'hearth relay set HOST:PORT/KEY'.");
      HEARTH_ASSIGN_OR_RETURN(auto parsed, relay::ParseRelayAddress(relay_value));
      HEARTH_TRY(s.Open());
      HEARTH_TRY(s.node->SaveRelay(relay::FormatRelayAddress(parsed)));
      std::cout << "Saved the relay " << parsed.host_port
                << " in the space: every device uses it after its next sync.\n";
      return {};
    }
    if (!relay_value.empty()) return MakeError(Errc::kInvalidInput, "Only 'hearth relay set' takes an address.");
    HEARTH_TRY(s.Open());
    if (relay_action == "clear") {
      HEARTH_TRY(s.node->SaveRelay(""));
      std::cout << "The space has no saved relay now.\n";
      return {};
    }
    HEARTH_ASSIGN_OR_RETURN(std::string saved, s.node->SavedRelay());
    if (saved.empty()) {
      std::cout << "No relay is saved in the space. Save one with 'hearth relay set HOST:PORT/KEY'.\n";
    } else {
      std::cout << saved << "\n";
    }
    return {};
  };

  // ---- list ----
  auto* list = app.add_subcommand("list", "What is in the space, newest first");
  std::vector<std::string> list_kinds;
  std::optional<std::string> list_from, list_to, list_tag, list_author;
  std::size_t list_n = 0;
  bool list_json = false;
  list->add_option("--kind", list_kinds, "entry, appreciation, commitment or checkin (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  list->add_option("--from", list_from, "From this day, YYYY-MM-DD");
  list->add_option("--to", list_to, "To this day, YYYY-MM-DD");
  list->add_option("--tag", list_tag, "Only items with this tag");
  list->add_option("--author", list_author, "Only items by this member");
  list->add_option("-n", list_n, "At most N items");
  list->add_flag("--json", list_json, "Print a JSON array");
  handlers[list] = [&](Session& s) -> Status {
    node::ListQuery q;
    for (const auto& k : list_kinds) {
      auto kind = KindFromName(k);
      if (!kind) {
        return MakeError(Errc::kInvalidInput, "Unknown kind '" + k +
                                                  "': use entry, appreciation, commitment or checkin.");
      }
      q.kinds.push_back(*kind);
    }
    if (list_from) {
      HEARTH_ASSIGN_OR_RETURN(q.from_day, ParseDay(*list_from, "--from"));
    }
    if (list_to) {
      HEARTH_ASSIGN_OR_RETURN(q.to_day, ParseDay(*list_to, "--to"));
    }
    q.tag = list_tag;
    q.author = list_author;
    q.limit = list_n;
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto items, s.node->List(q));
    if (list_json) {
      json arr = json::array();
      for (const auto& it : items) arr.push_back(ItemJson(it));
      PrintJson(arr);
    } else if (items.empty()) {
      std::cout << "Nothing here yet.\n";
    } else {
      for (const auto& it : items) std::cout << ItemLine(it) << "\n";
    }
    return {};
  };

  // ---- show / edit / delete ----
  auto* show = app.add_subcommand("show", "Show one item");
  std::string item_id;
  bool show_json = false;
  show->add_option("id", item_id, "The item's id (a unique prefix is enough)")->required();
  show->add_flag("--json", show_json, "Print JSON");
  handlers[show] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Resolve(item_id));
    HEARTH_ASSIGN_OR_RETURN(auto item, s.node->Get(id));
    if (show_json) {
      PrintJson(ItemJson(item));
    } else {
      std::cout << ItemDetails(item);
    }
    return {};
  };

  auto* edit = app.add_subcommand("edit", "Change an item's text");
  std::optional<std::string> edit_text;
  edit->add_option("id", item_id, "The item's id")->required();
  edit->add_option("text", edit_text, "The new text (default: stdin, else $EDITOR)");
  handlers[edit] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Resolve(item_id));
    HEARTH_ASSIGN_OR_RETURN(auto item, s.node->Get(id));
    HEARTH_ASSIGN_OR_RETURN(node::OpenedText opened, s.node->OpenText(id));
    HEARTH_ASSIGN_OR_RETURN(std::string text, TextFrom(edit_text, opened.text));
    if (text == opened.text) {
      std::cout << "No change.\n";
      return {};
    }
    HEARTH_TRY(s.node->Edit(id, opened, text));
    std::cout << "Saved " << KindName(item.kind) << " " << IdToHex(id) << ".\n";
    return {};
  };

  auto* del = app.add_subcommand("delete", "Delete an item");
  del->add_option("id", item_id, "The item's id")->required();
  handlers[del] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto id, s.node->Resolve(item_id));
    HEARTH_TRY(s.node->Delete(id));
    std::cout << "Deleted " << IdToHex(id) << ".\n";
    return {};
  };

  // ---- search ----
  auto* search = app.add_subcommand("search", "Search the space (on this device only)");
  std::string query;
  bool search_json = false;
  search->add_option("query", query, "Words to find")->required();
  search->add_flag("--json", search_json, "Print a JSON array");
  handlers[search] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto items, s.node->Search(query, 0));
    if (search_json) {
      json arr = json::array();
      for (const auto& it : items) arr.push_back(ItemJson(it));
      PrintJson(arr);
    } else if (items.empty()) {
      std::cout << "No match for '" << query << "'.\n";
    } else {
      for (const auto& it : items) std::cout << ItemLine(it) << "\n";
    }
    return {};
  };

  // ---- remember ----
  auto* remember = app.add_subcommand("remember", "Memories from this day in earlier years");
  bool remember_json = false;
  remember->add_flag("--json", remember_json, "Print a JSON array");
  handlers[remember] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto items, s.node->OnThisDay());
    bool on_this_day = !items.empty();
    if (!on_this_day) {
      HEARTH_ASSIGN_OR_RETURN(auto one, s.node->RandomMemory());
      if (one) items.push_back(std::move(*one));
    }
    if (remember_json) {
      json arr = json::array();
      for (const auto& it : items) arr.push_back(ItemJson(it));
      PrintJson(arr);
      return {};
    }
    if (items.empty()) {
      std::cout << "Nothing to remember yet. Memories and appreciations will come back here.\n";
      return {};
    }
    std::cout << (on_this_day ? "On this day in earlier years:\n\n" : "From your past together:\n\n");
    for (const auto& it : items) std::cout << ItemDetails(it) << "\n";
    return {};
  };

  // ---- export ----
  auto* exp = app.add_subcommand("export", "A document of a chosen period, to bring to a therapy session");
  std::string exp_format, exp_paper = "a4";
  std::optional<std::string> exp_from, exp_to, exp_author, exp_out;
  std::vector<std::string> exp_kinds, exp_tags;
  bool exp_private = false;
  exp->add_option("--format", exp_format, "md, html, pdf or json")->required();
  exp->add_option("--from", exp_from, "From this day, YYYY-MM-DD (default: the first item)");
  exp->add_option("--to", exp_to, "To this day, YYYY-MM-DD (default: today)");
  exp->add_option("--kind", exp_kinds, "entry, appreciation, commitment or checkin (repeatable; default all)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exp->add_option("--tag", exp_tags, "Only items with this tag (repeatable: any of them)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exp->add_option("--author", exp_author, "Only items by this member");
  exp->add_flag("--include-private", exp_private, "Include your own private entries (never your partner's)");
  exp->add_option("--paper", exp_paper, "PDF paper size: a4 (default) or letter");
  exp->add_option("--out", exp_out, "The file to write (default: standard output; for pdf, a file named after the period)");
  handlers[exp] = [&](Session& s) -> Status {
    const std::map<std::string, exporter::Format> formats = {{"md", exporter::Format::kMarkdown},
                                                             {"markdown", exporter::Format::kMarkdown},
                                                             {"html", exporter::Format::kHtml},
                                                             {"pdf", exporter::Format::kPdf},
                                                             {"json", exporter::Format::kJson}};
    if (!formats.contains(exp_format)) {
      return MakeError(Errc::kInvalidInput, "--format must be md, html, pdf or json, not '" + exp_format + "'.");
    }
    if (exp_paper != "a4" && exp_paper != "letter") {
      return MakeError(Errc::kInvalidInput, "--paper must be a4 or letter, not '" + exp_paper + "'.");
    }
    exporter::Filters f;
    for (const auto& k : exp_kinds) {
      auto kind = KindFromName(k);
      if (!kind || *kind == model::Kind::kAgreements) {
        return MakeError(Errc::kInvalidInput, "Unknown kind '" + k + "': use entry, appreciation, commitment or checkin.");
      }
      if (std::find(f.kinds.begin(), f.kinds.end(), *kind) == f.kinds.end()) f.kinds.push_back(*kind);
    }
    if (exp_from) {
      HEARTH_ASSIGN_OR_RETURN(f.from_day, ParseDay(*exp_from, "--from"));
    }
    if (exp_to) {
      HEARTH_ASSIGN_OR_RETURN(f.to_day, ParseDay(*exp_to, "--to"));
    }
    f.tags = exp_tags;
    f.author = exp_author;
    f.include_private = exp_private;
    const exporter::Format format = formats.at(exp_format);
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(exporter::Document doc, exporter::BuildDocument(*s.node, f));
    if (format == exporter::Format::kPdf) {
      const std::string out =
          exp_out.value_or("hearth-" + FormatDate(doc.from_day) + "-to-" + FormatDate(doc.to_day) + ".pdf");
      HEARTH_TRY(exporter::RenderPdf(doc, exp_paper == "letter" ? exporter::Paper::kLetter : exporter::Paper::kA4, out));
      std::cerr << "Wrote " << out << " (" << doc.items.size() << " items). It holds your words in the clear: "
                << "keep it somewhere private.\n";
      return {};
    }
    const std::string text = format == exporter::Format::kMarkdown ? exporter::RenderMarkdown(doc)
                             : format == exporter::Format::kHtml   ? exporter::RenderHtml(doc)
                                                                   : exporter::RenderJson(doc);
    if (!exp_out) {
      std::cout << text << std::flush;
      return {};
    }
    HEARTH_TRY(WriteFileAtomically(*exp_out, text));
    std::cerr << "Wrote " << *exp_out << " (" << doc.items.size() << " items). It holds your words in the clear: "
              << "keep it somewhere private.\n";
    return {};
  };

  // ---- status ----
  auto* status = app.add_subcommand("status", "This device, the members, and what is due");
  bool status_json = false;
  status->add_flag("--json", status_json, "Print JSON");
  handlers[status] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto st, s.node->GetStatus());
    if (status_json) {
      PrintJson(StatusJson(st));
    } else {
      std::cout << StatusText(st);
    }
    return {};
  };

  // ---- verify ----
  auto* verify = app.add_subcommand("verify", "Check every stored record and item for damage");
  handlers[verify] = [&](Session& s) -> Status {
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto r, s.node->Verify());
    std::cout << "All intact: " << r.records << " records in " << r.feeds << " feed(s), " << r.ops
              << " ops, " << r.items << " items.\n";
    return {};
  };


  // ---- invite ----
  auto* invite = app.add_subcommand("invite", "Invite your partner or another of your devices");
  std::string invite_kind;
  std::string invite_ttl = "10m";
  std::string invite_listen;
  invite->add_option("kind", invite_kind, "partner or device")->required();
  invite->add_option("--ttl", invite_ttl, "How long the code stays valid (e.g. 10m, 1h; default 10m)");
  invite->add_option("--listen", invite_listen,
                     "Where to answer the join when no 'hearth serve' runs (default 0.0.0.0:47475)");
  handlers[invite] = [&](Session& s) -> Status {
    if (invite_kind != "partner" && invite_kind != "device") {
      return MakeError(Errc::kInvalidInput, "Invite a 'partner' or a 'device'.");
    }
    HEARTH_ASSIGN_OR_RETURN(auto ttl, ParseDuration(invite_ttl));
    HEARTH_TRY(s.Open());
    const fs::path home = HomeDir(s.globals);
    // A running `hearth serve` answers the join; otherwise this process does.
    if (auto running = RunningServe(home)) {
      auto code = net::CreateInvite(*s.node, invite_kind == "device", ttl, EndpointsFor(*running));
      if (!code.ok()) return code.error();
      std::cout << net::EncodeInvite(*code) << std::endl;
      return {};
    }
    HEARTH_ASSIGN_OR_RETURN(auto at, net::ParseAddress(invite_listen.empty() ? "0.0.0.0:47475" : invite_listen));
    asio::io_context io;
    net::Server server(*s.node, io);
    HEARTH_TRY(server.Listen(at));
    auto code = net::CreateInvite(*s.node, invite_kind == "device", ttl, EndpointsFor(server.local_endpoint()));
    if (!code.ok()) return code.error();
    const auto id = net::InviteId(*code);
    std::cout << net::EncodeInvite(*code) << std::endl;
    std::cerr << "Waiting for the join (the code expires in " << invite_ttl << "; Ctrl-C cancels)..." << std::endl;
    Status result = MakeError(Errc::kRefused, "The invite expired before anyone joined.");
    server.on_join = [&](const node::Node::InviteId& joined) {
      if (joined != id) return;
      result = Status();
      server.Stop();
    };
    server.on_join_error = [&](const std::string& why) { std::cerr << "hearth: a join failed: " << why << std::endl; };
    asio::steady_timer expiry(io, ttl);
    expiry.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) server.Stop();
    });
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) {
        result = MakeError(Errc::kRefused, "The invite was cancelled.");
        server.Stop();
      }
    });
    server.Start();
    io.run();
    if (result.ok()) std::cout << "Joined: the new device is in the space and in sync." << std::endl;
    return result;
  };

  // ---- join ----
  auto* join = app.add_subcommand("join", "Join a space with an invite code");
  std::string join_code, join_name, join_device;
  bool join_no_pass = false;
  join->add_option("code", join_code, "The invite code")->required();
  join->add_option("--name", join_name, "How your partner sees you (partner invites)");
  join->add_option("--device-name", join_device, "A name for this device (default: host name)");
  join->add_flag("--no-passphrase", join_no_pass, "Keep the keys without a passphrase (file mode 0600)");
  handlers[join] = [&](Session& s) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto code, net::DecodeInvite(join_code));
    if (code.kind == net::InviteKind::kPartner && join_name.empty()) {
      return MakeError(Errc::kInvalidInput, "Joining as a partner needs --name: how your partner will see you.");
    }
    if (join_device.empty()) join_device = DefaultDeviceName();
    net::JoinOptions opts{join_name, join_device, std::nullopt};
    if (!join_no_pass) {
      HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes p, GetNewPassphrase(s.globals.passphrase_file));
      opts.passphrase = std::move(p);
    }
    const fs::path home = HomeDir(s.globals);
    HEARTH_ASSIGN_OR_RETURN(auto n, net::Join(home, code, std::move(opts), *s.clock));
    HEARTH_ASSIGN_OR_RETURN(auto st, n->GetStatus());
    std::cout << "Joined the space in " << home.string() << " as " << st.me.name << ", on " << join_device
              << ". Members:";
    for (const auto& m : st.members) std::cout << " " << m.name;
    std::cout << "." << std::endl;
    return {};
  };

  // ---- serve ----
  auto* serve = app.add_subcommand("serve", "Run this node: accept peers and sync live until stopped");
  std::string serve_listen = "0.0.0.0:47475";
  std::vector<std::string> serve_peers;
  bool serve_no_discovery = false;
  std::string serve_relay;
  serve->add_option("--listen", serve_listen, "Address to listen on (default 0.0.0.0:47475)");
  serve->add_option("--peer", serve_peers, "Also connect to this ADDR:PORT (repeatable)");
  bool serve_no_relay = false;
  serve->add_option("--relay", serve_relay, "Also meet the space's devices at this relay (HOST:PORT/KEY; default: the one saved in the space)");
  serve->add_flag("--no-relay", serve_no_relay, "Do not use a relay, not even the saved one");
  serve->add_flag("--no-discovery", serve_no_discovery, "Do not announce or look for peers on the LAN");
  handlers[serve] = [&](Session& s) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto at, net::ParseAddress(serve_listen));
    std::vector<net::tcp::endpoint> peers;
    for (const auto& p : serve_peers) {
      HEARTH_ASSIGN_OR_RETURN(auto ep, net::ParseAddress(p));
      peers.push_back(ep);
    }
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto relay_at, ChooseRelay(*s.node, serve_relay, serve_no_relay));
    asio::io_context io;
    net::NetOptions net_options;
    if (auto ms = EnvMs("HEARTH_PING_INTERVAL_MS", 100, 60'000)) net_options.ping_interval = *ms;  // docs/sync-protocol.md
    net::Server server(*s.node, io, net_options);
    HEARTH_TRY(server.Listen(at));
    for (const auto& p : peers) server.AddPeer(p);
    server.on_storage_failure = [](const std::string& line) { std::cerr << "hearth: " << line << std::endl; };
    if (relay_at) {
      net::RelayOptions relay_options{*relay_at};
      if (auto ms = EnvMs("HEARTH_MAILBOX_INTERVAL_MS", 1, 3'600'000)) {  // docs/relay-protocol.md
        relay_options.mailbox_interval = *ms;
      }
      server.UseRelay(relay_options);
      server.on_relay_note = [](const std::string& line) { std::cout << line << std::endl; };
    }
    if (!serve_no_discovery) {
      net::DiscoveryOptions discovery;
      if (const char* port = std::getenv("HEARTH_DISCOVERY_PORT")) {  // tests; docs/discovery.md
        HEARTH_ASSIGN_OR_RETURN(auto ep, net::ParseAddress(std::string("0.0.0.0:") + port));
        discovery.udp_port = ep.port();
      }
      // Without discovery the node still serves peers it is given.
      if (Status d = server.EnableDiscovery(discovery); !d.ok()) std::cerr << "hearth: " << d.error().message << std::endl;
    }
    const fs::path home = HomeDir(s.globals);
    const auto local = server.local_endpoint();
    WriteServeFile(home, local);
    std::cout << "Listening on " << net::FormatAddress(local) << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) server.Stop();
    });
    server.Start();
    io.run();
    std::error_code ignored;
    fs::remove(home / kServeFile, ignored);
    return {};
  };

  // ---- sync ----
  auto* sync = app.add_subcommand("sync", "One round of sync with every reachable peer");
  std::vector<std::string> sync_peers;
  std::string sync_relay;
  double sync_timeout = 30;
  sync->add_option("--peer", sync_peers, "A peer's ADDR:PORT (repeatable; default: peers seen before)");
  bool sync_no_relay = false;
  sync->add_option("--relay", sync_relay, "Also sync through this relay (HOST:PORT/KEY; default: the one saved in the space)");
  sync->add_flag("--no-relay", sync_no_relay, "Do not use a relay, not even the saved one");
  sync->add_option("--timeout", sync_timeout, "Seconds to wait for each peer (default 30)");
  handlers[sync] = [&](Session& s) -> Status {
    if (!(sync_timeout > 0 && sync_timeout <= 86400)) {
      return MakeError(Errc::kInvalidInput, "--timeout must be between 0 and 86400 seconds.");
    }
    HEARTH_TRY(s.Open());
    HEARTH_ASSIGN_OR_RETURN(auto relay_at, ChooseRelay(*s.node, sync_relay, sync_no_relay));
    std::vector<std::string> addresses = sync_peers;
    // Given only a relay, sync there only; otherwise also with peers seen before.
    if (addresses.empty() && sync_relay.empty()) {
      HEARTH_ASSIGN_OR_RETURN(auto seen, s.node->Peers());
      for (const auto& p : seen) {
        if (!p.address.empty()) addresses.push_back(p.address);
      }
    }
    if (addresses.empty() && !relay_at) {
      return MakeError(Errc::kNetwork, "No peer to sync with: pass --peer ADDR:PORT or --relay HOST:PORT/KEY.");
    }
    auto report = net::SyncRound(*s.node, addresses,
                                 std::chrono::milliseconds(static_cast<std::int64_t>(sync_timeout * 1000)), {},
                                 relay_at);
    for (const auto& line : report.lines) std::cout << line << std::endl;
    if (report.synced > 0) return {};
    if (report.failure) return *report.failure;
    return MakeError(Errc::kNetwork, "No peer could be reached.");
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help
      return app.exit(e);
    }
    std::cerr << "hearth: " << e.what() << " (see 'hearth --help')\n";
    return 2;
  }

  auto clock = MakeClock();
  if (!clock.ok()) {
    std::cerr << "hearth: " << clock.error().message << "\n";
    return ExitCode(clock.error().code);
  }
  session.clock = std::move(clock).value();
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = handlers.find(sub);
    if (it == handlers.end()) continue;
    Status result = Status();
    try {
      result = it->second(session);
    } catch (const std::bad_alloc&) {
      result = MakeError(Errc::kStorage, "Out of memory.");
    } catch (const std::exception& e) {
      result = MakeError(Errc::kInternal, std::string("Unexpected failure: ") + e.what() + ".");
    }
    if (!result.ok()) {
      std::cerr << "hearth: " << result.error().message << "\n";
      return ExitCode(result.error().code);
    }
    return 0;
  }
  return 2;
}

}  // namespace hearth::cli
