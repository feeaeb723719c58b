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

enum class Token { kE, kS, kEE, kES, kSE, kSS, kPsk };
using MessagePattern = std::span<const Token>;

constexpr Token kXXMessage1[] = {Token::kE};
constexpr Token kXXMessage2[] = {Token::kE, Token::kEE, Token::kS, Token::kES};
constexpr Token kXXMessage3[] = {Token::kS, Token::kSE};
constexpr Token kXXpsk3Message3[] = {Token::kS, Token::kSE, Token::kPsk};
constexpr Token kNKMessage1[] = {Token::kE, Token::kES};
constexpr Token kNKMessage2[] = {Token::kE, Token::kEE};
constexpr Token kIKMessage1[] = {Token::kE, Token::kES, Token::kS, Token::kSS};
constexpr Token kKKMessage1[] = {Token::kE, Token::kES, Token::kSS};
// IK's and KK's second message.
constexpr Token kIKKKMessage2[] = {Token::kE, Token::kEE, Token::kSE};

// Messages alternate initiator, responder, initiator: three in the XX
// patterns, two where the responder's key is known in advance.
constexpr MessagePattern kXXMessages[] = {kXXMessage1, kXXMessage2, kXXMessage3};
constexpr MessagePattern kXXpsk3Messages[] = {kXXMessage1, kXXMessage2, kXXpsk3Message3};
constexpr MessagePattern kNKMessages[] = {kNKMessage1, kNKMessage2};
constexpr MessagePattern kIKMessages[] = {kIKMessage1, kIKKKMessage2};
constexpr MessagePattern kKKMessages[] = {kKKMessage1, kIKKKMessage2};

struct PatternInfo {
  std::string_view protocol_name;
  std::span<const MessagePattern> messages;
  // The pre-messages: whose static keys are known to the peer in advance.
  bool initiator_static_known;  // "-> s"
  bool responder_static_known;  // "<- s"
  // Whether the initiator has a static key at all (not in NK).
  bool initiator_has_static;
  bool psk_mode;  // has a psk token, so "e" also calls MixKey
};

const PatternInfo& InfoOf(Pattern pattern) {
  static constexpr PatternInfo kXX = {.protocol_name = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                                      .messages = kXXMessages,
                                      .initiator_static_known = false,
                                      .responder_static_known = false,
                                      .initiator_has_static = true,
                                      .psk_mode = false};
  static constexpr PatternInfo kXXpsk3 = {.protocol_name = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
                                          .messages = kXXpsk3Messages,
                                          .initiator_static_known = false,
                                          .responder_static_known = false,
                                          .initiator_has_static = true,
                                          .psk_mode = true};
  static constexpr PatternInfo kNK = {.protocol_name = "Noise_NK_25519_ChaChaPoly_BLAKE2b",
                                      .messages = kNKMessages,
                                      .initiator_static_known = false,
                                      .responder_static_known = true,
                                      .initiator_has_static = false,
                                      .psk_mode = false};
  static constexpr PatternInfo kIK = {.protocol_name = "Noise_IK_25519_ChaChaPoly_BLAKE2b",
                                      .messages = kIKMessages,
                                      .initiator_static_known = false,
                                      .responder_static_known = true,
                                      .initiator_has_static = true,
                                      .psk_mode = false};
  static constexpr PatternInfo kKK = {.protocol_name = "Noise_KK_25519_ChaChaPoly_BLAKE2b",
                                      .messages = kKKMessages,
                                      .initiator_static_known = true,
                                      .responder_static_known = true,
                                      .initiator_has_static = true,
                                      .psk_mode = false};
  switch (pattern) {
    case Pattern::kXX:
      return kXX;
    case Pattern::kXXpsk3:
      return kXXpsk3;
    case Pattern::kNK:
      return kNK;
    case Pattern::kIK:
      return kIK;
    case Pattern::kKK:
      return kKK;
  }
  return kXX;  // unreachable for a valid enum value
}

std::string_view ProtocolName(Pattern pattern) { return InfoOf(pattern).protocol_name; }

MessagePattern MessageOf(Pattern pattern, std::size_t index) {
  return InfoOf(pattern).messages[index];
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
      case Token::kSS:
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

std::size_t MessageCount(Pattern pattern) { return InfoOf(pattern).messages.size(); }

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
  State(Pattern p, Role r, std::optional<crypto::DhKey> static_key)
      : pattern(p), role(r), symmetric(ProtocolName(p)), s(std::move(static_key)) {}

  Pattern pattern;
  Role role;
  SymmetricState symmetric;
  std::optional<crypto::DhKey> s;  // nullopt only for NK's initiator
  std::optional<crypto::DhKey> e;
  std::optional<crypto::DhKey> fixed_ephemeral;
  std::optional<crypto::PublicKey> rs;
  std::optional<crypto::PublicKey> re;
  std::optional<crypto::SymmetricKey> psk;
  std::size_t next_message = 0;
  bool failed = false;
  bool split_done = false;

  bool PskMode() const { return InfoOf(pattern).psk_mode; }
  bool Finished() const { return next_message == MessageCount(pattern); }
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

  // MixKey(DH(ours, theirs)) for one of "ee", "es", "se", "ss".
  Status MixDh(Token token) {
    const bool initiator = role == Role::kInitiator;
    const crypto::DhKey* my_e = e ? &*e : nullptr;
    const crypto::DhKey* my_s = s ? &*s : nullptr;
    const crypto::DhKey* ours = nullptr;
    const std::optional<crypto::PublicKey>* theirs = nullptr;
    switch (token) {
      case Token::kEE:
        ours = my_e;
        theirs = &re;
        break;
      case Token::kES:  // initiator's ephemeral with responder's static
        ours = initiator ? my_e : my_s;
        theirs = initiator ? &rs : &re;
        break;
      case Token::kSE:  // initiator's static with responder's ephemeral
        ours = initiator ? my_s : my_e;
        theirs = initiator ? &re : &rs;
        break;
      case Token::kSS:
        ours = my_s;
        theirs = &rs;
        break;
      default:
        return MakeError(Errc::kInternal, "A Noise token is not a DH token.");
    }
    // The patterns and Start() guarantee both keys exist by now; check anyway.
    if (ours == nullptr || !theirs->has_value()) {
      return MakeError(Errc::kInternal, "A Noise DH token came before its keys.");
    }
    // All zeros means a low-order key: sent by the peer, or pre-known (then
    // the caller was given a bad key, which cannot authenticate anyone).
    std::optional<SecretBytes> shared = crypto::X25519(*ours, **theirs);
    if (!shared) return PeerError("The peer's key is a low-order point.");
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
        if (!s) return MakeError(Errc::kInternal, "A Noise \"s\" token without a static key.");
        HEARTH_ASSIGN_OR_RETURN(Bytes sealed, symmetric.EncryptAndHash(s->public_key()));
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
  const PatternInfo& info = InfoOf(config.pattern);
  const bool initiator = config.role == Role::kInitiator;
  const bool has_static = initiator ? info.initiator_has_static : true;
  if (has_static && config.static_key == nullptr) {
    return MakeError(Errc::kInvalidInput, "A Noise handshake needs this device's static key.");
  }
  if (info.psk_mode && !config.psk) {
    return MakeError(Errc::kInvalidInput, "The XXpsk3 handshake needs a pre-shared key.");
  }
  if (!info.psk_mode && config.psk) {
    return MakeError(Errc::kInvalidInput, "This Noise handshake takes no pre-shared key.");
  }
  // The peer's key is known in advance exactly when the pattern has a
  // pre-message for it; a key given otherwise would not be bound to the
  // session, so a caller relying on it would be misled.
  const bool remote_known = initiator ? info.responder_static_known : info.initiator_static_known;
  if (remote_known && !config.remote_static) {
    return MakeError(Errc::kInvalidInput, "This Noise handshake needs the peer's static key.");
  }
  if (!remote_known && config.remote_static) {
    return MakeError(Errc::kInvalidInput,
                     "This Noise handshake learns the peer's static key; it takes none in advance.");
  }
  std::optional<crypto::DhKey> static_copy;
  if (has_static) {
    static_copy = crypto::DhKey::FromSecret(config.static_key->secret());
    if (!static_copy) {
      return MakeError(Errc::kInvalidInput, "The static key is not a valid X25519 key.");
    }
  }

  auto state = std::make_unique<State>(config.pattern, config.role, std::move(static_copy));
  state->psk = std::move(config.psk);
  state->fixed_ephemeral = std::move(config.fixed_ephemeral);
  state->rs = config.remote_static;
  state->symmetric.MixHash(config.prologue);
  // The pre-message keys, initiator's first: each side hashes the same two
  // keys, its own or the peer's depending on its role.
  if (info.initiator_static_known) {
    state->symmetric.MixHash(initiator ? ByteView(state->s->public_key()) : ByteView(*state->rs));
  }
  if (info.responder_static_known) {
    state->symmetric.MixHash(initiator ? ByteView(*state->rs) : ByteView(state->s->public_key()));
  }
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
