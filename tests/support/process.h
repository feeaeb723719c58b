// Test support: run a real process with arguments, environment additions and
// standard input; capture its output and exit status. Used by the CLI,
// crash and benchmark programs (real processes, no mocks).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace hearth::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` to completion. `env` entries are added to (or replace) the
// current environment; a value of "\x01unset" removes the variable.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& stdin_text = "", bool stdin_is_null = false);

// A process started in the background with stdout piped back.
struct Child {
  int pid = -1;
  int stdout_fd = -1;
};
Child SpawnChild(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env = {});
// Reads what is available from the child's stdout without blocking.
std::string DrainNonBlocking(int fd);
// Waits for the child; returns its exit code (128 + signal if killed).
int WaitChild(int pid);

}  // namespace hearth::testing
