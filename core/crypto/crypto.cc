#include "core/crypto/crypto.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace hearth::crypto {

static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSignatureSize == crypto_sign_BYTES);
static_assert(kSigningSecretSize == crypto_sign_SECRETKEYBYTES);
static_assert(kSaltSize == crypto_pwhash_SALTBYTES);
static_assert(kKeySize == crypto_kdf_KEYBYTES);

namespace {

// Nonces are public, so they may be drawn from the system generator in bulk:
// one getrandom() call per 170 nonces instead of one per nonce (it showed up
// in bulk-append profiles). A forked child must never reuse its parent's
// unspent bytes, so fork empties the pool of the forking thread (the only
// thread the child has).
struct NoncePool {
  static constexpr std::size_t kSize = 4096;
  std::array<std::uint8_t, kSize> bytes;
  std::size_t used = kSize;
};
thread_local NoncePool nonce_pool;

}  // namespace

Status Init() {
  if (sodium_init() < 0) {
    return MakeError(Errc::kInternal, "The cryptography library could not start.");
  }
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, [] { nonce_pool.used = NoncePool::kSize; }); });
  return {};
}

namespace {

// Small secrets (keys, chaining keys, signing secrets, HMAC blocks) come from slabs of
// locked memory instead of one sodium_malloc each. sodium_malloc maps pages,
// adds guard pages and locks them: in a relay doing thousands of Noise
// handshakes, the mprotect and TLB-shootdown cost of that per key dominated
// the profile. A slab is one sodium_malloc (locked, guarded, never swapped);
// its slots are wiped when freed and reused; slabs are kept for the life of
// the process (bounded by the most secrets alive at once).
class SecretSlabs {
 public:
  static constexpr std::size_t kSlot = 128;  // the HMAC block inside Noise's HKDF is the largest
  static constexpr std::size_t kSlotsPerSlab = 1024;

  std::uint8_t* Take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) {
      auto* slab = static_cast<std::uint8_t*>(sodium_malloc(kSlot * kSlotsPerSlab));
      if (slab == nullptr) return nullptr;
      free_.reserve(free_.size() + kSlotsPerSlab);
      for (std::size_t i = kSlotsPerSlab; i-- > 0;) free_.push_back(slab + i * kSlot);
    }
    std::uint8_t* slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void Give(std::uint8_t* slot) {
    sodium_memzero(slot, kSlot);
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }

 private:
  std::mutex mu_;
  std::vector<std::uint8_t*> free_;
};

SecretSlabs& Slabs() {
  static auto* slabs = new SecretSlabs();  // never destroyed: secrets may outlive static destructors
  return *slabs;
}

std::uint8_t* AllocateSecret(std::size_t size) {
  if (size <= SecretSlabs::kSlot) return Slabs().Take();
  return static_cast<std::uint8_t*>(sodium_malloc(size));
}

void FreeSecret(std::uint8_t* data, std::size_t size) {
  if (size <= SecretSlabs::kSlot) {
    Slabs().Give(data);
  } else {
    sodium_free(data);  // wipes before releasing
  }
}

}  // namespace

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  if (size == 0) return;
  data_ = AllocateSecret(size);
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, size);
}

SecretBytes::SecretBytes(ByteView copy_from) : SecretBytes(copy_from.size()) {
  if (!copy_from.empty()) std::memcpy(data_, copy_from.data(), copy_from.size());
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) FreeSecret(data_, size_);
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) FreeSecret(data_, size_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

SymmetricKey SymmetricKey::Generate() {
  SecretBytes b(kKeySize);
  randombytes_buf(b.data(), b.size());
  return SymmetricKey(std::move(b));
}

std::optional<SymmetricKey> SymmetricKey::FromBytes(ByteView bytes) {
  if (bytes.size() != kKeySize) return std::nullopt;
  return SymmetricKey(SecretBytes(bytes));
}

SymmetricKey SymmetricKey::Derive(std::uint64_t subkey_id, std::string_view context) const {
  char ctx[crypto_kdf_CONTEXTBYTES] = {};
  std::memcpy(ctx, context.data(), std::min(context.size(), sizeof ctx));
  SecretBytes out(kKeySize);
  crypto_kdf_derive_from_key(out.data(), out.size(), subkey_id, ctx, bytes_.data());
  return SymmetricKey(std::move(out));
}

SigningKey SigningKey::Generate() {
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  PublicKey pk;
  crypto_sign_keypair(pk.data(), sk.data());
  return SigningKey(std::move(sk), pk);
}

std::optional<SigningKey> SigningKey::FromSecret(ByteView secret64) {
  if (secret64.size() != crypto_sign_SECRETKEYBYTES) return std::nullopt;
  SecretBytes sk(secret64);
  PublicKey pk;
  if (crypto_sign_ed25519_sk_to_pk(pk.data(), sk.data()) != 0) return std::nullopt;
  // The secret key embeds its public half; a mismatch means a damaged key.
  PublicKey from_seed;
  SecretBytes scratch(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(from_seed.data(), scratch.data(), sk.data());
  if (from_seed != pk) return std::nullopt;
  return SigningKey(std::move(sk), pk);
}

SigningKey SigningKey::FromSeed(const SymmetricKey& seed) {
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  PublicKey pk;
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.view().data());
  return SigningKey(std::move(sk), pk);
}

Signature SigningKey::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool VerifySignature(const PublicKey& signer, ByteView message, const Signature& signature) {
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     signer.data()) == 0;
}

DhKey DhKey::Generate() {
  SecretBytes sk(crypto_scalarmult_SCALARBYTES);
  randombytes_buf(sk.data(), sk.size());
  PublicKey pk;
  crypto_scalarmult_base(pk.data(), sk.data());
  return DhKey(std::move(sk), pk);
}

std::optional<DhKey> DhKey::FromSecret(ByteView secret32) {
  if (secret32.size() != crypto_scalarmult_SCALARBYTES) return std::nullopt;
  SecretBytes sk(secret32);
  PublicKey pk;
  if (crypto_scalarmult_base(pk.data(), sk.data()) != 0) return std::nullopt;
  return DhKey(std::move(sk), pk);
}

void RandomBytes(std::span<std::uint8_t> out) { randombytes_buf(out.data(), out.size()); }

std::uint64_t RandomU64() {
  std::uint64_t v;
  randombytes_buf(&v, sizeof v);
  return v;
}

Nonce RandomNonce() {
  NoncePool& pool = nonce_pool;
  Nonce n;
  if (pool.used + n.size() > pool.bytes.size()) {
    randombytes_buf(pool.bytes.data(), pool.bytes.size());
    pool.used = 0;
  }
  std::memcpy(n.data(), pool.bytes.data() + pool.used, n.size());
  // Spent bytes are overwritten so they cannot be handed out twice.
  std::memset(pool.bytes.data() + pool.used, 0, n.size());
  pool.used += n.size();
  return n;
}

Digest Hash(std::initializer_list<ByteView> parts) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kDigestSize);
  for (ByteView p : parts) crypto_generichash_update(&st, p.data(), p.size());
  Digest d;
  crypto_generichash_final(&st, d.data(), d.size());
  return d;
}

Bytes Seal(const SymmetricKey& key, const Nonce& nonce, ByteView plaintext, ByteView ad) {
  Bytes out(plaintext.size() + kTagSize);
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             nonce.data(), key.view().data());
  out.resize(out_len);
  return out;
}

std::optional<Bytes> Open(const SymmetricKey& key, const Nonce& nonce, ByteView ciphertext,
                          ByteView ad) {
  if (ciphertext.size() < kTagSize) return std::nullopt;
  Bytes out(ciphertext.size() - kTagSize);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce.data(), key.view().data()) != 0) {
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

std::optional<SecretBytes> OpenSecret(const SymmetricKey& key, const Nonce& nonce,
                                      ByteView ciphertext, ByteView ad) {
  if (ciphertext.size() < kTagSize) return std::nullopt;
  SecretBytes out(ciphertext.size() - kTagSize);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce.data(), key.view().data()) != 0) {
    return std::nullopt;
  }
  return out;
}

PwhashParams InteractivePwhash() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

Result<SymmetricKey> KeyFromPassphrase(ByteView passphrase, ByteView salt, PwhashParams params) {
  const PwhashParams floor = InteractivePwhash();
  if (salt.size() != kSaltSize || params.ops_limit < floor.ops_limit ||
      params.mem_limit < floor.mem_limit || params.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.mem_limit > (std::uint64_t{4} << 30)) {
    return MakeError(Errc::kIntegrity, "The key file's passphrase settings are damaged.");
  }
  SecretBytes out(kKeySize);
  if (crypto_pwhash(out.data(), out.size(), reinterpret_cast<const char*>(passphrase.data()),
                    passphrase.size(), salt.data(), params.ops_limit,
                    static_cast<std::size_t>(params.mem_limit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(Errc::kStorage, "Not enough memory to derive the key from the passphrase.");
  }
  return *SymmetricKey::FromBytes(out.view());
}

bool SecureEqual(ByteView a, ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hearth::crypto

// --- Primitives for the Noise protocol (net/noise) --------------------------
namespace hearth::crypto {

static_assert(kDhSize == crypto_scalarmult_BYTES);
static_assert(kIetfNonceSize == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
static_assert(kKeySize == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kTagSize == crypto_aead_chacha20poly1305_ietf_ABYTES);
static_assert(kBlake2b512Size <= crypto_generichash_BYTES_MAX);

std::optional<SecretBytes> X25519(const DhKey& ours, const PublicKey& theirs) {
  SecretBytes shared(kDhSize);
  // libsodium checks the output itself and returns -1 when it is all zeros.
  if (crypto_scalarmult(shared.data(), ours.secret().data(), theirs.data()) != 0) {
    return std::nullopt;
  }
  return shared;
}

Bytes SealIetf(const SymmetricKey& key, const IetfNonce& nonce, ByteView plaintext, ByteView ad) {
  Bytes out(plaintext.size() + kTagSize);
  unsigned long long out_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(),
                                            plaintext.size(), ad.data(), ad.size(), nullptr,
                                            nonce.data(), key.view().data());
  out.resize(out_len);
  return out;
}

std::optional<Bytes> OpenIetf(const SymmetricKey& key, const IetfNonce& nonce, ByteView ciphertext,
                              ByteView ad) {
  if (ciphertext.size() < kTagSize) return std::nullopt;
  Bytes out(ciphertext.size() - kTagSize);
  unsigned long long out_len = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, ciphertext.data(),
                                                ciphertext.size(), ad.data(), ad.size(),
                                                nonce.data(), key.view().data()) != 0) {
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

void Blake2b512(std::span<const ByteView> parts, std::span<std::uint8_t, kBlake2b512Size> out) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, out.size());
  for (ByteView part : parts) crypto_generichash_update(&state, part.data(), part.size());
  crypto_generichash_final(&state, out.data(), out.size());
  // The parts may be secret (HMAC pads, chaining keys); so is the state.
  sodium_memzero(&state, sizeof state);
}

}  // namespace hearth::crypto
