#include "core/crdt/text.h"

#include <zlib.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "core/base/bytes.h"

namespace hearth::crdt {

namespace {

constexpr std::uint32_t kNoAgent = 0xffffffffu;

// A character by local agent index (agents are interned per text).
struct Ref {
  std::uint32_t agent = kNoAgent;
  std::uint32_t seq = 0;
  bool none() const { return agent == kNoAgent; }
  friend bool operator==(const Ref&, const Ref&) = default;
};

// Consecutive characters of one agent: seqs seq .. seq + len - 1. The first
// one's left origin is `left`; each later one's is the character before it.
// All share the right origin `right`.
struct Run {
  std::uint32_t agent = 0;
  std::uint32_t seq = 0;
  std::uint32_t len = 0;
  bool deleted = false;
  Ref left;
  Ref right;
  Ref Last() const { return Ref{agent, seq + len - 1}; }
  Ref First() const { return Ref{agent, seq}; }
};

// Whether b, directly after a in the list, continues a's run.
bool Continues(const Run& a, const Run& b) {
  return a.agent == b.agent && a.seq + a.len == b.seq && a.deleted == b.deleted &&
         b.left == a.Last() && b.right == a.right;
}

// Runs live in chunks of at most kChunkMax, so an edit moves few of them and
// a position is found by skipping whole chunks.
constexpr std::size_t kChunkMax = 64;

struct Chunk {
  std::vector<Run> runs;
  std::size_t visible = 0;
  std::uint32_t order = 0;  // index in Impl::chunks
};

// A run boundary: before runs[run] of chunks[chunk].
struct Pos {
  std::uint32_t chunk = 0;
  std::uint32_t run = 0;
  friend bool operator==(const Pos&, const Pos&) = default;
};

// Where a character is: chunk, run, offset in the run.
struct Loc {
  std::uint32_t chunk = 0;
  std::uint32_t run = 0;
  std::uint32_t offset = 0;
  friend auto operator<=>(const Loc&, const Loc&) = default;
};

std::uint64_t Key(std::uint32_t agent, std::uint32_t seq) {
  return (static_cast<std::uint64_t>(agent) << 32) | seq;
}

enum class Outcome { kApplied, kParked, kRefused };

// The characters one agent typed, by seq. Held as spans of consecutive seqs
// (first seq -> characters), not as one array indexed by seq: an agent's
// seqs may arrive with gaps (a remote run from far ahead, a tombstone whose
// text was dropped), and a gap must cost nothing. In the usual case, an
// agent's characters arriving in order, there is one span that grows.
class AgentChars {
 public:
  // Stores text for seqs seq .. seq + size - 1, none of which is held yet
  // (callers refuse overlapping ids before storing).
  void Put(std::uint32_t seq, std::u32string_view text) {
    if (text.empty()) return;
    const auto end = seq + static_cast<std::uint32_t>(text.size());
    auto next = spans_.upper_bound(seq);
    std::u32string* into = nullptr;
    if (next != spans_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second.size() == seq) into = &prev->second;
    }
    if (into) {
      into->append(text);
    } else {
      into = &spans_.emplace_hint(next, seq, std::u32string(text))->second;
    }
    if (next != spans_.end() && next->first == end) {  // closes a gap: join
      into->append(next->second);
      spans_.erase(next);
    }
  }

  // Stores pieces (seq, characters), sorted by seq and not overlapping, into
  // an empty store: each stretch of consecutive seqs becomes one span, built
  // at its final size.
  void Load(std::span<const std::pair<std::uint32_t, std::u32string_view>> pieces) {
    std::size_t i = 0;
    while (i < pieces.size()) {
      std::size_t j = i + 1;
      std::size_t size = pieces[i].second.size();
      while (j < pieces.size() && pieces[j].first == pieces[i].first + size) size += pieces[j++].second.size();
      std::u32string span;
      span.reserve(size);
      for (std::size_t k = i; k < j; ++k) span.append(pieces[k].second);
      spans_.emplace_hint(spans_.end(), pieces[i].first, std::move(span));
      i = j;
    }
  }

  // Appends the characters of seqs seq .. seq + len - 1 to out. A seq not
  // held (only a tombstone whose text was dropped) reads as U+FFFD.
  void AppendTo(std::u32string& out, std::uint32_t seq, std::uint32_t len) const {
    auto it = spans_.upper_bound(seq);
    if (it != spans_.begin()) {
      --it;
      const std::size_t from = seq - it->first;
      if (from + len <= it->second.size()) {  // the usual case: one span holds it all
        out.append(it->second.data() + from, len);
        return;
      }
    }
    while (len > 0) {
      if (it == spans_.end() || it->first > seq) {
        const std::uint32_t gap = it == spans_.end() ? len : std::min(len, it->first - seq);
        out.append(gap, U'\uFFFD');
        seq += gap;
        len -= gap;
        continue;
      }
      const std::size_t from = seq - it->first;
      if (from >= it->second.size()) {
        ++it;
        continue;
      }
      const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(len, it->second.size() - from));
      out.append(it->second, from, n);
      seq += n;
      len -= n;
      ++it;
    }
  }

 private:
  std::map<std::uint32_t, std::u32string> spans_;
};

}  // namespace

struct Text::Impl {
  std::vector<Agent> agents;  // by local index; a text has few, so lookups scan
  std::vector<AgentChars> content;  // per agent
  std::vector<std::uint32_t> next_seq;  // per agent: one past the highest seq held
  std::vector<std::unique_ptr<Chunk>> chunks;
  std::size_t visible = 0;
  std::size_t total = 0;
  bool deleted_text_dropped = false;
  std::vector<TextOp> parked;

  // Where the last local edit happened: chunk and the visible position it
  // starts at. Edits cluster, so most lookups start right here.
  std::uint32_t cur = 0;
  std::size_t cur_start = 0;

  // id -> chunk of the run starting there; built on the first remote op or
  // lookup by id, then kept up to date by every change.
  bool indexed = false;
  std::map<std::uint64_t, Chunk*> index;

  Impl() = default;
  Impl(const Impl& o)
      : agents(o.agents),
        content(o.content),
        next_seq(o.next_seq),
        visible(o.visible),
        total(o.total),
        deleted_text_dropped(o.deleted_text_dropped),
        parked(o.parked),
        cur(o.cur),
        cur_start(o.cur_start) {
    chunks.reserve(o.chunks.size());
    for (const auto& c : o.chunks) chunks.push_back(std::make_unique<Chunk>(*c));
  }

  std::uint32_t Intern(Agent a) {
    if (auto known = Known(a)) return *known;
    agents.push_back(a);
    content.emplace_back();
    next_seq.push_back(0);
    return static_cast<std::uint32_t>(agents.size() - 1);
  }
  std::optional<std::uint32_t> Known(Agent a) const {
    for (std::size_t i = 0; i < agents.size(); ++i) {
      if (agents[i] == a) return static_cast<std::uint32_t>(i);
    }
    return std::nullopt;
  }
  std::optional<CharId> Public(Ref r) const {
    if (r.none()) return std::nullopt;
    return CharId{agents[r.agent], r.seq};
  }

  // ---- structure changes (every one keeps the index) ----

  void IndexRun(Chunk* c, const Run& r) {
    if (indexed) index[Key(r.agent, r.seq)] = c;
  }
  void InsertRun(std::uint32_t c, std::uint32_t r, const Run& run) {
    Chunk* ch = chunks[c].get();
    ch->runs.insert(ch->runs.begin() + r, run);
    IndexRun(ch, run);
  }
  void EraseRun(std::uint32_t c, std::uint32_t r) {
    Chunk* ch = chunks[c].get();
    if (indexed) index.erase(Key(ch->runs[r].agent, ch->runs[r].seq));
    ch->runs.erase(ch->runs.begin() + r);
  }
  // Splits run r of chunk c so that its first k characters stay (0 < k < len).
  void SplitRun(std::uint32_t c, std::uint32_t r, std::uint32_t k) {
    Run& x = chunks[c]->runs[r];
    Run y = x;
    y.seq = x.seq + k;
    y.len = x.len - k;
    y.left = Ref{x.agent, x.seq + k - 1};
    x.len = k;
    InsertRun(c, r + 1, y);
  }
  // Merges run r with its neighbours in the same chunk where they form one
  // run; returns the index of the run now holding run r's characters.
  std::uint32_t MergeAround(std::uint32_t c, std::uint32_t r) {
    auto& runs = chunks[c]->runs;
    if (r + 1 < runs.size() && Continues(runs[r], runs[r + 1])) {
      runs[r].len += runs[r + 1].len;
      EraseRun(c, r + 1);
    }
    if (r > 0 && Continues(runs[r - 1], runs[r])) {
      runs[r - 1].len += runs[r].len;
      EraseRun(c, r);
      --r;
    }
    return r;
  }
  void MaybeSplitChunk(std::uint32_t c) {
    Chunk* ch = chunks[c].get();
    if (ch->runs.size() <= kChunkMax) return;
    auto fresh = std::make_unique<Chunk>();
    const std::size_t half = ch->runs.size() / 2;
    fresh->runs.reserve(kChunkMax);
    fresh->runs.assign(ch->runs.begin() + static_cast<std::ptrdiff_t>(half), ch->runs.end());
    ch->runs.resize(half);
    std::size_t moved = 0;
    for (const Run& r : fresh->runs) {
      if (!r.deleted) moved += r.len;
      IndexRun(fresh.get(), r);
    }
    fresh->visible = moved;
    ch->visible -= moved;
    chunks.insert(chunks.begin() + c + 1, std::move(fresh));
    for (std::size_t i = c + 1; i < chunks.size(); ++i) chunks[i]->order = static_cast<std::uint32_t>(i);
    if (cur > c) ++cur;
  }
  void SplitChunks(std::vector<std::uint32_t>& touched) {
    std::sort(touched.begin(), touched.end(), std::greater<>());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (std::uint32_t c : touched) MaybeSplitChunk(c);
  }
  // A visible-count change in chunk c.
  void Visible(std::uint32_t c, std::ptrdiff_t delta) {
    chunks[c]->visible = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(chunks[c]->visible) + delta);
    visible = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(visible) + delta);
    if (c < cur) cur_start = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(cur_start) + delta);
  }

  // ---- finding ----

  // Moves the cursor to the chunk holding visible character `pos` (< visible).
  void Seek(std::size_t pos) {
    while (pos < cur_start) {
      --cur;
      cur_start -= chunks[cur]->visible;
    }
    while (pos >= cur_start + chunks[cur]->visible) {
      cur_start += chunks[cur]->visible;
      ++cur;
    }
  }
  // The visible character at `pos` (< visible): chunk, run, offset.
  Loc AtVisible(std::size_t pos) {
    Seek(pos);
    std::size_t at = pos - cur_start;
    const auto& runs = chunks[cur]->runs;
    for (std::uint32_t r = 0;; ++r) {
      if (runs[r].deleted) continue;
      if (at < runs[r].len) return Loc{cur, r, static_cast<std::uint32_t>(at)};
      at -= runs[r].len;
    }
  }

  void EnsureIndex() {
    if (indexed) return;
    for (const auto& c : chunks) {
      for (const Run& r : c->runs) index.emplace_hint(index.end(), Key(r.agent, r.seq), c.get());
    }
    indexed = true;
  }
  std::optional<Loc> Find(Ref ref) {
    EnsureIndex();
    auto it = index.upper_bound(Key(ref.agent, ref.seq));
    if (it == index.begin()) return std::nullopt;
    --it;
    if ((it->first >> 32) != ref.agent) return std::nullopt;
    const auto start = static_cast<std::uint32_t>(it->first);
    const Chunk* ch = it->second;
    for (std::uint32_t r = 0; r < ch->runs.size(); ++r) {
      const Run& run = ch->runs[r];
      if (run.agent == ref.agent && run.seq == start) {
        if (ref.seq - start >= run.len) return std::nullopt;
        return Loc{ch->order, r, ref.seq - start};
      }
    }
    return std::nullopt;  // unreachable while the index is kept
  }
  bool Holds(Ref ref) { return !ref.none() && Find(ref).has_value(); }
  // Whether any of agent's seqs in [seq, seq + len) is held.
  bool Overlaps(std::uint32_t agent, std::uint32_t seq, std::uint32_t len) {
    if (Holds(Ref{agent, seq})) return true;
    auto it = index.lower_bound(Key(agent, seq));
    return it != index.end() && (it->first >> 32) == agent &&
           static_cast<std::uint32_t>(it->first) < seq + len;
  }

  Pos End() const {
    const auto last = static_cast<std::uint32_t>(chunks.size() - 1);
    return Pos{last, static_cast<std::uint32_t>(chunks[last]->runs.size())};
  }
  // Moves a boundary at the end of a chunk to the start of the next one.
  Pos Normal(Pos p) const {
    while (p.run >= chunks[p.chunk]->runs.size() && p.chunk + 1 < chunks.size()) p = Pos{p.chunk + 1, 0};
    return p;
  }
  Ref CharBefore(Pos p) const {
    if (p.run > 0) return chunks[p.chunk]->runs[p.run - 1].Last();
    for (std::uint32_t c = p.chunk; c-- > 0;) {
      if (!chunks[c]->runs.empty()) return chunks[c]->runs.back().Last();
    }
    return Ref{};
  }
  Ref CharAt(Pos p) const {
    p = Normal(p);
    if (p.run < chunks[p.chunk]->runs.size()) return chunks[p.chunk]->runs[p.run].First();
    return Ref{};
  }

  void StoreText(std::uint32_t a, std::uint32_t seq, std::u32string_view text) {
    content[a].Put(seq, text);
    next_seq[a] = std::max<std::uint32_t>(next_seq[a], seq + static_cast<std::uint32_t>(text.size()));
  }

  // ---- remote operations ----

  Outcome ApplyInsert(const InsertOp& op) {
    const auto n = op.text.size();
    if (n == 0) return Outcome::kApplied;
    if (n > kMaxTextChars || op.id.seq > kMaxTextChars - n) return Outcome::kRefused;
    const auto len = static_cast<std::uint32_t>(n);
    auto to_ref = [&](const std::optional<CharId>& id, Ref& out) {
      if (!id) return true;
      auto a = Known(id->agent);
      if (!a) return false;
      out = Ref{*a, id->seq};
      return Holds(out);
    };
    Ref left, right;
    if (auto a = Known(op.id.agent); a && Holds(Ref{*a, op.id.seq})) return Outcome::kApplied;  // a duplicate
    if (!to_ref(op.left, left) || !to_ref(op.right, right)) return Outcome::kParked;
    if (agents.size() >= kMaxTextAgents && !Known(op.id.agent)) return Outcome::kRefused;
    const std::uint32_t a = Intern(op.id.agent);
    EnsureIndex();
    if (Overlaps(a, op.id.seq, len)) return Outcome::kRefused;
    if (chunks.empty()) chunks.push_back(std::make_unique<Chunk>());

    std::vector<std::uint32_t> touched;
    // Make the left origin the end of a run and the right origin the start of one.
    if (!left.none()) {
      Loc l = *Find(left);
      if (l.offset + 1 < chunks[l.chunk]->runs[l.run].len) SplitRun(l.chunk, l.run, l.offset + 1);
      touched.push_back(l.chunk);
    }
    if (!right.none()) {
      Loc r = *Find(right);
      if (r.offset > 0) SplitRun(r.chunk, r.run, r.offset);
      touched.push_back(r.chunk);
    }
    Loc left_loc{};
    Pos start{0, 0};
    if (!left.none()) {
      left_loc = *Find(left);
      start = Pos{left_loc.chunk, left_loc.run + 1};
    }
    std::optional<Pos> right_pos;
    Loc right_loc{};
    if (!right.none()) {
      right_loc = *Find(right);
      right_pos = Pos{right_loc.chunk, right_loc.run};
    }

    // FugueMax / YATA integration: walk the runs between the origins and
    // find the place among concurrent inserts with the same origins.
    const Agent me = op.id.agent;
    Pos i = Normal(start);
    Pos dest = i;
    bool scanning = false;
    const Pos end = End();
    for (;;) {
      if (!scanning) dest = i;
      if (i == end) break;
      if (right_pos && i == *right_pos) break;
      const Run& other = chunks[i.chunk]->runs[i.run];
      if (other.left == left) {
        int cmp;  // other's right origin against ours
        if (other.right == right) {
          cmp = 0;
        } else if (other.right.none()) {
          cmp = 1;
        } else if (right.none()) {
          cmp = -1;
        } else {
          cmp = *Find(other.right) < right_loc ? -1 : 1;
        }
        if (cmp < 0) {
          scanning = true;
        } else if (cmp == 0) {
          if (me < agents[other.agent]) break;
          scanning = false;
        } else {
          scanning = false;
        }
      } else if (other.left.none() || (!left.none() && *Find(other.left) < left_loc)) {
        break;
      }
      // Later characters of `other` have their left origin inside it: skip them.
      i = Normal(Pos{i.chunk, i.run + 1});
    }

    // Insert at dest, extending the run before it when the new one continues it.
    Run run{a, op.id.seq, len, false, left, right};
    if (dest.run > 0 && Continues(chunks[dest.chunk]->runs[dest.run - 1], run)) {
      chunks[dest.chunk]->runs[dest.run - 1].len += len;
    } else {
      InsertRun(dest.chunk, dest.run, run);
    }
    touched.push_back(dest.chunk);
    StoreText(a, op.id.seq, op.text);
    Visible(dest.chunk, static_cast<std::ptrdiff_t>(len));
    total += len;
    // Splits at the origins that the new run did not land in rejoin.
    if (!left.none()) {
      Loc l = *Find(left);
      MergeAround(l.chunk, l.run);
    }
    if (!right.none()) {
      Loc r = *Find(right);
      MergeAround(r.chunk, r.run);
    }
    SplitChunks(touched);
    return Outcome::kApplied;
  }

  // Marks `m` characters from loc (one run's range) deleted; returns the
  // index of the run that holds them afterwards.
  std::uint32_t MarkDeleted(Loc loc, std::uint32_t m) {
    std::uint32_t c = loc.chunk, r = loc.run;
    if (loc.offset > 0) {
      SplitRun(c, r, loc.offset);
      ++r;
    }
    if (m < chunks[c]->runs[r].len) SplitRun(c, r, m);
    chunks[c]->runs[r].deleted = true;
    Visible(c, -static_cast<std::ptrdiff_t>(m));
    return MergeAround(c, r);
  }

  Outcome ApplyDelete(const DeleteOp& op, std::optional<TextOp>& rest) {
    if (op.len == 0) return Outcome::kApplied;
    if (op.len > kMaxTextChars || op.first.seq > kMaxTextChars - op.len) return Outcome::kRefused;
    auto a = Known(op.first.agent);
    if (!a) {
      rest = op;
      return Outcome::kParked;
    }
    std::uint32_t seq = op.first.seq;
    std::uint32_t left = op.len;
    std::vector<std::uint32_t> touched;
    bool any = false;
    while (left > 0) {
      auto loc = Find(Ref{*a, seq});
      if (!loc) break;
      const Run& run = chunks[loc->chunk]->runs[loc->run];
      const std::uint32_t m = std::min(left, run.len - loc->offset);
      if (!run.deleted) {
        touched.push_back(loc->chunk);
        MarkDeleted(*loc, m);
      }
      any = true;
      seq += m;
      left -= m;
    }
    SplitChunks(touched);
    if (left > 0) {
      rest = DeleteOp{CharId{op.first.agent, seq}, left};
      return any ? Outcome::kApplied : Outcome::kParked;
    }
    return Outcome::kApplied;
  }

  // Applies what can be applied now; `rest` receives what must wait.
  Outcome TryApply(const TextOp& op, std::optional<TextOp>& rest) {
    rest.reset();
    if (const auto* ins = std::get_if<InsertOp>(&op)) {
      const Outcome o = ApplyInsert(*ins);
      if (o == Outcome::kParked) rest = op;
      return o;
    }
    return ApplyDelete(std::get<DeleteOp>(op), rest);
  }

  void RetryParked() {
    bool progress = true;
    while (progress && !parked.empty()) {
      progress = false;
      std::vector<TextOp> waiting = std::move(parked);
      parked.clear();
      for (const TextOp& op : waiting) {
        std::optional<TextOp> rest;
        if (TryApply(op, rest) == Outcome::kApplied) progress = true;
        if (rest) parked.push_back(std::move(*rest));
      }
    }
  }

  template <typename F>
  void ForEachRun(F&& f) const {
    for (const auto& c : chunks) {
      for (const Run& r : c->runs) f(r);
    }
  }
};

// ---- Text ----

Text::Text() : impl_(std::make_unique<Impl>()) {}
Text::~Text() = default;
Text::Text(const Text& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Text& Text::operator=(const Text& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
Text::Text(Text&& other) noexcept : impl_(std::move(other.impl_)) {
  other.impl_ = std::make_unique<Impl>();
}
Text& Text::operator=(Text&& other) noexcept {
  std::swap(impl_, other.impl_);
  return *this;
}

std::size_t Text::size() const { return impl_->visible; }
std::size_t Text::total_chars() const { return impl_->total; }
std::size_t Text::parked() const { return impl_->parked.size(); }
std::size_t Text::run_count() const {
  std::size_t n = 0;
  for (const auto& c : impl_->chunks) n += c->runs.size();
  return n;
}
std::uint32_t Text::NextSeq(Agent agent) const {
  auto a = impl_->Known(agent);
  return a ? impl_->next_seq[*a] : 0;
}

bool Text::Insert(Agent agent, std::size_t pos, std::u32string_view text, std::vector<TextOp>* out) {
  Impl& m = *impl_;
  if (text.empty()) return true;
  if (!m.Known(agent) && m.agents.size() >= kMaxTextAgents) return false;
  const std::uint32_t a = m.Intern(agent);
  const std::uint32_t seq = m.next_seq[a];
  if (text.size() > kMaxTextChars - seq) return false;
  const auto n = static_cast<std::uint32_t>(text.size());
  if (m.chunks.empty()) m.chunks.push_back(std::make_unique<Chunk>());

  Pos at;
  if (pos >= m.visible) {
    // At the end: after everything, trailing tombstones included.
    at = m.End();
    m.cur = at.chunk;
    m.cur_start = m.visible - m.chunks[at.chunk]->visible;
  } else {
    Loc l = m.AtVisible(pos);
    if (l.offset > 0) {
      m.SplitRun(l.chunk, l.run, l.offset);
      ++l.run;
    }
    at = Pos{l.chunk, l.run};
  }
  const Ref left = m.CharBefore(at);
  const Ref right = m.CharAt(at);
  Run run{a, seq, n, false, left, right};
  auto& runs = m.chunks[at.chunk]->runs;
  if (at.run > 0 && Continues(runs[at.run - 1], run)) {
    runs[at.run - 1].len += n;
  } else {
    m.InsertRun(at.chunk, at.run, run);
  }
  m.StoreText(a, seq, text);
  m.Visible(at.chunk, n);
  m.total += n;
  m.MaybeSplitChunk(at.chunk);
  if (out) AppendOp(*out, InsertOp{CharId{agent, seq}, m.Public(left), m.Public(right), std::u32string(text)});
  return true;
}

void Text::Delete(std::size_t pos, std::size_t len, std::vector<TextOp>* out) {
  Impl& m = *impl_;
  if (pos >= m.visible || len == 0) return;
  len = std::min(len, m.visible - pos);
  Loc l = m.AtVisible(pos);
  std::uint32_t c = l.chunk, r = l.run, k = l.offset;
  std::vector<std::uint32_t> touched{c};
  while (len > 0) {
    auto& runs = m.chunks[c]->runs;
    if (r >= runs.size()) {
      ++c;
      r = 0;
      continue;
    }
    const Run& x = runs[r];
    if (x.deleted) {
      ++r;
      continue;
    }
    const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(len, x.len - k));
    const CharId first{m.agents[x.agent], x.seq + k};
    r = m.MarkDeleted(Loc{c, r, k}, take);
    touched.push_back(c);
    k = 0;
    len -= take;
    ++r;
    if (out) AppendOp(*out, DeleteOp{first, take});
  }
  m.SplitChunks(touched);
}

bool Text::Apply(const TextOp& op) {
  Impl& m = *impl_;
  std::optional<TextOp> rest;
  const Outcome o = m.TryApply(op, rest);
  if (o == Outcome::kRefused) return false;
  // An op already waiting is not parked twice: applying it again must change
  // nothing (idempotence), and the parked list is part of the encoded state.
  if (rest && std::find(m.parked.begin(), m.parked.end(), *rest) == m.parked.end()) {
    if (m.parked.size() >= kMaxParked) return false;
    m.parked.push_back(std::move(*rest));
  }
  if (o == Outcome::kApplied && !m.parked.empty() && std::holds_alternative<InsertOp>(op)) m.RetryParked();
  return true;
}

std::vector<CharId> Text::VisibleIds() const {
  std::vector<CharId> out;
  out.reserve(impl_->visible);
  impl_->ForEachRun([&](const Run& r) {
    if (r.deleted) return;
    for (std::uint32_t i = 0; i < r.len; ++i) out.push_back(CharId{impl_->agents[r.agent], r.seq + i});
  });
  return out;
}

std::vector<std::pair<CharId, bool>> Text::Layout() const {
  std::vector<std::pair<CharId, bool>> out;
  out.reserve(impl_->total);
  impl_->ForEachRun([&](const Run& r) {
    for (std::uint32_t i = 0; i < r.len; ++i) out.emplace_back(CharId{impl_->agents[r.agent], r.seq + i}, r.deleted);
  });
  return out;
}

std::u32string Text::ToU32() const {
  std::u32string out;
  out.reserve(impl_->visible);
  impl_->ForEachRun([&](const Run& r) {
    if (r.deleted) return;
    impl_->content[r.agent].AppendTo(out, r.seq, r.len);
  });
  return out;
}

std::string Text::ToUtf8() const { return U32ToUtf8(ToU32()); }

// ---- diff-based edits ----

namespace {

// One step of an edit script over the opened text: a delete or an insert.
struct Edit {
  enum Kind { kDelete, kInsert } kind;
  std::size_t old_pos;  // index in the opened text where the step applies
  std::size_t new_pos;  // index in the edited text
  std::size_t len;
};

// Myers' O((N+M)D) greedy diff (Myers, "An O(ND) Difference Algorithm and
// Its Variations", Algorithmica 1986) on the middle left after trimming the
// common prefix and suffix. Past kMaxD differences it gives up on precision
// and replaces the middle whole.
constexpr std::ptrdiff_t kMaxD = 1000;

std::vector<Edit> Diff(std::u32string_view a, std::u32string_view b) {
  std::size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  const std::u32string_view x = a.substr(pre, a.size() - pre - suf);
  const std::u32string_view y = b.substr(pre, b.size() - pre - suf);
  const auto n = static_cast<std::ptrdiff_t>(x.size());
  const auto m = static_cast<std::ptrdiff_t>(y.size());
  std::vector<Edit> steps;  // in the middle's coordinates, then shifted by pre
  auto push = [&](Edit::Kind k, std::size_t op, std::size_t np, std::size_t len) {
    if (len == 0) return;
    if (!steps.empty() && steps.back().kind == k &&
        steps.back().old_pos + (k == Edit::kInsert ? 0 : steps.back().len) == op &&
        steps.back().new_pos + (k == Edit::kDelete ? 0 : steps.back().len) == np) {
      steps.back().len += len;
      return;
    }
    steps.push_back(Edit{k, op, np, len});
  };
  const std::ptrdiff_t max = n + m;
  std::vector<std::vector<std::ptrdiff_t>> trace;
  bool found = false;
  if (n > 0 && m > 0) {
    const std::ptrdiff_t limit = std::min(max, kMaxD);
    std::vector<std::ptrdiff_t> v(static_cast<std::size_t>(2 * limit + 3), 0);
    const std::ptrdiff_t off = limit + 1;
    for (std::ptrdiff_t d = 0; d <= limit && !found; ++d) {
      for (std::ptrdiff_t k = -d; k <= d; k += 2) {
        std::ptrdiff_t px;
        if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) {
          px = v[off + k + 1];
        } else {
          px = v[off + k - 1] + 1;
        }
        std::ptrdiff_t py = px - k;
        while (px < n && py < m && x[px] == y[py]) ++px, ++py;
        v[off + k] = px;
        if (px >= n && py >= m) {
          found = true;
          break;
        }
      }
      // Keep only diagonals -d..d of this round: D^2 entries in all.
      trace.emplace_back(v.begin() + (off - d), v.begin() + (off + d + 1));
    }
    if (found) {
      // Walk back from (n, m) through the saved frontiers.
      std::vector<Edit> rev;
      std::ptrdiff_t px = n, py = m;
      for (auto d = static_cast<std::ptrdiff_t>(trace.size()) - 1; d > 0; --d) {
        const auto& pv = trace[d - 1];  // diagonals -(d-1)..d-1
        auto at = [&](std::ptrdiff_t kk) { return pv[static_cast<std::size_t>(kk + d - 1)]; };
        const std::ptrdiff_t k = px - py;
        std::ptrdiff_t prev_k;
        if (k == -d || (k != d && at(k - 1) < at(k + 1))) {
          prev_k = k + 1;
        } else {
          prev_k = k - 1;
        }
        const std::ptrdiff_t prev_x = at(prev_k);
        const std::ptrdiff_t prev_y = prev_x - prev_k;
        while (px > prev_x && py > prev_y) --px, --py;  // the snake
        if (px == prev_x) {
          rev.push_back(Edit{Edit::kInsert, static_cast<std::size_t>(px), static_cast<std::size_t>(prev_y), 1});
        } else {
          rev.push_back(Edit{Edit::kDelete, static_cast<std::size_t>(prev_x), static_cast<std::size_t>(py), 1});
        }
        px = prev_x;
        py = prev_y;
      }
      std::reverse(rev.begin(), rev.end());
      for (const Edit& e : rev) push(e.kind, e.old_pos, e.new_pos, e.len);
    }
  }
  if (!found) {
    steps.clear();
    push(Edit::kDelete, 0, 0, static_cast<std::size_t>(n));
    push(Edit::kInsert, static_cast<std::size_t>(n), 0, static_cast<std::size_t>(m));
  }
  for (Edit& e : steps) {
    e.old_pos += pre;
    e.new_pos += pre;
  }
  return steps;
}

}  // namespace

Result<std::vector<TextOp>> Text::EditFrom(Agent agent, std::span<const CharId> opened,
                                           std::u32string_view opened_text, std::u32string_view edited) {
  Impl& m = *impl_;
  if (opened.size() != opened_text.size()) {
    return Error{Errc::kInternal, "The opened version and its ids differ in length."};
  }
  for (const CharId& id : opened) {
    auto a = m.Known(id.agent);
    if (!a || !m.Holds(Ref{*a, id.seq})) {
      return Error{Errc::kRefused, "The text changed in a way this edit cannot follow; open it again."};
    }
  }
  // Deletes name the opened characters by id. An insert goes right after the
  // opened character before it (or at the very start), between it and
  // whatever follows it now: origins must be neighbours when an op is made,
  // or replicas could order it differently.
  std::vector<TextOp> ops;
  const std::uint32_t a = m.Intern(agent);
  for (const Edit& e : Diff(opened_text, edited)) {
    if (e.kind == Edit::kDelete) {
      std::vector<TextOp> dels;
      for (std::size_t i = e.old_pos; i < e.old_pos + e.len; ++i) AppendOp(dels, DeleteOp{opened[i], 1});
      for (TextOp& d : dels) {
        if (!Apply(d)) return Error{Errc::kInternal, "An edit could not be applied to the text."};
        ops.push_back(std::move(d));
      }
    } else if (e.kind == Edit::kInsert) {
      const std::uint32_t seq = m.next_seq[a];
      if (e.len > kMaxTextChars - seq) return Error{Errc::kInvalidInput, "This text is too long to edit further."};
      InsertOp ins;
      ins.id = CharId{agent, seq};
      Ref next;
      if (e.old_pos > 0) {
        ins.left = opened[e.old_pos - 1];
        const Ref left{*m.Known(ins.left->agent), ins.left->seq};
        const Loc l = *m.Find(left);
        const Run& run = m.chunks[l.chunk]->runs[l.run];
        next = l.offset + 1 < run.len ? Ref{run.agent, left.seq + 1} : m.CharAt(Pos{l.chunk, l.run + 1});
      } else if (!m.chunks.empty()) {
        next = m.CharAt(Pos{0, 0});
      }
      ins.right = m.Public(next);
      ins.text = std::u32string(edited.substr(e.new_pos, e.len));
      if (!Apply(ins)) return Error{Errc::kInternal, "An edit could not be applied to the text."};
      ops.push_back(std::move(ins));
    }
  }
  return ops;
}

void AppendOp(std::vector<TextOp>& ops, TextOp op) {
  if (!ops.empty()) {
    if (auto* last = std::get_if<InsertOp>(&ops.back()); last != nullptr) {
      if (auto* ins = std::get_if<InsertOp>(&op); ins != nullptr) {
        const auto n = static_cast<std::uint32_t>(last->text.size());
        if (ins->id.agent == last->id.agent && ins->id.seq == last->id.seq + n &&
            ins->left == CharId{last->id.agent, last->id.seq + n - 1} && ins->right == last->right) {
          last->text += ins->text;
          return;
        }
      }
    } else if (auto* del = std::get_if<DeleteOp>(&ops.back()); del != nullptr) {
      if (auto* d = std::get_if<DeleteOp>(&op); d != nullptr) {
        if (d->first.agent == del->first.agent && d->first.seq == del->first.seq + del->len) {
          del->len += d->len;
          return;
        }
        if (d->first.agent == del->first.agent && d->first.seq + d->len == del->first.seq) {
          del->first.seq = d->first.seq;  // backspacing: each delete just before the last
          del->len += d->len;
          return;
        }
      }
    }
  }
  ops.push_back(std::move(op));
}

// ---- UTF-8 ----

std::u32string Utf8ToU32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    std::size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      n = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      n = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      n = 4;
    } else {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    bool ok = i + n <= s.size();
    for (std::size_t j = 1; ok && j < n; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string U32ToUtf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = U'\uFFFD';
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

// ---- encoding (docs/text-crdt.md) ----

namespace {

constexpr std::uint8_t kFormat = 1;
constexpr unsigned kFlagDeletedText = 1;  // the text of deleted runs is included
constexpr unsigned kFlagDeflated = 2;     // the text is zlib-compressed
constexpr std::size_t kDeflateFrom = 4096;

void PutU64(std::string& out, std::uint64_t v) {
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(v >> (8 * b)));
}
std::uint64_t GetU64(std::string_view eight) {
  return GetU64Le(reinterpret_cast<const std::uint8_t*>(eight.data()));
}

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
std::uint64_t Zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t Unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= s_.size()) return false;
      const auto b = static_cast<unsigned char>(s_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(std::size_t n, std::string_view& out) {
    if (s_.size() - pos_ < n) return false;
    out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t left() const { return s_.size() - pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// Left origin modes and right origin modes of an encoded run.
enum : unsigned { kLeftNone = 0, kLeftPrev = 1, kLeftExplicit = 2 };
enum : unsigned { kRightNone = 0, kRightNext = 1, kRightSame = 2, kRightExplicit = 3 };

}  // namespace

std::string Text::Encode(bool keep_deleted_text, bool deflate) const {
  const Impl& m = *impl_;
  keep_deleted_text = keep_deleted_text && !m.deleted_text_dropped;
  // Runs in order, merged where an in-memory split left two halves apart.
  std::vector<Run> runs;
  runs.reserve(run_count());
  m.ForEachRun([&](const Run& r) {
    if (!runs.empty() && Continues(runs.back(), r)) {
      runs.back().len += r.len;
    } else {
      runs.push_back(r);
    }
  });
  // The agents that typed something, sorted, so equal states give equal bytes.
  std::vector<bool> used(m.agents.size(), false);
  for (const Run& r : runs) used[r.agent] = true;
  std::vector<std::uint32_t> order;
  for (std::uint32_t i = 0; i < used.size(); ++i) {
    if (used[i]) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](auto x, auto y) { return m.agents[x] < m.agents[y]; });
  std::vector<std::uint32_t> rank(m.agents.size(), 0);
  for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  const bool many = order.size() > 1;

  std::string out;
  out.push_back(static_cast<char>(kFormat));
  PutVarint(out, order.size());
  for (std::uint32_t i : order) {
    PutU64(out, m.agents[i]);
  }
  PutVarint(out, runs.size());
  std::vector<std::uint32_t> last_end(m.agents.size(), 0);
  std::u32string text;
  text.reserve(keep_deleted_text ? m.total : m.visible);  // total counts dropped text too
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    unsigned lmode = kLeftExplicit, rmode = kRightExplicit;
    if (r.left.none()) {
      lmode = kLeftNone;
    } else if (i > 0 && r.left == runs[i - 1].Last()) {
      lmode = kLeftPrev;
    }
    if (r.right.none()) {
      rmode = kRightNone;
    } else if (i + 1 < runs.size() && r.right == runs[i + 1].First()) {
      rmode = kRightNext;
    } else if (i > 0 && r.right == runs[i - 1].right) {
      rmode = kRightSame;
    }
    PutVarint(out, (static_cast<std::uint64_t>(r.len) << 5) | (r.deleted ? 16u : 0u) | (lmode << 2) | rmode);
    if (many) PutVarint(out, rank[r.agent]);
    PutVarint(out, Zigzag(static_cast<std::int64_t>(r.seq) - last_end[r.agent]));
    last_end[r.agent] = r.seq + r.len;
    auto put_ref = [&](Ref ref) {
      if (many) PutVarint(out, rank[ref.agent]);
      PutVarint(out, Zigzag(static_cast<std::int64_t>(ref.seq) - r.seq));
    };
    if (lmode == kLeftExplicit) put_ref(r.left);
    if (rmode == kRightExplicit) put_ref(r.right);
    if (!r.deleted || keep_deleted_text) m.content[r.agent].AppendTo(text, r.seq, r.len);
  }
  const std::string utf8 = U32ToUtf8(text);
  unsigned flags = keep_deleted_text ? kFlagDeletedText : 0;
  std::string stored = utf8;
  // Deflate pays off on long texts only (and costs a quarter megabyte of
  // zlib state per call): journal-sized texts are stored as they are.
  if (deflate && utf8.size() >= kDeflateFrom) {
    uLongf cap = compressBound(static_cast<uLong>(utf8.size()));
    std::string z(cap, '\0');
    if (compress2(reinterpret_cast<Bytef*>(z.data()), &cap, reinterpret_cast<const Bytef*>(utf8.data()),
                  static_cast<uLong>(utf8.size()), 9) == Z_OK &&
        cap < utf8.size()) {
      z.resize(cap);
      stored = std::move(z);
      flags |= kFlagDeflated;
    }
  }
  PutVarint(out, flags);
  PutVarint(out, utf8.size());
  PutVarint(out, stored.size());
  out += stored;
  // Operations still waiting for what they depend on.
  auto put_id = [&](const CharId& id) {
    PutU64(out, id.agent);
    PutVarint(out, id.seq);
  };
  PutVarint(out, m.parked.size());
  for (const TextOp& op : m.parked) {
    if (const auto* ins = std::get_if<InsertOp>(&op)) {
      PutVarint(out, (ins->left ? 2u : 0u) | (ins->right ? 4u : 0u));
      put_id(ins->id);
      if (ins->left) put_id(*ins->left);
      if (ins->right) put_id(*ins->right);
      const std::string t = U32ToUtf8(ins->text);
      PutVarint(out, t.size());
      out += t;
    } else {
      const auto& del = std::get<DeleteOp>(op);
      PutVarint(out, 1);
      put_id(del.first);
      PutVarint(out, del.len);
    }
  }
  return out;
}

Result<Text> Text::Decode(std::string_view bytes) {
  const Error bad{Errc::kIntegrity, "A stored text is damaged."};
  Reader in(bytes);
  std::string_view head;
  if (!in.Bytes(1, head) || static_cast<std::uint8_t>(head[0]) != kFormat) return bad;
  std::uint64_t agent_count = 0;
  if (!in.Varint(agent_count) || agent_count > kMaxTextAgents || agent_count * 8 > in.left()) return bad;
  Text t;
  Impl& m = *t.impl_;
  for (std::uint64_t i = 0; i < agent_count; ++i) {
    std::string_view b;
    (void)in.Bytes(8, b);
    const Agent a = GetU64(b);
    if (i > 0 && a <= m.agents.back()) return bad;
    m.Intern(a);
  }
  const bool many = agent_count > 1;
  std::uint64_t run_count = 0;
  if (!in.Varint(run_count) || run_count > in.left()) return bad;
  if (run_count > 0 && agent_count == 0) return bad;
  std::vector<Run> runs;
  runs.reserve(run_count);
  std::vector<std::uint32_t> last_end(agent_count, 0);
  std::uint64_t text_chars = 0;
  bool keep_deleted = false;
  for (std::uint64_t i = 0; i < run_count; ++i) {
    std::uint64_t h = 0, agent = 0, zseq = 0;
    if (!in.Varint(h) || (many && !in.Varint(agent)) || !in.Varint(zseq)) return bad;
    Run r;
    const std::uint64_t len = h >> 5;
    const unsigned lmode = (h >> 2) & 3, rmode = h & 3;
    if (len == 0 || len > kMaxTextChars || agent >= agent_count || lmode == 3) return bad;
    const std::int64_t seq = static_cast<std::int64_t>(last_end[agent]) + Unzigzag(zseq);
    if (seq < 0 || seq + static_cast<std::int64_t>(len) > kMaxTextChars) return bad;
    r.agent = static_cast<std::uint32_t>(agent);
    r.seq = static_cast<std::uint32_t>(seq);
    r.len = static_cast<std::uint32_t>(len);
    r.deleted = (h & 16) != 0;
    last_end[agent] = r.seq + r.len;
    auto get_ref = [&](Ref& ref) {
      std::uint64_t ra = 0, zs = 0;
      if ((many && !in.Varint(ra)) || !in.Varint(zs) || ra >= agent_count) return false;
      const std::int64_t s = static_cast<std::int64_t>(r.seq) + Unzigzag(zs);
      if (s < 0 || s >= kMaxTextChars) return false;
      ref = Ref{static_cast<std::uint32_t>(ra), static_cast<std::uint32_t>(s)};
      return true;
    };
    if (lmode == kLeftPrev) {
      if (runs.empty()) return bad;
      r.left = runs.back().Last();
    } else if (lmode == kLeftExplicit && !get_ref(r.left)) {
      return bad;
    }
    if (rmode == kRightSame) {
      if (runs.empty() || runs.back().right.agent == kNoAgent - 1) return bad;
      r.right = runs.back().right;
    } else if (rmode == kRightExplicit && !get_ref(r.right)) {
      return bad;
    }
    if (rmode == kRightNext) r.right = Ref{kNoAgent - 1, 0};  // resolved below
    runs.push_back(r);
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].right.agent == kNoAgent - 1) {
      if (i + 1 >= runs.size()) return bad;
      runs[i].right = runs[i + 1].First();
    }
  }
  std::uint64_t flags = 0, raw_len = 0, stored_len = 0;
  if (!in.Varint(flags) || flags > 3 || !in.Varint(raw_len) || !in.Varint(stored_len)) return bad;
  keep_deleted = (flags & kFlagDeletedText) != 0;
  for (const Run& r : runs) {
    if (!r.deleted || keep_deleted) text_chars += r.len;
  }
  if (raw_len > text_chars * 4 || raw_len < text_chars || stored_len > in.left()) return bad;
  // Deflate expands a byte into at most 1032: a longer text claimed for the
  // stored bytes is damage, refused before its length is allocated.
  constexpr std::uint64_t kMaxInflateRatio = 1032;
  if ((flags & kFlagDeflated) != 0 && raw_len / kMaxInflateRatio > stored_len) return bad;
  std::string_view stored;
  (void)in.Bytes(stored_len, stored);
  std::string utf8;
  if (flags & kFlagDeflated) {
    utf8.resize(raw_len);
    uLongf got = static_cast<uLongf>(raw_len);
    if (uncompress(reinterpret_cast<Bytef*>(utf8.data()), &got, reinterpret_cast<const Bytef*>(stored.data()),
                   static_cast<uLong>(stored.size())) != Z_OK ||
        got != raw_len) {
      return bad;
    }
  } else {
    if (stored_len != raw_len) return bad;
    utf8.assign(stored);
  }
  const std::u32string text = Utf8ToU32(utf8);
  if (text.size() != text_chars) return bad;

  std::uint64_t parked_count = 0;
  if (!in.Varint(parked_count) || parked_count > in.left() || parked_count > kMaxParked) return bad;
  auto get_id = [&](CharId& id) {
    std::string_view b;
    std::uint64_t seq = 0;
    if (!in.Bytes(8, b)) return false;
    id.agent = GetU64(b);
    if (!in.Varint(seq) || seq >= kMaxTextChars) return false;
    id.seq = static_cast<std::uint32_t>(seq);
    return true;
  };
  for (std::uint64_t i = 0; i < parked_count; ++i) {
    std::uint64_t kind = 0;
    if (!in.Varint(kind) || kind > 7) return bad;
    if (kind == 1) {
      DeleteOp d;
      std::uint64_t len = 0;
      if (!get_id(d.first) || !in.Varint(len) || len == 0 || len > kMaxTextChars) return bad;
      d.len = static_cast<std::uint32_t>(len);
      m.parked.push_back(d);
      continue;
    }
    if ((kind & 1) != 0) return bad;
    InsertOp op;
    CharId c;
    if (!get_id(op.id)) return bad;
    if (kind & 2) {
      if (!get_id(c)) return bad;
      op.left = c;
    }
    if (kind & 4) {
      if (!get_id(c)) return bad;
      op.right = c;
    }
    std::uint64_t tl = 0;
    std::string_view tb;
    if (!in.Varint(tl) || !in.Bytes(tl, tb) || tl == 0) return bad;
    op.text = Utf8ToU32(tb);
    m.parked.push_back(std::move(op));
  }
  if (in.left() != 0) return bad;

  // No id twice, and every origin held. Each writer's runs sorted by seq,
  // with where each run's characters are in `text` (kNoText: a tombstone
  // whose text was dropped), serve both the checks and the text store.
  constexpr std::size_t kNoText = ~std::size_t{0};
  struct Held {
    std::uint32_t seq, len;
    std::size_t at;
  };
  std::vector<std::vector<Held>> spans(agent_count);
  {
    std::size_t ti = 0;
    for (const Run& r : runs) {
      std::size_t at = kNoText;
      if (!r.deleted || keep_deleted) {
        at = ti;
        ti += r.len;
      }
      spans[r.agent].push_back(Held{r.seq, r.len, at});
    }
  }
  for (auto& s : spans) {
    std::sort(s.begin(), s.end(), [](const Held& x, const Held& y) { return x.seq < y.seq; });
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i - 1].seq + s[i - 1].len > s[i].seq) return bad;
    }
  }
  auto held = [&](Ref ref) {
    if (ref.none()) return true;
    const auto& s = spans[ref.agent];
    auto it = std::upper_bound(s.begin(), s.end(), ref.seq, [](std::uint32_t seq, const Held& h) { return seq < h.seq; });
    if (it == s.begin()) return false;
    --it;
    return ref.seq < it->seq + it->len;
  };
  // An origin is a character that existed before the run was typed, so it
  // is never one of the run's own: such an encoding is damage (and would not
  // survive Encode, whose kRightSame cannot point at a kRightNext).
  auto own = [](const Run& r, Ref ref) {
    return ref.agent == r.agent && ref.seq >= r.seq && ref.seq - r.seq < r.len;
  };
  for (const Run& r : runs) {
    if (!held(r.left) || !held(r.right) || own(r, r.left) || own(r, r.right)) return bad;
  }

  constexpr std::size_t kFill = kChunkMax / 2;
  for (const Run& r : runs) {
    if (m.chunks.empty() || m.chunks.back()->runs.size() >= kFill) {
      m.chunks.push_back(std::make_unique<Chunk>());
      m.chunks.back()->order = static_cast<std::uint32_t>(m.chunks.size() - 1);
    }
    Chunk& c = *m.chunks.back();
    c.runs.push_back(r);
    if (!r.deleted) c.visible += r.len;
    m.next_seq[r.agent] = std::max(m.next_seq[r.agent], r.seq + r.len);
    if (!r.deleted) m.visible += r.len;
    m.total += r.len;
  }
  const std::u32string_view all(text);
  std::vector<std::pair<std::uint32_t, std::u32string_view>> pieces;
  for (std::size_t a = 0; a < spans.size(); ++a) {
    pieces.clear();
    for (const Held& h : spans[a]) {
      if (h.at != kNoText) pieces.emplace_back(h.seq, all.substr(h.at, h.len));
    }
    m.content[a].Load(pieces);
  }
  m.deleted_text_dropped = !keep_deleted && std::any_of(runs.begin(), runs.end(), [](const Run& r) { return r.deleted; });
  return t;
}

bool operator==(const Text& a, const Text& b) {
  if (a.size() != b.size() || a.total_chars() != b.total_chars() || a.parked() != b.parked()) return false;
  return a.Encode(false, false) == b.Encode(false, false);
}

}  // namespace hearth::crdt
