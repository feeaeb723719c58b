// How items, statuses and reports look: the stable --json documents
// (specified in docs/json.md) and the human-readable text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/node/node.h"

namespace hearth::cli {

std::string KindName(model::Kind kind);
std::optional<model::Kind> KindFromName(const std::string& name);
std::string RhythmName(model::Rhythm r);

nlohmann::json ItemJson(const node::ItemView& item);
nlohmann::json StatusJson(const node::StatusView& s);

// One line for `list`: short id, date, kind, author, first line of text.
std::string ItemLine(const node::ItemView& item);
// The full text for `show`.
std::string ItemDetails(const node::ItemView& item);
std::string StatusText(const node::StatusView& s);

}  // namespace hearth::cli
