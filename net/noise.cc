// The Noise objects of the spec (revision 34, sections 5 and 4.3) for the
// 25519 / ChaChaPoly / BLAKE2b suite: CipherState, SymmetricState (private to
// this file) and HandshakeState (Handshake::State). Names follow the spec so
// the code can be read next to it.
#include "net/noise.h"

#include <array>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

namespace hearth::net::noise {
namespace {

using crypto::SecretBytes;

constexpr std::size_t kDhLen = crypto::kDhSize;
constexpr std::size_t kBlockLen = crypto::kBlake2bBlockSize;
static_assert(kHashSize == crypto::kBlake2b512Size);

// ---- Patterns ---------------------------------------------------------------

enum class Token { kE, kS, kEE, kES, kSE, kPsk };
using MessagePattern = std::span<const Token>;

constexpr Token kXXMessage1[] = {Token::kE};
constexpr Token kXXMessage2[] = {Token::kE, Token::kEE, Token::kS, Token::kES};
constexpr Token kXXMessage3[] = {Token::kS, Token::kSE};
constexpr Token kXXpsk3Message3[] = {Token::kS, Token::kSE, Token::kPsk};

constexpr std::array<MessagePattern, 3> kXXMessages = {kXXMessage1, kXXMessage2, kXXMessage3};
constexpr std::array<MessagePattern, 3> kXXpsk3Messages = {kXXMessage1, kXXMessage2,
                                                           kXXpsk3Message3};
// Both patterns have three messages: initiator, responder, initiator.
constexpr std::size_t kMessageCount = 3;

std::string_view ProtocolName(Pattern pattern) {
  switch (pattern) {
    case Pattern::kXX:
      return "Noise_XX_25519_ChaChaPoly_BLAKE2b";
    case Pattern::kXXpsk3:
      return "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b";
  }
  return {};
}

MessagePattern MessageOf(Pattern pattern, std::size_t index) {
  return pattern == Pattern::kXXpsk3 ? kXXpsk3Messages[index] : kXXMessages[index];
}

// The size of a message following `tokens` with an empty payload. Sizes in
// Noise depend only on the pattern and on whether a key is set, so a reader
// can refuse a short message before parsing it.
std::size_t MinMessageSize(MessagePattern tokens, bool has_key, bool psk_mode) {
  std::size_t size = 0;
  for (Token token : tokens) {
    switch (token) {
      case Token::kE:
        size += kDhLen;
        if (psk_mode) has_key = true;  // "e" also calls MixKey in psk mode
        break;
      case Token::kS:
        size += kDhLen + (has_key ? crypto::kTagSize : 0);
        break;
      case Token::kEE:
      case Token::kES:
      case Token::kSE:
      case Token::kPsk:
        has_key = true;
        break;
    }
  }
  return size + (has_key ? crypto::kTagSize : 0);
}

// ---- HMAC and HKDF (spec section 4.3) --------------------------------------

std::span<std::uint8_t, kHashSize> HashOut(SecretBytes& buffer) {
  return std::span<std::uint8_t, kHashSize>(buffer.data(), kHashSize);
}

// HMAC-BLAKE2b (RFC 2104) of the message `first || second`.
void HmacBlake2b(ByteView key, ByteView first, ByteView second,
                 std::span<std::uint8_t, kHashSize> out) {
  // The key, hashed if longer than a block, then padded with zeros.
  SecretBytes block_key(kBlockLen);
  if (key.size() > kBlockLen) {
    const ByteView parts[] = {key};
    crypto::Blake2b512(parts, std::span<std::uint8_t, kHashSize>(block_key.data(), kHashSize));
  } else if (!key.empty()) {
    std::memcpy(block_key.data(), key.data(), key.size());
  }

  SecretBytes pad(kBlockLen);
  for (std::size_t i = 0; i < kBlockLen; ++i) pad.data()[i] = block_key.data()[i] ^ 0x36;
  SecretBytes inner(kHashSize);
  const ByteView inner_parts[] = {pad.view(), first, second};
  crypto::Blake2b512(inner_parts, HashOut(inner));

  for (std::size_t i = 0; i < kBlockLen; ++i) pad.data()[i] = block_key.data()[i] ^ 0x5c;
  const ByteView outer_parts[] = {pad.view(), inner.view()};
  crypto::Blake2b512(outer_parts, out);
}

struct HkdfOutputs {
  SecretBytes first;
  SecretBytes second;
  SecretBytes third;  // empty unless three outputs were asked for
};

HkdfOutputs Hkdf(ByteView chaining_key, ByteView input_key_material, int num_outputs) {
  static constexpr std::uint8_t kOne[] = {0x01};
  static constexpr std::uint8_t kTwo[] = {0x02};
  static constexpr std::uint8_t kThree[] = {0x03};

  SecretBytes temp_key(kHashSize);
  HmacBlake2b(chaining_key, input_key_material, {}, HashOut(temp_key));
  HkdfOutputs out{SecretBytes(kHashSize), SecretBytes(kHashSize), SecretBytes()};
  HmacBlake2b(temp_key.view(), kOne, {}, HashOut(out.first));
  HmacBlake2b(temp_key.view(), out.first.view(), kTwo, HashOut(out.second));
  if (num_outputs == 3) {
    out.third = SecretBytes(kHashSize);
    HmacBlake2b(temp_key.view(), out.second.view(), kThree, HashOut(out.third));
  }
  return out;
}

// HASHLEN is 64 but cipher keys are 32 bytes: Noise keeps the first 32.
crypto::SymmetricKey TruncateToKey(const SecretBytes& hkdf_output) {
  return *crypto::SymmetricKey::FromBytes(hkdf_output.view().first(crypto::kKeySize));
}

// ChaChaPoly's nonce: 4 zero bytes, then the counter little-endian.
crypto::IetfNonce NonceFromCounter(std::uint64_t counter) {
  crypto::IetfNonce nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return nonce;
}

// ---- SymmetricState (spec section 5.2) --------------------------------------

class SymmetricState {
 public:
  explicit SymmetricState(std::string_view protocol_name) {
    // A name of at most HASHLEN bytes is used as is, padded with zeros.
    h_.fill(0);
    if (protocol_name.size() <= kHashSize) {
      std::memcpy(h_.data(), protocol_name.data(), protocol_name.size());
    } else {
      const ByteView parts[] = {AsBytes(protocol_name)};
      crypto::Blake2b512(parts, h_);
    }
    ck_ = SecretBytes(ByteView(h_));
  }

  bool HasKey() const { return cipher_.has_value(); }
  ByteView hash() const { return h_; }

  void MixKey(ByteView input_key_material) {
    HkdfOutputs out = Hkdf(ck_.view(), input_key_material, 2);
    ck_ = std::move(out.first);
    cipher_.emplace(detail::MakeCipherState(TruncateToKey(out.second)));
  }

  void MixHash(ByteView data) {
    const ByteView parts[] = {h_, data};
    crypto::Blake2b512(parts, h_);
  }

  void MixKeyAndHash(ByteView input_key_material) {
    HkdfOutputs out = Hkdf(ck_.view(), input_key_material, 3);
    ck_ = std::move(out.first);
    MixHash(out.second.view());
    cipher_.emplace(detail::MakeCipherState(TruncateToKey(out.third)));
  }

  // Before any key is set, plaintext is sent as is (only hashed).
  Result<Bytes> EncryptAndHash(ByteView plaintext) {
    Bytes ciphertext(plaintext.begin(), plaintext.end());
    if (cipher_) {
      HEARTH_ASSIGN_OR_RETURN(ciphertext, cipher_->Encrypt(h_, plaintext));
    }
    MixHash(ciphertext);
    return ciphertext;
  }

  Result<Bytes> DecryptAndHash(ByteView ciphertext) {
    Bytes plaintext(ciphertext.begin(), ciphertext.end());
    if (cipher_) {
      HEARTH_ASSIGN_OR_RETURN(plaintext, cipher_->Decrypt(h_, ciphertext));
    }
    MixHash(ciphertext);
    return plaintext;
  }

  // The two transport ciphers: initiator-to-responder first. Wipes the
  // chaining key, so it can be called only once.
  std::pair<CipherState, CipherState> Split() {
    HkdfOutputs out = Hkdf(ck_.view(), {}, 2);
    WipeKeys();
    return {detail::MakeCipherState(TruncateToKey(out.first)),
            detail::MakeCipherState(TruncateToKey(out.second))};
  }

  void WipeKeys() {
    ck_ = SecretBytes();
    cipher_.reset();
  }

 private:
  SecretBytes ck_;
  std::array<std::uint8_t, kHashSize> h_;
  std::optional<CipherState> cipher_;
};

// Bounds-checked reading of a handshake message.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  std::optional<ByteView> Take(std::size_t n) {
    if (n > data_.size()) return std::nullopt;
    ByteView taken = data_.first(n);
    data_ = data_.subspan(n);
    return taken;
  }
  ByteView Rest() const { return data_; }

 private:
  ByteView data_;
};

Error PeerError(std::string message) { return MakeError(Errc::kAuth, std::move(message)); }

}  // namespace

// ---- CipherState (spec section 5.1) -----------------------------------------

namespace detail {
CipherState MakeCipherState(crypto::SymmetricKey key) { return CipherState(std::move(key)); }
}  // namespace detail

Result<Bytes> CipherState::Encrypt(ByteView ad, ByteView plaintext) {
  if (nonce_ == kReservedNonce) {
    return MakeError(Errc::kRefused, "This session has used all its nonces; start a new one.");
  }
  if (plaintext.size() > kMaxPlaintextSize) {
    return MakeError(Errc::kInvalidInput, "The message is too large for one Noise message.");
  }
  Bytes ciphertext = crypto::SealIetf(key_, NonceFromCounter(nonce_), plaintext, ad);
  ++nonce_;
  return ciphertext;
}

Result<Bytes> CipherState::Decrypt(ByteView ad, ByteView ciphertext) {
  if (nonce_ == kReservedNonce) {
    return MakeError(Errc::kRefused, "This session has used all its nonces; start a new one.");
  }
  if (ciphertext.size() < crypto::kTagSize || ciphertext.size() > kMaxMessageSize) {
    return MakeError(Errc::kIntegrity, "A received message has an impossible size.");
  }
  std::optional<Bytes> plaintext = crypto::OpenIetf(key_, NonceFromCounter(nonce_), ciphertext, ad);
  if (!plaintext) {
    return MakeError(Errc::kIntegrity,
                     "A received message failed authentication: tampered, replayed or reordered.");
  }
  ++nonce_;  // only on success, as the spec asks
  return std::move(*plaintext);
}

// ---- HandshakeState (spec section 5.3) --------------------------------------

struct Handshake::State {
  State(Pattern p, Role r, crypto::DhKey static_key)
      : pattern(p), role(r), symmetric(ProtocolName(p)), s(std::move(static_key)) {}

  Pattern pattern;
  Role role;
  SymmetricState symmetric;
  crypto::DhKey s;
  std::optional<crypto::DhKey> e;
  std::optional<crypto::DhKey> fixed_ephemeral;
  std::optional<crypto::PublicKey> rs;
  std::optional<crypto::PublicKey> re;
  std::optional<crypto::SymmetricKey> psk;
  std::size_t next_message = 0;
  bool failed = false;
  bool split_done = false;

  bool PskMode() const { return pattern == Pattern::kXXpsk3; }
  bool Finished() const { return next_message == kMessageCount; }
  // The initiator writes the even-numbered messages.
  bool IsMyTurn() const {
    return !failed && !Finished() && (next_message % 2 == 0) == (role == Role::kInitiator);
  }

  // Kills the handshake: wipes every session secret.
  void Fail() {
    failed = true;
    symmetric.WipeKeys();
    e.reset();
    fixed_ephemeral.reset();
    psk.reset();
    rs.reset();
    re.reset();
  }

  // MixKey(DH(ours, theirs)) for one of "ee", "es", "se".
  Status MixDh(Token token) {
    const bool initiator = role == Role::kInitiator;
    const crypto::DhKey* ours = nullptr;
    const std::optional<crypto::PublicKey>* theirs = nullptr;
    switch (token) {
      case Token::kEE:
        ours = e ? &*e : nullptr;
        theirs = &re;
        break;
      case Token::kES:  // initiator's ephemeral with responder's static
        ours = initiator ? (e ? &*e : nullptr) : &s;
        theirs = initiator ? &rs : &re;
        break;
      case Token::kSE:  // initiator's static with responder's ephemeral
        ours = initiator ? &s : (e ? &*e : nullptr);
        theirs = initiator ? &re : &rs;
        break;
      default:
        return MakeError(Errc::kInternal, "A Noise token is not a DH token.");
    }
    // The patterns guarantee both keys exist by now; check anyway.
    if (ours == nullptr || !theirs->has_value()) {
      return MakeError(Errc::kInternal, "A Noise DH token came before its keys.");
    }
    std::optional<SecretBytes> shared = crypto::X25519(*ours, **theirs);
    if (!shared) return PeerError("The peer sent a low-order key.");
    symmetric.MixKey(shared->view());
    return {};
  }

  void MixEphemeral(const crypto::PublicKey& ephemeral) {
    symmetric.MixHash(ephemeral);
    if (PskMode()) symmetric.MixKey(ephemeral);
  }

  Status WriteToken(Token token, Bytes& out) {
    switch (token) {
      case Token::kE: {
        if (fixed_ephemeral) {
          e = std::move(fixed_ephemeral);
          fixed_ephemeral.reset();
        } else {
          e = crypto::DhKey::Generate();
        }
        Append(out, e->public_key());
        MixEphemeral(e->public_key());
        return {};
      }
      case Token::kS: {
        HEARTH_ASSIGN_OR_RETURN(Bytes sealed, symmetric.EncryptAndHash(s.public_key()));
        Append(out, sealed);
        return {};
      }
      case Token::kPsk:
        symmetric.MixKeyAndHash(psk->view());
        return {};
      default:
        return MixDh(token);
    }
  }

  Status ReadToken(Token token, Reader& in) {
    switch (token) {
      case Token::kE: {
        std::optional<ByteView> key = in.Take(kDhLen);
        if (!key) return PeerError("The peer's handshake message is too short.");
        re.emplace();
        std::memcpy(re->data(), key->data(), kDhLen);
        MixEphemeral(*re);
        return {};
      }
      case Token::kS: {
        const std::size_t size = kDhLen + (symmetric.HasKey() ? crypto::kTagSize : 0);
        std::optional<ByteView> sealed = in.Take(size);
        if (!sealed) return PeerError("The peer's handshake message is too short.");
        Result<Bytes> key = symmetric.DecryptAndHash(*sealed);
        if (!key.ok()) return PeerError("The peer's static key failed authentication.");
        rs.emplace();
        std::memcpy(rs->data(), key->data(), kDhLen);
        return {};
      }
      case Token::kPsk:
        symmetric.MixKeyAndHash(psk->view());
        return {};
      default:
        return MixDh(token);
    }
  }

  Result<Bytes> Write(ByteView payload) {
    const MessagePattern tokens = MessageOf(pattern, next_message);
    if (MinMessageSize(tokens, symmetric.HasKey(), PskMode()) + payload.size() > kMaxMessageSize) {
      return MakeError(Errc::kInvalidInput, "The handshake payload is too large.");
    }
    Bytes out;
    for (Token token : tokens) HEARTH_TRY(WriteToken(token, out));
    HEARTH_ASSIGN_OR_RETURN(Bytes sealed, symmetric.EncryptAndHash(payload));
    Append(out, sealed);
    ++next_message;
    return out;
  }

  Result<Bytes> Read(ByteView message) {
    const MessagePattern tokens = MessageOf(pattern, next_message);
    if (message.size() > kMaxMessageSize ||
        message.size() < MinMessageSize(tokens, symmetric.HasKey(), PskMode())) {
      return PeerError("The peer's handshake message has an impossible size.");
    }
    Reader in(message);
    for (Token token : tokens) HEARTH_TRY(ReadToken(token, in));
    Result<Bytes> payload = symmetric.DecryptAndHash(in.Rest());
    if (!payload.ok()) return PeerError("The peer's handshake message failed authentication.");
    ++next_message;
    return payload;
  }
};

// ---- Handshake --------------------------------------------------------------

Handshake::Handshake(std::unique_ptr<State> state) : state_(std::move(state)) {}
Handshake::Handshake(Handshake&&) noexcept = default;
Handshake& Handshake::operator=(Handshake&&) noexcept = default;
Handshake::~Handshake() = default;

Result<Handshake> Handshake::Start(HandshakeConfig config) {
  if (config.static_key == nullptr) {
    return MakeError(Errc::kInvalidInput, "A Noise handshake needs this device's static key.");
  }
  const bool psk_mode = config.pattern == Pattern::kXXpsk3;
  if (psk_mode && !config.psk) {
    return MakeError(Errc::kInvalidInput, "The XXpsk3 handshake needs a pre-shared key.");
  }
  if (!psk_mode && config.psk) {
    return MakeError(Errc::kInvalidInput, "The XX handshake takes no pre-shared key.");
  }
  std::optional<crypto::DhKey> static_copy = crypto::DhKey::FromSecret(config.static_key->secret());
  if (!static_copy) {
    return MakeError(Errc::kInvalidInput, "The static key is not a valid X25519 key.");
  }

  auto state = std::make_unique<State>(config.pattern, config.role, std::move(*static_copy));
  state->psk = std::move(config.psk);
  state->fixed_ephemeral = std::move(config.fixed_ephemeral);
  state->symmetric.MixHash(config.prologue);
  // XX has no pre-message keys, so nothing else is hashed before message 1.
  return Handshake(std::move(state));
}

bool Handshake::IsMyTurn() const { return state_ && state_->IsMyTurn(); }

bool Handshake::Finished() const { return state_ && !state_->failed && state_->Finished(); }

bool Handshake::Failed() const { return !state_ || state_->failed; }

Result<Bytes> Handshake::WriteMessage(ByteView payload) {
  if (Failed()) return MakeError(Errc::kRefused, "The handshake has already failed.");
  if (!IsMyTurn()) {
    return MakeError(Errc::kRefused, "It is not this side's turn to write a handshake message.");
  }
  Result<Bytes> message = state_->Write(payload);
  // A too-large payload is the caller's mistake; anything else (a low-order
  // peer key) is the peer's, and ends the handshake.
  if (!message.ok() && message.error().code != Errc::kInvalidInput) state_->Fail();
  return message;
}

Result<Bytes> Handshake::ReadMessage(ByteView message) {
  if (Failed()) return MakeError(Errc::kRefused, "The handshake has already failed.");
  if (IsMyTurn() || state_->Finished()) {
    return MakeError(Errc::kRefused, "It is not the peer's turn to send a handshake message.");
  }
  Result<Bytes> payload = state_->Read(message);
  if (!payload.ok()) state_->Fail();
  return payload;
}

std::optional<crypto::PublicKey> Handshake::RemoteStatic() const {
  if (Failed()) return std::nullopt;
  return state_->rs;
}

ByteView Handshake::HandshakeHash() const {
  if (!state_) return {};
  return state_->symmetric.hash();
}

Result<Handshake::Transport> Handshake::Split() {
  if (!Finished()) return MakeError(Errc::kRefused, "The handshake is not finished.");
  if (state_->split_done) {
    return MakeError(Errc::kRefused, "The handshake's transport keys were already taken.");
  }
  state_->split_done = true;
  auto [initiator_to_responder, responder_to_initiator] = state_->symmetric.Split();
  if (state_->role == Role::kInitiator) {
    return Transport{std::move(initiator_to_responder), std::move(responder_to_initiator)};
  }
  return Transport{std::move(responder_to_initiator), std::move(initiator_to_responder)};
}

}  // namespace hearth::net::noise
