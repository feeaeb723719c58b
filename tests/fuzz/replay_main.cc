// fuzz_replay_<name> PATH...: runs every file of each PATH (a file, or a
// directory whose files are taken in name order, hidden files skipped)
// through the target's LLVMFuzzerTestOneInput, once, without libFuzzer.
// Linked with each target in every build, so that the seed corpus and every
// kept crasher are replayed by ctest (tests/fuzz/CMakeLists.txt).
//
// A target reports a broken property by aborting, so a failing input ends
// the run; the input's name is printed before it runs. Exit status 0 when
// every input ran (an empty directory is fine), 2 for a path that does not
// exist or cannot be read.
//
// Memory is part of what is checked: an input after which the process's peak
// resident size passes the budget (HEARTH_REPLAY_RSS_MB, 256 by default)
// fails the run, exit status 3, naming the input. A parser that turns a few
// kilobytes into gigabytes is a bug even when it does not crash here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional in a target: a weak reference is null when it has none.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

namespace fs = std::filesystem;

bool Hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

long PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;  // ru_maxrss is in KiB on Linux
}

long RssBudgetMb() {
  const char* env = std::getenv("HEARTH_REPLAY_RSS_MB");
  if (env == nullptr || *env == '\0') return 256;
  char* end = nullptr;
  const long mb = std::strtol(env, &end, 10);
  return (*end == '\0' && mb > 0) ? mb : 256;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  const long budget_mb = RssBudgetMb();
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path = argv[i];
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file() && !Hidden(entry.path())) files.push_back(entry.path());
      }
      if (ec) {
        std::fprintf(stderr, "fuzz_replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
        return 2;
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz_replay: %s is neither a file nor a directory\n", argv[i]);
      return 2;
    }
  }
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "fuzz_replay: cannot read %s\n", path.c_str());
      return 2;
    }
    std::fprintf(stderr, "fuzz_replay: %s\n", path.c_str());
    // An exact-size copy on the heap, so that a read past the end is caught
    // by AddressSanitizer where it runs.
    std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)]);
    std::copy(bytes.begin(), bytes.end(), copy.get());
    LLVMFuzzerTestOneInput(copy.get(), bytes.size());
    if (const long peak = PeakRssMb(); peak > budget_mb) {
      std::fprintf(stderr, "fuzz_replay: %s raised peak memory to %ld MB, over the %ld MB budget\n",
                   path.c_str(), peak, budget_mb);
      return 3;
    }
  }
  std::printf("fuzz_replay: %zu inputs ran\n", inputs.size());
  return 0;
}
