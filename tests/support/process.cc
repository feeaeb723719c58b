#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace hearth::testing {

namespace {

std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) {
    if (v == "\x01unset") {
      all.erase(k);
    } else {
      all[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

// argv and envp for execve, built before fork: between fork and exec the
// child of a multi-threaded process may only call async-signal-safe
// functions, and allocating there can deadlock (it does under ASan, whose
// allocator lock another thread may hold at the fork).
class ExecArgs {
 public:
  ExecArgs(const std::vector<std::string>& argv, const std::vector<std::string>& env) : argv_(argv), env_(env) {
    for (auto& s : argv_) a_.push_back(s.data());
    a_.push_back(nullptr);
    for (auto& s : env_) e_.push_back(s.data());
    e_.push_back(nullptr);
  }
  // Async-signal-safe.
  [[noreturn]] void Exec() const {
    ::execve(a_[0], a_.data(), e_.data());
    ::_exit(127);
  }

 private:
  std::vector<std::string> argv_, env_;
  std::vector<char*> a_, e_;
};

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, const std::string& stdin_text,
                         bool stdin_is_null) {
  const ExecArgs exec(argv, BuildEnv(env));
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    std::abort();
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    if (stdin_is_null) {
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
    } else {
      ::dup2(in[0], 0);
    }
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::setsid();  // no controlling terminal: /dev/tty is unavailable, as in CI
    exec.Exec();
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  if (stdin_text.empty()) {
    ::close(in[1]);
    in[1] = -1;
  } else {
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  ProcessResult r;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in[1]) {
        ssize_t w = ::write(in[1], stdin_text.data() + written, stdin_text.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written == stdin_text.size()) {
          ::close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      char buf[8192];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (fds[i].fd == out[0]) out_open = false;
        if (fds[i].fd == err[0]) err_open = false;
        continue;
      }
      (fds[i].fd == out[0] ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
    }
  }
  if (in[1] >= 0) ::close(in[1]);
  ::close(out[0]);
  ::close(err[0]);
  r.exit_code = WaitChild(pid);
  return r;
}

Child SpawnChild(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  const ExecArgs exec(argv, BuildEnv(env));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    exec.Exec();
  }
  ::close(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  return Child{pid, out[0]};
}

std::string DrainNonBlocking(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

int WaitChild(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return DecodeStatus(status);
}

}  // namespace hearth::testing
