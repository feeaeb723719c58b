// hearth::base — the error currency shared by every layer.
//
// A Result<T> holds either a value or an Error. An Error carries a code, which
// decides the process exit status at the CLI edge, and a one-sentence message
// a person can act on. Exceptions from libraries (SQLite, Protobuf) are caught
// at the module edge that calls them and turned into an Error there.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace hearth {

enum class Errc {
  kInvalidInput = 1,  // the user's input is malformed or out of range (exit 1)
  kNotFound,          // no such item, home or file (exit 1)
  kAmbiguous,         // an id prefix matches several items (exit 1)
  kRefused,           // a valid request that the current state does not allow (exit 1)
  kStorage,           // the disk or the database failed (disk full, I/O error) (exit 1)
  kNetwork,           // a peer or the network failed (exit 3)
  kAuth,              // wrong passphrase or unknown device (exit 4)
  kIntegrity,         // stored or received data failed a check: tampering or corruption (exit 4)
  kInternal,          // a bug: an invariant did not hold (exit 1)
};

struct Error {
  Errc code;
  std::string message;
};

// Exit status for an error, as promised by docs/user-guide.md.
constexpr int ExitCode(Errc code) {
  switch (code) {
    case Errc::kNetwork:
      return 3;
    case Errc::kAuth:
    case Errc::kIntegrity:
      return 4;
    default:
      return 1;
  }
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}     // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{Errc::kInternal, {}};
  bool ok_ = true;
};

using Status = Result<void>;

inline Error MakeError(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace hearth

// Propagates the error of a Result-returning expression; otherwise evaluates to nothing.
#define HEARTH_TRY(expr)                          \
  do {                                            \
    auto hearth_try_result_ = (expr);             \
    if (!hearth_try_result_.ok()) {               \
      return hearth_try_result_.error();          \
    }                                             \
  } while (false)

#define HEARTH_CONCAT_INNER(a, b) a##b
#define HEARTH_CONCAT(a, b) HEARTH_CONCAT_INNER(a, b)

// Declares `lhs` from the value of a Result-returning expression, or returns its error.
#define HEARTH_ASSIGN_OR_RETURN(lhs, expr) \
  HEARTH_ASSIGN_OR_RETURN_IMPL(HEARTH_CONCAT(hearth_result_, __LINE__), lhs, expr)
#define HEARTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.error();                 \
  lhs = std::move(tmp).value()

// The same two, for coroutines (co_return instead of return).
#define HEARTH_CO_TRY(expr)                       \
  do {                                            \
    auto hearth_try_result_ = (expr);             \
    if (!hearth_try_result_.ok()) {               \
      co_return hearth_try_result_.error();       \
    }                                             \
  } while (false)
