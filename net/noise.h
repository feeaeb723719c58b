// hearth::net::noise — the Noise handshake and transport ciphers, sans-IO.
//
// Implements five protocols of the Noise Protocol Framework, revision 34
// (https://noiseprotocol.org/noise.html):
//
//   Noise_XX_25519_ChaChaPoly_BLAKE2b       mutual authentication by static keys
//   Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b   the same, also bound to a pre-shared key
//   Noise_NK_25519_ChaChaPoly_BLAKE2b       only the responder authenticated, by a
//                                           key the initiator knows in advance
//   Noise_IK_25519_ChaChaPoly_BLAKE2b       mutual; the initiator knows the
//                                           responder's key and sends its own
//   Noise_KK_25519_ChaChaPoly_BLAKE2b       mutual; both keys known in advance
//
//   XX:    -> e                  XXpsk3:  -> e
//          <- e, ee, s, es                <- e, ee, s, es
//          -> s, se                       -> s, se, psk
//
//   NK:    <- s                  IK:      <- s
//          ...                            ...
//          -> e, es                       -> e, es, s, ss
//          <- e, ee                       <- e, ee, se
//
//   KK:    -> s
//          <- s
//          ...
//          -> e, es, ss
//          <- e, ee, se
//
// NK is meant for client-to-relay connections: the client knows the relay's
// key (HandshakeConfig::remote_static) and reveals none of its own, so the
// relay learns nothing about who connects. Keys before "..." are pre-message
// keys: not sent, but hashed, so both sides must agree on them.
//
// Nothing here touches a socket, a clock or a thread: the caller moves bytes.
// A Handshake turns payloads into handshake messages and back; once both
// sides are finished, Split() hands out the two CipherStates that protect the
// session. Each message on the wire is at most kMaxMessageSize bytes; framing
// (length prefixes) is the caller's business.
//
// What a successful handshake proves: the peer holds the secret half of
// RemoteStatic() (and, for XXpsk3, the same psk). In NK only the initiator
// learns that (the responder's RemoteStatic() stays nullopt: the initiator is
// anonymous). Whether that static key belongs to a known device is for the
// caller to decide (the roster check); a payload read before that check is
// authenticated but not yet trusted.
//
// Ownership: a Handshake copies the keys it is given; the caller need not
// keep them alive. Threading: objects here are not thread-safe; give each to
// one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"

namespace hearth::net::noise {

// Noise's limit on one message, handshake or transport, tag included.
inline constexpr std::size_t kMaxMessageSize = 65535;
inline constexpr std::size_t kHashSize = 64;  // HASHLEN of BLAKE2b

class CipherState;
namespace detail {
CipherState MakeCipherState(crypto::SymmetricKey key);
}  // namespace detail

// One direction of an encrypted session: a key and a message counter used as
// the nonce. Messages must be decrypted in the order they were encrypted;
// a replayed, reordered or dropped message fails to decrypt (and the counter
// does not move, so the expected message still can be). Only a Handshake
// creates CipherStates.
class CipherState {
 public:
  // Nonce 2^64-1 is reserved by Noise: once the counter reaches it, the
  // CipherState refuses to encrypt or decrypt (the session must end).
  static constexpr std::uint64_t kReservedNonce = std::numeric_limits<std::uint64_t>::max();
  static constexpr std::size_t kMaxPlaintextSize = kMaxMessageSize - crypto::kTagSize;

  CipherState(CipherState&&) noexcept = default;
  CipherState& operator=(CipherState&&) noexcept = default;

  // Returns ciphertext || tag. Fails (kRefused) when the nonces are used up,
  // (kInvalidInput) when `plaintext` exceeds kMaxPlaintextSize.
  [[nodiscard]] Result<Bytes> Encrypt(ByteView ad, ByteView plaintext);
  // Returns the plaintext. Fails (kIntegrity) on a bad tag or a size outside
  // [kTagSize, kMaxMessageSize], (kRefused) when the nonces are used up.
  [[nodiscard]] Result<Bytes> Decrypt(ByteView ad, ByteView ciphertext);

  // The nonce the next Encrypt or Decrypt will use.
  std::uint64_t nonce() const { return nonce_; }
  // For tests of nonce exhaustion only; never call it in product code.
  void SetNonceForTest(std::uint64_t nonce) { nonce_ = nonce; }

 private:
  friend CipherState detail::MakeCipherState(crypto::SymmetricKey key);
  explicit CipherState(crypto::SymmetricKey key) : key_(std::move(key)) {}

  crypto::SymmetricKey key_;
  std::uint64_t nonce_ = 0;
};

enum class Pattern { kXX, kXXpsk3, kNK, kIK, kKK };
enum class Role { kInitiator, kResponder };

// Handshake messages in `pattern`: 3 for XX and XXpsk3, 2 for NK, IK and KK.
std::size_t MessageCount(Pattern pattern);

struct HandshakeConfig {
  Pattern pattern = Pattern::kXX;
  Role role = Role::kInitiator;
  // Our static X25519 key pair. Required, except by NK's initiator, which
  // has no static key (one given there is ignored). Copied by Start().
  const crypto::DhKey* static_key = nullptr;
  // Required for kXXpsk3, refused for kXX.
  std::optional<crypto::SymmetricKey> psk;
  // Bytes both sides must agree on (e.g. a protocol version); they are not
  // sent, only authenticated. A mismatch fails the handshake.
  Bytes prologue;
  // Tests only (published vectors): the ephemeral key to use instead of a
  // fresh random one. Reusing an ephemeral key breaks forward secrecy.
  std::optional<crypto::DhKey> fixed_ephemeral;
  // The peer's static public key, known in advance (a pre-message key).
  // Required by NK's and IK's initiator and by both sides of KK; refused
  // everywhere else, since the pattern would not bind it. Last, with an
  // explicit initializer, so that existing positional initializers of this
  // struct keep their meaning (and draw no missing-initializer warning).
  std::optional<crypto::PublicKey> remote_static = std::nullopt;
};

// One side of a handshake. Messages alternate, starting with the initiator:
// call WriteMessage when IsMyTurn(), ReadMessage otherwise, until Finished()
// (after three messages for XX and XXpsk3, two for NK, IK and KK).
//
// Any failure caused by the peer's bytes (bad tag, low-order key, wrong size,
// wrong psk or prologue) is a kAuth error and kills the handshake: its
// secrets are wiped and every later call fails. Calls made out of turn fail
// with kRefused and change nothing.
class Handshake {
 public:
  // The session's two directions, oriented for this side.
  struct Transport {
    CipherState send;
    CipherState receive;
  };

  // Fails (kInvalidInput) when the config is incomplete or contradictory.
  static Result<Handshake> Start(HandshakeConfig config);

  Handshake(Handshake&&) noexcept;
  Handshake& operator=(Handshake&&) noexcept;
  ~Handshake();

  bool IsMyTurn() const;
  bool Finished() const;
  // True once a call failed because of the peer; the handshake is then useless.
  bool Failed() const;

  // Returns the next handshake message, carrying `payload` (encrypted once a
  // key is set: in XX the first message's payload is sent in clear). In NK,
  // IK and KK the first payload is encrypted, but to the responder's static
  // key only: it has no forward secrecy and can be replayed to the responder.
  [[nodiscard]] Result<Bytes> WriteMessage(ByteView payload);
  // Consumes the peer's next handshake message and returns its payload.
  [[nodiscard]] Result<Bytes> ReadMessage(ByteView message);

  // The peer's static public key: from Start() when it was known in advance
  // (NK's and IK's initiator, KK), else once a message carrying it was read
  // successfully; nullopt before that, after a failure, and always for NK's
  // responder.
  std::optional<crypto::PublicKey> RemoteStatic() const;
  // The handshake hash h (kHashSize bytes). Once finished, both sides hold the
  // same value, which can serve as a channel binding.
  ByteView HandshakeHash() const;

  // The transport ciphers. Only once Finished(), and only once: a second
  // call fails (kRefused), since two copies would reuse nonces.
  [[nodiscard]] Result<Transport> Split();

 private:
  struct State;
  explicit Handshake(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace hearth::net::noise
