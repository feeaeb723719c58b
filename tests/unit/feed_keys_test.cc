#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

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
  ASSERT_TRUE(r.signature.has_value());
  for (std::size_t i = 0; i < r.signature->size(); ++i) {
    auto bad = r;
    (*bad.signature)[i] ^= 0x01;
    EXPECT_FALSE(feed::Verify(bad, signer.public_key(), 1, zero).ok());
  }
}

// A feed of `n` records where only those in `signed_at` (1-based) are signed.
std::vector<feed::Record> MakeFeed(const crypto::SigningKey& signer, const crypto::SymmetricKey& key,
                                   std::size_t n, const std::set<std::size_t>& signed_at) {
  std::vector<feed::Record> out;
  crypto::Digest prev{};
  for (std::size_t seq = 1; seq <= n; ++seq) {
    const std::string plain = "batch " + std::to_string(seq);
    out.push_back(feed::Seal(signer, key, feed::Scope::kShared, seq, prev, AsBytes(plain),
                             signed_at.count(seq) ? feed::Signing::kSign : feed::Signing::kUnsigned));
    prev = feed::RecordHash(out.back().body);
  }
  return out;
}

TEST_F(FeedTest, OneSignatureCoversTheRecordsBeforeIt) {
  auto signer = crypto::SigningKey::Generate();
  auto key = feed::RecordKey(crypto::SymmetricKey::Generate());
  auto records = MakeFeed(signer, key, 10, {4, 10});
  feed::FeedVerifier v(signer.public_key());
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_TRUE(v.Add(records[i]).ok()) << i;
    EXPECT_EQ(v.confirmed(), i + 1 >= 10 ? 10u : i + 1 >= 4 ? 4u : 0u);
    EXPECT_EQ(v.Finish().ok(), i + 1 == 4 || i + 1 == 10) << i;
  }
  // Any flipped byte in an unsigned record breaks the chain at the next record.
  for (std::size_t i : {0u, 50u, 120u}) {
    auto bad = records;
    bad[5].body[i] ^= 0x20;
    feed::FeedVerifier w(signer.public_key());
    bool failed = false;
    for (const auto& r : bad) failed |= !w.Add(r).ok();
    EXPECT_TRUE(failed || !w.Finish().ok()) << i;
  }
  // A signature that does not match its record is caught even mid-feed.
  auto forged = records;
  forged[6].signature = forged[3].signature;
  feed::FeedVerifier w(signer.public_key());
  for (std::size_t i = 0; i < 6; ++i) ASSERT_TRUE(w.Add(forged[i]).ok());
  EXPECT_FALSE(w.Add(forged[6]).ok());
}

TEST_F(FeedTest, UnsignedRunsAreBoundedAndAFeedMustEndSigned) {
  auto signer = crypto::SigningKey::Generate();
  auto key = feed::RecordKey(crypto::SymmetricKey::Generate());
  const std::size_t n = feed::kMaxUnsignedRun + 2;
  // kMaxUnsignedRun unsigned records then a signed one: accepted.
  {
    auto ok = MakeFeed(signer, key, feed::kMaxUnsignedRun + 1, {feed::kMaxUnsignedRun + 1});
    feed::FeedVerifier v(signer.public_key());
    for (const auto& r : ok) ASSERT_TRUE(v.Add(r).ok());
    EXPECT_TRUE(v.Finish().ok());
  }
  // One more unsigned record than allowed: refused at that record.
  {
    auto too_long = MakeFeed(signer, key, n, {n});
    feed::FeedVerifier v(signer.public_key());
    for (std::size_t i = 0; i < feed::kMaxUnsignedRun; ++i) ASSERT_TRUE(v.Add(too_long[i]).ok());
    EXPECT_FALSE(v.Add(too_long[feed::kMaxUnsignedRun]).ok());
  }
  // Stripping the signature from the last record leaves the feed unconfirmed.
  {
    auto tail = MakeFeed(signer, key, 3, {3});
    tail[2].signature.reset();
    feed::FeedVerifier v(signer.public_key());
    for (const auto& r : tail) ASSERT_TRUE(v.Add(r).ok());
    EXPECT_FALSE(v.Finish().ok());
    EXPECT_EQ(v.confirmed(), 0u);
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
