// Fuzz target: the Noise handshake and transport decryption of net/noise.h,
// for every pattern (XX, XXpsk3 and NK, which Hearth uses, and IK and KK)
// and both roles, with the fixed keys of fuzz_support.h so that a run is
// deterministic and a seed made by make_corpus replays a whole handshake.
//
// Input: a byte choosing the pattern and the role under test, then pieces
// (2-byte length each). While the handshake runs, this side writes its
// messages itself and reads each of the peer's from the next piece; once it
// is finished, each further piece is a transport message for its receiving
// CipherState.
//
// Checked on every input: a failure caused by the peer's bytes is kAuth
// and kills the handshake (every later call is kRefused); a call out of
// turn is kRefused and changes nothing; a finished handshake knows the
// peer's static key (except NK's responder) and splits exactly once; a
// transport message moves the nonce exactly when it decrypts.
#include <cstdlib>

#include "tests/fuzz/fuzz_support.h"

namespace hearth::fuzz {
namespace {

namespace noise = net::noise;

constexpr noise::Pattern kPatterns[] = {noise::Pattern::kXX, noise::Pattern::kXXpsk3, noise::Pattern::kNK,
                                        noise::Pattern::kIK, noise::Pattern::kKK};

void CheckDead(noise::Handshake& hs) {
  HEARTH_FUZZ_CHECK(hs.Failed() && !hs.Finished() && !hs.IsMyTurn(), "a failed handshake looks alive");
  HEARTH_FUZZ_CHECK(!hs.RemoteStatic().has_value(), "a failed handshake still names the peer's key");
  auto w = hs.WriteMessage({});
  HEARTH_FUZZ_CHECK(!w.ok() && w.error().code == Errc::kRefused, "a failed handshake wrote a message");
  auto r = hs.ReadMessage({});
  HEARTH_FUZZ_CHECK(!r.ok() && r.error().code == Errc::kRefused, "a failed handshake read a message");
  auto s = hs.Split();
  HEARTH_FUZZ_CHECK(!s.ok() && s.error().code == Errc::kRefused, "a failed handshake split");
}

void Run(ByteView data) {
  Pieces pieces(data, 2);
  const std::uint8_t selector = pieces.Byte().value_or(0);
  const noise::Pattern pattern = kPatterns[selector % 5];
  const noise::Role role = (selector / 5) % 2 == 0 ? noise::Role::kInitiator : noise::Role::kResponder;
  auto started = StartFixedHandshake(pattern, role);
  HEARTH_FUZZ_CHECK(started.ok(), "a fixed handshake did not start");
  noise::Handshake& hs = *started;

  while (!hs.Finished()) {
    if (hs.IsMyTurn()) {
      auto out_of_turn = hs.ReadMessage(FixedPayload());
      HEARTH_FUZZ_CHECK(!out_of_turn.ok() && out_of_turn.error().code == Errc::kRefused,
                        "a read out of turn was not refused");
      HEARTH_FUZZ_CHECK(!hs.Failed() && hs.IsMyTurn(), "a read out of turn changed the handshake");
      auto written = hs.WriteMessage(FixedPayload());
      if (!written.ok()) {
        // Only the peer's key can make writing fail (a low-order point).
        HEARTH_FUZZ_CHECK(written.error().code == Errc::kAuth, "writing failed without the peer's doing");
        CheckDead(hs);
        return;
      }
      HEARTH_FUZZ_CHECK(written->size() <= noise::kMaxMessageSize, "a handshake message is too large");
      continue;
    }
    auto piece = pieces.Next();
    if (!piece) return;
    auto out_of_turn = hs.WriteMessage({});
    HEARTH_FUZZ_CHECK(!out_of_turn.ok() && out_of_turn.error().code == Errc::kRefused,
                      "a write out of turn was not refused");
    auto payload = hs.ReadMessage(*piece);
    if (!payload.ok()) {
      HEARTH_FUZZ_CHECK(payload.error().code == Errc::kAuth, "a bad peer message was not kAuth");
      CheckDead(hs);
      return;
    }
    HEARTH_FUZZ_CHECK(payload->size() <= piece->size(), "a payload is longer than its message");
  }

  const bool anonymous_peer = pattern == noise::Pattern::kNK && role == noise::Role::kResponder;
  HEARTH_FUZZ_CHECK(hs.RemoteStatic().has_value() != anonymous_peer, "the peer's static key is wrong");
  HEARTH_FUZZ_CHECK(hs.HandshakeHash().size() == noise::kHashSize, "the handshake hash has the wrong size");
  auto late = hs.ReadMessage({});
  HEARTH_FUZZ_CHECK(!late.ok() && late.error().code == Errc::kRefused, "a finished handshake read on");
  auto transport = hs.Split();
  HEARTH_FUZZ_CHECK(transport.ok(), "a finished handshake did not split");
  auto again = hs.Split();
  HEARTH_FUZZ_CHECK(!again.ok() && again.error().code == Errc::kRefused, "a handshake split twice");

  noise::CipherState& receive = transport->receive;
  while (auto piece = pieces.Next()) {
    const std::uint64_t before = receive.nonce();
    auto plain = receive.Decrypt({}, *piece);
    if (plain.ok()) {
      HEARTH_FUZZ_CHECK(receive.nonce() == before + 1, "a decrypted message did not move the nonce");
      HEARTH_FUZZ_CHECK(plain->size() + crypto::kTagSize == piece->size(), "a plaintext has the wrong size");
    } else {
      HEARTH_FUZZ_CHECK(plain.error().code == Errc::kIntegrity, "a bad transport message was not kIntegrity");
      HEARTH_FUZZ_CHECK(receive.nonce() == before, "a message that failed moved the nonce");
    }
  }
  // The sending side keeps working whatever was received.
  auto sealed = transport->send.Encrypt({}, FixedPayload());
  HEARTH_FUZZ_CHECK(sealed.ok(), "the sending CipherState failed");
}

}  // namespace
}  // namespace hearth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!hearth::crypto::Init().ok()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hearth::fuzz::Run(hearth::ByteView(data, size));
  return 0;
}
