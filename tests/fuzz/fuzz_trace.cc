// Fuzz target: the editing-trace reader of the text CRDT benchmark
// (tests/support/trace.h), which reads a trace file's bytes: gzip, or plain
// JSON.
//
// Input: a mode byte, then
//   0  the file's bytes, as they are;
//   1  JSON, which the harness gzips first (so mutations of the JSON reach
//      the reader through a valid gzip stream).
//
// Properties: the reader returns true or false with a reason, and never
// throws; a trace it accepts is consistent (its patches cover the inserted
// text in order) and replays on a Text without trouble.
#include <zlib.h>

#include <cstdlib>

#include "core/crdt/text.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/trace.h"

namespace hearth::fuzz {
namespace {

constexpr std::size_t kMaxReplayed = 2000;

std::string Gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  HEARTH_FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "the harness could not gzip an input");
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

void Check(std::string_view file_bytes) {
  trace::Trace t;
  std::string error;
  if (!trace::ParseTrace(file_bytes, t, error)) {
    HEARTH_FUZZ_CHECK(!error.empty(), "a refused trace has no reason");
    return;
  }
  std::size_t at = 0;
  for (const trace::Patch& p : t.patches) {
    HEARTH_FUZZ_CHECK(p.ins_off == at, "a patch's inserted text is out of order");
    at += p.ins_len;
  }
  HEARTH_FUZZ_CHECK(at == t.inserted.size(), "the patches do not cover the inserted text");
  crdt::Text doc;
  const std::u32string_view inserted(t.inserted);
  for (std::size_t i = 0; i < t.patches.size() && i < kMaxReplayed; ++i) {
    const trace::Patch& p = t.patches[i];
    if (p.del > 0) doc.Delete(p.pos, p.del);
    if (p.ins_len > 0) (void)doc.Insert(1, p.pos, inserted.substr(p.ins_off, p.ins_len));
  }
  (void)doc.ToUtf8();
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearth::fuzz;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    Check(input);
  } else {
    Check(Gzip(input));
  }
  return 0;
}
