// Crash-test helper: writes entries to a home as fast as it can and prints
// "<id> <n>" after each write has returned success, until it is killed.
#include <cstdio>
#include <string>

#include "core/base/bytes.h"
#include "core/node/node.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer HOME PREFIX\n");
    return 2;
  }
  hearth::SystemClock clock;
  auto node = hearth::node::Node::Open(argv[1], std::nullopt, clock);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.error().message.c_str());
    return 1;
  }
  for (long n = 0;; ++n) {
    hearth::node::EntryDraft d;
    d.text = std::string(argv[2]) + "-" + std::to_string(n);
    d.tags = {"crash"};
    if (n % 3 == 0) d.is_private = true;
    auto id = (*node)->Write(d);
    if (!id.ok()) {
      std::fprintf(stderr, "%s\n", id.error().message.c_str());
      return 1;
    }
    std::printf("%s %ld\n", hearth::IdToHex(*id).c_str(), n);
    std::fflush(stdout);
  }
}
