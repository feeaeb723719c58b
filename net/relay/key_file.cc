#include "net/relay/key_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth::relay {

namespace {

Error IoError(const std::filesystem::path& file, const char* what) {
  return MakeError(Errc::kStorage, std::string("Could not ") + what + " " + file.string() + ": " +
                                       std::strerror(errno) + ".");
}

}  // namespace

Result<crypto::DhKey> LoadOrCreateKey(const std::filesystem::path& dir) {
  HEARTH_TRY(crypto::Init());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return MakeError(Errc::kStorage, "Could not create " + dir.string() + ": " + ec.message() + ".");
  const auto file = dir / "relay.key";
  crypto::SecretBytes secret(crypto::kKeySize);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::uint8_t extra = 0;
    const ssize_t n = ::read(fd, secret.data(), secret.size());
    const ssize_t more = ::read(fd, &extra, 1);
    ::close(fd);
    if (n != static_cast<ssize_t>(secret.size()) || more != 0) {
      return MakeError(Errc::kIntegrity, file.string() + " is not a relay key (32 bytes); it was left as it is.");
    }
  } else {
    if (errno != ENOENT) return IoError(file, "read");
    crypto::RandomBytes(std::span(secret.data(), secret.size()));
    const auto tmp = dir / "relay.key.tmp";
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return IoError(tmp, "create");
    const bool written = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
                         ::fsync(fd) == 0;
    ::close(fd);
    if (!written || ::rename(tmp.c_str(), file.c_str()) != 0) {
      Error e = IoError(file, "write");
      ::unlink(tmp.c_str());
      return e;
    }
  }
  auto key = crypto::DhKey::FromSecret(secret.view());
  if (!key) return MakeError(Errc::kIntegrity, file.string() + " does not hold a usable key.");
  return std::move(*key);
}

}  // namespace hearth::relay
