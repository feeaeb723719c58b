#include "cli/terminal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace hearth::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPassphrase = 1024;

Result<std::string> ReadFd(int fd, std::size_t max_bytes, const std::string& what) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(Errc::kInvalidInput, "Could not read " + what + ".");
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      return MakeError(Errc::kInvalidInput, "The text from " + what + " is too long (at most " +
                                                std::to_string(max_bytes) + " bytes).");
    }
  }
  return out;
}

// Reads one line from the terminal without echo into locked memory.
Result<crypto::SecretBytes> AskHidden(const char* prompt) {
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) {
    return MakeError(Errc::kAuth,
                     "This space needs its passphrase: set HEARTH_PASSPHRASE or use "
                     "--passphrase-file.");
  }
  // Echo goes off before the prompt appears: anything typed once the prompt
  // is visible is read, never flushed away or shown.
  termios old {};
  const bool is_tty = ::tcgetattr(tty, &old) == 0;
  if (is_tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  (void)!::write(tty, prompt, std::strlen(prompt));
  crypto::SecretBytes buf(kMaxPassphrase);
  std::size_t len = 0;
  char c = 0;
  while (::read(tty, &c, 1) == 1 && c != '\n' && c != '\r') {
    if (len < buf.size()) buf.data()[len++] = static_cast<std::uint8_t>(c);
  }
  c = 0;
  if (is_tty) ::tcsetattr(tty, TCSANOW, &old);  // keep what was typed ahead after Enter
  (void)!::write(tty, "\n", 1);
  ::close(tty);
  return crypto::SecretBytes(buf.view().subspan(0, len));
}

Result<std::optional<crypto::SecretBytes>> FromFileOrEnv(const std::optional<std::string>& file) {
  if (file) {
    int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return MakeError(Errc::kInvalidInput, "Cannot read the passphrase file " + *file + ".");
    }
    crypto::SecretBytes buf(kMaxPassphrase);
    std::size_t len = 0;
    char c = 0;
    while (::read(fd, &c, 1) == 1 && c != '\n' && c != '\r' && len < buf.size()) {
      buf.data()[len++] = static_cast<std::uint8_t>(c);
    }
    c = 0;
    ::close(fd);
    return std::optional<crypto::SecretBytes>(crypto::SecretBytes(buf.view().subspan(0, len)));
  }
  if (const char* env = std::getenv("HEARTH_PASSPHRASE")) {
    return std::optional<crypto::SecretBytes>(crypto::SecretBytes(AsBytes(env)));
  }
  return std::optional<crypto::SecretBytes>();
}

bool UsableDir(const char* dir) {
  if (dir == nullptr || *dir == '\0') return false;
  struct stat st {};
  return ::stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && ::access(dir, W_OK | X_OK) == 0;
}

}  // namespace

bool StdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

Result<std::string> ReadStdin(std::size_t max_bytes) {
  return ReadFd(STDIN_FILENO, max_bytes, "standard input");
}

Result<std::string> ReadTextFile(const std::string& path, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError(Errc::kNotFound, "Cannot open " + path + ": " + std::strerror(errno) + ".");
  auto r = ReadFd(fd, max_bytes, path);
  ::close(fd);
  return r;
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return MakeError(Errc::kStorage, std::string("Could not ") + what + " " + path + ": " + std::strerror(err) + ".");
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return MakeError(Errc::kStorage, "Could not write " + path + ": " + std::strerror(err) + ".");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("write");
  }
  if (::close(fd) != 0) return fail("write");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("write");
  return {};
}

std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

Result<crypto::SecretBytes> GetPassphrase(const std::optional<std::string>& file) {
  HEARTH_ASSIGN_OR_RETURN(auto given, FromFileOrEnv(file));
  if (given) return std::move(*given);
  return AskHidden("Passphrase: ");
}

Result<crypto::SecretBytes> GetNewPassphrase(const std::optional<std::string>& file) {
  HEARTH_ASSIGN_OR_RETURN(auto given, FromFileOrEnv(file));
  crypto::SecretBytes pass;
  if (given) {
    pass = std::move(*given);
  } else {
    if (!StdinIsTerminal()) {
      return MakeError(Errc::kInvalidInput,
                       "Choose a passphrase: set HEARTH_PASSPHRASE, use --passphrase-file, or "
                       "pass --no-passphrase.");
    }
    auto first = AskHidden("Choose a passphrase: ");
    if (!first.ok()) return MakeError(Errc::kInvalidInput, "Could not read a passphrase from the terminal.");
    HEARTH_ASSIGN_OR_RETURN(crypto::SecretBytes again, AskHidden("Type it again: "));
    if (!crypto::SecureEqual(first->view(), again.view())) {
      return MakeError(Errc::kInvalidInput, "The two passphrases differ; nothing was created.");
    }
    pass = std::move(*first);
  }
  if (pass.empty()) {
    return MakeError(Errc::kInvalidInput,
                     "The passphrase is empty; choose one, or pass --no-passphrase.");
  }
  return pass;
}

Result<std::string> EditInEditor(const std::string& initial, std::size_t max_bytes) {
  std::string base;
  for (const char* candidate :
       std::initializer_list<const char*>{std::getenv("XDG_RUNTIME_DIR"), "/dev/shm"}) {
    if (UsableDir(candidate)) {
      base = candidate;
      break;
    }
  }
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = UsableDir(tmp) ? tmp : "/tmp";
    std::cerr << "hearth: warning: no RAM-backed directory is available; the text you edit is "
                 "kept on disk in "
              << base << " until the editor closes.\n";
  }
  std::string dir_template = base + "/hearth-edit-XXXXXX";
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return MakeError(Errc::kStorage, "Could not create a private folder for the editor in " + base + ".");
  }
  const fs::path dir = dir_template;
  const fs::path file = dir / "hearth.txt";
  auto cleanup = [&] {
    // Overwrite before unlinking, in case the directory is on a disk.
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        std::string zeros(static_cast<std::size_t>(st.st_size), '\0');
        (void)!::write(fd, zeros.data(), zeros.size());
        ::fsync(fd);
      }
      ::close(fd);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  };
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    cleanup();
    return MakeError(Errc::kStorage, "Could not create the editor's file.");
  }
  (void)!::write(fd, initial.data(), initial.size());
  ::close(fd);

  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
  if (editor == nullptr || *editor == '\0') editor = "vi";
  pid_t pid = ::fork();
  if (pid == 0) {
    // $EDITOR may hold arguments ("code --wait"), so a shell splits it.
    const std::string script = std::string(editor) + " \"$1\"";
    ::execl("/bin/sh", "sh", "-c", script.c_str(), "hearth-editor", file.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    cleanup();
    return MakeError(Errc::kInvalidInput, "The editor (" + std::string(editor) +
                                              ") did not finish successfully; nothing was saved.");
  }
  auto text = ReadTextFile(file.string(), max_bytes);
  cleanup();
  return text;
}

}  // namespace hearth::cli
