#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "core/crypto/crypto.h"

namespace hearth::crypto {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Init().ok()); }
};

TEST_F(CryptoTest, SealOpenAndEveryTamperingFails) {
  auto key = SymmetricKey::Generate();
  auto nonce = RandomNonce();
  const std::string msg = "we walked by the river";
  Bytes ad = {1, 2, 3};
  Bytes ct = Seal(key, nonce, AsBytes(msg), ad);
  auto pt = Open(key, nonce, ct, ad);
  ASSERT_TRUE(pt);
  EXPECT_EQ(AsChars(*pt), msg);
  for (std::size_t i = 0; i < ct.size(); ++i) {
    Bytes bad = ct;
    bad[i] ^= 0x01;
    EXPECT_FALSE(Open(key, nonce, bad, ad)) << "flip at " << i;
  }
  Bytes bad_ad = {1, 2, 4};
  EXPECT_FALSE(Open(key, nonce, ct, bad_ad));
  EXPECT_FALSE(Open(SymmetricKey::Generate(), nonce, ct, ad));
  EXPECT_FALSE(Open(key, nonce, ByteView(ct).subspan(0, 5), ad));
}

TEST_F(CryptoTest, SignaturesBindKeyAndMessage) {
  auto a = SigningKey::Generate();
  auto b = SigningKey::Generate();
  Bytes m = {9, 9, 9};
  auto sig = a.Sign(m);
  EXPECT_TRUE(VerifySignature(a.public_key(), m, sig));
  EXPECT_FALSE(VerifySignature(b.public_key(), m, sig));
  m[0] ^= 1;
  EXPECT_FALSE(VerifySignature(a.public_key(), m, sig));
}

TEST_F(CryptoTest, SigningKeyFromSecretRejectsMismatchedHalves) {
  auto a = SigningKey::Generate();
  auto restored = SigningKey::FromSecret(a.secret());
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->public_key(), a.public_key());
  Bytes damaged(a.secret().begin(), a.secret().end());
  damaged[40] ^= 1;  // the embedded public half
  EXPECT_FALSE(SigningKey::FromSecret(damaged));
  EXPECT_FALSE(SigningKey::FromSecret(ByteView(damaged).subspan(0, 10)));
}

TEST_F(CryptoTest, DerivedKeysDifferByContextAndId) {
  auto k = SymmetricKey::Generate();
  auto a = k.Derive(1, "hrecord1");
  auto b = k.Derive(1, "hitems01");
  auto c = k.Derive(2, "hrecord1");
  auto a2 = k.Derive(1, "hrecord1");
  EXPECT_FALSE(SecureEqual(a.view(), b.view()));
  EXPECT_FALSE(SecureEqual(a.view(), c.view()));
  EXPECT_TRUE(SecureEqual(a.view(), a2.view()));
}

TEST_F(CryptoTest, PassphraseKeyIsDeterministicAndRefusesWeakLimits) {
  std::array<std::uint8_t, kSaltSize> salt{};
  auto p = InteractivePwhash();
  auto k1 = KeyFromPassphrase(AsBytes("correct horse"), salt, p);
  auto k2 = KeyFromPassphrase(AsBytes("correct horse"), salt, p);
  auto k3 = KeyFromPassphrase(AsBytes("correct hors"), salt, p);
  ASSERT_TRUE(k1.ok() && k2.ok() && k3.ok());
  EXPECT_TRUE(SecureEqual(k1->view(), k2->view()));
  EXPECT_FALSE(SecureEqual(k1->view(), k3->view()));
  auto weak = KeyFromPassphrase(AsBytes("x"), salt, {1, 8192});
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.error().code, Errc::kIntegrity);
}

TEST_F(CryptoTest, NoncesAreDistinctAcrossManyDrawsAndAcrossFork) {
  std::set<Nonce> seen;
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(seen.insert(RandomNonce()).second);  // spans pool refills
  // The pool now holds unspent bytes; a forked child must not hand them out again.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const Nonce n = RandomNonce();
    const bool ok = ::write(fds[1], n.data(), n.size()) == static_cast<ssize_t>(n.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  const Nonce mine = RandomNonce();
  Nonce child{};
  ASSERT_EQ(::read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_NE(child, mine);
}

TEST_F(CryptoTest, SecretBytesMoveLeavesSourceEmpty) {
  SecretBytes a(AsBytes("secret"));
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(AsChars(b.view()), "secret");
}

}  // namespace
}  // namespace hearth::crypto
