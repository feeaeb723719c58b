#include "cli/json_view.h"

#include <sstream>

#include "core/base/dates.h"

namespace hearth::cli {

using model::Kind;
using nlohmann::json;

namespace {

// Prompt keys for check-in answers in JSON, in prompt order.
const char* const kAnswerKeys[] = {"connection", "went_well", "appreciation", "need", "unresolved"};

std::string OwnerName(model::Owner o) {
  switch (o) {
    case model::Owner::kPartner:
      return "partner";
    case model::Owner::kBoth:
      return "both";
    default:
      return "author";
  }
}

std::string FirstLine(const std::string& text, std::size_t max_chars) {
  std::string line = text.substr(0, text.find('\n'));
  // Cut on a UTF-8 character boundary.
  if (line.size() > max_chars) {
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xc0) == 0x80) --cut;
    line = line.substr(0, cut) + "...";
  }
  return line;
}

}  // namespace

std::string KindName(Kind kind) {
  switch (kind) {
    case Kind::kEntry:
      return "entry";
    case Kind::kAppreciation:
      return "appreciation";
    case Kind::kCommitment:
      return "commitment";
    case Kind::kCheckin:
      return "checkin";
    case Kind::kAgreements:
      return "agreements";
    default:
      return "unknown";
  }
}

std::optional<Kind> KindFromName(const std::string& name) {
  for (Kind k : {Kind::kEntry, Kind::kAppreciation, Kind::kCommitment, Kind::kCheckin}) {
    if (KindName(k) == name) return k;
  }
  return std::nullopt;
}

std::string RhythmName(model::Rhythm r) {
  switch (r) {
    case model::Rhythm::kDay:
      return "day";
    case model::Rhythm::kMonth:
      return "month";
    default:
      return "week";
  }
}

json ItemJson(const node::ItemView& v) {
  json j;
  j["id"] = IdToHex(v.id);
  j["kind"] = KindName(v.kind);
  j["author"] = v.author;
  j["mine"] = v.mine;
  j["created"] = FormatTimestamp(v.created_ms);
  j["date"] = FormatDate(v.day);
  j["text"] = v.text;
  switch (v.kind) {
    case Kind::kEntry:
      j["title"] = v.title;
      j["mood"] = v.mood ? json(*v.mood) : json(nullptr);
      j["tags"] = v.tags;
      j["private"] = v.is_private;
      j["memory"] = v.memory;
      break;
    case Kind::kAppreciation:
      j["to"] = v.to;
      break;
    case Kind::kCommitment: {
      j["owner"] = OwnerName(v.owner);
      j["rhythm"] = RhythmName(v.rhythm);
      json ft = json::array();
      for (const auto& f : v.follow_through) {
        ft.push_back({{"period", f.period}, {"kept", f.kept}, {"note", f.note}});
      }
      j["follow_through"] = ft;
      j["current_period"] = v.current_period;
      j["streak"] = v.stats.streak;
      j["kept_last_4"] = {{"kept", v.stats.kept4}, {"recorded", v.stats.recorded4}};
      j["kept_last_12"] = {{"kept", v.stats.kept12}, {"recorded", v.stats.recorded12}};
      j["replaces"] = v.replaces ? json(IdToHex(v.replaces)) : json(nullptr);
      j["replaced_by"] = v.replaced_by ? json(IdToHex(v.replaced_by)) : json(nullptr);
      break;
    }
    case Kind::kCheckin: {
      j["period"] = v.period;
      json answers = json::array();
      for (const auto& a : v.answers) {
        json one;
        one["member"] = a.member;
        one["sealed"] = a.sealed;
        for (std::size_t i = 0; i < a.answers.size() && i < std::size(kAnswerKeys); ++i) {
          if (i == 0) {
            int score = 0;
            try {
              score = std::stoi(a.answers[0]);
            } catch (...) {
              score = 0;
            }
            one[kAnswerKeys[0]] = score >= 1 && score <= 10 && !a.sealed ? json(score) : json(nullptr);
          } else {
            one[kAnswerKeys[i]] = a.answers[i];
          }
        }
        answers.push_back(one);
      }
      j["answers"] = answers;
      break;
    }
    default:
      break;
  }
  return j;
}

json StatusJson(const node::StatusView& s) {
  json j;
  j["space"] = s.space_id;
  j["member"] = {{"id", IdToHex(s.me.id)}, {"name", s.me.name}};
  j["device"] = {{"id", s.device.id}, {"name", s.device.name}};
  j["members"] = json::array();
  for (const auto& m : s.members) {
    j["members"].push_back({{"id", IdToHex(m.id)}, {"name", m.name}, {"me", m.me}});
  }
  j["devices"] = json::array();
  for (const auto& d : s.devices) {
    j["devices"].push_back(
        {{"id", d.id}, {"name", d.name}, {"member", d.member}, {"this_device", d.this_device}});
  }
  j["peers"] = json::array();
  std::uint64_t unsynced = s.peers.empty() ? s.records_here : ~0ULL;
  for (const auto& p : s.peers) {
    j["peers"].push_back({{"device", p.device},
                          {"member", p.member},
                          {"address", p.address},
                          {"connected", p.connected},
                          {"last_seen", FormatTimestamp(p.last_seen_ms)},
                          {"unsynced", p.they_lack}});
    unsynced = std::min(unsynced, p.they_lack);
  }
  j["forks"] = s.forks;
  j["records"] = {{"this_device", s.records_here}, {"total", s.records_total}, {"unsynced", unsynced}};
  j["passphrase"] = s.passphrase;
  j["checkin"] = {{"period", s.checkin_period},
                  {"due", s.checkin_due},
                  {"every", RhythmName(s.checkin_rhythm)},
                  {"partner_answered", s.checkin_partner_answered},
                  {"next", FormatDate(s.checkin_next_day)}};
  j["signals"] = s.signals;
  j["signals_enabled"] = s.signals_enabled;
  j["commitments_due"] = json::array();
  for (const auto& c : s.commitments_due) {
    j["commitments_due"].push_back(
        {{"id", IdToHex(c.id)}, {"text", c.text}, {"rhythm", RhythmName(c.rhythm)}});
  }
  return j;
}

std::string ItemLine(const node::ItemView& v) {
  std::ostringstream o;
  o << IdToHex(v.id).substr(0, 8) << "  " << FormatDate(v.day) << "  ";
  std::string kind = KindName(v.kind);
  kind.resize(12, ' ');
  o << kind << "  " << v.author << "  ";
  if (v.kind == Kind::kEntry && !v.title.empty()) o << v.title << ": ";
  if (v.kind == Kind::kAppreciation) o << "to " << v.to << ": ";
  o << FirstLine(v.text, 72);
  if (v.is_private) o << "  (private)";
  return o.str();
}

std::string ItemDetails(const node::ItemView& v) {
  std::ostringstream o;
  o << KindName(v.kind) << " " << IdToHex(v.id) << "\n";
  o << "by " << v.author << ", " << FormatDate(v.day);
  if (FormatDate(v.day) != FormatTimestamp(v.created_ms).substr(0, 10)) {
    o << " (written " << FormatTimestamp(v.created_ms) << ")";
  }
  o << "\n";
  switch (v.kind) {
    case Kind::kEntry:
      if (v.memory) o << "a memory: remember when...\n";
      if (v.is_private) o << "private: only your own devices can read it\n";
      if (v.mood) o << "mood: " << *v.mood << "/5\n";
      if (!v.tags.empty()) {
        o << "tags:";
        for (const auto& t : v.tags) o << " #" << t;
        o << "\n";
      }
      if (!v.title.empty()) o << "\n" << v.title << "\n";
      o << "\n" << v.text << "\n";
      break;
    case Kind::kAppreciation:
      o << "for " << v.to << "\n\n" << v.text << "\n";
      break;
    case Kind::kCommitment:
      o << "every " << RhythmName(v.rhythm) << ", kept by " << OwnerName(v.owner) << "\n";
      if (v.replaced_by != 0) {
        o << "renegotiated: now " << IdToHex(v.replaced_by) << " (this is its history)\n";
      }
      if (v.replaces != 0) o << "renegotiated from " << IdToHex(v.replaces) << "\n";
      o << "\n" << v.text << "\n";
      if (v.replaced_by == 0) {
        o << "\nstreak: " << v.stats.streak << " " << RhythmName(v.rhythm) << (v.stats.streak == 1 ? "" : "s")
          << " kept in a row\n";
        o << "kept: " << v.stats.kept4 << " of the last " << v.stats.recorded4 << " recorded (of 4 " << RhythmName(v.rhythm)
          << "s), " << v.stats.kept12 << " of " << v.stats.recorded12 << " (of 12)\n";
      }
      if (!v.follow_through.empty()) o << "\nfollow-through:\n";
      for (const auto& f : v.follow_through) {
        o << "  " << f.period << "  " << (f.kept ? "kept" : "missed");
        if (!f.note.empty()) o << "  " << f.note;
        o << "\n";
      }
      break;
    case Kind::kCheckin: {
      o << "period " << v.period << "\n";
      const auto& prompts = node::CheckinPrompts();
      for (const auto& a : v.answers) {
        o << "\n" << a.member << ":\n";
        if (a.sealed) {
          o << "  (answered; sealed until you have answered this check-in too)\n";
          continue;
        }
        for (std::size_t i = 0; i < a.answers.size() && i < prompts.size(); ++i) {
          o << "  " << prompts[i] << "\n    " << (a.answers[i].empty() ? "-" : a.answers[i]) << "\n";
        }
      }
      break;
    }
    default:
      o << "\n" << v.text << "\n";
  }
  return o.str();
}

std::string StatusText(const node::StatusView& s) {
  std::ostringstream o;
  o << "You are " << s.me.name << ", on device " << s.device.name << " (" << s.device.id.substr(0, 16)
    << ").\n";
  o << "Members:";
  for (const auto& m : s.members) o << " " << m.name << (m.me ? " (you)" : "");
  o << "\nDevices:\n";
  for (const auto& d : s.devices) {
    o << "  " << d.name << " of " << d.member << (d.this_device ? " (this device)" : "") << "\n";
  }
  if (s.peers.empty()) {
    o << "Peers: none seen yet. " << s.records_here
      << " record(s) written here have not been shared with another device.\n";
  } else {
    o << "Peers:\n";
    for (const auto& p : s.peers) {
      o << "  " << p.device << (p.member.empty() ? "" : " of " + p.member)
        << (p.address.empty() ? std::string() : " at " + p.address) << ": "
        << (p.connected ? "connected" : "last seen " + FormatTimestamp(p.last_seen_ms)) << ", "
        << (p.they_lack == 0 ? std::string("in sync") : std::to_string(p.they_lack) + " record(s) not yet sent")
        << "\n";
    }
  }
  for (const auto& f : s.forks) {
    o << "Warning: device " << f << ": it has two different histories and was not merged. Run 'hearth verify' on "
      << "that device.\n";
  }
  o << "Keys: " << (s.passphrase ? "protected by your passphrase" : "stored without a passphrase")
    << ".\n";
  const std::string period_word = RhythmName(s.checkin_rhythm);
  if (s.checkin_due) {
    o << "A check-in is due this " << period_word << " (" << s.checkin_period << "): run 'hearth checkin'.";
    if (s.checkin_partner_answered) o << " Your partner has answered; their answers open once you have too.";
    o << "\n";
  } else {
    o << "You have checked in this " << period_word << " (" << s.checkin_period << "); the next one is due from "
      << FormatDate(s.checkin_next_day) << ".\n";
  }
  for (const auto& c : s.commitments_due) {
    o << "Due this " << RhythmName(c.rhythm) << ": " << c.text.substr(0, c.text.find('\n')) << " ("
      << IdToHex(c.id).substr(0, 8) << ": 'hearth keep' or 'hearth miss')\n";
  }
  if (!s.signals.empty()) {
    o << "\nGentle signals (only on this device; 'hearth signals off' hides them):\n";
    for (const auto& line : s.signals) o << "  - " << line << "\n";
  }
  return o.str();
}

}  // namespace hearth::cli
