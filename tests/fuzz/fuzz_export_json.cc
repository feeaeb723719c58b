// Fuzz target: the export's JSON reader, hearth::exporter::ParseJson
// (cli/export/document.h), which reads files a person hands to Hearth.
//
// Input: the JSON text.
//
// Properties: ParseJson never throws and fails with kInvalidInput; a
// document it accepts renders back to JSON that parses to an equal document
// and renders identically (docs/export.md promises the round trip).
#include "cli/export/document.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearth;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = exporter::ParseJson(text);
  if (!doc.ok()) {
    HEARTH_FUZZ_CHECK(doc.error().code == Errc::kInvalidInput, "a bad export was not kInvalidInput");
    HEARTH_FUZZ_CHECK(!doc.error().message.empty(), "a bad export was refused without a reason");
    return 0;
  }
  const std::string rendered = exporter::RenderJson(*doc);
  auto back = exporter::ParseJson(rendered);
  HEARTH_FUZZ_CHECK(back.ok(), "a rendered export does not parse");
  HEARTH_FUZZ_CHECK(*back == *doc, "an export changed through its JSON form");
  HEARTH_FUZZ_CHECK(exporter::RenderJson(*back) == rendered, "an export renders differently the second time");
  return 0;
}
