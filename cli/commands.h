// The `hearth` command line (contract: docs/user-guide.md, after shared/CLI.md).
#pragma once

namespace hearth::cli {

// Parses arguments, runs one command, and returns the process exit status:
// 0 success, 1 bad input or refused, 2 usage, 3 network, 4 auth/integrity.
int Run(int argc, char** argv);

}  // namespace hearth::cli
