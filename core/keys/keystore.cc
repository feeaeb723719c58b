#include "core/keys/keystore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth::keys {

namespace {

constexpr std::string_view kMagic = "HEARTHK1";
constexpr std::uint8_t kModePlain = 0;
constexpr std::uint8_t kModeArgon2id = 1;
// Bundle: sign(64) dh(32) space(32) member(32) local(32) member_id(8 LE) space_id(16)
constexpr std::size_t kBundleSize = 64 + 32 + 32 + 32 + 32 + 8 + 16;
constexpr std::size_t kWrapHeader = 8 + 1 + crypto::kSaltSize + 8 + 8 + crypto::kNonceSize;
constexpr std::size_t kMaxFile = 4096;

crypto::SecretBytes EncodeBundle(const DeviceKeys& k) {
  crypto::SecretBytes b(kBundleSize);
  std::uint8_t* p = b.data();
  auto put = [&p](ByteView v) {
    std::memcpy(p, v.data(), v.size());
    p += v.size();
  };
  put(k.sign.secret());
  put(k.dh.secret());
  put(k.space_key.view());
  put(k.member_key.view());
  put(k.local_key.view());
  for (int i = 0; i < 8; ++i) *p++ = static_cast<std::uint8_t>(k.member_id >> (8 * i));
  put(k.space_id);
  return b;
}

Result<DeviceKeys> DecodeBundle(ByteView b) {
  auto damaged = MakeError(Errc::kIntegrity, "The key file is damaged.");
  if (b.size() != kBundleSize) return damaged;
  auto sign = crypto::SigningKey::FromSecret(b.subspan(0, 64));
  auto dh = crypto::DhKey::FromSecret(b.subspan(64, 32));
  auto space = crypto::SymmetricKey::FromBytes(b.subspan(96, 32));
  auto member = crypto::SymmetricKey::FromBytes(b.subspan(128, 32));
  auto local = crypto::SymmetricKey::FromBytes(b.subspan(160, 32));
  if (!sign || !dh || !space || !member || !local) return damaged;
  DeviceKeys k{std::move(*sign), std::move(*dh), std::move(*space), std::move(*member),
               std::move(*local), GetU64Le(b.data() + 192), {}};
  std::memcpy(k.space_id.data(), b.data() + 200, 16);
  return k;
}

Error IoError(const std::filesystem::path& file, const char* what) {
  const int err = errno;
  if (err == ENOSPC || err == EDQUOT) {
    return MakeError(Errc::kStorage, "The disk is full: could not " + std::string(what) + " " +
                                         file.string() + ".");
  }
  return MakeError(Errc::kStorage, "Could not " + std::string(what) + " " + file.string() + ": " +
                                       std::strerror(err) + ".");
}

// Reads the whole (small) file into locked memory.
Result<crypto::SecretBytes> ReadFile(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return MakeError(Errc::kNotFound, "No key file at " + file.string() + ".");
    return IoError(file, "read");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0 || static_cast<std::size_t>(st.st_size) > kMaxFile) {
    ::close(fd);
    return MakeError(Errc::kIntegrity, "The key file is damaged.");
  }
  crypto::SecretBytes buf(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return IoError(file, "read");
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return buf;
}

Status WriteAtomically(const std::filesystem::path& file, ByteView a, ByteView b) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(tmp, "create");
  for (ByteView part : {a, b}) {
    std::size_t done = 0;
    while (done < part.size()) {
      ssize_t n = ::write(fd, part.data() + done, part.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error e = IoError(tmp, "write");
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
      }
      done += static_cast<std::size_t>(n);
    }
  }
  if (::fsync(fd) != 0) {
    Error e = IoError(tmp, "write");
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    Error e = IoError(file, "write");
    ::unlink(tmp.c_str());
    return e;
  }
  int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace

DeviceKeys GenerateForNewSpace() {
  DeviceKeys k{crypto::SigningKey::Generate(), crypto::DhKey::Generate(),
               crypto::SymmetricKey::Generate(), crypto::SymmetricKey::Generate(),
               crypto::SymmetricKey::Generate(), 0, {}};
  do {
    k.member_id = crypto::RandomU64();
  } while (k.member_id == 0);
  crypto::RandomBytes(k.space_id);
  return k;
}

Status Save(const std::filesystem::path& file, const DeviceKeys& keys,
            const std::optional<crypto::SecretBytes>& passphrase, crypto::PwhashParams params) {
  crypto::SecretBytes bundle = EncodeBundle(keys);
  Bytes header;
  Append(header, AsBytes(kMagic));
  if (!passphrase) {
    header.push_back(kModePlain);
    return WriteAtomically(file, header, bundle.view());
  }
  header.push_back(kModeArgon2id);
  std::array<std::uint8_t, crypto::kSaltSize> salt;
  crypto::RandomBytes(salt);
  Append(header, salt);
  PutU64Le(header, params.ops_limit);
  PutU64Le(header, params.mem_limit);
  crypto::Nonce nonce = crypto::RandomNonce();
  Append(header, nonce);
  HEARTH_ASSIGN_OR_RETURN(crypto::SymmetricKey wrap,
                          crypto::KeyFromPassphrase(passphrase->view(), salt, params));
  Bytes sealed = crypto::Seal(wrap, nonce, bundle.view(), header);
  return WriteAtomically(file, header, sealed);
}

Result<bool> NeedsPassphrase(const std::filesystem::path& file) {
  HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes raw, ReadFile(file));
  if (raw.size() < kMagic.size() + 1 || AsChars(raw.view().subspan(0, 8)) != kMagic) {
    return MakeError(Errc::kIntegrity, "The key file is damaged.");
  }
  return raw.data()[8] == kModeArgon2id;
}

Result<DeviceKeys> Load(const std::filesystem::path& file,
                        const std::optional<crypto::SecretBytes>& passphrase) {
  HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes raw, ReadFile(file));
  ByteView v = raw.view();
  auto damaged = MakeError(Errc::kIntegrity, "The key file is damaged.");
  if (v.size() < kMagic.size() + 1 || AsChars(v.subspan(0, 8)) != kMagic) return damaged;
  const std::uint8_t mode = v[8];
  if (mode == kModePlain) return DecodeBundle(v.subspan(9));
  if (mode != kModeArgon2id) return damaged;
  if (v.size() != kWrapHeader + kBundleSize + crypto::kTagSize) return damaged;
  if (!passphrase) {
    return MakeError(Errc::kAuth, "This space is protected by a passphrase, and none was given.");
  }
  ByteView salt = v.subspan(9, crypto::kSaltSize);
  const crypto::PwhashParams params{GetU64Le(v.data() + 25), GetU64Le(v.data() + 33)};
  crypto::Nonce nonce;
  std::memcpy(nonce.data(), v.data() + 41, nonce.size());
  HEARTH_ASSIGN_OR_RETURN(crypto::SymmetricKey wrap,
                          crypto::KeyFromPassphrase(passphrase->view(), salt, params));
  auto bundle = crypto::OpenSecret(wrap, nonce, v.subspan(kWrapHeader), v.subspan(0, kWrapHeader));
  if (!bundle) return MakeError(Errc::kAuth, "The passphrase is wrong.");
  return DecodeBundle(bundle->view());
}

}  // namespace hearth::keys
