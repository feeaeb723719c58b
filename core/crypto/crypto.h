// hearth::crypto — thin, hard-to-misuse wrappers over libsodium.
//
// This is the only module that includes <sodium.h>. Secrets live in
// SecretBytes: memory from sodium_malloc (guarded, locked against swapping),
// wiped and freed by the destructor. Keys, digests and signatures are distinct
// types; every open or verify returns a result that must be checked.
//
// Algorithms (see docs/record-format.md):
//   hash:        BLAKE2b-256 (crypto_generichash)
//   AEAD:        XChaCha20-Poly1305 IETF, 24-byte random nonces
//   signatures:  Ed25519
//   key agreement keys: X25519 (used by the sync layer)
//   subkeys:     crypto_kdf (BLAKE2b) with 8-byte contexts
//   passphrase:  Argon2id v1.3 (crypto_pwhash, ALG_ARGON2ID13)
//
// Threading: all functions are thread-safe once Init() has returned.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/result.h"

namespace hearth::crypto {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 24;      // XChaCha20-Poly1305
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kDigestSize = 32;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kSaltSize = 16;       // crypto_pwhash_SALTBYTES
inline constexpr std::size_t kSigningSecretSize = 64;

// Initializes libsodium; call once before anything else. Fails only if the
// library cannot initialize (no entropy source).
Status Init();

// A buffer for secrets: locked memory, wiped on destruction. Move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);
  explicit SecretBytes(ByteView copy_from);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteView view() const { return {data_, size_}; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

using Digest = std::array<std::uint8_t, kDigestSize>;
using Signature = std::array<std::uint8_t, kSignatureSize>;
using Nonce = std::array<std::uint8_t, kNonceSize>;
using PublicKey = std::array<std::uint8_t, kKeySize>;

// A 32-byte symmetric key.
class SymmetricKey {
 public:
  static SymmetricKey Generate();
  // Returns nullopt unless `bytes` is exactly kKeySize long.
  static std::optional<SymmetricKey> FromBytes(ByteView bytes);
  ByteView view() const { return bytes_.view(); }

  // A subkey for one purpose: `context` is exactly 8 characters.
  SymmetricKey Derive(std::uint64_t subkey_id, std::string_view context) const;

 private:
  explicit SymmetricKey(SecretBytes b) : bytes_(std::move(b)) {}
  SecretBytes bytes_;
};

// An Ed25519 key pair. The public key is the device id.
class SigningKey {
 public:
  static SigningKey Generate();
  static std::optional<SigningKey> FromSecret(ByteView secret64);
  // The key pair whose Ed25519 seed is `seed` (deterministic).
  static SigningKey FromSeed(const SymmetricKey& seed);
  const PublicKey& public_key() const { return public_; }
  ByteView secret() const { return secret_.view(); }
  Signature Sign(ByteView message) const;

 private:
  SigningKey(SecretBytes s, PublicKey p) : secret_(std::move(s)), public_(p) {}
  SecretBytes secret_;
  PublicKey public_;
};

[[nodiscard]] bool VerifySignature(const PublicKey& signer, ByteView message,
                                   const Signature& signature);

// An X25519 key pair (the device's static key for Noise sessions).
class DhKey {
 public:
  static DhKey Generate();
  static std::optional<DhKey> FromSecret(ByteView secret32);
  const PublicKey& public_key() const { return public_; }
  ByteView secret() const { return secret_.view(); }

 private:
  DhKey(SecretBytes s, PublicKey p) : secret_(std::move(s)), public_(p) {}
  SecretBytes secret_;
  PublicKey public_;
};

void RandomBytes(std::span<std::uint8_t> out);
std::uint64_t RandomU64();
Nonce RandomNonce();

// BLAKE2b-256 over the concatenation of the parts.
Digest Hash(std::initializer_list<ByteView> parts);

// XChaCha20-Poly1305: returns ciphertext || tag.
Bytes Seal(const SymmetricKey& key, const Nonce& nonce, ByteView plaintext, ByteView ad);
// Returns the plaintext, or nullopt when the tag does not verify.
[[nodiscard]] std::optional<Bytes> Open(const SymmetricKey& key, const Nonce& nonce,
                                        ByteView ciphertext, ByteView ad);
// Opens into locked memory, for plaintexts that hold keys.
[[nodiscard]] std::optional<SecretBytes> OpenSecret(const SymmetricKey& key, const Nonce& nonce,
                                                    ByteView ciphertext, ByteView ad);

struct PwhashParams {
  std::uint64_t ops_limit;
  std::uint64_t mem_limit;
};
// libsodium's INTERACTIVE limits for Argon2id (the floor Hearth accepts).
PwhashParams InteractivePwhash();
// Derives a key from a passphrase with Argon2id v1.3. Fails (kStorage) only when
// the memory cannot be allocated; limits below INTERACTIVE are refused (kIntegrity).
Result<SymmetricKey> KeyFromPassphrase(ByteView passphrase, ByteView salt, PwhashParams params);

// Constant-time comparison of equal-length buffers.
[[nodiscard]] bool SecureEqual(ByteView a, ByteView b);

}  // namespace hearth::crypto

// --- Primitives for the Noise protocol (net/noise) --------------------------
//
// Noise_*_25519_ChaChaPoly_BLAKE2b needs raw X25519, ChaCha20-Poly1305 with the
// IETF 96-bit nonce, and BLAKE2b-512; they live here so that only this module
// includes <sodium.h>. Other code should keep using Seal/Open and Hash above.
namespace hearth::crypto {

inline constexpr std::size_t kDhSize = 32;          // X25519 shared secret
inline constexpr std::size_t kIetfNonceSize = 12;   // ChaCha20-Poly1305 IETF
inline constexpr std::size_t kBlake2b512Size = 64;  // BLAKE2b output used by Noise
inline constexpr std::size_t kBlake2bBlockSize = 128;

using IetfNonce = std::array<std::uint8_t, kIetfNonceSize>;

// X25519(ours.secret, theirs). Returns nullopt when the result is all zeros,
// which happens exactly when `theirs` is a low-order point: a peer sending
// such a key is trying to force a known shared secret.
[[nodiscard]] std::optional<SecretBytes> X25519(const DhKey& ours, const PublicKey& theirs);

// ChaCha20-Poly1305 (IETF): returns ciphertext || tag. A nonce must never be
// used twice with the same key; the caller (a Noise CipherState) counts them.
Bytes SealIetf(const SymmetricKey& key, const IetfNonce& nonce, ByteView plaintext, ByteView ad);
// Returns the plaintext, or nullopt when the tag does not verify.
[[nodiscard]] std::optional<Bytes> OpenIetf(const SymmetricKey& key, const IetfNonce& nonce,
                                            ByteView ciphertext, ByteView ad);

// Unkeyed BLAKE2b with a 64-byte output over the concatenation of `parts`,
// written to `out` (which may be locked memory). The hash state is wiped.
void Blake2b512(std::span<const ByteView> parts, std::span<std::uint8_t, kBlake2b512Size> out);

}  // namespace hearth::crypto
