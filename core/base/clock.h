// hearth::base — the clock seam. Core code never reads the system clock
// directly; it is handed a Clock so tests can fix or step time.
#pragma once

#include <cstdint>

namespace hearth {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual std::int64_t NowMs() = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() override;
};

// A clock that returns a set time; Advance() moves it.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(std::int64_t now_ms) : now_ms_(now_ms) {}
  std::int64_t NowMs() override { return now_ms_; }
  void Advance(std::int64_t ms) { now_ms_ += ms; }

 private:
  std::int64_t now_ms_;
};

}  // namespace hearth
