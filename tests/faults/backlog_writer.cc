// Fault-test helper: gives a home a large backlog quickly. Each entry goes
// through Node::Write, as `hearth write` does, but in one process, so a
// few thousand signed records take seconds rather than minutes of process
// start-ups. The texts are "PREFIX-N " padded with filler words to about
// BYTES bytes, so a test can later tell exactly which entries arrived.
//
//   fault_backlog_writer HOME COUNT BYTES PREFIX
//
// Prints "wrote COUNT" on success; exit 1 with the reason otherwise.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/base/clock.h"
#include "core/node/node.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: fault_backlog_writer HOME COUNT BYTES PREFIX\n");
    return 2;
  }
  const long count = std::strtol(argv[2], nullptr, 10);
  const long bytes = std::strtol(argv[3], nullptr, 10);
  if (count <= 0 || bytes <= 0 || bytes > 200'000) {
    std::fprintf(stderr, "COUNT must be positive and BYTES within 1..200000\n");
    return 2;
  }
  hearth::SystemClock clock;
  auto node = hearth::node::Node::Open(argv[1], std::nullopt, clock);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.error().message.c_str());
    return 1;
  }
  static const char* const kWords[] = {"evening", "walk", "kettle", "garden", "letter", "harbour", "quiet", "laugh"};
  for (long n = 0; n < count; ++n) {
    hearth::node::EntryDraft d;
    d.text = std::string(argv[4]) + "-" + std::to_string(n);
    for (std::size_t w = static_cast<std::size_t>(n); d.text.size() < static_cast<std::size_t>(bytes); ++w) {
      d.text += " ";
      d.text += kWords[w % 8];
    }
    auto id = (*node)->Write(d);
    if (!id.ok()) {
      std::fprintf(stderr, "entry %ld: %s\n", n, id.error().message.c_str());
      return 1;
    }
  }
  std::printf("wrote %ld\n", count);
  return 0;
}
