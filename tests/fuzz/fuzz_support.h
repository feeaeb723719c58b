// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.cc) and by the seed
// corpus generator (make_corpus.cc): input splitting, fixed keys, seeded
// randomness and Noise sides with fixed keys. (Loopback TCP is in
// loopback.h, apart, so that targets without sockets compile without Asio.)
//
// Both sides must agree byte for byte: a seed written by make_corpus only
// reaches deep code in a target if the target derives the same keys and
// runs the same handshakes. So every key here is derived from a label, and
// every handshake uses fixed ephemeral keys.
//
// Threading: everything here is for one thread (a fuzz target's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"
#include "net/noise.h"

namespace hearth::fuzz {

// Aborts (so libFuzzer and the replay test both report it) when a property
// that must hold for every input does not.
[[noreturn]] void PropertyFailed(const char* file, int line, const char* what);
#define HEARTH_FUZZ_CHECK(condition, what) \
  do {                                     \
    if (!(condition)) ::hearth::fuzz::PropertyFailed(__FILE__, __LINE__, what); \
  } while (false)

// Reads an input as a sequence of length-prefixed pieces: a big-endian
// length of `width` bytes (1, 2 or 4), then that many bytes. A length past
// the end is clamped to what is left, so every input means something.
class Pieces {
 public:
  Pieces(ByteView data, std::size_t width) : data_(data), width_(width) {}
  // The next piece, or nullopt at the end of the input.
  std::optional<ByteView> Next();
  // One byte, or nullopt at the end.
  std::optional<std::uint8_t> Byte();
  ByteView Rest() const { return data_; }
  bool empty() const { return data_.empty(); }

 private:
  ByteView data_;
  std::size_t width_;
};
// Appends `piece` to `out` the way Pieces reads it.
void AppendPiece(Bytes& out, ByteView piece, std::size_t width);

// Keys derived from a label: the same in every process.
crypto::DhKey FixedDhKey(std::string_view label);
crypto::SymmetricKey FixedSymmetricKey(std::string_view label);
crypto::SigningKey FixedSigningKey(std::string_view label);

// Makes libsodium's random bytes a fixed function of the request sizes made
// since the last ResetSeededRandom(): install before crypto::Init(). Node
// keys and item ids then come out the same in make_corpus and in a target.
void InstallSeededRandom();
void ResetSeededRandom();

// A fresh directory for this process (RAM-backed when /dev/shm exists),
// removed when the process exits normally.
std::filesystem::path ScratchDir(std::string_view name);

// One side of a handshake with the fixed keys of the fuzz harnesses: static
// keys, ephemeral keys, the psk of XXpsk3, the prologue, and the peer's
// static key where the pattern knows it in advance.
Result<net::noise::Handshake> StartFixedHandshake(net::noise::Pattern pattern, net::noise::Role role);
// The payload a fixed side sends in each message it writes.
ByteView FixedPayload();

// The transport of a finished Noise_NK handshake between two fixed sides,
// run in memory: the initiator's (which sends to the receiving side of the
// frames target) and the responder's.
struct FixedTransports {
  net::noise::Handshake::Transport initiator;
  net::noise::Handshake::Transport responder;
};
Result<FixedTransports> MakeFixedTransports();

}  // namespace hearth::fuzz
