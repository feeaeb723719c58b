// A hand-built export Document for the renderer tests: two partners, every
// kind of item, every field set somewhere, and text in several scripts
// (accents, emoji, Hebrew and Arabic) so each format's Unicode handling is
// exercised without a node.
#pragma once

#include "cli/export/document.h"

namespace hearth::exporter::testing {

// `weeks` weeks of data ending on 2026-11-22 (at least 1). Items are
// oldest first, as BuildDocument returns them.
Document SampleDocument(int weeks = 12);

// SampleDocument(weeks) grown to at least `items` items with extra entries
// (two paragraphs each, tagged, with a mood) and appreciations (in turn in
// every script) spread over the period, the summary and chart counts kept
// consistent: a large export for timing the renderers.
Document LargeDocument(std::size_t items, int weeks = 156);

// Strings that appear in SampleDocument's items, and one that must not.
inline constexpr const char* kAccented = "Crème brûlée à la maison, déjà vu";
inline constexpr const char* kEmoji = "Thank you for the tea \xF0\x9F\x8D\xB5 and the hug \xE2\x9D\xA4\xEF\xB8\x8F";
inline constexpr const char* kHebrew = "\xD7\xAA\xD7\x95\xD7\x93\xD7\x94 \xD7\xA2\xD7\x9C \xD7\x94\xD7\x9B\xD7\x9C";  // "thanks for everything"
inline constexpr const char* kArabic = "\xD8\xB4\xD9\x83\xD8\xB1\xD8\xA7 \xD9\x84\xD9\x83";                  // "thank you"
inline constexpr const char* kPrivateText = "My private reflection about the move";

}  // namespace hearth::exporter::testing
