#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/feed/record.h"
#include "core/keys/keystore.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().ok()); }
};

TEST_F(FeedTest, ChainSignAndOpen) {
  auto signer = crypto::SigningKey::Generate();
  auto key = feed::RecordKey(crypto::SymmetricKey::Generate());
  const std::string plain = "op batch bytes";
  crypto::Digest zero{};
  auto r1 = feed::Seal(signer, key, feed::Scope::kShared, 1, zero, AsBytes(plain));
  auto h1 = feed::RecordHash(r1.body);
  auto r2 = feed::Seal(signer, key, feed::Scope::kPrivate, 2, h1, AsBytes(plain));
  EXPECT_TRUE(feed::Verify(r1, signer.public_key(), 1, zero).ok());
  EXPECT_TRUE(feed::Verify(r2, signer.public_key(), 2, h1).ok());
  EXPECT_FALSE(feed::Verify(r2, signer.public_key(), 2, zero).ok());  // broken chain
  EXPECT_FALSE(feed::Verify(r2, signer.public_key(), 3, h1).ok());    // wrong place
  auto other = crypto::SigningKey::Generate();
  EXPECT_FALSE(feed::Verify(r1, other.public_key(), 1, zero).ok());  // wrong feed
  auto opened = feed::OpenBody(r2.body, key);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(AsChars(*opened), plain);
}

TEST_F(FeedTest, AFlippedByteAnywhereIsDetected) {
  auto signer = crypto::SigningKey::Generate();
  auto key = feed::RecordKey(crypto::SymmetricKey::Generate());
  crypto::Digest zero{};
  auto r = feed::Seal(signer, key, feed::Scope::kShared, 1, zero, AsBytes("hello there"));
  for (std::size_t i = 0; i < r.body.size(); ++i) {
    auto bad = r;
    bad.body[i] ^= 0x40;
    const bool verified = feed::Verify(bad, signer.public_key(), 1, zero).ok();
    EXPECT_FALSE(verified) << "byte " << i;
  }
  for (std::size_t i = 0; i < r.signature.size(); ++i) {
    auto bad = r;
    bad.signature[i] ^= 0x01;
    EXPECT_FALSE(feed::Verify(bad, signer.public_key(), 1, zero).ok());
  }
}

TEST_F(FeedTest, HeaderBoundsAreChecked) {
  Bytes tiny(10, 0);
  EXPECT_FALSE(feed::ParseHeader(tiny).ok());
  Bytes huge(feed::kMaxBody + 1, 0);
  EXPECT_FALSE(feed::ParseHeader(huge).ok());
  Bytes wrong_version(feed::kHeaderSize + 16, 0);
  wrong_version[0] = 9;
  EXPECT_FALSE(feed::ParseHeader(wrong_version).ok());
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().ok());
    dir_ = fs::temp_directory_path() / ("hearth-keys-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(KeysTest, PassphraseRoundTripWrongPassphraseAndDamage) {
  auto k = keys::GenerateForNewSpace();
  const fs::path f = dir_ / "keys";
  std::optional<crypto::SecretBytes> pass(crypto::SecretBytes(AsBytes("tea at five")));
  ASSERT_TRUE(keys::Save(f, k, pass).ok());
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(*keys::NeedsPassphrase(f));

  auto back = keys::Load(f, pass);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->sign.public_key(), k.sign.public_key());
  EXPECT_EQ(back->member_id, k.member_id);
  EXPECT_EQ(back->space_id, k.space_id);

  std::optional<crypto::SecretBytes> wrong(crypto::SecretBytes(AsBytes("tea at six")));
  auto bad = keys::Load(f, wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kAuth);
  auto none = keys::Load(f, std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kAuth);

  // Truncated file: damaged, not a crash.
  fs::resize_file(f, 30);
  auto truncated = keys::Load(f, pass);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, Errc::kIntegrity);
}

TEST_F(KeysTest, PlainModeHoldsTheSecretsWith0600) {
  auto k = keys::GenerateForNewSpace();
  const fs::path f = dir_ / "keys";
  ASSERT_TRUE(keys::Save(f, k, std::nullopt).ok());
  EXPECT_FALSE(*keys::NeedsPassphrase(f));
  auto back = keys::Load(f, std::nullopt);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(crypto::SecureEqual(back->space_key.view(), k.space_key.view()));
  EXPECT_FALSE(fs::exists(dir_ / "keys.tmp"));
}

}  // namespace
}  // namespace hearth
