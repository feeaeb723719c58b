// The relay's static X25519 key, kept in DIR/relay.key (32 bytes, mode 0600).
#pragma once

#include <filesystem>

#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::relay {

// Loads the key, or creates it (atomically) when the file does not exist.
// A file of the wrong size is an error, never overwritten.
Result<crypto::DhKey> LoadOrCreateKey(const std::filesystem::path& dir);

}  // namespace hearth::relay
