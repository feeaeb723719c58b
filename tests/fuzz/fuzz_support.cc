#include "tests/fuzz/fuzz_support.h"

#include <algorithm>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <sodium.h>  // only to install the seeded randombytes implementation

namespace hearth::fuzz {

namespace noise = net::noise;

void PropertyFailed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: a property every input must keep failed: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

std::optional<ByteView> Pieces::Next() {
  if (data_.empty()) return std::nullopt;
  if (data_.size() < width_) {
    data_ = {};
    return std::nullopt;
  }
  std::size_t len = 0;
  for (std::size_t i = 0; i < width_; ++i) len = (len << 8) | data_[i];
  data_ = data_.subspan(width_);
  len = std::min(len, data_.size());
  ByteView piece = data_.first(len);
  data_ = data_.subspan(len);
  return piece;
}

std::optional<std::uint8_t> Pieces::Byte() {
  if (data_.empty()) return std::nullopt;
  const std::uint8_t b = data_[0];
  data_ = data_.subspan(1);
  return b;
}

void AppendPiece(Bytes& out, ByteView piece, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<std::uint8_t>(piece.size() >> (8 * i)));
  Append(out, piece);
}

namespace {

crypto::Digest LabelDigest(std::string_view label) {
  return crypto::Hash({AsBytes("hearth-fuzz/fixed-key/"), AsBytes(label)});
}

// The seeded stream: request number `count` of `size` bytes is the ChaCha20
// keystream under a fixed key, with (size, count) as the nonce. Counting per
// size keeps a sequence of requests stable when unrelated requests of other
// sizes come and go (libsodium draws a few on its own).
struct SeededRandom {
  static inline std::map<std::size_t, std::uint32_t> counts;

  static void Buf(void* out, std::size_t size) {
    static const std::array<std::uint8_t, crypto_stream_chacha20_KEYBYTES> key = [] {
      std::array<std::uint8_t, crypto_stream_chacha20_KEYBYTES> k{};
      constexpr std::string_view kLabel = "hearth-fuzz/seeded-random";
      crypto_generichash(k.data(), k.size(), reinterpret_cast<const unsigned char*>(kLabel.data()),
                         kLabel.size(), nullptr, 0);
      return k;
    }();
    std::array<std::uint8_t, crypto_stream_chacha20_NONCEBYTES> nonce{};
    const std::uint32_t n = counts[size]++;
    const auto size32 = static_cast<std::uint32_t>(size);
    std::memcpy(nonce.data(), &size32, 4);
    std::memcpy(nonce.data() + 4, &n, 4);
    crypto_stream_chacha20(static_cast<unsigned char*>(out), size, nonce.data(), key.data());
  }
  static std::uint32_t Random() {
    std::uint32_t v = 0;
    Buf(&v, sizeof v);
    return v;
  }
  static const char* Name() { return "hearth-fuzz-seeded"; }
};

randombytes_implementation seeded_implementation = {&SeededRandom::Name, &SeededRandom::Random, nullptr,
                                                    nullptr, &SeededRandom::Buf, nullptr};

std::vector<std::filesystem::path>& DirsToRemove() {
  static std::vector<std::filesystem::path> dirs;
  return dirs;
}

void RemoveScratchDirs() {
  for (const auto& d : DirsToRemove()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

}  // namespace

crypto::DhKey FixedDhKey(std::string_view label) {
  const crypto::Digest d = LabelDigest(label);
  return *crypto::DhKey::FromSecret(d);
}

crypto::SymmetricKey FixedSymmetricKey(std::string_view label) {
  const crypto::Digest d = LabelDigest(label);
  return *crypto::SymmetricKey::FromBytes(d);
}

crypto::SigningKey FixedSigningKey(std::string_view label) {
  return crypto::SigningKey::FromSeed(FixedSymmetricKey(label));
}

void InstallSeededRandom() {
  if (randombytes_set_implementation(&seeded_implementation) != 0) {
    PropertyFailed(__FILE__, __LINE__, "libsodium refused the seeded randombytes implementation");
  }
}

void ResetSeededRandom() { SeededRandom::counts.clear(); }

std::filesystem::path ScratchDir(std::string_view name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  const fs::path dir = base / ("hearth-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  if (DirsToRemove().empty()) std::atexit(&RemoveScratchDirs);
  DirsToRemove().push_back(dir);
  return dir;
}

Result<noise::Handshake> StartFixedHandshake(noise::Pattern pattern, noise::Role role) {
  static const crypto::DhKey initiator_static = FixedDhKey("initiator-static");
  static const crypto::DhKey responder_static = FixedDhKey("responder-static");
  const bool initiator = role == noise::Role::kInitiator;
  noise::HandshakeConfig config;
  config.pattern = pattern;
  config.role = role;
  const bool has_static = !(initiator && pattern == noise::Pattern::kNK);
  config.static_key = has_static ? (initiator ? &initiator_static : &responder_static) : nullptr;
  if (pattern == noise::Pattern::kXXpsk3) config.psk = FixedSymmetricKey("psk");
  const std::string_view prologue = "hearth-fuzz/prologue";
  config.prologue.assign(prologue.begin(), prologue.end());
  config.fixed_ephemeral = FixedDhKey(initiator ? "initiator-ephemeral" : "responder-ephemeral");
  const bool responder_known = pattern == noise::Pattern::kNK || pattern == noise::Pattern::kIK ||
                               pattern == noise::Pattern::kKK;
  if (initiator && responder_known) config.remote_static = responder_static.public_key();
  if (!initiator && pattern == noise::Pattern::kKK) config.remote_static = initiator_static.public_key();
  return noise::Handshake::Start(std::move(config));
}

ByteView FixedPayload() { return AsBytes("hearth-fuzz/payload"); }

Result<FixedTransports> MakeFixedTransports() {
  HEARTH_ASSIGN_OR_RETURN(noise::Handshake i, StartFixedHandshake(noise::Pattern::kNK, noise::Role::kInitiator));
  HEARTH_ASSIGN_OR_RETURN(noise::Handshake r, StartFixedHandshake(noise::Pattern::kNK, noise::Role::kResponder));
  while (!i.Finished() || !r.Finished()) {
    noise::Handshake& writer = i.IsMyTurn() ? i : r;
    noise::Handshake& reader = i.IsMyTurn() ? r : i;
    HEARTH_ASSIGN_OR_RETURN(Bytes message, writer.WriteMessage(FixedPayload()));
    HEARTH_TRY(reader.ReadMessage(message));
  }
  HEARTH_ASSIGN_OR_RETURN(noise::Handshake::Transport ti, i.Split());
  HEARTH_ASSIGN_OR_RETURN(noise::Handshake::Transport tr, r.Split());
  return FixedTransports{std::move(ti), std::move(tr)};
}

}  // namespace hearth::fuzz
