// hearth::crdt::Text — a sequence CRDT for collaborative plain text.
//
// Generic: it knows characters, agents and operations, nothing about journals.
//
// Algorithm: FugueMax (Weidner & Kleppmann, "The Art of the Fugue: Minimizing
// Interleaving in Collaborative Text Editing", 2023), written as YATA's
// integration loop with Fugue's right-origin rule. Every character has an id
// (agent, seq) and two origins: the character just before it and the one
// just after it when it was typed. Concurrent inserts at the same place never
// interleave: a run typed by one agent stays together, whichever order the
// runs arrive in. docs/text-crdt.md explains the choice and the formats.
//
// Runs: characters typed one after the other by one agent (consecutive seqs,
// each one's left origin the character before it, one shared right origin)
// are held, sent and encoded as one run, not one entry per character.
// Deleted characters stay as tombstones (they anchor later inserts); a
// delete names a range of ids, so it is exact however the text moved.
//
// Operations are idempotent and may arrive in any order: an operation whose
// origins or targets have not arrived yet is parked and applied as soon as
// they have. Replicas that applied the same set of operations hold equal
// state (Encode() gives equal bytes).
//
// Threading: a plain value; no internal synchronisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/result.h"

namespace hearth::crdt {

// The agent that typed a character: a replica's 64-bit tag. Concurrent
// inserts at one place are ordered by agent, so two agents must never share
// a tag.
using Agent = std::uint64_t;

// One character: typed by `agent`, the `seq`-th character that agent typed in
// this text (0-based). A run of n characters has ids seq .. seq + n - 1.
struct CharId {
  Agent agent = 0;
  std::uint32_t seq = 0;
  friend auto operator<=>(const CharId&, const CharId&) = default;
};

// Inserts `text` (a run typed by id.agent, ids id.seq ...) between `left`
// and `right`, the characters next to the insertion point when it was made
// (none: the start / the end of the text).
struct InsertOp {
  CharId id;
  std::optional<CharId> left;
  std::optional<CharId> right;
  std::u32string text;
  friend bool operator==(const InsertOp&, const InsertOp&) = default;
};

// Deletes the characters first.agent typed with seqs first.seq .. + len - 1.
struct DeleteOp {
  CharId first;
  std::uint32_t len = 0;
  friend bool operator==(const DeleteOp&, const DeleteOp&) = default;
};

using TextOp = std::variant<InsertOp, DeleteOp>;

// Appends `op` to `ops`, folding it into the last op when the two form one
// run (a character typed right after the previous one, or a delete of the
// next id). Keeps an edit's op list as short as the runs it touched.
void AppendOp(std::vector<TextOp>& ops, TextOp op);

// Bounds on what Apply and Decode accept (an op or encoding beyond them is
// refused, never allocated): characters per text, agents per text.
inline constexpr std::uint32_t kMaxTextChars = 1u << 22;  // per agent: 4 Mi characters ever typed
inline constexpr std::uint32_t kMaxTextAgents = 4096;
// Operations parked while waiting for what they depend on.
inline constexpr std::size_t kMaxParked = 1u << 20;

class Text {
 public:
  Text();
  ~Text();
  Text(const Text& other);
  Text& operator=(const Text& other);
  Text(Text&&) noexcept;
  Text& operator=(Text&&) noexcept;

  // ---- local edits (positions count code points in the visible text) ----

  // Inserts `text` at visible position `pos` (clamped to size()), typed by
  // `agent`; appends the operation to `out` if given. Returns false, changing
  // nothing, if `agent` would pass kMaxTextChars.
  bool Insert(Agent agent, std::size_t pos, std::u32string_view text,
              std::vector<TextOp>* out = nullptr);
  // Deletes up to `len` visible characters from `pos`.
  void Delete(std::size_t pos, std::size_t len, std::vector<TextOp>* out = nullptr);

  // ---- edits against an earlier version ----

  // The ids of the visible characters, in order: what a later EditFrom needs
  // to remember of the version it was opened at.
  std::vector<CharId> VisibleIds() const;
  // Turns "the version whose characters were `opened` now reads `edited`"
  // into operations by `agent`, applies them and returns them. Characters are
  // diffed one by one, so only what the editor changed is deleted or
  // inserted, and whatever other agents changed since the version was opened
  // survives. `opened` must come from VisibleIds() of this text (or of an
  // earlier state of it); ids it does not hold are refused.
  Result<std::vector<TextOp>> EditFrom(Agent agent, std::span<const CharId> opened,
                                       std::u32string_view opened_text,
                                       std::u32string_view edited);

  // ---- remote operations ----

  // Applies an operation from any agent, in any order, any number of times.
  // Returns false if it was refused as malformed (ids out of bounds, a run
  // overlapping ids already held, too many parked ops); nothing changes then.
  bool Apply(const TextOp& op);

  // ---- reading ----
  std::size_t size() const;  // visible characters
  bool empty() const { return size() == 0; }
  std::u32string ToU32() const;
  std::string ToUtf8() const;
  // Characters held, tombstones included, and the number of runs.
  std::size_t total_chars() const;
  std::size_t run_count() const;
  std::size_t parked() const;
  // Every character held, tombstones included, in order, with whether it is
  // deleted (for tests and diagnostics).
  std::vector<std::pair<CharId, bool>> Layout() const;
  // The next seq `agent` would use.
  std::uint32_t NextSeq(Agent agent) const;

  // ---- encoding (docs/text-crdt.md) ----

  // The whole state: every run with its origins, tombstones and (unless
  // `keep_deleted_text` is false) the text of deleted runs, and the parked
  // operations. Deterministic: equal states encode to equal bytes.
  // With `deflate`, a text over 4 KiB is zlib-compressed; without, the
  // visible text appears verbatim (UTF-8, in order) inside the encoding.
  std::string Encode(bool keep_deleted_text = true, bool deflate = true) const;
  static Result<Text> Decode(std::string_view bytes);

  friend bool operator==(const Text& a, const Text& b);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// UTF-8 <-> code points. Invalid UTF-8 becomes U+FFFD.
std::u32string Utf8ToU32(std::string_view s);
std::string U32ToUtf8(std::u32string_view s);

}  // namespace hearth::crdt
