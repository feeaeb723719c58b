#include "net/noise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/base/bytes.h"
#include "core/crypto/crypto.h"

#ifndef HEARTH_SHARED_DATA_DIR
#error "HEARTH_SHARED_DATA_DIR must name the folder holding noise-vectors/ (tests/CMakeLists.txt sets it)"
#endif

namespace hearth::net::noise {
namespace {

constexpr char kXXName[] = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
constexpr char kXXpsk3Name[] = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b";
constexpr char kIKName[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
constexpr char kKKName[] = "Noise_KK_25519_ChaChaPoly_BLAKE2b";
// The three-message patterns, which need no key known in advance.
constexpr Pattern kPatterns[] = {Pattern::kXX, Pattern::kXXpsk3};

class NoiseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().ok()); }
};

std::string PatternName(Pattern pattern) {
  switch (pattern) {
    case Pattern::kXX:
      return "XX";
    case Pattern::kXXpsk3:
      return "XXpsk3";
    case Pattern::kNK:
      return "NK";
    case Pattern::kIK:
      return "IK";
    case Pattern::kKK:
      return "KK";
  }
  return "?";
}

Bytes Text(std::string_view s) {
  ByteView b = AsBytes(s);
  return Bytes(b.begin(), b.end());
}

Bytes TestPsk(std::uint8_t fill = 0x42) { return Bytes(crypto::kKeySize, fill); }

// Starts one side with the given keys; `psk` is used only by kXXpsk3.
Handshake Begin(Pattern pattern, Role role, const crypto::DhKey& static_key,
                const Bytes& psk = TestPsk(), const Bytes& prologue = Text("hearth test")) {
  HandshakeConfig config;
  config.pattern = pattern;
  config.role = role;
  config.static_key = &static_key;
  if (pattern == Pattern::kXXpsk3) config.psk = crypto::SymmetricKey::FromBytes(psk);
  config.prologue = prologue;
  Result<Handshake> handshake = Handshake::Start(std::move(config));
  EXPECT_TRUE(handshake.ok()) << handshake.error().message;
  return std::move(handshake).value();
}

// Starts one side of a pattern with a pre-known peer key: `static_key` may
// be null (NK's initiator), `remote` is the peer's static key known in advance.
Handshake BeginKnown(Pattern pattern, Role role, const crypto::DhKey* static_key,
                     std::optional<crypto::PublicKey> remote,
                     const Bytes& prologue = Text("hearth test")) {
  HandshakeConfig config;
  config.pattern = pattern;
  config.role = role;
  config.static_key = static_key;
  config.remote_static = remote;
  config.prologue = prologue;
  Result<Handshake> handshake = Handshake::Start(std::move(config));
  EXPECT_TRUE(handshake.ok()) << handshake.error().message;
  return std::move(handshake).value();
}

// Sends one handshake message from `writer` to `reader`; returns the
// reader's result.
Result<Bytes> Deliver(Handshake& writer, Handshake& reader, ByteView payload) {
  Result<Bytes> message = writer.WriteMessage(payload);
  if (!message.ok()) return message.error();
  return reader.ReadMessage(*message);
}

// A dead handshake refuses everything and forgets the peer.
void ExpectDead(Handshake& handshake) {
  EXPECT_TRUE(handshake.Failed());
  EXPECT_FALSE(handshake.Finished());
  EXPECT_FALSE(handshake.IsMyTurn());
  EXPECT_FALSE(handshake.RemoteStatic().has_value());
  EXPECT_FALSE(handshake.WriteMessage(Text("more")).ok());
  EXPECT_FALSE(handshake.ReadMessage(Bytes(200, 0)).ok());
  EXPECT_FALSE(handshake.Split().ok());
}

// ---- Published vectors --------------------------------------------------------

Bytes HexField(const nlohmann::json& vector, const char* field) {
  std::optional<Bytes> bytes = FromHex(vector.at(field).get<std::string>());
  EXPECT_TRUE(bytes.has_value()) << field << " is not hex";
  return bytes.value_or(Bytes{});
}

// Normalizes a hex string (case) so it can be compared with ToHex output.
std::string NormalHex(const nlohmann::json& value) {
  std::optional<Bytes> bytes = FromHex(value.get<std::string>());
  EXPECT_TRUE(bytes.has_value());
  return ToHex(bytes.value_or(Bytes{}));
}

HandshakeConfig VectorConfig(const nlohmann::json& vector, Pattern pattern, Role role,
                             const crypto::DhKey& static_key) {
  const std::string side = role == Role::kInitiator ? "init" : "resp";
  HandshakeConfig config;
  config.pattern = pattern;
  config.role = role;
  config.static_key = &static_key;
  config.prologue = HexField(vector, (side + "_prologue").c_str());
  config.fixed_ephemeral =
      crypto::DhKey::FromSecret(HexField(vector, (side + "_ephemeral").c_str()));
  EXPECT_TRUE(config.fixed_ephemeral.has_value());
  // Present exactly where the pattern has a pre-message for the peer (IK's
  // initiator, both sides of KK); Start() refuses it anywhere else.
  const std::string remote_field = side + "_remote_static";
  if (vector.contains(remote_field)) {
    const Bytes remote = HexField(vector, remote_field.c_str());
    EXPECT_EQ(remote.size(), crypto::kKeySize);
    if (remote.size() == crypto::kKeySize) {
      crypto::PublicKey key{};
      std::copy(remote.begin(), remote.end(), key.begin());
      config.remote_static = key;
    }
  }
  if (pattern == Pattern::kXXpsk3) {
    // XXpsk3 has a single psk token, so a single psk.
    const nlohmann::json& psks = vector.at(side + "_psks");
    EXPECT_EQ(psks.size(), 1u);
    if (!psks.empty()) {
      std::optional<Bytes> psk = FromHex(psks.at(0).get<std::string>());
      EXPECT_TRUE(psk.has_value());
      config.psk = crypto::SymmetricKey::FromBytes(psk.value_or(Bytes{}));
    }
  }
  return config;
}

// Replays one vector as its README describes: messages alternate initiator,
// responder, ... from the first handshake message through the transport
// messages; the initiator sends with Split()'s first cipher, the responder
// with the second, with empty associated data.
void ReplayVector(const nlohmann::json& vector, Pattern pattern) {
  const bool xx_family = pattern == Pattern::kXX || pattern == Pattern::kXXpsk3;
  const std::size_t kHandshakeMessages = xx_family ? 3 : 2;
  std::optional<crypto::DhKey> init_static =
      crypto::DhKey::FromSecret(HexField(vector, "init_static"));
  std::optional<crypto::DhKey> resp_static =
      crypto::DhKey::FromSecret(HexField(vector, "resp_static"));
  ASSERT_TRUE(init_static && resp_static);
  // The pre-known keys must be the peers' real ones, or the test proves little.
  if (vector.contains("init_remote_static")) {
    EXPECT_EQ(NormalHex(vector.at("init_remote_static")), ToHex(resp_static->public_key()));
  }
  if (vector.contains("resp_remote_static")) {
    EXPECT_EQ(NormalHex(vector.at("resp_remote_static")), ToHex(init_static->public_key()));
  }

  Result<Handshake> initiator =
      Handshake::Start(VectorConfig(vector, pattern, Role::kInitiator, *init_static));
  Result<Handshake> responder =
      Handshake::Start(VectorConfig(vector, pattern, Role::kResponder, *resp_static));
  ASSERT_TRUE(initiator.ok() && responder.ok()) << (initiator.ok() ? "" : initiator.error().message)
                                                << (responder.ok() ? "" : responder.error().message);

  const nlohmann::json& messages = vector.at("messages");
  ASSERT_GE(messages.size(), kHandshakeMessages);
  Handshake* sides[2] = {&*initiator, &*responder};
  for (std::size_t i = 0; i < kHandshakeMessages; ++i) {
    SCOPED_TRACE("handshake message " + std::to_string(i));
    Handshake& writer = *sides[i % 2];
    Handshake& reader = *sides[1 - i % 2];
    const Bytes payload = HexField(messages[i], "payload");
    ASSERT_TRUE(writer.IsMyTurn());
    Result<Bytes> written = writer.WriteMessage(payload);
    ASSERT_TRUE(written.ok()) << written.error().message;
    EXPECT_EQ(ToHex(*written), NormalHex(messages[i].at("ciphertext")));
    Result<Bytes> read = reader.ReadMessage(HexField(messages[i], "ciphertext"));
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(ToHex(*read), ToHex(payload));
  }

  ASSERT_TRUE(initiator->Finished() && responder->Finished());
  EXPECT_FALSE(initiator->IsMyTurn() || responder->IsMyTurn());
  EXPECT_EQ(ToHex(initiator->HandshakeHash()), ToHex(responder->HandshakeHash()));
  if (vector.contains("handshake_hash")) {
    EXPECT_EQ(ToHex(initiator->HandshakeHash()), NormalHex(vector.at("handshake_hash")));
  }
  EXPECT_EQ(initiator->RemoteStatic(), resp_static->public_key());
  EXPECT_EQ(responder->RemoteStatic(), init_static->public_key());

  Result<Handshake::Transport> init_transport = initiator->Split();
  Result<Handshake::Transport> resp_transport = responder->Split();
  ASSERT_TRUE(init_transport.ok() && resp_transport.ok());
  for (std::size_t i = kHandshakeMessages; i < messages.size(); ++i) {
    SCOPED_TRACE("transport message " + std::to_string(i));
    const bool from_initiator = i % 2 == 0;
    CipherState& send = from_initiator ? init_transport->send : resp_transport->send;
    CipherState& receive = from_initiator ? resp_transport->receive : init_transport->receive;
    const Bytes payload = HexField(messages[i], "payload");
    Result<Bytes> sealed = send.Encrypt({}, payload);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(ToHex(*sealed), NormalHex(messages[i].at("ciphertext")));
    Result<Bytes> opened = receive.Decrypt({}, HexField(messages[i], "ciphertext"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(ToHex(*opened), ToHex(payload));
  }
}

TEST_F(NoiseTest, PublishedVectorsMatchByteForByte) {
  const std::string path =
      std::string(HEARTH_SHARED_DATA_DIR) + "/noise-vectors/noise-25519-chachapoly-blake2b.json";
  std::ifstream file(path);
  ASSERT_TRUE(file) << "cannot open " << path;
  const nlohmann::json doc = nlohmann::json::parse(file);

  const std::map<std::string, Pattern> patterns = {{kXXName, Pattern::kXX},
                                                   {kXXpsk3Name, Pattern::kXXpsk3},
                                                   {kIKName, Pattern::kIK},
                                                   {kKKName, Pattern::kKK}};
  std::map<std::string, int> replayed;
  std::size_t total = 0;
  for (const nlohmann::json& vector : doc.at("vectors")) {
    ++total;
    const std::string protocol = vector.at("protocol_name").get<std::string>();
    const auto pattern = patterns.find(protocol);
    if (pattern == patterns.end()) {
      ADD_FAILURE() << "a vector for an unsupported protocol: " << protocol;
      continue;
    }
    const std::string name = vector.value("name", protocol);
    SCOPED_TRACE(name);
    ReplayVector(vector, pattern->second);
    ++replayed[protocol];
    std::cout << "[ vector   ] " << name << " (" << vector.at("messages").size() << " messages)\n";
  }
  for (const auto& [protocol, count] : replayed) {
    std::cout << "[ vectors  ] " << protocol << ": " << count << " run\n";
  }
  // The file's README lists what it holds (cacophony for all four, snow for
  // all but XXpsk3); a vector lost or skipped must not pass silently.
  const std::map<std::string, int> expected = {
      {kXXName, 2}, {kXXpsk3Name, 1}, {kIKName, 2}, {kKKName, 2}};
  EXPECT_EQ(replayed, expected);
  EXPECT_EQ(total, 7u);
}

// ---- Normal use -----------------------------------------------------------------

TEST_F(NoiseTest, RoundTripAgreesOnHashAndStatics) {
  for (Pattern pattern : kPatterns) {
    SCOPED_TRACE(PatternName(pattern));
    const crypto::DhKey alice = crypto::DhKey::Generate();
    const crypto::DhKey bob = crypto::DhKey::Generate();
    Handshake initiator = Begin(pattern, Role::kInitiator, alice);
    Handshake responder = Begin(pattern, Role::kResponder, bob);
    EXPECT_FALSE(initiator.RemoteStatic().has_value());

    const std::vector<Bytes> payloads = {Text("hello"), Text(""), Text("it is me")};
    Handshake* sides[2] = {&initiator, &responder};
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      Result<Bytes> read = Deliver(*sides[i % 2], *sides[1 - i % 2], payloads[i]);
      ASSERT_TRUE(read.ok()) << read.error().message;
      EXPECT_EQ(*read, payloads[i]);
    }

    ASSERT_TRUE(initiator.Finished() && responder.Finished());
    EXPECT_FALSE(initiator.IsMyTurn() || responder.IsMyTurn());
    EXPECT_EQ(initiator.HandshakeHash().size(), kHashSize);
    EXPECT_EQ(ToHex(initiator.HandshakeHash()), ToHex(responder.HandshakeHash()));
    EXPECT_EQ(initiator.RemoteStatic(), bob.public_key());
    EXPECT_EQ(responder.RemoteStatic(), alice.public_key());

    Result<Handshake::Transport> a = initiator.Split();
    Result<Handshake::Transport> b = responder.Split();
    ASSERT_TRUE(a.ok() && b.ok());
    Result<Bytes> to_bob = a->send.Encrypt(Text("ad"), Text("first entry"));
    ASSERT_TRUE(to_bob.ok());
    Result<Bytes> at_bob = b->receive.Decrypt(Text("ad"), *to_bob);
    ASSERT_TRUE(at_bob.ok());
    EXPECT_EQ(*at_bob, Text("first entry"));
    Result<Bytes> to_alice = b->send.Encrypt({}, Text("reply"));
    ASSERT_TRUE(to_alice.ok());
    Result<Bytes> at_alice = a->receive.Decrypt({}, *to_alice);
    ASSERT_TRUE(at_alice.ok());
    EXPECT_EQ(*at_alice, Text("reply"));
    EXPECT_EQ(a->send.nonce(), 1u);
    EXPECT_EQ(b->receive.nonce(), 1u);

    // Taking the keys twice would reuse nonces.
    EXPECT_EQ(initiator.Split().error().code, Errc::kRefused);
  }
}

TEST_F(NoiseTest, StartRefusesIncompleteConfig) {
  const crypto::DhKey key = crypto::DhKey::Generate();
  HandshakeConfig no_key;
  EXPECT_EQ(Handshake::Start(std::move(no_key)).error().code, Errc::kInvalidInput);

  HandshakeConfig no_psk;
  no_psk.pattern = Pattern::kXXpsk3;
  no_psk.static_key = &key;
  EXPECT_EQ(Handshake::Start(std::move(no_psk)).error().code, Errc::kInvalidInput);

  HandshakeConfig stray_psk;
  stray_psk.pattern = Pattern::kXX;
  stray_psk.static_key = &key;
  stray_psk.psk = crypto::SymmetricKey::Generate();
  EXPECT_EQ(Handshake::Start(std::move(stray_psk)).error().code, Errc::kInvalidInput);
}

TEST_F(NoiseTest, OutOfTurnCallsAreRefusedWithoutHarm) {
  for (Pattern pattern : kPatterns) {
    SCOPED_TRACE(PatternName(pattern));
    const crypto::DhKey alice = crypto::DhKey::Generate();
    const crypto::DhKey bob = crypto::DhKey::Generate();
    Handshake initiator = Begin(pattern, Role::kInitiator, alice);
    Handshake responder = Begin(pattern, Role::kResponder, bob);

    EXPECT_EQ(responder.WriteMessage(Text("x")).error().code, Errc::kRefused);
    EXPECT_EQ(initiator.ReadMessage(Bytes(64, 1)).error().code, Errc::kRefused);
    EXPECT_FALSE(initiator.Split().ok());

    Handshake* sides[2] = {&initiator, &responder};
    for (std::size_t i = 0; i < 3; ++i) {
      // The side whose turn it is cannot read, the other cannot write.
      EXPECT_EQ(sides[1 - i % 2]->WriteMessage({}).error().code, Errc::kRefused);
      EXPECT_EQ(sides[i % 2]->ReadMessage(Bytes(100, 0)).error().code, Errc::kRefused);
      ASSERT_TRUE(Deliver(*sides[i % 2], *sides[1 - i % 2], Text("p")).ok());
    }
    for (Handshake* side : sides) {
      EXPECT_TRUE(side->Finished());
      EXPECT_EQ(side->WriteMessage({}).error().code, Errc::kRefused);
      EXPECT_EQ(side->ReadMessage(Bytes(100, 0)).error().code, Errc::kRefused);
    }
  }
}

TEST_F(NoiseTest, HandshakePayloadSizeLimit) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = Begin(Pattern::kXX, Role::kInitiator, alice);
  Handshake responder = Begin(Pattern::kXX, Role::kResponder, bob);
  // XX's first message is e (32 bytes) and the payload in clear.
  EXPECT_EQ(initiator.WriteMessage(Bytes(kMaxMessageSize - 31, 7)).error().code,
            Errc::kInvalidInput);
  EXPECT_FALSE(initiator.Failed());
  Result<Bytes> largest = initiator.WriteMessage(Bytes(kMaxMessageSize - 32, 7));
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->size(), kMaxMessageSize);
  EXPECT_TRUE(responder.ReadMessage(*largest).ok());
}

// ---- The peer misbehaving ----------------------------------------------------

struct Tamper {
  std::string name;
  std::function<void(Bytes&)> apply;
};

std::vector<Tamper> TampersFor(std::size_t size) {
  std::vector<Tamper> tampers;
  const std::set<std::size_t> positions = {0, 1, 31, 32, 33, 48, size / 2, size - 1};
  for (std::size_t pos : positions) {
    if (pos >= size) continue;
    tampers.push_back({"flip byte " + std::to_string(pos), [pos](Bytes& m) { m[pos] ^= 0x01; }});
  }
  tampers.push_back({"drop last byte", [](Bytes& m) { m.pop_back(); }});
  tampers.push_back({"cut to 31 bytes", [](Bytes& m) { m.resize(31); }});
  tampers.push_back({"empty", [](Bytes& m) { m.clear(); }});
  tampers.push_back({"append a byte", [](Bytes& m) { m.push_back(0); }});
  tampers.push_back({"extend past 65535", [](Bytes& m) { m.resize(kMaxMessageSize + 1, 0); }});
  return tampers;
}

TEST_F(NoiseTest, EveryTamperedHandshakeMessageKillsTheHandshake) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  const Bytes payload = Text("a payload of some length");
  int cases = 0;
  for (Pattern pattern : kPatterns) {
    for (std::size_t index = 0; index < 3; ++index) {
      // Learn the size of this message from an honest run.
      std::size_t size = 0;
      {
        Handshake initiator = Begin(pattern, Role::kInitiator, alice);
        Handshake responder = Begin(pattern, Role::kResponder, bob);
        Handshake* sides[2] = {&initiator, &responder};
        for (std::size_t i = 0; i < index; ++i) {
          ASSERT_TRUE(Deliver(*sides[i % 2], *sides[1 - i % 2], payload).ok());
        }
        size = sides[index % 2]->WriteMessage(payload)->size();
      }

      for (const Tamper& tamper : TampersFor(size)) {
        SCOPED_TRACE(PatternName(pattern) + " message " + std::to_string(index) + ": " +
                     tamper.name);
        ++cases;
        Handshake initiator = Begin(pattern, Role::kInitiator, alice);
        Handshake responder = Begin(pattern, Role::kResponder, bob);
        Handshake* sides[2] = {&initiator, &responder};
        for (std::size_t i = 0; i < index; ++i) {
          ASSERT_TRUE(Deliver(*sides[i % 2], *sides[1 - i % 2], payload).ok());
        }
        Handshake& writer = *sides[index % 2];
        Handshake& reader = *sides[1 - index % 2];
        Result<Bytes> message = writer.WriteMessage(payload);
        ASSERT_TRUE(message.ok());
        tamper.apply(*message);
        Result<Bytes> read = reader.ReadMessage(*message);

        // XX's first message has no key yet, so nothing in it is
        // authenticated on arrival: a change that keeps the size plausible
        // is caught by the initiator when the responder's reply (which
        // hashes everything received) fails to decrypt.
        const bool caught_later = pattern == Pattern::kXX && index == 0 && message->size() >= 32 &&
                                  message->size() <= kMaxMessageSize;
        if (caught_later) {
          ASSERT_TRUE(read.ok());
          Result<Bytes> reply = Deliver(responder, initiator, payload);
          ASSERT_FALSE(reply.ok());
          EXPECT_EQ(reply.error().code, Errc::kAuth);
          ExpectDead(initiator);
        } else {
          ASSERT_FALSE(read.ok());
          EXPECT_EQ(read.error().code, Errc::kAuth);
          ExpectDead(reader);
        }
      }
    }
  }
  EXPECT_GT(cases, 50);
}

TEST_F(NoiseTest, WrongPskFailsAtTheThirdMessage) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = Begin(Pattern::kXXpsk3, Role::kInitiator, alice, TestPsk(0x01));
  Handshake responder = Begin(Pattern::kXXpsk3, Role::kResponder, bob, TestPsk(0x02));
  ASSERT_TRUE(Deliver(initiator, responder, Text("one")).ok());
  ASSERT_TRUE(Deliver(responder, initiator, Text("two")).ok());
  Result<Bytes> third = Deliver(initiator, responder, Text("three"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, Errc::kAuth);
  ExpectDead(responder);
}

TEST_F(NoiseTest, PrologueMismatchFails) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = Begin(Pattern::kXX, Role::kInitiator, alice, {}, Text("v1"));
  Handshake responder = Begin(Pattern::kXX, Role::kResponder, bob, {}, Text("v2"));
  ASSERT_TRUE(Deliver(initiator, responder, {}).ok());
  Result<Bytes> second = Deliver(responder, initiator, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kAuth);
  ExpectDead(initiator);
}

// Low-order X25519 points: every DH with them is all zeros.
std::vector<crypto::PublicKey> LowOrderPoints() {
  crypto::PublicKey zero{};
  crypto::PublicKey one{};
  one[0] = 1;
  return {zero, one};
}

TEST_F(NoiseTest, X25519RefusesLowOrderPoints) {
  const crypto::DhKey a = crypto::DhKey::Generate();
  const crypto::DhKey b = crypto::DhKey::Generate();
  for (const crypto::PublicKey& point : LowOrderPoints()) {
    EXPECT_FALSE(crypto::X25519(a, point).has_value());
  }
  std::optional<crypto::SecretBytes> ab = crypto::X25519(a, b.public_key());
  std::optional<crypto::SecretBytes> ba = crypto::X25519(b, a.public_key());
  ASSERT_TRUE(ab && ba);
  EXPECT_TRUE(crypto::SecureEqual(ab->view(), ba->view()));
}

TEST_F(NoiseTest, LowOrderEphemeralFromInitiatorFails) {
  // XX's first message is just "e" in clear, so anyone can forge one; the
  // responder must refuse to compute ee with it.
  const crypto::DhKey bob = crypto::DhKey::Generate();
  for (const crypto::PublicKey& point : LowOrderPoints()) {
    Handshake responder = Begin(Pattern::kXX, Role::kResponder, bob);
    ASSERT_TRUE(responder.ReadMessage(point).ok());
    Result<Bytes> reply = responder.WriteMessage(Text("hi"));
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.error().code, Errc::kAuth);
    ExpectDead(responder);
  }
}

TEST_F(NoiseTest, LowOrderEphemeralFromResponderFails) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  for (Pattern pattern : kPatterns) {
    for (const crypto::PublicKey& point : LowOrderPoints()) {
      SCOPED_TRACE(PatternName(pattern));
      Handshake initiator = Begin(pattern, Role::kInitiator, alice);
      Handshake responder = Begin(pattern, Role::kResponder, bob);
      ASSERT_TRUE(Deliver(initiator, responder, {}).ok());
      Result<Bytes> second = responder.WriteMessage({});
      ASSERT_TRUE(second.ok());
      std::copy(point.begin(), point.end(), second->begin());
      Result<Bytes> read = initiator.ReadMessage(*second);
      ASSERT_FALSE(read.ok());
      EXPECT_EQ(read.error().code, Errc::kAuth);
      ExpectDead(initiator);
    }
  }
}

// ---- Keys known in advance: NK, IK, KK -----------------------------------------

constexpr Pattern kKnownKeyPatterns[] = {Pattern::kNK, Pattern::kIK, Pattern::kKK};

// Both sides of a pattern with pre-known keys, configured as the pattern
// asks: `alice` is the initiator's static key (unused by NK), `bob` the
// responder's.
std::pair<Handshake, Handshake> StartPair(Pattern pattern, const crypto::DhKey& alice,
                                          const crypto::DhKey& bob) {
  const crypto::DhKey* initiator_key = pattern == Pattern::kNK ? nullptr : &alice;
  std::optional<crypto::PublicKey> responder_knows;
  if (pattern == Pattern::kKK) responder_knows = alice.public_key();
  return {BeginKnown(pattern, Role::kInitiator, initiator_key, bob.public_key()),
          BeginKnown(pattern, Role::kResponder, &bob, responder_knows)};
}

// Two finished sides share one session: the same hash, and messages both
// ways through Split()'s ciphers. Nothing more can be written or read.
void ExpectSession(Handshake& initiator, Handshake& responder) {
  ASSERT_TRUE(initiator.Finished() && responder.Finished());
  EXPECT_FALSE(initiator.IsMyTurn() || responder.IsMyTurn());
  EXPECT_EQ(initiator.HandshakeHash().size(), kHashSize);
  EXPECT_EQ(ToHex(initiator.HandshakeHash()), ToHex(responder.HandshakeHash()));
  for (Handshake* side : {&initiator, &responder}) {
    EXPECT_EQ(side->WriteMessage({}).error().code, Errc::kRefused);
    EXPECT_EQ(side->ReadMessage(Bytes(100, 0)).error().code, Errc::kRefused);
  }

  Result<Handshake::Transport> a = initiator.Split();
  Result<Handshake::Transport> b = responder.Split();
  ASSERT_TRUE(a.ok() && b.ok());
  for (int round = 0; round < 2; ++round) {
    Result<Bytes> to_responder = a->send.Encrypt(Text("ad"), Text("to the responder"));
    ASSERT_TRUE(to_responder.ok());
    Result<Bytes> at_responder = b->receive.Decrypt(Text("ad"), *to_responder);
    ASSERT_TRUE(at_responder.ok()) << at_responder.error().message;
    EXPECT_EQ(*at_responder, Text("to the responder"));
    Result<Bytes> to_initiator = b->send.Encrypt({}, Text("to the initiator"));
    ASSERT_TRUE(to_initiator.ok());
    Result<Bytes> at_initiator = a->receive.Decrypt({}, *to_initiator);
    ASSERT_TRUE(at_initiator.ok()) << at_initiator.error().message;
    EXPECT_EQ(*at_initiator, Text("to the initiator"));
  }
  EXPECT_EQ(a->send.nonce(), 2u);
  EXPECT_EQ(b->send.nonce(), 2u);
  // The two directions use different keys.
  EXPECT_NE(*a->send.Encrypt({}, Text("same")), *b->send.Encrypt({}, Text("same")));
  EXPECT_EQ(initiator.Split().error().code, Errc::kRefused);
  EXPECT_EQ(responder.Split().error().code, Errc::kRefused);
}

TEST_F(NoiseTest, NKRoundTripCarriesPayloadsAndTransport) {
  const crypto::DhKey relay = crypto::DhKey::Generate();
  // The client has no static key at all: NK reveals nothing about it.
  Handshake client = BeginKnown(Pattern::kNK, Role::kInitiator, nullptr, relay.public_key());
  Handshake server = BeginKnown(Pattern::kNK, Role::kResponder, &relay, std::nullopt);
  // The client knows whom it talks to before a byte is sent.
  EXPECT_EQ(client.RemoteStatic(), relay.public_key());
  EXPECT_FALSE(server.RemoteStatic().has_value());
  EXPECT_TRUE(client.IsMyTurn());
  EXPECT_FALSE(server.IsMyTurn());
  EXPECT_EQ(server.WriteMessage(Text("x")).error().code, Errc::kRefused);
  EXPECT_FALSE(client.Split().ok());

  const Bytes hello = Text("hello relay");
  Result<Bytes> first = client.WriteMessage(hello);
  ASSERT_TRUE(first.ok()) << first.error().message;
  // e, then the payload encrypted under es: unlike XX, not in clear.
  EXPECT_EQ(first->size(), crypto::kDhSize + hello.size() + crypto::kTagSize);
  EXPECT_EQ(std::search(first->begin(), first->end(), hello.begin(), hello.end()), first->end());
  Result<Bytes> read_first = server.ReadMessage(*first);
  ASSERT_TRUE(read_first.ok()) << read_first.error().message;
  EXPECT_EQ(*read_first, hello);

  const Bytes welcome = Text("welcome");
  Result<Bytes> second = server.WriteMessage(welcome);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->size(), crypto::kDhSize + welcome.size() + crypto::kTagSize);
  Result<Bytes> read_second = client.ReadMessage(*second);
  ASSERT_TRUE(read_second.ok()) << read_second.error().message;
  EXPECT_EQ(*read_second, welcome);

  EXPECT_EQ(client.RemoteStatic(), relay.public_key());
  EXPECT_FALSE(server.RemoteStatic().has_value());  // the client stays anonymous
  ASSERT_NO_FATAL_FAILURE(ExpectSession(client, server));
}

TEST_F(NoiseTest, NKWrongResponderKeyFailsAtTheResponder) {
  const crypto::DhKey relay = crypto::DhKey::Generate();
  const crypto::DhKey someone_else = crypto::DhKey::Generate();
  Handshake client =
      BeginKnown(Pattern::kNK, Role::kInitiator, nullptr, someone_else.public_key());
  Handshake server = BeginKnown(Pattern::kNK, Role::kResponder, &relay, std::nullopt);
  // The first message is encrypted to the key the client believes in, so
  // the wrong server cannot even read it.
  Result<Bytes> read = Deliver(client, server, Text("hello"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, Errc::kAuth);
  ExpectDead(server);
}

TEST_F(NoiseTest, NKPrologueMismatchFailsAtTheFirstMessage) {
  const crypto::DhKey relay = crypto::DhKey::Generate();
  Handshake client =
      BeginKnown(Pattern::kNK, Role::kInitiator, nullptr, relay.public_key(), Text("v1"));
  Handshake server = BeginKnown(Pattern::kNK, Role::kResponder, &relay, std::nullopt, Text("v2"));
  Result<Bytes> read = Deliver(client, server, {});
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, Errc::kAuth);
  ExpectDead(server);
}

TEST_F(NoiseTest, NKHandshakePayloadSizeLimit) {
  const crypto::DhKey relay = crypto::DhKey::Generate();
  Handshake client = BeginKnown(Pattern::kNK, Role::kInitiator, nullptr, relay.public_key());
  Handshake server = BeginKnown(Pattern::kNK, Role::kResponder, &relay, std::nullopt);
  // NK's first message is e (32 bytes), the payload and a tag (16 bytes).
  EXPECT_EQ(client.WriteMessage(Bytes(kMaxMessageSize - 47, 7)).error().code,
            Errc::kInvalidInput);
  EXPECT_FALSE(client.Failed());
  Result<Bytes> largest = client.WriteMessage(Bytes(kMaxMessageSize - 48, 7));
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->size(), kMaxMessageSize);
  EXPECT_TRUE(server.ReadMessage(*largest).ok());
}

TEST_F(NoiseTest, StartChecksPreKnownKeys) {
  const crypto::DhKey key = crypto::DhKey::Generate();
  const crypto::PublicKey peer = crypto::DhKey::Generate().public_key();
  struct Case {
    std::string name;
    Pattern pattern;
    Role role;
    const crypto::DhKey* static_key;
    std::optional<crypto::PublicKey> remote;
    bool accepted;
  };
  const Role kI = Role::kInitiator;
  const Role kR = Role::kResponder;
  const Case cases[] = {
      {"NK initiator", Pattern::kNK, kI, nullptr, peer, true},
      {"NK initiator given an unused static key", Pattern::kNK, kI, &key, peer, true},
      {"NK initiator without the responder's key", Pattern::kNK, kI, nullptr, std::nullopt, false},
      {"NK responder", Pattern::kNK, kR, &key, std::nullopt, true},
      {"NK responder given a peer key", Pattern::kNK, kR, &key, peer, false},
      {"NK responder without a static key", Pattern::kNK, kR, nullptr, std::nullopt, false},
      {"IK initiator", Pattern::kIK, kI, &key, peer, true},
      {"IK initiator without the responder's key", Pattern::kIK, kI, &key, std::nullopt, false},
      {"IK initiator without a static key", Pattern::kIK, kI, nullptr, peer, false},
      {"IK responder", Pattern::kIK, kR, &key, std::nullopt, true},
      {"IK responder given a peer key", Pattern::kIK, kR, &key, peer, false},
      {"KK initiator", Pattern::kKK, kI, &key, peer, true},
      {"KK initiator without the responder's key", Pattern::kKK, kI, &key, std::nullopt, false},
      {"KK initiator without a static key", Pattern::kKK, kI, nullptr, peer, false},
      {"KK responder", Pattern::kKK, kR, &key, peer, true},
      {"KK responder without the initiator's key", Pattern::kKK, kR, &key, std::nullopt, false},
      {"KK responder without a static key", Pattern::kKK, kR, nullptr, peer, false},
      {"XX initiator given a peer key", Pattern::kXX, kI, &key, peer, false},
      {"XX responder given a peer key", Pattern::kXX, kR, &key, peer, false},
      {"XXpsk3 initiator given a peer key", Pattern::kXXpsk3, kI, &key, peer, false},
      {"XXpsk3 responder given a peer key", Pattern::kXXpsk3, kR, &key, peer, false},
      {"XX initiator without a static key", Pattern::kXX, kI, nullptr, std::nullopt, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HandshakeConfig config;
    config.pattern = c.pattern;
    config.role = c.role;
    config.static_key = c.static_key;
    config.remote_static = c.remote;
    // Only XXpsk3 takes a psk; give it one so that only the key is at issue.
    if (c.pattern == Pattern::kXXpsk3) config.psk = crypto::SymmetricKey::Generate();
    Result<Handshake> started = Handshake::Start(std::move(config));
    if (c.accepted) {
      EXPECT_TRUE(started.ok()) << started.error().message;
    } else {
      ASSERT_FALSE(started.ok());
      EXPECT_EQ(started.error().code, Errc::kInvalidInput);
    }
  }

  for (Pattern pattern : kKnownKeyPatterns) {
    SCOPED_TRACE(PatternName(pattern) + " given a psk");
    HandshakeConfig stray_psk;
    stray_psk.pattern = pattern;
    stray_psk.static_key = &key;
    stray_psk.remote_static = peer;
    stray_psk.psk = crypto::SymmetricKey::Generate();
    EXPECT_EQ(Handshake::Start(std::move(stray_psk)).error().code, Errc::kInvalidInput);
  }
}

TEST_F(NoiseTest, IKRoundTripWithFreshKeys) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = BeginKnown(Pattern::kIK, Role::kInitiator, &alice, bob.public_key());
  Handshake responder = BeginKnown(Pattern::kIK, Role::kResponder, &bob, std::nullopt);
  EXPECT_EQ(initiator.RemoteStatic(), bob.public_key());
  EXPECT_FALSE(responder.RemoteStatic().has_value());

  const Bytes first_payload = Text("it is alice");
  Result<Bytes> first = initiator.WriteMessage(first_payload);
  ASSERT_TRUE(first.ok()) << first.error().message;
  // e, then s encrypted (32 + tag), then the payload and its tag.
  EXPECT_EQ(first->size(), crypto::kDhSize + crypto::kDhSize + crypto::kTagSize +
                               first_payload.size() + crypto::kTagSize);
  Result<Bytes> read_first = responder.ReadMessage(*first);
  ASSERT_TRUE(read_first.ok()) << read_first.error().message;
  EXPECT_EQ(*read_first, first_payload);
  // The initiator's static key came in the first message.
  EXPECT_EQ(responder.RemoteStatic(), alice.public_key());

  Result<Bytes> read_second = Deliver(responder, initiator, Text("hi alice"));
  ASSERT_TRUE(read_second.ok()) << read_second.error().message;
  EXPECT_EQ(*read_second, Text("hi alice"));
  EXPECT_EQ(initiator.RemoteStatic(), bob.public_key());
  EXPECT_EQ(responder.RemoteStatic(), alice.public_key());
  ASSERT_NO_FATAL_FAILURE(ExpectSession(initiator, responder));
}

TEST_F(NoiseTest, KKRoundTripWithFreshKeys) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = BeginKnown(Pattern::kKK, Role::kInitiator, &alice, bob.public_key());
  Handshake responder = BeginKnown(Pattern::kKK, Role::kResponder, &bob, alice.public_key());
  // Both keys are known from the start; neither is sent.
  EXPECT_EQ(initiator.RemoteStatic(), bob.public_key());
  EXPECT_EQ(responder.RemoteStatic(), alice.public_key());

  const Bytes first_payload = Text("one");
  Result<Bytes> first = initiator.WriteMessage(first_payload);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), crypto::kDhSize + first_payload.size() + crypto::kTagSize);
  Result<Bytes> read_first = responder.ReadMessage(*first);
  ASSERT_TRUE(read_first.ok()) << read_first.error().message;
  EXPECT_EQ(*read_first, first_payload);
  Result<Bytes> read_second = Deliver(responder, initiator, Text("two"));
  ASSERT_TRUE(read_second.ok()) << read_second.error().message;
  EXPECT_EQ(*read_second, Text("two"));

  EXPECT_EQ(initiator.RemoteStatic(), bob.public_key());
  EXPECT_EQ(responder.RemoteStatic(), alice.public_key());
  ASSERT_NO_FATAL_FAILURE(ExpectSession(initiator, responder));
}

TEST_F(NoiseTest, TwoMessagePatternsTakeTurns) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  for (Pattern pattern : kKnownKeyPatterns) {
    SCOPED_TRACE(PatternName(pattern));
    auto [initiator, responder] = StartPair(pattern, alice, bob);
    Handshake* sides[2] = {&initiator, &responder};
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_FALSE(sides[i % 2]->Finished());
      EXPECT_FALSE(initiator.Split().ok());
      // The side whose turn it is cannot read, the other cannot write.
      EXPECT_EQ(sides[1 - i % 2]->WriteMessage({}).error().code, Errc::kRefused);
      EXPECT_EQ(sides[i % 2]->ReadMessage(Bytes(100, 0)).error().code, Errc::kRefused);
      ASSERT_TRUE(Deliver(*sides[i % 2], *sides[1 - i % 2], Text("p")).ok());
    }
    ASSERT_NO_FATAL_FAILURE(ExpectSession(initiator, responder));
  }
}

TEST_F(NoiseTest, FlippedBytesOfTwoMessagePatternsFail) {
  // Unlike XX, every message here is encrypted under a DH result, so any
  // change is caught by its reader at once. NK, which has no published
  // vectors, gets every byte flipped; IK and KK every seventh (a stride that
  // lands in each field) besides the usual positions, to keep the test fast.
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  const Bytes payload = Text("a payload of some length");
  std::map<std::string, int> cases;
  for (Pattern pattern : kKnownKeyPatterns) {
    for (std::size_t index = 0; index < 2; ++index) {
      std::size_t size = 0;
      {
        auto [initiator, responder] = StartPair(pattern, alice, bob);
        if (index == 1) {
          ASSERT_TRUE(Deliver(initiator, responder, payload).ok());
        }
        size = (index == 0 ? initiator : responder).WriteMessage(payload)->size();
      }
      std::vector<Tamper> tampers = TampersFor(size);
      const std::size_t stride = pattern == Pattern::kNK ? 1 : 7;
      for (std::size_t pos = 0; pos < size; pos += stride) {
        tampers.push_back({"flip byte " + std::to_string(pos), [pos](Bytes& m) { m[pos] ^= 0x01; }});
      }
      for (const Tamper& tamper : tampers) {
        SCOPED_TRACE(PatternName(pattern) + " message " + std::to_string(index) + ": " +
                     tamper.name);
        ++cases[PatternName(pattern)];
        auto [initiator, responder] = StartPair(pattern, alice, bob);
        if (index == 1) {
          ASSERT_TRUE(Deliver(initiator, responder, payload).ok());
        }
        Handshake& writer = index == 0 ? initiator : responder;
        Handshake& reader = index == 0 ? responder : initiator;
        Result<Bytes> message = writer.WriteMessage(payload);
        ASSERT_TRUE(message.ok());
        tamper.apply(*message);
        Result<Bytes> read = reader.ReadMessage(*message);
        ASSERT_FALSE(read.ok());
        EXPECT_EQ(read.error().code, Errc::kAuth);
        ExpectDead(reader);
      }
    }
  }
  // NK: every byte of both 72-byte messages, plus the usual tampers.
  EXPECT_GT(cases["NK"], 2 * 72);
  EXPECT_GT(cases["IK"], 40);
  EXPECT_GT(cases["KK"], 30);
}

TEST_F(NoiseTest, WrongPreKnownKeyFailsAtTheResponder) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  const crypto::DhKey mallory = crypto::DhKey::Generate();
  struct Case {
    std::string name;
    Pattern pattern;
    crypto::PublicKey initiator_believes;  // the responder's key
    std::optional<crypto::PublicKey> responder_believes;  // the initiator's key
  };
  const Case cases[] = {
      {"IK, wrong responder key", Pattern::kIK, mallory.public_key(), std::nullopt},
      {"KK, wrong responder key", Pattern::kKK, mallory.public_key(), alice.public_key()},
      // Caught by ss: es alone would still agree.
      {"KK, wrong initiator key", Pattern::kKK, bob.public_key(), mallory.public_key()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Handshake initiator = BeginKnown(c.pattern, Role::kInitiator, &alice, c.initiator_believes);
    Handshake responder = BeginKnown(c.pattern, Role::kResponder, &bob, c.responder_believes);
    Result<Bytes> read = Deliver(initiator, responder, Text("hello"));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, Errc::kAuth);
    ExpectDead(responder);
  }
}

TEST_F(NoiseTest, LowOrderPreKnownKeysFail) {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  for (const crypto::PublicKey& point : LowOrderPoints()) {
    // The initiator's es with a low-order responder key: refused on writing.
    for (Pattern pattern : kKnownKeyPatterns) {
      SCOPED_TRACE(PatternName(pattern) + " initiator");
      const crypto::DhKey* own = pattern == Pattern::kNK ? nullptr : &alice;
      Handshake initiator = BeginKnown(pattern, Role::kInitiator, own, point);
      Result<Bytes> first = initiator.WriteMessage(Text("hi"));
      ASSERT_FALSE(first.ok());
      EXPECT_EQ(first.error().code, Errc::kAuth);
      ExpectDead(initiator);
    }
    // KK's responder with a low-order initiator key: es succeeds, ss is all
    // zeros and must be refused.
    SCOPED_TRACE("KK responder");
    Handshake initiator = BeginKnown(Pattern::kKK, Role::kInitiator, &alice, bob.public_key());
    Handshake responder = BeginKnown(Pattern::kKK, Role::kResponder, &bob, point);
    Result<Bytes> read = Deliver(initiator, responder, Text("hi"));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, Errc::kAuth);
    ExpectDead(responder);
  }
}

// ---- Transport ------------------------------------------------------------------

// A finished XX session: [0] is the initiator's transport, [1] the responder's.
std::pair<Handshake::Transport, Handshake::Transport> Connected() {
  const crypto::DhKey alice = crypto::DhKey::Generate();
  const crypto::DhKey bob = crypto::DhKey::Generate();
  Handshake initiator = Begin(Pattern::kXX, Role::kInitiator, alice);
  Handshake responder = Begin(Pattern::kXX, Role::kResponder, bob);
  EXPECT_TRUE(Deliver(initiator, responder, {}).ok());
  EXPECT_TRUE(Deliver(responder, initiator, {}).ok());
  EXPECT_TRUE(Deliver(initiator, responder, {}).ok());
  return {std::move(initiator.Split()).value(), std::move(responder.Split()).value()};
}

TEST_F(NoiseTest, TransportRefusesReplayReorderAndTampering) {
  auto [alice, bob] = Connected();
  Result<Bytes> first = alice.send.Encrypt({}, Text("first"));
  Result<Bytes> second = alice.send.Encrypt({}, Text("second"));
  ASSERT_TRUE(first.ok() && second.ok());

  // Reordered: the second cannot be read first, and the failure leaves the
  // counter in place so the right message still opens.
  EXPECT_EQ(bob.receive.Decrypt({}, *second).error().code, Errc::kIntegrity);
  EXPECT_EQ(bob.receive.nonce(), 0u);
  Result<Bytes> got = bob.receive.Decrypt({}, *first);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, Text("first"));

  // Replayed.
  EXPECT_FALSE(bob.receive.Decrypt({}, *first).ok());

  // Tampered, or with other associated data.
  Bytes flipped = *second;
  flipped[0] ^= 0x80;
  EXPECT_FALSE(bob.receive.Decrypt({}, flipped).ok());
  EXPECT_FALSE(bob.receive.Decrypt(Text("ad"), *second).ok());
  EXPECT_FALSE(bob.receive.Decrypt({}, Bytes(crypto::kTagSize - 1, 0)).ok());
  EXPECT_FALSE(bob.receive.Decrypt({}, Bytes(kMaxMessageSize + 1, 0)).ok());
  EXPECT_TRUE(bob.receive.Decrypt({}, *second).ok());

  // A message sent one way cannot be played back the other way.
  Result<Bytes> to_alice = bob.send.Encrypt({}, Text("x"));
  ASSERT_TRUE(to_alice.ok());
  Result<Bytes> echoed = alice.send.Encrypt({}, Text("x"));
  ASSERT_TRUE(echoed.ok());
  EXPECT_NE(*to_alice, *echoed);
}

TEST_F(NoiseTest, TransportRefusesTheReservedNonce) {
  auto [alice, bob] = Connected();
  alice.send.SetNonceForTest(CipherState::kReservedNonce - 1);
  bob.receive.SetNonceForTest(CipherState::kReservedNonce - 1);

  Result<Bytes> last = alice.send.Encrypt({}, Text("last"));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(alice.send.nonce(), CipherState::kReservedNonce);
  EXPECT_EQ(alice.send.Encrypt({}, Text("one too many")).error().code, Errc::kRefused);

  ASSERT_TRUE(bob.receive.Decrypt({}, *last).ok());
  EXPECT_EQ(bob.receive.Decrypt({}, *last).error().code, Errc::kRefused);
}

TEST_F(NoiseTest, TransportMessageSizeLimit) {
  auto [alice, bob] = Connected();
  Result<Bytes> largest = alice.send.Encrypt({}, Bytes(CipherState::kMaxPlaintextSize, 1));
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->size(), kMaxMessageSize);
  EXPECT_TRUE(bob.receive.Decrypt({}, *largest).ok());
  EXPECT_EQ(alice.send.Encrypt({}, Bytes(CipherState::kMaxPlaintextSize + 1, 1)).error().code,
            Errc::kInvalidInput);
}

}  // namespace
}  // namespace hearth::net::noise
