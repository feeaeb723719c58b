// hearth::keys — the device's secrets and the key file that keeps them.
//
// A device holds: its Ed25519 signing key (its identity and feed key), its
// X25519 key (for Noise sessions), the space key (shared content), its
// member's private key (private entries), and a local key (this device's
// encrypted state). All live in SecretBytes (locked, wiped memory).
//
// The key file (layout in docs/storage-schema.md) is either wrapped with a key
// derived from the passphrase by Argon2id, or, when the user chose no
// passphrase, stored as is with 0600 permissions. Writes are atomic: a
// temporary file, fsync, rename, fsync of the directory.
#pragma once

#include <array>
#include <filesystem>
#include <optional>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::keys {

using SpaceId = std::array<std::uint8_t, 16>;

struct DeviceKeys {
  crypto::SigningKey sign;
  crypto::DhKey dh;
  crypto::SymmetricKey space_key;
  crypto::SymmetricKey member_key;
  crypto::SymmetricKey local_key;
  std::uint64_t member_id = 0;
  SpaceId space_id{};
};

// Fresh keys for the first device of a new space (new space, new member).
DeviceKeys GenerateForNewSpace();

// Writes the key file. With a passphrase, wraps it under Argon2id(`params`).
Status Save(const std::filesystem::path& file, const DeviceKeys& keys,
            const std::optional<crypto::SecretBytes>& passphrase,
            crypto::PwhashParams params = crypto::InteractivePwhash());

// True if the key file is wrapped with a passphrase. kNotFound if absent.
Result<bool> NeedsPassphrase(const std::filesystem::path& file);

// Reads the key file. kAuth for a wrong passphrase, kIntegrity for a damaged file.
Result<DeviceKeys> Load(const std::filesystem::path& file,
                        const std::optional<crypto::SecretBytes>& passphrase);

}  // namespace hearth::keys
