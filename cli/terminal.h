// The CLI's dealings with the person at the terminal: passphrases, $EDITOR,
// and text piped on stdin. Nothing here knows about journals.
#pragma once

#include <optional>
#include <string>

#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::cli {

bool StdinIsTerminal();

// Reads all of stdin, refusing more than `max_bytes`.
Result<std::string> ReadStdin(std::size_t max_bytes);

// Reads a whole (bounded) file.
Result<std::string> ReadTextFile(const std::string& path, std::size_t max_bytes);

// Writes `bytes` to `path` whole or not at all: a temporary file beside it
// (mode 0600: an export holds the couple's words in the clear), flushed to
// disk, then renamed over `path`. kStorage with the reason (a full disk, no
// permission) and no file left behind on failure.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// Removes trailing spaces, tabs and newlines.
std::string TrimEnd(std::string s);

// The passphrase for an existing space: --passphrase-file, else
// $HEARTH_PASSPHRASE, else asked on the terminal. kAuth if none can be had.
Result<crypto::SecretBytes> GetPassphrase(const std::optional<std::string>& file);

// A new passphrase for `init`/`join`: the same sources; on a terminal it is
// asked twice. kInvalidInput if empty or if the two differ.
Result<crypto::SecretBytes> GetNewPassphrase(const std::optional<std::string>& file);

// Opens $VISUAL/$EDITOR (default vi) on `initial` and returns what was saved.
// The file is 0600 in a fresh 0700 directory under $XDG_RUNTIME_DIR or
// /dev/shm (RAM-backed), overwritten and removed afterwards. If neither is
// usable it falls back to $TMPDIR and says so on stderr.
Result<std::string> EditInEditor(const std::string& initial, std::size_t max_bytes);

}  // namespace hearth::cli
