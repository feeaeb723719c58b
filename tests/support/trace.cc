#include "tests/support/trace.h"

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/crdt/text.h"

namespace hearth::trace {

namespace {

// Far more than any trace of josephg/editing-traces (the largest is tens of
// MiB): a file that inflates past it is refused rather than filling memory.
constexpr std::size_t kMaxInflated = std::size_t{1} << 30;

// Inflates every gzip member of `gz` into `out`; bytes after the last member
// that do not start another one are ignored, as gzread does.
bool Gunzip(std::string_view gz, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  char buf[1 << 16];
  bool ok = true;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxInflated) {
      ok = false;
      break;
    }
    if (rc == Z_STREAM_END) {
      if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b && inflateReset(&z) == Z_OK) continue;
      break;
    }
    if (rc != Z_OK) {
      ok = false;  // damaged, or the input ended inside a member
      break;
    }
  }
  inflateEnd(&z);
  return ok;
}

}  // namespace

bool ParseTrace(std::string_view file_bytes, Trace& t, std::string& error) {
  if (file_bytes.size() >= 2 && static_cast<unsigned char>(file_bytes[0]) == 0x1f &&
      static_cast<unsigned char>(file_bytes[1]) == 0x8b) {
    std::string raw;
    if (!Gunzip(file_bytes, raw)) {
      error = "the file is damaged gzip (or inflates past 1 GiB)";
      return false;
    }
    return ParseTraceJson(raw, t, error);
  }
  return ParseTraceJson(file_bytes, t, error);
}

bool ParseTraceJson(std::string_view json, Trace& t, std::string& error) {
  // Untrusted text: every type is checked before it is read, so that a file
  // of another shape is refused with a reason rather than throwing (or
  // reading past an array, which nlohmann's const operator[] does not check).
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  auto refuse = [&](const char* why) {
    error = why;
    return false;
  };
  if (j.is_discarded() || !j.is_object()) return refuse("not an editing trace (not a JSON object)");
  const auto txns = j.find("txns");
  const auto end = j.find("endContent");
  if (txns == j.end() || end == j.end()) return refuse("not an editing trace (no txns / endContent)");
  if (!txns->is_array() || !end->is_string()) {
    return refuse("not an editing trace (txns is not an array or endContent not a string)");
  }
  if (const auto start = j.find("startContent"); start != j.end()) {
    if (!start->is_string()) return refuse("not an editing trace (startContent is not a string)");
    if (!start->get_ref<const std::string&>().empty()) {
      return refuse("traces with a startContent are not supported");
    }
  }
  for (const auto& txn : *txns) {
    if (!txn.is_object()) return refuse("not an editing trace (a transaction is not an object)");
    if (txn.contains("parents") || txn.contains("agent")) {
      return refuse("concurrent traces are not supported by this benchmark (sequential traces only)");
    }
    const auto patches = txn.find("patches");
    if (patches == txn.end() || !patches->is_array()) {
      return refuse("not an editing trace (a transaction has no patches array)");
    }
    for (const auto& p : *patches) {
      if (!p.is_array() || p.size() < 3 || !p[0].is_number_unsigned() || !p[1].is_number_unsigned() ||
          !p[2].is_string()) {
        return refuse("not an editing trace (a patch is not [position, deleted count, inserted text])");
      }
      const auto pos = p[0].get<std::uint64_t>();
      const auto del = p[1].get<std::uint64_t>();
      const std::u32string ins = hearth::crdt::Utf8ToU32(p[2].get_ref<const std::string&>());
      if (pos > UINT32_MAX || del > UINT32_MAX || t.inserted.size() + ins.size() > UINT32_MAX) {
        return refuse("not an editing trace (a patch's numbers are out of range)");
      }
      t.patches.push_back(Patch{static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(del),
                                static_cast<std::uint32_t>(t.inserted.size()),
                                static_cast<std::uint32_t>(ins.size())});
      t.inserted += ins;
    }
  }
  t.end = hearth::crdt::Utf8ToU32(end->get_ref<const std::string&>());
  return true;
}

bool LoadTrace(const std::string& path, Trace& t, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "cannot read " + path;
    return false;
  }
  if (!ParseTrace(bytes, t, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

}  // namespace hearth::trace
