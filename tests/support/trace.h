// Test support: sequential editing traces in the format of
// josephg/editing-traces (../shared/data/editing-traces/README.md): a gzip
// (or plain) JSON document with the transactions' patches and the text they
// end with. Read by the text CRDT benchmark (tests/bench/text_trace_bench.cc)
// and fuzzed by tests/fuzz/fuzz_trace.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::trace {

// One patch: at code point `pos`, delete `del` code points, then insert
// Trace::inserted[ins_off, ins_off + ins_len).
struct Patch {
  std::uint32_t pos;
  std::uint32_t del;
  std::uint32_t ins_off;  // into Trace::inserted
  std::uint32_t ins_len;
};

struct Trace {
  std::vector<Patch> patches;
  std::u32string inserted;
  std::u32string end;
};

// Parses a trace file's bytes: gzip (one or more members) or, like zlib's
// gzread, plain bytes when they do not start with the gzip magic. False with
// `error` set when they are not a sequential trace.
bool ParseTrace(std::string_view file_bytes, Trace& t, std::string& error);
// The same from the JSON text itself.
bool ParseTraceJson(std::string_view json, Trace& t, std::string& error);
// Reads and parses the file at `path`.
bool LoadTrace(const std::string& path, Trace& t, std::string& error);

}  // namespace hearth::trace
