// Loopback TCP for the fuzz targets that drive the real coroutines of
// net/ (fuzz_frames, fuzz_relay): connected socket pairs on 127.0.0.1 and a
// bounded run of an io_context. One thread.
#pragma once

#include <utility>  // before Asio's coroutine headers (g++ 12)

#include <boost/asio.hpp>
#include <chrono>

namespace hearth::fuzz {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// Loopback TCP: an acceptor on 127.0.0.1 and connected socket pairs.
class Loopback {
 public:
  explicit Loopback(asio::io_context& io);
  // A connected pair: the dialing end first, the accepted end second.
  std::pair<tcp::socket, tcp::socket> Pair();
  tcp::acceptor& acceptor() { return acceptor_; }
  tcp::endpoint endpoint() const { return endpoint_; }

 private:
  asio::io_context& io_;
  tcp::acceptor acceptor_;
  tcp::endpoint endpoint_;
};

// Closes with a reset (SO_LINGER 0): leaves no TIME_WAIT behind, which
// thousands of connections a second would otherwise pile up.
void CloseAbortively(tcp::socket& socket);

// Runs `io` until `done` is true; false if that took longer than `limit`.
bool RunUntil(asio::io_context& io, const bool& done, std::chrono::milliseconds limit);

}  // namespace hearth::fuzz
